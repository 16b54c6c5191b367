"""What happens when an object lands in the uploads bucket.

For an object under ``uploads/<document_id>/<filename>`` with a pending upload record:

1. claim the record (see :mod:`ingest.uploads_table` for why a lease);
2. read the real bytes and check them (:mod:`ingest.validation`);
3. publish ``DocumentUploaded``, or ``DocumentRejected`` with a reason a person can read;
4. mark the record done; a rejected object is deleted (nothing will ever read it).

Any other object is rejected as ``unknown_upload`` and deleted; its document id is derived
from its key. A duplicate event (S3 may deliver twice) publishes nothing. An upload whose
checked bytes were overwritten afterwards (the presigned POST stays valid for its lifetime)
is deleted, so no unchecked bytes reach ocr.

Transient AWS errors propagate, so the queue retries the message; a failure that retrying
cannot fix is a ``DocumentRejected`` event, never an exception.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from contextlib import closing
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from ingest.keys import derived_document_id, key_candidates, parse_upload_key
from ingest.s3_events import ObjectCreated
from ingest.uploads_table import (
    DONE,
    PendingUpload,
    StoredUpload,
    UploadsTable,
    UploadStatus,
)
from ingest.validation import Accepted, Limits, Rejected, Verdict, check_document, human_bytes
from ocrpipe import aws
from ocrpipe.bus import EventPublisher
from ocrpipe.events import DocumentRejected, DocumentUploaded, Recipient, RejectionReason
from ocrpipe.storage import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from ingest.config import Settings

logger = Logger(service="ingest", child=True)

#: How long a worker owns an upload it is checking; longer than any check takes, shorter
#: than the queue's visibility timeout so a crashed worker's retry can take over.
LEASE_S = 60


#: Seconds an object may be stored after its presigned POST expired: S3 checks the policy
#: when a POST starts, so a slow upload legitimately finishes after the expiry.
EXPIRY_GRACE_S = 10.0


class IntakeOutcome(StrEnum):
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    UNKNOWN_REJECTED = "unknown_rejected"
    DUPLICATE = "duplicate"
    GONE = "gone"  # an unknown object that no longer exists: already handled
    REPLACED = "replaced"  # checked bytes were overwritten by unchecked ones: deleted


class WrongBucketError(ValueError):
    """The event is about a bucket that is not ingest's (a wiring mistake)."""


class UploadedObjectMissingError(RuntimeError):
    """S3 announced an object that cannot be read (yet); the message is retried."""


def _plain_etag(etag: str | None) -> str:
    """S3 quotes ETags in API responses but not in events."""
    return (etag or "").strip('"')


def outcome_event(
    verdict: Verdict,
    *,
    document_id: str,
    filename: str,
    source_uri: str,
    recipient: Recipient | None = None,
    access_token_sha256: str | None = None,
    **extra: Any,
) -> DocumentUploaded | DocumentRejected:
    """The event announcing ``verdict`` on an object (``extra``: more DocumentUploaded fields)."""
    common: dict[str, Any] = {
        "document_id": document_id,
        "filename": filename,
        "recipient": recipient,
        "source_uri": source_uri,
        "access_token_sha256": access_token_sha256,
    }
    if isinstance(verdict, Accepted):
        return DocumentUploaded(
            **common,
            **extra,
            content_type=verdict.content_type,
            size_bytes=verdict.size_bytes,
            sha256=verdict.sha256,
            page_count=verdict.page_count,
        )
    return DocumentRejected(
        **common,
        reason_code=verdict.code,
        reason=verdict.reason,
        size_bytes=verdict.size_bytes,
    )


