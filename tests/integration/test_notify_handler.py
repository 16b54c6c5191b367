"""notify.handlers.on_outcome against moto (KMS, SES, S3, DynamoDB, EventBridge) and a real
webhook receiver on 127.0.0.1."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import threading
import time
from collections.abc import Iterator
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws
from moto.ses.models import ses_backends

from notify import handlers, webhook
from ocrpipe import container
from ocrpipe.events import (
    DocumentRejected,
    DomainEvent,
    OcrFailed,
    OcrFailureReason,
    Recipient,
    RejectionReason,
    WordCount,
    WordCountFailed,
    WordCountFailureReason,
    WordsCounted,
)
from ocrpipe.topology import load_declaration
from tests import lambda_shapes
from tests.fake_dns import fake_resolver
from tests.lambda_shapes import envelope_body, lambda_context, sqs_event

pytestmark = pytest.mark.integration

REGION = "us-east-1"
BUS = "ocrpipe-test"
RESULT_BUCKET = "ocrpipe-test-wordcount-123456789012-us-east-1"
TABLE = "ocrpipe-test-notify-idempotency"
SENDER = "ocrpipe@example.com"
ADDRESS = "private.person@example.org"
SECRET = "webhook-secret-for-tests"
ACCOUNT = "123456789012"  # moto's default account
FUNCTION = "ocrpipe-test-notify"


def failing_ids(*events: DomainEvent) -> list[int]:
    """Handle ``events`` plus one that succeeds (powertools raises when a whole batch fails);
    the positions of the records reported as failed, for the queue to retry."""
    batch = sqs_event(*(envelope_body(e) for e in (*events, rejected("doc-filler-0001", None))))
    response = handlers.on_outcome(batch, lambda_context(FUNCTION))
    ids = [r["messageId"] for r in batch["Records"]]
    return [ids.index(f["itemIdentifier"]) for f in response["batchItemFailures"]]


def handle(*events: DomainEvent, receive_count: int = 1) -> dict[str, Any]:
    response: dict[str, Any] = handlers.on_outcome(
        sqs_event(*(envelope_body(e) for e in events), receive_count=receive_count),
        lambda_context(FUNCTION),
    )
    return response


class Aws:
    def __init__(self) -> None:
        self.kms = boto3.client("kms", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        self.dynamodb = boto3.client("dynamodb", region_name=REGION)
        self.key_id = self.kms.create_key(Description="notify")["KeyMetadata"]["KeyId"]
        boto3.client("ses", region_name=REGION).verify_email_identity(EmailAddress=SENDER)
        self.s3.create_bucket(Bucket=RESULT_BUCKET)
        self.dynamodb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.create_bus()
        self.queue_url = self.sqs.create_queue(QueueName="capture")["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        self.capture()

    def create_bus(self) -> None:
        self.events.create_event_bus(Name=BUS)

    def capture(self) -> None:
        self.events.put_rule(
            Name="capture",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": ["ocrpipe.notify"]}),
        )
        self.events.put_targets(
            Rule="capture", EventBusName=BUS, Targets=[{"Id": "q", "Arn": self.queue_arn}]
        )

    def recipient(self, document_id: str, address: str, channel: str = "email") -> Recipient:
        blob = self.kms.encrypt(
            KeyId=self.key_id,
            Plaintext=address.encode(),
            EncryptionContext={"document_id": document_id, "channel": channel},
        )["CiphertextBlob"]
        return Recipient(channel=channel, ciphertext=base64.b64encode(blob).decode())

    def put_result(self, document_id: str, result: dict[str, Any]) -> str:
        key = f"results/{document_id}.json"
        body = json.dumps(result, ensure_ascii=False).encode()
        self.s3.put_object(Bucket=RESULT_BUCKET, Key=key, Body=body)
        return f"s3://{RESULT_BUCKET}/{key}"

    def sent(self) -> list[Any]:
        return list(ses_backends[ACCOUNT][REGION].sent_messages)

    def published(self) -> list[dict[str, Any]]:
        return lambda_shapes.drain_bodies(self.sqs, self.queue_url)

    def idempotency_items(self) -> list[dict[str, Any]]:
        return self.dynamodb.scan(TableName=TABLE)["Items"]


@pytest.fixture
def outbox(tmp_path: Path) -> Path:
    return tmp_path / "outbox"


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch, outbox: Path) -> Iterator[Aws]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OCRPIPE_STAGE": "test",
        "OCRPIPE_BUS_NAME": BUS,
        "OCRPIPE_NOTIFY_IDEMPOTENCY_TABLE": TABLE,
        "OCRPIPE_SENDER_EMAIL": SENDER,
        "OCRPIPE_OUTBOX_DIR": str(outbox),
        "OCRPIPE_WEBHOOK_SECRET": SECRET,
        "OCRPIPE_LOCAL_MODE": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "ocrpipe",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        ses_backends[ACCOUNT][REGION].sent_messages.clear()
        yield Aws()


def counted(
    cloud: Aws, document_id: str, recipient: Recipient | None, **extra: Any
) -> WordsCounted:
    result = {
        "document_id": document_id,
        "filename": "scan é.jpg",
        "word_rule_version": "1",
        "total_words": 1234,
        "unique_words": 2,
        "counts": {"straße": 1000, "the": 234},
    }
    return WordsCounted(
        document_id=document_id,
        filename=extra.pop("filename", "scan é.jpg"),
        recipient=recipient,
        text_uri="s3://ocrpipe-test-ocr-123456789012-us-east-1/text/x.txt",
        result_uri=extra.pop("result_uri", None) or cloud.put_result(document_id, result),
        total_words=1234,
        unique_words=2,
        top_words=[WordCount(word="straße", count=1000), WordCount(word="the", count=234)],
        word_rule_version="1",
        **extra,
    )


def rejected(document_id: str, recipient: Recipient | None) -> DocumentRejected:
    return DocumentRejected(
        document_id=document_id,
        filename="notes.jpg",
        recipient=recipient,
        source_uri=f"s3://ocrpipe-test-ingest-123456789012-us-east-1/uploads/{document_id}/n.jpg",
        reason_code=RejectionReason.TOO_LARGE,
        reason="notes.jpg is 40 MB; the largest upload accepted is 10 MB.",
    )


def failed(document_id: str, recipient: Recipient | None) -> OcrFailed:
    return OcrFailed(
        document_id=document_id,
        filename="blank.png",
        recipient=recipient,
        reason_code=OcrFailureReason.NO_TEXT,
        reason="No text was found in blank.png.",
        engine="tesseract",
    )


def parse(raw: bytes | str) -> EmailMessage:
    data = raw.encode() if isinstance(raw, str) else raw
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def plain(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


# --- email ------------------------------------------------------------------------------------


def test_counted_email_is_sent_kept_in_outbox_and_announced(
    cloud: Aws, outbox: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    doc = "doc-email-0001"
    event = counted(cloud, doc, cloud.recipient(doc, ADDRESS))

    assert handle(event) == {"batchItemFailures": []}

    [sent] = cloud.sent()
    assert sent.source == SENDER
    assert ADDRESS in sent.destinations
    message = parse(sent.raw_data)
    assert message["To"] == ADDRESS
    assert message["Subject"] == 'ocrpipe: 1,234 words in "scan é.jpg"'
    body = plain(message)
    assert "1,234" in body
    assert "straße" in body
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "scan é.words.json"
    assert json.loads(attachment.get_content())["counts"] == {"straße": 1000, "the": 234}

    eml = outbox / f"{doc}.counted.eml"
    assert parse(eml.read_bytes())["Message-ID"] == message["Message-ID"]
    assert eml.read_bytes() == sent.raw_data.encode()  # exactly what was sent
    assert sorted(p.name for p in outbox.iterdir()) == [eml.name]  # no temp files left

    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationSent"
    assert announced["detail"]["channel"] == "email"
    assert announced["detail"]["outcome"] == "counted"
    assert announced["detail"]["message_id"] == sent.id

    # the address is personal data: not in logs, events or idempotency records
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "notification sent" in logs
    assert ADDRESS not in logs
    assert ADDRESS not in json.dumps(announced)
    assert ADDRESS not in json.dumps(cloud.idempotency_items())


def test_duplicate_and_replayed_events_send_once(cloud: Aws, outbox: Path) -> None:
    doc = "doc-duplicate-1"
    event = counted(cloud, doc, cloud.recipient(doc, ADDRESS))

    assert handle(event, event) == {"batchItemFailures": []}
    assert handle(event) == {"batchItemFailures": []}  # a replay, later

    assert len(cloud.sent()) == 1
    assert [p["detail-type"] for p in cloud.published()] == ["NotificationSent"]
    # a different outcome for the same document is a different notification
    assert handle(failed(doc, cloud.recipient(doc, ADDRESS))) == {"batchItemFailures": []}
    assert len(cloud.sent()) == 2
    assert sorted(p.name for p in outbox.iterdir()) == [f"{doc}.counted.eml", f"{doc}.failed.eml"]


def test_renotify_replay_sends_once_more_per_replay(cloud: Aws, outbox: Path) -> None:
    doc = "doc-renotify-1"
    event = counted(cloud, doc, cloud.recipient(doc, ADDRESS))
    handle(event)
    again = event.model_copy(update={"renotify": True})

    def replayed(name: str) -> str:
        return envelope_body(again, replay_name=name)

    for body in (replayed("replay-1"), replayed("replay-1"), replayed("replay-2")):
        assert handlers.on_outcome(sqs_event(body), lambda_context(FUNCTION)) == {
            "batchItemFailures": []
        }
    # the first delivery, then one per distinct replay; a duplicate of a replay is skipped
    assert len(cloud.sent()) == 3
    assert [p["detail-type"] for p in cloud.published()] == ["NotificationSent"] * 3
    # and the outbox keeps each message sent, as the recipient's inbox would
    assert sorted(p.name for p in outbox.iterdir()) == [
        f"{doc}.counted.2.eml",
        f"{doc}.counted.3.eml",
        f"{doc}.counted.eml",
    ]


def test_rejected_and_failed_emails_say_why(cloud: Aws, outbox: Path) -> None:
    handle(
        rejected("doc-rejected-1", cloud.recipient("doc-rejected-1", ADDRESS)),
        failed("doc-failed-01", cloud.recipient("doc-failed-01", ADDRESS)),
    )
    by_subject = {parse(m.raw_data)["Subject"]: parse(m.raw_data) for m in cloud.sent()}
    rejected_mail = by_subject['ocrpipe: "notes.jpg" was not accepted']
    body = plain(rejected_mail)
    assert "Why: notes.jpg is 40 MB; the largest upload accepted is 10 MB." in body
    assert "What you can do: Make the file smaller" in body
    assert list(rejected_mail.iter_attachments()) == []
    failed_body = plain(by_subject['ocrpipe: could not read "blank.png"'])
    assert "Why: No text was found in blank.png." in failed_body
    assert "What you can do: No text was found." in failed_body
    assert (outbox / "doc-rejected-1.rejected.eml").exists()
    assert (outbox / "doc-failed-01.failed.eml").exists()
    outcomes = sorted(p["detail"]["outcome"] for p in cloud.published())
    assert outcomes == ["failed", "rejected"]


def test_a_count_that_failed_is_told_with_its_reason(cloud: Aws, outbox: Path) -> None:
    doc = "doc-uncounted-1"
    event = WordCountFailed(
        document_id=doc,
        filename="letter.pdf",
        recipient=cloud.recipient(doc, ADDRESS),
        reason_code=WordCountFailureReason.TEXT_MISSING,
        reason="The document's text is no longer stored, so its words could not be counted.",
        text_uri=f"s3://ocrpipe-test-ocr-123456789012-us-east-1/text/{doc}.txt",
    )
    assert handle(event) == {"batchItemFailures": []}
    [sent] = cloud.sent()
    mail = parse(sent.raw_data)
    assert mail["Subject"] == 'ocrpipe: could not count the words of "letter.pdf"'
    body = plain(mail)
    assert "Why: The document's text is no longer stored" in body
    assert "What you can do: Upload the document again" in body
    assert (outbox / f"{doc}.failed.eml").exists()
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationSent"
    assert announced["detail"]["outcome"] == "failed"


def test_an_outbox_that_cannot_be_written_is_retried_then_announced(
    cloud: Aws, outbox: Path
) -> None:
    """Locally the outbox is the person's mailbox: a copy that cannot be written is a
    delivery that did not happen. Before, it failed until the DLQ and the status said
    "counted" forever."""
    outbox.write_text("a file where the outbox directory should be")
    doc = "doc-no-outbox-1"
    event = counted(cloud, doc, cloud.recipient(doc, ADDRESS))
    max_receives = load_declaration("notify").consumers["notify"].max_receive_count

    assert failing_ids(event) == [0]  # retried by the queue
    assert cloud.sent() == []  # nothing is sent before its copy is on disk
    assert handle(event, receive_count=max_receives) == {"batchItemFailures": []}
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationFailed"
    assert "could not be written to the outbox" in announced["detail"]["reason"]
    assert cloud.sent() == []


def test_no_recipient_means_nothing_to_send(cloud: Aws, outbox: Path) -> None:
    assert handle(rejected("doc-nobody-01", None)) == {"batchItemFailures": []}
    assert cloud.sent() == []
    assert cloud.published() == []
    assert not outbox.exists()


def test_result_gone_still_tells_the_person(cloud: Aws) -> None:
    doc = "doc-no-result"
    uri = f"s3://{RESULT_BUCKET}/results/{doc}.json"
    handle(counted(cloud, doc, cloud.recipient(doc, ADDRESS), result_uri=uri))
    [sent] = cloud.sent()
    message = parse(sent.raw_data)
    assert list(message.iter_attachments()) == []
    assert "no longer available to attach" in plain(message)


def test_ses_refusal_is_a_notification_failure_not_a_retry(
    cloud: Aws,
    outbox: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # SES answers MessageRejected (here: the sender identity is not verified)
    monkeypatch.setenv("OCRPIPE_SENDER_EMAIL", "unverified@example.net")
    doc = "doc-refused-01"
    assert handle(counted(cloud, doc, cloud.recipient(doc, ADDRESS))) == {"batchItemFailures": []}

    assert cloud.sent() == []
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationFailed"
    assert "Amazon SES refused it (MessageRejected)" in announced["detail"]["reason"]
    assert ADDRESS not in json.dumps(announced)
    assert list(outbox.iterdir()) == []  # neither the .eml nor its temporary file
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "notification failed" in logs
    assert ADDRESS not in logs
    # and it is not retried: a duplicate neither sends nor announces again
    monkeypatch.setenv("OCRPIPE_SENDER_EMAIL", SENDER)
    handle(counted(cloud, doc, cloud.recipient(doc, ADDRESS)))
    assert cloud.sent() == []
    assert cloud.published() == []


@pytest.mark.parametrize("address", ["not-an-address", "a@b.c\r\nBcc: everyone@example.org"])
def test_invalid_address_that_slipped_through(cloud: Aws, address: str) -> None:
    doc = "doc-bad-address"
    assert handle(rejected(doc, cloud.recipient(doc, address))) == {"batchItemFailures": []}
    assert cloud.sent() == []
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationFailed"
    assert announced["detail"]["reason"] == "The email address to notify is not a valid address."


def test_ciphertext_for_another_document_is_refused(cloud: Aws) -> None:
    stolen = cloud.recipient("doc-other-0001", ADDRESS)
    assert handle(rejected("doc-victim-001", stolen)) == {"batchItemFailures": []}
    assert cloud.sent() == []
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationFailed"
    assert "could not be decrypted" in announced["detail"]["reason"]


def test_publish_failure_after_sending_retries_without_sending_again(
    cloud: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    doc = "doc-publish-01"
    event = counted(cloud, doc, cloud.recipient(doc, ADDRESS))
    monkeypatch.setenv("OCRPIPE_BUS_NAME", "no-such-bus")  # PutEvents fails

    assert failing_ids(event) == [0]
    assert len(cloud.sent()) == 1

    monkeypatch.setenv("OCRPIPE_BUS_NAME", BUS)
    container.cold_start()  # the function redeployed with the right bus: new containers
    assert handle(event) == {"batchItemFailures": []}
    assert len(cloud.sent()) == 1  # not sent twice
    assert [p["detail-type"] for p in cloud.published()] == ["NotificationSent"]


def test_other_events_are_not_outcomes(cloud: Aws) -> None:
    body = json.dumps(
        {"source": "ocrpipe.ocr", "detail-type": "OcrCompleted", "detail": {"document_id": "d" * 8}}
    )
    other = envelope_body(rejected("doc-fine-00001", None))
    response = handlers.on_outcome(sqs_event(body, other), lambda_context(FUNCTION))
    assert len(response["batchItemFailures"]) == 1


# --- webhook ----------------------------------------------------------------------------------


class Receiver:
    """A webhook receiver on 127.0.0.1 that verifies every delivery's signature."""

    def __init__(self) -> None:
        self.statuses: list[int] = []  # answers to give, in order; then 200
        self.deliveries: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.deliveries.append(
                    {
                        "path": self.path,
                        "body": json.loads(body),
                        "headers": dict(self.headers),
                        "verified": webhook.verify(
                            SECRET,
                            body=body,
                            timestamp=self.headers.get("X-Ocrpipe-Timestamp", ""),
                            signature=self.headers.get("X-Ocrpipe-Signature", ""),
                        ),
                    }
                )
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://169.254.169.254/latest/meta-data/")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/ocrpipe"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def test_webhook_delivery_is_signed_and_announced(cloud: Aws, receiver: Receiver) -> None:
    doc = "doc-webhook-01"
    event = counted(cloud, doc, cloud.recipient(doc, receiver.url, "webhook"))

    assert handle(event) == {"batchItemFailures": []}

    [delivery] = receiver.deliveries
    assert delivery["verified"]
    assert delivery["path"] == "/hooks/ocrpipe"
    assert delivery["headers"]["X-Ocrpipe-Delivery"] == f"{doc}.counted"
    body = delivery["body"]
    assert (body["document_id"], body["outcome"], body["total_words"]) == (doc, "counted", 1234)
    assert body["top_words"][0] == {"word": "straße", "count": 1000}
    # Presigned links (the AWS default), never the internal s3:// address.
    assert "result_uri" not in body
    assert "s3://" not in json.dumps(body)
    assert sorted(body["links"]) == ["counts.json", "text.txt"]
    assert f"{RESULT_BUCKET}" in body["links"]["counts.json"]
    assert f"/results/{doc}.json?" in body["links"]["counts.json"]
    assert "X-Amz-Signature=" in body["links"]["counts.json"]
    assert body["links_expire_at"] > time.time()
    assert cloud.sent() == []
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationSent"
    assert announced["detail"]["channel"] == "webhook"
    assert receiver.url not in json.dumps(announced)


