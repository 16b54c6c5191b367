"""Replaying archived events: locally from ``archive.jsonl``, on AWS with ``StartReplay``.

Semantics (the same in both places, see ``docs/operations.md``):

* **Window**: an event is replayed when its envelope ``time`` (when the bus received it) is
  in ``[since, until)``: ``since`` inclusive, ``until`` exclusive. Times are ISO-8601 (a time
  without a zone is UTC) or relative to now (``90s``, ``30m``, ``2h``, ``7d``), or ``now``.
* **Consumers**: each archived event goes to every consumer whose topology rule pattern matches
  it (moto's own pattern matcher, the one that routes events locally), intersected with
  ``--to``. On AWS the same is done by ``Destination.FilterArns`` = the chosen consumers' rules.
* **Replayed events are not new history**: they carry ``replay-name`` and go straight to the
  chosen consumers' queues, so the local archive does not record them again (EventBridge does
  not archive replayed events either). Events the consumers publish *because* of a replay are
  new events and are archived.
* **Idempotency**: consumers are keyed on document and stage, so a replay re-runs nothing that
  already happened unless asked: ``--reocr`` sets ``reocr: true`` on replayed
  ``DocumentUploaded`` (ocr reads the document again instead of using its cache), and
  ``--renotify`` sets ``renotify: true`` on replayed outcome events (notify tells the person
  again). Both are local-only: AWS ``StartReplay`` replays events unchanged, so on AWS they
  are refused with a pointer to ``ocrpipe backfill --reocr``.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from moto.events.models import EventPattern

from ocrpipe.events import (
    EVENTS_BY_DETAIL_TYPE,
    OUTCOME_EVENTS,
    DocumentUploaded,
    OcrCompleted,
)
from ocrpipe.topology import Place, Topology
from ocrpipe_local.archive import ArchivedEvent, read_archive

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

    from ocrpipe_local.stack import OneMachineStack

#: Events notify tells a person about; ``--renotify`` marks these.
OUTCOME_DETAIL_TYPES = frozenset(e.DETAIL_TYPE for e in OUTCOME_EVENTS)
#: EventBridge's rule for replay names.
REPLAY_NAME = re.compile(r"^[.\-_A-Za-z0-9]{1,64}$")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
#: StartReplay states after which nothing changes any more.
FINAL_STATES = frozenset({"COMPLETED", "CANCELLED", "FAILED"})


class ReplayError(ValueError):
    """A replay request that cannot be carried out as asked (bad window, unknown consumer...)."""


# -- window ------------------------------------------------------------------------------------


def parse_time(value: str, *, now: datetime) -> datetime:
    """``2024-05-01T12:00:00Z`` / ``2024-05-01`` / ``30m`` / ``2h`` / ``now`` -> aware UTC."""
    text = value.strip()
    if text.lower() == "now":
        return now
    relative = _RELATIVE.fullmatch(text.lower())
    if relative:
        amount, unit = float(relative[1]), relative[2]
        return now - timedelta(**{_UNITS[unit]: amount})
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ReplayError(
            f"cannot read the time {value!r}: use ISO-8601 (2024-05-01T12:00:00Z) "
            "or a duration before now (90s, 30m, 2h, 7d)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """``[since, until)``; ``None`` is open on that side."""

    since: datetime | None = None
    until: datetime | None = None

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ReplayError(
                f"--since ({self.since.isoformat()}) must be before --until "
                f"({self.until.isoformat()})"
            )

    @classmethod
    def parse(cls, since: str | None, until: str | None, *, now: datetime | None = None) -> Window:
        current = now or datetime.now(UTC)
        return cls(
            since=parse_time(since, now=current) if since else None,
            until=parse_time(until, now=current) if until else None,
        )

    def contains(self, moment: datetime) -> bool:
        if self.since is not None and moment < self.since:
            return False
        return self.until is None or moment < self.until

    def describe(self) -> str:
        since = self.since.isoformat() if self.since else "the beginning"
        until = self.until.isoformat() if self.until else "now"
        return f"[{since}, {until})"


def event_time(event: ArchivedEvent) -> datetime:
    """When the bus received the event (envelope ``time``); else when it was archived."""
    raw = event.envelope.get("time")
    if isinstance(raw, str) and raw:
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            pass
        else:
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return event.archived_at if event.archived_at.tzinfo else event.archived_at.replace(tzinfo=UTC)


def new_replay_name(prefix: str = "ocrpipe") -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{prefix}-{stamp}-{secrets.token_hex(3)}"


def check_replay_name(name: str) -> str:
    if not REPLAY_NAME.fullmatch(name):
        raise ReplayError(f"replay name {name!r}: 1-64 letters, digits, '.', '-' or '_'")
    return name


# -- planning (pure) ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One archived event and the consumers it is replayed to."""

    event: ArchivedEvent
    consumers: tuple[str, ...]


