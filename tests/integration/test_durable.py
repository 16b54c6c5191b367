"""The emulator's state survives a restart on the same data directory (ocrpipe_local.durable).

Each test starts real stacks (the repository's topology) with no workers, so what is queued
stays queued, and checks what a second start on the same data directory finds.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import boto3
import pytest

from ocrpipe_local import durable, emulator
from ocrpipe_local.discovery import discover
from ocrpipe_local.errors import StackError
from ocrpipe_local.stack import OneMachineStack

pytestmark = pytest.mark.integration

NO_WORKERS = dict.fromkeys(discover().consumers, 0)


@contextmanager
def stack_on(data: Path, stage: str) -> Iterator[OneMachineStack]:
    with OneMachineStack(state_dir=data, stage=stage, workers=NO_WORKERS) as stack:
        yield stack


@contextmanager
def over_http() -> Iterator[None]:
    """Calls as another process makes them: through the server, not in-process."""
    endpoint, emulator._in_process.endpoint = emulator._in_process.endpoint, None
    try:
        yield
    finally:
        emulator._in_process.endpoint = endpoint


@pytest.fixture
def stage() -> str:
    return "t" + secrets.token_hex(3)


def _queue(stack: OneMachineStack, consumer: str) -> str:
    return stack.resources.consumers[consumer].dlq.url


def test_objects_items_messages_keys_and_secret_survive_a_restart(
    tmp_path: Path, stage: str
) -> None:
    with stack_on(tmp_path, stage) as first:
        p = first.resources
        s3, ddb, sqs, kms = (first.client(n) for n in ("s3", "dynamodb", "sqs", "kms"))
        bucket, table = p.buckets["wordcount"], p.tables["status"]
        s3.put_object(
            Bucket=bucket,
            Key="results/a.json",
            Body=b'{"total": 3}',
            ContentType="application/json",
            Metadata={"document-id": "a"},
        )
        s3.put_object(Bucket=bucket, Key="results/gone.json", Body=b"{}")
        s3.delete_object(Bucket=bucket, Key="results/gone.json")
        with over_http():  # the AWS CLI's way in
            http_s3 = boto3.client("s3")
            http_s3.put_object(Bucket=bucket, Key="results/b.txt", Body=b"over http")
            http_s3.create_bucket(Bucket=f"{stage}-my-archive")
            http_s3.put_object(Bucket=f"{stage}-my-archive", Key="scans/x.png", Body=b"png")
        ddb.put_item(TableName=table, Item={"pk": {"S": "doc#1"}, "n": {"N": "1"}})
        ddb.update_item(
            TableName=table,
            Key={"pk": {"S": "doc#1"}},
            UpdateExpression="SET n = n + :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )
        ddb.put_item(TableName=table, Item={"pk": {"S": "doc#2"}})
        ddb.delete_item(TableName=table, Key={"pk": {"S": "doc#2"}})
        queue = _queue(first, "wordcount")
        for body in ("one", "two", "three"):
            sqs.send_message(
                QueueUrl=queue,
                MessageBody=body,
                MessageAttributes={"kind": {"DataType": "String", "StringValue": body}},
            )
        (taken,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
        (deleted,) = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=1)["Messages"]
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=deleted["ReceiptHandle"])
        ciphertext = kms.encrypt(KeyId=p.notify_key_alias, Plaintext=b"reader@example.com")[
            "CiphertextBlob"
        ]
        secret = p.env["OCRPIPE_WEBHOOK_SECRET"]
    assert first.restored is not None
    assert first.restored.objects == 0

    with stack_on(tmp_path, stage) as second:
        p = second.resources
        s3, ddb, sqs, kms = (second.client(n) for n in ("s3", "dynamodb", "sqs", "kms"))
        assert second.restored is not None
        assert second.restored.objects == 3
        got = s3.get_object(Bucket=bucket, Key="results/a.json")
        assert got["Body"].read() == b'{"total": 3}'
        assert got["ContentType"] == "application/json"
        assert got["Metadata"] == {"document-id": "a"}
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
        assert keys == ["results/a.json", "results/b.txt"]
        archive = s3.get_object(Bucket=f"{stage}-my-archive", Key="scans/x.png")
        assert archive["Body"].read() == b"png"

        items = ddb.scan(TableName=table)["Items"]
        assert items == [{"pk": {"S": "doc#1"}, "n": {"N": "2"}}]

        # The message in flight at the stop is back at once, its receive count kept.
        received = sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            AttributeNames=["ApproximateReceiveCount"],
        )["Messages"]
        by_body = {m["Body"]: m for m in received}
        assert sorted(by_body) == sorted({"one", "two", "three"} - {deleted["Body"]})
        assert by_body[taken["Body"]]["MessageId"] == taken["MessageId"]
        assert by_body[taken["Body"]]["Attributes"]["ApproximateReceiveCount"] == "2"
        assert by_body[taken["Body"]]["MessageAttributes"]["kind"]["StringValue"] == taken["Body"]

        # What the stopped stack encrypted is readable, with the same alias.
        plain = kms.decrypt(CiphertextBlob=ciphertext)["Plaintext"]
        assert plain == b"reader@example.com"
        assert p.env["OCRPIPE_WEBHOOK_SECRET"] == secret


def test_what_a_request_changed_is_on_disk_before_it_returns(tmp_path: Path, stage: str) -> None:
    """The promise behind "nothing acknowledged is lost": read the file right after the call,
    while the stack still runs (as ``kill -9`` would leave it)."""
    with stack_on(tmp_path, stage) as stack:
        bucket = stack.resources.buckets["ocr"]
        queue = _queue(stack, "ocr")
        with over_http():
            boto3.client("s3").put_object(Bucket=bucket, Key="text/t.txt", Body=b"words")
            boto3.client("sqs").send_message(QueueUrl=queue, MessageBody="queued")
        with sqlite3.connect(tmp_path / durable.FILE_NAME) as db:
            objects = db.execute("SELECT bucket, key, body FROM objects").fetchall()
            messages = db.execute("SELECT queue, message FROM messages").fetchall()
        assert objects == [(bucket, "text/t.txt", b"words")]
        assert [(q, json.loads(m)["body"]) for q, m in messages] == [
            (queue.rsplit("/", 1)[1], "queued")
        ]


def test_a_restart_releases_the_claims_of_the_stopped_process(tmp_path: Path, stage: str) -> None:
    """An idempotency record "in progress" and a lease held by the dead process would make
    the redelivered message fail until they expired (and reach its DLQ first)."""
    with stack_on(tmp_path, stage) as first:
        p = first.resources
        ddb = first.client("dynamodb")
        idempotency, uploads = p.idempotency_tables["ocr"], p.tables["ingest"]
        ddb.put_item(
            TableName=idempotency,
            Item={"id": {"S": "ocr#busy"}, "status": {"S": "INPROGRESS"}},
        )
        ddb.put_item(
            TableName=idempotency,
            Item={"id": {"S": "ocr#done"}, "status": {"S": "COMPLETED"}},
        )
        ddb.put_item(
            TableName=uploads,
            Item={
                "pk": {"S": "upload#1"},
                "status": {"S": "processing"},
                "lease_until": {"N": "9999999999"},
            },
        )
    with stack_on(tmp_path, stage) as second:
        ddb = second.client("dynamodb")
        assert second.restored is not None
        assert second.restored.released_claims == 2
        kept = ddb.scan(TableName=idempotency)["Items"]
        assert kept == [{"id": {"S": "ocr#done"}, "status": {"S": "COMPLETED"}}]
        (upload,) = ddb.scan(TableName=uploads)["Items"]
        assert upload["lease_until"] == {"N": "0"}
        assert upload["status"] == {"S": "processing"}


def test_each_data_directory_has_its_own_state(tmp_path: Path, stage: str) -> None:
    one, two = tmp_path / "one", tmp_path / "two"

    def objects(stack: OneMachineStack) -> list[Any]:
        listed = stack.client("s3").list_objects_v2(Bucket=stack.resources.buckets["ocr"])
        return [o["Key"] for o in listed.get("Contents", [])]

    with stack_on(one, stage) as stack:
        stack.client("s3").put_object(Bucket=stack.resources.buckets["ocr"], Key="k", Body=b"1")
    with stack_on(two, stage) as stack:  # same process, same stage, same emulator
        assert objects(stack) == []
    with stack_on(one, stage) as stack:
        assert objects(stack) == ["k"]


def test_a_state_file_of_another_format_is_refused_with_a_reason(
    tmp_path: Path, stage: str
) -> None:
    with stack_on(tmp_path, stage):
        pass
    with sqlite3.connect(tmp_path / durable.FILE_NAME) as db:
        db.execute("UPDATE meta SET value = '999' WHERE name = 'schema'")
    with pytest.raises(StackError, match="another version of ocrpipe"):
        OneMachineStack(state_dir=tmp_path, stage=stage, workers=NO_WORKERS).start()


def test_a_damaged_state_file_is_refused_with_a_reason(tmp_path: Path, stage: str) -> None:
    (tmp_path / durable.FILE_NAME).write_bytes(b"not a database, " * 100)
    with pytest.raises(StackError, match=r"cannot use the state in .*not a database"):
        OneMachineStack(state_dir=tmp_path, stage=stage, workers=NO_WORKERS).start()
