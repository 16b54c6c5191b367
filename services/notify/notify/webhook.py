"""Signed webhook deliveries, and how a receiver verifies them.

A delivery is an HTTP ``POST`` of a JSON body (see :func:`notify.outcomes.summary`)::

    {"document_id": "...", "outcome": "counted", "filename": "scan.jpg",
     "occurred_at": "...", "total_words": 1234, "unique_words": 456,
     "top_words": [{"word": "the", "count": 52}, ...], "word_rule_version": "1",
     "result_uri": "s3://..."}

(``rejected``/``failed`` outcomes carry ``reason_code``, ``reason`` and ``advice``
instead of the counts), with these headers:

``Content-Type: application/json``
``X-Ocrpipe-Timestamp: <unix seconds>``
``X-Ocrpipe-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" with the secret>``
``X-Ocrpipe-Delivery: <document_id>.<outcome>`` (the same on every retry: use it to
drop duplicates)

**Verifying a delivery** (the receiver knows the shared secret, ``OCRPIPE_WEBHOOK_SECRET``):

1. read the raw request body as bytes, *before* parsing the JSON;
2. compute ``HMAC-SHA256(secret, timestamp_header + "." + body)`` as lower-case hex and
   compare it with the part of the signature header after ``sha256=`` using a constant-time
   comparison;
3. reject the request if the timestamp is more than a few minutes (5 by default) away from
   your clock, so a captured request cannot be replayed later.

:func:`verify` does exactly that and can be copied into a receiver; it needs only the
standard library.

Answers: any 2xx means delivered. 429 and 5xx (and network errors, and no answer within
10 s) are retried by the queue, with backoff, up to the queue's maximum receives; any other
status (including redirects, which are not followed) is a permanent failure.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from notify.errors import PermanentDeliveryError, TransientDeliveryError

TIMESTAMP_HEADER = "X-Ocrpipe-Timestamp"
SIGNATURE_HEADER = "X-Ocrpipe-Signature"
DELIVERY_HEADER = "X-Ocrpipe-Delivery"
SIGNATURE_PREFIX = "sha256="
TIMEOUT_S = 10.0
DEFAULT_TOLERANCE_S = 300
USER_AGENT = "ocrpipe-notify/1"


def encode_body(payload: Mapping[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The signature header value: ``sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    digest = hmac.new(key, timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify(
    secret: str | bytes,
    *,
    body: bytes,
    timestamp: str,
    signature: str,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True if ``signature`` signs ``body`` at ``timestamp`` and the timestamp is fresh."""
    try:
        sent_at = int(timestamp)
        expected = sign(secret, timestamp, body)
    except (ValueError, UnicodeEncodeError):
        return False
    current = time.time() if now is None else now
    if abs(current - sent_at) > tolerance_s:
        return False
    return hmac.compare_digest(expected.encode("ascii"), signature.strip().encode("utf-8"))


@dataclass(frozen=True)
class SignedRequest:
    body: bytes
    headers: dict[str, str]


def signed_request(
    payload: Mapping[str, Any], *, secret: str, delivery_id: str, now: float | None = None
) -> SignedRequest:
    body = encode_body(payload)
    timestamp = str(int(time.time() if now is None else now))
    return SignedRequest(
        body=body,
        headers={
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            DELIVERY_HEADER: delivery_id,
        },
    )


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect could lead anywhere (an internal address); treat it as an answer."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def post(url: str, request: SignedRequest, *, timeout_s: float = TIMEOUT_S) -> int:
    """POST the signed request; the 2xx status, or a classified failure.

    Errors never include the URL (personal data).
    """
    opener = urllib.request.build_opener(_NoRedirects())
    http_request = urllib.request.Request(  # noqa: S310 (the scheme is checked by the caller)
        url, data=request.body, headers=request.headers, method="POST"
    )
    try:
        with opener.open(http_request, timeout=timeout_s) as response:
            status = int(response.status)  # the answer's body is not needed
    except urllib.error.HTTPError as exc:
        status = exc.code
        exc.close()
    except OSError as exc:  # URLError, timeouts, refused/reset connections
        reason = getattr(exc, "reason", exc)
        kind = type(reason).__name__ if isinstance(reason, BaseException) else "network error"
        raise TransientDeliveryError(f"The webhook could not be reached ({kind}).") from None
    except http.client.HTTPException as exc:
        raise TransientDeliveryError(
            f"The webhook gave a malformed answer ({type(exc).__name__})."
        ) from None
    if 200 <= status < 300:
        return status
    if status == 429 or status >= 500:
        raise TransientDeliveryError(f"The webhook answered HTTP {status}; will retry.")
    raise PermanentDeliveryError(
        f"The webhook answered HTTP {status}; the delivery will not be retried."
    )
