"""Lambda entry point of the notify service (thin: parse, deliver once, announce once).

``on_outcome`` takes an SQS batch of ``WordsCounted``, ``DocumentRejected``, ``OcrFailed``
and ``WordCountFailed`` envelopes and reports partial batch failures. For each:

1. no ``recipient``: nothing to send (logged, the record succeeds);
2. **deliver** (:func:`notify.delivery.deliver`), idempotent on
   ``[document_id, outcome, round]`` under the prefix :data:`DELIVER_KEY_PREFIX`: a
   duplicate delivery or a replay never emails or calls the webhook twice. ``round`` is
   empty unless the event was replayed with ``--renotify`` (``renotify: true``), which asks
   for one more delivery per replay (:func:`ocrpipe.idempotency.processing_round`).
   A permanent failure is recorded like a success (it must not be retried either); a
   transient one raises, leaves no record, and the queue retries (DLQ after the queue's
   maximum receives);
3. **announce** ``NotificationSent`` / ``NotificationFailed``, idempotent on the same key
   under :data:`ANNOUNCE_KEY_PREFIX`. It is a separate step so that a failure to publish
   after a successful send is retried without sending again, and a duplicate does not
   publish again.

A message that is none of the three events is a contract bug, not user input: it is raised
and ends in the DLQ. The decrypted address is never logged nor stored: the idempotency
records keep only a hash of the key and the delivery record (no address).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)

from notify.config import Settings
from notify.delivery import DeliveryContext, announcement, deliver
from notify.outcomes import OutcomeEvent, outcome_of
from ocrpipe import aws, topology
from ocrpipe.bus import EventPublisher
from ocrpipe.envelope import Envelope, UnknownEventError
from ocrpipe.events import DocumentRejected, OcrFailed, WordCountFailed, WordsCounted
from ocrpipe.idempotency import once_per_key, processing_round
from ocrpipe.links import Links, LinkSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="notify")
metrics = Metrics(namespace="ocrpipe", service="notify")

DELIVER_KEY_PREFIX = "notify.deliver"
CONSUMER = "notify"
ANNOUNCE_KEY_PREFIX = "notify.announce"
IDEMPOTENCY_KEY_JMESPATH = "[document_id, outcome, round]"
OUTCOME_EVENTS = (WordsCounted, DocumentRejected, OcrFailed, WordCountFailed)


def _parse(detail_type: str, detail: dict[str, Any]) -> OutcomeEvent:
    for model in OUTCOME_EVENTS:
        if detail_type == model.DETAIL_TYPE:
            return model.model_validate(detail)
    raise UnknownEventError(f"not an outcome event: {detail_type}")


def _outcome_event(envelope: Envelope) -> OutcomeEvent:
    event = envelope.expect(*OUTCOME_EVENTS)
    if not isinstance(event, OUTCOME_EVENTS):  # pragma: no cover (expect checked the type)
        raise UnknownEventError(f"not an outcome event: {envelope.detail_type}")
    return event


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """Called instead of delivering/announcing again for a duplicate."""
    metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
    return response


@metrics.log_metrics
def on_outcome(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings()
    ctx = DeliveryContext(
        kms=aws.client("kms"),
        ses=aws.client("ses"),
        s3=aws.client("s3"),
        sender_email=settings.sender_email,
        webhook_secret=settings.webhook_secret.get_secret_value(),
        outbox_dir=settings.outbox_dir,
        local_mode=settings.local_mode,
        links=Links(LinkSettings(), s3=lambda: aws.client("s3")),
    )
    publisher = EventPublisher(aws.client("events"), settings.bus_name)

    def once(key_prefix: str, argument: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        return once_per_key(
            table_name=settings.notify_idempotency_table,
            key_prefix=key_prefix,
            key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
            data_keyword_argument=argument,
            expires_after_seconds=settings.idempotency_expiry_s,
            context=context,
            on_duplicate=_replayed,
        )

    @once(DELIVER_KEY_PREFIX, "delivery")
    def deliver_once(*, delivery: dict[str, Any], final_attempt: bool) -> dict[str, Any]:
        outcome_event = _parse(delivery["detail_type"], delivery["detail"])
        record = deliver(outcome_event, ctx, final_attempt=final_attempt)
        log_extra = {k: record[k] for k in ("document_id", "outcome", "channel", "status")}
        if record["status"] == "sent":
            metrics.add_metric(name="NotificationsSent", unit=MetricUnit.Count, value=1)
            logger.info("notification sent", extra=log_extra)
        else:
            metrics.add_metric(name="NotificationsFailed", unit=MetricUnit.Count, value=1)
            logger.warning("notification failed", extra=log_extra | {"reason": record["reason"]})
        return record

    @once(ANNOUNCE_KEY_PREFIX, "record")
    def announce_once(*, record: dict[str, Any]) -> dict[str, Any]:
        published = announcement(record)
        publisher.publish(published)
        return {"published": published.DETAIL_TYPE}

    def record_handler(record: SQSRecord) -> None:
        envelope = Envelope.from_sqs_body(record.body)
        outcome_event = _outcome_event(envelope)
        outcome = outcome_of(outcome_event)
        round_ = processing_round(envelope, again=outcome_event.renotify)
        if outcome_event.recipient is None:
            logger.info(
                "no recipient; nothing to send",
                extra={"document_id": outcome_event.document_id, "outcome": outcome},
            )
            return
        delivered = deliver_once(
            delivery={
                "document_id": outcome_event.document_id,
                "outcome": outcome,
                "round": round_,
                "detail_type": outcome_event.DETAIL_TYPE,
                "detail": outcome_event.model_dump(mode="json"),
            },
            final_attempt=topology.is_final_attempt(
                record.attributes.approximate_receive_count, "notify", CONSUMER
            ),
        )
        announce_once(record=delivered | {"round": round_})

    processor = BatchProcessor(event_type=EventType.SQS)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
