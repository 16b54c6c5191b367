"""Lambda entry point of the wordcount service (thin: parse, call :mod:`wordcount.service`).

``on_ocr_completed`` takes an SQS batch of ``OcrCompleted`` envelopes and reports partial
batch failures. Idempotency is keyed on the document and the text it counts
(``[document_id, text_uri]`` of the event detail, under a prefix that carries the word rule's
version), not on the event id: a duplicate delivery or a replay of an already counted text
neither counts nor publishes again, while new text from a re-OCR, or a new version of the
word rule, is counted. A failed attempt leaves no idempotency record, so the queue's retry
counts afresh.

A message that is not an ``OcrCompleted`` is a contract bug, not user input: it is raised
and ends in the DLQ, where an operator sees it. See :mod:`wordcount.service` for the rest of
the failure policy.
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

from ocrpipe import aws, topology
from ocrpipe.bus import EventPublisher
from ocrpipe.envelope import Envelope
from ocrpipe.events import OcrCompleted, WordCountFailed
from ocrpipe.idempotency import once_per_key
from ocrpipe.words import WORD_RULE_VERSION
from wordcount.config import Settings
from wordcount.service import count_or_fail

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="wordcount")
metrics = Metrics(namespace="ocrpipe", service="wordcount")

IDEMPOTENCY_KEY_PREFIX = f"wordcount.document.rule-v{WORD_RULE_VERSION}"
IDEMPOTENCY_KEY_JMESPATH = "[document_id, text_uri]"
CONSUMER = "wordcount"


def _already_counted(response: Any, idempotent_data: DataRecord) -> Any:
    """Called instead of counting when this document was counted before: publish nothing."""
    metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
    logger.info("document already counted; not publishing again", extra=dict(response or {}))
    return response


@metrics.log_metrics
def on_ocr_completed(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings()
    s3 = aws.client("s3")
    publisher = EventPublisher(aws.client("events"), settings.bus_name)

    @once_per_key(
        table_name=settings.wordcount_idempotency_table,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
        key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
        data_keyword_argument="detail",
        expires_after_seconds=settings.idempotency_expiry_s,
        context=context,
        on_duplicate=_already_counted,
    )
    def count_once(*, detail: dict[str, Any], final_attempt: bool) -> dict[str, Any]:
        counted = count_or_fail(
            OcrCompleted.model_validate(detail),
            s3=s3,
            bucket=settings.wordcount_bucket,
            publisher=publisher,
            final_attempt=final_attempt,
        )
        if isinstance(counted, WordCountFailed):
            metrics.add_metric(name="CountsFailed", unit=MetricUnit.Count, value=1)
            logger.warning(
                "words not counted; the person is told",
                extra={"document_id": counted.document_id, "reason_code": counted.reason_code},
            )
            return {"failed": counted.reason_code.value}
        metrics.add_metric(name="DocumentsCounted", unit=MetricUnit.Count, value=1)
        metrics.add_metric(name="WordsCounted", unit=MetricUnit.Count, value=counted.total_words)
        logger.info(
            "words counted",
            extra={
                "document_id": counted.document_id,
                "total_words": counted.total_words,
                "unique_words": counted.unique_words,
            },
        )
        return {
            "result_uri": counted.result_uri,
            "total_words": counted.total_words,
            "unique_words": counted.unique_words,
        }

    def record_handler(record: SQSRecord) -> None:
        completed = Envelope.from_sqs_body(record.body).expect(OcrCompleted)
        count_once(
            detail=completed.model_dump(mode="json"),
            final_attempt=topology.is_final_attempt(
                record.attributes.approximate_receive_count, "wordcount", CONSUMER
            ),
        )

    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
