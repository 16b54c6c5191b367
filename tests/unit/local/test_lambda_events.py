"""Shaping Lambda inputs: SQS batch events, HTTP API v2 events, contexts, batch responses."""

from __future__ import annotations

import base64
import hashlib

import pytest
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2, SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from ocrpipe_local.http_api import Route, parse_route
from ocrpipe_local.lambda_events import (
    InvalidBatchResponseError,
    LocalLambdaContext,
    failed_message_ids,
    http_api_event,
    http_response,
    sqs_lambda_event,
)
from ocrpipe_local.workers import resolve_handler, retry_delay_s

ARN = "arn:aws:sqs:us-east-1:123456789012:ocrpipe-local-ocr"


def _message(mid: str = "m1", body: str = '{"a": 1}', **extra):
    return {
        "MessageId": mid,
        "ReceiptHandle": f"rh-{mid}",
        "MD5OfBody": hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "Body": body,
        "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
        **extra,
    }


def test_sqs_event_has_lambdas_record_shape():
    event = sqs_lambda_event([_message("m1"), _message("m2")], queue_arn=ARN, region="us-east-1")
    assert [r["messageId"] for r in event["Records"]] == ["m1", "m2"]
    record = event["Records"][0]
    assert record == {
        "messageId": "m1",
        "receiptHandle": "rh-m1",
        "body": '{"a": 1}',
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1700000000000"},
        "messageAttributes": {},
        "md5OfBody": hashlib.md5(b'{"a": 1}').hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": ARN,
        "awsRegion": "us-east-1",
    }
    # powertools parses it like a real one
    parsed = next(iter(SQSEvent(event).records))
    assert parsed.attributes.approximate_receive_count == "2"
    assert parsed.event_source_arn == ARN


def test_sqs_message_attributes_use_lambdas_camel_case():
    message = _message(
        MessageAttributes={
            "kind": {"DataType": "String", "StringValue": "x"},
            "blob": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
        }
    )
    attrs = sqs_lambda_event([message], queue_arn=ARN, region="us-east-1")["Records"][0][
        "messageAttributes"
    ]
    assert attrs["kind"]["stringValue"] == "x"
    assert attrs["kind"]["dataType"] == "String"
    assert attrs["blob"]["binaryValue"] == base64.b64encode(b"\x00\xff").decode()


def test_md5_is_computed_when_missing():
    message = _message()
    del message["MD5OfBody"]
    record = sqs_lambda_event([message], queue_arn=ARN, region="us-east-1")["Records"][0]
    assert record["md5OfBody"] == hashlib.md5(b'{"a": 1}').hexdigest()  # noqa: S324


@pytest.mark.parametrize(
    "response",
    [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, "not a dict"],
)
def test_empty_or_null_partial_responses_mean_full_success(response):
    assert failed_message_ids(response, ["a", "b"]) == set()


