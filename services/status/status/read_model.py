"""The status read model: what is known about one document, built only from domain events.

:func:`apply` is a pure reducer, ``apply(record | None, event) -> record``. Events arrive out of
order and more than once (queue retries, replays from the archive), so the reducer must give the
same record for the same *set* of events, whatever their order and however often each arrives:

* The record keeps one :class:`StageFact` per stage: the few fields status needs from the
  latest event of that stage. Merging keeps, per stage, the fact with the later ``occurred_at``
  (ties broken by the fact's content, so the choice never depends on arrival order). This merge
  is commutative, associative and idempotent; everything else is derived from the facts.
* ``stage`` is derived by pipeline position, not by arrival: the latest outcome of each step
  (ingest: uploaded/rejected, ocr: ocr_completed/ocr_failed, count: counted/count_failed,
  notify: notified/notification_failed). A pipeline failure (rejected, ocr_failed,
  count_failed) is terminal and stays
  the stage even after the person has been notified of it; otherwise the furthest step reached
  is the stage. Within one step the later event wins, so a re-OCR that fails after an earlier
  success shows ``ocr_failed`` (the earlier result stays readable), and a re-OCR that succeeds
  after a failure clears it.
* Field values follow "latest ``occurred_at`` wins" over the events that carry them; the
  failure fields describe the failure the stage names and are empty otherwise.

Nothing here knows about AWS; :mod:`status.store` persists records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from ocrpipe import events


class Stage(StrEnum):
    UPLOADED = "uploaded"
    REJECTED = "rejected"
    OCR_COMPLETED = "ocr_completed"
    OCR_FAILED = "ocr_failed"
    COUNTED = "counted"
    COUNT_FAILED = "count_failed"
    NOTIFIED = "notified"
    NOTIFICATION_FAILED = "notification_failed"


#: Failures after which the pipeline does nothing more for the document.
PIPELINE_FAILURES = frozenset({Stage.REJECTED, Stage.OCR_FAILED, Stage.COUNT_FAILED})
FAILURE_STAGES = PIPELINE_FAILURES | {Stage.NOTIFICATION_FAILED}

#: ``failure_code`` of a failed delivery (NotificationFailed carries a reason, no code).
DELIVERY_FAILED = "delivery_failed"

#: Fields of :class:`DocumentStatus` that are never shown to the token holder.
INTERNAL_FIELDS = frozenset(
    {"access_token_sha256", "facts", "text_uri", "result_uri", "result_csv_uri"}
)

STAGE_OF_EVENT: dict[type[events.DomainEvent], Stage] = {
    events.DocumentUploaded: Stage.UPLOADED,
    events.DocumentRejected: Stage.REJECTED,
    events.OcrCompleted: Stage.OCR_COMPLETED,
    events.OcrFailed: Stage.OCR_FAILED,
    events.WordsCounted: Stage.COUNTED,
    events.WordCountFailed: Stage.COUNT_FAILED,
    events.NotificationSent: Stage.NOTIFIED,
    events.NotificationFailed: Stage.NOTIFICATION_FAILED,
}


class StageFact(BaseModel):
    """What the read model keeps of the latest event of one stage (no personal data)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    occurred_at: datetime
    filename: str = ""
    access_token_sha256: str | None = None
    text_uri: str | None = None
    result_uri: str | None = None
    result_csv_uri: str | None = None
    total_words: int | None = None
    unique_words: int | None = None
    characters: int | None = None
    top_words: list[events.WordCount] | None = None
    language: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    channel: Literal["email", "webhook"] | None = None

    def order_key(self) -> tuple[datetime, str]:
        """Later ``occurred_at`` wins; equal times are decided by content, never by arrival."""
        return (self.occurred_at, self.model_dump_json())


class DocumentStatus(BaseModel):
    """The read model of one document. Build it with :func:`apply` or :meth:`from_facts`."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    document_id: str
    stage: Stage
    filename: str = ""
    timestamps: dict[Stage, datetime]
    text_uri: str | None = None
    result_uri: str | None = None
    result_csv_uri: str | None = None
    total_words: int | None = None
    unique_words: int | None = None
    characters: int | None = None
    top_words: list[events.WordCount] = []
    language: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = None
    notification_channel: Literal["email", "webhook"] | None = None
    updated_at: datetime
    access_token_sha256: str | None = None
    facts: dict[Stage, StageFact]

    @classmethod
    def from_facts(cls, document_id: str, facts: dict[Stage, StageFact]) -> DocumentStatus:
        """Derive every field from the per-stage facts (the only state that is merged)."""
        if not facts:
            raise ValueError("a document status needs at least one event")
        stage = _derive_stage(facts)
        failure = facts[stage] if stage in FAILURE_STAGES else None
        counted = facts.get(Stage.COUNTED)
        notified = _latest(facts, Stage.NOTIFIED, Stage.NOTIFICATION_FAILED)
        return cls(
            document_id=document_id,
            stage=stage,
            filename=_latest_value(facts, "filename", tuple(Stage)) or "",
            timestamps={s: facts[s].occurred_at for s in Stage if s in facts},
            text_uri=_latest_value(facts, "text_uri", (Stage.OCR_COMPLETED, Stage.COUNTED)),
            result_uri=counted.result_uri if counted else None,
            result_csv_uri=counted.result_csv_uri if counted else None,
            total_words=counted.total_words if counted else None,
            unique_words=counted.unique_words if counted else None,
            characters=counted.characters if counted else None,
            top_words=list(counted.top_words or []) if counted else [],
            language=counted.language if counted else None,
            failure_code=failure.failure_code if failure else None,
            failure_reason=failure.failure_reason if failure else None,
            notification_channel=facts[notified].channel if notified else None,
            updated_at=max(f.occurred_at for f in facts.values()),
            access_token_sha256=_latest_value(
                facts, "access_token_sha256", (Stage.UPLOADED, Stage.REJECTED)
            ),
            facts=dict(facts),
        )

    def public(self) -> dict[str, Any]:
        """What ``GET /documents/{id}`` returns: no token hash, no internal facts, no internal
        ``s3://`` addresses (people get links to the files instead: :attr:`files`)."""
        view: dict[str, Any] = self.model_dump(mode="json", exclude=set(INTERNAL_FIELDS))
        return view

    @property
    def files(self) -> dict[str, str | None]:
        """The document's downloadable files (``ocrpipe.links`` names) -> ``s3://`` URIs."""
        return {
            "text.txt": self.text_uri,
            "counts.json": self.result_uri,
            "counts.csv": self.result_csv_uri,
        }


