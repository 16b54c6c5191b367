"""The local runtime itself, with FAKE consumers defined here (not the four services).

A test topology (``OneMachineStack(topology=...)``) wires handlers from this module; they record
what they receive. One stack serves the module; each test uses its own document ids.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import threading
from collections import defaultdict
from typing import Any

import pytest
import requests

from ocrpipe.bus import EventPublisher
from ocrpipe.envelope import Envelope
from ocrpipe.events import DocumentUploaded, OcrCompleted, WordsCounted
from ocrpipe.topology import Topology, naming_rules
from ocrpipe_local.stack import OneMachineStack
from tests.waiting import until

pytestmark = pytest.mark.integration

_lock = threading.Lock()
#: consumer name -> list of (document_id, receive count, messageId)
CALLS: dict[str, list[tuple[str, int, str]]] = defaultdict(list)
S3_KEYS: list[str] = []
SHA = "a" * 64


def _record(consumer: str, event: dict[str, Any]) -> list[tuple[dict[str, Any], str, int]]:
    seen = []
    for record in event["Records"]:
        envelope = json.loads(record["body"])
        doc = envelope.get("detail", {}).get("document_id", "")
        count = int(record["attributes"]["ApproximateReceiveCount"])
        with _lock:
            CALLS[consumer].append((doc, count, record["messageId"]))
        seen.append((envelope, record["messageId"], count))
    return seen


def echo_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    assert context.get_remaining_time_in_millis() > 0
    for record in event["Records"]:
        assert record["eventSource"] == "aws:sqs"
        Envelope.from_sqs_body(record["body"]).expect(DocumentUploaded)
    _record("echo", event)
    return {"batchItemFailures": []}


def always_fail_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen = _record("always-fail", event)
    return {"batchItemFailures": [{"itemIdentifier": mid} for _, mid, _ in seen]}


def fail_first_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Fails, on its first delivery only, every record whose filename is 'flaky'."""
    failures = []
    for envelope, message_id, count in _record("partial", event):
        if envelope["detail"].get("filename") == "flaky" and count == 1:
            failures.append({"itemIdentifier": message_id})
    return {"batchItemFailures": failures}


def raising_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    seen = _record("raising", event)
    if any(count == 1 for _, _, count in seen):
        raise RuntimeError("transient: the whole batch must be retried")
    return {"batchItemFailures": []}


def s3_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    for record in event["Records"]:
        envelope = json.loads(record["body"])
        with _lock:
            S3_KEYS.append(envelope["detail"]["object"]["key"])
    return {"batchItemFailures": []}


def http_echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    print("this line must go to the functions log, not the terminal")
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-route": event["routeKey"]},
        "body": json.dumps({"event": event, "function": context.function_name}),
    }


def _consumer(handler: str, source: str, detail_type: str, **overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "service": "status",
        "handler": f"{__name__}.{handler}",
        "bus": "custom",
        "pattern": {"source": [source], "detail-type": [detail_type]},
        "batch_size": 10,
        "max_receive_count": 3,
        "visibility_timeout_s": 30,
        "max_concurrency": 2,
    }
    spec.update(overrides)
    return spec


def make_topology() -> Topology:
    names = naming_rules()
    return Topology.model_validate(
        {
            "names": names,
            "consumers": {
                "echo": _consumer("echo_handler", "ocrpipe.ingest", "DocumentUploaded"),
                "always-fail": _consumer(
                    "always_fail_handler", "ocrpipe.ocr", "OcrCompleted", max_receive_count=2
                ),
                "partial": _consumer("fail_first_handler", "ocrpipe.wordcount", "WordsCounted"),
                "raising": _consumer(
                    "raising_handler", "ocrpipe.test", "Raise", batch_size=1, max_receive_count=3
                ),
                "uploads": _consumer(
                    "s3_handler",
                    "aws.s3",
                    "Object Created",
                    bus="default",
                    pattern={
                        "source": ["aws.s3"],
                        "detail-type": ["Object Created"],
                        "detail": {
                            "bucket": {"name": ["ocrpipe-{stage}-ingest-{account}-{region}"]}
                        },
                    },
                ),
            },
            "http": {
                "echo-api": {
                    "service": "status",
                    "handler": f"{__name__}.http_echo",
                    "routes": ["POST /echo", "GET /items/{item_id}"],
                }
            },
            "storage": {"ingest": {"bucket": True, "table": True, "idempotency_table": True}},
        }
    )


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("state")
    stage = "t" + secrets.token_hex(3)
    with OneMachineStack(
        state_dir=state, stage=stage, topology=make_topology(), retry_backoff_s=0
    ) as running:
        yield running


def _doc() -> str:
    return "doc" + secrets.token_hex(8)


def _publisher(stack: OneMachineStack) -> EventPublisher:
    return EventPublisher(stack.client("events"), stack.resources.bus_name)


