"""How commands find the stack ``ocrpipe up`` runs on a data directory, and attach to it.

A running :class:`~ocrpipe_local.stack.OneMachineStack` holds an exclusive ``flock`` on
``<data dir>/runtime.lock`` for as long as it runs and writes ``<data dir>/runtime.json``:
its process id, API URL, emulator endpoint and stage. A command looks for that lock: if it can
take the lock itself, no stack runs there (a stack killed with SIGKILL releases its lock with
its process, so a stale ``runtime.json`` is never believed); if it cannot, it reads
``runtime.json`` and talks to that stack the way any other client would -- the HTTP API for
uploads, the emulator's endpoint (dummy credentials) for storage, and the archive file the
stack appends every event to. A second stack on the same data directory is refused.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from ocrpipe_local import loopback
from ocrpipe_local.archive import ArchivedEvent, document_is_done

LOCK_FILE = "runtime.lock"
RUNTIME_FILE = "runtime.json"
ARCHIVE_FILE = "archive.jsonl"
#: How often a command waiting on a stack checks that it still runs.
LIVENESS_CHECK_S = 2.0


class AlreadyRunningError(RuntimeError):
    pass


@dataclass(frozen=True)
class RuntimeInfo:
    pid: int
    api_url: str
    endpoint_url: str
    stage: str
    started_at: float
    #: True for ``ocrpipe up``; a command's own stack (it stops with the command) holds the
    #: directory but is not for others to attach to.
    attachable: bool = True
    #: The consumers it runs: name -> queue URL (and -> DLQ URL).
    queues: dict[str, str] = field(default_factory=dict)
    dlqs: dict[str, str] = field(default_factory=dict)
    #: Extra consumer packages it was started with (``--consumer``).
    consumer_packages: list[str] = field(default_factory=list)


class Claim:
    """A stack's hold on its data directory: the lock from start to stop, and once it is
    serving, the runtime file that tells commands where (:meth:`publish`)."""

    def __init__(self, state_dir: Path) -> None:
        self._state_dir = state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        lock: IO[str] = (state_dir / LOCK_FILE).open("a+")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.close()
            running = _read_info(state_dir)
            who = f" (pid {running.pid}, API {running.api_url})" if running else ""
            raise AlreadyRunningError(
                f"an ocrpipe stack already runs on {state_dir.resolve()}{who}; "
                "stop it, or give this one another --data-dir"
            ) from None
        self._lock = lock
        # Left by a stack that was killed: nobody held the lock, so nothing it says is true.
        (state_dir / RUNTIME_FILE).unlink(missing_ok=True)

    def publish(self, info: RuntimeInfo) -> None:
        tmp = self._state_dir / f".{RUNTIME_FILE}.{os.getpid()}"
        tmp.write_text(json.dumps(asdict(info), indent=2) + "\n", encoding="utf-8")
        tmp.replace(self._state_dir / RUNTIME_FILE)

    def release(self) -> None:
        (self._state_dir / RUNTIME_FILE).unlink(missing_ok=True)
        fcntl.flock(self._lock, fcntl.LOCK_UN)
        self._lock.close()


def _read_info(state_dir: Path) -> RuntimeInfo | None:
    try:
        raw = json.loads((state_dir / RUNTIME_FILE).read_text(encoding="utf-8"))
        return RuntimeInfo(**raw)
    except (OSError, ValueError, TypeError):
        return None


def find_running(state_dir: Path) -> RuntimeInfo | None:
    """The stack running on ``state_dir`` in another process, or None."""
    lock_path = state_dir / LOCK_FILE
    if not lock_path.exists():
        return None
    with lock_path.open("a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            info = _read_info(state_dir)
            return info if info is not None and info.pid != os.getpid() else None
        fcntl.flock(lock, fcntl.LOCK_UN)
    return None


class AttachedStack:
    """What a command needs of a stack that runs in another process."""

    def __init__(self, state_dir: Path, info: RuntimeInfo) -> None:
        self.state_dir = state_dir
        self.info = info
        self.api_url = info.api_url
        self.endpoint_url = info.endpoint_url
        #: Set when the stack stopped while this command waited on it.
        self.stopped = False
        self._clients: dict[str, Any] = {}
        loopback.loopback_without_proxy()

    @property
    def archive_path(self) -> Path:
        return self.state_dir / ARCHIVE_FILE

    @property
    def outbox_dir(self) -> Path:
        return (self.state_dir / "outbox").resolve()

    @property
    def functions_log(self) -> Path:
        return self.state_dir / "logs" / "functions.jsonl"

    def client(self, service_name: str) -> Any:
        """A boto3 client for the stack's emulator, as the AWS CLI would use it; one per
        service (making one loads the service's model, ~0.2 s of CPU)."""
        found = self._clients.get(service_name)
        if found is None:
            import boto3  # only commands that call AWS APIs pay for importing it

            found = boto3.session.Session().client(
                service_name,  # type: ignore[call-overload]
                endpoint_url=self.endpoint_url,
                region_name=loopback.REGION,
                **loopback.DUMMY_CREDENTIALS,
            )
            self._clients[service_name] = found
        return found

    def queue_depths(self) -> dict[str, int]:
        """Messages in each consumer's queue and DLQ (visible + in flight + delayed)."""
        sqs = self.client("sqs")
        names = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
        depths: dict[str, int] = {}
        queues = {**self.info.queues, **{f"{n}-dlq": u for n, u in self.info.dlqs.items()}}
        for name, url in queues.items():
            attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
            values = attrs.get("Attributes", {})
            depths[name] = sum(
                int(values.get(a, 0)) for a in (*names, "ApproximateNumberOfMessagesDelayed")
            )
        return depths

    def drain(
        self,
        timeout: float = 60.0,
        *,
        poll_s: float = 0.5,
        on_depths: Callable[[dict[str, int]], None] | None = None,
    ) -> bool:
        """True once every consumer queue is empty twice in a row (DLQs aside);
        ``on_depths`` is told the messages left per consumer as it goes."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            depths = self.queue_depths()
            left = {name: n for name, n in depths.items() if name in self.info.queues}
            if on_depths is not None:
                on_depths(left)
            busy = sum(left.values())
            quiet = quiet + 1 if busy == 0 else 0
            if quiet >= 2:
                return True
            time.sleep(poll_s)
        return False

    def wait_for(
        self,
        document_ids: Collection[str],
        timeout: float,
        *,
        notified: Collection[str] = (),
        on_event: Callable[[ArchivedEvent], None] | None = None,
        poll_s: float = 0.25,
    ) -> dict[str, list[ArchivedEvent]]:
        """Each document's archived events once all reached an outcome, or at ``timeout``, or
        as soon as the stack stops running (then :attr:`stopped` is set).

        The same rule as :meth:`OneMachineStack.wait_for`, read from the archive file the running
        stack appends to; ``on_event`` is called with each of their events as it arrives."""
        ids, must_notify = set(document_ids), set(notified)
        by_doc: dict[str, list[ArchivedEvent]] = {d: [] for d in ids}
        offset = 0
        deadline = time.monotonic() + timeout
        next_check = time.monotonic() + LIVENESS_CHECK_S
        while True:
            new, offset = _read_new(self.archive_path, offset)
            for event in new:
                if event.document_id in by_doc:
                    by_doc[event.document_id].append(event)
                    if on_event is not None:
                        on_event(event)
            done = all(
                document_is_done(events, needs_notification=d in must_notify)
                for d, events in by_doc.items()
            )
            if done or time.monotonic() >= deadline:
                return by_doc
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + LIVENESS_CHECK_S
                if not self.running():
                    self.stopped = True
                    return by_doc
            time.sleep(poll_s)

    def running(self) -> bool:
        """Whether the stack attached to still runs (the same process holds the directory)."""
        now = find_running(self.state_dir)
        return now is not None and now.pid == self.info.pid


def _read_new(path: Path, offset: int) -> tuple[list[ArchivedEvent], int]:
    """Events in whole lines after ``offset``; the offset after the last whole line."""
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            chunk = fh.read()
    except FileNotFoundError:
        return [], offset
    whole = chunk[: chunk.rfind(b"\n") + 1]
    events = []
    for line in whole.decode("utf-8", "replace").splitlines():
        if line.strip():
            try:
                events.append(ArchivedEvent.from_json(line))
            except (ValueError, KeyError):
                continue
    return events, offset + len(whole)
