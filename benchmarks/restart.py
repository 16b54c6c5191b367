"""Start-up time of a kept local stack: an empty data directory vs one with 1,000 documents.

    .venv/bin/python benchmarks/restart.py [--documents 1000] [--repeat 3] [--keep DIR]

1. Runs ``--seed-docs`` real documents (copies of ``samples/clean-scan.png`` with distinct
   bytes) through a ``OneMachineStack`` on a fresh data directory, e-mail notification included, so
   the data directory holds what real documents leave behind: uploads bucket, OCR text and
   cache, results, status records, idempotency records, archived events.
2. Copies that footprint until it stands for ``--documents`` documents: every stored object
   and item of the seed documents, and every archived event, again under new names (sizes
   and shapes unchanged; only names differ).
3. Times, in the same run, ``OneMachineStack.start()`` + ``stop()`` ``--repeat`` times on an empty
   data directory (the baseline) and on the filled one, and prints both, their ratio and
   what the start restored.

The stacks run with no workers: what is timed is starting and restoring, not processing.
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ocrpipe_local import durable  # noqa: E402
from ocrpipe_local.discovery import discover  # noqa: E402
from ocrpipe_local.stack import OneMachineStack  # noqa: E402
from tests.local_uploads import upload  # noqa: E402


def seed(data: Path, count: int) -> None:
    image = (ROOT / "samples" / "clean-scan.png").read_bytes()
    with OneMachineStack(state_dir=data) as stack, requests.Session() as session:
        session.trust_env = False
        ids = [
            upload(session, stack.api_url, f"seed-{i}.png", image + bytes([i]), email="a@b.c")[
                "document_id"
            ]
            for i in range(count)
        ]
        stack.wait_for(ids, timeout=600, notified=ids)
        if not stack.drain(timeout=60):
            raise SystemExit("the seed documents did not finish")


def multiply(data: Path, copies: int) -> None:
    """Every stored object, item and archived event again, ``copies`` times, renamed."""
    with sqlite3.connect(data / durable.FILE_NAME) as db:
        objects = db.execute("SELECT bucket, key, body, attributes FROM objects").fetchall()
        items = db.execute("SELECT tbl, key, item FROM items").fetchall()
        for n in range(1, copies):
            db.executemany(
                "INSERT INTO objects (bucket, key, body, attributes) VALUES (?, ?, ?, ?)",
                [(b, f"{k}.copy{n}", body, a) for b, k, body, a in objects],
            )
            db.executemany(
                "INSERT INTO items (tbl, key, item) VALUES (?, ?, ?)",
                [(t, _renamed_key(k, n), _renamed_item(i, n)) for t, k, i in items],
            )
    archive = data / "archive.jsonl"
    lines = archive.read_text(encoding="utf-8").splitlines()
    with archive.open("a", encoding="utf-8") as fh:
        for n in range(1, copies):
            for line in lines:
                fh.write(line.replace('"message_id":"', f'"message_id":"copy{n}-', 1) + "\n")


def _renamed_key(key_json: str, n: int) -> str:
    return key_json.replace('"}', f'.copy{n}"}}', 1)


def _renamed_item(item_json: str, n: int) -> str:
    # The key attribute is the first string value of the item's key (pk or id).
    for name in ('"pk": {"S": "', '"id": {"S": "'):
        if name in item_json:
            start = item_json.index(name) + len(name)
            end = item_json.index('"', start)
            return item_json[:end] + f".copy{n}" + item_json[end:]
    return item_json


def timed_starts(data: Path, repeat: int) -> tuple[list[float], durable.Restored | None]:
    no_workers = dict.fromkeys(discover().consumers, 0)
    times: list[float] = []
    restored = None
    for _ in range(repeat):
        started = time.perf_counter()
        stack = OneMachineStack(state_dir=data, workers=no_workers).start()
        restored = stack.restored
        stack.stop()
        times.append(time.perf_counter() - started)
    return times, restored


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--documents", type=int, default=1000)
    parser.add_argument("--seed-docs", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="leave the data directories here")
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="ocrpipe-restart-"))
    empty, full = work / "empty", work / "full"
    try:
        seed(full, args.seed_docs)
        multiply(full, max(1, args.documents // args.seed_docs))
        size_mb = sum(p.stat().st_size for p in full.rglob("*") if p.is_file()) / 1e6
        # The baseline first and last, so a warming machine favours neither.
        base_a, _ = timed_starts(empty, args.repeat)
        filled, restored = timed_starts(full, args.repeat)
        base_b, _ = timed_starts(empty, args.repeat)
        base = statistics.median(base_a + base_b)
        full_s = statistics.median(filled)
        assert restored is not None
        print(f"documents stored        {args.documents} ({size_mb:.1f} MB in {full})")
        print(
            f"restored per start      {restored.objects} objects, {restored.items} items, "
            f"{restored.messages} messages in {restored.seconds:.2f} s"
        )
        print(f"start+stop, empty       {base:.2f} s (median of {2 * args.repeat})")
        print(f"start+stop, {args.documents} docs  {full_s:.2f} s (median of {args.repeat})")
        print(f"ratio                   {full_s / base:.2f}x the empty data directory")
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
