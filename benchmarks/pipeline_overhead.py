"""Whole local pipeline vs plain ``tesseract``: throughput, overhead over engine time, word F1.

    .venv/bin/python benchmarks/pipeline_overhead.py --manifest DIR/manifest.json \
        [--kind clean] [--count 12] [--seed 0] [--keep DIR]

Inputs: ``--count`` page images: real pages of a manifest like the OCR development set's (the
first ``--count`` of ``--kind``, with their truth), or without ``--manifest`` copies of
``samples/clean-scan.png`` and ``samples/phone-photo.jpg`` taken in turn. Each copy gets a
metadata block naming the seed and its copy number (a PNG ``tEXt`` chunk, a JPEG ``COM``
segment), so the pixels are identical but every file's bytes, hence its SHA-256, differ and the
OCR content-hash cache never hits. The same seed gives the same bytes.

In one run, on the same files, it times:

* ``raw``: one ``tesseract <img> stdout`` process per image, one after another, with
  Tesseract's default threading (what a person gets from the CLI): ``T_raw``;
* ``raw1``: the same with ``OMP_THREAD_LIMIT=1``: ``T_raw1`` -- the baseline of the speed
  target, one single-threaded process after another;
* ``raw2``: two such processes at a time (the most plain Tesseract gets out of 2 cores):
  ``T_raw2``;
* ``pipeline``: what ``ocrpipe process FILES --out DIR`` does, in this process: the CLI's own
  ``ocrpipe_local.cli.process.process_on`` on a ``OneMachineStack`` timed in three parts:
  start-up (emulator,
  provisioning, workers, HTTP API), processing (every upload through the HTTP API and
  presigned POST until every document's ``WordsCounted`` is archived and its text and counts
  are written to ``--out``), and shut-down (queues drained, stack stopped). ``total`` is all
  three.

Engine time is the ``engine_seconds`` the ocr handler logs per document ("document read",
powertools JSON in ``<state-dir>/logs/functions.jsonl``): the time inside the OCR engine's
``read`` (preprocessing, orientation check and Tesseract), summed over documents as ``Σeng``.
The ocr consumer runs ``W`` workers (one per core), so the least wall time the engine work
could take is ``Σeng / W``. Overhead is reported two ways, both over the processing part:

* ``non-engine s/page`` = (processing wall - Σeng / W) / images: seconds per page the
  pipeline adds around the engine (HTTP, S3, EventBridge, SQS polling, word count, ...);
* ``wall / engine-bound`` = processing wall ÷ (Σeng / W): 1.00 means no overhead at all.

``attached``: the whole ``ocrpipe process FILES --out DIR`` command, as a separate process
(its own Python start-up included), attached to an ``ocrpipe up`` started before the clock
starts -- the local service a person keeps running.

CPU is reported too, because on 2 cores every second of Python CPU is taken from Tesseract:
this process' own CPU (emulator, runtime and handlers, all in-process) in start-up and while
processing, the CPU of the ``tesseract`` processes it ran, and the CPU of ``raw1``'s processes.

``throughput ratio`` is pipeline pages/s ÷ raw pages/s (> 1: the pipeline is faster than one
plain ``tesseract`` after another). Word F1 (bag of words vs the truth, with the word rule and
F1 of ``benchmarks/ocr_quality.py``) is the mean over the images for the ``raw`` output and
the pipeline's ``<stem>.txt``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ocr_quality import bag, f1
from ocrpipe_local.attach import find_running
from ocrpipe_local.cli.common import DEFAULT_TIMEOUT_S, worker_counts
from ocrpipe_local.cli.process import DocumentOutcome, process_on
from ocrpipe_local.stack import OneMachineStack

ROOT = Path(__file__).resolve().parents[1]
SOURCES = (ROOT / "samples" / "clean-scan.png", ROOT / "samples" / "phone-photo.jpg")
TRUTH_DIR = ROOT / "samples" / "truth"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_with_text(data: bytes, text: str) -> bytes:
    """The PNG with a ``tEXt`` Comment chunk right after IHDR (pixels unchanged)."""
    if not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        raise ValueError("not a PNG starting with IHDR")
    ihdr_end = 8 + 4 + 4 + struct.unpack(">I", data[8:12])[0] + 4
    body = b"tEXt" + b"Comment\x00" + text.encode("latin-1")
    chunk = struct.pack(">I", len(body) - 4) + body + struct.pack(">I", zlib.crc32(body))
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def jpeg_with_comment(data: bytes, text: str) -> bytes:
    """The JPEG with a ``COM`` segment after SOI and a leading APPn segment (pixels unchanged)."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    at = 2
    if data[at] == 0xFF and 0xE0 <= data[at + 1] <= 0xEF:  # keep JFIF/Exif first
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    payload = text.encode("latin-1")
    segment = b"\xff\xfe" + struct.pack(">H", len(payload) + 2) + payload
    return data[:at] + segment + data[at:]


