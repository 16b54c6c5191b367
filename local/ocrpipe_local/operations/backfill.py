"""``ocrpipe backfill``: put objects that already exist in S3 through the pipeline.

Rows come from a prefix listing (``s3://bucket/prefix``) or from a CSV manifest as S3
Inventory and S3 Batch Operations write them (``bucket,key[,version_id,...]``, quoted,
keys URL-encoded, no header). Each object is checked and announced by ingest's own code
(:class:`ingest.backfill.Backfiller`): ``DocumentUploaded``, or ``DocumentRejected`` with the
reason. Publishing is paced (``--rate`` objects per second, a token bucket) and batched (10
events per ``PutEvents``).

Resumable: every row's final result is appended to a checkpoint file
(``<state>/backfill/<job>.jsonl``, the job named after its source and stage). A re-run skips
rows already accepted or rejected and retries the failed ones; ``--restart`` forgets it.
Document ids are derived from bucket, key and ETag, so even without the checkpoint a re-run
announces the same documents (and every stage's idempotency skips them).

Result of a row: ``ok`` (DocumentUploaded published), ``rejected`` (DocumentRejected
published), ``failed`` (a transient AWS error: retried by the next run), ``skipped`` (not an
object: a "folder" key, a malformed manifest line, a missing object), ``done`` (finished by
an earlier run).
"""

from __future__ import annotations

import csv
import hashlib
import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from botocore.exceptions import BotoCoreError, ClientError

from ingest.backfill import BackfillCode, Backfiller, BackfillResult, decode_manifest_key
from ocrpipe.bus import EventPublisher, PublishError
from ocrpipe.events import OUTCOME_EVENTS, DocumentRejected, DocumentUploaded
from ocrpipe.storage import S3Location
from status.read_model import STAGE_OF_EVENT

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Results that are final: a re-run does not touch these rows again.
FINAL = frozenset({"ok", "rejected", "skipped"})
MAX_LISTED_PROBLEMS = 20
PUBLISH_BATCH = 10


class BackfillError(ValueError):
    """The backfill cannot start (bad source, unreadable manifest, missing bucket)."""


@dataclass(frozen=True)
class Row:
    """One object to backfill; ``line`` is its position in the source (1-based)."""

    line: int
    bucket: str
    key: str
    version_id: str | None = None
    problem: str = ""

    @property
    def ref(self) -> str:
        return json.dumps([self.bucket, self.key, self.version_id or ""], ensure_ascii=False)

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.bucket else f"line {self.line}"


# -- sources ---------------------------------------------------------------------------------


