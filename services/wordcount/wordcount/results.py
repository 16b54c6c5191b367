"""The result document wordcount writes for each document, and the event announcing it.

The result lives in the wordcount bucket at ``results/<document_id>.json``::

    {"document_id": "...", "filename": "scan.jpg", "text_uri": "s3://...",
     "word_rule_version": "2", "total_words": 1234, "unique_words": 456,
     "characters": 7890, "language": "en",
     "pages": [{"number": 1, "word_count": 1230, "mean_confidence": 93.1, "source": "ocr"}, ...],
     "warnings": ["Page 3 of 3: no text was found there ..."],
     "counts": {"the": 52, "and": 31, ...}}

``language``, ``pages`` (the engine's words per page) and ``warnings`` come from the
``OcrCompleted`` event, so a page that could not be read is visible in the result.

``counts`` keeps the rule's order (count descending, then word ascending); the JSON is UTF-8
with non-ASCII words written as they are (``ensure_ascii=False``).

The same counts are also at ``results/<document_id>.csv``, for spreadsheets: a ``word,count``
header, then one row per word in the same order (RFC 4180 quoting, UTF-8 with a byte-order
mark, so Excel reads accents right; LibreOffice and Python's ``csv`` ignore it).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from ocrpipe.events import OcrCompleted, WordCount, WordsCounted
from ocrpipe.words import WORD_RULE_VERSION, WordCounts

RESULT_PREFIX = "results/"
RESULT_CONTENT_TYPE = "application/json; charset=utf-8"
CSV_CONTENT_TYPE = "text/csv; charset=utf-8"
TOP_WORDS = 10
#: Longest word carried in the event's ``top_words`` (the result file has every word whole).
#: A "word" is a run of non-space characters, so a text without spaces can make one that is
#: kilobytes long; ten of those must not push the event over its size limit.
MAX_EVENT_WORD_CHARS = 100


def result_key(document_id: str) -> str:
    return f"{RESULT_PREFIX}{document_id}.json"


def csv_key(document_id: str) -> str:
    return f"{RESULT_PREFIX}{document_id}.csv"


def encode_csv(counts: WordCounts) -> bytes:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["word", "count"])
    writer.writerows(counts.counts)
    return buffer.getvalue().encode("utf-8-sig")


def result_document(completed: OcrCompleted, counts: WordCounts) -> dict[str, Any]:
    return {
        "document_id": completed.document_id,
        "filename": completed.filename,
        "text_uri": completed.text_uri,
        "word_rule_version": WORD_RULE_VERSION,
        "total_words": counts.total,
        "unique_words": counts.unique,
        "characters": counts.characters,
        "language": completed.language,
        "pages": [page.model_dump(mode="json") for page in completed.pages],
        "warnings": list(completed.warnings),
        "counts": dict(counts.counts),
    }


def encode_result(document: dict[str, Any]) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def words_counted(
    completed: OcrCompleted, counts: WordCounts, result_uri: str, csv_uri: str | None = None
) -> WordsCounted:
    """The event for downstream: a summary, the results' URIs, the recipient forwarded."""
    return WordsCounted(
        document_id=completed.document_id,
        filename=completed.filename,
        recipient=completed.recipient,
        text_uri=completed.text_uri,
        result_uri=result_uri,
        result_csv_uri=csv_uri,
        total_words=counts.total,
        unique_words=counts.unique,
        characters=counts.characters,
        top_words=[WordCount(word=_shorten(w), count=c) for w, c in counts.top(TOP_WORDS)],
        word_rule_version=WORD_RULE_VERSION,
        language=completed.language,
        warnings=completed.warnings,
    )


def _shorten(word: str) -> str:
    if len(word) <= MAX_EVENT_WORD_CHARS:
        return word
    return word[: MAX_EVENT_WORD_CHARS - 1] + "\u2026"
