"""Outcome events for the notify unit tests."""

from __future__ import annotations

from typing import Any

from ocrpipe.events import (
    DocumentRejected,
    OcrFailed,
    OcrFailureReason,
    Recipient,
    RejectionReason,
    WordCount,
    WordsCounted,
)

DOC = "doc-0123456789"
RECIPIENT = Recipient(channel="email", ciphertext="Y2lwaGVy")


def counted(**overrides: Any) -> WordsCounted:
    fields: dict[str, Any] = {
        "document_id": DOC,
        "filename": "scan.jpg",
        "recipient": RECIPIENT,
        "text_uri": "s3://ocrpipe-test-ocr-123456789012-us-east-1/text/x.txt",
        "result_uri": f"s3://ocrpipe-test-wordcount-123456789012-us-east-1/results/{DOC}.json",
        "total_words": 1234,
        "unique_words": 456,
        "top_words": [WordCount(word=f"w{i}", count=100 - i) for i in range(10)],
        "word_rule_version": "1",
    }
    return WordsCounted(**(fields | overrides))


def rejected(**overrides: Any) -> DocumentRejected:
    fields: dict[str, Any] = {
        "document_id": DOC,
        "filename": "notes.jpg",
        "recipient": RECIPIENT,
        "source_uri": f"s3://ocrpipe-test-ingest-123456789012-us-east-1/uploads/{DOC}/notes.jpg",
        "reason_code": RejectionReason.CORRUPT,
        "reason": "notes.jpg looks like a JPEG but cannot be decoded.",
    }
    return DocumentRejected(**(fields | overrides))


def failed(**overrides: Any) -> OcrFailed:
    fields: dict[str, Any] = {
        "document_id": DOC,
        "filename": "blank.png",
        "recipient": RECIPIENT,
        "reason_code": OcrFailureReason.NO_TEXT,
        "reason": "No text was found in the document.",
        "engine": "tesseract",
    }
    return OcrFailed(**(fields | overrides))
