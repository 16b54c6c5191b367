"""Lambda entry points of the ocr service (thin: parse, call :mod:`ocr.service`, publish).

Failure policy for one ``DocumentUploaded``:

* unreadable / too large / unsupported / no text: retrying cannot help, so ``OcrFailed``
  is published at once and the SQS record succeeds;
* engine error (Tesseract crashed or timed out): may be transient (memory pressure, a busy
  host), so the record is retried by the queue; on its last delivery
  (``ApproximateReceiveCount`` reaches the queue's ``max_receive_count`` from the topology)
  ``OcrFailed`` with reason ``engine_error`` is published instead, so nothing is parked in
  the DLQ for a document a person is waiting on;
* AWS errors (S3, DynamoDB, EventBridge): raised, so the queue retries;
* a message that is not a ``DocumentUploaded`` at all is a contract bug, not user input: it
  is raised and ends in the DLQ where an operator sees it.

Idempotency is keyed on the document (``[document_id, reocr]`` of the event detail, with the
fixed prefix :data:`IDEMPOTENCY_KEY_PREFIX`), not on the event id: a duplicate delivery or a
replay of the same event neither runs the engine nor publishes again. A replay that *should*
re-emit downstream can call :func:`process_document` directly (no idempotency; the content
cache still keeps the engine from running again).
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
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from ocr.cache import DynamoTextCache
from ocr.config import Settings
from ocr.engines import build_engine
from ocr.errors import EngineError, OcrError
from ocr.service import OcrLimits, OcrService, S3ObjectStore
from ocrpipe import aws, topology
from ocrpipe.bus import EventPublisher
from ocrpipe.envelope import Envelope
from ocrpipe.events import DocumentUploaded, OcrCompleted, OcrFailed

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="ocr")
metrics = Metrics(namespace="ocrpipe", service="ocr")

IDEMPOTENCY_KEY_PREFIX = "ocr.document"
IDEMPOTENCY_KEY_JMESPATH = "[document_id, reocr]"
CONSUMER = "ocr"


def build_service(settings: Settings) -> OcrService:
    s3 = aws.client("s3")
    return OcrService(
        engine=build_engine(settings.ocr_engine, lang=settings.tesseract_lang),
        cache=DynamoTextCache(aws.client("dynamodb"), settings.ocr_table, s3),
        store=S3ObjectStore(s3),
        text_bucket=settings.ocr_bucket,
        limits=OcrLimits(pdf_dpi=settings.pdf_dpi, max_image_pixels=settings.max_image_pixels),
    )


def process_document(
    uploaded: DocumentUploaded,
    *,
    settings: Settings,
    service: OcrService,
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
            logger.warning("engine error, will retry", extra={"reason": exc.reason})
            raise
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
    if settings.delete_uploads_after_ocr:
        try:
            service.discard_upload(uploaded)
        except Exception:  # the text is stored and announced; a leftover upload is harmless
            logger.exception("could not delete the upload", extra={"uri": uploaded.source_uri})
    return {"outcome": "completed", "cached": outcome.cached, "text_uri": outcome.text_uri}


def _is_final_attempt(record: SQSRecord) -> bool:
    max_receives = topology.load().consumers[CONSUMER].max_receive_count
    try:
        received = int(record.attributes.approximate_receive_count)
    except (TypeError, ValueError):
        return False
    return received >= max_receives


@metrics.log_metrics
def on_document_uploaded(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings()
    service = build_service(settings)
    publisher = EventPublisher(aws.client("events"), settings.bus_name)
    config = IdempotencyConfig(
        event_key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
        raise_on_no_idempotency_key=True,
        expires_after_seconds=settings.idempotency_expiry_s,
    )
    config.register_lambda_context(context)
    persistence = DynamoDBPersistenceLayer(
        table_name=settings.ocr_idempotency_table, boto3_client=aws.client("dynamodb")
    )

    @idempotent_function(  # type: ignore[untyped-decorator]
        data_keyword_argument="detail",
        persistence_store=persistence,
        config=config,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )
    def process_once(*, detail: dict[str, Any], final_attempt: bool) -> dict[str, Any]:
        return process_document(
            DocumentUploaded.model_validate(detail),
            settings=settings,
            service=service,
            publisher=publisher,
            final_attempt=final_attempt,
        )

    def record_handler(record: SQSRecord) -> None:
        uploaded = Envelope.from_sqs_body(record.body).expect(DocumentUploaded)
        process_once(
            detail=uploaded.model_dump(mode="json"), final_attempt=_is_final_attempt(record)
        )

    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
