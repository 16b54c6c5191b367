"""What notify tells a person: the outcome of their document, in words and as data.

Four pipeline events end a document's journey and each has an outcome:

====================  ============  ==========================================
event                 outcome       what the person learns
====================  ============  ==========================================
``WordsCounted``      ``counted``   the totals, the top words, the full count
``DocumentRejected``  ``rejected``  why the upload was refused, what to do
``OcrFailed``         ``failed``    why the text could not be read, what to do
``WordCountFailed``   ``failed``    why the words could not be counted, what to do
====================  ============  ==========================================
"""

from __future__ import annotations

import unicodedata
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

from ocrpipe.events import (
    OUTCOME_EVENTS,
    DocumentRejected,
    OcrFailed,
    OcrFailureReason,
    OutcomeEvent,
    OutcomeName,
    RejectionReason,
    WordCountFailed,
    WordCountFailureReason,
    WordsCounted,
)

#: The outcome events notify consumes, by detail-type.
OUTCOME_BY_DETAIL_TYPE: dict[str, type[OutcomeEvent]] = {e.DETAIL_TYPE: e for e in OUTCOME_EVENTS}
FailureEvent = DocumentRejected | OcrFailed | WordCountFailed

#: Longest file name shown in a subject or body.
MAX_DISPLAY_CHARS = 80

REJECTION_ADVICE: dict[RejectionReason, str] = {
    RejectionReason.EMPTY_FILE: "The file arrived empty. Check that it opens on your device "
    "and upload it again.",
    RejectionReason.TOO_LARGE: "Make the file smaller (scan at 300 dpi, or split a long PDF) "
    "and upload it again.",
    RejectionReason.UNSUPPORTED_TYPE: "Upload a JPEG, PNG, TIFF or PDF file.",
    RejectionReason.CONTENT_TYPE_MISMATCH: "The file's contents do not match its type. Save "
    "or export it again as JPEG, PNG, TIFF or PDF and upload that copy.",
    RejectionReason.CORRUPT: "The file seems damaged. Open it on your device, save or export "
    "it again, and upload the new copy.",
    RejectionReason.DECOMPRESSION_BOMB: "The image is far too large once decoded. Scan or "
    "export it at a lower resolution and upload it again.",
    RejectionReason.TOO_MANY_PAGES: "Split the document into smaller parts and upload them "
    "one at a time.",
    RejectionReason.UNKNOWN_UPLOAD: "The upload was not expected (its link may have "
    "expired). Ask for a new upload link and try again.",
    RejectionReason.LARGER_THAN_DECLARED: "Ask for a new upload link with the file's real "
    "size (size_bytes) and send exactly that file.",
    RejectionReason.UPLOAD_EXPIRED: "Upload links are short-lived: ask for a new one and "
    "send the file right away.",
}

FAILURE_ADVICE: dict[OcrFailureReason, str] = {
    OcrFailureReason.UNREADABLE: "The file could not be opened to read it. Export it again "
    "as PDF, PNG or JPEG and upload it.",
    OcrFailureReason.NO_TEXT: "No text was found. Make sure the page is in focus, well lit "
    "and upright, and that it contains printed text, then upload a new photo or scan.",
    OcrFailureReason.ENGINE_ERROR: "Our text reader failed on this document. Please try "
    "again later; if it keeps failing, contact us with the document id below.",
    OcrFailureReason.TOO_LARGE: "The document is over the reader's limits. Split it, or "
    "scan it at a lower resolution, and upload it again.",
    OcrFailureReason.UNSUPPORTED: "This kind of document cannot be read. Upload a JPEG, PNG, "
    "TIFF or PDF file.",
}

COUNT_FAILURE_ADVICE: dict[WordCountFailureReason, str] = {
    WordCountFailureReason.TEXT_MISSING: "Upload the document again to have it read and "
    "counted anew.",
    WordCountFailureReason.UNAVAILABLE: "Please try again later; if it keeps failing, contact "
    "us with the document id below.",
}

GENERIC_ADVICE = "Please check the document and upload it again."


def outcome_of(event: OutcomeEvent) -> OutcomeName:
    return event.OUTCOME


def _printable(text: str) -> str:
    """One line of text: controls and separators become spaces, invisible format characters
    (such as the right-to-left override U+202E) are dropped, runs of spaces are collapsed."""
    kept = []
    for ch in text:
        category = unicodedata.category(ch)
        if category == "Cc" or category[0] == "Z":
            kept.append(" ")
        elif category[0] != "C":
            kept.append(ch)
    return " ".join("".join(kept).split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _base_name(filename: str) -> str:
    return PureWindowsPath(PurePosixPath(filename).name).name


def display_name(event: OutcomeEvent) -> str:
    """The file name as shown to the person: one line, no path, at most 80 characters."""
    name = _printable(_base_name(event.filename))
    return _shorten(name, MAX_DISPLAY_CHARS) if name else f"document {event.document_id}"


def attachment_name(event: OutcomeEvent) -> str:
    """``<stem>.words.json`` for the file name (``scan.jpg`` -> ``scan.words.json``)."""
    name = _printable(_base_name(event.filename))
    stem = PurePosixPath(name).stem.strip(" .") if name else ""
    stem = stem.replace('"', "").replace("\\", "")
    return f"{_shorten(stem, MAX_DISPLAY_CHARS) or event.document_id}.words.json"


def advice(event: FailureEvent) -> str:
    if isinstance(event, DocumentRejected):
        return REJECTION_ADVICE.get(event.reason_code, GENERIC_ADVICE)
    if isinstance(event, WordCountFailed):
        return COUNT_FAILURE_ADVICE.get(event.reason_code, GENERIC_ADVICE)
    return FAILURE_ADVICE.get(event.reason_code, GENERIC_ADVICE)


def summary(event: OutcomeEvent) -> dict[str, Any]:
    """The outcome as data (the webhook's JSON body). Carries no personal data."""
    data: dict[str, Any] = {
        "document_id": event.document_id,
        "outcome": outcome_of(event),
        "filename": event.filename,
        "occurred_at": event.occurred_at.isoformat(),
    }
    if isinstance(event, WordsCounted):
        data |= {
            "total_words": event.total_words,
            "unique_words": event.unique_words,
            "top_words": [{"word": w.word, "count": w.count} for w in event.top_words],
            "word_rule_version": event.word_rule_version,
            "language": event.language,
            "warnings": event.warnings,
        }
    else:
        data |= {
            "reason_code": str(event.reason_code),
            "reason": event.reason,
            "advice": advice(event),
        }
    return data
