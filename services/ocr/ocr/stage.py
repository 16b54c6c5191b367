"""The ocr stage's decisions for one document: read it, publish its outcome, tidy up.

Failure policy for one ``DocumentUploaded``:

* unreadable / too large / unsupported / no text: retrying cannot help, so ``OcrFailed``
  is published at once;
* engine error (Tesseract crashed or timed out, Textract misbehaved): may be transient, so it
  is raised for the queue to retry; on the queue's last delivery ``OcrFailed``
  (``engine_error``) is published instead, so nothing a person waits on is parked in a DLQ;
* AWS errors (S3, DynamoDB, EventBridge): raised, so the queue retries.

Uploads are deleted once their outcome is published (``OCRPIPE_DELETE_UPLOADS_AFTER_OCR``),
except objects a backfill pointed at (``keep_source``): those belong to the operator.

Textract (``OCRPIPE_OCR_ENGINE=textract``, :mod:`ocr.textract_jobs`): images are read
synchronously as above; a PDF/TIFF starts a job and :func:`complete_job` publishes its outcome
when the job's completion notice arrives. Throttling is never slept on: the record goes back
to its queue with an exponential, jittered visibility timeout (:func:`retry_later`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError

from ocr.cache import DynamoTextCache
from ocr.config import Settings
from ocr.engines import build_engine
from ocr.engines.textract import NotificationChannel, TextractEngine, TextractThrottledError
from ocr.errors import EngineError, OcrError
from ocr.service import OcrLimits, OcrOutcome, OcrService, S3ObjectStore
from ocr.textract_jobs import (
    CompletionNotice,
    DynamoJobStore,
    JobFailed,
    JobStarted,
    TextractService,
    queue_url_from_arn,
    redelivery_delay_s,
)
from ocrpipe import aws
from ocrpipe.bus import EventPublisher
from ocrpipe.container import receive_count
from ocrpipe.events import DocumentUploaded, OcrCompleted, OcrFailed, OcrFailureReason

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.parser.models import SqsRecordModel

logger = Logger(service="ocr", child=True)
metrics = Metrics(namespace="ocrpipe", service="ocr")


# --- what the stage is built from (once per container) -----------------------------------------
def _reader(settings: Settings, engine: Any) -> OcrService:
    s3 = aws.client("s3")
    return OcrService(
        engine=engine,
        cache=DynamoTextCache(aws.client("dynamodb"), settings.ocr_table, s3),
        store=S3ObjectStore(s3),
        text_bucket=settings.ocr_bucket,
        limits=OcrLimits(pdf_dpi=settings.pdf_dpi, max_image_pixels=settings.max_image_pixels),
    )


def textract_service(settings: Settings) -> TextractService:
    engine = build_engine("textract")
    if not isinstance(engine, TextractEngine):  # pragma: no cover - build_engine's contract
        raise TypeError(f"expected the Textract engine, got {type(engine).__name__}")
    channel = (
        NotificationChannel(settings.textract_sns_topic_arn, settings.textract_role_arn)
        if settings.textract_sns_topic_arn
        else None
    )
    return TextractService(
        base=_reader(settings, engine),
        engine=engine,
        store=S3ObjectStore(aws.client("s3")),
        jobs=DynamoJobStore(aws.client("dynamodb"), settings.ocr_table),
        channel=channel,
    )


def build_service(settings: Settings) -> OcrService | TextractService:
    if settings.ocr_engine == "textract":
        return textract_service(settings)
    return _reader(settings, build_engine(settings.ocr_engine, lang=settings.tesseract_lang))


@dataclass(frozen=True)
class OcrStage:
    """The stage as a container holds it: its reader, its bus, its settings' one choice."""

    service: OcrService | TextractService
    publisher: EventPublisher
    delete_uploads: bool

    @classmethod
    def from_settings(cls, settings: Settings, *, textract: bool = False) -> OcrStage:
        """``textract``: the Textract reader whatever the engine setting (completions of
        jobs started before a switch still arrive)."""
        return cls(
            service=textract_service(settings) if textract else build_service(settings),
            publisher=EventPublisher(aws.client("events"), settings.bus_name),
            delete_uploads=settings.delete_uploads_after_ocr,
        )

    def read(self, uploaded: DocumentUploaded, *, final_attempt: bool) -> dict[str, Any]:
        """Read one document and publish the outcome (idempotency is the caller's)."""
        service, publisher = self.service, self.publisher
        try:
            outcome = service.read(uploaded)
        except EngineError as exc:
            if not final_attempt:
                logger.warning("engine error, will retry", extra={"detail": exc.detail})
                raise
            logger.error(
                "engine error on the last delivery; telling the person",
                extra={"detail": exc.detail},
            )
            return _fail(publisher, uploaded, exc.reason_code, exc.reason, service.engine.name)
        except OcrError as exc:
            logger.info("document could not be read", extra=_ids(uploaded, exc.reason_code))
            return _fail(publisher, uploaded, exc.reason_code, exc.reason, service.engine.name)
        if isinstance(outcome, JobStarted):  # Textract job: complete() publishes
            logger.info(
                "textract job started",
                extra={
                    "document_id": uploaded.document_id,
                    "job_id": outcome.job_id,
                    "pages": outcome.page_count,
                },
            )
            metrics.add_metric(name="TextractJobsStarted", unit=MetricUnit.Count, value=1)
            return {"outcome": "started", "job_id": outcome.job_id}
        publisher.publish(_completed(uploaded, outcome, sha256=uploaded.sha256))
        metrics.add_metric(name="CacheHits", unit=MetricUnit.Count, value=int(outcome.cached))
        if not outcome.cached:
            metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=outcome.page_count)
            metrics.add_metric(
                name="EngineSeconds", unit=MetricUnit.Seconds, value=outcome.engine_seconds
            )
        logger.info(
            "document read",
            extra={
                "document_id": uploaded.document_id,
                "cached": outcome.cached,
                "pages": outcome.page_count,
                "engine_seconds": round(outcome.engine_seconds, 3),
            },
        )
        if self.delete_uploads and not uploaded.keep_source:
            _discard(service, uploaded.source_uri)
        return {"outcome": "completed", "cached": outcome.cached, "text_uri": outcome.text_uri}

    def complete(self, notice: CompletionNotice, *, final_attempt: bool) -> dict[str, Any]:
        """Publish the outcome of a finished Textract job (idempotency is the caller's).

        A job id without a record is logged and acknowledged: the record is written right after
        the job starts and lives as long as Textract keeps results (7 days), so a notice without
        one is for an expired job, a late duplicate, or a job this stage did not start. Retrying
        cannot produce a record, so the message would only wait in the DLQ.
        """
        service = self.service
        if not isinstance(service, TextractService):
            raise TypeError("Textract completions need the Textract reader")
        job = service.pending(notice.job_id)
        if job is None:
            logger.warning("completion for an unknown textract job", extra=notice.model_dump())
            return {"outcome": "unknown_job", "job_id": notice.job_id}
        try:
            completion = service.finish(job, notice)
        except EngineError as exc:
            if not final_attempt:
                raise
            completion = JobFailed(job, exc.reason_code, exc.reason)
        publisher = self.publisher
        if isinstance(completion, JobFailed):
            logger.info("textract job failed", extra=_ids(job, completion.reason_code))
            result = _fail(publisher, job, completion.reason_code, completion.reason, "textract")
        else:
            outcome = completion.outcome
            publisher.publish(_completed(job, outcome, sha256=job.sha256))
            metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=outcome.page_count)
            logger.info(
                "textract job read", extra={"job_id": job.job_id, "pages": outcome.page_count}
            )
            result = {"outcome": "completed", "cached": False, "text_uri": outcome.text_uri}
        if self.delete_uploads and not job.keep_source:
            _discard(service, job.source_uri)
        service.forget(job.job_id)
        return result