def stage_of(event: events.DomainEvent) -> Stage:
    try:
        return STAGE_OF_EVENT[type(event)]
    except KeyError:
        raise ValueError(f"status has no stage for {type(event).__name__}") from None


def fact_of(event: events.DomainEvent) -> StageFact:
    """The fields status keeps from one event. Recipients are never kept."""
    fields: dict[str, Any] = {"occurred_at": _utc(event.occurred_at), "filename": event.filename}
    match event:
        case events.DocumentUploaded():
            fields["access_token_sha256"] = event.access_token_sha256
        case events.DocumentRejected():
            fields["access_token_sha256"] = event.access_token_sha256
            fields["failure_code"] = event.reason_code.value
            fields["failure_reason"] = event.reason
        case events.OcrCompleted():
            fields["text_uri"] = event.text_uri
        case events.OcrFailed() | events.WordCountFailed():
            fields["failure_code"] = event.reason_code.value
            fields["failure_reason"] = event.reason
        case events.WordsCounted():
            fields["text_uri"] = event.text_uri
            fields["result_uri"] = event.result_uri
            fields["result_csv_uri"] = event.result_csv_uri
            fields["total_words"] = event.total_words
            fields["unique_words"] = event.unique_words
            fields["characters"] = event.characters
            fields["top_words"] = list(event.top_words)
            fields["language"] = event.language
        case events.NotificationSent():
            fields["channel"] = event.channel
        case events.NotificationFailed():
            fields["channel"] = event.channel
            fields["failure_code"] = DELIVERY_FAILED
            fields["failure_reason"] = event.reason
    return StageFact(**fields)


def apply(record: DocumentStatus | None, event: events.DomainEvent) -> DocumentStatus:
    """The record after ``event``. Order-independent and idempotent (see the module doc)."""
    if record is not None and record.document_id != event.document_id:
        raise ValueError("event and record are about different documents")
    stage = stage_of(event)
    fact = fact_of(event)
    if record is None:
        return DocumentStatus.from_facts(event.document_id, {stage: fact})
    current = record.facts.get(stage)
    if current is not None and current.order_key() >= fact.order_key():
        return record  # a duplicate, or older than what is known: nothing changes
    return DocumentStatus.from_facts(event.document_id, {**record.facts, stage: fact})


def _utc(moment: datetime) -> datetime:
    """Naive times are taken as UTC (producers emit aware UTC; be lenient, never crash)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _latest(facts: dict[Stage, StageFact], *stages: Stage) -> Stage | None:
    """Of ``stages``, the one whose fact is latest; a failure wins a tie."""
    present = [s for s in stages if s in facts]
    if not present:
        return None
    return max(present, key=lambda s: (facts[s].occurred_at, s in FAILURE_STAGES, s.value))


def _latest_value(
    facts: dict[Stage, StageFact], field: str, stages: tuple[Stage, ...]
) -> str | None:
    """The latest non-empty value of ``field`` among the facts of ``stages``."""
    candidates = [
        facts[s] for s in stages if s in facts and getattr(facts[s], field) not in (None, "")
    ]
    if not candidates:
        return None
    value: str = getattr(max(candidates, key=StageFact.order_key), field)
    return value


def _derive_stage(facts: dict[Stage, StageFact]) -> Stage:
    ingest = _latest(facts, Stage.UPLOADED, Stage.REJECTED)
    ocr = _latest(facts, Stage.OCR_COMPLETED, Stage.OCR_FAILED)
    count = _latest(facts, Stage.COUNTED, Stage.COUNT_FAILED)
    notify = _latest(facts, Stage.NOTIFIED, Stage.NOTIFICATION_FAILED)
    for outcome in (ingest, ocr, count):
        if outcome is not None and outcome in PIPELINE_FAILURES:
            return outcome
    if notify is not None:
        return notify
    for stage in (Stage.COUNTED, Stage.OCR_COMPLETED, Stage.UPLOADED):
        if stage in facts:
            return stage
    raise AssertionError("unreachable: facts is not empty")  # pragma: no cover
