"""The status service against moto: events travel the real bus → rule → queue path, the
handlers get Lambda-shaped events, and the read model lives in a real (emulated) table."""

from __future__ import annotations

import hashlib
import json
import random
import urllib.parse
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from ocrpipe import aws, container, events, topology
from ocrpipe.bus import EventPublisher
from status import api as status_api
from status import handlers
from status.read_model import Stage
from status.store import StatusStore
from tests.lambda_shapes import lambda_context, received_event

pytestmark = pytest.mark.integration

PLACE = topology.Place(stage="test", account="123456789012", region="us-east-1")
STATUS = topology.load_declaration("status")
BUS = PLACE.name("bus")
TABLE = PLACE.name("table", service="status")
QUEUE = PLACE.name("queue", consumer="status")
FUNCTION = "ocrpipe-test-status"
DOC = "doc-" + "c" * 20
TOKEN = "tok-" + uuid.uuid4().hex
TOKEN_SHA = hashlib.sha256(TOKEN.encode()).hexdigest()
SHA = "d" * 64
RECIPIENT = events.Recipient(channel="email", ciphertext="RU5DUllQVEVELUFERFJFU1M=")
NOW = datetime.now(UTC).replace(microsecond=0)


def at(seconds: float) -> datetime:
    return NOW - timedelta(minutes=5) + timedelta(seconds=seconds)


def lifecycle(doc: str = DOC) -> list[events.DomainEvent]:
    bucket = "s3://ocrpipe-test-{}-123456789012-us-east-1"
    return [
        events.DocumentUploaded(
            document_id=doc,
            occurred_at=at(0),
            filename="Résumé scan 1.png",
            recipient=RECIPIENT,
            access_token_sha256=TOKEN_SHA,
            source_uri=bucket.format("ingest") + f"/uploads/{doc}/Résumé scan 1.png",
            content_type="image/png",
            size_bytes=2048,
            sha256=SHA,
            page_count=1,
        ),
        events.OcrCompleted(
            document_id=doc,
            occurred_at=at(1),
            recipient=RECIPIENT,
            text_uri=bucket.format("ocr") + f"/text/{SHA}.txt",
            sha256=SHA,
            engine="tesseract",
            page_count=1,
            mean_confidence=88.0,
            char_count=120,
        ),
        events.WordsCounted(
            document_id=doc,
            occurred_at=at(2),
            recipient=RECIPIENT,
            text_uri=bucket.format("ocr") + f"/text/{SHA}.txt",
            result_uri=bucket.format("wordcount") + f"/results/{doc}.json",
            total_words=21,
            unique_words=17,
            top_words=[events.WordCount(word="the", count=3)],
            word_rule_version="1",
        ),
        events.NotificationSent(
            document_id=doc, occurred_at=at(3), channel="email", outcome="counted"
        ),
    ]


class Stack:
    def __init__(self) -> None:
        self.ddb = aws.client("dynamodb")
        self.sqs = aws.client("sqs")
        self.events = aws.client("events")
        self.ddb.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.ddb.update_time_to_live(
            TableName=TABLE,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": "expires_at"},
        )
        self.events.create_event_bus(Name=BUS)
        self.queue_url = self.sqs.create_queue(QueueName=QUEUE)["QueueUrl"]
        self.queue_arn = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url, AttributeNames=["QueueArn"]
        )["Attributes"]["QueueArn"]
        rule = PLACE.name("rule", consumer="status")
        self.events.put_rule(
            Name=rule,
            EventBusName=BUS,
            EventPattern=json.dumps(PLACE.fill(STATUS.consumers["status"].pattern)),
        )
        self.events.put_targets(
            Rule=rule, EventBusName=BUS, Targets=[{"Id": "queue", "Arn": self.queue_arn}]
        )

    def publish(self, *evts: events.DomainEvent) -> None:
        EventPublisher(self.events, BUS).publish(*evts)

    def put_raw(self, source: str, detail_type: str, detail: dict[str, Any]) -> None:
        self.events.put_events(
            Entries=[
                {
                    "Source": source,
                    "DetailType": detail_type,
                    "Detail": json.dumps(detail),
                    "EventBusName": BUS,
                }
            ]
        )

    def receive_batch(self) -> dict[str, Any]:
        """Up to 10 queued messages as the Lambda SQS event a function would get."""
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=10, AttributeNames=["All"]
        ).get("Messages", [])
        return received_event(messages, queue_arn=self.queue_arn)

    def drain(self) -> int:
        """Run the consumer over everything queued, as Lambda would; returns messages handled."""
        handled = 0
        while (batch := self.receive_batch())["Records"]:
            response = handlers.on_event(batch, lambda_context(FUNCTION))
            assert response == {"batchItemFailures": []}
            for record in batch["Records"]:
                self.sqs.delete_message(
                    QueueUrl=self.queue_url, ReceiptHandle=record["receiptHandle"]
                )
            handled += len(batch["Records"])
        return handled

    def item(self, document_id: str) -> dict[str, Any]:
        item: dict[str, Any] = self.ddb.get_item(
            TableName=TABLE, Key={"pk": {"S": "doc#" + document_id}}
        )["Item"]
        return item


