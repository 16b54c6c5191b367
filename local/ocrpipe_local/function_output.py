"""Where the functions' output goes under the local runtime, and powertools Metrics safety.

In Lambda a function's stdout/stderr (powertools' JSON log lines, EMF metric blobs) goes to
CloudWatch Logs. Locally the handlers run in threads of the CLI's own process, so their output
would be mixed into the CLI's table. The runtime therefore:

* replaces ``sys.stdout``/``sys.stderr`` with a :class:`ThreadRoutedStream` while a stack runs:
  writes from a runtime thread (queue workers, HTTP API request threads, which call
  :func:`route_current_thread`) go to ``<state>/logs/functions.jsonl``, all other writes go to
  the original stream;
* re-points the stream handlers of loggers that powertools configured (recognised by their
  ``LambdaPowertoolsFormatter``) at that router, in case they captured the real stdout when
  their module was imported before the stack started;
* serialises powertools Metrics. ``Metrics`` keeps its metric set in class-level dicts shared by
  every instance in the process; two threads flushing at once would iterate a dict another
  thread is changing. :func:`serialise_powertools_metrics` wraps the EMF provider's methods in
  one process-wide lock. Metrics stay enabled (the EMF JSON lands in ``functions.jsonl``);
  a flush may include another concurrent invocation's metrics, which is harmless locally.
  (``POWERTOOLS_METRICS_DISABLED=true`` was rejected: disabled metrics are never cleared and
  still get serialised from ``add_metric`` every 100 values, racing as before.)
"""

from __future__ import annotations

import functools
import io
import logging
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

_local = threading.local()
_metrics_lock = threading.RLock()
_METRICS_PATCHED = "_ocrpipe_local_serialised"


def route_current_thread(target: TextIO | None) -> None:
    """Send this thread's stdout/stderr writes to ``target`` (``None``: the terminal)."""
    _local.target = target


class ThreadRoutedStream(io.TextIOBase):
    def __init__(self, fallback: TextIO) -> None:
        super().__init__()
        self.fallback = fallback

    def _target(self) -> TextIO:
        target: TextIO | None = getattr(_local, "target", None)
        if target is None or target.closed:
            return self.fallback
        return target

    def write(self, s: str) -> int:
        target = self._target()
        if target is self.fallback:
            return target.write(s)
        with _SharedLog.lock:
            return target.write(s)

    def flush(self) -> None:
        target = self._target()
        if not target.closed:
            target.flush()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self.fallback, "encoding", None) or "utf-8"

    def isatty(self) -> bool:
        """The CLI's own writes (its live progress) see the terminal they go to."""
        target = self._target()
        return target is self.fallback and bool(getattr(target, "isatty", lambda: False)())


class _SharedLog:
    lock = threading.Lock()


class FunctionOutput:
    """Owns the functions' log file and the stdout/stderr routing while a stack runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: TextIO | None = None
        self._saved: tuple[Any, Any] | None = None
        self._repointed: list[tuple[logging.StreamHandler[Any], Any]] = []

    @property
    def file(self) -> TextIO:
        if self._file is None:
            raise RuntimeError("function output is not open")
        return self._file

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self.path.open("a", encoding="utf-8", buffering=1)
        self._saved = (sys.stdout, sys.stderr)
        sys.stdout = ThreadRoutedStream(sys.stdout)
        sys.stderr = ThreadRoutedStream(sys.stderr)

    def capture_powertools_loggers(self) -> None:
        """Re-point powertools loggers' stream handlers at the router (idempotent)."""
        try:
            from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
        except ImportError:  # pragma: no cover - powertools is a dependency of every service
            return
        for logger in list(logging.Logger.manager.loggerDict.values()):
            if not isinstance(logger, logging.Logger):
                continue
            for handler in logger.handlers:
                if (
                    type(handler) is logging.StreamHandler
                    and isinstance(handler.formatter, LambdaPowertoolsFormatter)
                    and not isinstance(handler.stream, ThreadRoutedStream)
                ):
                    self._repointed.append((handler, handler.stream))
                    handler.setStream(sys.stdout)

    def close(self) -> None:
        for handler, stream in self._repointed:
            handler.setStream(stream)
        self._repointed.clear()
        if self._saved is not None:
            sys.stdout, sys.stderr = self._saved
            self._saved = None
        if self._file is not None:
            with _SharedLog.lock:
                self._file.close()
            self._file = None


def serialise_powertools_metrics() -> None:
    """Guard powertools' shared EMF metric set with one lock (idempotent)."""
    try:
        from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import (
            AmazonCloudWatchEMFProvider,
        )
    except ImportError:  # pragma: no cover
        return
    if getattr(AmazonCloudWatchEMFProvider, _METRICS_PATCHED, False):
        return
    for name in (
        "add_metric",
        "add_dimension",
        "add_metadata",
        "serialize_metric_set",
        "flush_metrics",
        "clear_metrics",
    ):
        original = getattr(AmazonCloudWatchEMFProvider, name, None)
        if callable(original):
            setattr(AmazonCloudWatchEMFProvider, name, _locked(original))
    setattr(AmazonCloudWatchEMFProvider, _METRICS_PATCHED, True)


def _locked(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _metrics_lock:
            return method(*args, **kwargs)

    return wrapper
