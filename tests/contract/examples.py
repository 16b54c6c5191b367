"""One realistic example of every event, shared by the contract tests."""

from __future__ import annotations

from ocrpipe import events

DOC = "0123456789abcdef0123456789abcdef"
SHA = "a" * 64
RECIPIENT = events.Recipient(channel="email", ciphertext="AQICAHg=")

EXAMPLES: dict[str, events.DomainEvent] = {
    "DocumentUploaded": events.DocumentUploaded(
        document_id=DOC,
        filename="my scan é.jpg",
        recipient=RECIPIENT,
        source_uri=f"s3://ocrpipe-local-ingest-123456789012-us-east-1/uploads/{DOC}/my scan é.jpg",
        content_type="image/jpeg",
        size_bytes=123_456,
        sha256=SHA,
        page_count=1,
    ),
    "DocumentRejected": events.DocumentRejected(
        document_id=DOC,
        filename="notes.jpg",
        source_uri=f"s3://ocrpipe-local-ingest-123456789012-us-east-1/uploads/{DOC}/notes.jpg",
        reason_code=events.RejectionReason.CORRUPT,
        reason="notes.jpg looks like a JPEG but cannot be decoded.",
        size_bytes=10,
    ),
    "OcrCompleted": events.OcrCompleted(
        document_id=DOC,
        text_uri=f"s3://ocrpipe-local-ocr-123456789012-us-east-1/text/{SHA}/x.txt",
        sha256=SHA,
        engine="tesseract",
        engine_version="5.3.0",
        page_count=2,
        mean_confidence=91.5,
        char_count=4200,
    ),
    "OcrFailed": events.OcrFailed(
        document_id=DOC,
        reason_code=events.OcrFailureReason.NO_TEXT,
        reason="No text was found in the document.",
        engine="tesseract",
    ),
    "WordsCounted": events.WordsCounted(
        document_id=DOC,
        text_uri=f"s3://ocrpipe-local-ocr-123456789012-us-east-1/text/{SHA}/x.txt",
        result_uri=f"s3://ocrpipe-local-wordcount-123456789012-us-east-1/results/{DOC}.json",
        total_words=3,
        unique_words=2,
        top_words=[events.WordCount(word="the", count=2), events.WordCount(word="cat", count=1)],
        word_rule_version="1",
    ),
    "WordCountFailed": events.WordCountFailed(
        document_id=DOC,
        reason_code=events.WordCountFailureReason.TEXT_MISSING,
        reason="The document's text is no longer stored, so its words could not be counted.",
        text_uri=f"s3://ocrpipe-local-ocr-123456789012-us-east-1/text/{SHA}/x.txt",
    ),
    "NotificationSent": events.NotificationSent(
        document_id=DOC, channel="email", outcome="counted", message_id="m-1"
    ),
    "NotificationFailed": events.NotificationFailed(
        document_id=DOC, channel="webhook", reason="The webhook answered 410 Gone."
    ),
}
