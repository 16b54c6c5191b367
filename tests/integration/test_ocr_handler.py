"""The ocr handler against moto: S3 in, OcrCompleted/OcrFailed out on the bus (real Tesseract)."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws
from PIL import Image, ImageDraw, ImageFont

from ocr.errors import ENGINE_FAILED
from ocrpipe import aws, container
from ocrpipe.events import DocumentUploaded, Recipient
from tests import lambda_shapes
from tests.lambda_shapes import envelope_body, lambda_context, queue_arn, sqs_event
from tests.polyglot import many_page_pdf, png_carrying

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract"),
]

REGION = "us-east-1"
UPLOADS = "ocrpipe-test-ingest-123456789012-us-east-1"
OCR_BUCKET = "ocrpipe-test-ocr-123456789012-us-east-1"
BUS = "ocrpipe-test"
LINES = [
    "Call me Ishmael. Some years ago,",
    "never mind how long precisely,",
    "having little money.",
]


def page_png() -> bytes:
    font_path = next(
        p
        for p in (
            Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
            Path("/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"),
        )
        if p.exists()
    )
    font = ImageFont.truetype(str(font_path), 40)
    image = Image.new("L", (1200, 300), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(LINES):
        draw.text((40, 40 + i * 70), line, font=font, fill=0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


@dataclass
class Stack:
    s3: Any
    sqs: Any
    capture_url: str

    def upload(self, key: str, data: bytes) -> str:
        self.s3.put_object(Bucket=UPLOADS, Key=key, Body=data)
        return f"s3://{UPLOADS}/{key}"

    def captured(self) -> list[dict[str, Any]]:
        return lambda_shapes.drain_bodies(self.sqs, self.capture_url)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "OCRPIPE_STAGE": "test",
        "OCRPIPE_BUS_NAME": BUS,
        "OCRPIPE_OCR_BUCKET": OCR_BUCKET,
        "OCRPIPE_OCR_TABLE": "ocrpipe-test-ocr",
        "OCRPIPE_OCR_IDEMPOTENCY_TABLE": "ocrpipe-test-ocr-idempotency",
        "POWERTOOLS_METRICS_NAMESPACE": "ocrpipe",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        container.cold_start()  # clients made outside this mock must not be reused
        s3, sqs, events, ddb = (aws.client(n) for n in ("s3", "sqs", "events", "dynamodb"))
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=OCR_BUCKET)
        for table, key in (("ocrpipe-test-ocr", "pk"), ("ocrpipe-test-ocr-idempotency", "id")):
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        events.create_event_bus(Name=BUS)
        url = sqs.create_queue(QueueName="capture")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="capture-ocr",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": ["ocrpipe.ocr"]}),
        )
        events.put_targets(Rule="capture-ocr", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        yield Stack(s3=s3, sqs=sqs, capture_url=url)
        container.cold_start()


def uploaded_event(
    doc_id: str,
    uri: str,
    data: bytes,
    *,
    receive_count: int = 1,
    replay_name: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    event = DocumentUploaded(
        document_id=doc_id,
        source_uri=uri,
        content_type="image/png",
        size_bytes=max(1, len(data)),
        sha256=hashlib.sha256(data).hexdigest(),
        page_count=1,
        filename="my scan ü.png",
        recipient=Recipient(channel="email", ciphertext="c2VjcmV0"),
        **extra,
    )
    body = envelope_body(event, replay_name=replay_name)
    return sqs_event(body, receive_count=receive_count, queue_arn=queue_arn("ocrpipe-test-ocr"))


def run(event: dict[str, Any]) -> dict[str, Any]:
    from ocr.handlers import on_document_uploaded

    result: dict[str, Any] = on_document_uploaded(event, lambda_context("ocr-on-document-uploaded"))
    return result


def test_document_is_read_then_identical_bytes_hit_the_cache(stack: Stack) -> None:
    data = page_png()
    uri = stack.upload("uploads/doc-000001/my scan ü.png", data)

    assert run(uploaded_event("doc-000001", uri, data)) == {"batchItemFailures": []}

    (completed,) = stack.captured()
    assert completed["detail-type"] == "OcrCompleted"
    detail = completed["detail"]
    assert detail["document_id"] == "doc-000001"
    assert detail["cached"] is False
    assert detail["engine"] == "tesseract"
    assert detail["page_count"] == 1
    assert detail["sha256"] == hashlib.sha256(data).hexdigest()
    assert detail["filename"] == "my scan ü.png"
    assert detail["recipient"] == {"channel": "email", "ciphertext": "c2VjcmV0"}
    bucket, _, key = detail["text_uri"][len("s3://") :].partition("/")
    assert bucket == OCR_BUCKET
    stored = stack.s3.get_object(Bucket=bucket, Key=key)
    text = stored["Body"].read().decode("utf-8")
    assert stored["ContentType"].startswith("text/plain")
    assert "Ishmael" in text
    assert "precisely" in text
    assert detail["char_count"] == len(text)
    # the upload is deleted once its text is stored
    assert stack.s3.list_objects_v2(Bucket=UPLOADS).get("KeyCount") == 0

    # same bytes, another document: no engine call, same text
    uri2 = stack.upload("uploads/doc-000002/copy.png", data)
    assert run(uploaded_event("doc-000002", uri2, data)) == {"batchItemFailures": []}
    (second,) = stack.captured()
    assert second["detail"]["cached"] is True
    assert second["detail"]["text_uri"] == detail["text_uri"]
    assert second["detail"]["document_id"] == "doc-000002"


def test_duplicate_delivery_does_not_publish_twice(stack: Stack) -> None:
    data = page_png()
    uri = stack.upload("uploads/doc-000003/a.png", data)
    event = uploaded_event("doc-000003", uri, data)
    run(event)
    assert len(stack.captured()) == 1
    replay = uploaded_event("doc-000003", uri, data)  # new event id, same document
    assert run(replay) == {"batchItemFailures": []}
    assert stack.captured() == []


def test_corrupt_bytes_become_ocr_failed(stack: Stack) -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"garbage" * 20
    uri = stack.upload("uploads/doc-000004/broken.png", data)
    assert run(uploaded_event("doc-000004", uri, data)) == {"batchItemFailures": []}
    (failed,) = stack.captured()
    assert failed["detail-type"] == "OcrFailed"
    assert failed["detail"]["reason_code"] == "unreadable"
    assert failed["detail"]["reason"]
    assert failed["detail"]["recipient"]["ciphertext"] == "c2VjcmV0"


def test_a_png_carrying_a_pdf_is_read_as_the_png_it_was_checked_as(stack: Stack) -> None:
    data = png_carrying(page_png(), many_page_pdf(500))
    uri = stack.upload("uploads/doc-000010/innocent.png", data)
    assert run(uploaded_event("doc-000010", uri, data)) == {"batchItemFailures": []}
    (completed,) = stack.captured()
    assert completed["detail-type"] == "OcrCompleted"
    assert completed["detail"]["page_count"] == 1  # the PNG's one page, not 500 PDF pages


def test_pdf_bytes_in_an_event_saying_png_become_ocr_failed(stack: Stack) -> None:
    data = many_page_pdf(500)
    uri = stack.upload("uploads/doc-000011/not-a.png", data)
    assert run(uploaded_event("doc-000011", uri, data)) == {"batchItemFailures": []}
    (failed,) = stack.captured()
    assert failed["detail-type"] == "OcrFailed"
    assert failed["detail"]["reason_code"] == "unreadable"
    assert "accepted as a PNG image" in failed["detail"]["reason"]


def test_blank_page_is_no_text(stack: Stack) -> None:
    buffer = io.BytesIO()
    Image.new("L", (800, 600), 255).save(buffer, format="PNG")
    data = buffer.getvalue()
    uri = stack.upload("uploads/doc-000005/blank.png", data)
    run(uploaded_event("doc-000005", uri, data))
    (failed,) = stack.captured()
    assert failed["detail"]["reason_code"] == "no_text"


def test_engine_error_retries_then_fails_on_last_delivery(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCRPIPE_TESSERACT_LANG", "zzz")  # no such language data installed
    data = page_png()
    uri = stack.upload("uploads/doc-000006/a.png", data)
    # powertools raises when every record of the batch failed: the whole batch is retried
    with pytest.raises(BatchProcessingError, match="no language data for 'zzz'"):
        run(uploaded_event("doc-000006", uri, data, receive_count=1))
    assert stack.captured() == []
    last = run(uploaded_event("doc-000006", uri, data, receive_count=3))
    assert last == {"batchItemFailures": []}
    (failed,) = stack.captured()
    assert failed["detail"]["reason_code"] == "engine_error"
    # the person reads a sentence, not the engine's own words
    assert failed["detail"]["reason"] == ENGINE_FAILED
    assert "zzz" not in failed["detail"]["reason"]


def test_missing_upload_is_unreadable(stack: Stack) -> None:
    data = page_png()
    uri = f"s3://{UPLOADS}/uploads/doc-000007/never-uploaded.png"
    run(uploaded_event("doc-000007", uri, data))
    (failed,) = stack.captured()
    assert failed["detail"]["reason_code"] == "unreadable"


def test_each_reocr_replay_reads_once_more_and_backfilled_sources_are_kept(
    stack: Stack,
) -> None:
    data = page_png()
    uri = stack.upload("backfill/doc-000010/page.png", data)
    run(uploaded_event("doc-000010", uri, data, keep_source=True))
    assert [e["detail"]["cached"] for e in stack.captured()] == [False]
    # an operator's object that a backfill pointed at is never deleted
    assert stack.s3.list_objects_v2(Bucket=UPLOADS).get("KeyCount") == 1

    def replayed(name: str) -> dict[str, Any]:
        return uploaded_event(
            "doc-000010", uri, data, keep_source=True, reocr=True, replay_name=name
        )

    for name in ("replay-1", "replay-1", "replay-2"):
        assert run(replayed(name)) == {"batchItemFailures": []}
    # one fresh engine read per distinct --reocr replay, none for a duplicate of one
    assert [e["detail"]["cached"] for e in stack.captured()] == [False, False]
