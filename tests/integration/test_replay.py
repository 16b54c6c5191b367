"""Local replay on a running stack, with FAKE consumers defined here.

Proves on real queues what the unit tests prove on the planner: only events in the window,
only to the chosen consumers, marked with ``replay-name``, never archived again; and that a
consumer added to a running stack gets live events and its history by replay.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ocrpipe.bus import EventPublisher, to_entry
from ocrpipe.events import DocumentUploaded, OcrCompleted
from ocrpipe.topology import Topology, naming_rules
from ocrpipe_local.archive import read_archive
from ocrpipe_local.errors import StackError
from ocrpipe_local.operations.replay import ReplayError, Window, replay_local
from ocrpipe_local.stack import OneMachineStack, without_service
from tests.waiting import until

pytestmark = pytest.mark.integration

_lock = threading.Lock()
#: consumer -> list of (document_id, detail-type, replay-name, reocr)
SEEN: dict[str, list[tuple[str, str, str | None, bool]]] = defaultdict(list)
SHA = "b" * 64


def _record(consumer: str, event: dict[str, Any]) -> dict[str, Any]:
    for record in event["Records"]:
        envelope = json.loads(record["body"])
        detail = envelope["detail"]
        with _lock:
            SEEN[consumer].append(
                (
                    detail["document_id"],
                    envelope["detail-type"],
                    envelope.get("replay-name"),
                    bool(detail.get("reocr")),
                )
            )
    return {"batchItemFailures": []}


def alpha_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _record("alpha", event)


def beta_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _record("beta", event)


def _consumer(handler: str, pattern: dict[str, Any], service: str) -> dict[str, Any]:
    return {
        "service": service,
        "handler": f"{__name__}.{handler}",
        "bus": "custom",
        "pattern": pattern,
        "batch_size": 10,
        "max_receive_count": 3,
        "visibility_timeout_s": 30,
        "max_concurrency": 2,
    }


def full_topology() -> Topology:
    return Topology.model_validate(
        {
            "names": naming_rules(),
            "consumers": {
                "alpha": _consumer(
                    "alpha_handler",
                    {"source": ["ocrpipe.ingest"], "detail-type": ["DocumentUploaded"]},
                    "ocr",
                ),
                "beta": _consumer("beta_handler", {"source": [{"prefix": "ocrpipe."}]}, "status"),
            },
            "http": {},
            "storage": {},
        }
    )


def uploaded_event(doc: str) -> DocumentUploaded:
    """A DocumentUploaded of ``doc`` (its upload need not exist: nothing reads it here)."""
    return DocumentUploaded(
        document_id=doc,
        source_uri=f"s3://bucket-x/uploads/{doc}/f.png",
        content_type="image/png",
        size_bytes=10,
        sha256=SHA,
        page_count=1,
    )


def _ocr_completed(doc: str) -> OcrCompleted:
    return OcrCompleted(
        document_id=doc,
        text_uri=f"s3://bucket-x/text/{doc}.txt",
        sha256=SHA,
        engine="tesseract",
        page_count=1,
        mean_confidence=90,
        char_count=5,
    )


def _seen(consumer: str, docs: set[str]) -> list[tuple[str, str, str | None, bool]]:
    with _lock:
        return [s for s in SEEN[consumer] if s[0] in docs]


def test_replay_window_consumer_filter_and_a_consumer_added_later(tmp_path):
    topology = full_topology()
    state = tmp_path / "state"
    tag = secrets.token_hex(3)
    early = [f"early{tag}{i}" for i in range(3)]
    late = [f"late{tag}{i}" for i in range(2)]
    ocr_doc = f"ocrdone{tag}"
    docs = {*early, *late, ocr_doc}
    with OneMachineStack(
        state_dir=state,
        stage="rp" + secrets.token_hex(3),
        topology=without_service(topology, "status"),
        retry_backoff_s=0,
    ) as stack:
        assert set(stack.resources.consumers) == {"alpha"}
        assert stack.archive is not None
        bus = stack.resources.bus_name
        publisher = EventPublisher(stack.client("events"), bus)

        # The early events say they happened a minute before the late ones were published
        # (the bus takes an entry's Time as the envelope time), so the windows are exact.
        middle = datetime.now(UTC).replace(microsecond=0)
        stack.client("events").put_events(
            Entries=[
                {**to_entry(uploaded_event(d), bus), "Time": middle - timedelta(minutes=1)}
                for d in early
            ]
        )
        assert stack.archive.wait_until(
            lambda evs: sum(e.document_id in early for e in evs) == 3, 30
        )
        publisher.publish(*(uploaded_event(d) for d in late), _ocr_completed(ocr_doc))
        assert stack.archive.wait_until(
            lambda evs: sum(e.document_id in docs for e in evs) == 6, 30
        )
        assert stack.drain(timeout=30)
        assert len(_seen("alpha", docs)) == 5  # live: the five DocumentUploaded

        # A consumer added to the running stack ...
        with pytest.raises(StackError, match="already running"):
            stack.add_consumer("alpha", source=topology)
        stack.add_consumer("beta", source=topology)
        assert stack.invocations()["beta"] == 0
        archived_before = len(read_archive(state / "archive.jsonl"))

        # ... gets only the late window, and alpha gets nothing.
        with pytest.raises(ReplayError, match="no such consumer"):
            replay_local(stack, window=Window(), consumers=["gamma"])
        report = replay_local(
            stack, window=Window(since=middle), consumers=["beta"], reocr=True, name="late-1"
        )
        assert report.per_consumer == {"beta": 3}
        assert stack.drain(timeout=30)
        beta = _seen("beta", docs)
        assert sorted(s[0] for s in beta) == sorted([*late, ocr_doc])
        assert {s[2] for s in beta} == {"late-1"}
        # reocr is set on replayed DocumentUploaded only.
        assert {(s[1], s[3]) for s in beta} == {("DocumentUploaded", True), ("OcrCompleted", False)}
        assert len(_seen("alpha", docs)) == 5

        # The early window to alpha only: exactly the three early documents again.
        report = replay_local(
            stack, window=Window(until=middle), consumers=["alpha"], name="early-1"
        )
        assert stack.drain(timeout=30)
        replayed = [s for s in _seen("alpha", docs) if s[2] == "early-1"]
        assert sorted(s[0] for s in replayed) == sorted(early)
        assert not any(s[3] for s in replayed)
        assert len(_seen("beta", docs)) == 3

        # Without --to, every matching consumer; with --event, only that type.
        report = replay_local(
            stack, window=Window(since=middle), event_types=["OcrCompleted"], name="all-1"
        )
        assert report.per_consumer == {"beta": 1}
        assert stack.drain(timeout=30)

        # Replays never became history, and live events reach the new consumer.
        assert len(read_archive(state / "archive.jsonl")) == archived_before
        fresh = f"fresh{tag}"
        publisher.publish(uploaded_event(fresh))
        assert until(
            lambda: len(_seen("beta", {fresh})) == 1 and len(_seen("alpha", {fresh})) == 1, 30
        )
        assert _seen("beta", {fresh})[0][2] is None
