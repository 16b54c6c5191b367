"""Which AWS failures are asked again and how often (``ocrpipe.aws``), which say the object
is not there, and the idempotency layer asking again for the write that ends an attempt
(``ocrpipe.idempotency``)."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
from botocore.exceptions import ClientError, ConnectTimeoutError, ReadTimeoutError

from ocrpipe import aws
from ocrpipe.idempotency import CompletingPersistenceLayer


def client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "x"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "AnyOperation",
    )


@pytest.mark.parametrize(
    "exc",
    [
        client_error("ThrottlingException", 400),
        client_error("ProvisionedThroughputExceededException", 400),
        client_error("SlowDown", 503),
        client_error("InternalError", 500),
        ConnectTimeoutError(endpoint_url="http://x"),
        ReadTimeoutError(endpoint_url="http://x"),
    ],
)
def test_throttling_5xx_and_connection_errors_are_transient(exc: BaseException) -> None:
    assert aws.is_transient(exc)


@pytest.mark.parametrize(
    "exc",
    [
        client_error("AccessDenied", 403),
        client_error("ConditionalCheckFailedException", 400),
        client_error("NoSuchKey", 404),
        ValueError("not an AWS error"),
    ],
)
def test_refusals_and_other_errors_are_not(exc: BaseException) -> None:
    assert not aws.is_transient(exc)


@pytest.mark.parametrize(
    ("code", "status"),
    [("NoSuchKey", 404), ("404", 404), ("NotFound", 404), ("NoSuchVersion", 404)],
)
def test_a_missing_object_is_not_found(code: str, status: int) -> None:
    assert aws.is_not_found(client_error(code, status))
    assert not aws.is_transient(client_error(code, status))


@pytest.mark.parametrize(
    "exc",
    [
        client_error("NoSuchBucket", 404),  # a wiring mistake, not a missing object
        client_error("ResourceNotFoundException", 400),  # a missing table
        client_error("AccessDenied", 403),
        client_error("SlowDown", 503),
        ConnectTimeoutError(endpoint_url="http://x"),
        KeyError("NoSuchKey"),
    ],
)
def test_other_failures_are_not_not_found(exc: BaseException) -> None:
    assert not aws.is_not_found(exc)


def test_a_transient_failure_is_asked_again_and_a_refusal_is_not() -> None:
    calls: list[str] = []

    @aws.retry_transient(attempts=4, max_wait_s=0.01)
    def flaky(answers: list[BaseException | None]) -> str:
        calls.append("call")
        answer = answers.pop(0)
        if answer is not None:
            raise answer
        return "done"

    assert flaky([client_error("InternalError", 500), client_error("Throttling", 400), None])
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(ClientError, match="AccessDenied"):
        flaky([client_error("AccessDenied", 403), None])
    assert len(calls) == 1
    calls.clear()
    with pytest.raises(ClientError, match="InternalError"):
        flaky([client_error("InternalError", 500)] * 4)
    assert len(calls) == 4  # then it gives up, with the last error


class FlakyDynamoDB:
    """``update_item``/``delete_item`` fail ``failures`` times (HTTP 500), then succeed."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[str] = []

    def _call(self, name: str) -> dict[str, Any]:
        self.calls.append(name)
        if self.failures:
            self.failures -= 1
            raise client_error("InternalError", 500)
        return {}

    def update_item(self, **_: Any) -> dict[str, Any]:
        return self._call("update_item")

    def delete_item(self, **_: Any) -> dict[str, Any]:
        return self._call("delete_item")


@pytest.mark.parametrize("method", ["_update_record", "_delete_record"])
def test_the_write_that_ends_an_attempt_survives_transient_failures(method: str) -> None:
    # Left failed, the record would stay INPROGRESS until the function's timeout, and the next
    # delivery after that would do the work (send the e-mail) again.
    client = FlakyDynamoDB(failures=2)
    layer = CompletingPersistenceLayer(table_name="t", boto3_client=client)
    record = DataRecord(idempotency_key="k", status="COMPLETED", response_data="{}")
    getattr(layer, method)(record)
    assert client.calls == [method.removeprefix("_").replace("record", "item")] * 3


def test_a_call_is_repeated_until_done_with_doubling_delays() -> None:
    answers: list[str | None] = [None, None, None, "done"]
    sleeps: list[float] = []
    done = aws.retry_until_done(
        lambda: answers.pop(0), attempts=5, first_delay_s=0.1, sleep=sleeps.append
    )
    assert done == "done"
    assert sleeps == pytest.approx([0.1, 0.2, 0.4])


def test_unfinished_after_every_attempt_is_none_with_no_sleep_after_the_last() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def never() -> None:
        calls.append(1)

    assert (
        aws.retry_until_done(
            never, attempts=5, first_delay_s=0.02, max_delay_s=0.05, sleep=sleeps.append
        )
        is None
    )
    assert len(calls) == 5
    assert sleeps == pytest.approx([0.02, 0.04, 0.05, 0.05])


def test_jitter_scales_each_delay_within_its_range() -> None:
    sleeps: list[float] = []
    aws.retry_until_done(
        lambda: None,
        attempts=40,
        first_delay_s=0.02,
        max_delay_s=0.5,
        jitter=(0.5, 1.0),
        sleep=sleeps.append,
    )
    full = [min(0.5, 0.02 * 2**n) for n in range(39)]
    assert all(d / 2 <= s <= d for s, d in zip(sleeps, full, strict=True))
    assert any(s < d for s, d in zip(sleeps, full, strict=True))  # some were jittered


def test_an_exception_is_not_retried() -> None:
    calls: list[int] = []
    sleeps: list[float] = []

    def refused() -> str | None:
        calls.append(1)
        raise client_error("ThrottlingException", 400)

    with pytest.raises(ClientError, match="ThrottlingException"):
        aws.retry_until_done(refused, attempts=5, first_delay_s=0.1, sleep=sleeps.append)
    assert (len(calls), sleeps) == (1, [])
