"""Lambda entry point of the wordcount service: parse, count once, publish.

``on_ocr_completed`` takes an SQS batch of ``OcrCompleted`` envelopes and reports partial
batch failures. Idempotency is keyed on the document and the text it counts
(``[document_id, text_uri]``, under a prefix carrying the word rule's version), not on the
event id: a duplicate or a replay of an already counted text publishes nothing again, while
new text from a re-OCR, or a new word rule, is counted. A message that is not an
``OcrCompleted`` is a contract bug: it is raised and ends in the DLQ. The failure policy is
:mod:`wordcount.service`'s.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ocrpipe import aws
from ocrpipe.bus import EventPublisher
from ocrpipe.container import Consumer, EventRecord, built_by, is_final_attempt, per_container
from ocrpipe.events import OcrCompleted, WordCountFailed, WordsCounted
from ocrpipe.idempotency import OncePerKey
from ocrpipe.words import WORD_RULE_VERSION
from wordcount.config import Settings
from wordcount.service import count_or_fail

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="wordcount")
metrics = Metrics(namespace="ocrpipe", service="wordcount")

IDEMPOTENCY_KEY_PREFIX = f"wordcount.document.rule-v{WORD_RULE_VERSION}"
IDEMPOTENCY_KEY_JMESPATH = "[document_id, text_uri]"
#: (package, consumer) in the service declaration: its queue's maximum receives.
CONSUMER = ("wordcount", "wordcount")
_LOGGED = {"document_id", "reason_code", "total_words", "unique_words"}


def _measured(counted: WordsCounted | WordCountFailed) -> dict[str, Any]:
    if isinstance(counted, WordCountFailed):
        metrics.add_metric(name="CountsFailed", unit=MetricUnit.Count, value=1)
        logger.warning(
            "words not counted; the person is told",
            extra=counted.model_dump(mode="json", include=_LOGGED),
        )
        return {"failed": counted.reason_code.value}
    metrics.add_metric(name="DocumentsCounted", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="WordsCounted", unit=MetricUnit.Count, value=counted.total_words)
    logger.info("words counted", extra=counted.model_dump(mode="json", include=_LOGGED))
    return counted.model_dump(include={"result_uri", "total_words", "unique_words"})


@per_container
def _consumer() -> Consumer:
    settings = Settings()
    s3, publisher = aws.client("s3"), EventPublisher(aws.client("events"), settings.bus_name)
    once = OncePerKey(
        table_name=settings.wordcount_idempotency_table,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
        key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
        data_keyword_argument="detail",
        expires_after_seconds=settings.idempotency_expiry_s,
        metrics=metrics,
    )

    @once
    def count_once(*, detail: dict[str, Any], final_attempt: bool) -> dict[str, Any]:
        counted = count_or_fail(
            OcrCompleted.model_validate(detail),
            s3=s3,
            bucket=settings.wordcount_bucket,
            publisher=publisher,
            final_attempt=final_attempt,
        )
        return _measured(counted)

    def record_handler(record: EventRecord) -> None:
        completed = record.body.expect(OcrCompleted)
        count_once(
            detail=completed.model_dump(mode="json"),
            final_attempt=is_final_attempt(record, *CONSUMER),
        )

    return Consumer(record_handler, once=[once])


@built_by(_consumer)
@metrics.log_metrics
def on_ocr_completed(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _consumer()(event, context)