@dataclass
class ReplayPlan:
    name: str
    window: Window
    deliveries: list[Delivery] = field(default_factory=list)
    #: Archived events looked at, in the window, and left out by ``--event`` / ``--to``.
    archived: int = 0
    in_window: int = 0

    def per_consumer(self) -> dict[str, int]:
        counts: Counter[str] = Counter()
        for delivery in self.deliveries:
            counts.update(delivery.consumers)
        return dict(sorted(counts.items()))

    @property
    def messages(self) -> int:
        return sum(len(d.consumers) for d in self.deliveries)


class PatternMatcher:
    """Which consumers' rules match an envelope (moto's EventBridge pattern matcher)."""

    def __init__(self, patterns: dict[str, dict[str, Any]]) -> None:
        self._patterns = {name: EventPattern.load(json.dumps(p)) for name, p in patterns.items()}

    @classmethod
    def for_topology(
        cls, topology: Topology, place: Place, consumers: Iterable[str] | None = None
    ) -> PatternMatcher:
        names = list(topology.consumers) if consumers is None else list(consumers)
        return cls({n: place.pattern(n, topology=topology) for n in names})

    @property
    def consumers(self) -> list[str]:
        return list(self._patterns)

    def matching(self, envelope: dict[str, Any]) -> tuple[str, ...]:
        event: Any = envelope  # moto types the argument as its own TypedDict
        return tuple(n for n, p in self._patterns.items() if p.matches_event(event))


def check_event_types(names: Collection[str]) -> set[str]:
    unknown = sorted(set(names) - set(EVENTS_BY_DETAIL_TYPE))
    if unknown:
        known = ", ".join(sorted(EVENTS_BY_DETAIL_TYPE))
        raise ReplayError(f"unknown event type(s) {unknown}; known: {known}")
    return set(names)


def check_consumers(names: Collection[str], available: Collection[str]) -> set[str]:
    unknown = sorted(set(names) - set(available))
    if unknown:
        raise ReplayError(
            f"no such consumer(s) {unknown}; this deployment has: {', '.join(sorted(available))}"
        )
    return set(names)


def plan_replay(
    events: Iterable[ArchivedEvent],
    matcher: PatternMatcher,
    *,
    window: Window,
    event_types: Collection[str] | None = None,
    consumers: Collection[str] | None = None,
    name: str | None = None,
) -> ReplayPlan:
    """Which archived events go to which consumers, oldest first.

    Events that already carry ``replay-name`` (a replay's own deliveries, should they ever be
    archived) are never replayed again.
    """
    wanted_types = check_event_types(event_types) if event_types else None
    wanted_consumers = check_consumers(consumers, matcher.consumers) if consumers else None
    plan = ReplayPlan(name=check_replay_name(name or new_replay_name()), window=window)
    timed = sorted(
        ((event_time(e), index, e) for index, e in enumerate(events)),
        key=lambda item: (item[0], item[1]),
    )
    for moment, _, event in timed:
        if "replay-name" in event.envelope or "unparseable_body" in event.envelope:
            continue
        plan.archived += 1
        if not window.contains(moment):
            continue
        plan.in_window += 1
        if wanted_types is not None and event.detail_type not in wanted_types:
            continue
        targets = matcher.matching(event.envelope)
        if wanted_consumers is not None:
            targets = tuple(t for t in targets if t in wanted_consumers)
        if targets:
            plan.deliveries.append(Delivery(event, targets))
    return plan