@pytest.fixture
def stack(monkeypatch):
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OCRPIPE_STAGE": "test",
        "OCRPIPE_BUS_NAME": BUS,
        "OCRPIPE_STATUS_TABLE": TABLE,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.delenv("OCRPIPE_STATUS_RETENTION_DAYS", raising=False)
    container.cold_start()  # clients bound to this test's mock
    with mock_aws():
        yield Stack()


def http_get(
    document_id: str,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    method: str = "GET",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event for ``GET /documents/{document_id}``."""
    return http_request(
        f"/documents/{document_id}",
        "GET /documents/{document_id}",
        {"document_id": document_id},
        headers=headers,
        query=query,
        method=method,
    )


def http_request(
    path: str,
    route_key: str,
    path_parameters: dict[str, str] | None = None,
    *,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    method: str = "GET",
) -> dict[str, Any]:
    """An API Gateway HTTP API (payload v2) event for one of the status routes."""
    raw_query = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": {"host": "api.example.test", "user-agent": "pytest", **(headers or {})},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.test",
            "domainPrefix": "api",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "pytest",
            },
            "requestId": "r-1",
            "routeKey": route_key,
            "stage": "$default",
            "time": "24/Nov/2026:09:00:00 +0000",
            "timeEpoch": 1795510800000,
        },
        "pathParameters": path_parameters or {},
        "isBase64Encoded": False,
    }
    if query:
        event["queryStringParameters"] = query
    return event


def is_not_found(response: dict[str, Any]) -> bool:
    """The one indistinct refusal."""
    return (
        response["statusCode"] == 404
        and json.loads(response["body"]) == {"error": "not_found"}
        and response["headers"].get("Cache-Control") == "no-store"
    )


def test_status_follows_a_document_from_events_on_the_bus(stack, capsys):
    evts = lifecycle()
    shuffled = evts + evts[:2]  # duplicates, as retries and replays deliver them
    random.Random(7).shuffle(shuffled)
    for event in shuffled:
        stack.publish(event)
    assert stack.drain() == len(shuffled)

    response = handlers.api(
        http_get(DOC, headers={"authorization": f"Bearer {TOKEN}"}), lambda_context(FUNCTION)
    )
    assert response["statusCode"] == 200
    assert response["headers"]["Cache-Control"] == "no-store"
    body = json.loads(response["body"])
    assert body["document_id"] == DOC
    assert body["stage"] == "notified"
    assert body["filename"] == "Résumé scan 1.png"
    assert (body["total_words"], body["unique_words"]) == (21, 17)
    assert body["top_words"] == [{"word": "the", "count": 3}]
    # Links people can fetch (presigned, the default), never the internal s3:// addresses.
    assert "s3://" not in response["body"]
    assert {"result_uri", "text_uri"}.isdisjoint(body)
    assert sorted(body["links"]) == ["counts.json", "text.txt"]  # this event had no CSV
    assert f"/results/{DOC}.json?" in body["links"]["counts.json"]
    assert "X-Amz-Signature=" in body["links"]["counts.json"]
    assert body["links_expire_at"]
    assert set(body["timestamps"]) == {"uploaded", "ocr_completed", "counted", "notified"}
    assert "access_token_sha256" not in body
    assert TOKEN_SHA not in response["body"]

    # A token in the URL is not accepted (URLs end up in logs and histories).
    by_query = handlers.api(http_get(DOC, query={"token": TOKEN}), lambda_context(FUNCTION))
    assert is_not_found(by_query)

    # Refusals are indistinguishable from an unknown document.
    assert is_not_found(handlers.api(http_get(DOC), lambda_context(FUNCTION)))
    wrong = http_get(DOC, headers={"authorization": "Bearer nope"})
    assert is_not_found(handlers.api(wrong, lambda_context(FUNCTION)))
    unknown = http_get("doc-unknown-000000", headers={"authorization": f"Bearer {TOKEN}"})
    assert is_not_found(handlers.api(unknown, lambda_context(FUNCTION)))
    assert handlers.api(http_get(DOC, method="POST"), lambda_context(FUNCTION))["statusCode"] == 404

    # Stored once per document, version counts real changes only (duplicates wrote nothing).
    item = stack.item(DOC)
    assert item["stage"] == {"S": "notified"}
    assert item["version"] == {"N": "4"}
    assert int(item["expires_at"]["N"]) == int((at(3) + timedelta(days=30)).timestamp())
    assert RECIPIENT.ciphertext not in json.dumps(item)

    out = capsys.readouterr()
    assert TOKEN not in out.out + out.err


def test_bad_messages_succeed_and_only_transient_failures_are_retried(stack, monkeypatch, capsys):
    good, throttled = lifecycle()[0], lifecycle("doc-throttled-000001")[0]
    stack.publish(good, throttled)
    stack.put_raw("ocrpipe.translate", "DocumentTranslated", {"document_id": DOC})  # newer type
    stack.put_raw("ocrpipe.ingest", "DocumentUploaded", {"document_id": DOC})  # breaks contract
    stack.put_raw("ocrpipe.status", "StatusChanged", {"document_id": DOC})  # its own, if ever
    stack.put_raw("aws.s3", "Object Created", {"bucket": {"name": "x"}})  # not routed at all
    batch = stack.receive_batch()
    assert len(batch["Records"]) == 5
    garbage = dict(batch["Records"][0], messageId="not-json", body="{not json")
    batch["Records"].append(garbage)

    real_client = aws.client("dynamodb")

    class ThrottlingDynamoDB:
        def __getattr__(self, name: str) -> Any:
            return getattr(real_client, name)

        def put_item(self, **kwargs: Any) -> Any:
            if kwargs["Item"]["pk"]["S"] == "doc#doc-throttled-000001":
                raise ClientError(
                    {"Error": {"Code": "ProvisionedThroughputExceededException"}}, "PutItem"
                )
            return real_client.put_item(**kwargs)

    monkeypatch.setattr(
        handlers,
        "_store",
        lambda: StatusStore(ThrottlingDynamoDB(), TABLE),  # type: ignore[arg-type]
    )
    response = handlers.on_event(batch, lambda_context(FUNCTION))

    throttled_ids = [
        r["messageId"] for r in batch["Records"] if "doc-throttled-000001" in r["body"]
    ]
    assert response == {"batchItemFailures": [{"itemIdentifier": throttled_ids[0]}]}
    assert stack.item(DOC)["stage"] == {"S": "uploaded"}
    # A batch in which every record fails transiently is reported, not raised.
    only_throttled = {"Records": [r for r in batch["Records"] if r["messageId"] in throttled_ids]}
    assert handlers.on_event(only_throttled, lambda_context(FUNCTION)) == response

    out = capsys.readouterr().out
    emitted = [json.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert len(emitted) == 2  # one flush per invocation
    assert [m.get("EventsRetried") for m in emitted] == [[1.0], [1.0]]
    counts = {k: emitted[0].get(k) for k in ("EventsApplied", "IgnoredEvents", "InvalidEvents")}
    assert counts == {"EventsApplied": [1.0], "IgnoredEvents": [2.0], "InvalidEvents": [1.0]}
    assert emitted[0]["UnreadableEvents"] == [1.0]


def test_concurrent_writers_both_land(stack):
    uploaded, ocr_done, counted, _ = lifecycle()
    other_writer = StatusStore(aws.client("dynamodb"), TABLE)
    other_writer.apply(uploaded)
    real_client = aws.client("dynamodb")
    sleeps: list[float] = []

    class InterleavingDynamoDB:
        """Lets the other writer commit between this writer's read and its write, once."""

        def __init__(self) -> None:
            self.interleaved = False

        def __getattr__(self, name: str) -> Any:
            return getattr(real_client, name)

        def get_item(self, **kwargs: Any) -> Any:
            read = real_client.get_item(**kwargs)
            if not self.interleaved:
                self.interleaved = True
                other_writer.apply(counted)
            return read

    store = StatusStore(InterleavingDynamoDB(), TABLE, sleep=sleeps.append)  # type: ignore[arg-type]
    record = store.apply(ocr_done)

    assert len(sleeps) == 1  # the first write lost the race and was redone
    assert record.stage is Stage.COUNTED
    assert set(record.timestamps) == {Stage.UPLOADED, Stage.OCR_COMPLETED, Stage.COUNTED}
    assert stack.item(DOC)["version"] == {"N": "3"}
    assert StatusStore(real_client, TABLE).get(DOC, consistent=True) == record


def test_expired_records_are_not_served(stack, monkeypatch):
    monkeypatch.setenv("OCRPIPE_STATUS_RETENTION_DAYS", "1")
    old = lifecycle()[0].model_copy(update={"occurred_at": NOW - timedelta(days=2)})
    stack.publish(old)
    stack.drain()
    assert stack.item(DOC)["stage"] == {"S": "uploaded"}  # TTL deletes lazily
    authorised = http_get(DOC, headers={"authorization": f"Bearer {TOKEN}"})
    assert is_not_found(handlers.api(authorised, lambda_context(FUNCTION)))


def _token_pair(doc: str) -> tuple[str, str]:
    token = "tok-" + uuid.uuid4().hex
    return token, hashlib.sha256(token.encode()).hexdigest()


def _lifecycle_with_token(doc: str, token_sha: str, start: float) -> list[events.DomainEvent]:
    evts = lifecycle(doc)
    first = evts[0].model_copy(update={"access_token_sha256": token_sha, "occurred_at": at(start)})
    return [first, *evts[1:]]


def test_documents_are_listed_for_the_tokens_presented(stack):
    older, newer, other = "doc-older-00000001", "doc-newer-00000002", "doc-other-00000003"
    tokens = {}
    for start, doc in ((0.0, older), (10.0, newer), (20.0, other)):
        token, sha = _token_pair(doc)
        tokens[doc] = token
        for event in _lifecycle_with_token(doc, sha, start):
            stack.publish(event)
    stack.drain()

    def listed(header: str | None) -> dict[str, Any]:
        headers = {"authorization": header} if header is not None else {}
        event = http_request("/documents", "GET /documents", headers=headers)
        return handlers.api(event, lambda_context(FUNCTION))

    response = listed(f"Bearer {tokens[older]}, {tokens[newer]},tok-unknown-1234")
    assert response["statusCode"] == 200
    body = json.loads(response["body"])
    assert [d["document_id"] for d in body["documents"]] == [newer, older]  # newest first
    assert all(d["stage"] == "notified" and d["links"] for d in body["documents"])
    assert other not in response["body"]

    assert json.loads(listed(None)["body"]) == {"documents": []}
    assert json.loads(listed("Bearer tok-nobody-000")["body"]) == {"documents": []}
    too_many = listed("Bearer " + ",".join(f"tok-{i:04d}" for i in range(101)))
    assert too_many["statusCode"] == 400
    assert json.loads(too_many["body"])["error"] == "too_many_tokens"


def test_api_links_serve_the_files_until_they_expire(stack, monkeypatch):
    """The local runtime's kind of link: signed by the status API, served by it."""
    monkeypatch.setenv("OCRPIPE_LINKS", "api")
    monkeypatch.setenv("OCRPIPE_LINK_SECRET", "k" * 64)
    s3 = aws.client("s3")
    ocr_bucket, wc_bucket = (
        f"ocrpipe-test-{svc}-123456789012-us-east-1" for svc in ("ocr", "wordcount")
    )
    for bucket in (ocr_bucket, wc_bucket):
        s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=ocr_bucket, Key=f"text/{SHA}.txt", Body="Olá mundo".encode())
    s3.put_object(Bucket=wc_bucket, Key=f"results/{DOC}.json", Body=b'{"counts": {}}')
    csv_body = "\ufeffword,count\r\nolá,1\r\n".encode()
    s3.put_object(Bucket=wc_bucket, Key=f"results/{DOC}.csv", Body=csv_body)
    evts = lifecycle()
    evts[2] = evts[2].model_copy(
        update={"result_csv_uri": f"s3://{wc_bucket}/results/{DOC}.csv", "characters": 120}
    )
    stack.publish(*evts)
    stack.drain()

    got = handlers.api(
        http_get(DOC, headers={"authorization": f"Bearer {TOKEN}", "x-forwarded-proto": "https"}),
        lambda_context(FUNCTION),
    )
    body = json.loads(got["body"])
    assert body["characters"] == 120
    assert sorted(body["links"]) == ["counts.csv", "counts.json", "text.txt"]
    link = body["links"]["counts.csv"]
    assert link.startswith(f"https://api.example.test/documents/{DOC}/files/counts.csv?")

    def fetch(url: str) -> dict[str, Any]:
        parts = urllib.parse.urlsplit(url)
        name = parts.path.rsplit("/", 1)[1]
        event = http_request(
            parts.path,
            "GET /documents/{document_id}/files/{name}",
            {"document_id": DOC, "name": name},
            query=dict(urllib.parse.parse_qsl(parts.query)),
        )
        return handlers.api(event, lambda_context(FUNCTION))

    served = fetch(link)  # no Authorization: the link is the permission
    assert served["statusCode"] == 200
    assert served["body"] == csv_body.decode("utf-8")
    assert served["headers"]["Content-Type"] == "text/csv; charset=utf-8"
    assert (
        "filename*=UTF-8''R%C3%A9sum%C3%A9%20scan%201.counts.csv"
        in (served["headers"]["Content-Disposition"])
    )
    assert fetch(body["links"]["text.txt"])["body"] == "Olá mundo"

    # Another file, a changed signature, or a file that is gone: the same 404.
    assert is_not_found(fetch(link.replace("counts.csv?", "counts.json?")))
    assert is_not_found(fetch(link[:-4] + "0000"))
    s3.delete_object(Bucket=ocr_bucket, Key=f"text/{SHA}.txt")
    assert fetch(body["links"]["text.txt"])["statusCode"] == 404

    # After its expiry the link says so.
    expires = int(dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))["expires"])
    monkeypatch.setattr(status_api.time, "time", lambda: expires + 1)
    expired = fetch(link)
    assert expired["statusCode"] == 410
    assert json.loads(expired["body"])["error"] == "link_expired"


def test_the_api_describes_itself_as_openapi(stack):
    event = http_request("/openapi.json", "GET /openapi.json")
    response = handlers.api(event, lambda_context(FUNCTION))
    assert response["statusCode"] == 200
    schema = json.loads(response["body"])
    assert schema["openapi"].startswith("3.")
    assert set(schema["paths"]) == {
        "/documents",
        "/documents/{document_id}",
        "/documents/{document_id}/files/{name}",
    }
    one = schema["paths"]["/documents/{document_id}"]["get"]
    assert one["security"] == [{"bearer": []}]
    assert "DocumentView" in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert handlers.openapi() == schema