def test_webhook_rejected_outcome_carries_reason(cloud: Aws, receiver: Receiver) -> None:
    doc = "doc-webhook-02"
    handle(rejected(doc, cloud.recipient(doc, receiver.url, "webhook")))
    body = receiver.deliveries[0]["body"]
    assert (body["outcome"], body["reason_code"]) == ("rejected", "too_large")
    assert "result_uri" not in body


@pytest.mark.parametrize("status", [500, 503, 429])
def test_webhook_server_error_is_retried_then_delivered_once(
    cloud: Aws, receiver: Receiver, status: int
) -> None:
    doc = "doc-webhook-03"
    event = counted(cloud, doc, cloud.recipient(doc, receiver.url, "webhook"))
    receiver.statuses = [status]

    assert failing_ids(event) == [0]
    assert cloud.published() == []

    assert handle(event) == {"batchItemFailures": []}  # the queue's retry
    assert handle(event) == {"batchItemFailures": []}  # a later duplicate: not delivered again
    assert len(receiver.deliveries) == 2
    assert all(d["verified"] for d in receiver.deliveries)
    ids = {d["headers"]["X-Ocrpipe-Delivery"] for d in receiver.deliveries}
    assert ids == {f"{doc}.counted"}
    assert [p["detail-type"] for p in cloud.published()] == ["NotificationSent"]


