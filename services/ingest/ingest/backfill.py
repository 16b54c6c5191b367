"""Backfill: put objects that already exist in some bucket through the pipeline.

An object in a bucket the operator names (not ingest's uploads bucket) is checked exactly
like an upload (:func:`ingest.validation.check_document` on its real bytes) and announced
with the same event (:func:`ingest.intake.outcome_event`): ``DocumentUploaded``, or
``DocumentRejected`` with a reason a person can read. Differences from an upload:

* there is no pending upload record, no recipient and no access token (nobody is waiting);
* the document id is derived from ``bucket``, ``key`` and the ETag of the bytes checked, so
  running a backfill again announces the same documents under the same ids (and every
  stage's idempotency skips them) while a changed object becomes a new document;
* the object is never deleted or changed (``keep_source``): it is not ocrpipe's.

Used by ``ocrpipe backfill`` (the local runtime and the CLI against AWS) and by the S3 Batch
Operations function (:func:`ingest.handlers.on_batch_operation`).
"""

from __future__ import annotations

import hashlib
from contextlib import closing
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from ingest.intake import outcome_event
from ingest.validation import Limits, check_document
from ocrpipe import aws
from ocrpipe.bus import EventPublisher, PublishError
from ocrpipe.events import DocumentRejected, DocumentUploaded
from ocrpipe.storage import S3Location, decode_event_key

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from ingest.config import ValidationSettings

#: Longest ``filename`` an event carries.
_MAX_FILENAME = 1024


class BackfillCode(StrEnum):
    ACCEPTED = "accepted"  # DocumentUploaded published
    REJECTED = "rejected"  # DocumentRejected published (the reason says why)
    MISSING = "missing"  # no such object (or version): nothing published
    INVALID = "invalid"  # not an object key at all (a "folder", an empty key)


@dataclass(frozen=True)
class BackfillResult:
    bucket: str
    key: str
    code: BackfillCode
    document_id: str = ""
    reason: str = ""


def backfill_document_id(bucket: str, key: str, etag: str) -> str:
    """Same object bytes, same id: ``sha256(bucket \\n key \\n etag)``, 32 hex characters."""
    material = f"{bucket}\n{key}\n{etag.strip(chr(34))}".encode("utf-8", "surrogatepass")
    return hashlib.sha256(material).hexdigest()[:32]


def decode_manifest_key(key: str) -> str:
    """Keys in S3 Inventory / Batch Operations manifests and tasks are URL-encoded."""
    return decode_event_key(key)


def invalid_key_reason(key: str) -> str | None:
    if not key:
        return "the key is empty"
    if key.endswith("/"):
        return "the key names a folder, not an object"
    if len(key.encode("utf-8", "surrogatepass")) > 1024:
        return "the key is longer than S3 allows (1024 bytes)"
    return None


class Backfiller:
    """Checks one existing object and builds (or publishes) its event.

    Transient AWS errors (throttling, 5xx, network) and publishing errors propagate: the
    caller retries them (the CLI on its next run, Batch Operations as ``TemporaryFailure``).
    """

    def __init__(
        self,
        *,
        s3: S3Client,
        limits: Limits,
        publisher: EventPublisher | None = None,
        reocr: bool = False,
    ) -> None:
        self._s3 = s3
        self._limits = limits
        self._publisher = publisher
        self._reocr = reocr

    @classmethod
    def from_settings(cls, settings: ValidationSettings, *, reocr: bool = False) -> Backfiller:
        return cls(
            s3=aws.client("s3"),
            limits=settings.limits(),
            publisher=EventPublisher(aws.client("events"), settings.bus_name),
            reocr=reocr,
        )

    def check(
        self, bucket: str, key: str, *, version_id: str | None = None
    ) -> tuple[BackfillResult, DocumentUploaded | DocumentRejected | None]:
        """Read and judge the object; returns the result and the event to publish (if any)."""
        invalid = invalid_key_reason(key)
        if invalid is not None:
            return BackfillResult(bucket, key, BackfillCode.INVALID, reason=invalid), None
        request: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if version_id:
            request["VersionId"] = version_id
        try:
            response = self._s3.get_object(**request)
        except ClientError as exc:
            if aws.is_not_found(exc):
                return BackfillResult(
                    bucket, key, BackfillCode.MISSING, reason="no such object"
                ), None
            raise
        etag = str(response.get("ETag") or "")
        document_id = backfill_document_id(bucket, key, f"{etag}{version_id or ''}")
        filename = (key.rsplit("/", 1)[-1] or key)[:_MAX_FILENAME]
        with closing(response["Body"]) as body:
            verdict = check_document(
                body,
                filename=filename,
                declared_content_type=None,
                limits=self._limits,
                size_bytes=response.get("ContentLength"),
            )
        event = outcome_event(
            verdict,
            document_id=document_id,
            filename=filename,
            source_uri=S3Location(bucket, key).uri,
            reocr=self._reocr,
            keep_source=True,
        )
        if isinstance(event, DocumentRejected):
            result = BackfillResult(
                bucket, key, BackfillCode.REJECTED, document_id=document_id, reason=event.reason
            )
        else:
            result = BackfillResult(bucket, key, BackfillCode.ACCEPTED, document_id=document_id)
        return result, event

    def handle(self, bucket: str, key: str, *, version_id: str | None = None) -> BackfillResult:
        """Check the object and publish its event."""
        result, event = self.check(bucket, key, version_id=version_id)
        if event is not None:
            self._publish(event)
        return result

    def _publish(self, event: DocumentUploaded | DocumentRejected) -> None:
        if self._publisher is None:
            raise RuntimeError("this Backfiller has no publisher")
        self._publisher.publish(event)


