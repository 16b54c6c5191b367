"""Events of one document's life, with explicit times, for the status tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from ocrpipe import events

DOC = "doc-0123456789abcdef"
TOKEN = "s3cr3t-capability-token"
TOKEN_SHA = hashlib.sha256(TOKEN.encode()).hexdigest()
SHA = "b" * 64
T0 = datetime(2026, 11, 24, 9, 0, 0, tzinfo=UTC)
TEXT = f"s3://ocrpipe-test-ocr-123456789012-us-east-1/text/{SHA}.txt"
RESULT = f"s3://ocrpipe-test-wordcount-123456789012-us-east-1/results/{DOC}.json"
RECIPIENT = events.Recipient(channel="email", ciphertext="Q0lQSEVSVEVYVC1OT1QtQS1SRUFMLUFERFJFU1M=")


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def uploaded(t: float = 0, doc: str = DOC, **kw: object) -> events.DocumentUploaded:
    fields: dict[str, object] = {
        "document_id": doc,
        "occurred_at": at(t),
        "filename": "my scan é.jpg",
        "recipient": RECIPIENT,
        "access_token_sha256": TOKEN_SHA,
        "source_uri": f"s3://ocrpipe-test-ingest-123456789012-us-east-1/uploads/{doc}/x.jpg",
        "content_type": "image/jpeg",
        "size_bytes": 1234,
        "sha256": SHA,
        "page_count": 1,
    }
    return events.DocumentUploaded.model_validate(fields | kw)


def rejected(t: float = 0, doc: str = DOC) -> events.DocumentRejected:
    return events.DocumentRejected(
        document_id=doc,
        occurred_at=at(t),
        filename="notes.jpg",
        recipient=RECIPIENT,
        access_token_sha256=TOKEN_SHA,
        source_uri=f"s3://ocrpipe-test-ingest-123456789012-us-east-1/uploads/{doc}/notes.jpg",
        reason_code=events.RejectionReason.CORRUPT,
        reason="notes.jpg looks like a JPEG but cannot be decoded.",
        size_bytes=10,
    )


def ocr_completed(t: float = 1, doc: str = DOC, text_uri: str = TEXT) -> events.OcrCompleted:
    return events.OcrCompleted(
        document_id=doc,
        occurred_at=at(t),
        recipient=RECIPIENT,
        text_uri=text_uri,
        sha256=SHA,
        engine="tesseract",
        page_count=1,
        mean_confidence=90.0,
        char_count=42,
    )


def ocr_failed(t: float = 1, doc: str = DOC) -> events.OcrFailed:
    return events.OcrFailed(
        document_id=doc,
        occurred_at=at(t),
        recipient=RECIPIENT,
        reason_code=events.OcrFailureReason.NO_TEXT,
        reason="No text was found in the document.",
        engine="tesseract",
    )


def counted(
    t: float = 2, doc: str = DOC, total: int = 7, text_uri: str = TEXT
) -> events.WordsCounted:
    return events.WordsCounted(
        document_id=doc,
        occurred_at=at(t),
        recipient=RECIPIENT,
        text_uri=text_uri,
        result_uri=RESULT,
        total_words=total,
        unique_words=5,
        top_words=[events.WordCount(word="the", count=3)],
        word_rule_version="1",
    )


def count_failed(t: float = 2, doc: str = DOC) -> events.WordCountFailed:
    return events.WordCountFailed(
        document_id=doc,
        occurred_at=at(t),
        recipient=RECIPIENT,
        reason_code=events.WordCountFailureReason.TEXT_MISSING,
        reason="The document's text is no longer stored, so its words could not be counted.",
        text_uri=TEXT,
    )


def notified(t: float = 3, doc: str = DOC, outcome: str = "counted") -> events.NotificationSent:
    return events.NotificationSent.model_validate(
        {
            "document_id": doc,
            "occurred_at": at(t),
            "channel": "email",
            "outcome": outcome,
            "message_id": "m-1",
        }
    )


def notification_failed(t: float = 3, doc: str = DOC) -> events.NotificationFailed:
    return events.NotificationFailed(
        document_id=doc,
        occurred_at=at(t),
        channel="webhook",
        reason="The webhook answered 410 Gone.",
    )
