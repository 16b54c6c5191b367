"""Fault injection for the local runtime: what an unlucky day on AWS does, on purpose.

Off unless a plan is given (``ocrpipe up --faults PLAN`` or ``OCRPIPE_FAULTS``). A plan is a
named profile, ``key=value`` settings, or a profile followed by settings that override it::

    soak                       the soak benchmark's mix (see PROFILES)
    soak,seed=7                the same mix, another seed
    aws=0.1,aws[notify:ses.*]=0.5,duplicate=0.05

What each setting injects, as a share (0..1) of the things it names. Each takes an optional
``[TARGET]`` (``fnmatch`` patterns) that sets the share for what it matches; the most specific
matching setting wins and the bare one is the fallback:

``aws`` / ``aws[SERVICE:api.Operation]``
    AWS calls made by the services' handlers (not by the runtime itself) fail before they
    reach the emulator: throttling, a 500, or a connect timeout, as the SDK raises them once
    its own retries are spent. Targets name the calling service and the operation, e.g.
    ``ocr:s3.PutObject``, ``*:dynamodb.*``, ``notify:ses.*``.
``duplicate`` / ``duplicate[CONSUMER]``
    Messages a handler processed successfully are delivered again (not deleted: SQS'
    at-least-once delivery).
``late`` / ``late[CONSUMER]``
    Messages are held back 1-5 s before any handler sees them (out-of-order delivery).
``crash`` / ``crash[CONSUMER]``
    An invocation crashes mid-batch: the handler runs on the first *k* records (0 <= k <= n,
    so "after all its work, before returning" is included) and the whole batch is then failed,
    as when a Lambda function dies before it answers.
``kill`` / ``kill[CONSUMER]``
    A worker dies mid-batch the same way, without returning the batch: its messages stay in
    flight until their visibility timeout, as after a Lambda sandbox crash, and the runtime
    starts a replacement worker.
``seed``
    Decisions are drawn from ``seed``, the consumer and the message (id and receive count), so
    the same message meets the same faults in a rerun, however threads interleave.

:data:`current` is the plan in force; :func:`install` sets it, ``None`` turns faults off.
"""

from __future__ import annotations

import contextlib
import contextvars
import fnmatch
import hashlib
import random
import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from botocore.exceptions import ConnectTimeoutError

#: Named plans. ``soak``: about a fifth of each stage's deliveries meet a fault (the soak
#: benchmark prints the share it measured per consumer). No kills at ocr there: its queue's
#: visibility timeout is 15 minutes (as on AWS), so a killed ocr worker holds its document
#: that long; ``crashes`` and ``kill[ocr]=...`` do kill it.
PROFILES: dict[str, str] = {
    "none": "",
    "soak": "aws=0.02,duplicate=0.05,late=0.05,crash=0.04,kill=0.01,kill[ocr]=0",
    "flaky-aws": "aws=0.2",
    "at-least-once": "duplicate=0.2,late=0.2",
    "crashes": "crash=0.1,kill=0.02",
}

LATE_S = (1.0, 5.0)

#: How an injected AWS failure looks: (HTTP status, error code) or ``timeout``.
AWS_FAILURES: tuple[tuple[int, str] | str, ...] = (
    (400, "ThrottlingException"),
    (500, "InternalError"),
    "timeout",
)


class FaultPlanError(ValueError):
    """A plan that cannot be read; the message says which part."""


KINDS = ("aws", "duplicate", "late", "crash", "kill")


@dataclass(frozen=True)
class Rule:
    """``kind`` at ``rate`` where ``target`` matches: ``SERVICE:api.Operation`` for ``aws``,
    a consumer name for the others (``fnmatch`` patterns)."""

    kind: str
    target: str
    rate: float

    @property
    def specificity(self) -> int:
        return len(self.target.replace("*", ""))

    def matches(self, target: str) -> bool:
        if self.kind != "aws":
            return fnmatch.fnmatchcase(target, self.target)
        service, _, operation = target.partition(":")
        want_service, _, want_operation = self.target.partition(":")
        return fnmatch.fnmatchcase(service, want_service) and fnmatch.fnmatchcase(
            operation, want_operation or "*"
        )

    def text(self) -> str:
        wildcard = "*:*" if self.kind == "aws" else "*"
        key = self.kind if self.target == wildcard else f"{self.kind}[{self.target}]"
        return f"{key}={self.rate:g}"