def _uploaded(doc: str, filename: str = "a.png") -> DocumentUploaded:
    return DocumentUploaded(
        document_id=doc,
        filename=filename,
        source_uri="s3://bucket-name/uploads/x/a.png",
        content_type="image/png",
        size_bytes=10,
        sha256=SHA,
        page_count=1,
    )


def _calls(consumer: str, doc: str) -> list[tuple[str, int, str]]:
    with _lock:
        return [c for c in CALLS[consumer] if c[0] == doc]


def test_environment_points_at_the_emulator_with_dummy_credentials(stack: OneMachineStack):
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint_url
    assert stack.endpoint_url.startswith("http://127.0.0.1:")
    assert os.environ["AWS_ACCESS_KEY_ID"] == "testing"
    assert "AWS_PROFILE" not in os.environ
    assert os.environ["OCRPIPE_BUS_NAME"] == f"ocrpipe-{stack.place.stage}"
    assert os.environ["OCRPIPE_LOCAL_MODE"] == "true"
    assert os.environ["OCRPIPE_UPLOADS_BUCKET"] == os.environ["OCRPIPE_INGEST_BUCKET"]
    assert os.environ["OCRPIPE_INGEST_TABLE"] == f"ocrpipe-{stack.place.stage}-ingest"
    assert os.environ["OCRPIPE_INGEST_IDEMPOTENCY_TABLE"].endswith("-ingest-idempotency")
    assert os.environ["OCRPIPE_NOTIFY_KEY_ID"] == f"alias/ocrpipe-{stack.place.stage}-notify"
    assert len(os.environ["OCRPIPE_WEBHOOK_SECRET"]) >= 32
    kms = stack.client("kms")
    blob = kms.encrypt(KeyId=os.environ["OCRPIPE_NOTIFY_KEY_ID"], Plaintext=b"x")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob)["Plaintext"] == b"x"
    ttl = stack.client("dynamodb").describe_time_to_live(
        TableName=os.environ["OCRPIPE_INGEST_TABLE"]
    )
    assert ttl["TimeToLiveDescription"]["AttributeName"] == "expires_at"


def test_events_reach_the_consumer_and_the_archive(stack: OneMachineStack):
    doc = _doc()
    _publisher(stack).publish(_uploaded(doc))
    assert until(lambda: len(_calls("echo", doc)) == 1)
    assert stack.archive is not None
    assert stack.archive.wait_until(lambda evs: any(e.document_id == doc for e in evs), timeout=10)
    archived = stack.archive.for_documents([doc])[doc]
    assert [e.detail_type for e in archived] == ["DocumentUploaded"]
    assert isinstance(archived[0].event(), DocumentUploaded)
    lines = (stack.state_dir / "archive.jsonl").read_text(encoding="utf-8").splitlines()
    assert any(json.loads(line)["envelope"]["detail"]["document_id"] == doc for line in lines)


def test_wait_for_returns_when_the_pipeline_outcome_arrives(stack: OneMachineStack):
    doc = _doc()
    counted = WordsCounted(
        document_id=doc,
        text_uri="s3://bucket-name/t.txt",
        result_uri="s3://bucket-name/r.json",
        total_words=1,
        unique_words=1,
        top_words=[],
        word_rule_version="1",
    )
    _publisher(stack).publish(_uploaded(doc), counted)
    # No deadline: only the outcome can end this wait (a wait that never ends fails the test
    # by pytest's timeout).
    events = stack.wait_for([doc], timeout=math.inf)
    assert "WordsCounted" in [e.detail_type for e in events[doc]]
    # A notification that can never come (nothing is queued or running any more) ends the
    # wait too: it does not need a deadline.
    events = stack.wait_for([doc], timeout=math.inf, notified=[doc])
    assert "NotificationSent" not in [e.detail_type for e in events[doc]]


def test_a_failing_record_goes_to_the_dlq_after_max_receives(stack: OneMachineStack):
    doc = _doc()
    ocr_done = OcrCompleted(
        document_id=doc,
        text_uri="s3://bucket-name/t.txt",
        sha256=SHA,
        engine="tesseract",
        page_count=1,
        mean_confidence=90,
        char_count=3,
    )
    _publisher(stack).publish(ocr_done)
    dlq = stack.resources.consumers["always-fail"].dlq.name
    assert until(lambda: stack.queue_depths()[dlq].visible == 1)
    calls = _calls("always-fail", doc)
    assert [count for _, count, _ in calls] == [1, 2]  # maxReceiveCount = 2
    sqs = stack.client("sqs")
    url = stack.resources.consumers["always-fail"].dlq.url
    body = sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"]
    assert json.loads(body)["detail"]["document_id"] == doc
    sqs.purge_queue(QueueUrl=url)


