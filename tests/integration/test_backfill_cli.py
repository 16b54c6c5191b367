"""``ocrpipe backfill`` end to end, in-process: 200 existing objects through the real stack.

The source bucket lives in the process' emulator (as a bucket of the operator's would live in
their account). The first run is stopped after 50 rows (``--limit``), the second resumes from
the checkpoint and waits for every document's outcome (real Tesseract; tiny images), a third
finds nothing left to do.
"""

from __future__ import annotations

import io
import json
import secrets
from collections import Counter
from pathlib import Path

import boto3
import pytest
from PIL import Image, ImageDraw, ImageFont

from ingest.backfill import backfill_document_id
from ocrpipe_local import cli, emulator, loopback
from ocrpipe_local.archive import read_archive

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(900)]

WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india"]


def _image(n: int) -> bytes:
    image = Image.new("L", (420, 64), 255)
    draw = ImageDraw.Draw(image)
    text = f"{WORDS[n % len(WORDS)]} {WORDS[(n // len(WORDS)) % len(WORDS)]} {n}"
    draw.text((10, 14), text, fill=0, font=ImageFont.load_default(size=28))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture
def source_bucket(monkeypatch):
    """A bucket with exactly 200 objects under ``scans/`` (and one outside it)."""
    endpoint = emulator.ensure_server()
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=loopback.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    bucket = f"src-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    objects: dict[str, bytes] = {}
    for n in range(120):  # distinct images
        objects[f"scans/page {n:03d}.png"] = _image(n)
    for n in range(77):  # the same bytes again under other names (the OCR cache serves them)
        objects[f"scans/copies/копия é {n:03d}.png"] = objects[f"scans/page {n:03d}.png"]
    objects["scans/broken.png"] = _image(1)[:200]
    objects["scans/empty.jpg"] = b""
    objects["scans/folder/"] = b""  # a "folder" marker: not a document
    assert len(objects) == 200
    for key, data in objects.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    s3.put_object(Bucket=bucket, Key="elsewhere/not-in-prefix.png", Body=_image(5))
    # The originals are the operator's: ocr must not delete them (ocr honours keep_source once
    # the lead applies it; until then this keeps the listing stable between runs).
    monkeypatch.setenv("OCRPIPE_DELETE_UPLOADS_AFTER_OCR", "false")
    return s3, bucket, objects


def _checkpoint(state: Path) -> dict[str, dict[str, str]]:
    [path] = (state / "backfill").glob("*.jsonl")
    entries = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return {e["ref"]: e for e in entries}


def test_backfill_200_objects_resumable_with_progress_and_summary(tmp_path, capsys, source_bucket):
    s3, bucket, _ = source_bucket
    stage = "b" + secrets.token_hex(4)
    state = tmp_path / "state"
    base = [
        "backfill",
        f"s3://{bucket}/scans/",
        "--stage",
        stage,
        "--state-dir",
        str(state),
        "--rate",
        "500",
    ]

    # 1. Interrupted after 50 rows.
    code = cli.main([*base, "--limit", "50", "--no-wait"])
    captured = capsys.readouterr()
    assert code == 3, captured.out
    assert "backfill s3://" in captured.out
    assert "50 of 200 row(s)" in captured.out
    assert "run the same command again to resume" in captured.out
    assert "backfill 50/200 ok=49 rejected=1" in captured.err  # progress, off a terminal
    assert len(_checkpoint(state)) == 50

    # 2. Resumed: the other 150, and every document's outcome.
    code = cli.main([*base, "--timeout", "600"])
    captured = capsys.readouterr()
    out = captured.out
    assert code == 0, out
    assert "50 done by an earlier run (resuming)" in out
    assert "200 of 200 row(s)" in out
    assert "50 done before" in out
    assert "backfill 200/200 ok=148 rejected=1 failed=0 skipped=1 earlier=50" in captured.err
    done = _checkpoint(state)
    assert len(done) == 200
    results = Counter(e["result"] for e in done.values())
    assert results == {"ok": 197, "rejected": 2, "skipped": 1}
    # The rejected and skipped rows are named, with reasons a person can read.
    # broken.png was among the first 50: listed from the checkpoint.
    assert f"s3://{bucket}/scans/broken.png: broken.png " in out
    assert "(earlier run)" in out
    assert f"s3://{bucket}/scans/empty.jpg: empty.jpg is empty (0 bytes)." in out
    assert f"s3://{bucket}/scans/folder/: the key names a folder, not an object" in out
    assert "pipeline: " in out
    assert "pending" not in out.split("pipeline: ")[1].splitlines()[0]

    # Ids are derived from bucket, key and ETag; every object announced exactly once.
    archive = read_archive(state / "archive.jsonl")
    uploaded = [e for e in archive if e.detail_type == "DocumentUploaded"]
    assert len(uploaded) == 197
    assert len({e.document_id for e in uploaded}) == 197
    assert all(e.detail["keep_source"] for e in uploaded)
    key = "scans/copies/копия é 007.png"
    etag = s3.head_object(Bucket=bucket, Key=key)["ETag"]
    [copy] = [e for e in uploaded if e.detail["source_uri"] == f"s3://{bucket}/{key}"]
    assert copy.document_id == backfill_document_id(bucket, key, etag)
    rejected = {
        e.detail["filename"]: e.detail["reason_code"]
        for e in archive
        if e.detail_type == "DocumentRejected"
    }
    assert rejected == {"broken.png": "corrupt", "empty.jpg": "empty_file"}
    counted = [e for e in archive if e.detail_type == "WordsCounted"]
    assert len({e.document_id for e in counted}) == 197
    cached = [e for e in archive if e.detail_type == "OcrCompleted" and e.detail["cached"]]
    assert len(cached) >= 60  # most of the 77 copies came from the OCR cache
    # Nothing outside the prefix, and the originals are all still there.
    assert all("elsewhere/" not in e.detail.get("source_uri", "") for e in archive)
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="scans/")["KeyCount"]
    assert listed == 200

    # 3. Run again: nothing left to do, nothing published.
    code = cli.main([*base, "--no-wait"])
    out = capsys.readouterr().out
    assert code == 0
    assert "0 ok, 0 rejected, 0 failed, 0 skipped, 200 done before" in out
    assert len(read_archive(state / "archive.jsonl")) == len(archive)
