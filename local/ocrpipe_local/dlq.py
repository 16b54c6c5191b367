"""``ocrpipe dlq``: what is in the running stack's dead-letter queues, and moving it back.

A message reaches a consumer's DLQ only after ``max_receive_count`` failed deliveries -- a bug
or an outage, never bad input (that becomes a failure event). After the fix, redriving puts
each message back on its consumer's queue; handlers are idempotent, so a message that was
partly handled before is safe to deliver again. On AWS this is ``StartMessageMoveTask``; moto
does not implement it, so locally the messages are moved one batch at a time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

#: Most messages looked at per queue when listing.
PEEK_LIMIT = 100


@dataclass(frozen=True)
class DeadLetter:
    message_id: str
    detail_type: str
    document_id: str
    receive_count: int


def _describe(message: dict[str, Any]) -> DeadLetter:
    try:
        envelope = json.loads(message.get("Body", ""))
    except ValueError:
        envelope = {}
    if not isinstance(envelope, dict):
        envelope = {}
    detail = envelope.get("detail") if isinstance(envelope.get("detail"), dict) else {}
    return DeadLetter(
        message_id=str(message.get("MessageId", "")),
        detail_type=str(envelope.get("detail-type", "?")),
        document_id=str((detail or {}).get("document_id", "?")),
        receive_count=int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
    )


def peek(sqs: Any, dlq_url: str, limit: int = PEEK_LIMIT) -> list[DeadLetter]:
    """The messages of a DLQ, left where they are (received with no visibility timeout)."""
    seen: dict[str, DeadLetter] = {}
    for _ in range(max(1, limit // 10) * 2):
        response = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            VisibilityTimeout=0,
            WaitTimeSeconds=0,
            AttributeNames=["ApproximateReceiveCount"],
        )
        messages = response.get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen[message["MessageId"]] = _describe(message)
        if len(seen) >= limit:
            break
    return list(seen.values())


def redrive(sqs: Any, dlq_url: str, queue_url: str) -> int:
    """Move every message of ``dlq_url`` back to ``queue_url``; how many were moved."""
    moved = 0
    while True:
        response = sqs.receive_message(
            QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60, WaitTimeSeconds=0
        )
        messages = response.get("Messages", [])
        if not messages:
            return moved
        sent = sqs.send_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "MessageBody": m["Body"]} for i, m in enumerate(messages)],
        )
        ok = {int(e["Id"]) for e in sent.get("Successful", [])}
        done = [m for i, m in enumerate(messages) if i in ok]
        if done:
            sqs.delete_message_batch(
                QueueUrl=dlq_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        moved += len(done)
        if len(done) < len(messages):
            failed = sent.get("Failed", [])
            raise RuntimeError(f"{len(failed)} message(s) could not be sent back: {failed[:3]}")
