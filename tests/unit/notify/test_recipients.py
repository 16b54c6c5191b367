"""Checking decrypted addresses, and classifying KMS errors (notify.recipients)."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from botocore.exceptions import ClientError

from notify.errors import PermanentDeliveryError
from notify.recipients import check_email_address, check_webhook_url, decrypt_address
from ocrpipe.events import Recipient


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
def test_public_https_webhooks(url: str) -> None:
    assert check_webhook_url(url, local_mode=False) == url


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
    ],
)
def test_refused_webhooks(url: str, reason: str) -> None:
    with pytest.raises(PermanentDeliveryError, match=reason) as info:
        check_webhook_url(url, local_mode=False)
    assert url not in str(info.value)


def test_loopback_http_only_in_local_mode() -> None:
    assert check_webhook_url("http://127.0.0.1:8080/hook", local_mode=True)
    assert check_webhook_url("http://localhost/hook", local_mode=True)
    with pytest.raises(PermanentDeliveryError):
        check_webhook_url("http://10.0.0.1/hook", local_mode=True)


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