@dataclass(frozen=True)
class Input:
    path: Path
    truth: str


def sources(manifest: Path | None, kind: str, count: int) -> list[tuple[Path, Path]]:
    """(image, truth) pairs to copy: ``count`` pages of ``kind`` from the manifest, or the
    samples in turn."""
    if manifest is None:
        return [(s, TRUTH_DIR / f"{s.stem}.txt") for s in (SOURCES * count)[:count]]
    base = manifest.resolve().parent
    pages = [p for p in json.loads(manifest.read_text()) if p["kind"] == kind][:count]
    if len(pages) < count:
        raise SystemExit(f"{manifest} has only {len(pages)} {kind} pages")
    return [(base / p["image"], base / p["truth"]) for p in pages]


def make_inputs(pairs: list[tuple[Path, Path]], seed: int, directory: Path) -> list[Input]:
    directory.mkdir(parents=True, exist_ok=True)
    inputs = []
    for index, (source, truth_file) in enumerate(pairs):
        note = f"ocrpipe pipeline_overhead seed={seed} copy={index}"
        data = source.read_bytes()
        if source.suffix == ".png":
            data = png_with_text(data, note)
        else:
            data = jpeg_with_comment(data, note)
        path = directory / f"p{index:03d}-{source.stem}{source.suffix}"
        path.write_bytes(data)
        inputs.append(Input(path, truth_file.read_text(encoding="utf-8")))
    return inputs


def run_raw(paths: list[Path], *, single_thread: bool, jobs: int = 1) -> tuple[list[str], float]:
    env = {k: v for k, v in os.environ.items() if k != "OMP_THREAD_LIMIT"}
    if single_thread:
        env["OMP_THREAD_LIMIT"] = "1"

    def one(path: Path) -> str:
        done = subprocess.run(
            ["tesseract", str(path), "stdout"], capture_output=True, env=env, check=True
        )
        return done.stdout.decode("utf-8", "replace")

    start = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        texts = list(pool.map(one, paths))
    return texts, time.perf_counter() - start


@dataclass
class PipelineRun:
    startup_s: float
    processing_s: float
    shutdown_s: float
    ocr_workers: int
    outcomes: list[DocumentOutcome]
    engine_s: dict[str, float]  # document_id -> engine_seconds (uncached reads only)
    cached: int
    startup_cpu_s: float  # CPU of this process (emulator, runtime, handlers) in start-up
    processing_cpu_s: float  # ... and while processing
    engine_cpu_s: float  # CPU of the tesseract processes that ended while processing

    @property
    def total_s(self) -> float:
        return self.startup_s + self.processing_s + self.shutdown_s


def engine_seconds(functions_log: Path) -> tuple[dict[str, float], int]:
    """``engine_seconds`` per document from the ocr handler's "document read" log lines."""
    seconds: dict[str, float] = {}
    cached = 0
    for line in functions_log.read_text(encoding="utf-8").splitlines():
        if '"engine_seconds"' not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("service") != "ocr" or "engine_seconds" not in record:
            continue
        if record.get("cached"):
            cached += 1
            continue
        seconds[str(record["document_id"])] = float(record["engine_seconds"])
    return seconds, cached


