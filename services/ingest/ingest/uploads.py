"""Opening an upload: a document id, a pending record, and a presigned POST to send the file.

The answer also carries a random per-document ``access_token`` (a capability: whoever holds
it may read the document's status). Only its SHA-256 is kept and sent on in ingest's events.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from ingest.config import Settings
from ingest.keys import access_token_sha256, new_access_token, new_document_id, upload_key
from ingest.presign import PresignedUpload, presign_upload
from ingest.recipients import encrypt_recipient
from ingest.upload_request import UploadRequest
from ingest.uploads_table import PendingUpload, UploadsTable
from ocrpipe.events import utc_now

if TYPE_CHECKING:
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class UploadTicket:
    document_id: str
    key: str
    upload: PresignedUpload
    #: Shown to the uploader once, never stored or logged (only its hash is).
    access_token: str = field(repr=False)

    def response_body(self) -> dict[str, Any]:
        return {
            "document_id": self.document_id,
            "access_token": self.access_token,
            "key": self.key,
            "upload": {"url": self.upload.url, "fields": self.upload.fields},
            "expires_in_s": self.upload.expires_in_s,
        }


def open_upload(
    request: UploadRequest,
    *,
    settings: Settings,
    s3: S3Client,
    kms: KMSClient,
    uploads: UploadsTable,
    now: datetime | None = None,
    upload_url: str | None = None,
) -> UploadTicket:
    """``upload_url``: where the client sends the presigned POST, if not the bucket's own
    URL (the local API's forwarding path)."""
    document_id = new_document_id()
    access_token = new_access_token()
    key = upload_key(document_id, request.filename)
    recipient = None
    if request.recipient is not None:
        recipient = encrypt_recipient(
            kms,
            key_id=settings.notify_key_id,
            document_id=document_id,
            recipient=request.recipient,
        )
    uploads.record_pending(
        PendingUpload(
            document_id=document_id,
            key=key,
            filename=request.filename,
            content_type=request.content_type,
            declared_size=request.size_bytes,
            recipient=recipient,
            created_at=now or utc_now(),
            access_token_sha256=access_token_sha256(access_token),
            language=request.language,
        )
    )
    presigned = presign_upload(
        s3,
        bucket=settings.uploads_bucket,
        key=key,
        content_type=request.content_type,
        declared_size=request.size_bytes,
        max_bytes=settings.max_upload_bytes,
        expires_in_s=settings.presign_expiry_s,
    )
    if upload_url:
        presigned = replace(presigned, url=upload_url)
    return UploadTicket(
        document_id=document_id, key=key, upload=presigned, access_token=access_token
    )
