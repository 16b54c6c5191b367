"""The presigned POST policy (moto does not enforce it, so it is checked here), the key
layout, and parsing the S3 Object Created event in the shapes AWS and moto send."""

from __future__ import annotations

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import pytest

import ocrpipe.aws
from ingest.keys import (
    derived_document_id,
    key_candidates,
    new_document_id,
    parse_upload_key,
    upload_key,
)
from ingest.presign import presign_upload
from ingest.s3_events import NotAnObjectCreatedEventError, parse_object_created
from ocrpipe import container
from ocrpipe.envelope import Envelope
from ocrpipe.events import DOCUMENT_ID_PATTERN

BUCKET = "ocrpipe-test-ingest-123456789012-us-east-1"
DOCUMENT_ID = re.compile(DOCUMENT_ID_PATTERN)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The client production uses. Presigning is local: dummy credentials, no network."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    container.cold_start()  # a client for these credentials
    return ocrpipe.aws.client("s3")


def decoded_policy(fields: dict[str, str]) -> dict[str, Any]:
    policy: dict[str, Any] = json.loads(base64.b64decode(fields["policy"]))
    return policy


def test_policy_binds_key_type_size_and_expiry(s3: Any) -> None:
    key = upload_key(new_document_id(), "my scan é.png")
    before = datetime.now(UTC)
    upload = presign_upload(
        s3,
        bucket=BUCKET,
        key=key,
        content_type="image/png",
        declared_size=123_456,
        max_bytes=10 * 1024 * 1024,
        expires_in_s=30,
    )
    assert upload.expires_in_s == 30
    assert upload.fields["key"] == key
    assert upload.fields["Content-Type"] == "image/png"
    policy = decoded_policy(upload.fields)
    conditions = policy["conditions"]
    assert {"bucket": BUCKET} in conditions
    assert {"key": key} in conditions  # exact key, not starts-with
    assert {"Content-Type": "image/png"} in conditions
    assert ["content-length-range", 1, 123_456] in conditions
    assert not any(isinstance(c, list) and c[0] == "starts-with" for c in conditions)
    expiration = datetime.fromisoformat(policy["expiration"].replace("Z", "+00:00"))
    assert before + timedelta(seconds=28) <= expiration <= before + timedelta(seconds=32)
    # SigV4 fields (botocore's default for presigned POST is the deprecated SigV2)
    assert {"x-amz-algorithm", "x-amz-credential", "x-amz-date", "x-amz-signature"} <= set(
        upload.fields
    )


def test_size_range_never_exceeds_the_service_limit(s3: Any) -> None:
    upload = presign_upload(
        s3,
        bucket=BUCKET,
        key="uploads/" + "a" * 32 + "/x.pdf",
        content_type="application/pdf",
        declared_size=50 * 1024 * 1024,
        max_bytes=10 * 1024 * 1024,
        expires_in_s=30,
    )
    assert ["content-length-range", 1, 10 * 1024 * 1024] in decoded_policy(upload.fields)[
        "conditions"
    ]


# -- keys -------------------------------------------------------------------------------


def test_document_ids_are_random_and_match_the_event_contract() -> None:
    ids = {new_document_id() for _ in range(100)}
    assert len(ids) == 100
    assert all(DOCUMENT_ID.match(i) for i in ids)


def test_key_round_trip_keeps_spaces_and_unicode() -> None:
    document_id = new_document_id()
    key = upload_key(document_id, "my scan é.png")
    assert key == f"uploads/{document_id}/my scan é.png"
    parsed = parse_upload_key(key)
    assert parsed is not None
    assert (parsed.document_id, parsed.filename) == (document_id, "my scan é.png")


@pytest.mark.parametrize(
    "key",
    [
        "stray.png",
        "uploads/short/x.png",
        "uploads/" + "a" * 32 + "/nested/x.png",
        "uploads/" + "A" * 32 + "/x.png",
        "uploads/" + "a" * 32 + "/",
        "other/" + "a" * 32 + "/x.png",
    ],
)
def test_keys_outside_the_layout_are_not_uploads(key: str) -> None:
    assert parse_upload_key(key) is None


def test_derived_document_id_is_stable_and_valid() -> None:
    assert derived_document_id("stray.png") == derived_document_id("stray.png")
    assert derived_document_id("stray.png") != derived_document_id("stray2.png")
    assert DOCUMENT_ID.match(derived_document_id("stray.png"))


def test_key_candidates_cover_raw_and_url_encoded_keys() -> None:
    key = "uploads/" + "a" * 32 + "/my scan é+1.png"
    # moto: the raw key
    assert key in key_candidates(key)
    # AWS: URL-encoded, space as '+', '+' as %2B
    assert key in key_candidates(quote_plus(key, safe="/"))
    assert key_candidates("plain.png") == ["plain.png"]


# -- the event --------------------------------------------------------------------------


def moto_envelope(key: str) -> dict[str, Any]:
    """What moto 5 puts on the queue (checked): raw key, ``eTag``, no URL encoding."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {
            "version": "0",
            "bucket": {"name": BUCKET},
            "object": {"key": key, "size": 5, "eTag": "abc", "version-id": "null"},
            "request-id": "N4N7GDK58NMKJ12R",
            "requester": "123456789012",
            "source-ip-address": "1.2.3.4",
            "reason": "ObjectCreated",
        },
    }


def test_parses_moto_shape_without_account() -> None:
    created = parse_object_created(
        Envelope.from_sqs_body(json.dumps(moto_envelope("uploads/x/a b.png")))
    )
    assert (created.bucket, created.key, created.size, created.etag) == (
        BUCKET,
        "uploads/x/a b.png",
        5,
        "abc",
    )


def test_parses_aws_shape() -> None:
    envelope = moto_envelope("uploads/x/a+b.png")
    envelope["account"] = "123456789012"
    envelope["detail"]["object"] = {
        "key": "uploads/x/a+b.png",
        "size": 5,
        "etag": "def",
        "sequencer": "0062E99A88DC407460",
    }
    created = parse_object_created(Envelope.from_sqs_body(json.dumps(envelope)))
    assert (created.key, created.etag) == ("uploads/x/a+b.png", "def")


def test_other_events_are_refused() -> None:
    envelope = moto_envelope("k")
    envelope["detail-type"] = "Object Deleted"
    with pytest.raises(NotAnObjectCreatedEventError):
        parse_object_created(Envelope.from_sqs_body(json.dumps(envelope)))
