"""Fault plans (``ocrpipe_local.faults``) and what a queue worker does with them, on a fake
SQS client: each fault kind on its own, decided the same way for the same message."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import boto3
import botocore.handlers
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError

from ocrpipe_local import faults
from ocrpipe_local.workers import QueueWorker, WorkerKilled, WorkerSpec


@pytest.fixture(autouse=True)
def no_plan_after() -> Iterator[None]:
    yield
    faults.install(None)


def messages(n: int, receive_count: int = 1) -> list[dict[str, Any]]:
    return [
        {
            "MessageId": f"m{i}",
            "ReceiptHandle": f"r{i}",
            "Body": "{}",
            "Attributes": {"ApproximateReceiveCount": str(receive_count)},
        }
        for i in range(n)
    ]


# -- plans ---------------------------------------------------------------------------------------


def test_a_profile_is_read_and_settings_after_it_override_it() -> None:
    plan = faults.parse_plan("soak,seed=7,duplicate=0.5,aws[notify:ses.*]=0.9")
    assert plan.name == "soak"
    assert plan.seed == 7
    assert plan.rate("duplicate", "notify") == 0.5
    assert plan.rate("late", "ocr") == 0.05  # from the profile
    assert plan.rate("kill", "ocr") == 0.0  # the profile's own exception
    assert plan.rate("kill", "notify") == 0.01
    assert plan.rate("aws", "notify:ses.SendRawEmail") == 0.9  # the most specific rule wins
    assert plan.rate("aws", "notify:s3.GetObject") == 0.02
    assert "aws[notify:ses.*]=0.9" in plan.describe()


def test_targets_are_patterns_on_service_and_operation() -> None:
    plan = faults.parse_plan("aws[*:dynamodb.*]=0.3,crash[o*]=0.2")
    assert plan.name == "custom"
    assert plan.rate("aws", "ocr:dynamodb.PutItem") == 0.3
    assert plan.rate("aws", "ocr:s3.PutObject") == 0.0
    assert plan.rate("crash", "ocr") == 0.2
    assert plan.rate("crash", "notify") == 0.0


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("hurricane", "unknown fault profile 'hurricane'"),
        ("aws=2", "between 0 and 1"),
        ("late=often", "between 0 and 1"),
        ("flood=0.1", "unknown fault 'flood'"),
        ("aws[ocr]=0.1", "aws[SERVICE:api.Operation]"),
        ("crash[ocr=0.1", "crash[TARGET]"),
        ("seed=x", "whole number"),
        ("aws=0.1,soak", "key=value"),
    ],
)
def test_a_plan_that_cannot_be_read_says_which_part(text: str, says: str) -> None:
    with pytest.raises(faults.FaultPlanError, match=None) as caught:
        faults.parse_plan(text)
    assert says in str(caught.value)


def test_none_and_zero_rates_inject_nothing() -> None:
    assert not faults.parse_plan("none").active
    assert not faults.parse_plan("aws=0,late=0").active
    faults.install(faults.parse_plan("none"))
    assert faults.current is None
    assert faults.for_batch("ocr", messages(3)) == faults.BatchFaults()


def test_the_same_message_meets_the_same_faults_and_the_seed_changes_them() -> None:
    batch = messages(10)
    faults.install(faults.parse_plan("late=0.5,duplicate=0.5,crash=0.5,seed=1"))
    first, again = faults.for_batch("ocr", batch), faults.for_batch("ocr", batch)
    assert first == again
    assert faults.for_batch("ocr", messages(10, receive_count=2)) != first  # a redelivery
    faults.install(faults.parse_plan("late=0.5,duplicate=0.5,crash=0.5,seed=2"))
    assert faults.for_batch("ocr", batch) != first


# -- a worker under a plan -----------------------------------------------------------------------


class FakeSqs:
    def __init__(self) -> None:
        self.deleted: list[str] = []
        self.visibility: list[tuple[str, int]] = []

    def delete_message_batch(self, QueueUrl: str, Entries: list[dict[str, Any]]) -> None:
        self.deleted += [e["ReceiptHandle"] for e in Entries]

    def change_message_visibility_batch(
        self,
        QueueUrl: str,
        Entries: list[dict[str, Any]],
    ) -> None:
        self.visibility += [(e["ReceiptHandle"], e["VisibilityTimeout"]) for e in Entries]


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self.batches.append([r["messageId"] for r in event["Records"]])
        return {"batchItemFailures": []}


def worker(plan: str) -> tuple[QueueWorker, FakeSqs, Recorder]:
    faults.install(faults.parse_plan(plan))
    spec = WorkerSpec(
        consumer="echo",
        function_name="status-t-echo",
        queue_url="http://queue",
        queue_arn="arn:aws:sqs:us-east-1:123456789012:q",
        batch_size=10,
        visibility_timeout_s=30,
        region="us-east-1",
        account="123456789012",
        service="status",
    )
    sqs, handler = FakeSqs(), Recorder()
    return (
        QueueWorker(spec, handler, sqs, stop=threading.Event(), output=None),  # type: ignore[arg-type]
        sqs,
        handler,
    )


def test_without_faults_a_handled_batch_is_deleted() -> None:
    w, sqs, handler = worker("none")
    w.process(messages(3))
    assert handler.batches == [["m0", "m1", "m2"]]
    assert sqs.deleted == ["r0", "r1", "r2"]
    assert sqs.visibility == []


def test_duplicate_leaves_a_handled_message_to_be_delivered_again() -> None:
    w, sqs, handler = worker("duplicate=1")
    w.process(messages(2))
    assert handler.batches == [["m0", "m1"]]
    assert sqs.deleted == []
    assert sqs.visibility == [("r0", 0), ("r1", 0)]


def test_late_holds_messages_back_before_any_handler_sees_them() -> None:
    w, sqs, handler = worker("late=1")
    w.process(messages(2))
    assert handler.batches == []
    assert sqs.deleted == []
    assert [r for r, _ in sqs.visibility] == ["r0", "r1"]
    assert all(faults.LATE_S[0] <= s <= faults.LATE_S[1] for _, s in sqs.visibility)


def test_crash_runs_the_first_records_then_fails_the_whole_batch() -> None:
    w, sqs, handler = worker("crash=1")
    w.process(messages(4))
    ran = handler.batches[0] if handler.batches else []
    assert ran == ["m0", "m1", "m2", "m3"][: len(ran)]  # a prefix, maybe empty or all
    assert sqs.deleted == []
    assert sorted(r for r, _ in sqs.visibility) == ["r0", "r1", "r2", "r3"]  # all retried


def test_kill_ends_the_worker_holding_its_batch() -> None:
    w, sqs, _ = worker("kill=1")
    with pytest.raises(WorkerKilled):
        w.process(messages(3))
    assert sqs.deleted == []
    assert sqs.visibility == []  # in flight until the visibility timeout


def test_deliveries_that_met_a_fault_are_counted_per_consumer() -> None:
    before = faults.injected.snapshot()["faults"].get("duplicate:echo", 0)
    w, _, _ = worker("duplicate=1")
    w.process(messages(2))
    after = faults.injected.snapshot()
    assert after["share_of_deliveries"]["echo"] > 0
    assert after["faults"]["duplicate:echo"] == before + 2


# -- AWS calls -----------------------------------------------------------------------------------


@pytest.fixture
def s3() -> Any:
    """A client of an address nobody listens on: a call that is not failed by the plan fails
    to connect (``EndpointConnectionError``), one that is never leaves the process."""
    faults.register(botocore.handlers.BUILTIN_HANDLERS)
    return boto3.session.Session().client(
        "s3",
        region_name="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        aws_access_key_id="x",
        aws_secret_access_key="y",
        config=Config(retries={"total_max_attempts": 1}, connect_timeout=1),
    )


def test_aws_calls_of_a_handler_fail_as_the_sdk_raises_them(s3: Any) -> None:
    faults.install(faults.parse_plan("aws[ocr:s3.ListBuckets]=1"))
    seen = set()
    for i in range(12):
        with (
            faults.invocation("ocr", "ocr", f"m{i}", "1"),
            pytest.raises((ClientError, ConnectTimeoutError)) as caught,
        ):
            s3.list_buckets()
        error = caught.value
        seen.add(error.response["Error"]["Code"] if isinstance(error, ClientError) else "timeout")
    assert seen == {"ThrottlingException", "InternalError", "timeout"}


def test_calls_outside_a_handler_or_not_matched_are_left_alone(s3: Any) -> None:
    faults.install(faults.parse_plan("aws[ocr:s3.ListBuckets]=1"))
    with pytest.raises(EndpointConnectionError):
        s3.list_buckets()  # the runtime's own call: no invocation
    with faults.invocation("notify", "notify", "m0", "1"), pytest.raises(EndpointConnectionError):
        s3.list_buckets()  # another service
    with faults.invocation("ocr", "ocr", "m0", "1"), pytest.raises(EndpointConnectionError):
        s3.list_objects_v2(Bucket="b")  # another operation
