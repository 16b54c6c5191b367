"""Textract engine and job logic without AWS: blocks → text, limits, errors, notices, backoff.

Textract calls go to a real boto3 client with a botocore ``Stubber`` (no network)."""

from __future__ import annotations

import hashlib
import io
import json
import re
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber
from PIL import Image

from ocr.cache import CachedText, InMemoryTextCache
from ocr.engines.base import PAGE_SEPARATOR
from ocr.engines.textract import (
    ASYNC_MAX_PAGES,
    MAX_IMAGE_SIDE,
    SYNC_MAX_BYTES,
    NotificationChannel,
    TextractEngine,
    TextractThrottledError,
    check_limits,
    text_from_blocks,
    translate_error,
)
from ocr.errors import (
    DocumentTooLargeError,
    EngineError,
    NoTextFoundError,
    UnreadableDocumentError,
    UnsupportedDocumentError,
)
from ocr.pages import Page
from ocr.service import OcrLimits, OcrService
from ocr.textract_jobs import (
    CompletionNotice,
    InMemoryJobStore,
    JobCompleted,
    JobFailed,
    JobStarted,
    NotCompletionNoticeError,
    TextractService,
    client_request_token,
    job_tag,
    parse_completion,
    queue_url_from_arn,
    redelivery_delay_s,
)
from ocrpipe.events import DocumentUploaded, OcrFailureReason, Recipient

BUCKET = "ocrpipe-test-ingest-123456789012-us-east-1"
CHANNEL = NotificationChannel(
    "arn:aws:sns:us-east-1:123456789012:ocrpipe-test-textract-completed",
    "arn:aws:iam::123456789012:role/textract",
)


def line(text: str, page: int | None = None, confidence: float = 99.0) -> list[dict[str, Any]]:
    extra = {"Page": page} if page is not None else {}
    out: list[dict[str, Any]] = [{"BlockType": "LINE", "Text": text, **extra}]
    out += [
        {"BlockType": "WORD", "Text": w, "Confidence": confidence, **extra} for w in text.split()
    ]
    return out


# --- blocks → text ----------------------------------------------------------------------------
def test_text_is_lines_per_page_in_page_order_with_word_confidences() -> None:
    blocks = [
        {"BlockType": "PAGE", "Page": 2},
        *line("second page", 2, 80.0),
        {"BlockType": "PAGE", "Page": 1},
        *line("first line", 1, 100.0),
        *line("second line", 1, 90.0),
    ]
    found = text_from_blocks(blocks)
    assert found.pages == ("first line\nsecond line", "second page")
    assert sorted(found.confidences) == [80.0, 80.0, 90.0, 90.0, 100.0, 100.0]
    result = found.to_result(page_count=2, engine_version="v")
    assert result.text == "first line\nsecond line" + PAGE_SEPARATOR + "second page\n"
    assert result.mean_confidence == 90.0
    assert result.word_count == 6
    assert result.engine == "textract"


def test_blank_page_keeps_its_place_and_sync_blocks_are_page_one() -> None:
    found = text_from_blocks([*line("alone"), {"BlockType": "PAGE", "Page": 2}, *line("x", 3)])
    assert found.pages == ("alone", "", "x")


def test_hyphenated_line_break_is_rejoined_like_tesseract_output() -> None:
    found = text_from_blocks([*line("a conso-"), *line("lation to all")])
    assert found.pages == ("a consolation\nto all",)


def test_no_blocks_is_an_empty_result() -> None:
    result = text_from_blocks([]).to_result(page_count=0, engine_version="")
    assert result.text == ""
    assert result.word_count == 0
    assert result.page_count == 1


# --- limits, checked before any call --------------------------------------------------------
def test_images_go_sync_and_pdf_tiff_async() -> None:
    assert check_limits("image/jpeg", 1000, 1) == "sync"
    assert check_limits("image/png", SYNC_MAX_BYTES, 1) == "sync"
    assert check_limits("application/pdf", 1000, ASYNC_MAX_PAGES) == "async"
    assert check_limits("image/tiff", 1000, 3) == "async"


