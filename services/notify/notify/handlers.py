"""Lambda entry point of the notify service: parse, deliver once, announce once.

``on_outcome`` takes an SQS batch of outcome envelopes (``WordsCounted``,
``DocumentRejected``, ``OcrFailed``, ``WordCountFailed``) and reports partial batch
failures. An event without a ``recipient`` has nothing to send. Otherwise:

1. **deliver** (:func:`notify.delivery.deliver`), once per ``[document_id, outcome, round]``
   (``round`` is empty unless replayed with ``--renotify``,
   :func:`ocrpipe.idempotency.processing_round`): a duplicate or a replay never emails or
   calls the webhook twice. A permanent failure is recorded like a success; a transient one
   raises, leaves no record, and the queue retries (the last delivery records the failure);
2. **announce** ``NotificationSent`` / ``NotificationFailed``, once per the same key, as a
   separate step: a failure to publish after a send is retried without sending again.

Any other event is a contract bug: raised, it ends in the DLQ. The decrypted address is never
logged nor stored (the delivery record has none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from notify.config import Settings
from notify.delivery import Delivery, DeliveryContext, deliver
from notify.outcomes import OUTCOME_BY_DETAIL_TYPE, outcome_of
from ocrpipe import aws
from ocrpipe.bus import EventPublisher
from ocrpipe.container import Consumer, EventRecord, built_by, is_final_attempt, per_container
from ocrpipe.idempotency import OncePerKey, processing_round
from ocrpipe.links import Links, LinkSettings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="notify")
metrics = Metrics(namespace="ocrpipe", service="notify")

DELIVER_KEY_PREFIX = "notify.deliver"
ANNOUNCE_KEY_PREFIX = "notify.announce"
IDEMPOTENCY_KEY_JMESPATH = "[document_id, outcome, round]"
_LOGGED = {"document_id", "outcome", "channel", "status", "reason"}


def _s3() -> Any:
    return aws.client("s3")


@per_container
def _consumer() -> Consumer:
    settings = Settings()
    ctx = DeliveryContext.from_settings(settings, links=Links(LinkSettings(), s3=_s3))
    publisher = EventPublisher(aws.client("events"), settings.bus_name)
    deliver_step, announce_step = (
        OncePerKey(
            table_name=settings.notify_idempotency_table,
            key_prefix=prefix,
            key_jmespath=IDEMPOTENCY_KEY_JMESPATH,
            data_keyword_argument=argument,
            expires_after_seconds=settings.idempotency_expiry_s,
            metrics=metrics,
            result_model=model,
        )
        for prefix, argument, model in (
            (DELIVER_KEY_PREFIX, "delivery", Delivery),
            (ANNOUNCE_KEY_PREFIX, "record", None),
        )
    )

    @deliver_step
    def deliver_once(*, delivery: dict[str, Any], final_attempt: bool) -> Delivery:
        event = OUTCOME_BY_DETAIL_TYPE[delivery["detail_type"]].model_validate(delivery["detail"])
        done = deliver(event, ctx, final_attempt=final_attempt)
        metrics.add_metric(
            name=f"Notifications{done.status.title()}", unit=MetricUnit.Count, value=1
        )
        log = logger.info if done.status == "sent" else logger.warning
        log(f"notification {done.status}", extra=done.model_dump(include=_LOGGED))
        return done

    @announce_step
    def announce_once(*, record: Delivery) -> dict[str, Any]:
        publisher.publish(published := record.announcement())
        return {"published": published.DETAIL_TYPE}

    def record_handler(record: EventRecord) -> None:
        event = record.body.expect(*OUTCOME_BY_DETAIL_TYPE.values())
        key = {"document_id": event.document_id, "outcome": outcome_of(event)}
        key["round"] = processing_round(record.body, again=event.renotify)
        if event.recipient is None:
            logger.info("no recipient; nothing to send", extra=key)
            metrics.add_metric(name="NothingToSend", unit=MetricUnit.Count, value=1)
            return
        delivered = deliver_once(
            delivery=key
            | {"detail_type": event.DETAIL_TYPE, "detail": event.model_dump(mode="json")},
            final_attempt=is_final_attempt(record, "notify", "notify"),
        )
        announce_once(record=delivered.model_copy(update={"round": key["round"]}))

    return Consumer(record_handler, once=[deliver_step, announce_step])


@built_by(_consumer)
@metrics.log_metrics
def on_outcome(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _consumer()(event, context)
