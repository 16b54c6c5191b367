"""What a handler builds once per Lambda container, and the SQS batch shape every consumer uses.

A Lambda execution environment imports a handler module once and serves one invocation at a
time, so settings, clients, idempotency configuration and the batch processor are built on
the first call and reused (:func:`per_container`). The one-machine runtime runs each
consumer's workers as threads of one process and calls the same handler from several of them
at once; a thread is its container: objects with per-call state (powertools'
``BatchProcessor``, the idempotency config holding the Lambda context) are never shared
between two calls in flight. When the runtime starts a stack with a new environment it calls
:func:`cold_start`, as AWS would start new containers after a deploy.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from ocrpipe import aws, topology
from ocrpipe.envelope import Envelope

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from ocrpipe.idempotency import OncePerKey

T = TypeVar("T")
H = TypeVar("H", bound=Callable[..., Any])

#: The attribute :func:`built_by` sets on a handler (copied onto its decorators' wrappers by
#: ``functools.wraps``).
_BUILD_ATTRIBUTE = "ocrpipe_container_build"

_lock = threading.Lock()
_generation = 0
_local = threading.local()


def _built() -> dict[object, Any]:
    state: tuple[int, dict[object, Any]] | None = getattr(_local, "state", None)
    if state is None or state[0] != _generation:
        state = (_generation, {})
        _local.state = state
    return state[1]


def per_container(build: Callable[[], T]) -> Callable[[], T]:
    """``build()`` on the first call in this container, its result on every later one."""
    slot = object()

    @functools.wraps(build)
    def get() -> T:
        built = _built()
        if slot not in built:
            built[slot] = build()
        found: T = built[slot]
        return found

    return get


def built_by(build: Callable[[], Any]) -> Callable[[H], H]:
    """Mark a handler as served by what ``build`` (a :func:`per_container` getter) makes, so
    a runtime can build it before the first event arrives (:func:`warm`)."""

    def mark(handler: H) -> H:
        handler.__dict__[_BUILD_ATTRIBUTE] = build
        return handler

    return mark


def warm(handler: Callable[..., Any]) -> bool:
    """Build, in this thread's container, what ``handler`` uses (settings, clients, the
    engine and its models): what Lambda's init phase or provisioned concurrency does before
    the first invocation. The one-machine runtime calls it as each worker starts, so the first
    document does not pay for it. False when the handler was not marked with :func:`built_by`."""
    build = getattr(handler, _BUILD_ATTRIBUTE, None)
    if build is None:
        return False
    build()
    return True


def cold_start() -> None:
    """Forget everything built so far (and the shared boto3 clients): the next call builds
    from the environment as it is now."""
    global _generation
    with _lock:
        _generation += 1
    aws.forget_clients()


class EventRecord(SqsRecordModel):
    """An SQS record whose body is an EventBridge envelope (a rule's SQS target)."""

    body: Json[Envelope]


def receive_count(record: SqsRecordModel | SQSRecord) -> int:
    """How many times this message has been received (1 on the first delivery), from a
    parsed record or powertools' data class."""
    attributes = record.attributes
    raw = getattr(attributes, "ApproximateReceiveCount", None) or getattr(
        attributes, "approximate_receive_count", None
    )
    try:
        return max(1, int(str(raw)))
    except (TypeError, ValueError):
        return 1


def is_final_attempt(record: SqsRecordModel | SQSRecord, package: str, consumer: str) -> bool:
    """Whether this is the last delivery before the dead-letter queue: the queue's maximum
    receives come from ``consumer``'s declaration in ``package`` (read once per container)."""
    return topology.is_final_attempt(receive_count(record), package, consumer)


class Consumer:
    """A consumer of domain events as a container holds it: the batch processor (records
    parsed as :class:`EventRecord`), the record handler and the idempotency steps it uses.
    Calling it handles one SQS invocation, reporting partial batch failures.

    With ``fail_whole_batch=False`` a batch whose records all failed is still answered with
    ``batchItemFailures`` instead of raising: for consumers whose failed records are expected
    (throttling put back on the queue), so the function itself is not counted as failing.
    """

    def __init__(
        self,
        record_handler: Callable[[Any], Any],
        *,
        once: Sequence[OncePerKey] = (),
        fail_whole_batch: bool = True,
        model: type[SqsRecordModel] | None = EventRecord,
    ) -> None:
        self.record_handler = record_handler
        self.once = tuple(once)
        self.processor = BatchProcessor(
            event_type=EventType.SQS, model=model, raise_on_entire_batch_failure=fail_whole_batch
        )

    def __call__(self, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        for step in self.once:  # an in-progress record expires with this invocation
            step.register(context)
        response = process_partial_response(
            event=event,
            record_handler=self.record_handler,
            processor=self.processor,
            context=context,
        )
        return dict(response)
