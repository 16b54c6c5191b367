"""Soak: many small real-text documents through a running ``ocrpipe up`` with faults injected
at every stage, then drain, and count what reached its user.

    .venv/bin/python benchmarks/soak.py [--documents 1000] [--faults soak] [--seed 1]

1. Makes ``--documents`` small PNG pages of real text (paragraphs of the licence texts every
   Debian machine has in /usr/share/common-licenses, a different slice per page, so no two
   share a content hash), plus a few bad ones: corrupt files (ingest rejects them) and blank
   pages (the OCR stage fails them with "no text").
2. Starts ``ocrpipe up --faults PLAN`` as its own process (see ``ocrpipe_local.faults``), and a
   webhook receiver on loopback that answers a share of deliveries with 500 or 429.
3. Uploads every document as a client does (``POST /uploads``, then the presigned POST),
   retrying 5xx answers; half are to be told by e-mail, half by webhook.
4. Waits until every accepted document has been told its outcome, the queues are empty and
   nothing changed for a while; then moves dead letters back (``ocrpipe dlq --redrive``) and
   waits again, up to ``--redrive-rounds`` times.
5. Prints: accepted, counted, rejected, failed-and-told, lost (accepted, never told),
   double-notified (told more than once), told an unexpected outcome, left in queues, left in
   DLQs, wall time, docs/s, the ``up`` process' peak RSS, and the faults it injected.

Exits 1 when anything was lost, double-notified, told the wrong outcome or left in a queue.
``tests/e2e/test_soak.py`` runs it with 100 documents.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import requests
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
LICENSES = Path("/usr/share/common-licenses")
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
OCRPIPE = [sys.executable, "-m", "ocrpipe_local.cli"]
OUTBOX_NAME = re.compile(r"^(?P<doc>[^.]+)\.(?P<outcome>[a-z]+)(?:\.\d+)?\.eml$")


@dataclass(frozen=True)
class Doc:
    name: str
    data: bytes
    expect: str  # counted | rejected | failed
    by: str  # email | webhook


def corpus_words() -> list[str]:
    words: list[str] = []
    for path in sorted(LICENSES.iterdir()):
        if path.is_file():
            words.extend(path.read_text(encoding="utf-8", errors="replace").split())
    return [w for w in words if any(c.isalpha() for c in w)]


def page(lines: list[str]) -> bytes:
    font = ImageFont.truetype(str(FONT), 26)
    image = Image.new("L", (1100, 60 + 44 * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((40, 30 + 44 * i), line, font=font, fill=0)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def make_documents(count: int, seed: int) -> list[Doc]:
    rng = random.Random(seed)
    words = corpus_words()
    docs = []
    for i in range(count):
        kind = rng.random()
        by = "email" if i % 2 == 0 else "webhook"
        if kind < 0.03:
            blob = page(["x"])[:200]  # a PNG cut short: ingest rejects it
            docs.append(Doc(f"soak-{i:05d}-corrupt.png", blob, "rejected", by))
            continue
        if kind < 0.05:
            blank = page([" "]) + i.to_bytes(4, "big")  # no text at all (distinct bytes)
            docs.append(Doc(f"soak-{i:05d}-blank.png", blank, "failed", by))
            continue
        start = rng.randrange(0, len(words) - 80)
        text = " ".join(words[start : start + rng.randint(20, 45)])
        lines = textwrap.wrap(f"{i} {text}", width=62)[:6]
        docs.append(Doc(f"soak-{i:05d}.png", page(lines), "counted", by))
    return docs


class Receiver:
    """Webhook receiver: records each delivery it accepted (2xx), by document and outcome;
    answers ``error_share`` of requests with 500 or 429 instead (recorded as refused)."""

    def __init__(self, error_share: float, seed: int) -> None:
        self.accepted: dict[str, list[str]] = defaultdict(list)
        self.refused = 0
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        self.error_share = error_share
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    refuse = receiver.rng.random() < receiver.error_share
                    if refuse:
                        receiver.refused += 1
                    else:
                        payload = json.loads(body)
                        receiver.accepted[payload["document_id"]].append(payload["outcome"])
                self.send_response(receiver.rng.choice((500, 429)) if refuse else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def told(self) -> dict[str, list[str]]:
        with self.lock:
            return {d: list(o) for d, o in self.accepted.items()}


def outbox_told(outbox: Path) -> dict[str, list[str]]:
    told: dict[str, list[str]] = defaultdict(list)
    for path in outbox.glob("*.eml"):
        found = OUTBOX_NAME.match(path.name)
        if found:
            told[found["doc"]].append(found["outcome"])
    return told


def upload(session: requests.Session, api: str, doc: Doc, hook: str) -> str | None:
    """The document id once its bytes were accepted, or None; 5xx and resets are retried."""
    body: dict[str, Any] = {
        "filename": doc.name,
        "content_type": "image/png",
        "size_bytes": len(doc.data),
    }
    body["email" if doc.by == "email" else "webhook_url"] = (
        f"{Path(doc.name).stem}@example.com" if doc.by == "email" else hook
    )
    for attempt in range(8):
        try:
            opened = session.post(f"{api}/uploads", json=body, timeout=60)
            if opened.status_code >= 500:
                raise requests.ConnectionError(f"{opened.status_code}")
            if opened.status_code != 201:
                raise SystemExit(f"POST /uploads refused {doc.name}: {opened.text}")
            grant = opened.json()
            stored = session.post(
                grant["upload"]["url"],
                data=grant["upload"]["fields"],
                files={"file": (doc.name, doc.data, "image/png")},
                timeout=60,
            )
            if stored.status_code >= 500:
                raise requests.ConnectionError(f"{stored.status_code}")
            if stored.status_code >= 300:
                raise SystemExit(f"the upload of {doc.name} was refused: {stored.text}")
            return str(grant["document_id"])
        except requests.RequestException:
            time.sleep(min(0.2 * 2**attempt, 5))
    return None


@dataclass
class Soak:
    documents: int
    plan: str
    seed: int
    data: Path
    webhook_errors: float = 0.1
    settle_s: float = 20.0
    redrive_rounds: int = 3
    timeout_s: float = 3600.0
    report: dict[str, Any] = field(default_factory=dict)

    def run(self) -> dict[str, Any]:
        docs = make_documents(self.documents, self.seed)
        receiver = Receiver(self.webhook_errors, self.seed)
        env = {k: v for k, v in os.environ.items() if k != "OCRPIPE_FAULTS"}
        self.data.mkdir(parents=True, exist_ok=True)
        log = (self.data.parent / "soak-up.log").open("wb")
        proc = subprocess.Popen(
            [*OCRPIPE, "up", "--data-dir", str(self.data), "--faults", self.plan],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=env,
        )
        try:
            return self._drive(proc, docs, receiver)
        finally:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
            receiver.server.shutdown()

    def _drive(
        self, proc: subprocess.Popen[bytes], docs: list[Doc], rx: Receiver
    ) -> dict[str, Any]:
        from ocrpipe_local import attach, dlq

        deadline = time.monotonic() + 120
        while (info := attach.find_running(self.data)) is None:
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"ocrpipe up did not start; see {self.data.parent}/soak-up.log")
            time.sleep(0.2)
        stack = attach.AttachedStack(self.data, info)
        started = time.monotonic()
        with requests.Session() as session, ThreadPoolExecutor(4) as pool:
            session.trust_env = False
            ids = list(pool.map(lambda d: upload(session, info.api_url, d, rx.url), docs))
        accepted = {i: d for i, d in zip(ids, docs, strict=True) if i is not None}
        uploaded_s = time.monotonic() - started

        def told() -> dict[str, list[str]]:
            merged = outbox_told(stack.outbox_dir)
            for doc_id, outcomes in rx.told().items():
                merged.setdefault(doc_id, []).extend(outcomes)
            return merged

        redriven = 0
        rounds = 0
        sqs = stack.client("sqs")
        while True:
            self._settle(stack, told, set(accepted), started)
            dead = sum(self._depth(sqs, url) for url in info.dlqs.values())
            if not dead or rounds >= self.redrive_rounds:
                break
            rounds += 1
            for name, url in info.dlqs.items():
                redriven += dlq.redrive(sqs, url, info.queues[name])
        wall = time.monotonic() - started
        rss_kb = peak_rss_kb(info.pid)
        final = told()
        outcomes = {d: final.get(d, []) for d in accepted}
        expected = {d: doc.expect for d, doc in accepted.items()}
        left = {n: self._depth(sqs, u) for n, u in info.queues.items()}
        left_dlq = {n: self._depth(sqs, u) for n, u in info.dlqs.items()}
        first = {d: o[0] for d, o in outcomes.items() if o}
        self.report = {
            "documents": len(docs),
            "plan": self.plan,
            "accepted": len(accepted),
            "not accepted (upload gave up)": len(docs) - len(accepted),
            "counted": sum(1 for o in first.values() if o == "counted"),
            "rejected": sum(1 for o in first.values() if o == "rejected"),
            "failed-and-told": sum(1 for o in first.values() if o == "failed"),
            "lost": sorted(d for d, o in outcomes.items() if not o),
            "double-notified": sorted(d for d, o in outcomes.items() if len(o) > 1),
            "unexpected outcome": sorted(
                f"{accepted[d].name}: {first[d]} (expected {expected[d]})"
                for d in first
                if first[d] != expected[d]
            ),
            "left in queues": {n: v for n, v in left.items() if v},
            "left in DLQs": {n: v for n, v in left_dlq.items() if v},
            "redriven from DLQs": redriven,
            "redrive rounds": rounds,
            "webhook answers refused by the receiver": rx.refused,
            "upload s": round(uploaded_s, 1),
            "wall s": round(wall, 1),
            "docs/s": round(len(accepted) / wall, 2) if wall else 0.0,
            "peak RSS of ocrpipe up (MB)": round(rss_kb / 1024) if rss_kb else None,
        }
        return self.report

    def _settle(self, stack: Any, told: Any, accepted: set[str], started: float) -> None:
        """Until every accepted document was told and the queues are empty, or nothing has
        changed for ``settle_s`` (something waits on a DLQ or a visibility timeout)."""
        last, since = None, time.monotonic()
        while time.monotonic() - started < self.timeout_s:
            state = told()
            done = accepted <= set(state)
            depths = stack.queue_depths()
            busy = sum(n for name, n in depths.items() if not name.endswith("-dlq"))
            snapshot = (len(state), sum(map(len, state.values())), tuple(sorted(depths.items())))
            if done and not busy:
                time.sleep(2)  # a duplicate delivery still on its way shows now
                if told() == state:
                    return
            if snapshot != last:
                last, since = snapshot, time.monotonic()
            elif time.monotonic() - since > self.settle_s and not busy:
                return
            time.sleep(1)

    @staticmethod
    def _depth(sqs: Any, url: str) -> int:
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        return sum(int(attrs.get(n, 0)) for n in names)


def peak_rss_kb(pid: int) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return None


def injected_faults(data: Path) -> str:
    """The ``faults injected`` line ``ocrpipe up`` logged when it stopped."""
    log = data / "logs" / "runtime.log"
    lines = [
        line for line in log.read_text(errors="replace").splitlines() if "faults injected" in line
    ]
    return lines[-1].split("faults injected:", 1)[1].strip() if lines else "(not logged)"


def failures(report: dict[str, Any]) -> list[str]:
    bad = []
    for key in ("lost", "double-notified", "unexpected outcome", "left in queues", "left in DLQs"):
        if report[key]:
            bad.append(key)
    return bad


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--faults", default="soak", help="fault plan (ocrpipe up --faults)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--webhook-errors", type=float, default=0.1)
    parser.add_argument("--keep", metavar="DIR", help="keep the data directory here")
    args = parser.parse_args(argv)
    plan = args.faults if "seed=" in args.faults else f"{args.faults},seed={args.seed}"
    with tempfile.TemporaryDirectory(prefix="ocrpipe-soak-") as tmp:
        base = Path(args.keep) if args.keep else Path(tmp)
        soak = Soak(args.documents, plan, args.seed, base / "data", args.webhook_errors)
        report = soak.run()
        report["faults injected"] = injected_faults(soak.data)
    width = max(map(len, report))
    for key, value in report.items():
        shown = len(value) if isinstance(value, list) else value
        print(f"{key:<{width}}  {shown}")
        if isinstance(value, list) and value:
            for item in value[:10]:
                print(f"{'':<{width}}    {item}")
    bad = failures(report)
    if bad:
        print(f"FAILED: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
