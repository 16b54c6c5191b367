"""The whole local stack with the REAL services and real Tesseract, through ``ocrpipe process``.

Each test runs the CLI in-process (``cli.main``) on its own stage, so stacks share the
process' emulator but not their state.
"""

from __future__ import annotations

import csv
import email
import email.policy
import hashlib
import hmac
import io
import json
import secrets
import shutil
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from ocrpipe_local import cli

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CLEAN = SAMPLES / "clean-scan.png"


def _stage() -> str:
    return "e" + secrets.token_hex(4)


def truth_counts(stem: str) -> Counter[str]:
    from ocrpipe.words import count_words

    text = (SAMPLES / "truth" / f"{stem}.txt").read_text(encoding="utf-8")
    return Counter(dict(count_words(text).counts))


def word_f1(predicted: Counter[str], truth: Counter[str]) -> float:
    overlap = sum((predicted & truth).values())
    total = sum(predicted.values()) + sum(truth.values())
    return 2 * overlap / total if total else 1.0


def run(tmp_path: Path, *args: str, stage: str | None = None) -> tuple[int, dict[str, Any]]:
    """``ocrpipe process ARGS``; returns the exit code and the JSON report."""
    report = tmp_path / f"report-{secrets.token_hex(3)}.json"
    argv = [
        "process",
        *args,
        "--state-dir",
        str(tmp_path / "state"),
        "--stage",
        stage or _stage(),
        "--json",
        str(report),
        "--timeout",
        "600",
    ]
    code = cli.main(argv)
    return code, json.loads(report.read_text(encoding="utf-8"))


