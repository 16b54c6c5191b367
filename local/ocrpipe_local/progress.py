"""Live progress of the long commands (``process``, ``replay``, ``backfill``), on stderr.

stdout keeps the results (the table, ``--json``); progress goes to stderr. On a terminal it is
rich's live display, redrawn in place; anywhere else (a log file, CI, a pipe) it is plain
lines, one per change worth a line, so a log still tells how the run went.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from types import TracebackType
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ocrpipe.events import (
    OUTCOME_EVENTS,
    DocumentUploaded,
    NotificationFailed,
    NotificationSent,
    OcrCompleted,
    WordsCounted,
)
from ocrpipe_local.archive import ArchivedEvent

#: What a document is doing once an event of each type arrived (after an outcome event: its
#: outcome).
STAGE_AFTER: dict[str, str] = {
    DocumentUploaded.DETAIL_TYPE: "reading the text",
    OcrCompleted.DETAIL_TYPE: "counting words",
    **{e.DETAIL_TYPE: e.OUTCOME for e in OUTCOME_EVENTS},
    NotificationSent.DETAIL_TYPE: "notified",
    NotificationFailed.DETAIL_TYPE: "notification failed",
}


def console(stream: TextIO | None = None) -> Console:
    return Console(file=stream if stream is not None else sys.stderr, highlight=False)


class _Live:
    """A rich live display on a terminal, nothing elsewhere; a context manager."""

    def __init__(self, stream: TextIO | None) -> None:
        self.console = console(stream)
        self.live: Live | None = None

    @property
    def on_terminal(self) -> bool:
        return self.console.is_terminal

    def _start(self, renderable: Table | Progress) -> None:
        if self.on_terminal:
            self.live = Live(renderable, console=self.console, refresh_per_second=4)
            self.live.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.live is not None:
            self.live.stop()
            self.live = None


class DocumentsProgress(_Live):
    """Each document of ``ocrpipe process`` with its stage, as its events arrive."""

    def __init__(
        self,
        names: Iterable[str],
        stream: TextIO | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(stream)
        self._clock = clock
        self._started = clock()
        self.stages: dict[str, str] = dict.fromkeys(names, "waiting")
        self._by_id: dict[str, str] = {}
        self._extra: dict[str, str] = {}

    def __enter__(self) -> DocumentsProgress:
        self._start(self._table())
        return self

    def _table(self) -> Table:
        table = Table(box=None, show_header=False, pad_edge=False)
        table.add_column(style="bold")
        table.add_column()
        for name, stage in self.stages.items():
            table.add_row(name, f"{stage}{self._extra.get(name, '')}")
        table.caption = f"{self._clock() - self._started:.0f} s"
        return table

    def _set(self, name: str, stage: str, extra: str = "") -> None:
        if self.stages.get(name) == stage and self._extra.get(name, "") == extra:
            return
        self.stages[name] = stage
        self._extra[name] = extra
        if self.live is not None:
            self.live.update(self._table())
        else:
            elapsed = self._clock() - self._started
            print(f"[{elapsed:6.1f} s] {name}: {stage}{extra}", file=self.console.file, flush=True)

    def uploaded(self, name: str, document_id: str) -> None:
        self._by_id[document_id] = name
        self._set(name, "uploaded")

    def upload_failed(self, name: str) -> None:
        self._set(name, "upload failed")

    def saw(self, event: ArchivedEvent) -> None:
        name = self._by_id.get(event.document_id)
        stage = STAGE_AFTER.get(event.detail_type)
        if name is None or stage is None:
            return
        extra = ""
        if event.detail_type == WordsCounted.DETAIL_TYPE:
            extra = f": {event.detail.get('total_words', 0)} words"
        elif event.detail_type == NotificationSent.DETAIL_TYPE:
            extra = f" by {event.detail.get('channel', 'e-mail')}"
        if self.stages.get(name) in ("notified", "notification failed") and stage != "notified":
            return  # a late duplicate never takes a document back
        self._set(name, stage, extra)


class CountsProgress(_Live):
    """``done/total`` with counts by result (backfill): a bar on a terminal; elsewhere a line
    for the first and the last state and at most one every ``every_s`` seconds between, so a
    log of a long backfill still says how far it got."""

    NAMES = ("ok", "rejected", "failed", "skipped")

    def __init__(
        self,
        total: int,
        stream: TextIO | None = None,
        *,
        description: str = "",
        every_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(stream)
        self.total = total
        self._every_s = every_s
        self._clock = clock
        self._last_line_at: float | None = None
        self._description = description
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=self.console,
        )
        self._task = self._progress.add_task(description, total=total, counts="")

    def __enter__(self) -> CountsProgress:
        self._start(self._progress)
        return self

    def parts(self, counts: Mapping[str, int]) -> str:
        """``ok=… rejected=… failed=… skipped=…``, and ``earlier=…`` for rows a previous run
        finished (a resumed backfill), when there are any."""
        parts = " ".join(f"{name}={counts.get(name, 0)}" for name in self.NAMES)
        return parts + (f" earlier={counts['done']}" if counts.get("done") else "")

    def line(self, done: int, counts: Mapping[str, int]) -> str:
        return f"{self._description} {done}/{self.total} {self.parts(counts)}".strip()

    def update(self, done: int, counts: Counter[str], *, final: bool = False) -> None:
        self._progress.update(self._task, completed=done, counts=self.parts(counts))
        if self.live is not None:
            return
        now = self._clock()
        due = self._last_line_at is None or now - self._last_line_at >= self._every_s
        if final or due:
            self._last_line_at = now
            print(self.line(done, counts), file=self.console.file, flush=True)


class QueuesProgress(_Live):
    """Messages left per consumer queue while a replay drains (and a plain line when the
    numbers change, off a terminal)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._last: dict[str, int] | None = None
        self._table = Table(box=None, show_header=False)

    def __enter__(self) -> QueuesProgress:
        self._start(self._table)
        return self

    def left(self, depths: Mapping[str, int]) -> None:
        shown = {name: n for name, n in sorted(depths.items()) if n}
        if shown == self._last:
            return
        self._last = shown
        line = ", ".join(f"{name} {n}" for name, n in shown.items()) or "nothing"
        if self.live is not None:
            table = Table(box=None, show_header=False)
            table.add_row("left in queues:", line)
            self.live.update(table)
        else:
            print(f"left in queues: {line}", file=self.console.file, flush=True)
