"""Decrypting the address to notify (the KMS ciphertext ingest made) and checking it.

The ciphertext is bound to the document and channel by the encryption context
``{"document_id": <id>, "channel": <channel>}``, so it cannot be replayed for another
document. Deleting or disabling the notify key shreds every stored address at once; that
shows up here as a permanent failure, not as an endless retry.

The decrypted address is personal data: it is returned to the caller and never logged, and
no error raised here contains it.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from notify.errors import PermanentDeliveryError, TransientDeliveryError
from ocrpipe import webhooks
from ocrpipe.events import Recipient, recipient_encryption_context

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient

#: KMS errors that no retry can fix: the ciphertext is not for this key/context, or the key
#: is gone (deleted, pending deletion, disabled).
_UNDECRYPTABLE = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})
_KEY_GONE = frozenset({"NotFoundException", "DisabledException", "KMSInvalidStateException"})

INVALID_EMAIL_ADDRESS = "The email address to notify is not a valid address."


def decrypt_address(kms: KMSClient, recipient: Recipient, *, document_id: str) -> str:
    try:
        blob = base64.b64decode(recipient.ciphertext, validate=True)
    except (binascii.Error, ValueError):
        raise PermanentDeliveryError(
            "The delivery address is damaged (not base64) and cannot be read."
        ) from None
    try:
        response = kms.decrypt(
            CiphertextBlob=blob,
            EncryptionContext=recipient_encryption_context(document_id, recipient.channel),
        )
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _UNDECRYPTABLE:
            raise PermanentDeliveryError(
                "The delivery address could not be decrypted for this document."
            ) from None
        if code in _KEY_GONE:
            raise PermanentDeliveryError(
                "The delivery address is no longer available (its key was disabled or deleted)."
            ) from None
        raise
    try:
        return response["Plaintext"].decode("utf-8")
    except UnicodeDecodeError:
        raise PermanentDeliveryError("The delivery address is not valid text.") from None


def check_email_address(address: str) -> str:
    """A plausible single address (SES has the final word), or a permanent failure."""
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain or webhooks.has_space_or_control(address):
        raise PermanentDeliveryError(INVALID_EMAIL_ADDRESS)
    return address


def webhook_destination(url: str, *, local_mode: bool) -> webhooks.WebhookDestination:
    """Where a delivery to ``url`` may connect, by the shared webhook policy
    (:mod:`ocrpipe.webhooks`): the URL checked again (ingest checked it when the upload was
    requested), its host name resolved, and every address it resolves to checked, refused if
    ANY is not public. This is the last line of defence before a request leaves the service
    (e.g. to the instance metadata address); the delivery must connect to the returned
    addresses only (:func:`notify.webhook.post` does). Loopback is allowed only under the
    one-machine runtime (``local_mode``).

    A refusal is permanent; a resolver failure is transient (DNS may answer later).
    """
    try:
        target = webhooks.parse_webhook_url(url, allow_loopback=local_mode)
        return webhooks.resolve_webhook_target(target)
    except webhooks.WebhookUrlError as exc:
        raise PermanentDeliveryError(str(exc)) from None
    except OSError as exc:  # socket.gaierror and friends
        raise TransientDeliveryError(
            f"The webhook's host name could not be resolved ({type(exc).__name__})."
        ) from None