@pytest.mark.parametrize(
    ("content_type", "size", "pages", "message"),
    [
        ("image/png", SYNC_MAX_BYTES + 1, 1, "reads images up to 10.0 MB"),
        ("application/pdf", 500 * 1024 * 1024 + 1, 1, "up to 500.0 MB"),
        ("application/pdf", 1000, ASYNC_MAX_PAGES + 1, "3001 pages"),
        ("image/tiff", 1000, 5000, "5000 pages"),
    ],
)
def test_over_limit_documents_are_too_large(
    content_type: str, size: int, pages: int, message: str
) -> None:
    with pytest.raises(DocumentTooLargeError, match=message) as caught:
        check_limits(content_type, size, pages)
    assert caught.value.reason_code == OcrFailureReason.TOO_LARGE


def test_unknown_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedDocumentError):
        check_limits("image/gif", 10, 1)


# --- errors -----------------------------------------------------------------------------------
def client_error(code: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "DetectDocumentText")


@pytest.mark.parametrize(
    "code",
    ["ProvisionedThroughputExceededException", "LimitExceededException", "ThrottlingException"],
)
def test_throttling_codes_are_retried_later(code: str) -> None:
    error = translate_error(client_error(code), "DetectDocumentText")
    assert isinstance(error, TextractThrottledError)
    assert isinstance(error, EngineError)  # last delivery: reported like any engine error
    assert error.code == code


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("DocumentTooLargeException", DocumentTooLargeError),
        ("UnsupportedDocumentException", UnsupportedDocumentError),
        ("BadDocumentException", UnreadableDocumentError),
        ("InvalidS3ObjectException", UnreadableDocumentError),
        ("InternalServerError", EngineError),
        ("AccessDeniedException", EngineError),
    ],
)
def test_document_errors_map_to_failure_reasons(code: str, kind: type[Exception]) -> None:
    error = translate_error(client_error(code), "DetectDocumentText")
    assert type(error) is kind
    assert error.reason


