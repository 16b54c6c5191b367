"""ingest's S3 Batch Operations function (``on_batch_operation``) against moto.

Real S3 objects in an operator's bucket, the real bus with a capturing rule: each task is
checked like an upload and announced; the response is what Batch Operations expects.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest.mock import patch

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

import ocrpipe.aws
from ingest.backfill import backfill_document_id
from ingest.handlers import on_batch_operation
from ocrpipe import container
from ocrpipe_local.lambda_events import LocalLambdaContext
from tests import lambda_shapes

pytestmark = pytest.mark.integration

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
BUS = "ocrpipe-test"
SOURCE = "operator-scans"


def _context() -> LocalLambdaContext:
    return LocalLambdaContext(
        "ingest-test-batch", timeout_s=60, account="123456789012", region="us-east-1"
    )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "OCRPIPE_STAGE": "test",
        "OCRPIPE_BUS_NAME": BUS,
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "OCRPIPE_LOCAL_MODE"):
        monkeypatch.delenv(name, raising=False)
    container.cold_start()  # no client bound to another test's mock
    with mock_aws():
        s3 = boto3.client("s3")
        sqs = boto3.client("sqs")
        events = boto3.client("events")
        s3.create_bucket(Bucket=SOURCE)
        events.create_event_bus(Name=BUS)
        url = sqs.create_queue(QueueName="captured")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        events.put_rule(
            Name="capture",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": ["ocrpipe.ingest"]}),
        )
        events.put_targets(Rule="capture", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
        yield {"s3": s3, "sqs": sqs, "queue": url}


_published = lambda_shapes.drain_bodies


def _invoke(tasks: list[dict[str, Any]], **job: Any) -> dict[str, Any]:
    event = {
        "invocationSchemaVersion": "2.0",
        "invocationId": "inv-1",
        "job": {"id": "job-1", **job},
        "tasks": tasks,
    }
    return on_batch_operation(event, _context())


def _task(task_id: str, key: str) -> dict[str, Any]:
    return {"taskId": task_id, "s3BucketName": SOURCE, "s3Key": key, "s3VersionId": None}


def test_tasks_are_checked_announced_and_reported(aws):
    s3, sqs = aws["s3"], aws["sqs"]
    clean = (SAMPLES / "clean-scan.png").read_bytes()
    s3.put_object(Bucket=SOURCE, Key="2023/scan é 1.png", Body=clean)
    s3.put_object(Bucket=SOURCE, Key="2023/empty.png", Body=b"")
    s3.put_object(Bucket=SOURCE, Key="2023/notes.txt", Body=b"plain text")
    response = _invoke(
        [
            _task("t-ok", "2023/scan+%C3%A9+1.png"),  # URL-encoded, as manifests carry keys
            _task("t-empty", "2023/empty.png"),
            _task("t-text", "2023/notes.txt"),
            _task("t-missing", "2023/gone.png"),
            _task("t-folder", "2023/"),
            {"taskId": "t-nobucket", "s3Key": "x.png"},
        ],
        userArguments={"reocr": "true"},
    )
    assert response["invocationSchemaVersion"] == "2.0"
    assert response["invocationId"] == "inv-1"
    assert response["treatMissingKeysAs"] == "TemporaryFailure"
    results = {r["taskId"]: r for r in response["results"]}
    assert results["t-ok"]["resultCode"] == "Succeeded"
    etag = s3.head_object(Bucket=SOURCE, Key="2023/scan é 1.png")["ETag"]
    document_id = backfill_document_id(SOURCE, "2023/scan é 1.png", etag)
    assert results["t-ok"]["resultString"] == f"DocumentUploaded {document_id}"
    assert results["t-empty"]["resultCode"] == "PermanentFailure"
    assert "empty.png is empty (0 bytes)." in results["t-empty"]["resultString"]
    assert "is not a JPEG, PNG, TIFF or PDF file" in results["t-text"]["resultString"]
    assert results["t-missing"]["resultString"] == "missing: no such object"
    assert "folder" in results["t-folder"]["resultString"]
    assert results["t-nobucket"]["resultCode"] == "PermanentFailure"

    published = {e["detail"]["filename"]: e for e in _published(sqs, aws["queue"])}
    assert set(published) == {"scan é 1.png", "empty.png", "notes.txt"}
    uploaded = published["scan é 1.png"]
    assert uploaded["detail-type"] == "DocumentUploaded"
    assert uploaded["detail"]["document_id"] == document_id
    assert uploaded["detail"]["source_uri"] == f"s3://{SOURCE}/2023/scan é 1.png"
    assert uploaded["detail"]["keep_source"] is True
    assert uploaded["detail"]["reocr"] is True
    assert uploaded["detail"]["recipient"] is None
    assert published["empty.png"]["detail"]["reason_code"] == "empty_file"
    # The operator's objects are never touched.
    assert s3.list_objects_v2(Bucket=SOURCE)["KeyCount"] == 3

    # Running the job again announces the same document under the same id.
    again = _invoke([_task("t-ok", "2023/scan+%C3%A9+1.png")])
    assert again["results"][0]["resultString"] == f"DocumentUploaded {document_id}"
    [republished] = _published(sqs, aws["queue"])
    assert republished["detail"]["document_id"] == document_id
    assert republished["detail"]["reocr"] is False


def test_transient_and_permanent_s3_errors(aws):
    aws["s3"].put_object(Bucket=SOURCE, Key="a.png", Body=b"x")

    def throttled(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "GetObject")

    def denied(*args: Any, **kwargs: Any) -> Any:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "GetObject")

    s3 = ocrpipe.aws.client("s3")
    with patch.object(s3, "get_object", side_effect=throttled):
        [result] = _invoke([_task("t", "a.png")])["results"]
    assert result["resultCode"] == "TemporaryFailure"
    assert result["resultString"] == "GetObject: SlowDown"
    with patch.object(s3, "get_object", side_effect=denied):
        [result] = _invoke([_task("t", "a.png")])["results"]
    assert result["resultCode"] == "PermanentFailure"
    assert _published(aws["sqs"], aws["queue"]) == []


def test_an_unknown_schema_is_refused(aws):
    with pytest.raises(ValueError, match="invocationSchemaVersion"):
        on_batch_operation(
            {"invocationSchemaVersion": "9.9", "tasks": []},
            _context(),
        )
