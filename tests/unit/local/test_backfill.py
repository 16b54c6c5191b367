"""Backfill pieces without AWS: manifests, the checkpoint, pacing, the progress bar."""

from __future__ import annotations

import io
from collections import Counter
from types import SimpleNamespace

import pytest

from ingest.backfill import backfill_document_id, parse_batch_tasks
from ocrpipe_local.operations.backfill import (
    BackfillError,
    BackfillSummary,
    Checkpoint,
    RateLimiter,
    Row,
    parse_s3_prefix,
    pipeline_outcomes,
    rows_from_inventory,
)
from ocrpipe_local.progress import CountsProgress


def test_inventory_rows_are_decoded_and_bad_lines_are_kept_as_problems(tmp_path):
    manifest = tmp_path / "inventory.csv"
    manifest.write_text(
        '"my-bucket","scans/a+b%C3%A9+c.png"\n'  # space as '+', UTF-8 percent-encoded
        '"my-bucket","scans/plus%2Bsign.png","3HL4kqtJlcpXroDTDmJ"\n'
        "\n"
        '"my-bucket"\n'  # no key
        '"my-bucket","scans/folder/"\n'
        'other-bucket,"quoted, with comma.pdf",""\n',
        encoding="utf-8",
    )
    rows = rows_from_inventory(manifest)
    assert [(r.line, r.bucket, r.key, r.version_id) for r in rows] == [
        (1, "my-bucket", "scans/a bé c.png", None),
        (2, "my-bucket", "scans/plus+sign.png", "3HL4kqtJlcpXroDTDmJ"),
        (4, "", "", None),
        (5, "my-bucket", "scans/folder/", None),
        (6, "other-bucket", "quoted, with comma.pdf", None),
    ]
    assert [bool(r.problem) for r in rows] == [False, False, True, True, False]
    assert "bucket,key" in rows[2].problem
    assert rows[2].uri == "line 4"


def test_unreadable_manifest_and_bad_prefix_are_clear_errors(tmp_path):
    with pytest.raises(BackfillError, match="cannot read the manifest"):
        rows_from_inventory(tmp_path / "missing.csv")
    binary = tmp_path / "binary.csv"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(BackfillError, match="cannot read the manifest"):
        rows_from_inventory(binary)
    assert parse_s3_prefix("s3://b/some/prefix") == ("b", "some/prefix")
    assert parse_s3_prefix("s3://b") == ("b", "")
    for bad in ("b/prefix", "s3:///prefix", "https://b/x"):
        with pytest.raises(BackfillError):
            parse_s3_prefix(bad)


def test_checkpoint_survives_a_torn_line_and_retries_failures(tmp_path):
    path = tmp_path / "job.jsonl"
    ok, failed, rejected = Row(1, "b", "a.png"), Row(2, "b", "b.png"), Row(3, "b", "c.png")
    first = Checkpoint(path)
    first.record(ok, "ok", document_id="d1")
    first.record(failed, "failed", reason="SlowDown")
    first.record(rejected, "rejected", reason="c.png is empty (0 bytes).")
    with path.open("a", encoding="utf-8") as fh:
        fh.write('{"ref": "torn')  # the process died mid-write
    again = Checkpoint(path)
    assert again.is_done(ok)
    assert not again.is_done(failed)  # transient: retried
    assert again.is_done(rejected)
    assert again.earlier(rejected) == ("rejected", "c.png is empty (0 bytes).")
    assert not again.is_done(Row(4, "b", "new.png"))
    # The same key in another bucket or version is another row.
    assert not again.is_done(Row(1, "other", "a.png"))
    assert not again.is_done(Row(1, "b", "a.png", "v2"))


def test_rate_limiter_paces_to_the_rate():
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    limiter = RateLimiter(10, burst=1, clock=lambda: now[0], sleep=sleep)
    for _ in range(21):
        limiter.acquire()
    assert now[0] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="--rate"):
        RateLimiter(0)


def test_progress_off_a_terminal_writes_the_first_and_the_last_state():
    out = io.StringIO()
    with CountsProgress(200, out, description="backfill") as progress:
        progress.update(0, Counter())
        progress.update(120, Counter({"ok": 118, "rejected": 1, "failed": 1}))
        progress.update(200, Counter({"ok": 200}), final=True)
    lines = out.getvalue().splitlines()
    assert lines == [
        "backfill 0/200 ok=0 rejected=0 failed=0 skipped=0",
        "backfill 200/200 ok=200 rejected=0 failed=0 skipped=0",
    ]


def test_summary_lists_the_first_problems_only():
    summary = BackfillSummary(total=30)
    for n in range(25):
        summary.add(Row(n, "b", f"k{n}"), "rejected", reason="corrupt")
    summary.add(Row(99, "b", "old"), "done", reason="empty", earlier="rejected")
    out = io.StringIO()
    summary.print(out, limit=3)
    text = out.getvalue()
    assert "26 of 30 row(s): 0 ok, 25 rejected, 0 failed, 0 skipped, 1 done before" in text
    assert "s3://b/k0: corrupt" in text
    assert "... and 23 more" in text


def test_document_ids_are_deterministic_and_change_with_the_bytes():
    one = backfill_document_id("b", "scans/a.png", '"etag1"')
    assert one == backfill_document_id("b", "scans/a.png", "etag1")  # quotes do not matter
    assert len(one) == 32
    assert one != backfill_document_id("b", "scans/a.png", "etag2")
    assert one != backfill_document_id("c", "scans/a.png", "etag1")


def test_batch_tasks_of_both_schemas_are_read():
    version, invocation, tasks = parse_batch_tasks(
        {
            "invocationSchemaVersion": "2.0",
            "invocationId": "inv",
            "job": {"id": "job", "userArguments": {"reocr": "true"}},
            "tasks": [
                {"taskId": "t1", "s3BucketName": "b", "s3Key": "a%20b+c.png", "s3VersionId": None},
                {"taskId": "t2", "s3Bucket": "b2", "s3Key": "x.pdf", "s3VersionId": "v1"},
            ],
        }
    )
    assert (version, invocation) == ("2.0", "inv")
    assert [(t.task_id, t.bucket, t.key, t.version_id) for t in tasks] == [
        ("t1", "b", "a b c.png", None),
        ("t2", "b2", "x.pdf", "v1"),
    ]
    _, _, old = parse_batch_tasks(
        {
            "invocationSchemaVersion": "1.0",
            "invocationId": "i",
            "tasks": [{"taskId": "t", "s3BucketArn": "arn:aws:s3:::legacy", "s3Key": "k.png"}],
        }
    )
    assert old[0].bucket == "legacy"


def test_pipeline_outcomes_name_each_document_by_its_outcome_event():
    def seen(*detail_types: str) -> list[SimpleNamespace]:
        return [SimpleNamespace(detail_type=t) for t in detail_types]

    found = {
        "a": seen("DocumentUploaded", "OcrCompleted", "WordsCounted", "NotificationSent"),
        "b": seen("DocumentRejected"),
        "c": seen("DocumentUploaded", "OcrFailed"),
        "d": seen("DocumentUploaded", "OcrCompleted", "WordCountFailed"),
        "e": seen("DocumentUploaded", "OcrFailed", "DocumentUploaded", "WordsCounted"),
        "f": seen("DocumentUploaded", "OcrCompleted"),
        "g": seen(),
    }
    assert pipeline_outcomes(found) == Counter(
        counted=2, rejected=1, ocr_failed=1, count_failed=1, pending=2
    )