def test_partial_batch_failure_retries_only_the_failed_record(stack: OneMachineStack):
    docs = [_doc() for _ in range(3)]
    events = [
        WordsCounted(
            document_id=d,
            filename="flaky" if i == 1 else "fine",
            text_uri="s3://bucket-name/t.txt",
            result_uri="s3://bucket-name/r.json",
            total_words=1,
            unique_words=1,
            top_words=[],
            word_rule_version="1",
        )
        for i, d in enumerate(docs)
    ]
    _publisher(stack).publish(*events)
    assert until(lambda: len(_calls("partial", docs[1])) == 2)
    assert stack.drain(timeout=20)
    assert [c[1] for c in _calls("partial", docs[0])] == [1]
    assert [c[1] for c in _calls("partial", docs[2])] == [1]
    assert [c[1] for c in _calls("partial", docs[1])] == [1, 2]
    assert stack.queue_depths()[stack.resources.consumers["partial"].dlq.name].total == 0


def test_a_handler_that_raises_fails_its_batch_which_is_retried(stack: OneMachineStack):
    doc = _doc()
    stack.client("events").put_events(
        Entries=[
            {
                "Source": "ocrpipe.test",
                "DetailType": "Raise",
                "Detail": json.dumps({"document_id": doc}),
                "EventBusName": stack.resources.bus_name,
            }
        ]
    )
    assert until(lambda: len(_calls("raising", doc)) == 2)
    assert stack.drain(timeout=20)
    assert [c[1] for c in _calls("raising", doc)] == [1, 2]
    runtime_log = (stack.state_dir / "logs" / "runtime.log").read_text(encoding="utf-8")
    assert "handler raised" in runtime_log


def test_s3_object_created_reaches_a_default_bus_consumer(stack: OneMachineStack):
    s3 = stack.client("s3")
    bucket = os.environ["OCRPIPE_UPLOADS_BUCKET"]
    other = f"not-uploads-{stack.place.stage}"
    s3.create_bucket(Bucket=other)
    # Like the uploads bucket, the other one sends its events to the default bus: only the
    # consumer's pattern can keep them out.
    s3.put_bucket_notification_configuration(
        Bucket=other, NotificationConfiguration={"EventBridgeConfiguration": {}}
    )
    elsewhere = f"uploads/{_doc()}/elsewhere.png"
    key = f"uploads/{_doc()}/my scan é.png"
    s3.put_object(Bucket=other, Key=elsewhere, Body=b"\x89PNG")
    s3.put_object(Bucket=bucket, Key=key, Body=b"\x89PNG")
    assert until(lambda: key in S3_KEYS)
    # Whatever the bus routed has been handled once every queue is empty and every worker idle.
    assert stack.drain(timeout=20)
    with _lock:
        assert elsewhere not in S3_KEYS


def test_http_api_turns_requests_into_http_api_v2_events(stack: OneMachineStack):
    response = requests.post(
        f"{stack.api_url}/echo?a=1&a=2",
        json={"hello": "wörld"},
        headers={"X-Custom": "Yes"},
        timeout=10,
    )
    assert response.status_code == 201
    assert response.headers["x-route"] == "POST /echo"
    payload = response.json()
    event = payload["event"]
    assert payload["function"] == f"status-{stack.place.stage}-echo-api"
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /echo"
    assert event["rawPath"] == "/echo"
    assert event["rawQueryString"] == "a=1&a=2"
    assert event["queryStringParameters"] == {"a": "1,2"}
    assert event["headers"]["x-custom"] == "Yes"
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["isBase64Encoded"] is False
    assert json.loads(event["body"]) == {"hello": "wörld"}

    binary = requests.post(
        f"{stack.api_url}/echo",
        data=b"\x00\x01",
        headers={"Content-Type": "application/octet-stream"},
        timeout=10,
    ).json()["event"]
    assert binary["isBase64Encoded"] is True
    assert binary["body"] == "AAE="

    item = requests.get(f"{stack.api_url}/items/42", timeout=10).json()["event"]
    assert item["pathParameters"] == {"item_id": "42"}
    assert item["routeKey"] == "GET /items/{item_id}"

    missing = requests.post(f"{stack.api_url}/nope", timeout=10)
    assert missing.status_code == 404
    assert requests.get(f"{stack.api_url}/echo", timeout=10).status_code == 404


def test_queue_depths_cover_every_queue_and_dlq(stack: OneMachineStack):
    depths = stack.queue_depths()
    for consumer in stack.resources.consumers.values():
        assert consumer.queue.name in depths
        assert depths[consumer.dlq.name].is_dlq
    assert stack.drain(timeout=20)
    assert all(d.total == 0 for d in stack.queue_depths().values())


def test_only_one_stack_per_process(stack: OneMachineStack, tmp_path):
    with pytest.raises(RuntimeError, match="another OneMachineStack"):
        OneMachineStack(state_dir=tmp_path, stage="other", topology=make_topology()).start()