def _by_file(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {Path(d["file"]).name: d for d in report["documents"]}


@pytest.fixture(scope="module", autouse=True)
def _samples_present() -> None:
    if not CLEAN.exists():
        pytest.fail("samples/clean-scan.png is missing: run scripts/make_samples.py")


def test_samples_are_counted_accurately_and_emailed(tmp_path, capsys):
    out = tmp_path / "out"
    code, report = run(tmp_path, str(SAMPLES), "--out", str(out), "--email", "reader@example.com")
    printed = capsys.readouterr().out
    docs = _by_file(report)
    assert code == 0, printed
    assert report["stuck_queues"] == {}
    assert {d["status"] for d in docs.values()} == {"counted"}, printed
    assert "clean-scan.png" in docs
    assert "counted" in printed

    # Word-level F1 of the clean scan against its ground truth, by the service's own word rule.
    words = json.loads((out / "clean-scan.words.json").read_text(encoding="utf-8"))
    assert words["document_id"] == docs["clean-scan.png"]["document_id"]
    assert words["total_words"] == sum(words["counts"].values())
    assert words["unique_words"] == len(words["counts"])
    f1 = word_f1(Counter(words["counts"]), truth_counts("clean-scan"))
    assert f1 >= 0.95, f"clean-scan word F1 {f1:.3f}"
    assert (out / "clean-scan.txt").read_text(encoding="utf-8").strip()
    for name in docs:
        stem = Path(name).stem
        if (SAMPLES / "truth" / f"{stem}.txt").exists():
            got = json.loads((out / f"{stem}.words.json").read_text(encoding="utf-8"))
            score = word_f1(Counter(got["counts"]), truth_counts(stem))
            print(f"{name}: word F1 {score:.3f}")  # reported, only the clean scan is asserted

    # One e-mail per document in the outbox, with the counts attached as JSON.
    outbox = Path(report["outbox"])
    assert str(outbox) in printed
    emls = sorted(outbox.glob("*.eml"))
    assert len(emls) == len(docs)
    clean_id = docs["clean-scan.png"]["document_id"]
    [clean_eml] = [p for p in emls if p.name.startswith(clean_id)]
    message = email.message_from_bytes(clean_eml.read_bytes(), policy=email.policy.default)
    assert message["To"] == "reader@example.com"
    attachments = [
        part for part in message.iter_attachments() if (part.get_filename() or "").endswith(".json")
    ]
    assert attachments, "no JSON attachment"
    attached = json.loads(attachments[0].get_content())
    assert attached["counts"] == words["counts"]
    # The address never appears in the event archive.
    archive = (tmp_path / "state" / "archive.jsonl").read_text(encoding="utf-8")
    assert "reader@example.com" not in archive


def test_bad_inputs_fail_with_clear_reasons_and_leave_no_message_behind(tmp_path, capsys):
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(CLEAN.read_bytes()[:300])  # a PNG header, then nothing
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.txt"
    text.write_text("not an image", encoding="utf-8")
    fake = tmp_path / "fake.pdf"
    fake.write_bytes(b"hello, I am not a PDF at all")
    code, report = run(tmp_path, str(corrupt), str(empty), str(text), str(fake))
    printed = capsys.readouterr().out
    assert code == 1
    docs = _by_file(report)
    for name in ("corrupt.png", "empty.jpg", "notes.txt", "fake.pdf"):
        assert docs[name]["status"] in ("rejected", "failed"), printed
        assert len(docs[name]["reason"]) > 10, docs[name]
        assert docs[name]["reason"] in printed
    assert report["stuck_queues"] == {}, printed
    assert "messages left" not in printed


def test_unicode_file_names_and_the_ocr_cache(tmp_path):
    stage = _stage()
    first = tmp_path / "my scan é 1.png"
    second = tmp_path / "другой скан 2.png"
    shutil.copyfile(CLEAN, first)
    shutil.copyfile(CLEAN, second)
    out = tmp_path / "out"
    code, report = run(tmp_path, str(first), "--out", str(out), stage=stage)
    assert code == 0
    [doc] = report["documents"]
    assert doc["status"] == "counted"
    assert doc["ocr_cached"] is False
    assert (out / "my scan é 1.words.json").exists()

    # Same bytes again (another name, same stage): the OCR engine is not called again.
    code, report = run(tmp_path, str(second), "--out", str(out), stage=stage)
    assert code == 0
    [again] = report["documents"]
    assert again["status"] == "counted"
    assert again["ocr_cached"] is True
    assert again["total_words"] == doc["total_words"]
    assert (out / "другой скан 2.words.json").exists()


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []
    #: What the delivery's links gave, fetched as a receiver would, while the stack runs.
    fetched: ClassVar[dict[str, requests.Response]] = {}

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        with requests.Session() as session:
            session.trust_env = False
            for name, url in json.loads(body).get("links", {}).items():
                self.fetched[name] = session.get(url, timeout=30)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_webhook_receives_a_signed_result(tmp_path, monkeypatch):
    secret = secrets.token_hex(16)
    monkeypatch.setenv("OCRPIPE_WEBHOOK_SECRET", secret)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        code, report = run(tmp_path, str(CLEAN), "--webhook", url)
    finally:
        server.shutdown()
        server.server_close()
    assert code == 0
    [doc] = report["documents"]
    assert doc["notification"] == "sent"
    [(headers, body)] = _Hook.received
    payload = json.loads(body)
    assert payload["document_id"] == doc["document_id"]
    assert payload["outcome"] == "counted"
    signed = f"{headers['x-ocrpipe-timestamp']}.".encode() + body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(headers["x-ocrpipe-signature"], f"sha256={expected}")
    # Links a receiver can fetch, never an internal s3:// address.
    assert b"s3://" not in body
    assert sorted(payload["links"]) == ["counts.csv", "counts.json", "text.txt"]
    fetched = _Hook.fetched
    assert all(r.status_code == 200 for r in fetched.values()), fetched
    counts = fetched["counts.json"].json()
    assert counts["total_words"] == payload["total_words"] == doc["total_words"]
    rows = list(csv.reader(io.StringIO(fetched["counts.csv"].content.decode("utf-8-sig"))))
    assert rows[0] == ["word", "count"]
    assert sum(int(n) for _, n in rows[1:]) == payload["total_words"]
    assert {w: int(n) for w, n in rows[1:]} == counts["counts"]
    assert fetched["text.txt"].text.strip()
    assert "attachment" in fetched["counts.csv"].headers["Content-Disposition"]


def test_reocr_after_the_original_was_deleted_says_so_and_tells_nobody_it_failed(tmp_path, capsys):
    """Issue #8: ``replay --reocr`` after the default delete-after-OCR must not e-mail people
    "could not read": the earlier reading is kept, and the command's summary says why."""
    stage = _stage()
    code, report = run(tmp_path, str(CLEAN), "--email", "reader@example.com", stage=stage)
    assert code == 0
    [doc] = report["documents"]
    outbox = tmp_path / "state" / "outbox"
    sent = sorted(outbox.glob("*.eml"))
    assert len(sent) == 1
    capsys.readouterr()

    state = ["--state-dir", str(tmp_path / "state"), "--stage", stage]
    code = cli.main(["replay", "--since", "1h", "--reocr", "--event", "DocumentUploaded", *state])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "1 document(s) not read again (their earlier reading is kept):" in out
    assert f"clean-scan.png ({doc['document_id']}): The original file is no longer stored" in out
    assert sorted(outbox.glob("*.eml")) == sent  # nobody told again, least of all "failed"
    archived = [json.loads(line) for line in (tmp_path / "state" / "archive.jsonl").open()]
    kinds = [a["envelope"]["detail-type"] for a in archived]
    assert "OcrFailed" not in kinds
    assert kinds.count("OcrCompleted") == 2
