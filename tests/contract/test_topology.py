"""Contract tests: every rule in the topology matches exactly the events its consumer handles.

Patterns are evaluated by moto's EventBridge pattern matcher, the one that routes events in the
local runtime (moto does not implement the TestEventPattern API), so a typo in a pattern fails
here rather than silently dropping events.
"""

from __future__ import annotations

import json
import re

import pytest
from moto.events.models import EventPattern

from ocrpipe import topology
from ocrpipe.events import EVENTS_BY_DETAIL_TYPE

from .examples import EXAMPLES

PLACE = topology.Place(stage="test", account="123456789012", region="us-east-1")


def _envelope(source: str, detail_type: str, detail: dict) -> str:
    return json.dumps(
        {
            "id": "1",
            "account": PLACE.account,
            "source": source,
            "time": "2026-11-24T00:00:00Z",
            "region": PLACE.region,
            "resources": [],
            "detail-type": detail_type,
            "detail": detail,
        }
    )


def _matches(consumer: str, event: str) -> bool:
    pattern = EventPattern.load(json.dumps(PLACE.pattern(consumer)))
    return bool(pattern.matches_event(json.loads(event)))


def test_topology_loads_and_names_fill():
    topo = topology.load()
    assert PLACE.name("bus") == "ocrpipe-test"
    assert PLACE.name("queue", consumer="ocr") == "ocrpipe-test-ocr"
    for name in topo.consumers:
        assert not re.search(r"\{[a-z_]+\}", json.dumps(PLACE.pattern(name)))


def test_every_subscribed_detail_type_is_a_contract():
    for name, consumer in topology.load().consumers.items():
        if consumer.bus != "custom":
            continue
        for detail_type in consumer.pattern.get("detail-type", []):  # status: all, by prefix
            model = EVENTS_BY_DETAIL_TYPE[detail_type]
            assert model.SOURCE in consumer.pattern["source"], (name, detail_type)


@pytest.mark.parametrize("consumer", ["ocr", "wordcount", "notify"])
def test_domain_consumers_get_exactly_their_events(consumer):
    wanted = set(topology.load().consumers[consumer].pattern["detail-type"])
    for detail_type, example in EXAMPLES.items():
        event = _envelope(example.SOURCE, detail_type, json.loads(example.model_dump_json()))
        assert _matches(consumer, event) == (detail_type in wanted), detail_type


def test_ingest_gets_object_created_of_its_own_bucket_only():
    own = PLACE.name("bucket", service="ingest")
    created = {"bucket": {"name": own}, "object": {"key": "uploads/x/a b.png", "size": 3}}
    assert _matches("ingest-uploads", _envelope("aws.s3", "Object Created", created))
    other = created | {"bucket": {"name": "someone-elses-bucket"}}
    assert not _matches("ingest-uploads", _envelope("aws.s3", "Object Created", other))
    assert not _matches("ingest-uploads", _envelope("aws.s3", "Object Deleted", created))


def test_status_gets_every_domain_event_and_nothing_else():
    for detail_type, example in EXAMPLES.items():
        event = _envelope(example.SOURCE, detail_type, json.loads(example.model_dump_json()))
        assert _matches("status", event), detail_type
    created = {"bucket": {"name": PLACE.name("bucket", service="ingest")}, "object": {"key": "k"}}
    assert not _matches("status", _envelope("aws.s3", "Object Created", created))
    assert not _matches("status", _envelope("ocrpipex.ingest", "DocumentUploaded", {}))


def test_status_publishes_nothing_it_would_consume_itself():
    assert all(model.SOURCE != "ocrpipe.status" for model in EVENTS_BY_DETAIL_TYPE.values())