def replayed_envelope(
    event: ArchivedEvent, *, name: str, reocr: bool = False, renotify: bool = False
) -> dict[str, Any]:
    """The envelope as a consumer receives it in a replay: ``replay-name`` set, flags applied."""
    envelope = json.loads(json.dumps(event.envelope))  # a deep copy; the archive stays as is
    envelope["replay-name"] = name
    detail = envelope.get("detail")
    if isinstance(detail, dict):
        if reocr and event.detail_type == DocumentUploaded.DETAIL_TYPE:
            detail["reocr"] = True
        if renotify and event.detail_type in OUTCOME_DETAIL_TYPES:
            detail["renotify"] = True
    result: dict[str, Any] = envelope
    return result


# -- local replay ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplayReport:
    name: str
    window: Window
    archived: int
    in_window: int
    per_consumer: dict[str, int]

    @property
    def messages(self) -> int:
        return sum(self.per_consumer.values())


def send_plan(
    plan: ReplayPlan,
    sqs: SQSClient,
    queue_urls: dict[str, str],
    *,
    reocr: bool = False,
    renotify: bool = False,
) -> None:
    """Put every planned delivery on its consumer's queue (what the bus would have done)."""
    batches: dict[str, list[str]] = {}
    for delivery in plan.deliveries:
        body = json.dumps(
            replayed_envelope(delivery.event, name=plan.name, reocr=reocr, renotify=renotify),
            ensure_ascii=False,
            separators=(",", ":"),
        )
        for consumer in delivery.consumers:
            pending = batches.setdefault(consumer, [])
            pending.append(body)
            if len(pending) == 10:
                _send(sqs, queue_urls[consumer], pending)
                pending.clear()
    for consumer, pending in batches.items():
        if pending:
            _send(sqs, queue_urls[consumer], pending)


def _send(sqs: SQSClient, queue_url: str, bodies: list[str]) -> None:
    response = sqs.send_message_batch(
        QueueUrl=queue_url,
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)],
    )
    failed = response.get("Failed", [])
    if failed:
        raise RuntimeError(f"{len(failed)} replayed message(s) not queued: {failed[:3]}")


def replay_local(
    stack: OneMachineStack,
    *,
    window: Window,
    event_types: Collection[str] | None = None,
    consumers: Collection[str] | None = None,
    reocr: bool = False,
    renotify: bool = False,
    name: str | None = None,
) -> ReplayReport:
    """Replay the stack's archive (``<state_dir>/archive.jsonl``) into its consumers' queues.

    Returns once every message is queued; ``stack.drain()`` waits for the consumers.
    """
    provisioned = stack.resources
    return replay_archive(
        stack.state_dir / "archive.jsonl",
        stack.topology,
        stack.place,
        {n: c.queue.url for n, c in provisioned.consumers.items()},
        stack.client("sqs"),
        window=window,
        event_types=event_types,
        consumers=consumers,
        reocr=reocr,
        renotify=renotify,
        name=name,
    )


def replay_archive(
    archive: Path,
    topology: Topology,
    place: Place,
    queue_urls: dict[str, str],
    sqs: SQSClient,
    *,
    window: Window,
    event_types: Collection[str] | None = None,
    consumers: Collection[str] | None = None,
    reocr: bool = False,
    renotify: bool = False,
    name: str | None = None,
) -> ReplayReport:
    """Replay an archive file into the queues of the running consumers ``queue_urls`` (this
    process' stack, or one ``ocrpipe up`` runs)."""
    matcher = PatternMatcher.for_topology(topology, place, queue_urls)
    plan = plan_replay(
        read_archive(archive),
        matcher,
        window=window,
        event_types=event_types,
        consumers=consumers,
        name=name,
    )
    send_plan(plan, sqs, queue_urls, reocr=reocr, renotify=renotify)
    return ReplayReport(
        name=plan.name,
        window=window,
        archived=plan.archived,
        in_window=plan.in_window,
        per_consumer=plan.per_consumer(),
    )


# -- AWS -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AwsReplayRequest:
    archive_arn: str
    bus_arn: str
    rule_arns: dict[str, str]
    since: datetime
    until: datetime
    name: str


def custom_bus_consumers(topology: Topology) -> list[str]:
    """Consumers on the custom bus: the only ones an archive replay can reach."""
    return [n for n, c in topology.consumers.items() if c.bus == "custom"]


