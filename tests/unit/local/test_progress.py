"""Live progress of the long commands, as it reads off a terminal (a log, CI, a pipe)."""

from __future__ import annotations

import io
from collections import Counter
from datetime import UTC, datetime

from ocrpipe_local.archive import ArchivedEvent
from ocrpipe_local.progress import CountsProgress, DocumentsProgress, QueuesProgress


def archived(doc: str, detail_type: str, **detail: object) -> ArchivedEvent:
    source = {
        "DocumentUploaded": "ocrpipe.ingest",
        "OcrCompleted": "ocrpipe.ocr",
        "WordsCounted": "ocrpipe.wordcount",
        "NotificationSent": "ocrpipe.notify",
    }[detail_type]
    envelope = {
        "source": source,
        "detail-type": detail_type,
        "detail": {"document_id": doc, **detail},
    }
    return ArchivedEvent(
        archived_at=datetime.now(UTC), message_id=f"{doc}-{detail_type}", envelope=envelope
    )


def test_each_document_is_followed_from_upload_to_notification() -> None:
    now = [0.0]
    out = io.StringIO()
    with DocumentsProgress(["a.png", "b.pdf"], out, clock=lambda: now[0]) as progress:
        progress.uploaded("a.png", "doc-a")
        progress.upload_failed("b.pdf")
        now[0] = 2.5
        progress.saw(archived("doc-a", "DocumentUploaded"))
        progress.saw(archived("doc-a", "DocumentUploaded"))  # a duplicate: no new line
        progress.saw(archived("doc-other", "OcrCompleted"))  # not this command's document
        progress.saw(archived("doc-a", "OcrCompleted"))
        progress.saw(archived("doc-a", "WordsCounted", total_words=42))
        progress.saw(archived("doc-a", "NotificationSent", channel="email"))
        progress.saw(archived("doc-a", "WordsCounted", total_words=42))  # late: not back
    assert out.getvalue().splitlines() == [
        "[   0.0 s] a.png: uploaded",
        "[   0.0 s] b.pdf: upload failed",
        "[   2.5 s] a.png: reading the text",
        "[   2.5 s] a.png: counting words",
        "[   2.5 s] a.png: counted: 42 words",
        "[   2.5 s] a.png: notified by email",
    ]
    assert progress.stages == {"a.png": "notified", "b.pdf": "upload failed"}


def test_queues_progress_writes_a_line_only_when_the_numbers_change() -> None:
    out = io.StringIO()
    with QueuesProgress(out) as progress:
        progress.left({"ocr": 3, "wordcount": 0})
        progress.left({"ocr": 3, "wordcount": 0})
        progress.left({"ocr": 1, "wordcount": 2})
        progress.left({"ocr": 0, "wordcount": 0})
    assert out.getvalue().splitlines() == [
        "left in queues: ocr 3",
        "left in queues: ocr 1, wordcount 2",
        "left in queues: nothing",
    ]


def test_counts_progress_off_a_terminal_writes_first_last_and_one_line_per_interval() -> None:
    now = [0.0]
    out = io.StringIO()
    with CountsProgress(4, out, description="backfill", every_s=10, clock=lambda: now[0]) as bar:
        bar.update(0, Counter())
        now[0] = 4
        bar.update(1, Counter(ok=1))  # within 10 s of the last line: none
        now[0] = 12
        bar.update(2, Counter(ok=1, rejected=1))
        now[0] = 13
        bar.update(4, Counter(ok=2, rejected=1, done=1), final=True)
    assert out.getvalue().splitlines() == [
        "backfill 0/4 ok=0 rejected=0 failed=0 skipped=0",
        "backfill 2/4 ok=1 rejected=1 failed=0 skipped=0",
        "backfill 4/4 ok=2 rejected=1 failed=0 skipped=0 earlier=1",
    ]
