"""Checking decrypted addresses, classifying KMS errors (notify.recipients), and notify
opening what ingest sealed (ingest.recipients)."""

from __future__ import annotations

import base64
from typing import Any, Literal

import pytest
from botocore.exceptions import ClientError

from ingest.recipients import encrypt_recipient
from ingest.upload_request import RecipientAddress
from notify.errors import PermanentDeliveryError, TransientDeliveryError
from notify.recipients import check_email_address, decrypt_address, webhook_destination
from ocrpipe.events import Recipient
from tests.fake_dns import FakeResolver, fake_resolver


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    fake = fake_resolver(monkeypatch)
    fake.answers["hooks.example.com"] = ["93.184.216.34"]
    return fake


@pytest.mark.parametrize("address", ["a@example.com", "first.last+tag@sub.example.co.uk"])
def test_plausible_email_addresses(address: str) -> None:
    assert check_email_address(address) == address


@pytest.mark.parametrize(
    "address", ["", "no-at-sign", "@example.com", "a@", "a b@example.com", "a@b.c\r\nBcc: x@y"]
)
def test_invalid_email_addresses(address: str) -> None:
    with pytest.raises(PermanentDeliveryError, match="not a valid address") as info:
        check_email_address(address)
    if address:
        assert address not in str(info.value)


@pytest.mark.parametrize(
    "url", ["https://hooks.example.com/ocrpipe?token=abc", "https://93.184.216.34:8443/x"]
)
def test_public_https_webhooks(resolver: FakeResolver, url: str) -> None:
    destination = webhook_destination(url, local_mode=False)
    assert [str(a) for a in destination.addresses] == ["93.184.216.34"]


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://hooks.example.com/x", "must use https"),
        ("ftp://hooks.example.com/x", "https URL with a host"),
        ("https:///path-only", "https URL with a host"),
        ("https://127.0.0.1/x", "public internet host"),
        ("https://localhost:8080/x", "public internet host"),
        ("https://169.254.169.254/latest/meta-data/", "public internet host"),
        ("https://10.0.0.7/x", "public internet host"),
        ("https://[::1]/x", "public internet host"),
        ("https://example.com:99999/x", "not a valid URL"),
        ("https://exa mple.com/x", "spaces or control"),
        # numeric forms of internal addresses, as the resolver reads them
        ("https://2130706433/", "public internet host"),
        ("https://127.1/", "public internet host"),
        ("https://0x7f000001/", "public internet host"),
        ("https://0177.0.0.1/", "public internet host"),
        ("https://10.1/", "public internet host"),
        ("https://2852039166/", "public internet host"),
        ("https://[::ffff:127.0.0.1]/", "public internet host"),
    ],
)
def test_refused_webhooks(resolver: FakeResolver, url: str, reason: str) -> None:
    with pytest.raises(PermanentDeliveryError, match=reason) as info:
        webhook_destination(url, local_mode=False)
    assert url not in str(info.value)
    assert resolver.asked == []  # refused before any lookup


@pytest.mark.parametrize("answer", [["127.0.0.1"], ["93.184.216.34", "169.254.169.254"]])
def test_a_name_resolving_to_an_internal_address_is_refused_at_send_time(
    resolver: FakeResolver, answer: list[str]
) -> None:
    resolver.answers["hooks.example.com"] = answer
    with pytest.raises(PermanentDeliveryError, match="public internet host"):
        webhook_destination("https://hooks.example.com/x", local_mode=False)
    assert resolver.asked == ["hooks.example.com"]


def test_a_name_that_does_not_resolve_is_retried(resolver: FakeResolver) -> None:
    resolver.answers["hooks.example.com"] = []
    with pytest.raises(TransientDeliveryError, match="could not be resolved"):
        webhook_destination("https://hooks.example.com/x", local_mode=False)


def test_loopback_http_only_in_local_mode(resolver: FakeResolver) -> None:
    resolver.answers["localhost"] = ["127.0.0.1"]
    assert webhook_destination("http://127.0.0.1:8080/hook", local_mode=True).addresses
    assert webhook_destination("http://localhost/hook", local_mode=True).addresses
    with pytest.raises(PermanentDeliveryError):
        webhook_destination("http://10.0.0.1/hook", local_mode=True)
    with pytest.raises(PermanentDeliveryError):
        webhook_destination("http://localhost/hook", local_mode=False)


class FailingKms:
    """KMS answering with one error: moto does not refuse disabled or deleted keys."""

    def __init__(self, code: str) -> None:
        self.code = code

    def decrypt(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": self.code, "Message": "m"}}, "Decrypt")


RECIPIENT = Recipient(channel="email", ciphertext=base64.b64encode(b"blob").decode())


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("InvalidCiphertextException", "could not be decrypted"),
        ("IncorrectKeyException", "could not be decrypted"),
        ("DisabledException", "no longer available"),
        ("KMSInvalidStateException", "no longer available"),
        ("NotFoundException", "no longer available"),
    ],
)
def test_undecryptable_addresses_are_permanent(code: str, reason: str) -> None:
    with pytest.raises(PermanentDeliveryError, match=reason):
        decrypt_address(FailingKms(code), RECIPIENT, document_id="doc-1")  # type: ignore[arg-type]


@pytest.mark.parametrize("code", ["ThrottlingException", "KMSInternalException", "AccessDenied"])
def test_other_kms_errors_are_raised_for_retry(code: str) -> None:
    with pytest.raises(ClientError):
        decrypt_address(FailingKms(code), RECIPIENT, document_id="doc-1")  # type: ignore[arg-type]


def test_ciphertext_that_is_not_base64() -> None:
    bad = Recipient(channel="email", ciphertext="not base64!")
    with pytest.raises(PermanentDeliveryError, match="damaged"):
        decrypt_address(FailingKms("unused"), bad, document_id="doc-1")  # type: ignore[arg-type]


class SealingKms:
    """KMS as far as the encryption context goes: a ciphertext opens only with the context
    it was made with."""

    def __init__(self) -> None:
        self.sealed: dict[bytes, tuple[bytes, dict[str, str]]] = {}

    def encrypt(self, *, Plaintext: bytes, EncryptionContext: dict[str, str], **_: Any) -> Any:
        blob = f"sealed-{len(self.sealed)}".encode()
        self.sealed[blob] = (Plaintext, dict(EncryptionContext))
        return {"CiphertextBlob": blob}

    def decrypt(self, *, CiphertextBlob: bytes, EncryptionContext: dict[str, str]) -> Any:
        plaintext, context = self.sealed[CiphertextBlob]
        if context != EncryptionContext:
            raise ClientError({"Error": {"Code": "InvalidCiphertextException"}}, "Decrypt")
        return {"Plaintext": plaintext}


@pytest.mark.parametrize("channel", ["email", "webhook"])
def test_notify_opens_what_ingest_sealed_for_that_document_only(
    channel: Literal["email", "webhook"],
) -> None:
    kms = SealingKms()
    address = RecipientAddress(channel=channel, address="a@example.com")
    recipient = encrypt_recipient(kms, key_id="k", document_id="doc-1", recipient=address)  # type: ignore[arg-type]
    assert decrypt_address(kms, recipient, document_id="doc-1") == "a@example.com"  # type: ignore[arg-type]
    with pytest.raises(PermanentDeliveryError, match="could not be decrypted"):
        decrypt_address(kms, recipient, document_id="doc-2")  # type: ignore[arg-type]