def prepare_aws_replay(
    events: EventBridgeClient,
    *,
    topology: Topology,
    place: Place,
    window: Window,
    consumers: Collection[str] | None,
    name: str | None,
) -> AwsReplayRequest:
    if window.since is None:
        raise ReplayError("--since is required on AWS (StartReplay needs a start time)")
    until = window.until or datetime.now(UTC)
    if window.since >= until:
        raise ReplayError("--since must be before --until")
    available = custom_bus_consumers(topology)
    chosen = sorted(check_consumers(consumers, available)) if consumers else available
    bus = place.name("bus", topology=topology)
    bus_arn = events.describe_event_bus(Name=bus)["Arn"]
    archive_name = place.name("archive", topology=topology)
    archive_arn = events.describe_archive(ArchiveName=archive_name)["ArchiveArn"]
    rule_arns: dict[str, str] = {}
    for consumer in chosen:
        spec = topology.consumers[consumer]
        rule = place.name("rule", service=spec.service, consumer=consumer, topology=topology)
        rule_arns[consumer] = events.describe_rule(Name=rule, EventBusName=bus)["Arn"]
    return AwsReplayRequest(
        archive_arn=archive_arn,
        bus_arn=bus_arn,
        rule_arns=rule_arns,
        since=window.since,
        until=until,
        name=check_replay_name(name or new_replay_name(f"ocrpipe-{place.stage}")),
    )


def replay_on_aws(
    events: EventBridgeClient,
    request: AwsReplayRequest,
    *,
    out: TextIO,
    poll_s: float = 5.0,
    timeout_s: float = 3600.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> str:
    """``StartReplay`` to the chosen rules, then ``DescribeReplay`` until it ends.

    Prints the state and how far through the window the replay is; returns the final state
    (or the last one seen at ``timeout_s``).
    """
    events.start_replay(
        ReplayName=request.name,
        Description="ocrpipe replay to " + ", ".join(sorted(request.rule_arns)),
        EventSourceArn=request.archive_arn,
        EventStartTime=request.since,
        EventEndTime=request.until,
        Destination={"Arn": request.bus_arn, "FilterArns": list(request.rule_arns.values())},
    )
    print(
        f"replay {request.name} started: {request.since.isoformat()} .. "
        f"{request.until.isoformat()} to {', '.join(sorted(request.rule_arns))}",
        file=out,
        flush=True,
    )
    deadline = clock() + timeout_s
    span = (request.until - request.since).total_seconds()
    state = "STARTING"
    while True:
        described = events.describe_replay(ReplayName=request.name)
        state = str(described.get("State", "UNKNOWN"))
        last = described.get("EventLastReplayedTime")
        progress = ""
        if isinstance(last, datetime) and span > 0:
            done = (last.astimezone(UTC) - request.since).total_seconds()
            progress = f" {max(0.0, min(100.0, 100 * done / span)):.0f}%"
        print(f"  {state}{progress}", file=out, flush=True)
        if state in FINAL_STATES:
            reason = described.get("StateReason")
            if reason and state != "COMPLETED":
                print(f"  reason: {reason}", file=out)
            return state
        if clock() >= deadline:
            return state
        sleep(poll_s)


def summarise(report: ReplayReport, out: TextIO) -> None:
    print(
        f"replay {report.name}: {report.in_window} of {report.archived} archived event(s) "
        f"in {report.window.describe()}; {report.messages} message(s) queued",
        file=out,
    )
    for consumer, count in report.per_consumer.items():
        print(f"  {consumer:<16} {count}", file=out)


def summarise_skipped_rereads(events: Sequence[ArchivedEvent], since: datetime, out: TextIO) -> int:
    """After a ``--reocr`` replay: the documents ocr could not read again (``OcrCompleted``
    with ``reread_skipped``, archived since ``since``), each with why; returns how many.
    They keep their earlier reading, and nobody is told their document failed."""
    skipped = {
        e.document_id: e
        for e in events
        if e.archived_at >= since
        and e.detail_type == OcrCompleted.DETAIL_TYPE
        and e.detail.get("reread_skipped")
    }
    if skipped:
        print(
            f"  {len(skipped)} document(s) not read again (their earlier reading is kept):",
            file=out,
        )
        for document_id, event in sorted(skipped.items()):
            name = event.detail.get("filename") or document_id
            print(f"    {name} ({document_id}): {event.detail['reread_skipped']}", file=out)
    return len(skipped)
