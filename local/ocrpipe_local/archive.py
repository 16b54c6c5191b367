"""The local event archive: every domain event on the custom bus, in order of arrival.

A queue subscribed with ``{"source": [{"prefix": "ocrpipe."}]}`` is drained by one thread into
an in-memory list and an append-only JSONL file (``<state>/archive.jsonl``), one line per event:
``{"archived_at": ISO-8601, "message_id": <SQS message id>, "envelope": <EventBridge envelope>}``.
The CLI learns each document's outcome from it; replay (issue #4) can re-put the envelopes.

Duplicates are recognised by SQS message id (a redelivery of the same message), never by the
envelope ``id``: moto gives every S3 event the same id, and two real publications of an equal
event are two events that an archive must keep.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ocrpipe.envelope import Envelope, UnknownEventError
from ocrpipe.events import OUTCOME_EVENTS, DomainEvent, NotificationFailed, NotificationSent

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

#: The events that end a document's way through the pipeline, and those that tell its person.
OUTCOMES = frozenset((e.SOURCE, e.DETAIL_TYPE) for e in OUTCOME_EVENTS)
NOTIFIED = frozenset((e.SOURCE, e.DETAIL_TYPE) for e in (NotificationSent, NotificationFailed))


def document_is_done(events: Iterable[ArchivedEvent], *, needs_notification: bool) -> bool:
    """Whether a document's archived ``events`` hold its outcome (and, when its person is to
    be told, the notification's)."""
    kinds = {(e.source, e.detail_type) for e in events}
    if not kinds & OUTCOMES:
        return False
    return not needs_notification or bool(kinds & NOTIFIED)


@dataclass(frozen=True)
class ArchivedEvent:
    archived_at: datetime
    message_id: str
    envelope: dict[str, Any]

    @property
    def source(self) -> str:
        return str(self.envelope.get("source", ""))

    @property
    def detail_type(self) -> str:
        return str(self.envelope.get("detail-type", ""))

    @property
    def detail(self) -> dict[str, Any]:
        detail = self.envelope.get("detail")
        return detail if isinstance(detail, dict) else {}

    @property
    def document_id(self) -> str:
        return str(self.detail.get("document_id", ""))

    def event(self) -> DomainEvent | None:
        """The typed domain event, or ``None`` if it matches no contract."""
        try:
            return Envelope.model_validate(self.envelope).domain_event()
        except (UnknownEventError, ValueError):
            return None

    def to_json(self) -> str:
        return json.dumps(
            {
                "archived_at": self.archived_at.isoformat(),
                "message_id": self.message_id,
                "envelope": self.envelope,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, line: str) -> ArchivedEvent:
        raw = json.loads(line)
        return cls(
            archived_at=datetime.fromisoformat(raw["archived_at"]),
            message_id=raw["message_id"],
            envelope=raw["envelope"],
        )


def read_archive(path: Path) -> list[ArchivedEvent]:
    """Every event recorded in an archive file (skips a torn last line)."""
    events: list[ArchivedEvent] = []
    if not path.exists():
        return events
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                try:
                    events.append(ArchivedEvent.from_json(line))
                except (ValueError, KeyError):
                    log.warning("skipping unreadable archive line")
    return events


class EventArchive:
    """Drains the archive queue on a thread; waiters block on a condition."""

    def __init__(self, sqs: SQSClient, queue_url: str, path: Path) -> None:
        self._sqs = sqs
        self._queue_url = queue_url
        self.path = path
        self._events: list[ArchivedEvent] = []
        self._seen: set[str] = set()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Load what the file already holds (a restarted stack's archive goes on, and the
        redelivery of a message it archived before being killed is recognised), then drain."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._changed:
            self._events = read_archive(self.path)
            self._seen = {event.message_id for event in self._events}
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="ocrpipe-archive", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Let the thread end after its current poll, without waiting for it (so its last
        long poll overlaps the workers'); :meth:`stop` joins it and archives the rest."""
        self._stop.set()

    def stop(self) -> None:
        """Stop the thread, then archive whatever is still queued (events of final batches)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
            try:
                while self.poll_once(wait_s=0):
                    pass
            except Exception:
                log.exception("final archive drain failed")

    @property
    def events(self) -> list[ArchivedEvent]:
        with self._changed:
            return list(self._events)

    def for_documents(self, document_ids: Iterable[str]) -> dict[str, list[ArchivedEvent]]:
        wanted: dict[str, list[ArchivedEvent]] = {d: [] for d in document_ids}
        with self._changed:
            for event in self._events:
                if event.document_id in wanted:
                    wanted[event.document_id].append(event)
        return wanted

    def wait_until(self, predicate: Callable[[list[ArchivedEvent]], bool], timeout: float) -> bool:
        """Block until ``predicate(all events)`` is true or ``timeout`` passes."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self._events):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._changed.wait(min(remaining, 0.5))
            return True

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once(wait_s=1)
            except Exception:  # keep archiving through emulator hiccups
                log.exception("archive poll failed")
                self._stop.wait(0.5)

    def poll_once(self, *, wait_s: int) -> int:
        response = self._sqs.receive_message(
            QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_s
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        added: list[ArchivedEvent] = []
        for message in messages:
            message_id = message["MessageId"]
            if message_id in self._seen:
                continue
            try:
                envelope = json.loads(message.get("Body", ""))
            except ValueError:
                envelope = {"unparseable_body": message.get("Body", "")}
            if not isinstance(envelope, dict):
                envelope = {"unparseable_body": message.get("Body", "")}
            added.append(ArchivedEvent(datetime.now(UTC), message_id, envelope))
        if added:
            with self.path.open("a", encoding="utf-8") as fh:
                for event in added:
                    fh.write(event.to_json() + "\n")
            with self._changed:
                for event in added:
                    self._seen.add(event.message_id)
                    self._events.append(event)
                self._changed.notify_all()
        self._sqs.delete_message_batch(
            QueueUrl=self._queue_url,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        return len(added)
