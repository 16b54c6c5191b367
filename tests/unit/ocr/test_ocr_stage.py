"""The ocr stage's decisions for one document, with stand-ins for the reader and the bus."""

from __future__ import annotations

from typing import Any

import pytest

from ocr.errors import EngineError, NoTextFoundError
from ocr.service import OcrOutcome
from ocr.stage import OcrStage
from ocrpipe.events import DocumentUploaded, OcrCompleted, OcrFailed, OcrFailureReason

URI = "s3://bucket-name/uploads/doc-stage-0001/a.png"


class Bus:
    def __init__(self) -> None:
        self.events: list[Any] = []

    def publish(self, *events: Any) -> None:
        self.events.extend(events)


class Reader:
    """Reads by raising ``error`` or returning a fresh outcome; records deletions."""

    class engine:  # the attribute the stage reads
        name = "tesseract"

    def __init__(self, error: Exception | None = None, *, delete_fails: bool = False) -> None:
        self.error = error
        self.deleted: list[str] = []
        self.delete_fails = delete_fails

    def read(self, uploaded: DocumentUploaded) -> OcrOutcome:
        if self.error is not None:
            raise self.error
        return OcrOutcome(
            text_uri="s3://bucket-name/text/doc-stage-0001.txt",
            page_count=1,
            mean_confidence=91.0,
            char_count=12,
            engine="tesseract",
            engine_version="5",
            cached=False,
            language="en",
        )

    def discard_upload(self, uri: str) -> None:
        if self.delete_fails:
            raise OSError("access denied")
        self.deleted.append(uri)


def uploaded(**changes: Any) -> DocumentUploaded:
    fields = {
        "document_id": "doc-stage-0001",
        "source_uri": URI,
        "content_type": "image/png",
        "size_bytes": 10,
        "sha256": "0" * 64,
        "filename": "a.png",
        "page_count": 1,
    }
    return DocumentUploaded.model_validate(fields | changes)


def read(reader: Reader, bus: Bus, *, final: bool = False, **changes: Any) -> dict[str, Any]:
    ocr = OcrStage(service=reader, publisher=bus, delete_uploads=True)  # type: ignore[arg-type]
    return ocr.read(uploaded(**changes), final_attempt=final)


def test_a_read_document_is_announced_and_its_upload_deleted() -> None:
    reader, bus = Reader(), Bus()
    assert read(reader, bus)["outcome"] == "completed"
    [event] = bus.events
    assert isinstance(event, OcrCompleted)
    assert (event.document_id, event.language, event.sha256) == ("doc-stage-0001", "en", "0" * 64)
    assert reader.deleted == [URI]


def test_a_backfilled_original_is_kept_and_a_failed_delete_loses_nothing() -> None:
    reader, bus = Reader(), Bus()
    read(reader, bus, keep_source=True)
    assert reader.deleted == []
    failing = Reader(delete_fails=True)
    assert read(failing, bus)["outcome"] == "completed"  # the text is stored and announced
    assert [type(e) for e in bus.events] == [OcrCompleted, OcrCompleted]


def test_a_document_that_cannot_be_read_fails_at_once() -> None:
    reader, bus = Reader(NoTextFoundError("No text was found.")), Bus()
    assert read(reader, bus) == {"outcome": "failed", "reason_code": "no_text"}
    [event] = bus.events
    assert isinstance(event, OcrFailed)
    assert event.reason_code == OcrFailureReason.NO_TEXT
    assert reader.deleted == []  # kept: the person may want to know what was sent


def test_an_engine_error_is_retried_and_told_on_the_last_delivery() -> None:
    reader, bus = Reader(EngineError("tesseract crashed")), Bus()
    with pytest.raises(EngineError):
        read(reader, bus)
    assert bus.events == []
    assert read(reader, bus, final=True)["reason_code"] == "engine_error"
    [event] = bus.events
    assert isinstance(event, OcrFailed)
    assert "tesseract crashed" not in event.reason  # the engine's own words stay in the logs