# --- engine against a stubbed client ----------------------------------------------------------
@pytest.fixture
def client(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    return boto3.client("textract", region_name="us-east-1")


def test_collect_pages_through_next_token(client: Any) -> None:
    engine = TextractEngine(client)
    with Stubber(client) as stub:
        stub.add_response(
            "get_document_text_detection",
            {"JobStatus": "SUCCEEDED", "Blocks": line("one", 1), "NextToken": "t1"},
            {"JobId": "j", "MaxResults": 1000},
        )
        stub.add_response(
            "get_document_text_detection",
            {
                "JobStatus": "SUCCEEDED",
                "Blocks": line("two", 2),
                "DocumentMetadata": {"Pages": 2},
                "DetectDocumentTextModelVersion": "1.0",
            },
            {"JobId": "j", "MaxResults": 1000, "NextToken": "t1"},
        )
        outcome = engine.collect("j")
        stub.assert_no_pending_responses()
    assert outcome.result is not None
    assert outcome.result.text == "one" + PAGE_SEPARATOR + "two\n"
    assert outcome.result.page_count == 2
    assert engine.version == "DetectDocumentText/1.0"


def test_collect_of_a_failed_job_returns_its_message(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_response(
            "get_document_text_detection",
            {"JobStatus": "FAILED", "StatusMessage": "Request has invalid s3 object"},
        )
        outcome = TextractEngine(client).collect("j")
    assert outcome.result is None
    assert outcome.status == "FAILED"
    assert outcome.status_message == "Request has invalid s3 object"


def test_throttled_get_raises_throttled(client: Any) -> None:
    with Stubber(client) as stub:
        stub.add_client_error(
            "get_document_text_detection", "ProvisionedThroughputExceededException"
        )
        with pytest.raises(TextractThrottledError):
            TextractEngine(client).collect("j")


def test_read_pages_sends_png_bytes_and_uses_text_layers(client: Any) -> None:
    engine = TextractEngine(client)
    pages = [
        Page(number=1, image=None, text_layer="born digital text"),
        Page(number=2, image=Image.new("L", (60, 40), 255), dpi=300),
    ]
    with Stubber(client) as stub:
        stub.add_response("detect_document_text", {"Blocks": line("scanned words", None, 88.0)})
        result = engine.read(pages)
        stub.assert_no_pending_responses()
    assert result.text == "born digital text" + PAGE_SEPARATOR + "scanned words\n"
    assert result.page_count == 2
    assert result.word_count == 5


def test_read_pages_refuses_pages_over_the_pixel_limit(client: Any) -> None:
    page = Page(number=1, image=Image.new("1", (MAX_IMAGE_SIDE + 1, 2)))
    with Stubber(client), pytest.raises(DocumentTooLargeError):
        TextractEngine(client).read([page])


# --- identities, notices, backoff ------------------------------------------------------------
def test_client_request_token_is_stable_per_document_and_bytes() -> None:
    token = client_request_token("doc-000001", "a" * 64)
    assert token == client_request_token("doc-000001", "a" * 64)
    assert re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", token)
    assert token != client_request_token("doc-000002", "a" * 64)
    assert token != client_request_token("doc-000001", "b" * 64)
    rerun = client_request_token("doc-000001", "a" * 64, rerun="2026-01-01T00:00:00+00:00")
    assert re.fullmatch(r"[a-zA-Z0-9-_]{1,64}", rerun)
    assert rerun != token


def test_reocr_starts_a_new_job_instead_of_getting_the_finished_one(client: Any) -> None:
    textract, _, _, _ = service(client)
    uploaded = event(b"%PDF", "application/pdf").model_copy(update={"reocr": True})
    with Stubber(client) as stub:
        stub.add_response(
            "start_document_text_detection",
            {"JobId": "job-2"},
            {
                "DocumentLocation": ANY,
                "ClientRequestToken": client_request_token(
                    "doc-000001", uploaded.sha256, rerun=uploaded.occurred_at.isoformat()
                ),
                "JobTag": "doc-000001",
                "NotificationChannel": ANY,
            },
        )
        assert textract.read(uploaded) == JobStarted(job_id="job-2", page_count=1)


def test_job_tag_fits_textracts_pattern() -> None:
    doc_id = "Ab_-" * 16
    assert re.fullmatch(r"[a-zA-Z0-9_.\-:]{1,64}", job_tag(doc_id))


NOTICE = {
    "JobId": "job-1",
    "Status": "SUCCEEDED",
    "API": "StartDocumentTextDetection",
    "JobTag": "doc-000001",
    "Timestamp": 1700000000000,
    "DocumentLocation": {"S3ObjectName": "uploads/x.pdf", "S3Bucket": BUCKET},
}


def test_notice_is_read_from_raw_delivery_and_from_the_sns_envelope() -> None:
    raw = parse_completion(json.dumps(NOTICE))
    wrapped = parse_completion(
        json.dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps(NOTICE)})
    )
    assert raw == wrapped
    assert (raw.job_id, raw.status, raw.job_tag) == ("job-1", "SUCCEEDED", "doc-000001")


@pytest.mark.parametrize(
    "body",
    ["", "not json", "[]", '{"Status": "SUCCEEDED"}', '{"Type": "Notification", "Message": "{"}'],
)
def test_anything_else_is_not_a_notice(body: str) -> None:
    with pytest.raises(NotCompletionNoticeError):
        parse_completion(body)


def test_backoff_grows_exponentially_with_jitter_up_to_the_cap() -> None:
    low = [redelivery_delay_s(n, rng=lambda: 0.0) for n in range(1, 8)]
    high = [redelivery_delay_s(n, rng=lambda: 0.999) for n in range(1, 8)]
    assert low == [15, 30, 60, 120, 240, 450, 450]
    assert high == [29, 59, 119, 239, 479, 899, 899]
    assert all(1 <= redelivery_delay_s(n) <= 900 for n in range(0, 50))


def test_queue_url_is_derived_from_the_event_source_arn() -> None:
    arn = "arn:aws:sqs:eu-west-1:123456789012:ocrpipe-prod-textract-completed"
    assert (
        queue_url_from_arn(arn, "https://sqs.eu-west-1.amazonaws.com")
        == "https://sqs.eu-west-1.amazonaws.com/123456789012/ocrpipe-prod-textract-completed"
    )
    assert (
        queue_url_from_arn(arn, "http://127.0.0.1:5000/")
        == "http://127.0.0.1:5000/123456789012/ocrpipe-prod-textract-completed"
    )
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        queue_url_from_arn("arn:aws:sns:eu-west-1:123456789012:topic", "https://x")


