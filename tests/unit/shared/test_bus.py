from __future__ import annotations

from typing import Any

import pytest

from ocrpipe import bus, events

DOC = "0123456789abcdef"


def _event(i: int = 0, filename: str = "") -> events.OcrFailed:
    return events.OcrFailed(
        document_id=f"{DOC}{i:04d}",
        filename=filename,
        reason_code=events.OcrFailureReason.NO_TEXT,
        reason="No text.",
        engine="tesseract",
    )


class FakeEventBridge:
    """Records PutEvents calls; fails the entries listed in ``fail`` on the first N calls."""

    def __init__(self, fail_first_calls: int = 0, fail_indexes: tuple[int, ...] = ()) -> None:
        self.calls: list[list[dict[str, Any]]] = []
        self._fail_first_calls = fail_first_calls
        self._fail_indexes = fail_indexes

    def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.calls.append(Entries)
        failing = len(self.calls) <= self._fail_first_calls
        results = []
        for i, _ in enumerate(Entries):
            if failing and i in self._fail_indexes:
                results.append({"ErrorCode": "InternalFailure", "ErrorMessage": "try again"})
            else:
                results.append({"EventId": f"id-{len(self.calls)}-{i}"})
        failed = sum("ErrorCode" in r for r in results)
        return {"FailedEntryCount": failed, "Entries": results}


def _publisher(
    client: FakeEventBridge, attempts: int = 4, sleeps: list[float] | None = None
) -> bus.EventPublisher:
    sleep = (lambda _: None) if sleeps is None else sleeps.append
    return bus.EventPublisher(client, "ocrpipe-test", attempts=attempts, sleep=sleep)  # type: ignore[arg-type]


def test_publishes_in_batches_of_ten_with_envelope_fields():
    client = FakeEventBridge()
    sent = [_event(i) for i in range(23)]
    _publisher(client).publish(*sent)
    assert [len(c) for c in client.calls] == [10, 10, 3]
    entry = client.calls[0][0]
    assert entry["Source"] == "ocrpipe.ocr"
    assert entry["DetailType"] == "OcrFailed"
    assert entry["EventBusName"] == "ocrpipe-test"
    assert events.OcrFailed.model_validate_json(entry["Detail"]) == sent[0]


def test_retries_only_the_failed_entries():
    client = FakeEventBridge(fail_first_calls=1, fail_indexes=(1, 3))
    _publisher(client).publish(*[_event(i) for i in range(5)])
    assert len(client.calls) == 2
    retried = [events.OcrFailed.model_validate_json(e["Detail"]) for e in client.calls[1]]
    assert [e.document_id for e in retried] == [_event(1).document_id, _event(3).document_id]


def test_raises_when_entries_keep_failing():
    client, sleeps = FakeEventBridge(fail_first_calls=99, fail_indexes=(0,)), list[float]()
    with pytest.raises(bus.PublishError, match="1 event"):
        _publisher(client, attempts=3, sleeps=sleeps).publish(_event())
    assert len(client.calls) == 3
    assert sleeps == pytest.approx([0.1, 0.2])  # doubling, and none after the last call


def test_waits_before_each_retry_only():
    client, sleeps = FakeEventBridge(fail_first_calls=1, fail_indexes=(0,)), list[float]()
    _publisher(client, sleeps=sleeps).publish(_event())
    assert (len(client.calls), sleeps) == (2, [0.1])


def test_an_error_raised_by_the_bus_is_not_retried():
    class RefusingEventBridge(FakeEventBridge):
        def put_events(self, Entries: list[dict[str, Any]]) -> dict[str, Any]:
            self.calls.append(Entries)
            raise RuntimeError("AccessDenied")

    client, sleeps = RefusingEventBridge(), list[float]()
    with pytest.raises(RuntimeError, match="AccessDenied"):
        _publisher(client, sleeps=sleeps).publish(_event())
    assert (len(client.calls), sleeps) == (1, [])


def test_refuses_oversized_events_before_calling_the_bus():
    client = FakeEventBridge()
    huge = _event(filename="x")
    huge = huge.model_copy(update={"reason": "y" * (bus.MAX_DETAIL_BYTES + 1)})
    with pytest.raises(bus.EventTooLargeError):
        _publisher(client).publish(huge)
    assert client.calls == []
