"""What a consumer Lambda is handed, for tests: EventBridge envelope bodies, SQS events, context.

The SQS records and the context come from the local runtime (``ocrpipe_local.lambda_events``),
so tests feed handlers exactly the shape the runtime (and AWS Lambda) does.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

from ocrpipe.events import DomainEvent
from ocrpipe_local.lambda_events import LocalLambdaContext, sqs_lambda_event

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
ENVELOPE_TIME = "2026-01-01T00:00:00Z"
SENT_TIMESTAMP = "1767225600000"  # ENVELOPE_TIME in epoch milliseconds


def queue_arn(name: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:sqs:{region}:{account}:{name}"


DEFAULT_QUEUE_ARN = queue_arn("ocrpipe-test-queue")


def envelope_body(
    event: DomainEvent,
    *,
    event_id: str | None = None,
    replay_name: str | None = None,
    time: str = ENVELOPE_TIME,
    account: str | None = None,
) -> str:
    """The SQS message body EventBridge delivers for ``event``.

    Without ``account`` it is what moto delivers (moto omits the field).
    """
    envelope: dict[str, Any] = {
        "version": "0",
        "id": event_id or str(uuid.uuid4()),
        "detail-type": event.DETAIL_TYPE,
        "source": event.SOURCE,
        "time": time,
        "region": REGION,
        "resources": [],
        "detail": event.model_dump(mode="json"),
    }
    if account is not None:
        envelope["account"] = account
    if replay_name is not None:
        envelope["replay-name"] = replay_name
    return json.dumps(envelope)


def sqs_event(
    *bodies: str, receive_count: int = 1, queue_arn: str = DEFAULT_QUEUE_ARN
) -> dict[str, Any]:
    """The Lambda SQS event for one message per body, each with its own message id."""
    messages = [
        {
            "MessageId": str(uuid.uuid4()),
            "ReceiptHandle": f"rh-{uuid.uuid4().hex}",
            "Body": body,
            "Attributes": {
                "ApproximateReceiveCount": str(receive_count),
                "SentTimestamp": SENT_TIMESTAMP,
                "SenderId": "events.amazonaws.com",
                "ApproximateFirstReceiveTimestamp": SENT_TIMESTAMP,
            },
        }
        for body in bodies
    ]
    return received_event(messages, queue_arn=queue_arn)


def received_event(
    messages: Sequence[Mapping[str, Any]], *, queue_arn: str = DEFAULT_QUEUE_ARN
) -> dict[str, Any]:
    """The Lambda SQS event for messages really received (``ReceiveMessage``) from a queue."""
    return sqs_lambda_event(messages, queue_arn=queue_arn, region=queue_arn.split(":")[3])


def lambda_context(function_name: str, *, timeout_s: float = 600.0) -> LocalLambdaContext:
    """A fresh Lambda context (new request id; remaining time counts down from now)."""
    return LocalLambdaContext(function_name, timeout_s=timeout_s, account=ACCOUNT, region=REGION)


def drain_messages(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """Receive and delete every message waiting in a (capture) queue."""
    messages: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not batch:
            return messages
        for message in batch:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages.extend(batch)


def drain_bodies(sqs: Any, queue_url: str) -> list[dict[str, Any]]:
    """The JSON bodies (e.g. EventBridge envelopes) of every message waiting in a queue."""
    return [json.loads(m["Body"]) for m in drain_messages(sqs, queue_url)]