# --- the service: cache, limits, sync and async paths ----------------------------------------
class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def exists(self, uri: str) -> bool:
        return uri in self.objects

    def get(self, uri: str) -> bytes:
        if uri not in self.objects:
            raise UnreadableDocumentError("gone")
        return self.objects[uri]

    def put_text(self, bucket: str, key: str, text: str) -> str:
        uri = f"s3://{bucket}/{key}"
        self.objects[uri] = text.encode()
        return uri

    def delete(self, uri: str) -> None:
        self.objects.pop(uri, None)


def png(width: int = 80, height: int = 40) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def event(data: bytes, content_type: str = "image/png", pages: int = 1) -> DocumentUploaded:
    return DocumentUploaded(
        document_id="doc-000001",
        source_uri=f"s3://{BUCKET}/uploads/doc-000001/f ü",
        content_type=content_type,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        page_count=pages,
        recipient=Recipient(channel="webhook", ciphertext="Y2lwaGVy"),
        filename="f ü",
    )


def service(
    client: Any,
) -> tuple[TextractService, MemoryStore, InMemoryTextCache, InMemoryJobStore]:
    store, cache, jobs = MemoryStore(), InMemoryTextCache(), InMemoryJobStore()
    engine = TextractEngine(client)
    base = OcrService(
        engine=engine, cache=cache, store=store, text_bucket="text-bucket", limits=OcrLimits()
    )
    textract = TextractService(
        base=base, engine=engine, store=store, jobs=jobs, channel=CHANNEL, clock=lambda: 1000.0
    )
    return textract, store, cache, jobs


def test_sync_image_is_detected_from_s3_stored_and_cached(client: Any) -> None:
    textract, store, cache, _ = service(client)
    data = png()
    uploaded = event(data)
    store.objects[uploaded.source_uri] = data
    with Stubber(client) as stub:
        stub.add_response(
            "detect_document_text",
            {"Blocks": line("hello world")},
            {"Document": {"S3Object": {"Bucket": BUCKET, "Name": "uploads/doc-000001/f ü"}}},
        )
        outcome = textract.read(uploaded)
    assert not isinstance(outcome, JobStarted)
    assert outcome.cached is False
    assert store.objects[outcome.text_uri] == b"hello world\n"
    assert len(cache.entries) == 1
    with Stubber(client):  # a second read is answered by the cache: no call
        again = textract.read(uploaded)
    assert not isinstance(again, JobStarted)
    assert again.cached is True


def test_text_of_another_engine_is_not_served(client: Any) -> None:
    textract, store, cache, _ = service(client)
    data = png()
    uploaded = event(data)
    store.objects[uploaded.source_uri] = data
    cache.put(uploaded.sha256, "tesseract-fingerprint", CachedText("s3://b/k", 1, 90.0, 5, "5"))
    with Stubber(client) as stub:
        stub.add_response("detect_document_text", {"Blocks": line("fresh")})
        outcome = textract.read(uploaded)
        stub.assert_no_pending_responses()
    assert not isinstance(outcome, JobStarted)
    assert outcome.cached is False


def test_changed_bytes_are_refused_before_textract(client: Any) -> None:
    textract, store, _, _ = service(client)
    uploaded = event(png())
    store.objects[uploaded.source_uri] = png(81, 40)
    with Stubber(client), pytest.raises(UnreadableDocumentError, match="changed"):
        textract.read(uploaded)


def test_bytes_of_another_type_are_refused_before_textract(client: Any) -> None:
    textract, store, _, _ = service(client)
    buffer = io.BytesIO()
    Image.new("L", (60, 40), 255).save(buffer, format="JPEG")
    uploaded = event(buffer.getvalue())  # announced as a PNG
    store.objects[uploaded.source_uri] = buffer.getvalue()
    with Stubber(client), pytest.raises(UnreadableDocumentError, match="accepted as a PNG"):
        textract.read(uploaded)


def test_blank_image_is_no_text(client: Any) -> None:
    textract, store, cache, _ = service(client)
    data = png()
    uploaded = event(data)
    store.objects[uploaded.source_uri] = data
    with Stubber(client) as stub:
        stub.add_response("detect_document_text", {"Blocks": [{"BlockType": "PAGE"}]})
        with pytest.raises(NoTextFoundError):
            textract.read(uploaded)
    assert cache.entries == {}


