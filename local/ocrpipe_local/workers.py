"""Queue workers: what Lambda's SQS event source mapping does, on threads.

Each worker long-polls its consumer's queue, hands the batch to the handler as a Lambda SQS
event, deletes the records that succeeded and makes the failed ones visible again after a short
backoff. SQS' redrive policy (enforced by moto on receive, checked by the integration tests)
moves a record to the DLQ once it has been received ``maxReceiveCount`` times. As in Lambda, a
handler that raises fails the whole batch, and so does a malformed partial batch response.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from ocrpipe import container
from ocrpipe_local import faults
from ocrpipe_local.function_output import route_current_thread
from ocrpipe_local.lambda_events import (
    InvalidBatchResponseError,
    LocalLambdaContext,
    failed_message_ids,
    sqs_lambda_event,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any], Any], Any]

#: Longest backoff before a failed record is retried.
MAX_RETRY_DELAY_S = 30


def resolve_handler(dotted: str) -> Handler:
    """``package.module.function`` -> the function (importing the module)."""
    module_name, _, attr = dotted.rpartition(".")
    if not module_name:
        raise ValueError(f"handler {dotted!r} is not a dotted module.function path")
    module = importlib.import_module(module_name)
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise ValueError(f"{dotted!r} is not a callable in {module_name}")
    return handler  # type: ignore[no-any-return]


def retry_delay_s(receive_count: int, *, base_s: float, visibility_timeout_s: int) -> int:
    """Exponential backoff for a failed record: base, 2*base, 4*base, ... (whole seconds)."""
    if base_s <= 0:
        return 0
    delay = base_s * (2 ** max(0, receive_count - 1))
    return int(min(delay, MAX_RETRY_DELAY_S, visibility_timeout_s))


@dataclass(frozen=True)
class WorkerSpec:
    consumer: str
    function_name: str
    queue_url: str
    queue_arn: str
    batch_size: int
    visibility_timeout_s: int
    region: str
    account: str
    retry_backoff_s: float = 1.0
    poll_wait_s: int = 1
    #: The service the consumer belongs to (what fault plans' ``aws[SERVICE:...]`` match).
    service: str = ""


@dataclass
class WorkerStats:
    batches: int = 0
    records: int = 0
    failed_records: int = 0
    handler_errors: int = 0
    #: Batches an injected crash failed, messages held back or redelivered by the fault plan.
    injected: int = 0


class WorkerKilled(BaseException):
    """Injected: the worker dies holding its batch (see :mod:`ocrpipe_local.faults`)."""


class QueueWorker(threading.Thread):
    def __init__(
        self,
        spec: WorkerSpec,
        handler: Handler,
        sqs: SQSClient,
        *,
        stop: threading.Event,
        output: TextIO | None,
        index: int = 0,
    ) -> None:
        super().__init__(name=f"ocrpipe-{spec.consumer}-{index}", daemon=True)
        self.spec = spec
        self.handler = handler
        self.sqs = sqs
        self.stop_event = stop
        self.output = output
        self.index = index
        self.stats = WorkerStats()
        self.busy = threading.Event()
        #: Set when an injected fault killed this worker (the stack starts a replacement).
        self.killed = False
        #: Set once the handler's container is built and the worker polls its queue.
        self.ready = threading.Event()

    def run(self) -> None:
        route_current_thread(self.output)
        self._warm()
        while not self.stop_event.is_set():
            try:
                self.poll_once()
            except WorkerKilled:
                log.warning("%s: killed by the fault plan, holding its batch", self.name)
                self.killed = True
                self.busy.clear()
                return
            except Exception:
                log.exception("worker %s: polling failed", self.name)
                self.stop_event.wait(1.0)

    def _warm(self) -> None:
        """Build the handler's container before the first message, as Lambda's init phase
        does: settings, clients, the OCR engine and its models are ready when a document
        arrives. A build that fails here fails again, and is reported, on the first message."""
        try:
            container.warm(self.handler)
        except Exception:
            log.warning("%s: building the handler's container failed", self.name, exc_info=True)
        finally:
            self.ready.set()

    def poll_once(self) -> int:
        """Receive one batch and process it; returns the number of records."""
        spec = self.spec
        response = self.sqs.receive_message(
            QueueUrl=spec.queue_url,
            MaxNumberOfMessages=spec.batch_size,
            WaitTimeSeconds=spec.poll_wait_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        messages = response.get("Messages", [])
        if not messages:
            return 0
        self.busy.set()
        try:
            self.process(list(messages))
        finally:
            self.busy.clear()
        return len(messages)

    def process(self, messages: list[Any]) -> None:
        spec = self.spec
        plan = faults.for_batch(spec.consumer, messages)
        received = len(messages)
        hit = {m["MessageId"] for m in messages if m["MessageId"] in plan.late | plan.duplicate}
        if plan.late:
            self._hold_back(messages, plan)
            messages = [m for m in messages if m["MessageId"] not in plan.late]
        ids = [m["MessageId"] for m in messages]
        self.stats.batches += 1 if messages else 0
        self.stats.records += len(messages)
        stop_after = plan.kill_after if plan.kill_after is not None else plan.crash_after
        failed: set[str] = set()
        try:
            if stop_after is not None:
                # Injected: the records before the crash are handled, then the invocation dies.
                hit.update(ids)
                if stop_after:
                    self._invoke(messages[:stop_after])
                faults.injected.add(
                    "kill" if plan.kill_after is not None else "crash", spec.consumer
                )
                self.stats.injected += 1
                if plan.kill_after is not None:
                    raise WorkerKilled(spec.consumer)
                failed = set(ids)
            elif messages:
                failed, failed_calls = self._invoke(messages)
                if failed_calls:
                    hit.update(ids)
        finally:
            if faults.current is not None:
                faults.injected.delivered(spec.consumer, received, faulted=len(hit))
        self.stats.failed_records += len(failed)
        succeeded = [m for m in messages if m["MessageId"] not in failed]
        again = [m for m in succeeded if m["MessageId"] in plan.duplicate]
        done = [m for m in succeeded if m["MessageId"] not in plan.duplicate]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=spec.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)
                ],
            )
        if again:  # injected: at-least-once delivery, the same message once more
            for _ in again:
                faults.injected.add("duplicate", spec.consumer)
            self.stats.injected += len(again)
            self._change_visibility([(m, 0) for m in again])
        retry = [m for m in messages if m["MessageId"] in failed]
        if retry:
            self._change_visibility(
                [
                    (
                        m,
                        retry_delay_s(
                            int(m.get("Attributes", {}).get("ApproximateReceiveCount", "1")),
                            base_s=spec.retry_backoff_s,
                            visibility_timeout_s=spec.visibility_timeout_s,
                        ),
                    )
                    for m in retry
                ]
            )

    def _invoke(self, messages: list[Any]) -> tuple[set[str], int]:
        """Run the handler on ``messages`` as one Lambda invocation: the ids that failed, and
        how many of its AWS calls an injected fault failed."""
        spec = self.spec
        event = sqs_lambda_event(messages, queue_arn=spec.queue_arn, region=spec.region)
        context = LocalLambdaContext(
            spec.function_name,
            timeout_s=spec.visibility_timeout_s,
            account=spec.account,
            region=spec.region,
        )
        ids = [m["MessageId"] for m in messages]
        first = messages[0]
        count = first.get("Attributes", {}).get("ApproximateReceiveCount", "1")
        with faults.invocation(spec.service, spec.consumer, first["MessageId"], count) as run:
            try:
                result = self.handler(event, context)
                failed = failed_message_ids(result, ids)
            except InvalidBatchResponseError as exc:
                log.error(
                    "%s: invalid partial batch response, failing the batch: %s", self.name, exc
                )
                self.stats.handler_errors += 1
                failed = set(ids)
            except Exception:
                log.exception("%s: handler raised, failing the batch of %d", self.name, len(ids))
                self.stats.handler_errors += 1
                failed = set(ids)
        return failed, run.failed_calls if run is not None else 0

    def _hold_back(self, messages: list[Any], plan: faults.BatchFaults) -> None:
        late = [m for m in messages if m["MessageId"] in plan.late]
        for _ in late:
            faults.injected.add("late", self.spec.consumer)
        self.stats.injected += len(late)
        self._change_visibility([(m, plan.late_s[m["MessageId"]]) for m in late])

    def _change_visibility(self, pairs: list[tuple[Any, int]]) -> None:
        entries = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": delay}
            for i, (m, delay) in enumerate(pairs)
        ]
        self.sqs.change_message_visibility_batch(QueueUrl=self.spec.queue_url, Entries=entries)  # type: ignore[arg-type]