class UploadIntake:
    def __init__(
        self,
        *,
        s3: S3Client,
        uploads: UploadsTable,
        publisher: EventPublisher,
        bucket: str,
        limits: Limits,
        upload_window_s: float | None = None,
        lease_s: int = LEASE_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``upload_window_s``: how long after the upload request its object may be stored
        (the presigned POST's expiry plus :data:`EXPIRY_GRACE_S`); None: no limit."""
        self._s3 = s3
        self._upload_window_s = upload_window_s
        self._uploads = uploads
        self._publisher = publisher
        self._bucket = bucket
        self._limits = limits
        self._lease_s = lease_s
        self._clock = clock

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadIntake:
        return cls(
            s3=aws.client("s3"),
            uploads=UploadsTable(aws.client("dynamodb"), settings.ingest_table),
            publisher=EventPublisher(aws.client("events"), settings.bus_name),
            bucket=settings.uploads_bucket,
            limits=settings.limits(),
            upload_window_s=settings.presign_expiry_s + EXPIRY_GRACE_S,
        )

    def handle(self, created: ObjectCreated) -> IntakeOutcome:
        if created.bucket != self._bucket:
            raise WrongBucketError(f"event for bucket {created.bucket!r}, not {self._bucket!r}")
        candidates = key_candidates(created.key)
        stored = self._find_upload(candidates)
        if stored is None:
            return self._reject_unknown(candidates)
        document_id = stored.upload.document_id
        if stored.status in DONE:
            return self._duplicate(stored, created)

        token = uuid.uuid4().hex
        claimed = self._uploads.claim(
            document_id, token=token, now=self._clock(), lease_s=self._lease_s
        )
        if claimed is None:  # expired between the read and the claim
            return self._reject_unknown(candidates)
        if claimed.status in DONE:
            return self._duplicate(claimed, created)

        upload = claimed.upload
        try:
            event, etag = self._check(upload)
            self._publisher.publish(event)
        except BaseException:
            self._release_quietly(document_id, token)
            raise

        accepted = isinstance(event, DocumentUploaded)
        status = UploadStatus.UPLOADED if accepted else UploadStatus.REJECTED
        self._finish_quietly(document_id, token, status, event, etag)
        if isinstance(event, DocumentRejected):
            self._delete(upload.key)
            logger.info(
                "upload rejected",
                extra={"document_id": document_id, "reason_code": event.reason_code.value},
            )
            return IntakeOutcome.REJECTED
        logger.info("upload accepted", extra={"document_id": document_id})
        return IntakeOutcome.ACCEPTED

    # -- steps ---------------------------------------------------------------------------

    def _find_upload(self, candidates: list[str]) -> StoredUpload | None:
        """The upload record whose key is one of ``candidates`` (the exact key is stored)."""
        for candidate in candidates:
            parsed = parse_upload_key(candidate)
            if parsed is None:
                continue
            stored = self._uploads.get(parsed.document_id)
            if stored is not None and stored.upload.key in candidates:
                return stored
        return None

    def _check(self, upload: PendingUpload) -> tuple[DocumentUploaded | DocumentRejected, str]:
        """The outcome event for the object's bytes, and the ETag of the bytes checked."""
        try:
            response = self._s3.get_object(Bucket=self._bucket, Key=upload.key)
        except ClientError as exc:
            if aws.is_not_found(exc):
                raise UploadedObjectMissingError(
                    f"s3://{self._bucket}/{upload.key} was announced but is not there"
                ) from exc
            raise
        etag = _plain_etag(response.get("ETag"))
        with closing(response["Body"]) as body:
            verdict = self._broken_promise(upload, response) or check_document(
                body,
                filename=upload.filename,
                declared_content_type=upload.content_type,
                limits=self._limits,
                size_bytes=response.get("ContentLength"),
            )
        event = outcome_event(
            verdict,
            document_id=upload.document_id,
            filename=upload.filename,
            source_uri=S3Location(self._bucket, upload.key).uri,
            recipient=upload.recipient,
            access_token_sha256=upload.access_token_sha256,
            language=upload.language,
        )
        return event, etag

    def _broken_promise(self, upload: PendingUpload, response: Any) -> Rejected | None:
        """The presigned POST's bounds, enforced here: S3 enforces them on AWS, the local
        emulator does not, and the object must not be trusted either way. An object larger
        than its upload request declared, or stored after the link expired, is refused.
        (Its type is checked from its bytes by :func:`check_document`.)"""
        name = upload.filename or "The file"
        size = int(response.get("ContentLength") or 0)
        if upload.declared_size and size > upload.declared_size:
            return Rejected(
                RejectionReason.LARGER_THAN_DECLARED,
                f"{name} is {human_bytes(size)}, more than the {human_bytes(upload.declared_size)}"
                " its upload was announced with.",
                size,
            )
        stored_at = response.get("LastModified")
        if self._upload_window_s is not None and stored_at is not None:
            late = (stored_at - upload.created_at).total_seconds() - self._upload_window_s
            if late > 0:
                return Rejected(
                    RejectionReason.UPLOAD_EXPIRED,
                    f"{name} arrived {late:.0f} s after its upload link expired.",
                    size,
                )
        return None

    def _duplicate(self, stored: StoredUpload, created: ObjectCreated) -> IntakeOutcome:
        logger.info(
            "duplicate object event ignored",
            extra={"document_id": stored.upload.document_id, "status": stored.status.value},
        )
        if stored.status == UploadStatus.REJECTED:
            # The first delivery may have failed to delete it; deleting twice is harmless.
            self._delete(stored.upload.key)
            return IntakeOutcome.DUPLICATE
        event_etag = _plain_etag(created.etag)
        if event_etag and stored.checked_etag and event_etag != stored.checked_etag:
            # The presigned POST stays valid for its whole lifetime, so the same key can be
            # written again after its bytes were checked. The event may just be stale (events
            # can arrive out of order): only bytes that differ from the checked ones go.
            current = self._object_etag(stored.upload.key)
            if current is not None and current != stored.checked_etag:
                self._delete(stored.upload.key)
                logger.warning(
                    "checked upload was replaced by unchecked bytes; deleted",
                    extra={"document_id": stored.upload.document_id},
                )
                return IntakeOutcome.REPLACED
        return IntakeOutcome.DUPLICATE

    def _reject_unknown(self, candidates: list[str]) -> IntakeOutcome:
        for key in candidates:
            size = self._object_size(key)
            if size is not None:
                break
        else:
            logger.info("unknown object is gone; nothing to do", extra={"key": candidates[0]})
            return IntakeOutcome.GONE
        name = key.rsplit("/", 1)[-1] or key
        event = DocumentRejected(
            document_id=derived_document_id(key),
            filename=name[:1024],
            source_uri=S3Location(self._bucket, key).uri,
            reason_code=RejectionReason.UNKNOWN_UPLOAD,
            reason=(
                f"{name} was not uploaded through ocrpipe's upload API "
                "(or its upload link had expired), so it was removed unread."
            ),
            size_bytes=size,
        )
        self._publisher.publish(event)
        self._delete(key)
        logger.warning("unknown object rejected and deleted", extra={"key": key})
        return IntakeOutcome.UNKNOWN_REJECTED

    # -- AWS helpers ---------------------------------------------------------------------

    def _head(self, key: str) -> dict[str, Any] | None:
        try:
            head = self._s3.head_object(Bucket=self._bucket, Key=key)
        except ClientError as exc:
            if aws.is_not_found(exc):
                return None
            raise
        return dict(head)

    def _object_size(self, key: str) -> int | None:
        head = self._head(key)
        return None if head is None else int(head.get("ContentLength", 0))

    def _object_etag(self, key: str) -> str | None:
        head = self._head(key)
        return None if head is None else _plain_etag(head.get("ETag"))

    def _delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def _release_quietly(self, document_id: str, token: str) -> None:
        try:
            aws.retry_transient()(self._uploads.release)(document_id, token=token)
        except Exception:
            # The lease runs out by itself; the retry claims it then.
            logger.warning("could not release upload lease", extra={"document_id": document_id})

    def _finish_quietly(
        self,
        document_id: str,
        token: str,
        status: UploadStatus,
        event: DocumentUploaded | DocumentRejected,
        etag: str,
    ) -> None:
        # The event is out: raising now would only make a retry publish it again. Transient
        # errors are asked again: an upload left unfinished is claimed again by the next copy
        # of its S3 event, after ocr may have deleted the object (found by the soak benchmark:
        # such copies failed until they reached the DLQ).
        if isinstance(event, DocumentUploaded):
            outcome: dict[str, Any] = {
                "sha256": event.sha256,
                "page_count": event.page_count,
                "size_bytes": event.size_bytes,
                "detected_content_type": event.content_type,
            }
        else:
            outcome = {"reason_code": event.reason_code.value, "size_bytes": event.size_bytes}
        outcome["etag"] = etag or None
        try:
            recorded = aws.retry_transient()(self._uploads.finish)(
                document_id, token=token, status=status, now=self._clock(), outcome=outcome
            )
        except Exception:
            logger.exception(
                "event published but outcome not recorded", extra={"document_id": document_id}
            )
            return
        if not recorded:
            logger.warning(
                "lease was lost before the outcome was recorded",
                extra={"document_id": document_id},
            )
