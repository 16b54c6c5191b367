"""Encrypting the address to notify, so that only the notify service can read it.

The ciphertext is bound to the document and channel by the KMS encryption context
``{"document_id": <id>, "channel": <channel>}``: it cannot be replayed for another document.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING

from ingest.upload_request import RecipientAddress
from ocrpipe.events import Recipient, recipient_encryption_context

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient


def encrypt_recipient(
    kms: KMSClient, *, key_id: str, document_id: str, recipient: RecipientAddress
) -> Recipient:
    response = kms.encrypt(
        KeyId=key_id,
        Plaintext=recipient.address.encode("utf-8"),
        EncryptionContext=recipient_encryption_context(document_id, recipient.channel),
    )
    ciphertext = base64.b64encode(response["CiphertextBlob"]).decode("ascii")
    return Recipient(channel=recipient.channel, ciphertext=ciphertext)
