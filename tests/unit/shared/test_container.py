"""What a handler builds once per container, and the batch shape of every consumer."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from ocrpipe import container
from ocrpipe.container import Consumer, EventRecord, per_container, receive_count
from ocrpipe.events import DocumentUploaded
from tests.lambda_shapes import envelope_body, lambda_context, sqs_event

FUNCTION = "ocrpipe-test-fn"


def uploaded(doc: str = "doc-container-01") -> DocumentUploaded:
    return DocumentUploaded(
        document_id=doc,
        source_uri=f"s3://bucket-name/uploads/{doc}/a.png",
        content_type="image/png",
        size_bytes=10,
        sha256="0" * 64,
        filename="a.png",
        page_count=1,
    )


def test_built_once_per_container_and_again_after_a_cold_start() -> None:
    builds: list[object] = []

    @per_container
    def world() -> object:
        builds.append(built := object())
        return built

    first = world()
    assert world() is first
    container.cold_start()
    second = world()
    assert second is not first
    assert builds == [first, second]


def test_each_thread_of_the_local_runtime_is_its_own_container() -> None:
    """Two calls in flight never share an object with per-call state (a batch processor)."""

    @per_container
    def world() -> object:
        return object()

    seen: dict[str, object] = {}

    def worker(name: str) -> None:
        seen[name] = world()
        assert world() is seen[name]

    threads = [threading.Thread(target=worker, args=(n,)) for n in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert seen["a"] is not seen["b"]
    assert world() not in (seen["a"], seen["b"])


def test_warm_builds_a_marked_handlers_container_before_its_first_call() -> None:
    builds: list[str] = []

    @per_container
    def world() -> str:
        builds.append(threading.current_thread().name)
        return "world"

    @container.built_by(world)
    def handler(event: dict[str, Any], context: Any) -> str:
        return world()

    def unmarked(event: dict[str, Any], context: Any) -> None:
        return None

    assert container.warm(handler)
    assert builds == [threading.current_thread().name]
    assert handler({}, None) == "world"
    assert len(builds) == 1  # the first call found it built
    assert not container.warm(unmarked)


def test_every_consumer_handler_can_be_warmed() -> None:
    """The runtime warms each worker's handler before its first message; one a service
    forgot to mark would pay its build on the first document instead."""
    import importlib

    from ocrpipe.topology import read_declaration

    services = Path(__file__).resolve().parents[3] / "services"
    handlers = [
        consumer.handler
        for path in sorted(services.glob("*/ocrpipe-service.json"))
        for consumer in read_declaration(path).consumers.values()
    ]
    assert handlers
    for dotted in handlers:
        module, _, name = dotted.rpartition(".")
        function = getattr(importlib.import_module(module), name)
        assert getattr(function, container._BUILD_ATTRIBUTE, None) is not None, dotted


def test_records_are_parsed_into_envelopes_and_bad_ones_fail_alone() -> None:
    handled: list[Any] = []

    def record_handler(record: EventRecord) -> None:
        handled.append(record.body.expect(DocumentUploaded))

    sent = uploaded()
    good = envelope_body(sent)
    event = sqs_event(good, "{not json", json.dumps({"detail": {}}))
    response = Consumer(record_handler)(event, lambda_context(FUNCTION))
    failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
    assert failed == [r["messageId"] for r in event["Records"][1:]]
    assert handled == [sent]


def test_a_batch_that_failed_whole_raises_unless_asked_not_to() -> None:
    def record_handler(record: EventRecord) -> None:
        raise RuntimeError("throttled")

    event = sqs_event(envelope_body(uploaded()))
    with pytest.raises(Exception, match="All records failed"):
        Consumer(record_handler)(event, lambda_context(FUNCTION))
    response = Consumer(record_handler, fail_whole_batch=False)(event, lambda_context(FUNCTION))
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}


@pytest.mark.parametrize(("given", "expected"), [("1", 1), ("4", 4), ("", 1), ("x", 1)])
def test_receive_count_of_a_parsed_record(given: str, expected: int) -> None:
    raw = sqs_event(envelope_body(uploaded()))["Records"][0]
    raw["attributes"]["ApproximateReceiveCount"] = given
    assert receive_count(EventRecord.model_validate(raw)) == expected
