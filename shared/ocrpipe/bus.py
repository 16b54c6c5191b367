"""Publishing domain events to the custom EventBridge bus.

``PutEvents`` takes at most 10 entries and 256 KB per call, and may fail some entries of a
call (``FailedEntryCount``) without raising. :class:`EventPublisher` batches, guards the
size of each entry, and retries only the failed entries with exponential backoff before
raising :class:`PublishError` so the caller's message goes back to its queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ocrpipe.aws import retry_until_done
from ocrpipe.events import DomainEvent

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_events.type_defs import PutEventsRequestEntryTypeDef

MAX_ENTRIES_PER_CALL = 10
MAX_ENTRY_BYTES = 256 * 1024
#: Leave room for the envelope fields EventBridge adds around ``detail``.
MAX_DETAIL_BYTES = 200 * 1024


class PublishError(RuntimeError):
    """Some events could not be put on the bus after retries."""


class EventTooLargeError(PublishError):
    """An event's detail is over the size budget: put the payload in S3 and send its URI."""


def to_entry(event: DomainEvent, bus_name: str) -> PutEventsRequestEntryTypeDef:
    detail = event.model_dump_json()
    size = len(detail.encode("utf-8"))
    if size > MAX_DETAIL_BYTES:
        raise EventTooLargeError(
            f"{event.DETAIL_TYPE} for {event.document_id} is {size} bytes; limit {MAX_DETAIL_BYTES}"
        )
    return {
        "Source": event.SOURCE,
        "DetailType": event.DETAIL_TYPE,
        "Detail": detail,
        "EventBusName": bus_name,
        "Resources": [],
    }


def _batches(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class EventPublisher:
    def __init__(
        self,
        client: EventBridgeClient,
        bus_name: str,
        *,
        attempts: int = 4,
        base_delay_s: float = 0.1,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._bus_name = bus_name
        self._attempts = attempts
        self._base_delay_s = base_delay_s
        self._sleep = sleep

    @property
    def bus_name(self) -> str:
        return self._bus_name

    def publish(self, *events: DomainEvent) -> None:
        entries = [to_entry(e, self._bus_name) for e in events]
        for batch in _batches(entries, MAX_ENTRIES_PER_CALL):
            self._put_with_retries(list(batch))

    def _put_with_retries(self, entries: list[PutEventsRequestEntryTypeDef]) -> None:
        pending = entries
        errors: list[str] = []

        def put() -> bool | None:
            """True once every pending entry is on the bus; else keeps the failed ones."""
            nonlocal pending, errors
            response = self._client.put_events(Entries=pending)
            if not response.get("FailedEntryCount"):
                return True
            results = response["Entries"]
            errors = [
                f"{r.get('ErrorCode')}: {r.get('ErrorMessage')}"
                for r in results
                if "ErrorCode" in r
            ]
            pending = [e for e, r in zip(pending, results, strict=True) if "ErrorCode" in r]
            return None

        done = retry_until_done(
            put, attempts=self._attempts, first_delay_s=self._base_delay_s, sleep=self._sleep
        )
        if not done:
            summary = json.dumps(errors[:3])
            raise PublishError(f"{len(pending)} event(s) not published after retries: {summary}")
