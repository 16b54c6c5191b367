"""The ocr handlers on the Textract engine against moto: both Textract paths end to end.

moto's Textract returns the blocks a test puts on ``TextractBackend.BLOCKS`` and finishes
every asynchronous job at once with ``TextractBackend.JOB_STATUS``, publishing Textract's
completion message to the SNS topic of the job's ``NotificationChannel`` (which, as in the
stack, is subscribed by the completion queue). moto does not paginate
``GetDocumentTextDetection`` nor simulate throttling: those cases put a botocore ``Stubber``
on the very Textract client the handlers use, and everything else (S3, DynamoDB, SQS,
EventBridge) stays moto.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from botocore.stub import ANY, Stubber
from moto import mock_aws
from moto.textract.models import TextractBackend
from PIL import Image

from ocr.engines.textract import TextractEngine
from ocr.textract_jobs import client_request_token
from ocrpipe import aws, container
from ocrpipe.events import DocumentUploaded, Recipient
from tests import lambda_shapes
from tests.lambda_shapes import envelope_body, lambda_context, queue_arn, received_event

pytestmark = pytest.mark.integration

REGION = "us-east-1"
ACCOUNT = "123456789012"
UPLOADS = "ocrpipe-test-ingest-123456789012-us-east-1"
OCR_BUCKET = "ocrpipe-test-ocr-123456789012-us-east-1"
BUS = "ocrpipe-test"
FUNCTION = "ocr"
OCR_TABLE = "ocrpipe-test-ocr"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/ocrpipe/test/ocr/textract-publish"
RECIPIENT = Recipient(channel="email", ciphertext="c2VjcmV0")

PAGE_1 = ["Call me Ishmael. Some years ago,", "never mind how long precisely,"]
PAGE_2 = ["having little or no money in my purse,", "and nothing particular to interest me"]


def blocks(pages: dict[int, list[str]], *, confidence: float = 97.5) -> list[dict[str, Any]]:
    """Textract-shaped PAGE, LINE and WORD blocks for ``{page number: lines}``."""
    out: list[dict[str, Any]] = []
    for page, lines in pages.items():
        out.append({"BlockType": "PAGE", "Id": f"page-{page}", "Page": page})
        for n, line in enumerate(lines):
            out.append(
                {
                    "BlockType": "LINE",
                    "Id": f"line-{page}-{n}",
                    "Text": line,
                    "Confidence": confidence,
                    "Page": page,
                }
            )
            for m, word in enumerate(line.split()):
                out.append(
                    {
                        "BlockType": "WORD",
                        "Id": f"word-{page}-{n}-{m}",
                        "Text": word,
                        "TextType": "PRINTED",
                        "Confidence": confidence,
                        "Page": page,
                    }
                )
    return out


def png(width: int = 400, height: int = 200) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def pdf(pages: int = 2) -> bytes:
    images = [Image.new("L", (300, 400), 255) for _ in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, format="PDF", save_all=True, append_images=images[1:])
    return buffer.getvalue()


@dataclass
class Stack:
    s3: Any
    sqs: Any
    ddb: Any
    capture_url: str
    ocr_queue_url: str
    completion_url: str

    def upload(self, key: str, data: bytes) -> str:
        self.s3.put_object(Bucket=UPLOADS, Key=key, Body=data)
        return f"s3://{UPLOADS}/{key}"

    def captured(self) -> list[dict[str, Any]]:
        return lambda_shapes.drain_bodies(self.sqs, self.capture_url)

    def receive(self, url: str) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
        )
        return list(got.get("Messages", []))

    def job_records(self) -> list[dict[str, Any]]:
        items = self.ddb.scan(TableName=OCR_TABLE)["Items"]
        return [i for i in items if i["pk"]["S"].startswith("job#")]

    def text_objects(self) -> list[str]:
        listed = self.s3.list_objects_v2(Bucket=OCR_BUCKET)
        return [o["Key"] for o in listed.get("Contents", [])]

    def upload_exists(self, uri: str) -> bool:
        key = uri.split("/", 3)[3]
        return bool(self.s3.list_objects_v2(Bucket=UPLOADS, Prefix=key).get("KeyCount"))


def _queue(sqs: Any, name: str, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


@pytest.fixture(params=[True, False], ids=["raw-delivery", "sns-envelope"])
def raw_delivery(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Iterator[Stack]:
    raw = (
        request.getfixturevalue("raw_delivery") if "raw_delivery" in request.fixturenames else True
    )
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "OCRPIPE_STAGE": "test",
        "OCRPIPE_BUS_NAME": BUS,
        "OCRPIPE_OCR_BUCKET": OCR_BUCKET,
        "OCRPIPE_OCR_TABLE": OCR_TABLE,
        "OCRPIPE_OCR_IDEMPOTENCY_TABLE": "ocrpipe-test-ocr-idempotency",
        "OCRPIPE_OCR_ENGINE": "textract",
        "OCRPIPE_TEXTRACT_ROLE_ARN": ROLE_ARN,
        "POWERTOOLS_METRICS_NAMESPACE": "ocrpipe",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setattr(TextractBackend, "BLOCKS", [])
    monkeypatch.setattr(TextractBackend, "JOB_STATUS", "SUCCEEDED")
    with mock_aws():
        container.cold_start()  # clients made outside this mock must not be reused
        s3, sqs, events, ddb, sns = (
            aws.client(n) for n in ("s3", "sqs", "events", "dynamodb", "sns")
        )
        s3.create_bucket(Bucket=UPLOADS)
        s3.create_bucket(Bucket=OCR_BUCKET)
        for table, key in ((OCR_TABLE, "pk"), ("ocrpipe-test-ocr-idempotency", "id")):
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        events.create_event_bus(Name=BUS)
        capture_url, capture_arn = _queue(sqs, "capture")
        events.put_rule(
            Name="capture-ocr",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": ["ocrpipe.ocr"]}),
        )
        events.put_targets(
            Rule="capture-ocr", EventBusName=BUS, Targets=[{"Id": "q", "Arn": capture_arn}]
        )
        # visibility 0: a record is visible again at once unless the handler delays it
        ocr_url, _ = _queue(sqs, "ocrpipe-test-ocr", VisibilityTimeout="0")
        completion_url, completion_arn = _queue(
            sqs, "ocrpipe-test-textract-completed", VisibilityTimeout="0"
        )
        topic = sns.create_topic(Name="ocrpipe-test-textract-completed")["TopicArn"]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=completion_arn,
            Attributes={"RawMessageDelivery": "true" if raw else "false"},
        )
        monkeypatch.setenv("OCRPIPE_TEXTRACT_SNS_TOPIC_ARN", topic)
        yield Stack(
            s3=s3,
            sqs=sqs,
            ddb=ddb,
            capture_url=capture_url,
            ocr_queue_url=ocr_url,
            completion_url=completion_url,
        )
        container.cold_start()


def uploaded(
    doc_id: str,
    uri: str,
    data: bytes,
    *,
    content_type: str = "image/png",
    page_count: int = 1,
    size_bytes: int | None = None,
) -> DocumentUploaded:
    return DocumentUploaded(
        document_id=doc_id,
        source_uri=uri,
        content_type=content_type,
        size_bytes=size_bytes or len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        page_count=page_count,
        filename="scan ü.pdf" if content_type == "application/pdf" else "photo ü.png",
        recipient=RECIPIENT,
    )


def sqs_event(messages: list[dict[str, Any]], queue_name: str) -> dict[str, Any]:
    """The Lambda event for messages really received from a moto queue."""
    return received_event(messages, queue_arn=queue_arn(queue_name))


def deliver_upload(stack: Stack, event: DocumentUploaded) -> tuple[dict[str, Any], Any]:
    """Send the event through the real ocr queue, receive it, run the handler."""
    from ocr.handlers import on_document_uploaded

    stack.sqs.send_message(QueueUrl=stack.ocr_queue_url, MessageBody=envelope_body(event))
    messages = stack.receive(stack.ocr_queue_url)
    assert len(messages) == 1
    return sqs_event(messages, "ocrpipe-test-ocr"), on_document_uploaded


def settle(stack: Stack, url: str, lambda_event: dict[str, Any], result: dict[str, Any]) -> None:
    """What the Lambda event source mapping does: delete every record not reported failed."""
    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
    for record in lambda_event["Records"]:
        if record["messageId"] not in failed:
            stack.sqs.delete_message(QueueUrl=url, ReceiptHandle=record["receiptHandle"])


def run_upload(stack: Stack, event: DocumentUploaded) -> dict[str, Any]:
    lambda_event, handler = deliver_upload(stack, event)
    result: dict[str, Any] = handler(lambda_event, lambda_context(FUNCTION))
    settle(stack, stack.ocr_queue_url, lambda_event, result)
    return result


def run_completions(stack: Stack) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    from ocr.handlers import on_textract_completed

    messages = stack.receive(stack.completion_url)
    assert messages, "no completion notice on the queue"
    event = sqs_event(messages, "ocrpipe-test-textract-completed")
    result: dict[str, Any] = on_textract_completed(event, lambda_context(FUNCTION))
    settle(stack, stack.completion_url, event, result)
    return result, messages


def textract_stub() -> Stubber:
    """A Stubber on the Textract client the handlers get from ``ocrpipe.aws``."""
    return Stubber(aws.client("textract"))


def read_text(stack: Stack, uri: str) -> str:
    bucket, _, key = uri[len("s3://") :].partition("/")
    body: bytes = stack.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    return body.decode("utf-8")


# --- synchronous: DetectDocumentText ---------------------------------------------------------
def test_image_is_read_by_detect_document_text_then_cached(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TextractBackend, "BLOCKS", blocks({1: PAGE_1}, confidence=96.0))
    data = png()
    uri = stack.upload("uploads/doc-tx-0001/photo ü.png", data)

    assert run_upload(stack, uploaded("doc-tx-0001", uri, data)) == {"batchItemFailures": []}

    (completed,) = stack.captured()
    assert completed["detail-type"] == "OcrCompleted"
    detail = completed["detail"]
    assert detail["engine"] == "textract"
    assert detail["engine_version"] == "DetectDocumentText/1.0"
    assert detail["cached"] is False
    assert detail["page_count"] == 1
    assert detail["mean_confidence"] == 96.0
    assert detail["recipient"] == RECIPIENT.model_dump()
    assert detail["filename"] == "photo ü.png"
    text = read_text(stack, detail["text_uri"])
    assert text == "\n".join(PAGE_1) + "\n"
    assert detail["char_count"] == len(text)
    assert not stack.upload_exists(uri)  # deleted once the text is stored

    # the same bytes again (another document): no Textract call at all
    monkeypatch.setattr(TextractBackend, "BLOCKS", [])
    uri2 = stack.upload("uploads/doc-tx-0002/copy.png", data)
    with textract_stub() as stub:  # any Textract call would fail: nothing is queued
        assert run_upload(stack, uploaded("doc-tx-0002", uri2, data)) == {"batchItemFailures": []}
        stub.assert_no_pending_responses()
    (second,) = stack.captured()
    assert second["detail"]["cached"] is True
    assert second["detail"]["text_uri"] == detail["text_uri"]
    assert second["detail"]["engine"] == "textract"


def test_image_without_text_is_no_text(stack: Stack) -> None:
    data = png()
    uri = stack.upload("uploads/doc-tx-0003/blank.png", data)
    run_upload(stack, uploaded("doc-tx-0003", uri, data))
    (failed,) = stack.captured()
    assert failed["detail-type"] == "OcrFailed"
    assert failed["detail"]["reason_code"] == "no_text"
    assert failed["detail"]["engine"] == "textract"
    assert stack.text_objects() == []


def test_image_over_textract_pixel_limit_is_too_large_without_a_call(stack: Stack) -> None:
    data = png(width=10_001, height=8)
    uri = stack.upload("uploads/doc-tx-0004/wide.png", data)
    with textract_stub() as stub:
        run_upload(stack, uploaded("doc-tx-0004", uri, data))
        stub.assert_no_pending_responses()
    (failed,) = stack.captured()
    assert failed["detail"]["reason_code"] == "too_large"
    assert "10000 pixels" in failed["detail"]["reason"]


def test_corrupt_image_is_unreadable_without_a_call(stack: Stack) -> None:
    data = b"\x89PNG\r\n\x1a\n" + b"garbage" * 20
    uri = stack.upload("uploads/doc-tx-0005/broken.png", data)
    with textract_stub():
        run_upload(stack, uploaded("doc-tx-0005", uri, data))
    (failed,) = stack.captured()
    assert failed["detail"]["reason_code"] == "unreadable"


def test_throttled_detect_is_delayed_through_the_queue_then_succeeds(stack: Stack) -> None:
    data = png()
    uri = stack.upload("uploads/doc-tx-0006/photo.png", data)
    event = uploaded("doc-tx-0006", uri, data)
    lambda_event, handler = deliver_upload(stack, event)
    first_receipt = lambda_event["Records"][0]["receiptHandle"]

    with textract_stub() as stub:
        stub.add_client_error(
            "detect_document_text",
            service_error_code="ProvisionedThroughputExceededException",
            http_status_code=400,
        )
        # the upload handler fails the whole batch when its only record fails (as for any
        # engine error); the record is retried by the queue
        with pytest.raises(BatchProcessingError, match="too busy"):
            handler(lambda_event, lambda_context(FUNCTION))
        stub.assert_no_pending_responses()
    assert stack.captured() == []
    # the queue's visibility timeout is 0: only the handler's backoff hides the record now
    assert stack.receive(stack.ocr_queue_url) == []

    # the backoff elapses: the record comes back (second delivery) and Textract answers
    stack.sqs.change_message_visibility(
        QueueUrl=stack.ocr_queue_url, ReceiptHandle=first_receipt, VisibilityTimeout=0
    )
    (again,) = stack.receive(stack.ocr_queue_url)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    with textract_stub() as stub:
        stub.add_response(
            "detect_document_text",
            {"Blocks": blocks({1: PAGE_1}), "DetectDocumentTextModelVersion": "1.0"},
            {
                "Document": {
                    "S3Object": {"Bucket": UPLOADS, "Name": "uploads/doc-tx-0006/photo.png"}
                }
            },
        )
        result = handler(sqs_event([again], "ocrpipe-test-ocr"), lambda_context(FUNCTION))
    assert result == {"batchItemFailures": []}
    (completed,) = stack.captured()
    assert completed["detail-type"] == "OcrCompleted"


def test_throttled_on_the_last_delivery_tells_the_person(stack: Stack) -> None:
    data = png()
    uri = stack.upload("uploads/doc-tx-0007/photo.png", data)
    lambda_event, handler = deliver_upload(stack, uploaded("doc-tx-0007", uri, data))
    lambda_event["Records"][0]["attributes"]["ApproximateReceiveCount"] = "3"  # max_receive_count
    with textract_stub() as stub:
        stub.add_client_error("detect_document_text", service_error_code="ThrottlingException")
        assert handler(lambda_event, lambda_context(FUNCTION)) == {"batchItemFailures": []}
    (failed,) = stack.captured()
    assert failed["detail"]["reason_code"] == "engine_error"
    assert "too busy" in failed["detail"]["reason"]


# --- asynchronous: StartDocumentTextDetection + SNS completion ---------------------------------
def test_pdf_job_is_started_recorded_and_completed(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, raw_delivery: bool
) -> None:
    monkeypatch.setattr(TextractBackend, "BLOCKS", blocks({1: PAGE_1, 2: PAGE_2}, confidence=90.0))
    data = pdf(pages=2)
    uri = stack.upload("uploads/doc-tx-0101/scan ü.pdf", data)

    assert run_upload(
        stack, uploaded("doc-tx-0101", uri, data, content_type="application/pdf", page_count=2)
    ) == {"batchItemFailures": []}

    assert stack.captured() == []  # nothing is published until the job completes
    (record,) = stack.job_records()
    job_id = record["job_id"]["S"]
    assert record["pk"]["S"] == f"job#{job_id}"
    assert record["document_id"]["S"] == "doc-tx-0101"
    assert record["sha256"]["S"] == hashlib.sha256(data).hexdigest()
    assert record["source_uri"]["S"] == uri
    assert record["page_count"]["N"] == "2"
    assert json.loads(record["recipient"]["S"]) == RECIPIENT.model_dump()
    assert int(record["expires_at"]["N"]) > int(record["started_at"]["N"])
    assert stack.upload_exists(uri)  # Textract still needs it

    result, messages = run_completions(stack)
    body = json.loads(messages[0]["Body"])
    assert ("Type" in body) is not raw_delivery  # both delivery forms are understood
    assert result == {"batchItemFailures": []}

    (completed,) = stack.captured()
    assert completed["detail-type"] == "OcrCompleted"
    detail = completed["detail"]
    assert detail["document_id"] == "doc-tx-0101"
    assert detail["engine"] == "textract"
    assert detail["page_count"] == 2
    assert detail["mean_confidence"] == 90.0
    assert detail["recipient"] == RECIPIENT.model_dump()
    assert detail["filename"] == "scan ü.pdf"
    text = read_text(stack, detail["text_uri"])
    assert text == "\n".join(PAGE_1) + "\n\f\n" + "\n".join(PAGE_2) + "\n"
    assert stack.job_records() == []  # forgotten once published
    assert not stack.upload_exists(uri)

    # the same bytes uploaded again: the cache answers, no job is started
    uri2 = stack.upload("uploads/doc-tx-0102/again.pdf", data)
    with textract_stub() as stub:
        run_upload(
            stack, uploaded("doc-tx-0102", uri2, data, content_type="application/pdf", page_count=2)
        )
        stub.assert_no_pending_responses()
    (cached,) = stack.captured()
    assert cached["detail"]["cached"] is True
    assert cached["detail"]["text_uri"] == detail["text_uri"]


def test_duplicate_completion_notice_publishes_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ocr.handlers import on_textract_completed

    monkeypatch.setattr(TextractBackend, "BLOCKS", blocks({1: PAGE_1}))
    data = pdf(pages=1)
    uri = stack.upload("uploads/doc-tx-0103/a.pdf", data)
    run_upload(stack, uploaded("doc-tx-0103", uri, data, content_type="application/pdf"))
    messages = stack.receive(stack.completion_url)
    event = sqs_event(messages, "ocrpipe-test-textract-completed")
    assert on_textract_completed(event, lambda_context(FUNCTION)) == {"batchItemFailures": []}
    assert len(stack.captured()) == 1
    assert on_textract_completed(event, lambda_context(FUNCTION)) == {
        "batchItemFailures": []
    }  # redelivered
    assert stack.captured() == []


def test_tiff_start_uses_the_channel_tag_and_idempotency_token(stack: Stack) -> None:
    data = pdf(pages=1)  # the bytes do not matter to the start call
    uri = stack.upload("uploads/doc-tx-0104/fax.tiff", data)
    event = uploaded("doc-tx-0104", uri, data, content_type="image/tiff", page_count=4)
    with textract_stub() as stub:
        stub.add_response(
            "start_document_text_detection",
            {"JobId": "job-0104"},
            {
                "DocumentLocation": {
                    "S3Object": {"Bucket": UPLOADS, "Name": "uploads/doc-tx-0104/fax.tiff"}
                },
                "ClientRequestToken": client_request_token("doc-tx-0104", event.sha256),
                "JobTag": "doc-tx-0104",
                "NotificationChannel": {
                    "SNSTopicArn": os.environ["OCRPIPE_TEXTRACT_SNS_TOPIC_ARN"],
                    "RoleArn": ROLE_ARN,
                },
            },
        )
        assert run_upload(stack, event) == {"batchItemFailures": []}
        stub.assert_no_pending_responses()
    (record,) = stack.job_records()
    assert record["pk"]["S"] == "job#job-0104"
    assert record["page_count"]["N"] == "4"


def test_completion_pages_through_results_with_next_token(stack: Stack) -> None:
    from ocr.handlers import on_textract_completed

    data = pdf(pages=3)
    uri = stack.upload("uploads/doc-tx-0105/long.pdf", data)
    with textract_stub() as stub:
        stub.add_response("start_document_text_detection", {"JobId": "job-0105"}, None)
        run_upload(
            stack, uploaded("doc-tx-0105", uri, data, content_type="application/pdf", page_count=3)
        )
    every = blocks({1: PAGE_1, 2: PAGE_2, 3: ["The end."]})
    pages = [every[:5], every[5:17], every[17:]]  # split mid-page, as Textract may
    notice = {"JobId": "job-0105", "Status": "SUCCEEDED", "API": "StartDocumentTextDetection"}
    stack.sqs.send_message(QueueUrl=stack.completion_url, MessageBody=json.dumps(notice))
    messages = stack.receive(stack.completion_url)
    with textract_stub() as stub:
        for n, chunk in enumerate(pages):
            response: dict[str, Any] = {
                "JobStatus": "SUCCEEDED",
                "Blocks": chunk,
                "DocumentMetadata": {"Pages": 3},
                "DetectDocumentTextModelVersion": "1.0",
            }
            expected: dict[str, Any] = {"JobId": "job-0105", "MaxResults": 1000}
            if n < len(pages) - 1:
                response["NextToken"] = f"token-{n + 1}"
            if n:
                expected["NextToken"] = f"token-{n}"
            stub.add_response("get_document_text_detection", response, expected)
        result = on_textract_completed(
            sqs_event(messages, "ocrpipe-test-textract-completed"), lambda_context(FUNCTION)
        )
        stub.assert_no_pending_responses()
    assert result == {"batchItemFailures": []}
    (completed,) = stack.captured()
    assert completed["detail"]["page_count"] == 3
    text = read_text(stack, completed["detail"]["text_uri"])
    assert text.split("\n\f\n") == ["\n".join(PAGE_1), "\n".join(PAGE_2), "The end.\n"]


def test_throttled_completion_is_a_batch_item_failure_with_backoff_then_succeeds(
    stack: Stack,
) -> None:
    from ocr.handlers import on_textract_completed

    data = pdf(pages=1)
    uri = stack.upload("uploads/doc-tx-0106/a.pdf", data)
    with textract_stub() as stub:
        stub.add_response("start_document_text_detection", {"JobId": "job-0106"}, None)
        run_upload(stack, uploaded("doc-tx-0106", uri, data, content_type="application/pdf"))
    notice = {"JobId": "job-0106", "Status": "SUCCEEDED", "API": "StartDocumentTextDetection"}
    stack.sqs.send_message(QueueUrl=stack.completion_url, MessageBody=json.dumps(notice))
    (message,) = stack.receive(stack.completion_url)
    event = sqs_event([message], "ocrpipe-test-textract-completed")

    with textract_stub() as stub:
        stub.add_client_error(
            "get_document_text_detection",
            service_error_code="ProvisionedThroughputExceededException",
            http_status_code=400,
        )
        result = on_textract_completed(event, lambda_context(FUNCTION))
        stub.assert_no_pending_responses()
    assert result == {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
    assert stack.captured() == []
    assert stack.text_objects() == []
    assert len(stack.job_records()) == 1  # still pending
    assert stack.receive(stack.completion_url) == []  # hidden by the backoff

    stack.sqs.change_message_visibility(
        QueueUrl=stack.completion_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
    )
    (again,) = stack.receive(stack.completion_url)
    assert again["Attributes"]["ApproximateReceiveCount"] == "2"
    with textract_stub() as stub:
        stub.add_response(
            "get_document_text_detection",
            {"JobStatus": "SUCCEEDED", "Blocks": blocks({1: PAGE_1})},
            {"JobId": "job-0106", "MaxResults": 1000},
        )
        result = on_textract_completed(
            sqs_event([again], "ocrpipe-test-textract-completed"), lambda_context(FUNCTION)
        )
    assert result == {"batchItemFailures": []}
    (completed,) = stack.captured()
    assert completed["detail-type"] == "OcrCompleted"
    assert completed["detail"]["document_id"] == "doc-tx-0106"


def test_failed_job_is_ocr_failed_with_the_reason_and_no_text(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(TextractBackend, "JOB_STATUS", "FAILED")
    data = pdf(pages=2)
    uri = stack.upload("uploads/doc-tx-0107/bad.pdf", data)
    run_upload(
        stack, uploaded("doc-tx-0107", uri, data, content_type="application/pdf", page_count=2)
    )

    result, _ = run_completions(stack)
    assert result == {"batchItemFailures": []}
    (failed,) = stack.captured()
    assert failed["detail-type"] == "OcrFailed"
    assert failed["detail"]["reason_code"] == "engine_error"
    assert failed["detail"]["engine"] == "textract"
    assert failed["detail"]["reason"].startswith("Amazon Textract could not read the document")
    assert failed["detail"]["recipient"] == RECIPIENT.model_dump()
    assert stack.text_objects() == []
    assert stack.job_records() == []


def test_failed_job_reason_carries_textracts_status_message(stack: Stack) -> None:
    from ocr.handlers import on_textract_completed

    data = pdf(pages=1)
    uri = stack.upload("uploads/doc-tx-0108/locked.pdf", data)
    with textract_stub() as stub:
        stub.add_response("start_document_text_detection", {"JobId": "job-0108"}, None)
        run_upload(stack, uploaded("doc-tx-0108", uri, data, content_type="application/pdf"))
    notice = {"JobId": "job-0108", "Status": "FAILED", "API": "StartDocumentTextDetection"}
    stack.sqs.send_message(QueueUrl=stack.completion_url, MessageBody=json.dumps(notice))
    messages = stack.receive(stack.completion_url)
    with textract_stub() as stub:
        stub.add_response(
            "get_document_text_detection",
            {"JobStatus": "FAILED", "StatusMessage": "Request has unsupported document format"},
            {"JobId": "job-0108", "MaxResults": ANY},
        )
        on_textract_completed(
            sqs_event(messages, "ocrpipe-test-textract-completed"), lambda_context(FUNCTION)
        )
    (failed,) = stack.captured()
    assert failed["detail"]["reason"] == (
        "Amazon Textract could not read the document: Request has unsupported document format."
    )


@pytest.mark.parametrize(
    ("page_count", "size_bytes", "expected"),
    [(3001, None, "3001 pages"), (2, 501 * 1024 * 1024, "501.0 MB")],
)
def test_over_limit_pdf_is_too_large_without_a_textract_call(
    stack: Stack, page_count: int, size_bytes: int | None, expected: str
) -> None:
    data = pdf(pages=1)
    uri = stack.upload("uploads/doc-tx-0109/huge.pdf", data)
    event = uploaded(
        "doc-tx-0109",
        uri,
        data,
        content_type="application/pdf",
        page_count=page_count,
        size_bytes=size_bytes,
    )
    with textract_stub() as stub:  # any Textract call would raise: nothing is queued
        assert run_upload(stack, event) == {"batchItemFailures": []}
        stub.assert_no_pending_responses()
    (failed,) = stack.captured()
    assert failed["detail-type"] == "OcrFailed"
    assert failed["detail"]["reason_code"] == "too_large"
    assert expected in failed["detail"]["reason"]
    assert stack.job_records() == []
    assert stack.receive(stack.completion_url) == []


def test_unknown_job_is_acknowledged_and_nothing_published(stack: Stack) -> None:
    from ocr.handlers import on_textract_completed

    notice = {
        "JobId": "job-nobody-knows",
        "Status": "SUCCEEDED",
        "API": "StartDocumentTextDetection",
    }
    stack.sqs.send_message(QueueUrl=stack.completion_url, MessageBody=json.dumps(notice))
    messages = stack.receive(stack.completion_url)
    with textract_stub() as stub:
        result = on_textract_completed(
            sqs_event(messages, "ocrpipe-test-textract-completed"), lambda_context(FUNCTION)
        )
        stub.assert_no_pending_responses()
    assert result == {"batchItemFailures": []}
    assert stack.captured() == []


def test_the_handlers_textract_client_gives_up_quickly(stack: Stack) -> None:
    """Throttling is retried through the queue: the SDK may try a call twice at most."""
    engine_client = aws.client("textract")
    assert engine_client.meta.config.retries["total_max_attempts"] == 2
    assert isinstance(TextractEngine(engine_client).fingerprint, str)