# -- S3 Batch Operations ---------------------------------------------------------------------

SUCCEEDED = "Succeeded"
TEMPORARY_FAILURE = "TemporaryFailure"
PERMANENT_FAILURE = "PermanentFailure"


class BatchOperationError(ValueError):
    """The invocation is not an S3 Batch Operations request this function understands."""


@dataclass(frozen=True)
class BatchTask:
    task_id: str
    bucket: str
    key: str
    version_id: str | None


def parse_batch_tasks(event: dict[str, Any]) -> tuple[str, str, list[BatchTask]]:
    """``(schema version, invocation id, tasks)`` of schema 1.0 or 2.0; keys decoded."""
    version = str(event.get("invocationSchemaVersion", ""))
    if version not in ("1.0", "2.0"):
        raise BatchOperationError(f"unsupported invocationSchemaVersion {version!r}")
    invocation_id = str(event.get("invocationId", ""))
    tasks: list[BatchTask] = []
    for raw in event.get("tasks") or []:
        bucket = raw.get("s3BucketName") or raw.get("s3Bucket")
        if not bucket and raw.get("s3BucketArn"):
            bucket = str(raw["s3BucketArn"]).rsplit(":", 1)[-1]
        tasks.append(
            BatchTask(
                task_id=str(raw.get("taskId", "")),
                bucket=str(bucket or ""),
                key=decode_manifest_key(str(raw.get("s3Key", ""))),
                version_id=raw.get("s3VersionId") or None,
            )
        )
    return version, invocation_id, tasks


#: S3 errors that retrying does not fix (no permission, archived in Glacier, ...).
PERMANENT_S3_ERRORS = frozenset(
    {"AccessDenied", "AllAccessDisabled", "InvalidObjectState", "InvalidBucketName", "NoSuchBucket"}
)


def failure_code(exc: Exception) -> str | None:
    """``TemporaryFailure``/``PermanentFailure`` for an AWS error; None for a bug (raised)."""
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code", ""))
        return PERMANENT_FAILURE if code in PERMANENT_S3_ERRORS else TEMPORARY_FAILURE
    if isinstance(exc, (BotoCoreError, PublishError)):
        return TEMPORARY_FAILURE
    return None


def reocr_requested(event: dict[str, Any]) -> bool:
    """Whether a Batch Operations job asks ocr to read its documents again
    (``job.userArguments.reocr``, schema 2.0)."""
    user_arguments = (event.get("job") or {}).get("userArguments") or {}
    return str(user_arguments.get("reocr", "")).lower() in ("1", "true", "yes")


def run_batch_operation(event: dict[str, Any], backfiller: Backfiller) -> dict[str, Any]:
    """Handle every task; the response S3 Batch Operations expects.

    * published ``DocumentUploaded`` -> ``Succeeded`` (resultString: the document id);
    * rejected (published ``DocumentRejected``), missing object, invalid key ->
      ``PermanentFailure`` with the reason: it shows in the job's completion report;
    * a transient error -> ``TemporaryFailure``: Batch Operations retries the task.

    Tasks without a result (none, unless the function dies) count as ``TemporaryFailure``
    (``treatMissingKeysAs``).
    """
    version, invocation_id, tasks = parse_batch_tasks(event)
    results: list[dict[str, str]] = []
    for task in tasks:
        if not task.bucket:
            code, text = PERMANENT_FAILURE, "the task names no bucket"
        else:
            try:
                result = backfiller.handle(task.bucket, task.key, version_id=task.version_id)
            except Exception as exc:
                found = failure_code(exc)
                if found is None:
                    raise
                code, text = found, _describe(exc)
            else:
                if result.code == BackfillCode.ACCEPTED:
                    code, text = SUCCEEDED, f"DocumentUploaded {result.document_id}"
                elif result.code == BackfillCode.REJECTED:
                    text = f"rejected {result.document_id}: {result.reason}"
                    code = PERMANENT_FAILURE
                else:
                    code, text = PERMANENT_FAILURE, f"{result.code.value}: {result.reason}"
        results.append({"taskId": task.task_id, "resultCode": code, "resultString": text[:1000]})
    return {
        "invocationSchemaVersion": version,
        "treatMissingKeysAs": TEMPORARY_FAILURE,
        "invocationId": invocation_id,
        "results": results,
    }


def _describe(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name}: {error.get('Code')}"
    return type(exc).__name__
