"""Contract tests: the event models, their generated schemas, and the topology agree."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from ocrpipe import events, schemas
from ocrpipe.envelope import Envelope, UnknownEventError
from ocrpipe.events import EVENT_TYPES, EVENTS_BY_DETAIL_TYPE

from .examples import EXAMPLES

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_generated_schemas_are_fresh():
    stale = schemas.stale_files(DOCS)
    assert not stale, f"regenerate with `python -m ocrpipe.schemas write`: {stale}"


def test_every_event_has_an_example_and_unique_detail_type():
    assert set(EXAMPLES) == set(EVENTS_BY_DETAIL_TYPE)
    assert len(EVENTS_BY_DETAIL_TYPE) == len(EVENT_TYPES)


@pytest.mark.parametrize("model", EVENT_TYPES, ids=lambda m: m.DETAIL_TYPE)
def test_source_names_the_producing_service(model):
    assert model.SOURCE.startswith("ocrpipe.")
    assert model.SOURCE.split(".", 1)[1] in {"ingest", "ocr", "wordcount", "notify", "status"}


@pytest.mark.parametrize("detail_type", sorted(EXAMPLES))
def test_example_round_trips_through_the_envelope(detail_type):
    event = EXAMPLES[detail_type]
    body = json.dumps(
        {
            "version": "0",
            "id": "1",
            "source": event.SOURCE,
            "detail-type": event.DETAIL_TYPE,
            "time": "2026-11-24T00:00:00Z",
            "region": "us-east-1",
            "resources": [],
            "detail": json.loads(event.model_dump_json()),
        }
    )
    parsed = Envelope.from_sqs_body(body)
    assert parsed.account is None  # moto omits it; the envelope must not need it
    assert parsed.domain_event() == event
    assert parsed.expect(type(event)) == event


@pytest.mark.parametrize("detail_type", sorted(EXAMPLES))
def test_example_validates_against_its_published_schema(detail_type):
    jsonschema = pytest.importorskip("jsonschema")
    event = EXAMPLES[detail_type]
    schema = json.loads((DOCS / "schemas" / f"{detail_type}.json").read_text())
    envelope = {
        "source": event.SOURCE,
        "detail-type": event.DETAIL_TYPE,
        "detail": json.loads(event.model_dump_json()),
    }
    jsonschema.Draft4Validator(schema).validate(envelope)


def test_consumers_ignore_unknown_fields_additive_changes_are_compatible():
    event = EXAMPLES["WordsCounted"]
    detail = json.loads(event.model_dump_json()) | {"a_field_from_the_future": 1}
    assert events.WordsCounted.model_validate(detail) == event


def test_expect_refuses_other_events_and_spoofed_sources():
    event = EXAMPLES["OcrCompleted"]
    envelope = Envelope.model_validate(
        {"source": "someone.else", "detail-type": "OcrCompleted", "detail": event.model_dump()}
    )
    with pytest.raises(UnknownEventError):
        envelope.expect(events.OcrCompleted)
    with pytest.raises(UnknownEventError):
        envelope.domain_event()


def test_text_never_travels_inline_only_as_s3_uris():
    with pytest.raises(ValidationError):
        events.OcrCompleted.model_validate(
            json.loads(EXAMPLES["OcrCompleted"].model_dump_json()) | {"text_uri": "hello world"}
        )


@pytest.mark.parametrize("detail_type", sorted(EXAMPLES))
def test_examples_are_far_below_the_eventbridge_limit(detail_type):
    assert len(EXAMPLES[detail_type].model_dump_json()) < 8 * 1024
