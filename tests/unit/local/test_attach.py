"""Finding a running stack through its data directory, and the documents of its archive."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ocrpipe.events import OcrCompleted, WordsCounted
from ocrpipe_local import attach, documents
from ocrpipe_local.archive import ArchivedEvent

SHA = "c" * 64


def info(**overrides: object) -> attach.RuntimeInfo:
    fields: dict[str, object] = {
        "pid": 4242,
        "api_url": "http://127.0.0.1:1",
        "endpoint_url": "http://127.0.0.1:2",
        "stage": "local",
        "started_at": time.time(),
    }
    fields.update(overrides)
    return attach.RuntimeInfo(**fields)  # type: ignore[arg-type]


def find_from_another_process(data: Path) -> str:
    code = (
        "import sys; from pathlib import Path; from ocrpipe_local import attach; "
        "i = attach.find_running(Path(sys.argv[1])); print(i.api_url if i else 'none')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(data)], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_claimed_directory_is_found_by_other_processes_until_released(tmp_path: Path) -> None:
    assert attach.find_running(tmp_path) is None
    claim = attach.Claim(tmp_path)
    claim.publish(info(api_url="http://127.0.0.1:5555"))
    assert find_from_another_process(tmp_path) == "http://127.0.0.1:5555"
    with pytest.raises(attach.AlreadyRunningError, match="pid 4242"):
        attach.Claim(tmp_path)
    claim.release()
    assert find_from_another_process(tmp_path) == "none"
    assert not (tmp_path / attach.RUNTIME_FILE).exists()


def test_a_runtime_file_nobody_holds_is_stale(tmp_path: Path) -> None:
    """What a stack killed with SIGKILL leaves behind: the file, but no lock."""
    claim = attach.Claim(tmp_path)
    claim.publish(info())
    (tmp_path / attach.RUNTIME_FILE).rename(tmp_path / "kept.json")
    claim.release()
    (tmp_path / "kept.json").rename(tmp_path / attach.RUNTIME_FILE)
    assert find_from_another_process(tmp_path) == "none"


def archived(event: OcrCompleted | WordsCounted, at: datetime) -> ArchivedEvent:
    envelope = {
        "source": event.SOURCE,
        "detail-type": event.DETAIL_TYPE,
        "detail": event.model_dump(mode="json"),
    }
    return ArchivedEvent(at, f"m-{event.DETAIL_TYPE}-{event.document_id}", envelope)


def test_documents_fold_their_archived_events_newest_first(tmp_path: Path) -> None:
    t0 = datetime(2026, 12, 1, 12, tzinfo=UTC)

    def ocr(doc: str, at: datetime) -> OcrCompleted:
        return OcrCompleted(
            document_id=doc,
            occurred_at=at,
            text_uri="s3://bucket-name/t.txt",
            sha256=SHA,
            engine="tesseract",
            page_count=1,
            mean_confidence=90.0,
            char_count=10,
        )

    counted = WordsCounted(
        document_id="doc00000001",
        occurred_at=t0 + timedelta(seconds=2),
        text_uri="s3://bucket-name/t.txt",
        result_uri="s3://bucket-name/r.json",
        total_words=3,
        unique_words=2,
        top_words=[{"word": "the", "count": 2}, {"word": "cat", "count": 1}],
        word_rule_version="2",
    )
    lines = [
        archived(ocr("doc00000001", t0), t0),
        archived(counted, t0),
        archived(counted, t0),  # a duplicate delivery changes nothing
        archived(ocr("doc00000002", t0 + timedelta(minutes=1)), t0),
    ]
    (tmp_path / "archive.jsonl").write_text("".join(a.to_json() + "\n" for a in lines))
    views = documents.load(tmp_path)
    assert [v.status.document_id for v in views] == ["doc00000002", "doc00000001"]
    first = views[1]
    assert first.status.stage == "counted"
    assert first.status.total_words == 3
    assert first.top_words == [("the", 2), ("cat", 1)]
    assert views[0].status.stage == "ocr_completed"
    assert views[0].status.total_words is None