def test_pdf_starts_a_job_and_records_it(client: Any) -> None:
    textract, _, _, jobs = service(client)
    uploaded = event(b"%PDF-1.7 whatever", "application/pdf", pages=12)
    with Stubber(client) as stub:
        stub.add_response(
            "start_document_text_detection",
            {"JobId": "job-1"},
            {
                "DocumentLocation": {
                    "S3Object": {"Bucket": BUCKET, "Name": "uploads/doc-000001/f ü"}
                },
                "ClientRequestToken": client_request_token("doc-000001", uploaded.sha256),
                "JobTag": "doc-000001",
                "NotificationChannel": {
                    "SNSTopicArn": CHANNEL.sns_topic_arn,
                    "RoleArn": CHANNEL.role_arn,
                },
            },
        )
        started = textract.read(uploaded)
    assert started == JobStarted(job_id="job-1", page_count=12)
    job = jobs.jobs["job-1"]
    assert (job.document_id, job.page_count, job.sha256) == ("doc-000001", 12, uploaded.sha256)
    assert job.recipient == uploaded.recipient
    assert job.expires_at == 1000 + 7 * 24 * 3600


def test_pdf_without_a_channel_is_an_engine_error(client: Any) -> None:
    textract, _, _, _ = service(client)
    textract._channel = None
    with Stubber(client), pytest.raises(EngineError, match="OCRPIPE_TEXTRACT_SNS_TOPIC_ARN"):
        textract.read(event(b"%PDF", "application/pdf"))


def notice(status: str = "SUCCEEDED") -> CompletionNotice:
    return CompletionNotice.model_validate({"JobId": "job-1", "Status": status})


def started_job(client: Any) -> tuple[TextractService, MemoryStore, InMemoryJobStore]:
    textract, store, _, jobs = service(client)
    with Stubber(client) as stub:
        stub.add_response("start_document_text_detection", {"JobId": "job-1"})
        textract.read(event(b"%PDF", "application/pdf", pages=2))
    return textract, store, jobs


def test_finish_succeeded_job_stores_text(client: Any) -> None:
    textract, store, jobs = started_job(client)
    job = textract.pending("job-1")
    assert job is not None
    with Stubber(client) as stub:
        stub.add_response(
            "get_document_text_detection",
            {"JobStatus": "SUCCEEDED", "Blocks": [*line("p1", 1), *line("p2", 2)]},
        )
        done = textract.finish(job, notice())
    assert isinstance(done, JobCompleted)
    assert done.outcome.page_count == 2
    assert store.objects[done.outcome.text_uri] == ("p1" + PAGE_SEPARATOR + "p2\n").encode()
    textract.forget("job-1")
    assert jobs.jobs == {}


def test_finish_failed_job_carries_the_status_message(client: Any) -> None:
    textract, _, _ = started_job(client)
    job = textract.pending("job-1")
    assert job is not None
    with Stubber(client) as stub:
        stub.add_response(
            "get_document_text_detection", {"JobStatus": "FAILED", "StatusMessage": "bad pdf"}
        )
        failed = textract.finish(job, notice("FAILED"))
    assert isinstance(failed, JobFailed)
    assert failed.reason_code == OcrFailureReason.ENGINE_ERROR
    assert failed.reason == "Amazon Textract could not read the document: bad pdf."


def test_finish_failed_job_without_results_still_fails_cleanly(client: Any) -> None:
    textract, _, _ = started_job(client)
    job = textract.pending("job-1")
    assert job is not None
    with Stubber(client) as stub:
        stub.add_client_error("get_document_text_detection", "InvalidJobIdException")
        failed = textract.finish(job, notice("ERROR"))
    assert isinstance(failed, JobFailed)
    assert failed.reason.endswith("no reason given.")


def test_finish_without_words_is_no_text(client: Any) -> None:
    textract, _, _ = started_job(client)
    job = textract.pending("job-1")
    assert job is not None
    with Stubber(client) as stub:
        stub.add_response("get_document_text_detection", {"JobStatus": "SUCCEEDED", "Blocks": []})
        failed = textract.finish(job, notice())
    assert isinstance(failed, JobFailed)
    assert failed.reason_code == OcrFailureReason.NO_TEXT


def test_unknown_job_has_no_record(client: Any) -> None:
    textract, _, _, _ = service(client)
    assert textract.pending("job-unknown") is None