def test_partial_response_names_the_failed_records():
    response = {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert failed_message_ids(response, ["a", "b", "c"]) == {"b"}


@pytest.mark.parametrize(
    "items",
    [
        [{"itemIdentifier": ""}],
        [{"itemIdentifier": None}],
        [{"wrongKey": "a"}],
        [{"itemIdentifier": "not-in-batch"}],
    ],
)
def test_malformed_partial_responses_fail_the_whole_batch(items):
    with pytest.raises(InvalidBatchResponseError):
        failed_message_ids({"batchItemFailures": items}, ["a", "b"])


def test_context_counts_down_and_is_a_powertools_context():
    now = [100.0]
    ctx = LocalLambdaContext(
        "ocr-local-ocr",
        timeout_s=2,
        account="123456789012",
        region="eu-west-1",
        clock=lambda: now[0],
    )
    assert isinstance(ctx, LambdaContext)
    assert ctx.function_name == "ocr-local-ocr"
    assert (
        ctx.invoked_function_arn == "arn:aws:lambda:eu-west-1:123456789012:function:ocr-local-ocr"
    )
    assert ctx.memory_limit_in_mb > 0
    assert ctx.aws_request_id
    assert ctx.get_remaining_time_in_millis() == 2000
    now[0] += 0.5
    assert ctx.get_remaining_time_in_millis() == 1500
    now[0] += 1.5
    assert ctx.get_remaining_time_in_millis() == 0
    now[0] += 1
    assert ctx.get_remaining_time_in_millis() == 0  # never negative
    expired = LocalLambdaContext("f", timeout_s=0, account="1", region="r")
    assert expired.get_remaining_time_in_millis() == 0


def test_http_api_event_is_payload_v2():
    event = http_api_event(
        method="post",
        raw_path="/uploads",
        raw_query="x=1&x=2&y=",
        headers=[
            ("Content-Type", "application/json"),
            ("X-Multi", "a"),
            ("x-multi", "b"),
            ("Cookie", "c1=1; c2=2"),
            ("Host", "127.0.0.1:8000"),
        ],
        body='{"filename": "ünï.png"}'.encode(),
        route_key="POST /uploads",
    )
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /uploads"
    assert event["headers"] == {
        "content-type": "application/json",
        "x-multi": "a,b",
        "host": "127.0.0.1:8000",
    }
    assert event["cookies"] == ["c1=1", "c2=2"]
    assert event["queryStringParameters"] == {"x": "1,2", "y": ""}
    assert event["requestContext"]["http"]["method"] == "POST"
    assert event["requestContext"]["http"]["path"] == "/uploads"
    assert event["body"] == '{"filename": "ünï.png"}'
    assert event["isBase64Encoded"] is False
    parsed = APIGatewayProxyEventV2(event)
    assert parsed.request_context.http.method == "POST"
    assert parsed.json_body == {"filename": "ünï.png"}


def test_binary_bodies_are_base64_and_empty_bodies_are_absent():
    binary = http_api_event(
        method="POST",
        raw_path="/x",
        raw_query="",
        headers=[("content-type", "image/png")],
        body=b"\x89PNG\x00",
        route_key="POST /x",
    )
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == b"\x89PNG\x00"
    empty = http_api_event(
        method="GET", raw_path="/x", raw_query="", headers=[], body=b"", route_key="GET /x"
    )
    assert "body" not in empty
    assert "queryStringParameters" not in empty


def test_http_response_full_and_shorthand():
    full = http_response(
        {
            "statusCode": 415,
            "headers": {"Content-Type": "application/json"},
            "cookies": ["a=b"],
            "body": '{"error": "unsupported_type"}',
        }
    )
    assert full.status == 415
    assert ("Set-Cookie", "a=b") in full.headers
    assert full.body == b'{"error": "unsupported_type"}'
    encoded = http_response({"statusCode": 200, "body": "AAE=", "isBase64Encoded": True})
    assert encoded.body == b"\x00\x01"
    shorthand = http_response({"ok": True})
    assert shorthand.status == 200
    assert shorthand.body == b'{"ok": true}'


def test_routes_match_method_and_path_parameters():
    method, path = parse_route("POST /uploads")
    route = Route(method, path, "f", lambda e, c: None)
    assert route.match("POST", "/uploads") == {}
    assert route.match("GET", "/uploads") is None
    assert route.match("POST", "/uploads/x") is None
    item = Route("GET", "/docs/{id}", "f", lambda e, c: None)
    assert item.match("GET", "/docs/abc") == {"id": "abc"}
    assert item.match("GET", "/docs/a/b") is None
    greedy = Route("ANY", "/files/{path+}", "f", lambda e, c: None)
    assert greedy.match("DELETE", "/files/a/b c") == {"path": "a/b c"}
    with pytest.raises(ValueError, match="METHOD /path"):
        parse_route("uploads")


def test_retry_backoff_grows_and_is_capped():
    assert [retry_delay_s(n, base_s=1, visibility_timeout_s=900) for n in (1, 2, 3, 4)] == [
        1,
        2,
        4,
        8,
    ]
    assert retry_delay_s(10, base_s=1, visibility_timeout_s=900) == 30
    assert retry_delay_s(10, base_s=1, visibility_timeout_s=5) == 5
    assert retry_delay_s(3, base_s=0, visibility_timeout_s=900) == 0


def test_resolve_handler_imports_dotted_paths_with_clear_errors():
    assert resolve_handler("json.dumps")({"a": 1}) == '{"a": 1}'  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="dotted"):
        resolve_handler("nodots")
    with pytest.raises(ValueError, match="not a callable"):
        resolve_handler("json.__doc__")
    with pytest.raises(ModuleNotFoundError):
        resolve_handler("no_such_module_xyz.handler")