@pytest.mark.parametrize("status", [500, 429])
def test_webhook_failing_on_the_last_delivery_is_announced_not_left_in_the_dlq(
    cloud: Aws, receiver: Receiver, status: int
) -> None:
    """Before, the fifth 5xx sent the message to the DLQ and the status said "counted"
    forever; the last delivery now records the failure and announces NotificationFailed."""
    doc = "doc-webhook-06"
    event = counted(cloud, doc, cloud.recipient(doc, receiver.url, "webhook"))
    max_receives = load_declaration("notify").consumers["notify"].max_receive_count
    receiver.statuses = [status] * max_receives

    assert failing_ids(event) == [0]  # an early delivery: retried by the queue
    assert handle(event, receive_count=max_receives) == {"batchItemFailures": []}
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationFailed"
    assert f"HTTP {status}" in announced["detail"]["reason"]
    assert "last attempt" in announced["detail"]["reason"]
    assert handle(event, receive_count=max_receives) == {"batchItemFailures": []}
    assert len(receiver.deliveries) == 2  # a duplicate is neither delivered nor announced
    assert cloud.published() == []


@pytest.mark.parametrize(
    ("status", "shown"), [(400, "HTTP 400"), (410, "HTTP 410"), (302, "HTTP 302")]
)
def test_webhook_client_error_is_a_permanent_failure(
    cloud: Aws, receiver: Receiver, status: int, shown: str
) -> None:
    doc = "doc-webhook-04"
    event = failed(doc, cloud.recipient(doc, receiver.url, "webhook"))
    receiver.statuses = [status]

    assert handle(event) == {"batchItemFailures": []}
    assert handle(event) == {"batchItemFailures": []}  # not retried

    assert len(receiver.deliveries) == 1  # a redirect is not followed either
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationFailed"
    assert shown in announced["detail"]["reason"]
    assert receiver.url not in json.dumps(announced)