@dataclass(frozen=True)
class FaultPlan:
    name: str = "custom"
    seed: int = 0
    rules: tuple[Rule, ...] = ()

    @property
    def active(self) -> bool:
        return any(r.rate > 0 for r in self.rules)

    def rate(self, kind: str, target: str) -> float:
        """The share for ``kind`` at ``target``: the most specific matching rule's, else 0."""
        found = [r for r in self.rules if r.kind == kind and r.matches(target)]
        return max(found, key=lambda r: r.specificity).rate if found else 0.0

    def describe(self) -> str:
        return f"{self.name} ({', '.join([f'seed={self.seed}', *(r.text() for r in self.rules)])})"


def parse_plan(text: str) -> FaultPlan:
    """A plan from its text (see the module docstring); raises :class:`FaultPlanError`."""
    items = [p.strip() for p in text.split(",") if p.strip()]
    plan = FaultPlan(name="custom")
    if items and "=" not in items[0]:
        name = items.pop(0)
        if name not in PROFILES:
            raise FaultPlanError(
                f"unknown fault profile {name!r}; known: {', '.join(sorted(PROFILES))}"
            )
        plan = replace(parse_plan(PROFILES[name]), name=name)
    rules = {(r.kind, r.target): r for r in plan.rules}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            raise FaultPlanError(f"{item!r}: expected key=value (a profile comes first only)")
        if key == "seed":
            try:
                plan = replace(plan, seed=int(raw))
            except ValueError:
                raise FaultPlanError(f"seed must be a whole number, not {raw!r}") from None
            continue
        kind, _, target = key.partition("[")
        if kind not in KINDS:
            raise FaultPlanError(f"unknown fault {kind!r}; known: {', '.join(KINDS)}, seed")
        if target:
            if not target.endswith("]") or len(target) < 2:
                raise FaultPlanError(f"{key!r}: write {kind}[TARGET]=SHARE")
            target = target[:-1]
            if kind == "aws" and ":" not in target:
                raise FaultPlanError(f"{key!r}: write aws[SERVICE:api.Operation]=SHARE")
        else:
            target = "*:*" if kind == "aws" else "*"
        rules[(kind, target)] = Rule(kind, target, _rate(key, raw))
    return replace(plan, rules=tuple(rules.values()))


def _rate(key: str, raw: str) -> float:
    try:
        rate = float(raw)
    except ValueError:
        raise FaultPlanError(f"{key} must be a share between 0 and 1, not {raw!r}") from None
    if not 0.0 <= rate <= 1.0:
        raise FaultPlanError(f"{key} must be a share between 0 and 1, not {raw!r}")
    return rate


# -- what was injected -------------------------------------------------------------------------


@dataclass
class Injected:
    """Counts of injected faults by kind and consumer (or route), and of deliveries that met
    at least one (``ocrpipe up`` logs both when it stops)."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    deliveries: Counter[str] = field(default_factory=Counter)
    faulted: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, kind: str, where: str) -> None:
        with self._lock:
            self.counts[(kind, where)] += 1

    def delivered(self, where: str, count: int, *, faulted: int) -> None:
        """``count`` messages delivered at ``where``, ``faulted`` of them met a fault."""
        with self._lock:
            self.deliveries[where] += count
            self.faulted[where] += faulted

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "faults": {f"{k}:{w}": n for (k, w), n in sorted(self.counts.items())},
                "share_of_deliveries": {
                    w: round(self.faulted[w] / n, 3) for w, n in sorted(self.deliveries.items())
                },
            }


current: FaultPlan | None = None
injected = Injected()


def install(plan: FaultPlan | None) -> None:
    """Put ``plan`` in force for this process (``None`` or an inactive plan: no faults)."""
    global current
    current = plan if plan is not None and plan.active else None


# -- decisions -----------------------------------------------------------------------------------


def decider(*parts: object) -> random.Random:
    """A random stream fixed by the plan's seed and ``parts`` (consumer, message id, ...)."""
    seed = current.seed if current is not None else 0
    digest = hashlib.sha256(repr((seed, *parts)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))  # not for secrets


