"""Lambda entry points of the ocr service: parse, read once, publish (:mod:`ocr.stage`).

* :func:`on_document_uploaded` - SQS batch of ``DocumentUploaded``. Idempotent per document
  (``[document_id, round]``; ``round`` is empty unless the event asks to be read again,
  ``reocr: true``, :func:`ocrpipe.idempotency.processing_round`): a duplicate or a replay
  neither runs the engine nor publishes again. A message that is not a ``DocumentUploaded``
  is a contract bug: raised, it ends in the DLQ.
* :func:`on_textract_completed` - Textract completion notices (SNS → SQS), idempotent per
  job id; Textract even when the stage now runs Tesseract (a job started before a switch).

A throttled Textract call puts its record back on the queue with a backoff and reports it as
a batch item failure (for completions, even when the whole batch was throttled).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from ocr.config import Settings
from ocr.stage import OcrStage, requeue_when_throttled
from ocr.textract_jobs import CompletionNotice, parse_completion
from ocrpipe.container import Consumer, EventRecord, built_by, is_final_attempt, per_container
from ocrpipe.events import DocumentUploaded
from ocrpipe.idempotency import OncePerKey, processing_round

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: The service's logger: the domain modules' child loggers (``ocr.stage``) write through it.
logger = Logger(service="ocr")
metrics = Metrics(namespace="ocrpipe", service="ocr")

UPLOAD_KEY = ("ocr.document", "[document_id, round]")  # (prefix, JMESPath of the key)
TEXTRACT_JOB_KEY = ("ocr.textract-job", "job_id")
CONSUMER = ("ocr", "ocr")  # (package, consumer): its queue's maximum receives


def _once(settings: Settings, prefix: str, key: str, argument: str) -> OncePerKey:
    return OncePerKey(
        table_name=settings.ocr_idempotency_table,
        key_prefix=prefix,
        key_jmespath=key,
        data_keyword_argument=argument,
        expires_after_seconds=settings.idempotency_expiry_s,
    )


@per_container
def _uploads() -> Consumer:
    settings = Settings()
    ocr, once = OcrStage.from_settings(settings), _once(settings, *UPLOAD_KEY, "detail")

    @once
    def read_once(*, detail: dict[str, Any], final_attempt: bool) -> dict[str, Any]:
        uploaded = DocumentUploaded.model_validate(detail["event"])
        return ocr.read(uploaded, final_attempt=final_attempt)

    def record_handler(record: EventRecord) -> None:
        uploaded = record.body.expect(DocumentUploaded)
        round_ = processing_round(record.body, again=uploaded.reocr)
        detail = {"document_id": uploaded.document_id, "round": round_, "event": uploaded}
        with requeue_when_throttled(record):
            read_once(detail=detail, final_attempt=is_final_attempt(record, *CONSUMER))

    return Consumer(record_handler, once=[once])


@per_container
def _completions() -> Consumer:
    settings = Settings()
    ocr = OcrStage.from_settings(settings, textract=True)
    once = _once(settings, *TEXTRACT_JOB_KEY, "notice")

    @once
    def complete_once(*, notice: CompletionNotice, final_attempt: bool) -> dict[str, Any]:
        return ocr.complete(notice, final_attempt=final_attempt)

    def record_handler(record: SQSRecord) -> None:
        with requeue_when_throttled(record):
            complete_once(
                notice=parse_completion(record.body),
                final_attempt=is_final_attempt(record, *CONSUMER),
            )

    return Consumer(record_handler, once=[once], fail_whole_batch=False, model=None)


@built_by(_uploads)
@metrics.log_metrics
def on_document_uploaded(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _uploads()(event, context)


@built_by(_completions)
@metrics.log_metrics
def on_textract_completed(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _completions()(event, context)