def cpu_seconds() -> tuple[float, float]:
    """CPU (user + system) used so far by this process and by its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, children.ru_utime + children.ru_stime


def run_pipeline(
    paths: list[Path], out_dir: Path, state_dir: Path, workers: dict[str, int]
) -> PipelineRun:
    outcomes = [DocumentOutcome(path=p) for p in paths]
    start = time.perf_counter()
    cpu_start = cpu_seconds()
    stack = OneMachineStack(state_dir=state_dir, workers=workers).start()
    try:
        started = time.perf_counter()
        cpu_started = cpu_seconds()
        ocr_workers = sum(
            n
            for name, n in stack.worker_counts.items()
            if stack.topology.consumers[name].service == "ocr"
        )
        # What `ocrpipe process FILES --out DIR` does once it has a stack.
        args = argparse.Namespace(lang=None, timeout=DEFAULT_TIMEOUT_S, out=str(out_dir))
        with contextlib.redirect_stderr(io.StringIO()):  # its progress lines
            process_on(stack, args, outcomes, {})
        processed = time.perf_counter()
        cpu_processed = cpu_seconds()
        stack.drain(timeout=60.0)
    finally:
        stack.stop()
    stopped = time.perf_counter()
    seconds, cached = engine_seconds(state_dir / "logs" / "functions.jsonl")
    return PipelineRun(
        startup_s=started - start,
        processing_s=processed - started,
        shutdown_s=stopped - processed,
        ocr_workers=ocr_workers,
        outcomes=outcomes,
        engine_s=seconds,
        cached=cached,
        startup_cpu_s=cpu_started[0] - cpu_start[0],
        processing_cpu_s=cpu_processed[0] - cpu_started[0],
        engine_cpu_s=cpu_processed[1] - cpu_started[1],
    )


def run_attached(paths: list[Path], base: Path, workers: dict[str, int]) -> float:
    """Seconds of the whole ``ocrpipe process PATHS --out DIR`` command (its own Python
    start-up included) attached to an ``ocrpipe up`` started beforehand: the kept service."""
    data = base / "attached-state"
    command = [sys.executable, "-m", "ocrpipe_local.cli"]
    log = (base / "attached-up.log").open("wb")
    up = subprocess.Popen(
        [
            *command,
            "up",
            "--data-dir",
            str(data),
            *(f"--workers={name}={n}" for name, n in workers.items()),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 120
        while find_running(data) is None:
            if up.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("ocrpipe up did not start; see attached-up.log")
            time.sleep(0.2)
        start = time.perf_counter()
        done = subprocess.run(
            [
                *command,
                "process",
                *map(str, paths),
                "--data-dir",
                str(data),
                "--out",
                str(base / "attached-out"),
            ],
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        if done.returncode != 0 or "attached to the stack" not in done.stdout:
            raise SystemExit(f"attached ocrpipe process failed:\n{done.stdout}{done.stderr}")
        return seconds
    finally:
        up.send_signal(signal.SIGINT)
        up.wait(timeout=60)
        log.close()


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def report(
    inputs: list[Input],
    raw: list[str],
    raw_s: float,
    raw1_s: float,
    raw2_s: float,
    run: PipelineRun,
    load: float,
    raw1_cpu_s: float,
    attached_s: float,
) -> int:
    n = len(inputs)
    ids = {o.document_id for o in run.outcomes}
    engine_total = sum(s for d, s in run.engine_s.items() if d in ids)
    engine_bound = engine_total / max(1, run.ocr_workers)
    wall = run.processing_s

    def row(name: str, seconds: float, note: str = "") -> None:
        print(f"  {name:<40} {seconds:6.1f} s  {n / seconds:5.2f} pages/s  {note}".rstrip())

    print(f"images: {n} (1 page each), 1-min load average before the run: {load:.2f}")
    row("T_raw   tesseract, default threads", raw_s)
    row("T_raw1  tesseract, OMP_THREAD_LIMIT=1", raw1_s)
    row("T_raw2  two OMP_THREAD_LIMIT=1 at a time", raw2_s)
    for name, seconds in (
        ("pipeline total (incl. start/stop)", run.total_s),
        ("pipeline processing (excl. start/stop)", wall),
        ("`ocrpipe process` attached to `up`", attached_s),
    ):
        row(
            name,
            seconds,
            f"vs raw1 {raw1_s / seconds:.2f}x, vs raw2 {raw2_s / seconds:.2f}x, "
            f"vs raw {raw_s / seconds:.2f}x",
        )
    print(
        f"  pipeline start-up {run.startup_s:.1f} s, processing {wall:.1f} s, "
        f"shut-down {run.shutdown_s:.1f} s"
    )
    print(
        f"engine: Σeng {engine_total:.1f} s over {len(run.engine_s)} reads "
        f"({engine_total / n:.2f} s/page), W = {run.ocr_workers} ocr workers, "
        f"engine-bound wall Σeng/W = {engine_bound:.1f} s"
    )
    print(
        f"CPU: pipeline process start-up {run.startup_cpu_s:.1f} s, processing "
        f"{run.processing_cpu_s:.1f} s ({run.processing_cpu_s / n:.2f} s/page); "
        f"tesseract processes {run.engine_cpu_s:.1f} s ({run.engine_cpu_s / n:.2f} s/page); "
        f"T_raw1's tesseract {raw1_cpu_s:.1f} s ({raw1_cpu_s / n:.2f} s/page)"
    )
    if engine_bound:
        print(
            f"overhead: non-engine s/page = (processing - Σeng/W) / images = "
            f"{(wall - engine_bound) / n:.2f} s; "
            f"wall / engine-bound = processing ÷ (Σeng/W) = {wall / engine_bound:.2f}"
        )
    print("ratio = pipeline pages/s ÷ the baseline's pages/s (> 1: pipeline faster)")

    texts = []
    for outcome in run.outcomes:
        text_file = next((Path(p) for p in outcome.outputs if p.endswith(".txt")), None)
        texts.append(text_file.read_text(encoding="utf-8") if text_file else "")
    raw_f1 = mean([f1(bag(i.truth), bag(t)) for i, t in zip(inputs, raw, strict=True)])
    our_f1 = mean([f1(bag(i.truth), bag(t)) for i, t in zip(inputs, texts, strict=True)])
    print(f"mean word F1 vs the truth: raw {raw_f1:.3f}, pipeline {our_f1:.3f}")

    bad = [o for o in run.outcomes if o.status != "counted"]
    for o in bad:
        print(f"NOT COUNTED: {o.path.name}: {o.status} {o.reason}", file=sys.stderr)
    if run.cached:
        print(f"WARNING: {run.cached} OCR cache hit(s); engine time undercounted", file=sys.stderr)
    if len(run.engine_s) != n:
        print(f"WARNING: engine_seconds found for {len(run.engine_s)} of {n}", file=sys.stderr)
    return 1 if bad or run.cached else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manifest", type=Path, help="real pages (the OCR development set)")
    parser.add_argument("--kind", default="clean", help="pages of this kind (default clean)")
    parser.add_argument("--count", type=int, default=12, help="page images (default 12)")
    parser.add_argument("--seed", type=int, default=0, help="written into each copy's bytes")
    parser.add_argument(
        "--keep", type=Path, help="keep inputs, outputs and pipeline state here (else temp)"
    )
    parser.add_argument(
        "--workers",
        action="append",
        metavar="CONSUMER=N",
        help="worker threads for a consumer, as `ocrpipe up --workers` (default: the stack's)",
    )
    args = parser.parse_args(argv)
    workers = worker_counts(args.workers)
    if args.count < 1:
        parser.error("--count must be >= 1")
    if shutil.which("tesseract") is None:
        print("tesseract is not on PATH", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="ocrpipe-bench-") as tmp:
        base = args.keep or Path(tmp)
        if args.keep and base.exists() and any(base.iterdir()):
            parser.error(f"--keep {base} is not empty")
        load = os.getloadavg()[0]
        pairs = sources(args.manifest, args.kind, args.count)
        inputs = make_inputs(pairs, args.seed, base / "inputs")
        paths = [i.path for i in inputs]
        print(f"raw tesseract on {len(paths)} images…", file=sys.stderr, flush=True)
        raw, raw_s = run_raw(paths, single_thread=False)
        raw1_cpu = cpu_seconds()[1]
        _, raw1_s = run_raw(paths, single_thread=True)
        raw1_cpu = cpu_seconds()[1] - raw1_cpu
        _, raw2_s = run_raw(paths, single_thread=True, jobs=2)
        print("pipeline…", file=sys.stderr, flush=True)
        run = run_pipeline(paths, base / "out", base / "state", workers)
        print("ocrpipe process attached to ocrpipe up…", file=sys.stderr, flush=True)
        attached_s = run_attached(paths, base, workers)
        if args.keep:
            raw_dir = base / "raw"
            raw_dir.mkdir()
            for path, text in zip(paths, raw, strict=True):
                (raw_dir / f"{path.stem}.txt").write_text(text, encoding="utf-8")
        return report(inputs, raw, raw_s, raw1_s, raw2_s, run, load, raw1_cpu, attached_s)


if __name__ == "__main__":
    raise SystemExit(main())
