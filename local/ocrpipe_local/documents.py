"""``ocrpipe documents``: every document the data directory has seen, from its event archive.

The archive file (``<data dir>/archive.jsonl``) is the one record that outlives a stack: the
runtime appends every domain event to it, and it stays when the stack stops or is killed. A
document's state is what the status service's read model makes of its events
(:func:`status.read_model.apply`, the same fold that serves ``GET /documents/{id}``), so this
list and the API never disagree on what a stage means.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from ocrpipe.events import WordsCounted
from ocrpipe_local.archive import ArchivedEvent, read_archive
from status.read_model import DocumentStatus, apply


@dataclass
class DocumentView:
    status: DocumentStatus
    top_words: list[tuple[str, int]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    language: str | None = None

    @property
    def updated_at(self) -> datetime:
        return self.status.updated_at


def fold(archived: Iterable[ArchivedEvent]) -> dict[str, DocumentView]:
    """Each document's view after its archived events (order-independent, duplicates ignored)."""
    views: dict[str, DocumentView] = {}
    for item in archived:
        event = item.event()
        if event is None:
            continue
        current = views.get(event.document_id)
        try:
            status = apply(current.status if current else None, event)
        except ValueError:  # an event type the read model has no stage for
            continue
        view = current or DocumentView(status)
        view.status = status
        view.events.append(item.detail_type)
        if isinstance(event, WordsCounted):
            view.top_words = [(w.word, w.count) for w in event.top_words]
            view.language = event.language
        views[event.document_id] = view
    return views


def load(state_dir: Path) -> list[DocumentView]:
    """The documents of ``state_dir``, newest first."""
    views = fold(read_archive(state_dir / "archive.jsonl"))
    return sorted(views.values(), key=lambda v: v.updated_at, reverse=True)
