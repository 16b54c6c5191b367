"""The ingest service against moto: POST /uploads, a real presigned-POST upload, the S3 ->
EventBridge -> SQS event as AWS would deliver it to the Lambda, and the events it publishes.

Published events are captured by subscribing an SQS queue to the custom bus with a rule.
The uploads queue is subscribed with the rule pattern from ingest's ``ocrpipe-service.json`` itself.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote_plus

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from moto import mock_aws
from PIL import Image

import ocrpipe.aws
from ingest import handlers
from ingest.intake import IntakeOutcome, UploadIntake
from ingest.s3_events import ObjectCreated
from ingest.uploads_table import UploadBusyError, UploadsTable, UploadStatus
from ingest.validation import Limits
from ocrpipe import container
from ocrpipe.bus import EventPublisher, PublishError
from ocrpipe.envelope import Envelope
from ocrpipe.events import DocumentRejected, DocumentUploaded
from ocrpipe.topology import Place, load_declaration
from tests import lambda_shapes
from tests.lambda_shapes import lambda_context

pytestmark = pytest.mark.integration

PLACE = Place(stage="test")
INGEST = load_declaration("ingest")
BUCKET = PLACE.name("bucket", service="ingest")
TABLE = PLACE.name("table", service="ingest")
BUS = PLACE.name("bus")
FUNCTION = "ingest"
EMAIL = "private.person@example.com"


@dataclass
class Stack:
    s3: Any
    sqs: Any
    kms: Any
    dynamodb: Any
    key_id: str
    uploads_queue: str
    uploads_queue_arn: str
    published_queue: str


def _queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


@pytest.fixture(scope="module")
def session() -> Iterator[boto3.session.Session]:
    """One botocore session (and one set of shared clients) for the module: loading the
    service models again for every test would triple its run time."""
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            patch.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
            patch.delenv(name, raising=False)
        container.cold_start()  # no client bound to another test's mock
        yield boto3.session.Session()


@pytest.fixture
def stack(session: boto3.session.Session, monkeypatch: pytest.MonkeyPatch) -> Iterator[Stack]:
    with mock_aws():
        s3 = session.client("s3")
        sqs = session.client("sqs")
        events = session.client("events")
        kms = session.client("kms")
        dynamodb = session.client("dynamodb")

        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"EventBridgeConfiguration": {}}
        )
        dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        key_id = kms.create_key(Description="notify")["KeyMetadata"]["KeyId"]
        events.create_event_bus(Name=BUS)

        uploads_url, uploads_arn = _queue(sqs, "ingest-uploads")
        events.put_rule(
            Name="ingest-uploads",
            EventPattern=json.dumps(PLACE.fill(INGEST.consumers["ingest-uploads"].pattern)),
        )
        events.put_targets(Rule="ingest-uploads", Targets=[{"Id": "q", "Arn": uploads_arn}])

        published_url, published_arn = _queue(sqs, "published")
        events.put_rule(
            Name="capture",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": ["ocrpipe.ingest"]}),
        )
        events.put_targets(
            Rule="capture", EventBusName=BUS, Targets=[{"Id": "q", "Arn": published_arn}]
        )

        for name, value in {
            "OCRPIPE_STAGE": "test",
            "OCRPIPE_BUS_NAME": BUS,
            "OCRPIPE_UPLOADS_BUCKET": BUCKET,
            "OCRPIPE_INGEST_TABLE": TABLE,
            "OCRPIPE_NOTIFY_KEY_ID": key_id,
        }.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("OCRPIPE_LOCAL_MODE", raising=False)
        yield Stack(s3, sqs, kms, dynamodb, key_id, uploads_url, uploads_arn, published_url)


# -- helpers ----------------------------------------------------------------------------


def http_event(
    body: Any,
    *,
    path: str = "/uploads",
    method: str = "POST",
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    raw = body if isinstance(body, str) else json.dumps(body)
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers or {"content-type": "application/json"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "pytest",
            },
            "requestId": "r1",
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000,
        },
        "body": raw,
        "isBase64Encoded": False,
    }


def call_api(body: Any, **kw: Any) -> tuple[int, dict[str, Any]]:
    response = handlers.api(http_event(body, **kw), lambda_context(FUNCTION))
    return response["statusCode"], json.loads(response["body"])


def open_upload(filename: str, content_type: str, size: int, **extra: Any) -> dict[str, Any]:
    status, body = call_api(
        {"filename": filename, "content_type": content_type, "size_bytes": size, **extra}
    )
    assert status == 201, body
    return body


def post_file(ticket: dict[str, Any], data: bytes) -> None:
    """Upload like a browser would: multipart form with the presigned fields, file last."""
    fields = ticket["upload"]["fields"]
    response = requests.post(
        ticket["upload"]["url"],
        data=fields,
        files={"file": ("upload", data, fields["Content-Type"])},
        timeout=10,
    )
    assert response.status_code in (200, 201, 204), response.text


drain = lambda_shapes.drain_messages


def sqs_event(bodies: list[str], queue_arn: str) -> dict[str, Any]:
    """The Lambda event an SQS event source mapping delivers; message ids m0, m1, ..."""
    event = lambda_shapes.sqs_event(*bodies, queue_arn=queue_arn)
    for index, record in enumerate(event["Records"]):
        record["messageId"] = f"m{index}"
    return event


def object_created_bodies(stack: Stack) -> list[str]:
    return [m["Body"] for m in drain(stack.sqs, stack.uploads_queue)]


def deliver(stack: Stack, bodies: list[str]) -> list[str]:
    """Invoke the consumer; the message ids it reported as failed."""
    response = handlers.on_object_created(
        sqs_event(bodies, stack.uploads_queue_arn), lambda_context(FUNCTION)
    )
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def published(stack: Stack) -> list[Envelope]:
    return [Envelope.from_sqs_body(m["Body"]) for m in drain(stack.sqs, stack.published_queue)]


def record(stack: Stack, document_id: str) -> dict[str, Any]:
    item = stack.dynamodb.get_item(TableName=TABLE, Key={"pk": {"S": f"upload#{document_id}"}})
    return {k: next(iter(v.values())) for k, v in item["Item"].items()}


def object_exists(stack: Stack, key: str) -> bool:
    try:
        stack.s3.head_object(Bucket=BUCKET, Key=key)
    except ClientError:
        return False
    return True


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (120, 40), "white").save(out, "PNG")
    return out.getvalue()


# -- POST /uploads ----------------------------------------------------------------------


def test_post_uploads_opens_an_upload(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:
    status, body = call_api(
        {
            "filename": "../My Scans/my scan é.png",
            "content_type": "image/png",
            "size_bytes": 2048,
            "email": EMAIL,
        }
    )
    assert status == 201, body
    document_id = body["document_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", document_id)
    assert body["key"] == f"uploads/{document_id}/my scan é.png"
    assert body["expires_in_s"] == 30
    token = body["access_token"]
    assert len(token) >= 32
    assert body["upload"]["fields"]["key"] == body["key"]
    assert body["upload"]["fields"]["Content-Type"] == "image/png"
    policy = json.loads(base64.b64decode(body["upload"]["fields"]["policy"]))
    assert ["content-length-range", 1, 2048] in policy["conditions"]

    item = record(stack, document_id)
    assert item["status"] == "pending"
    assert item["key"] == body["key"]
    assert item["filename"] == "my scan é.png"
    assert item["content_type"] == "image/png"
    assert item["declared_size"] == "2048"
    assert int(item["expires_at"]) > 0
    assert item["recipient_channel"] == "email"
    assert EMAIL not in json.dumps(item)
    assert token not in json.dumps(item)  # only the hash is kept
    assert item["access_token_sha256"] == hashlib.sha256(token.encode()).hexdigest()

    # Only the notify key, with the right encryption context, opens the address.
    blob = base64.b64decode(item["recipient_ciphertext"])
    context = {"document_id": document_id, "channel": "email"}
    plain = stack.kms.decrypt(CiphertextBlob=blob, EncryptionContext=context)["Plaintext"]
    assert plain.decode() == EMAIL
    with pytest.raises(ClientError):
        stack.kms.decrypt(
            CiphertextBlob=blob, EncryptionContext={**context, "document_id": "other" * 7}
        )
    logged = capsys.readouterr().out
    assert EMAIL not in logged
    assert token not in logged


def test_each_upload_gets_its_own_id(stack: Stack) -> None:
    first = open_upload("a.pdf", "application/pdf", 10)
    second = open_upload("a.pdf", "application/pdf", 10)
    assert first["document_id"] != second["document_id"]
    assert first["access_token"] != second["access_token"]


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        (
            {"filename": "a.png", "content_type": "image/png", "size_bytes": 5, "email": "nope"},
            400,
            "invalid_email",
        ),
        (
            {"filename": "a.txt", "content_type": "text/plain", "size_bytes": 5},
            415,
            "unsupported_content_type",
        ),
        (
            {"filename": "a.png", "content_type": "image/png", "size_bytes": 11 * 1024 * 1024},
            413,
            "too_large",
        ),
        ({"filename": "a.png", "content_type": "image/png", "size_bytes": 0}, 400, "invalid_size"),
        (
            {"filename": "../", "content_type": "image/png", "size_bytes": 5},
            400,
            "invalid_filename",
        ),
        (
            {
                "filename": "a.png",
                "content_type": "image/png",
                "size_bytes": 5,
                "webhook_url": "http://example.com/h",
            },
            400,
            "invalid_webhook_url",
        ),
        ("{not json", 400, "invalid_json"),
        ([1, 2], 400, "invalid_body"),
    ],
)
def test_bad_requests_get_a_clear_4xx(
    stack: Stack,
    capsys: pytest.CaptureFixture[str],
    payload: Any,
    status: int,
    code: str,
) -> None:
    got_status, body = call_api(payload)
    assert got_status == status
    assert body["error"] == code
    assert body["message"].endswith(".")
    assert set(body) == {"error", "message"}
    assert "nope" not in capsys.readouterr().out  # the refused address is not logged
    assert (
        "Items" not in stack.dynamodb.scan(TableName=TABLE)
        or not stack.dynamodb.scan(TableName=TABLE)["Items"]
    )


@pytest.mark.parametrize(
    "url",
    [
        "https://2130706433/",
        "https://127.1/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://10.1/",
        "https://2852039166/",
    ],
)
def test_numeric_forms_of_internal_addresses_are_refused_at_upload(stack: Stack, url: str) -> None:
    payload = {"filename": "a.png", "content_type": "image/png", "size_bytes": 5}
    status, body = call_api(payload | {"webhook_url": url})
    assert (status, body["error"]) == (400, "invalid_webhook_url")
    assert body["message"] == "The webhook URL must point at a public internet host."


def test_unknown_route_is_a_json_404(stack: Stack) -> None:
    status, body = call_api({}, path="/nothing", method="GET")
    assert (status, body["error"]) == (404, "not_found")


def test_local_mode_accepts_an_http_loopback_webhook(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCRPIPE_LOCAL_MODE", "true")
    body = open_upload("a.png", "image/png", 5, webhook_url="http://127.0.0.1:9999/hook")
    assert record(stack, body["document_id"])["recipient_channel"] == "webhook"


def test_kms_outage_is_a_503_not_a_crash(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OCRPIPE_NOTIFY_KEY_ID", "alias/does-not-exist")
    status, body = call_api(
        {"filename": "a.png", "content_type": "image/png", "size_bytes": 5, "email": EMAIL}
    )
    assert (status, body["error"]) == (503, "unavailable")


# -- Object Created -> DocumentUploaded / DocumentRejected -------------------------------


def test_upload_with_spaces_and_unicode_is_accepted(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    data = png_bytes()
    ticket = open_upload("my scan é.png", "image/png", len(data), email=EMAIL)
    post_file(ticket, data)

    bodies = object_created_bodies(stack)
    assert len(bodies) == 1
    assert json.loads(bodies[0])["detail"]["object"]["key"] == ticket["key"]  # moto: raw key
    assert deliver(stack, bodies) == []

    [envelope] = published(stack)
    event = envelope.expect(DocumentUploaded)
    assert event.document_id == ticket["document_id"]
    assert event.source_uri == f"s3://{BUCKET}/uploads/{ticket['document_id']}/my scan é.png"
    assert event.filename == "my scan é.png"
    assert event.content_type == "image/png"
    assert event.size_bytes == len(data)
    assert event.sha256 == hashlib.sha256(data).hexdigest()
    assert event.page_count == 1
    token_hash = hashlib.sha256(ticket["access_token"].encode()).hexdigest()
    assert event.access_token_sha256 == token_hash
    item = record(stack, ticket["document_id"])
    assert event.recipient is not None
    assert event.recipient.ciphertext == item["recipient_ciphertext"]
    assert item["status"] == "uploaded"
    assert item["sha256"] == event.sha256
    assert object_exists(stack, ticket["key"])  # ocr reads it next
    assert EMAIL not in capsys.readouterr().out
    assert EMAIL not in envelope.model_dump_json()


def test_duplicate_delivery_publishes_once(stack: Stack) -> None:
    data = png_bytes()
    ticket = open_upload("twice.png", "image/png", len(data))
    post_file(ticket, data)
    [body] = object_created_bodies(stack)

    assert deliver(stack, [body, body]) == []  # the same event twice in one batch
    assert deliver(stack, [body]) == []  # and again later
    # AWS URL-encodes the key in the event; the same object must be recognised.
    encoded = json.loads(body)
    encoded["detail"]["object"]["key"] = quote_plus(ticket["key"], safe="/")
    assert deliver(stack, [json.dumps(encoded)]) == []

    events = published(stack)
    assert [e.detail_type for e in events] == ["DocumentUploaded"]


def test_url_encoded_key_as_aws_sends_it(stack: Stack) -> None:
    data = png_bytes()
    ticket = open_upload("a+b scan é.png", "image/png", len(data))
    post_file(ticket, data)
    [body] = object_created_bodies(stack)
    envelope = json.loads(body)
    envelope["detail"]["object"]["key"] = quote_plus(ticket["key"], safe="/")
    assert "%2B" in envelope["detail"]["object"]["key"]

    assert deliver(stack, [json.dumps(envelope)]) == []
    [event] = published(stack)
    assert event.expect(DocumentUploaded).filename == "a+b scan é.png"


def test_text_file_renamed_jpg_is_rejected_and_deleted(stack: Stack) -> None:
    data = b"Dear diary, this is not a photo.\n"
    ticket = open_upload("photo.jpg", "image/jpeg", len(data), email=EMAIL)
    post_file(ticket, data)
    bodies = object_created_bodies(stack)

    assert deliver(stack, bodies) == []
    [envelope] = published(stack)
    event = envelope.expect(DocumentRejected)
    assert event.reason_code == "unsupported_type"
    assert event.reason == "photo.jpg is not a JPEG, PNG, TIFF or PDF file."
    assert event.size_bytes == len(data)
    assert event.recipient is not None  # so notify can tell the person why
    token_hash = hashlib.sha256(ticket["access_token"].encode()).hexdigest()
    assert event.access_token_sha256 == token_hash  # so they can look up the status
    assert not object_exists(stack, ticket["key"])
    assert record(stack, ticket["document_id"])["status"] == "rejected"

    assert deliver(stack, bodies) == []  # duplicate: nothing new
    assert published(stack) == []


def test_empty_upload_is_rejected(stack: Stack) -> None:
    ticket = open_upload("blank.pdf", "application/pdf", 100)
    stack.s3.put_object(Bucket=BUCKET, Key=ticket["key"], Body=b"")
    assert deliver(stack, object_created_bodies(stack)) == []
    [envelope] = published(stack)
    assert envelope.expect(DocumentRejected).reason == "blank.pdf is empty (0 bytes)."


def test_object_without_pending_upload_is_unknown_and_deleted(stack: Stack) -> None:
    key = "stray file é.png"
    stack.s3.put_object(Bucket=BUCKET, Key=key, Body=png_bytes())
    forged = f"uploads/{'b' * 32}/forged.png"  # our layout, but never opened
    stack.s3.put_object(Bucket=BUCKET, Key=forged, Body=png_bytes())
    bodies = object_created_bodies(stack)
    assert len(bodies) == 2

    assert deliver(stack, bodies) == []
    events = [e.expect(DocumentRejected) for e in published(stack)]
    assert {e.reason_code for e in events} == {"unknown_upload"}
    assert {e.access_token_sha256 for e in events} == {None}
    assert {e.source_uri for e in events} == {f"s3://{BUCKET}/{key}", f"s3://{BUCKET}/{forged}"}
    ids = {e.document_id for e in events}
    assert ids == {hashlib.sha256(k.encode()).hexdigest()[:32] for k in (key, forged)}
    assert not object_exists(stack, key)
    assert not object_exists(stack, forged)

    assert deliver(stack, bodies) == []  # already gone: nothing to publish
    assert published(stack) == []


def test_publish_failure_is_retried_and_then_published_once(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = png_bytes()
    ticket = open_upload("retry.png", "image/png", len(data))
    post_file(ticket, data)
    [body] = object_created_bodies(stack)

    real_publish = EventPublisher.publish
    calls = {"n": 0}

    def flaky_publish(self: EventPublisher, *events: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise PublishError("bus unavailable")
        real_publish(self, *events)

    monkeypatch.setattr(EventPublisher, "publish", flaky_publish)
    assert deliver(stack, [body]) == ["m0"]  # the queue will redeliver it
    assert published(stack) == []
    assert record(stack, ticket["document_id"])["status"] == "pending"  # lease given back

    assert deliver(stack, [body]) == []
    assert [e.detail_type for e in published(stack)] == ["DocumentUploaded"]
    assert deliver(stack, [body]) == []
    assert published(stack) == []


def test_transient_s3_error_is_retried(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> None:
    data = png_bytes()
    ticket = open_upload("slow.png", "image/png", len(data))
    post_file(ticket, data)
    [body] = object_created_bodies(stack)

    s3 = ocrpipe.aws.client("s3")
    real_get = s3.get_object

    def slow_down(**kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")

    monkeypatch.setattr(s3, "get_object", slow_down)
    assert deliver(stack, [body]) == ["m0"]
    monkeypatch.setattr(s3, "get_object", real_get)
    assert deliver(stack, [body]) == []
    assert [e.detail_type for e in published(stack)] == ["DocumentUploaded"]


def test_batch_of_ten_one_bad_record_fails_alone(stack: Stack) -> None:
    data = png_bytes()
    for index in range(6):
        ticket = open_upload(f"good {index}.png", "image/png", len(data))
        post_file(ticket, data)
    for index in range(3):
        ticket = open_upload(f"bad {index}.jpg", "image/jpeg", 10)
        post_file(ticket, b"not a jpeg")
    bodies = object_created_bodies(stack)
    assert len(bodies) == 9
    bodies.insert(4, "this is not an EventBridge envelope")

    assert deliver(stack, bodies) == ["m4"]
    kinds = sorted(e.detail_type for e in published(stack))
    assert kinds == ["DocumentRejected"] * 3 + ["DocumentUploaded"] * 6


def test_concurrent_delivery_waits_for_the_lease(stack: Stack) -> None:
    data = png_bytes()
    ticket = open_upload("busy.png", "image/png", len(data))
    post_file(ticket, data)
    assert len(object_created_bodies(stack)) == 1
    uploads = UploadsTable(stack.dynamodb, TABLE)
    now = 1_800_000_000.0
    # Another worker holds the lease (and then dies without finishing).
    claimed = uploads.claim(ticket["document_id"], token="other", now=now, lease_s=60)
    assert claimed is not None
    assert claimed.status == UploadStatus.PROCESSING

    def intake(at: float) -> UploadIntake:
        return UploadIntake(
            s3=stack.s3,
            uploads=uploads,
            publisher=EventPublisher(ocrpipe.aws.client("events"), BUS),
            bucket=BUCKET,
            limits=Limits(max_bytes=10**7, max_pages=50, max_image_pixels=50_000_000),
            clock=lambda: at,
        )

    created = ObjectCreated(event_id="e", bucket=BUCKET, key=ticket["key"])
    with pytest.raises(UploadBusyError):
        intake(now + 30).handle(created)
    assert published(stack) == []
    # Once the lease has run out, a retry takes over and publishes.
    assert intake(now + 61).handle(created) == IntakeOutcome.ACCEPTED
    assert [e.detail_type for e in published(stack)] == ["DocumentUploaded"]
    assert intake(now + 62).handle(created) == IntakeOutcome.DUPLICATE


def test_the_outcome_is_recorded_through_transient_failures(stack: Stack) -> None:
    # Left unrecorded, the upload would be claimed again by the next copy of its S3 event,
    # after ocr may have deleted the object: a copy that fails until the DLQ.
    data = png_bytes()
    ticket = open_upload("flaky.png", "image/png", len(data))
    post_file(ticket, data)

    class FlakyUploads(UploadsTable):
        failures = 2

        def finish(self, *args: Any, **kwargs: Any) -> bool:
            if self.failures:
                self.failures -= 1
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException"}, "ResponseMetadata": {}},
                    "UpdateItem",
                )
            return super().finish(*args, **kwargs)

    uploads = FlakyUploads(stack.dynamodb, TABLE)
    intake = UploadIntake(
        s3=stack.s3,
        uploads=uploads,
        publisher=EventPublisher(ocrpipe.aws.client("events"), BUS),
        bucket=BUCKET,
        limits=Limits(max_bytes=10**7, max_pages=50, max_image_pixels=50_000_000),
    )
    created = ObjectCreated(event_id="e", bucket=BUCKET, key=ticket["key"])
    assert intake.handle(created) == IntakeOutcome.ACCEPTED
    assert uploads.failures == 0
    stored = uploads.get(ticket["document_id"])
    assert stored is not None
    assert stored.status == UploadStatus.UPLOADED
    assert intake.handle(created) == IntakeOutcome.DUPLICATE  # the next copy: nothing to do


def test_checked_upload_overwritten_with_other_bytes_is_deleted(stack: Stack) -> None:
    data = png_bytes()
    ticket = open_upload("swap.png", "image/png", len(data))
    post_file(ticket, data)
    [first] = object_created_bodies(stack)
    assert deliver(stack, [first]) == []
    assert [e.detail_type for e in published(stack)] == ["DocumentUploaded"]

    # A stale or reordered event with another ETag, while the checked bytes are still
    # there: nothing happens.
    stale = json.loads(first)
    stale["detail"]["object"]["eTag"] = "0" * 32
    assert deliver(stack, [json.dumps(stale)]) == []
    assert object_exists(stack, ticket["key"])

    # The presigned POST is used again (within its 30 s) to swap in unchecked bytes.
    post_file(ticket, b"%PDF-1.4 not what was checked")
    [second] = object_created_bodies(stack)
    assert deliver(stack, [second]) == []
    assert published(stack) == []
    assert not object_exists(stack, ticket["key"])


# -- the presigned POST's promises, enforced by ingest (the emulator does not enforce them) --


def test_object_larger_than_declared_is_rejected_and_deleted(stack: Stack) -> None:
    data = png_bytes()
    ticket = open_upload("small.png", "image/png", 100)
    post_file(ticket, data + b"\0" * 1000)  # the emulator lets the policy's bound pass
    assert deliver(stack, object_created_bodies(stack)) == []
    [event] = published(stack)
    assert event.detail_type == "DocumentRejected"
    assert event.detail["reason_code"] == "larger_than_declared"
    assert "more than the 100 bytes its upload was announced with" in event.detail["reason"]
    assert not object_exists(stack, ticket["key"])


def test_object_stored_after_the_link_expired_is_rejected_and_deleted(stack: Stack) -> None:
    data = png_bytes()
    ticket = open_upload("late.png", "image/png", len(data))
    # The upload was asked for 65 s ago; its link lived 30 s (+10 s grace).
    asked = (datetime.now(UTC) - timedelta(seconds=65)).isoformat()
    stack.dynamodb.update_item(
        TableName=TABLE,
        Key={"pk": {"S": f"upload#{ticket['document_id']}"}},
        UpdateExpression="SET created_at = :t",
        ExpressionAttributeValues={":t": {"S": asked}},
    )
    post_file(ticket, data)
    assert deliver(stack, object_created_bodies(stack)) == []
    [event] = published(stack)
    assert event.detail["reason_code"] == "upload_expired"
    assert "after its upload link expired" in event.detail["reason"]
    assert not object_exists(stack, ticket["key"])


def test_object_of_another_type_than_declared_is_rejected(stack: Stack) -> None:
    ticket = open_upload("photo.jpg", "image/jpeg", 10_000)
    post_file(ticket, png_bytes())
    assert deliver(stack, object_created_bodies(stack)) == []
    [event] = published(stack)
    assert event.detail["reason_code"] == "content_type_mismatch"
    assert not object_exists(stack, ticket["key"])


def test_language_named_at_upload_travels_to_ocr(stack: Stack) -> None:
    data = png_bytes()
    ticket = open_upload("lettera.png", "image/png", len(data), language="it")
    post_file(ticket, data)
    assert deliver(stack, object_created_bodies(stack)) == []
    [event] = published(stack)
    assert (event.detail_type, event.detail["language"]) == ("DocumentUploaded", "it")


def test_upload_url_is_the_api_address_the_caller_used_when_uploads_go_through_it(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Locally a phone cannot reach the loopback emulator: the presigned POST goes to the
    local API (which forwards it), at the address the phone used."""
    on_aws = open_upload("a.png", "image/png", 10)["upload"]["url"]
    assert "/_s3/" not in on_aws  # the bucket's own URL
    monkeypatch.setenv("OCRPIPE_UPLOAD_PROXY_PATH", f"/_s3/{BUCKET}")
    container.cold_start()  # the same function, deployed with the proxy setting
    status, body = call_api(
        {"filename": "a.png", "content_type": "image/png", "size_bytes": 10},
        headers={"content-type": "application/json", "host": "192.168.1.20:8080"},
    )
    assert status == 201, body
    assert body["upload"]["url"] == f"http://192.168.1.20:8080/_s3/{BUCKET}"
    assert body["upload"]["fields"]["key"] == body["key"]
