"""The emulator answers this process' own calls without HTTP, from the same state."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import requests
from botocore.exceptions import EndpointConnectionError

from ocrpipe_local import emulator, loopback


@pytest.fixture
def endpoint() -> Iterator[str]:
    url = emulator.ensure_server()
    previous = loopback.point_environment_at(url)
    yield url
    loopback.apply_environment(previous)


def test_calls_to_the_own_server_skip_http_and_share_its_state(
    endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    served: list[str] = []
    stubber = emulator._in_process._stubber
    real = stubber.process_request

    def spy(request: Any) -> Any:
        served.append(request.url)
        return real(request)

    monkeypatch.setattr(stubber, "process_request", spy)
    # Fresh sessions: the handler is one of every botocore session's built-in handlers, so a
    # session made before the server started (boto3's default one, say) goes over HTTP.
    session = boto3.session.Session()
    sqs, s3 = session.client("sqs"), session.client("s3")
    queue = sqs.create_queue(QueueName="in-process-q")["QueueUrl"]
    assert queue.startswith(endpoint + "/")  # what the server would have answered
    sqs.send_message(QueueUrl=queue, MessageBody="hello")
    s3.create_bucket(Bucket="in-process-bucket")
    s3.put_object(Bucket="in-process-bucket", Key="a/b.bin", Body=b"\x00\x01bytes")
    assert len(served) == 4

    # The same state over HTTP, as another process (the AWS CLI) sees it.
    monkeypatch.setattr(emulator._in_process, "endpoint", None)
    over_http_sqs, over_http_s3 = boto3.client("sqs"), boto3.client("s3")
    (message,) = over_http_sqs.receive_message(QueueUrl=queue)["Messages"]
    assert message["Body"] == "hello"
    body = over_http_s3.get_object(Bucket="in-process-bucket", Key="a/b.bin")["Body"].read()
    assert body == b"\x00\x01bytes"
    assert len(served) == 4


def test_other_endpoints_are_left_alone(endpoint: str) -> None:
    s3 = boto3.client("s3", endpoint_url="http://127.0.0.1:9")  # nothing listens there
    with pytest.raises(EndpointConnectionError):
        s3.list_buckets()


def test_the_admin_api_is_refused(endpoint: str) -> None:
    """moto's dashboard would hand anyone on the machine every sent e-mail, or reset it all."""
    session = requests.Session()
    session.trust_env = False
    for path in ("/moto-api/", "/moto-api/data.json", "/moto-api/reset"):
        answer = (
            session.post(endpoint + path)
            if path.endswith("reset")
            else session.get(endpoint + path)
        )
        assert answer.status_code == 403, path
    # The emulated services still answer.
    assert boto3.client("sqs").list_queues()["ResponseMetadata"]["HTTPStatusCode"] == 200
