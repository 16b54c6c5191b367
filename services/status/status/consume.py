"""Folding one message of status's queue into the read model: what to keep, what to drop.

Status consumes every ``ocrpipe.*`` event, including kinds newer than this code. A message is
dropped (logged, never retried: retrying cannot change it) when it is not an EventBridge
envelope, is an event type status does not track, or breaks its contract; otherwise it is
applied to the document's record. Transient storage errors raise, so the queue retries.
"""

from __future__ import annotations

from typing import Literal

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from ocrpipe.envelope import Envelope, UnknownEventError
from status.store import StatusStore

logger = Logger(service="status", child=True)

Folded = Literal["EventsApplied", "IgnoredEvents", "InvalidEvents", "UnreadableEvents"]


def fold_message(store: StatusStore, body: str, *, message_id: str) -> Folded:
    """Apply the event in one SQS message body; what became of it (a metric's name)."""
    try:
        envelope = Envelope.from_sqs_body(body)
    except ValueError:  # not JSON, or not an EventBridge envelope
        logger.error("dropping a message that is not an event envelope", extra={"id": message_id})
        return "UnreadableEvents"
    try:
        event = envelope.domain_event()
    except UnknownEventError:  # a newer event type than this code knows: not ours to judge
        logger.info(
            "ignoring an event type status does not track",
            extra={"source": envelope.source, "detail_type": envelope.detail_type},
        )
        return "IgnoredEvents"
    except ValidationError as error:  # a producer broke its contract
        logger.error(
            "dropping an event that breaks its contract",
            extra={
                "detail_type": envelope.detail_type,
                "errors": [e["loc"] for e in error.errors()],
            },
        )
        return "InvalidEvents"
    status = store.apply(event)
    logger.debug(
        "applied",
        extra={
            "document_id": event.document_id,
            "detail_type": envelope.detail_type,
            "stage": status.stage.value,
        },
    )
    return "EventsApplied"
