"""Lambda entry points of the ocr service (thin: parse, call :mod:`ocr.service`, publish).

Failure policy for one ``DocumentUploaded``:

* unreadable / too large / unsupported / no text: retrying cannot help, so ``OcrFailed``
  is published at once and the SQS record succeeds;
* engine error (Tesseract crashed or timed out): may be transient (memory pressure, a busy
  host), so the record is retried by the queue; on its last delivery
  (``ApproximateReceiveCount`` reaches the queue's ``max_receive_count`` from
  ``ocrpipe-service.json``)
  ``OcrFailed`` with reason ``engine_error`` is published instead, so nothing is parked in
  the DLQ for a document a person is waiting on;
* AWS errors (S3, DynamoDB, EventBridge): raised, so the queue retries;
* a message that is not a ``DocumentUploaded`` at all is a contract bug, not user input: it
  is raised and ends in the DLQ where an operator sees it.

Idempotency is keyed on the document (``[document_id, round]``, with the fixed prefix
:data:`IDEMPOTENCY_KEY_PREFIX`), not on the event id: a duplicate delivery or a replay of the
same event neither runs the engine nor publishes again. ``round`` is empty unless the event
asks to be read again (``reocr: true``, e.g. ``ocrpipe replay --reocr``): then it is the
replay's name (or the event id), so each such replay reads the document exactly once more
(:func:`ocrpipe.idempotency.processing_round`).

Uploads are deleted once their outcome is published (``OCRPIPE_DELETE_UPLOADS_AFTER_OCR``),
except objects a backfill pointed at (``keep_source``): those belong to the operator.

Textract (``OCRPIPE_OCR_ENGINE=textract``, see :mod:`ocr.textract_jobs`): images are read
synchronously as above; a PDF/TIFF starts a Textract job and nothing is published until
:func:`on_textract_completed` receives the job's completion notice (SNS → SQS), idempotent
per Textract job id. Throttling is never slept on in a handler: the record goes back to its
queue with an exponential, jittered visibility timeout (:func:`retry_later`); on its last
delivery it is reported like any other engine error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from botocore.exceptions import BotoCoreError, ClientError

from ocr.cache import DynamoTextCache
from ocr.config import Settings
from ocr.engines import build_engine
from ocr.engines.textract import NotificationChannel, TextractEngine, TextractThrottledError
from ocr.errors import EngineError, OcrError
from ocr.service import OcrLimits, OcrService, S3ObjectStore
from ocr.textract_jobs import (
    CompletionNotice,
    DynamoJobStore,
    JobFailed,
    JobStarted,
    TextractService,
    parse_completion,
    queue_url_from_arn,
    redelivery_delay_s,
)
from ocrpipe import aws, topology
from ocrpipe.bus import EventPublisher
from ocrpipe.envelope import Envelope
from ocrpipe.events import DocumentUploaded, OcrCompleted, OcrFailed
from ocrpipe.idempotency import once_per_key, processing_round

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="ocr")
metrics = Metrics(namespace="ocrpipe", service="ocr")

IDEMPOTENCY_KEY_PREFIX = "ocr.document"
IDEMPOTENCY_KEY_JMESPATH = "[document_id, round]"
#: A Textract completion is handled once per job id.
TEXTRACT_IDEMPOTENCY_KEY_PREFIX = "ocr.textract-job"
TEXTRACT_IDEMPOTENCY_KEY_JMESPATH = "job_id"
CONSUMER = "ocr"


def build_service(settings: Settings) -> OcrService | TextractService:
    if settings.ocr_engine == "textract":
        return build_textract_service(settings)
    s3 = aws.client("s3")
    return OcrService(
        engine=build_engine(settings.ocr_engine, lang=settings.tesseract_lang),
        cache=DynamoTextCache(aws.client("dynamodb"), settings.ocr_table, s3),
        store=S3ObjectStore(s3),
        text_bucket=settings.ocr_bucket,
        limits=OcrLimits(pdf_dpi=settings.pdf_dpi, max_image_pixels=settings.max_image_pixels),
    )


def build_textract_service(settings: Settings) -> TextractService:
    s3 = aws.client("s3")
    store = S3ObjectStore(s3)
    engine = build_engine("textract")
    if not isinstance(engine, TextractEngine):  # pragma: no cover - build_engine's contract
        raise TypeError(f"expected the Textract engine, got {type(engine).__name__}")
    base = OcrService(
        engine=engine,
        cache=DynamoTextCache(aws.client("dynamodb"), settings.ocr_table, s3),
        store=store,
        text_bucket=settings.ocr_bucket,
        limits=OcrLimits(pdf_dpi=settings.pdf_dpi, max_image_pixels=settings.max_image_pixels),
    )
    channel = (
        NotificationChannel(settings.textract_sns_topic_arn, settings.textract_role_arn)
        if settings.textract_sns_topic_arn
        else None
    )
    return TextractService(
        base=base,
        engine=engine,
        store=store,
        jobs=DynamoJobStore(aws.client("dynamodb"), settings.ocr_table),
        channel=channel,
    )


def process_document(
    uploaded: DocumentUploaded,
    *,
    settings: Settings,
    service: OcrService | TextractService,
    publisher: EventPublisher,
    final_attempt: bool,
) -> dict[str, Any]:
    """Read one document and publish the outcome (no idempotency of its own)."""
    common = {
        "document_id": uploaded.document_id,
        "filename": uploaded.filename,
        "recipient": uploaded.recipient,
    }
    try:
        outcome = service.read(uploaded)
    except EngineError as exc:
        if not final_attempt:
            logger.warning("engine error, will retry", extra={"detail": exc.detail})
            raise
        logger.error(
            "engine error on the last delivery; telling the person", extra={"detail": exc.detail}
        )
        failed = OcrFailed(
            reason_code=exc.reason_code, reason=exc.reason, engine=service.engine.name, **common
        )
        publisher.publish(failed)
        metrics.add_metric(name="OcrFailed", unit=MetricUnit.Count, value=1)
        return {"outcome": "failed", "reason_code": str(exc.reason_code)}
    except OcrError as exc:
        logger.info(
            "document could not be read",
            extra={"document_id": uploaded.document_id, "reason_code": str(exc.reason_code)},
        )
        failed = OcrFailed(
            reason_code=exc.reason_code, reason=exc.reason, engine=service.engine.name, **common
        )
        publisher.publish(failed)
        metrics.add_metric(name="OcrFailed", unit=MetricUnit.Count, value=1)
        return {"outcome": "failed", "reason_code": str(exc.reason_code)}

    if isinstance(outcome, JobStarted):  # Textract job: on_textract_completed publishes
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

    publisher.publish(
        OcrCompleted(
            text_uri=outcome.text_uri,
            sha256=uploaded.sha256,
            engine=outcome.engine,
            engine_version=outcome.engine_version,
            page_count=outcome.page_count,
            mean_confidence=outcome.mean_confidence,
            char_count=outcome.char_count,
            cached=outcome.cached,
            language=outcome.language,
            pages=list(outcome.pages),
            warnings=list(outcome.warnings),
            reread_skipped=outcome.reread_skipped,
            **common,
        )
    )
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
    if settings.delete_uploads_after_ocr and not uploaded.keep_source:
        try:
            service.discard_upload(uploaded)
        except Exception:  # the text is stored and announced; a leftover upload is harmless
            logger.exception("could not delete the upload", extra={"uri": uploaded.source_uri})
    return {"outcome": "completed", "cached": outcome.cached, "text_uri": outcome.text_uri}


def _receive_count(record: SQSRecord) -> int:
    try:
        return max(1, int(record.attributes.approximate_receive_count))
    except (TypeError, ValueError):
        return 1


def retry_later(record: SQSRecord, exc: TextractThrottledError) -> int | None:
    """Hide a throttled record from its queue for an exponential, jittered backoff
    (``ChangeMessageVisibility``); the caller then reports it as a batch item failure. The
    queue URL is derived from the record's ``eventSourceARN``. Returns the delay, or None
    when it could not be set (the queue's own visibility timeout applies then)."""
    received = _receive_count(record)
    delay = redelivery_delay_s(received)
    sqs = aws.client("sqs")
    try:
        sqs.change_message_visibility(
            QueueUrl=queue_url_from_arn(record.event_source_arn, sqs.meta.endpoint_url),
            ReceiptHandle=record.receipt_handle,
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


def _is_final_attempt(record: SQSRecord) -> bool:
    return topology.is_final_attempt(record.attributes.approximate_receive_count, "ocr", CONSUMER)


@metrics.log_metrics
def on_document_uploaded(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings()
    service = build_service(settings)
    publisher = EventPublisher(aws.client("events"), settings.bus_name)

    @once_per_key(
        table_name=settings.ocr_idempotency_table,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
        key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
        data_keyword_argument="detail",
        expires_after_seconds=settings.idempotency_expiry_s,
        context=context,
    )
    def process_once(*, detail: dict[str, Any], final_attempt: bool) -> dict[str, Any]:
        return process_document(
            DocumentUploaded.model_validate(detail["event"]),
            settings=settings,
            service=service,
            publisher=publisher,
            final_attempt=final_attempt,
        )

    def record_handler(record: SQSRecord) -> None:
        envelope = Envelope.from_sqs_body(record.body)
        uploaded = envelope.expect(DocumentUploaded)
        detail = {
            "document_id": uploaded.document_id,
            "round": processing_round(envelope, again=uploaded.reocr),
            "event": uploaded.model_dump(mode="json"),
        }
        try:
            process_once(detail=detail, final_attempt=_is_final_attempt(record))
        except TextractThrottledError as exc:
            retry_later(record, exc)
            raise

    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)


def process_completion(
    notice: CompletionNotice,
    *,
    settings: Settings,
    service: TextractService,
    publisher: EventPublisher,
    final_attempt: bool,
) -> dict[str, Any]:
    """Publish the outcome of a finished Textract job (no idempotency of its own).

    A job id without a record is logged and acknowledged: the record is written right after
    StartDocumentTextDetection returns (jobs take seconds at least) and lives as long as
    Textract keeps results (7 days), so a notice without one is for an expired job, a job
    already completed and forgotten (a late duplicate), or one this stage did not start.
    Retrying cannot produce a record, so the message would only wait in the DLQ.
    """
    job = service.pending(notice.job_id)
    if job is None:
        logger.warning(
            "completion for an unknown textract job",
            extra={"job_id": notice.job_id, "status": notice.status, "job_tag": notice.job_tag},
        )
        return {"outcome": "unknown_job", "job_id": notice.job_id}
    try:
        completion = service.finish(job, notice)
    except EngineError as exc:
        if not final_attempt:
            raise
        completion = JobFailed(job, exc.reason_code, exc.reason)
    common = {"document_id": job.document_id, "filename": job.filename, "recipient": job.recipient}
    if isinstance(completion, JobFailed):
        logger.info(
            "textract job failed",
            extra={
                "document_id": job.document_id,
                "job_id": job.job_id,
                "reason_code": str(completion.reason_code),
            },
        )
        publisher.publish(
            OcrFailed(
                reason_code=completion.reason_code,
                reason=completion.reason,
                engine="textract",
                **common,
            )
        )
        metrics.add_metric(name="OcrFailed", unit=MetricUnit.Count, value=1)
        result: dict[str, Any] = {"outcome": "failed", "reason_code": str(completion.reason_code)}
    else:
        outcome = completion.outcome
        publisher.publish(
            OcrCompleted(
                text_uri=outcome.text_uri,
                sha256=job.sha256,
                engine="textract",
                engine_version=outcome.engine_version,
                page_count=outcome.page_count,
                mean_confidence=outcome.mean_confidence,
                char_count=outcome.char_count,
                cached=False,
                language=outcome.language,
                pages=list(outcome.pages),
                warnings=list(outcome.warnings),
                **common,
            )
        )
        metrics.add_metric(name="Pages", unit=MetricUnit.Count, value=outcome.page_count)
        logger.info(
            "textract job read",
            extra={
                "document_id": job.document_id,
                "job_id": job.job_id,
                "pages": outcome.page_count,
            },
        )
        result = {"outcome": "completed", "cached": False, "text_uri": outcome.text_uri}
    if settings.delete_uploads_after_ocr and not job.keep_source:
        try:
            service.discard_upload_uri(job.source_uri)
        except Exception:  # the outcome is announced; a leftover upload is harmless
            logger.exception("could not delete the upload", extra={"uri": job.source_uri})
    service.forget(job.job_id)
    return result


@metrics.log_metrics
def on_textract_completed(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """Textract completion notices (SNS → SQS), one outcome event per job."""
    settings = Settings()
    # Textract even when the stage now runs Tesseract: a job started before a switch
    service = build_textract_service(settings)
    publisher = EventPublisher(aws.client("events"), settings.bus_name)

    @once_per_key(
        table_name=settings.ocr_idempotency_table,
        key_prefix=TEXTRACT_IDEMPOTENCY_KEY_PREFIX,
        key_jmespath=TEXTRACT_IDEMPOTENCY_KEY_JMESPATH,
        data_keyword_argument="notice",
        expires_after_seconds=settings.idempotency_expiry_s,
        context=context,
    )
    def process_once(*, notice: dict[str, Any], final_attempt: bool) -> dict[str, Any]:
        return process_completion(
            CompletionNotice.model_validate(notice),
            settings=settings,
            service=service,
            publisher=publisher,
            final_attempt=final_attempt,
        )

    def record_handler(record: SQSRecord) -> None:
        notice = parse_completion(record.body)
        try:
            process_once(notice=notice.model_dump(), final_attempt=_is_final_attempt(record))
        except TextractThrottledError as exc:
            retry_later(record, exc)
            raise

    # Throttled records are expected, not errors of the function: report them as batch item
    # failures even when the whole batch failed.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
