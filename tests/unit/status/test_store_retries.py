"""What :class:`StatusStore` asks DynamoDB again, how often and how far apart, and what it
raises when asking again does not help (the integration tests run it on a real table)."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from status.store import ConcurrentUpdateError, StatusStore

from .lifecycle import DOC, TOKEN_SHA, uploaded

TABLE = "status-test"
#: 0.02 s doubling, at most 0.5 s: the delays between eight attempts.
DELAYS = [0.02, 0.04, 0.08, 0.16, 0.32, 0.5, 0.5]


def _error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "x"}}, "PutItem")


class FakeDynamoDB:
    """A table holding one token index item and no record: its batch reads leave the first
    ``unprocessed`` calls' keys unprocessed; record writes (not index writes) fail with
    ``write_error``."""

    def __init__(self, *, unprocessed: int = 0, write_error: str | None = None) -> None:
        self.unprocessed = unprocessed
        self.write_error = write_error
        self.calls: list[str] = []

    def batch_get_item(self, RequestItems: dict[str, Any]) -> dict[str, Any]:
        self.calls.append("batch_get_item")
        keys = RequestItems[TABLE]["Keys"]
        if len(self.calls) <= self.unprocessed:
            return {"Responses": {TABLE: []}, "UnprocessedKeys": {TABLE: {"Keys": keys}}}
        index = [key for key in keys if key["pk"]["S"].startswith("token#")]
        found = [{**key, "document_id": {"S": DOC}} for key in index]  # and no records
        return {"Responses": {TABLE: found}, "UnprocessedKeys": {}}

    def get_item(self, **_: Any) -> dict[str, Any]:
        self.calls.append("get_item")
        return {}

    def put_item(self, Item: dict[str, Any], **_: Any) -> dict[str, Any]:
        self.calls.append("put_item")
        if self.write_error and not Item["pk"]["S"].startswith("token#"):
            raise _error(self.write_error)
        return {}


def _store(client: FakeDynamoDB, sleeps: list[float]) -> StatusStore:
    return StatusStore(client, TABLE, sleep=sleeps.append)  # type: ignore[arg-type]


def test_unprocessed_keys_are_asked_again_after_a_delay() -> None:
    client, sleeps = FakeDynamoDB(unprocessed=2), list[float]()
    # The index items come back on the third call; the records they name, on the fourth.
    assert _store(client, sleeps).documents_for_tokens([TOKEN_SHA]) == []
    assert client.calls == ["batch_get_item"] * 4
    assert sleeps == pytest.approx([0.02, 0.04])


def test_a_batch_read_left_unprocessed_eight_times_is_given_up() -> None:
    client, sleeps = FakeDynamoDB(unprocessed=99), list[float]()
    with pytest.raises(ConcurrentUpdateError, match="kept throttling a batch read"):
        _store(client, sleeps).documents_for_tokens([TOKEN_SHA])
    assert client.calls == ["batch_get_item"] * 8
    assert sleeps == pytest.approx(DELAYS)


def test_a_lost_write_is_redone_eight_times_with_jittered_delays() -> None:
    client, sleeps = FakeDynamoDB(write_error="ConditionalCheckFailedException"), list[float]()
    with pytest.raises(ConcurrentUpdateError, match="8 conflicting updates in a row"):
        _store(client, sleeps).apply(uploaded())
    # Each attempt reads, writes the token index, then loses the record's write.
    assert client.calls == ["get_item", "put_item", "put_item"] * 8
    assert len(sleeps) == len(DELAYS)
    assert all(d / 2 <= s <= d for s, d in zip(sleeps, DELAYS, strict=True))


def test_a_write_refused_for_another_reason_is_raised_at_once() -> None:
    client, sleeps = FakeDynamoDB(write_error="AccessDeniedException"), list[float]()
    with pytest.raises(ClientError, match="AccessDenied"):
        _store(client, sleeps).apply(uploaded())
    assert (client.calls, sleeps) == (["get_item", "put_item", "put_item"], [])
