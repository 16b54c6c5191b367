"""Contract tests: every rule the services declare matches exactly the events its consumer handles.

Patterns are evaluated by moto's EventBridge pattern matcher, the one that routes events in the
local runtime (moto does not implement the TestEventPattern API), so a typo in a pattern fails
here rather than silently dropping events.
"""

from __future__ import annotations

import json
import re

import pytest
import yaml
from moto.events.models import EventPattern

from ocrpipe import topology
from ocrpipe.events import EVENTS_BY_DETAIL_TYPE
from ocrpipe_local.discovery import SERVICES_DIR, discover

from .examples import EXAMPLES

PLACE = topology.Place(stage="test", account="123456789012", region="us-east-1")
#: services/*/ocrpipe-service.json, assembled as the local runtime does.
TOPOLOGY = discover()


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
    pattern = EventPattern.load(json.dumps(PLACE.pattern(consumer, topology=TOPOLOGY)))
    return bool(pattern.matches_event(json.loads(event)))


def test_topology_loads_and_names_fill():
    topo = TOPOLOGY
    assert PLACE.name("bus") == "ocrpipe-test"
    assert PLACE.name("queue", consumer="ocr") == "ocrpipe-test-ocr"
    for name in topo.consumers:
        assert not re.search(r"\{[a-z_]+\}", json.dumps(PLACE.pattern(name, topology=TOPOLOGY)))


def test_every_subscribed_detail_type_is_a_contract():
    for name, consumer in TOPOLOGY.consumers.items():
        if consumer.bus != "custom":
            continue
        for detail_type in consumer.pattern.get("detail-type", []):  # status: all, by prefix
            model = EVENTS_BY_DETAIL_TYPE[detail_type]
            assert model.SOURCE in consumer.pattern["source"], (name, detail_type)


@pytest.mark.parametrize("consumer", ["ocr", "wordcount", "notify"])
def test_domain_consumers_get_exactly_their_events(consumer):
    wanted = set(TOPOLOGY.consumers[consumer].pattern["detail-type"])
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


class _AnyTagLoader(yaml.SafeLoader):
    """Reads serverless.yml with its CloudFormation tags (``!GetAtt``, ``!Sub``) as plain values."""


_AnyTagLoader.add_multi_constructor("!", lambda loader, _tag, node: None)
#: IAM actions that allow PutEvents on a bus.
_PUBLISH_ACTIONS = {"events:PutEvents", "events:*", "*"}
#: How a service's code would publish: through the shared publisher or its own events client.
_PUBLISHING_CODE = re.compile(r"EventPublisher|put_events|client\(\s*[\"']events[\"']")


def _granted_actions(service: str) -> set[str]:
    """Every IAM action any statement of the service's serverless files grants."""
    found: set[str] = set()

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("Effect") == "Allow" and "Action" in node:
                actions = node["Action"]
                found.update(actions if isinstance(actions, list) else [actions])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    for path in sorted((SERVICES_DIR / service).glob("*.yml")):
        walk(yaml.load(path.read_text(encoding="utf-8"), Loader=_AnyTagLoader))  # noqa: S506 - a SafeLoader
    return found


def _modules_publishing(service: str) -> list[str]:
    package = SERVICES_DIR / service / service
    return sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if _PUBLISHING_CODE.search(path.read_text(encoding="utf-8"))
    )


def test_status_publishes_nothing_it_would_consume_itself():
    """Status consumes every ocrpipe.* event: anything it published would come back to it. It
    publishes nothing at all: no role of its stack may put events, none of its code does, and
    no event is of its source."""
    assert not _granted_actions("status") & _PUBLISH_ACTIONS
    assert _modules_publishing("status") == []
    assert all(model.SOURCE != "ocrpipe.status" for model in EVENTS_BY_DETAIL_TYPE.values())
    # The same reading finds the publishers, so an empty answer above is not a blind one.
    for publisher in ("ingest", "ocr", "wordcount", "notify"):
        assert _granted_actions(publisher) & _PUBLISH_ACTIONS, publisher
        assert _modules_publishing(publisher), publisher


def test_every_service_folder_declares_itself():
    folders = {p.name for p in SERVICES_DIR.iterdir() if (p / "serverless.yml").exists()}
    declared = {p.parent.name for p in SERVICES_DIR.glob(f"*/{topology.DECLARATION_FILE}")}
    assert folders == declared == TOPOLOGY.services()
    for service in folders:
        # The file beside the package is what the service's handlers (and Lambda zip) read.
        shipped = topology.load_declaration(service).model_dump(exclude={"schema_uri", "comment"})
        assert shipped == TOPOLOGY.declaration(service).model_dump(
            exclude={"schema_uri", "comment"}
        )


def test_shared_holds_the_naming_rules_not_the_subscriptions():
    shared = SERVICES_DIR.parent / "shared"
    assert not (shared / "ocrpipe" / "topology.json").exists()
    names = json.loads((shared / "ocrpipe" / "names.json").read_text())
    assert {k for k in names if not k.startswith("_")} == set(topology.naming_rules())
    assert all("{stage}" in v for k, v in names.items() if not k.startswith("_"))
    # No consumer, handler or pattern of any service is spelled out in shared code.
    sources = [
        p
        for pattern in ("*.py", "*.js", "*.json")
        for p in shared.rglob(pattern)
        if not any(part.startswith(".") for part in p.relative_to(shared).parts)  # .serverless
    ]
    text = "\n".join(p.read_text(encoding="utf-8") for p in sources)
    for name, consumer in TOPOLOGY.consumers.items():
        assert consumer.handler not in text, name


def test_a_name_declared_twice_is_refused():
    ocr = topology.load_declaration("ocr")
    with pytest.raises(ValueError, match="declared twice"):
        TOPOLOGY.adding(ocr)
    thief = ocr.model_copy(update={"service": "thief"})
    with pytest.raises(ValueError, match="already declared by 'ocr'"):
        TOPOLOGY.adding(thief)


@pytest.mark.parametrize("bad", ["OCR", "1ocr", "ocr_x", "a" * 17, ""])
def test_service_names_are_checked(bad):
    with pytest.raises(ValueError, match="service"):
        topology.ServiceDeclaration(service=bad)


def test_declarations_follow_the_published_schema():
    import jsonschema

    schema = json.loads((SERVICES_DIR.parent / "docs" / "ocrpipe-service.schema.json").read_text())
    for path in sorted(SERVICES_DIR.glob(f"*/{topology.DECLARATION_FILE}")):
        declaration = json.loads(path.read_text())
        jsonschema.validate(declaration, schema)
        assert declaration["$schema"] == "../../docs/ocrpipe-service.schema.json", path
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"service": "x", "consumers": {"Bad_Name": {}}}, schema)
