"""Webhook signing and verification (notify.webhook)."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest

from notify import webhook

SECRET = "s3cret-s3cret-s3cret"
BODY = b'{"document_id":"doc-1","outcome":"counted"}'
NOW = 1_700_000_000


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), b"1700000000." + BODY, hashlib.sha256).hexdigest()
    assert webhook.sign(SECRET, "1700000000", BODY) == f"sha256={expected}"


def test_verify_accepts_a_genuine_delivery() -> None:
    signature = webhook.sign(SECRET, str(NOW), BODY)
    assert webhook.verify(SECRET, body=BODY, timestamp=str(NOW), signature=signature, now=NOW)
    assert webhook.verify(
        SECRET.encode(), body=BODY, timestamp=str(NOW), signature=signature, now=NOW + 299
    )


@pytest.mark.parametrize(
    ("secret", "body", "timestamp", "now"),
    [
        ("another-secret-value", BODY, str(NOW), NOW),  # wrong secret
        (SECRET, BODY + b" ", str(NOW), NOW),  # body changed
        (SECRET, BODY, str(NOW + 1), NOW),  # timestamp changed
        (SECRET, BODY, str(NOW), NOW + 301),  # too old: a replayed capture
        (SECRET, BODY, str(NOW), NOW - 301),  # from the future
        (SECRET, BODY, "not-a-number", NOW),
        (SECRET, BODY, "", NOW),
    ],
)
def test_verify_rejects(secret: str, body: bytes, timestamp: str, now: int) -> None:
    signature = webhook.sign(SECRET, str(NOW), BODY)
    assert not webhook.verify(secret, body=body, timestamp=timestamp, signature=signature, now=now)


@pytest.mark.parametrize("signature", ["", "sha256=", "sha1=abc", "sha256=zz", "sha256=é"])
def test_verify_rejects_malformed_signatures(signature: str) -> None:
    assert not webhook.verify(SECRET, body=BODY, timestamp=str(NOW), signature=signature, now=NOW)


def test_signed_request_headers_and_body() -> None:
    payload = {"document_id": "doc-1", "outcome": "counted", "top_words": [{"word": "straße"}]}
    request = webhook.signed_request(payload, secret=SECRET, delivery_id="doc-1.counted", now=NOW)
    assert json.loads(request.body) == payload
    assert "straße".encode() in request.body  # UTF-8, not \u escapes
    headers = request.headers
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    assert headers["X-Ocrpipe-Timestamp"] == str(NOW)
    assert headers["X-Ocrpipe-Delivery"] == "doc-1.counted"
    assert webhook.verify(
        SECRET,
        body=request.body,
        timestamp=headers["X-Ocrpipe-Timestamp"],
        signature=headers["X-Ocrpipe-Signature"],
        now=NOW,
    )