def parse_s3_prefix(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise BackfillError(f"expected s3://bucket/prefix, got {uri!r}")
    bucket, _, prefix = uri[len("s3://") :].partition("/")
    if not bucket:
        raise BackfillError(f"no bucket in {uri!r}")
    return bucket, prefix


def rows_from_prefix(s3: S3Client, uri: str) -> list[Row]:
    """Every object under the prefix, in S3's (lexicographic) order."""
    bucket, prefix = parse_s3_prefix(uri)
    rows: list[Row] = []
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                problem = "the key names a folder, not an object" if key.endswith("/") else ""
                rows.append(Row(len(rows) + 1, bucket, key, problem=problem))
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchBucket":
            raise BackfillError(f"bucket {bucket!r} does not exist") from exc
        raise
    return rows


def rows_from_inventory(path: Path) -> list[Row]:
    """Rows of an S3 Inventory / Batch Operations CSV manifest (keys URL-encoded)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise BackfillError(f"cannot read the manifest {path}: {exc}") from exc
    rows: list[Row] = []
    for number, fields in enumerate(csv.reader(text.splitlines()), start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) < 2 or not fields[0].strip() or not fields[1]:
            rows.append(
                Row(number, "", "", problem="expected bucket,key[,version_id] on this line")
            )
            continue
        bucket = fields[0].strip()
        key = decode_manifest_key(fields[1])
        version = fields[2].strip() if len(fields) > 2 and fields[2].strip() else None
        problem = "the key names a folder, not an object" if key.endswith("/") else ""
        rows.append(Row(number, bucket, key, version, problem=problem))
    return rows


# -- checkpoint ------------------------------------------------------------------------------


def job_name(source: str, stage: str) -> str:
    return hashlib.sha256(f"{stage}\n{source}".encode()).hexdigest()[:16]


class Checkpoint:
    """Append-only JSONL: one line per row result; the last line of a row wins."""

    def __init__(self, path: Path) -> None:
        self.path = path
        #: row ref -> (result, reason) of its latest attempt
        self.results: dict[str, tuple[str, str]] = {}
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self.results[str(entry["ref"])] = (
                        str(entry["result"]),
                        str(entry.get("reason") or ""),
                    )
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line from an interrupted run
        self._lock = threading.Lock()

    def is_done(self, row: Row) -> bool:
        return self.results.get(row.ref, ("", ""))[0] in FINAL

    def earlier(self, row: Row) -> tuple[str, str]:
        """``(result, reason)`` an earlier run recorded for ``row``."""
        return self.results.get(row.ref, ("", ""))

    def record(self, row: Row, result: str, *, document_id: str = "", reason: str = "") -> None:
        entry = {
            "ref": row.ref,
            "result": result,
            "document_id": document_id,
            "reason": reason,
            "at": datetime.now(UTC).isoformat(),
        }
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self.results[row.ref] = (result, reason)


# -- pacing and progress -----------------------------------------------------------------------


class RateLimiter:
    """A token bucket: at most ``rate`` acquisitions per second, bursts up to ``burst``."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("--rate must be > 0")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, min(rate, PUBLISH_BATCH))
        self._clock = clock
        self._sleep = sleep
        self._tokens = self.burst
        self._last = clock()

    def acquire(self) -> None:
        """Take a token; sleeps off the debt when there was none (no busy loop)."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now
        self._tokens -= 1
        if self._tokens < 0:
            self._sleep(-self._tokens / self.rate)


class ProgressSink(Protocol):
    """Where a run reports how far it got (:class:`ocrpipe_local.progress.CountsProgress`)."""

    def update(self, done: int, counts: Counter[str], *, final: bool = False) -> None: ...


# -- the run -------------------------------------------------------------------------------


@dataclass
class Problem:
    row: Row
    result: str
    reason: str


@dataclass
class BackfillSummary:
    total: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    document_ids: list[str] = field(default_factory=list)
    stopped_early: bool = False
    elapsed_s: float = 0.0

    @property
    def handled(self) -> int:
        return sum(self.counts.values())

    def add(
        self,
        row: Row,
        result: str,
        *,
        reason: str = "",
        document_id: str = "",
        earlier: str = "",
    ) -> None:
        """Count ``result``; ``earlier`` is what a previous run found for a ``done`` row."""
        self.counts[result] += 1
        listed = earlier or result
        if listed in ("rejected", "failed", "skipped"):
            note = " (earlier run)" if earlier else ""
            self.problems.append(Problem(row, listed, reason + note))
        if document_id:
            self.document_ids.append(document_id)

    def print(self, out: TextIO, *, limit: int = MAX_LISTED_PROBLEMS) -> None:
        c = self.counts
        print(
            f"{self.handled} of {self.total} row(s): {c['ok']} ok, {c['rejected']} rejected, "
            f"{c['failed']} failed, {c['skipped']} skipped, {c['done']} done before "
            f"in {self.elapsed_s:.1f} s",
            file=out,
        )
        for kind in ("failed", "rejected", "skipped"):
            listed = [p for p in self.problems if p.result == kind]
            if not listed:
                continue
            print(f"{kind}:", file=out)
            for problem in listed[:limit]:
                print(f"  {problem.row.uri}: {problem.reason}", file=out)
            if len(listed) > limit:
                print(f"  ... and {len(listed) - limit} more", file=out)
        if self.stopped_early:
            print("stopped before the end: run the same command again to resume", file=out)
        elif c["failed"]:
            print("some rows failed (transient errors): run again to retry them", file=out)


_TRANSIENT = (ClientError, BotoCoreError, PublishError)


def run_backfill(
    rows: list[Row],
    *,
    backfiller: Backfiller,
    publisher: EventPublisher,
    checkpoint: Checkpoint,
    limiter: RateLimiter,
    progress: ProgressSink | None = None,
    limit: int | None = None,
    stop: threading.Event | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> BackfillSummary:
    """Check and announce every row not finished before; returns what happened."""
    started = clock()
    summary = BackfillSummary(total=len(rows))
    pending: list[tuple[Row, BackfillResult, DocumentUploaded | DocumentRejected]] = []

    def flush() -> None:
        if not pending:
            return
        try:
            publisher.publish(*(event for _, _, event in pending))
        except _TRANSIENT as exc:
            for row, _, _ in pending:
                reason = f"could not publish: {_describe(exc)}"
                checkpoint.record(row, "failed", reason=reason)
                summary.add(row, "failed", reason=reason)
        else:
            for row, result, _ in pending:
                name = "ok" if result.code == BackfillCode.ACCEPTED else "rejected"
                checkpoint.record(row, name, document_id=result.document_id, reason=result.reason)
                summary.add(row, name, reason=result.reason, document_id=result.document_id)
        pending.clear()

    worked = 0
    try:
        for index, row in enumerate(rows):
            if stop is not None and stop.is_set():
                summary.stopped_early = True
                break
            if checkpoint.is_done(row):
                earlier, reason = checkpoint.earlier(row)
                summary.add(row, "done", reason=reason, earlier=earlier)
            elif limit is not None and worked >= limit:
                summary.stopped_early = True
                break
            else:
                worked += 1
                _handle(row, backfiller, checkpoint, summary, pending, limiter)
                if len(pending) >= PUBLISH_BATCH:
                    flush()
            if progress is not None:
                progress.update(index + 1 - len(pending), summary.counts)
    except KeyboardInterrupt:
        summary.stopped_early = True
    finally:
        flush()
    if progress is not None:
        progress.update(summary.handled, summary.counts, final=True)
    summary.elapsed_s = clock() - started
    return summary


def _handle(
    row: Row,
    backfiller: Backfiller,
    checkpoint: Checkpoint,
    summary: BackfillSummary,
    pending: list[tuple[Row, BackfillResult, DocumentUploaded | DocumentRejected]],
    limiter: RateLimiter,
) -> None:
    if row.problem:
        checkpoint.record(row, "skipped", reason=row.problem)
        summary.add(row, "skipped", reason=row.problem)
        return
    limiter.acquire()
    try:
        result, event = backfiller.check(row.bucket, row.key, version_id=row.version_id)
    except _TRANSIENT as exc:
        reason = _describe(exc)
        checkpoint.record(row, "failed", reason=reason)
        summary.add(row, "failed", reason=reason)
        return
    if event is None:  # missing object, invalid key: nothing to announce
        checkpoint.record(row, "skipped", reason=result.reason)
        summary.add(row, "skipped", reason=result.reason)
        return
    pending.append((row, result, event))


def _describe(exc: BaseException) -> str:
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{exc.operation_name}: {error.get('Code')} {error.get('Message', '')}".strip()
    return f"{type(exc).__name__}: {exc}"


def load_rows(source: str | None, inventory: Path | None, s3: S3Client) -> tuple[str, list[Row]]:
    """``(description of the source, rows)``."""
    if (source is None) == (inventory is None):
        raise BackfillError("give either s3://bucket/prefix or --inventory FILE.csv")
    if inventory is not None:
        rows = rows_from_inventory(inventory)
        digest = hashlib.sha256(inventory.read_bytes()).hexdigest()[:16]
        return f"inventory:{digest}", rows
    assert source is not None
    return source, rows_from_prefix(s3, source)


def source_uris(rows: Iterable[Row]) -> Iterator[str]:
    for row in rows:
        if row.bucket and row.key:
            yield S3Location(row.bucket, row.key).uri


def pipeline_outcomes(events: dict[str, list[Any]]) -> Counter[str]:
    """How far each backfilled document got (from its archived events): the status stage
    (``counted``, ``rejected``, ``ocr_failed``, ``count_failed``, as ``ocrpipe documents``
    shows it) of its outcome event, or ``pending`` without one."""
    outcome: Counter[str] = Counter()
    for evs in events.values():
        kinds = {e.detail_type for e in evs}
        found = [STAGE_OF_EVENT[e].value for e in OUTCOME_EVENTS if e.DETAIL_TYPE in kinds]
        outcome[found[0] if found else "pending"] += 1
    return outcome


def print_header(description: str, rows: list[Row], checkpoint: Checkpoint, out: TextIO) -> None:
    done = sum(checkpoint.is_done(r) for r in rows)
    resumed = f", {done} done by an earlier run (resuming)" if done else ""
    print(f"backfill {description}: {len(rows)} row(s){resumed}", file=out, flush=True)