@contextmanager
def requeue_when_throttled(record: SQSRecord | SqsRecordModel) -> Iterator[None]:
    """Around the handling of one record: a throttled Textract call puts the record back on
    its queue with a backoff (:func:`retry_later`) and fails it."""
    try:
        yield
    except TextractThrottledError as exc:
        retry_later(record, exc)
        raise


def retry_later(record: SQSRecord | SqsRecordModel, exc: TextractThrottledError) -> int | None:
    """Hide a throttled record from its queue for an exponential, jittered backoff
    (``ChangeMessageVisibility``); the caller then reports it as a batch item failure. The
    queue URL is derived from the record's ``eventSourceARN``. Returns the delay, or None
    when it could not be set (the queue's own visibility timeout applies then)."""
    received = receive_count(record)
    delay = redelivery_delay_s(received)
    sqs = aws.client("sqs")
    # powertools' data class (snake_case) or a parsed record (the wire names)
    arn = str(getattr(record, "event_source_arn", None) or getattr(record, "eventSourceARN", ""))
    handle = str(getattr(record, "receipt_handle", None) or getattr(record, "receiptHandle", ""))
    try:
        sqs.change_message_visibility(
            QueueUrl=queue_url_from_arn(arn, sqs.meta.endpoint_url),
            ReceiptHandle=handle,
            VisibilityTimeout=delay,
        )
    except (BotoCoreError, ClientError, ValueError):
        logger.exception("could not delay the throttled record", extra={"delay_s": delay})
        return None
    logger.warning(
        "textract throttled, retrying later",
        extra={
            "code": exc.code,
            "operation": exc.operation,
            "receives": received,
            "delay_s": delay,
        },
    )
    metrics.add_metric(name="TextractThrottled", unit=MetricUnit.Count, value=1)
    return delay


# --- the shared steps --------------------------------------------------------------------------
def _completed(source: Any, outcome: OcrOutcome, *, sha256: str) -> OcrCompleted:
    """``OcrCompleted`` for ``source`` (the upload event, or a finished job's record): every
    field the outcome has that the event has too."""
    fields = OcrCompleted.model_fields
    return OcrCompleted.model_validate(
        {name: getattr(outcome, name) for name in fields if hasattr(outcome, name)}
        | {"document_id": source.document_id, "filename": source.filename}
        | {"recipient": source.recipient, "sha256": sha256}
    )


def _fail(
    publisher: EventPublisher,
    source: Any,
    reason_code: OcrFailureReason,
    reason: str,
    engine: str,
) -> dict[str, Any]:
    publisher.publish(
        OcrFailed(
            document_id=source.document_id,
            filename=source.filename,
            recipient=source.recipient,
            reason_code=reason_code,
            reason=reason,
            engine=engine,
        )
    )
    metrics.add_metric(name="OcrFailed", unit=MetricUnit.Count, value=1)
    return {"outcome": "failed", "reason_code": str(reason_code)}


def _ids(source: Any, reason_code: OcrFailureReason) -> dict[str, Any]:
    return {"document_id": source.document_id, "reason_code": str(reason_code)}


def _discard(service: OcrService | TextractService, uri: str) -> None:
    try:
        service.discard_upload(uri)
    except Exception:  # the outcome is announced; a leftover upload is harmless
        logger.exception("could not delete the upload", extra={"uri": uri})
