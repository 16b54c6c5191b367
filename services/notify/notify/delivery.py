"""Delivering one outcome to the person: decrypt the address, send, say how it went.

:func:`deliver` returns a record of what happened (:class:`Delivery`, kept by the
idempotency layer, so it must not contain the address) or raises a transient error for the
queue to retry; :meth:`Delivery.announcement` is the ``NotificationSent`` or
``NotificationFailed`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from notify import mail, messages, webhook
from notify.errors import PermanentDeliveryError, TransientDeliveryError
from notify.outcomes import outcome_of, summary
from notify.recipients import check_email_address, decrypt_address, webhook_destination
from ocrpipe import aws
from ocrpipe.events import (
    NotificationFailed,
    NotificationSent,
    OutcomeEvent,
    OutcomeName,
    WordsCounted,
)
from ocrpipe.links import Links
from ocrpipe.storage import S3Location

if TYPE_CHECKING:
    from pathlib import Path

    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient

    from notify.config import Settings

RESULT_GONE_NOTE = "The full count is no longer available to attach."


@dataclass(frozen=True)
class DeliveryContext:
    """What a delivery needs besides the event (clients and settings)."""

    kms: KMSClient
    ses: SESClient
    s3: S3Client
    sender_email: str
    webhook_secret: str
    outbox_dir: Path | None = None
    local_mode: bool = False
    #: Makes the links a webhook delivery carries to the results (``ocrpipe.links``).
    links: Links | None = None

    @classmethod
    def from_settings(cls, settings: Settings, *, links: Links | None = None) -> DeliveryContext:
        return cls(
            kms=aws.client("kms"),
            ses=aws.client("ses"),
            s3=aws.client("s3"),
            sender_email=settings.sender_email,
            webhook_secret=settings.webhook_secret.get_secret_value(),
            outbox_dir=settings.outbox_dir,
            local_mode=settings.local_mode,
            links=links,
        )


def delivery_id(event: OutcomeEvent) -> str:
    """Stable per document and outcome: the same on every retry and replay."""
    return f"{event.document_id}.{outcome_of(event)}"


def read_result(s3: S3Client, uri: str) -> bytes | None:
    """The result JSON wordcount wrote, or None if it is gone."""
    location = S3Location.parse(uri)
    try:
        return s3.get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
    except ClientError as exc:
        if aws.is_not_found(exc):
            return None
        raise


def send_email(event: OutcomeEvent, address: str, ctx: DeliveryContext) -> str:
    to = check_email_address(address)
    result_json = None
    note = ""
    if isinstance(event, WordsCounted):
        result_json = read_result(ctx.s3, event.result_uri)
        note = RESULT_GONE_NOTE if result_json is None else ""
    message = messages.build_email(
        event, sender=ctx.sender_email, to=to, result_json=result_json, missing_note=note
    )
    outbox = None
    if ctx.outbox_dir is not None:
        outbox = mail.outbox_path(ctx.outbox_dir, event.document_id, outcome_of(event))
    return mail.send_and_keep(
        ctx.ses, sender=ctx.sender_email, to=to, raw=messages.to_bytes(message), outbox=outbox
    )


def send_webhook(event: OutcomeEvent, address: str, ctx: DeliveryContext) -> str:
    destination = webhook_destination(address, local_mode=ctx.local_mode)
    identifier = delivery_id(event)
    body = summary(event)
    if isinstance(event, WordsCounted) and ctx.links is not None:
        made = ctx.links.for_document(
            event.document_id,
            event.filename,
            {
                "text.txt": event.text_uri,
                "counts.json": event.result_uri,
                "counts.csv": event.result_csv_uri,
            },
        )
        body |= {"links": made.links, "links_expire_at": made.expires_at}
    request = webhook.signed_request(body, secret=ctx.webhook_secret, delivery_id=identifier)
    webhook.post(destination, request)
    return identifier


class Delivery(BaseModel):
    """What notify did for one outcome. The idempotency layer keeps it (so a duplicate is
    answered with it): it never holds the address."""

    model_config = ConfigDict(frozen=True)

    document_id: str
    filename: str = ""
    outcome: OutcomeName
    channel: Literal["email", "webhook"]
    status: Literal["sent", "failed"]
    message_id: str = ""
    reason: str = ""
    #: The processing round (empty unless replayed with ``--renotify``).
    round: str = ""

    def announcement(self) -> NotificationSent | NotificationFailed:
        """The event that says how it went."""
        common = {"document_id": self.document_id, "filename": self.filename}
        if self.status == "sent":
            return NotificationSent(
                channel=self.channel, outcome=self.outcome, message_id=self.message_id, **common
            )
        return NotificationFailed(channel=self.channel, reason=self.reason, **common)


def deliver(event: OutcomeEvent, ctx: DeliveryContext, *, final_attempt: bool = False) -> Delivery:
    """Tell the person; the record of it. Transient failures raise, except on the queue's
    last delivery: then the failure is recorded (and announced as ``NotificationFailed``, so
    the document's status says it), instead of the message going silently to the DLQ."""
    recipient = event.recipient
    if recipient is None:
        raise ValueError("nothing to deliver: the event has no recipient")
    record = {
        "document_id": event.document_id,
        "filename": event.filename,
        "outcome": outcome_of(event),
        "channel": recipient.channel,
    }
    try:
        address = decrypt_address(ctx.kms, recipient, document_id=event.document_id)
        if recipient.channel == "email":
            message_id = send_email(event, address, ctx)
        else:
            message_id = send_webhook(event, address, ctx)
    except PermanentDeliveryError as exc:
        return Delivery.model_validate(record | {"status": "failed", "reason": exc.reason})
    except TransientDeliveryError as exc:
        if not final_attempt:
            raise
        reason = f"{exc} Gave up after the last attempt."
        return Delivery.model_validate(record | {"status": "failed", "reason": reason})
    return Delivery.model_validate(record | {"status": "sent", "message_id": message_id})
