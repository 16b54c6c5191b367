from __future__ import annotations

import pytest

from status import access
from status.read_model import DocumentStatus, apply

from .lifecycle import DOC, TOKEN, TOKEN_SHA, counted, ocr_completed, uploaded


def _record(with_hash: bool = True) -> DocumentStatus:
    first = uploaded(0) if with_hash else uploaded(0, access_token_sha256=None)
    return apply(apply(apply(None, first), ocr_completed(1)), counted(2))


class Table:
    """The lookup the API is given: a dict, counting the reads."""

    def __init__(self, *records: DocumentStatus) -> None:
        self.records = {r.document_id: r for r in records}
        self.reads: list[str] = []

    def get(self, document_id: str) -> DocumentStatus | None:
        self.reads.append(document_id)
        return self.records.get(document_id)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"authorization": f"Bearer {TOKEN}"}, TOKEN),
        ({"Authorization": f"bearer   {TOKEN}  "}, TOKEN),
        ({"AUTHORIZATION": f"BEARER {TOKEN}"}, TOKEN),
        ({"authorization": f"Basic {TOKEN}"}, None),
        ({"authorization": "Bearer "}, None),
        ({}, None),
        (None, None),
        ({"authorization": "Bearer " + "x" * 513}, None),
    ],
)
def test_token_from_request(headers, expected):
    assert access.token_from_request(headers) == expected


def test_token_matches_only_the_right_token():
    assert access.token_matches(TOKEN_SHA, TOKEN)
    assert not access.token_matches(TOKEN_SHA, TOKEN + "x")
    assert not access.token_matches(TOKEN_SHA, None)
    assert not access.token_matches(None, TOKEN)
    assert not access.token_matches(None, None)
    # The all-zero placeholder must never authorise anything.
    assert not access.token_matches("0" * 64, None)


def test_right_token_opens_the_record():
    record = _record()
    assert access.authorised(Table(record).get, DOC, TOKEN) is record


@pytest.mark.parametrize(
    ("document_id", "token", "stored_hash"),
    [
        (DOC, None, True),  # no token
        (DOC, "wrong-token", True),  # wrong token
        (DOC, TOKEN_SHA, True),  # the hash itself is not the token
        ("unknown-document-1", TOKEN, True),  # unknown document
        (DOC, TOKEN, False),  # document has no token hash (older ingest)
        ("../../etc/passwd", TOKEN, True),  # malformed id
        ("", TOKEN, True),
    ],
)
def test_every_refusal_is_the_same_none(document_id, token, stored_hash):
    table = Table(_record(with_hash=stored_hash))
    assert access.authorised(table.get, document_id, token) is None


def test_malformed_ids_are_not_looked_up():
    table = Table(_record())
    assert access.authorised(table.get, "a b/c", TOKEN) is None
    assert access.authorised(table.get, "x" * 65, TOKEN) is None
    assert table.reads == []
