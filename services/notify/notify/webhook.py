"""Signed webhook deliveries, and how a receiver verifies them.

A delivery is an HTTP ``POST`` of a JSON body (see :func:`notify.outcomes.summary`)::

    {"document_id": "...", "outcome": "counted", "filename": "scan.jpg",
     "occurred_at": "...", "total_words": 1234, "unique_words": 456,
     "top_words": [{"word": "the", "count": 52}, ...], "word_rule_version": "2",
     "links": {"text.txt": "https://...", "counts.json": "https://...",
               "counts.csv": "https://..."},
     "links_expire_at": 1796180000}

(``links``: short-lived URLs of the text and the counts, see :mod:`ocrpipe.links`; fetch them
soon, they expire at ``links_expire_at``, unix seconds.)

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

**Where a delivery connects.** :func:`post` takes a
:class:`~ocrpipe.webhooks.WebhookDestination`: the URL's host and the addresses it resolved
to, each one checked by the webhook policy (:func:`notify.recipients.webhook_destination`).
The connection goes to those addresses only and never resolves the name again, so a DNS
answer that changes after the check (DNS rebinding) cannot move it to an internal address;
TLS still sends the host name as SNI and verifies the certificate against it (the default
context: system CAs, ``CERT_REQUIRED``, host name checked), and ``Host`` carries it. No
proxy is used (``HTTPS_PROXY`` is ignored): through a proxy the address check would mean
nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from notify.errors import PermanentDeliveryError, TransientDeliveryError
from ocrpipe.webhooks import IPAddress, WebhookDestination

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


def connect_to_any(
    addresses: Iterable[IPAddress], port: int, timeout: float | None
) -> socket.socket:
    """A TCP connection to the first of ``addresses`` that answers; nothing is resolved."""
    failure: OSError | None = None
    for address in addresses:
        family = socket.AF_INET6 if address.version == 6 else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.settimeout(timeout)
            sock.connect((str(address), port))
        except OSError as exc:
            sock.close()
            failure = exc
            continue
        return sock
    raise failure or OSError("no address to connect to")


class PinnedHTTPConnection(http.client.HTTPConnection):
    """Plain HTTP to ``host`` through ``addresses`` only (loopback, local runtime only)."""

    def __init__(self, host: str, port: int, addresses: Iterable[IPAddress], *, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.addresses = tuple(addresses)

    def connect(self) -> None:
        self.sock = connect_to_any(self.addresses, self.port, self.timeout)


class PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``host`` through ``addresses`` only: the TCP connection goes to a checked
    address, TLS names ``host`` (SNI) and verifies the certificate against it."""

    def __init__(
        self,
        host: str,
        port: int,
        addresses: Iterable[IPAddress],
        *,
        timeout: float,
        context: ssl.SSLContext | None = None,
    ):
        self.tls = context if context is not None else ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.addresses = tuple(addresses)

    def connect(self) -> None:
        sock = connect_to_any(self.addresses, self.port, self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def connection_to(
    destination: WebhookDestination,
    *,
    timeout_s: float = TIMEOUT_S,
    context: ssl.SSLContext | None = None,
) -> http.client.HTTPConnection:
    """A connection to the destination's checked addresses (not yet opened)."""
    target = destination.target
    if target.scheme == "https":
        return PinnedHTTPSConnection(
            target.host, target.port, destination.addresses, timeout=timeout_s, context=context
        )
    return PinnedHTTPConnection(target.host, target.port, destination.addresses, timeout=timeout_s)


def post(
    destination: WebhookDestination,
    request: SignedRequest,
    *,
    timeout_s: float = TIMEOUT_S,
    context: ssl.SSLContext | None = None,
) -> int:
    """POST the signed request to the destination's checked addresses; the 2xx status, or a
    classified failure. Redirects are answers, never followed.

    Errors never include the URL (personal data).
    """
    connection = connection_to(destination, timeout_s=timeout_s, context=context)
    try:
        connection.request(
            "POST", destination.target.path, body=request.body, headers=request.headers
        )
        with connection.getresponse() as response:
            status = int(response.status)  # the answer's body is not needed
    except OSError as exc:  # refused/reset connections, timeouts, TLS failures
        raise TransientDeliveryError(
            f"The webhook could not be reached ({type(exc).__name__})."
        ) from None
    except http.client.HTTPException as exc:
        raise TransientDeliveryError(
            f"The webhook gave a malformed answer ({type(exc).__name__})."
        ) from None
    finally:
        connection.close()
    if 200 <= status < 300:
        return status
    if status == 429 or status >= 500:
        raise TransientDeliveryError(f"The webhook answered HTTP {status}.")
    raise PermanentDeliveryError(
        f"The webhook answered HTTP {status}; the delivery will not be retried."
    )
