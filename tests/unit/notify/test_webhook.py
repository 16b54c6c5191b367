"""Webhook signing and verification (notify.webhook)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from notify import webhook
from notify.errors import TransientDeliveryError
from ocrpipe.webhooks import WebhookDestination, WebhookTarget

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


# -- the connection goes to the checked address, and TLS still names the host ---------------


class Receiver:
    """An HTTP server on 127.0.0.1 that records what it was sent."""

    def __init__(self) -> None:
        self.requests: list[dict[str, str]] = []
        received = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                received.append({"host": self.headers["Host"], "path": self.path})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class RecordingTls:
    """Stands in for an SSLContext: records the SNI name asked for, speaks plain HTTP."""

    verify_mode = ssl.CERT_REQUIRED
    check_hostname = True

    def __init__(self) -> None:
        self.server_hostnames: list[str | None] = []

    def wrap_socket(self, sock: socket.socket, server_hostname: str | None = None) -> Any:
        self.server_hostnames.append(server_hostname)
        return sock


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


@pytest.fixture
def no_dns(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the pinned connection must not resolve anything")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def destination(scheme: str, port: int, *addresses: str) -> WebhookDestination:
    target = WebhookTarget(
        scheme=scheme, host="hooks.example.com", port=port, path="/hook?x=1", address=None
    )
    return WebhookDestination(target, tuple(ipaddress.ip_address(a) for a in addresses))


def signed() -> webhook.SignedRequest:
    return webhook.signed_request({"document_id": "doc-1"}, secret=SECRET, delivery_id="d")


def test_https_goes_to_the_checked_address_with_sni_and_host_of_the_name(
    receiver: Receiver, no_dns: None
) -> None:
    tls = RecordingTls()
    status = webhook.post(
        destination("https", receiver.port, "127.0.0.1"),
        signed(),
        context=tls,  # type: ignore[arg-type]
    )
    assert status == 204
    assert tls.server_hostnames == ["hooks.example.com"]  # SNI and certificate check
    assert receiver.requests == [
        {"host": f"hooks.example.com:{receiver.port}", "path": "/hook?x=1"}
    ]


def test_the_checked_addresses_are_tried_in_order(receiver: Receiver, no_dns: None) -> None:
    # nothing listens on 127.0.0.2 (the receiver is bound to 127.0.0.1 only)
    assert webhook.post(destination("http", receiver.port, "127.0.0.2", "127.0.0.1"), signed())
    assert len(receiver.requests) == 1


def test_no_checked_address_that_answers_is_a_transient_failure(
    receiver: Receiver, no_dns: None
) -> None:
    with pytest.raises(TransientDeliveryError, match="could not be reached"):
        webhook.post(destination("http", receiver.port, "127.0.0.2"), signed())
    assert receiver.requests == []


def test_default_tls_verifies_the_certificate_against_the_name() -> None:
    connection = webhook.PinnedHTTPSConnection("hooks.example.com", 443, (), timeout=1.0)
    assert connection.tls.verify_mode == ssl.CERT_REQUIRED
    assert connection.tls.check_hostname is True


def self_signed(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A certificate for ``name`` (its own CA) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, ssl.SSLContext]]:
    """A real TLS receiver on 127.0.0.1 whose certificate names hooks.example.com, and a
    client context that trusts it (and verifies as the default one does)."""
    cert, key = self_signed(tmp_path, "hooks.example.com")
    server = Receiver()
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server.server.socket = server_tls.wrap_socket(server.server.socket, server_side=True)
    client_tls = ssl.create_default_context(cafile=str(cert))
    yield server, client_tls
    server.close()


def test_real_tls_to_a_pinned_address_verifies_the_certificate_of_the_name(
    tls_receiver: tuple[Receiver, ssl.SSLContext], no_dns: None
) -> None:
    receiver, client_tls = tls_receiver
    pinned = destination("https", receiver.port, "127.0.0.1")
    assert webhook.post(pinned, signed(), context=client_tls) == 204
    assert receiver.requests[0]["host"] == f"hooks.example.com:{receiver.port}"

    other = WebhookTarget("https", "other.example.com", receiver.port, "/", address=None)
    with pytest.raises(TransientDeliveryError, match="SSLCertVerificationError"):
        webhook.post(WebhookDestination(other, pinned.addresses), signed(), context=client_tls)
    assert len(receiver.requests) == 1