@dataclass(frozen=True)
class BatchFaults:
    """What happens to one received batch (computed by :func:`for_batch`)."""

    late: frozenset[str] = frozenset()  # message ids held back
    duplicate: frozenset[str] = frozenset()  # message ids delivered again after success
    crash_after: int | None = None  # records run before the invocation crashes
    kill_after: int | None = None  # records run before the worker dies
    late_s: dict[str, int] = field(default_factory=dict)


def for_batch(consumer: str, messages: Sequence[dict[str, Any]]) -> BatchFaults:
    plan = current
    if plan is None or not messages:
        return BatchFaults()
    late: set[str] = set()
    duplicate: set[str] = set()
    late_s: dict[str, int] = {}
    for m in messages:
        rng = decider(consumer, m["MessageId"], _receive_count(m), "message")
        if rng.random() < plan.rate("late", consumer):
            late.add(m["MessageId"])
            late_s[m["MessageId"]] = round(rng.uniform(*LATE_S))
        elif rng.random() < plan.rate("duplicate", consumer):
            duplicate.add(m["MessageId"])
    first = messages[0]
    rng = decider(consumer, first["MessageId"], _receive_count(first), "batch")
    kept = len(messages) - len(late)
    crash_after = kill_after = None
    if rng.random() < plan.rate("kill", consumer):
        kill_after = rng.randint(0, kept)
    elif rng.random() < plan.rate("crash", consumer):
        crash_after = rng.randint(0, kept)
    return BatchFaults(
        late=frozenset(late),
        duplicate=frozenset(duplicate),
        crash_after=crash_after,
        kill_after=kill_after,
        late_s=late_s,
    )


def _receive_count(message: dict[str, Any]) -> str:
    return str(message.get("Attributes", {}).get("ApproximateReceiveCount", "1"))


# -- AWS calls made by a handler -----------------------------------------------------------------


@dataclass
class _Invocation:
    service: str
    where: str
    rng: random.Random
    failed_calls: int = 0


_invocation: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar(
    "ocrpipe_fault_invocation", default=None
)


@contextlib.contextmanager
def invocation(service: str, where: str, *key: object) -> Iterator[_Invocation | None]:
    """Mark this thread as running ``service``'s handler (``where``: its consumer or route);
    AWS calls made meanwhile may be failed by the plan. ``key`` fixes the random stream.
    Yields what it records (``failed_calls``), or None when no plan is in force."""
    if current is None:
        yield None
        return
    run = _Invocation(service, where, decider(where, *key, "aws"))
    token = _invocation.set(run)
    try:
        yield run
    finally:
        _invocation.reset(token)


def before_call(event_name: str = "", model: Any = None, **_: object) -> Any:
    """botocore ``before-call`` handler: a failed response (or a timeout) when the plan says.

    A response returned here is what botocore's client raises as a ``ClientError``, without
    sending anything and without its own retries: the call fails as the handler sees it."""
    plan = current
    if plan is None:
        return None
    run = _invocation.get()
    if run is None:
        return None
    parts = event_name.split(".")
    if len(parts) < 3:
        return None
    operation = f"{parts[1]}.{parts[2]}"
    if run.rng.random() >= plan.rate("aws", f"{run.service}:{operation}"):
        return None
    failure = run.rng.choice(AWS_FAILURES)
    run.failed_calls += 1
    if isinstance(failure, str):  # "timeout"
        injected.add("aws-timeout", run.where)
        raise ConnectTimeoutError(endpoint_url=f"injected://{operation}")
    status, code = failure
    injected.add(f"aws-{code}", run.where)
    message = f"injected fault ({operation})"
    return _Response(status), {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "RetryAttempts": 0},
    }


@dataclass(frozen=True)
class _Response:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes = b""
    raw: Any = None


def register(handlers: list[tuple[str, Any]]) -> None:
    """Add :func:`before_call` to botocore's built-in handlers (every new client gets it)."""
    entry = ("before-call", before_call)
    if entry not in handlers:
        handlers.append(entry)