def test_unreachable_webhook_is_retried(cloud: Aws, receiver: Receiver) -> None:
    url = receiver.url
    receiver.close()  # nothing listens there any more
    doc = "doc-webhook-05"
    assert failing_ids(failed(doc, cloud.recipient(doc, url, "webhook"))) == [0]
    assert cloud.published() == []


def test_plain_http_webhook_outside_local_mode_is_refused(
    cloud: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCRPIPE_LOCAL_MODE", "false")
    doc = "doc-webhook-06"
    handle(failed(doc, cloud.recipient(doc, receiver.url, "webhook")))
    assert receiver.deliveries == []
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationFailed"
    assert announced["detail"]["reason"] == "The webhook URL must use https."


# --- webhook addresses checked at send time, connection pinned to them ------------------------


@pytest.mark.parametrize(
    "host",
    ["2130706433", "127.1", "0x7f000001", "0177.0.0.1", "10.1", "2852039166", "[::ffff:7f00:1]"],
)
def test_numeric_forms_of_internal_addresses_are_refused_at_send_time(
    cloud: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, host: str
) -> None:
    monkeypatch.setenv("OCRPIPE_LOCAL_MODE", "false")
    doc = "doc-webhook-07"
    url = f"https://{host}:{receiver.server.server_address[1]}/hooks/ocrpipe"
    assert handle(failed(doc, cloud.recipient(doc, url, "webhook"))) == {"batchItemFailures": []}
    assert receiver.deliveries == []
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationFailed"
    assert announced["detail"]["reason"] == "The webhook URL must point at a public internet host."


def test_a_name_resolving_to_loopback_is_refused_at_send_time(
    cloud: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCRPIPE_LOCAL_MODE", "false")
    resolver = fake_resolver(monkeypatch)
    resolver.answers["hooks.example.com"] = ["127.0.0.1"]
    doc = "doc-webhook-08"
    url = f"https://hooks.example.com:{receiver.server.server_address[1]}/hooks/ocrpipe"
    handle(failed(doc, cloud.recipient(doc, url, "webhook")))
    assert resolver.asked == ["hooks.example.com"]
    assert receiver.deliveries == []
    [announced] = cloud.published()
    assert announced["detail"]["reason"] == "The webhook URL must point at a public internet host."


def test_delivery_connects_to_the_address_checked_and_names_the_host(
    cloud: Aws, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    # local runtime: a loopback name, resolved once, then reached at that address
    resolver = fake_resolver(monkeypatch)
    resolver.answers["receiver.localhost"] = ["127.0.0.1"]
    port = receiver.server.server_address[1]
    doc = "doc-webhook-09"
    url = f"http://receiver.localhost:{port}/hooks/ocrpipe"
    assert handle(failed(doc, cloud.recipient(doc, url, "webhook"))) == {"batchItemFailures": []}
    [delivery] = receiver.deliveries
    assert delivery["verified"]
    assert delivery["headers"]["Host"] == f"receiver.localhost:{port}"
    assert resolver.asked == ["receiver.localhost"]  # never resolved again to connect
    [announced] = cloud.published()
    assert announced["detail-type"] == "NotificationSent"
