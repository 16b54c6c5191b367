"""CLI pieces that need no stack: input expansion, content types, outcomes, the table."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ocrpipe.events import DocumentRejected, OcrCompleted, WordsCounted
from ocrpipe_local.archive import ArchivedEvent, document_is_done, read_archive
from ocrpipe_local.cli import build_parser
from ocrpipe_local.cli.common import parse_csv_args
from ocrpipe_local.cli.process import (
    DocumentOutcome,
    UsageError,
    apply_events,
    expand_paths,
    guess_content_type,
    print_table,
)
from ocrpipe_local.discovery import discover
from ocrpipe_local.provision import ARCHIVE_CONSUMER
from ocrpipe_local.stack import default_workers

SHA = "b" * 64


def _archived(event) -> ArchivedEvent:
    envelope = {
        "id": "x",
        "source": event.SOURCE,
        "detail-type": event.DETAIL_TYPE,
        "detail": event.model_dump(mode="json"),
    }
    return ArchivedEvent(datetime.now(UTC), "mid-" + event.DETAIL_TYPE, envelope)


@pytest.mark.parametrize(
    ("head", "name", "expected"),
    [
        (b"\xff\xd8\xff\xe0", "x.png", "image/jpeg"),  # bytes win over a wrong extension
        (b"\x89PNG\r\n\x1a\n", "x", "image/png"),
        (b"II*\x00", "x.tif", "image/tiff"),
        (b"MM\x00*", "x.tif", "image/tiff"),
        (b"%PDF-1.7", "x.pdf", "application/pdf"),
        (b"hello", "notes.txt", "text/plain"),
        (b"", "empty.png", "image/png"),
        (b"\x00\x01", "blob", "application/octet-stream"),
    ],
)
def test_content_type_from_magic_then_extension(head, name, expected):
    assert guess_content_type(Path(name), head) == expected


def test_directories_expand_to_supported_files_sorted(tmp_path):
    (tmp_path / "b.png").write_bytes(b"x")
    (tmp_path / "a scan é.JPG").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("x")
    (tmp_path / "truth").mkdir()
    (tmp_path / "truth" / "b.txt").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.pdf").write_bytes(b"x")
    explicit = tmp_path / "notes.txt"
    found = expand_paths([str(tmp_path), str(explicit)])
    names = [p.relative_to(tmp_path).as_posix() for p in found]
    assert names == ["a scan é.JPG", "b.png", "sub/c.pdf", "notes.txt"]


def test_missing_paths_and_empty_dirs_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        expand_paths([str(tmp_path / "nope.png")])
    with pytest.raises(UsageError, match="no supported files"):
        expand_paths([str(tmp_path)])


def test_outcome_from_events():
    outcome = DocumentOutcome(path=Path("scan.png"), document_id="doc12345678")
    ocr = OcrCompleted(
        document_id="doc12345678",
        text_uri="s3://bucket-name/t.txt",
        sha256=SHA,
        engine="tesseract",
        page_count=1,
        mean_confidence=91.5,
        char_count=10,
        cached=True,
    )
    counted = WordsCounted(
        document_id="doc12345678",
        text_uri="s3://bucket-name/t.txt",
        result_uri="s3://bucket-name/r.json",
        total_words=3,
        unique_words=2,
        top_words=[{"word": "the", "count": 2}, {"word": "cat", "count": 1}],
        word_rule_version="1",
    )
    events = [_archived(ocr), _archived(counted)]
    assert document_is_done(events, needs_notification=False)
    assert not document_is_done(events, needs_notification=True)
    assert not document_is_done(events[:1], needs_notification=False)
    apply_events(outcome, events)
    assert outcome.status == "counted"
    assert outcome.ok
    assert outcome.cached is True
    assert outcome.top_words == [("the", 2), ("cat", 1)]
    assert outcome.to_json()["events"] == ["OcrCompleted", "WordsCounted"]


def test_rejection_reason_is_printed():
    outcome = DocumentOutcome(path=Path("empty.png"), document_id="doc12345678")
    rejected = DocumentRejected(
        document_id="doc12345678",
        source_uri="s3://bucket-name/uploads/doc12345678/empty.png",
        reason_code="empty_file",
        reason="The file is empty (0 bytes).",
    )
    apply_events(outcome, [_archived(rejected)])
    assert outcome.status == "rejected"
    assert not outcome.ok
    out = io.StringIO()
    print_table([outcome], out)
    text = out.getvalue()
    assert "empty.png" in text
    assert "rejected" in text
    assert "The file is empty (0 bytes)." in text


def test_archive_lines_round_trip(tmp_path):
    event = _archived(
        DocumentRejected(
            document_id="doc12345678",
            source_uri="s3://bucket-name/k",
            reason_code="corrupt",
            reason="broken",
        )
    )
    path = tmp_path / "archive.jsonl"
    path.write_text(event.to_json() + "\n" + '{"torn', encoding="utf-8")
    [back] = read_archive(path)
    assert back == event
    assert isinstance(back.event(), DocumentRejected)
    assert back.document_id == "doc12345678"


def test_default_workers_one_per_core_for_ocr(monkeypatch):
    monkeypatch.setattr("os.cpu_count", lambda: 2)
    workers = default_workers(discover())
    assert workers["ocr"] == 2
    assert all(n == 1 for name, n in workers.items() if name != "ocr")
    assert set(workers) == set(discover().consumers)
    assert ARCHIVE_CONSUMER not in workers


def test_parser_rejects_email_and_webhook_together():
    parser = build_parser()
    args = parser.parse_args(["process", "a.png", "--email", "x@example.com"])
    assert args.email == "x@example.com"
    assert args.state_dir == ".ocrpipe"
    with pytest.raises(SystemExit):
        parser.parse_args(["process", "a.png", "--email", "x@example.com", "--webhook", "u"])


def test_process_takes_one_of_the_six_languages_or_detects():
    parser = build_parser()
    assert parser.parse_args(["process", "a.png"]).lang is None
    assert parser.parse_args(["process", "a.png", "--lang", "pt"]).lang == "pt"
    with pytest.raises(SystemExit):
        parser.parse_args(["process", "a.png", "--lang", "klingon"])


def test_output_names_fit_a_file_name_and_stay_apart(tmp_path):
    """A 255-byte input name was e-mailed, then its outputs could not be written."""
    from ocrpipe_local.cli.process import NAME_MAX_BYTES, OUTPUT_SUFFIX, output_stem

    long_a = "é" * 120 + "a"  # 241 bytes
    long_b = "é" * 120 + "b"
    a = output_stem(long_a, set())
    b = output_stem(long_b, {a})
    assert a != b
    for stem in (a, b, output_stem(long_a, {a})):
        assert len((stem + OUTPUT_SUFFIX).encode()) <= NAME_MAX_BYTES
        (tmp_path / (stem + OUTPUT_SUFFIX)).write_text("{}")  # the file system takes it
    assert output_stem("scan", {"scan"}) == "scan-2"
    assert output_stem("scan", set()) == "scan"


def test_csv_args():
    assert parse_csv_args(["status", "ocr, notify", ""]) == ["status", "ocr", "notify"]
    assert parse_csv_args(None) == []


def test_the_cli_imports_the_runtime_only_when_a_command_starts_it() -> None:
    """``ocrpipe process`` attached to a running ``ocrpipe up`` needs neither the emulator nor
    the runtime: importing them (moto, boto3, the services) would cost ~0.6 s per command."""
    import subprocess
    import sys

    heavy = ("moto", "boto3", "ocrpipe_local.stack", "ocrpipe_local.emulator", "ingest")
    code = (
        f"import sys, ocrpipe_local.cli; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == ""


def test_output_names_follow_the_order_the_files_were_given() -> None:
    from ocrpipe_local.cli.process import DocumentOutcome, output_names

    given = [Path("a/scan.png"), Path("b/scan.png"), Path("notes.pdf"), Path("c/scan.jpg")]
    names = output_names([DocumentOutcome(path=p) for p in given])
    assert names == ["scan", "scan-2", "notes", "scan-3"]
