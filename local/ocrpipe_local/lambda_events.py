"""Lambda-shaped inputs: the SQS batch event, the HTTP API (payload v2) event, the context.

These mirror what AWS Lambda hands a function, so the services' handlers run unchanged under
the local runtime. Pure functions: unit-testable without the emulator.
"""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from aws_lambda_powertools.utilities.typing import LambdaContext

DEFAULT_MEMORY_MB = 1024

#: Content types whose bodies API Gateway passes as text (everything else is base64).
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "application/javascript",
)


def sqs_lambda_event(
    messages: Sequence[Mapping[str, Any]], *, queue_arn: str, region: str
) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping builds from a ``ReceiveMessage`` result."""
    return {"Records": [sqs_record(m, queue_arn=queue_arn, region=region) for m in messages]}


def sqs_record(message: Mapping[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    body = str(message.get("Body", ""))
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": body,
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(body.encode()).hexdigest(),  # noqa: S324
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def _lambda_message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    # ReceiveMessage uses StringValue/BinaryValue/DataType; Lambda's records use camelCase.
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [
            base64.b64encode(b).decode() for b in value.get("BinaryListValues", [])
        ],
        "dataType": value.get("DataType", "String"),
    }


class InvalidBatchResponseError(ValueError):
    """The handler's partial batch response is malformed: Lambda fails the whole batch."""


def failed_message_ids(response: object, message_ids: Iterable[str]) -> set[str]:
    """Which messages of a batch failed, by Lambda's ``ReportBatchItemFailures`` rules.

    A ``None``/empty response or an empty/``None`` ``batchItemFailures`` means every record
    succeeded. An item with a missing/empty identifier, or one naming a message that was not in
    the batch, makes Lambda treat the whole batch as failed (raised here as
    :class:`InvalidBatchResponseError`).
    """
    ids = set(message_ids)
    if response is None or response == {}:
        return set()
    if not isinstance(response, Mapping):
        return set()  # not a partial batch response: Lambda counts the batch as successful
    failures = response.get("batchItemFailures")
    if not failures:
        return set()
    if not isinstance(failures, list):
        raise InvalidBatchResponseError("batchItemFailures is not a list")
    failed: set[str] = set()
    for item in failures:
        identifier = item.get("itemIdentifier") if isinstance(item, Mapping) else None
        if not isinstance(identifier, str) or not identifier:
            raise InvalidBatchResponseError(f"invalid batch item failure {item!r}")
        if identifier not in ids:
            raise InvalidBatchResponseError(f"batch item failure names unknown id {identifier!r}")
        failed.add(identifier)
    return failed


class LocalLambdaContext(LambdaContext):
    """A Lambda context object whose remaining time counts down from a deadline."""

    def __init__(
        self,
        function_name: str,
        *,
        timeout_s: float,
        account: str,
        region: str,
        memory_limit_in_mb: int = DEFAULT_MEMORY_MB,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._function_name = function_name
        self._function_version = "$LATEST"
        self._invoked_function_arn = f"arn:aws:lambda:{region}:{account}:function:{function_name}"
        self._memory_limit_in_mb = memory_limit_in_mb
        self._aws_request_id = str(uuid.uuid4())
        self._log_group_name = f"/aws/lambda/{function_name}"
        day = datetime.now(UTC).strftime("%Y/%m/%d")
        self._log_stream_name = f"{day}/[$LATEST]{uuid.uuid4().hex}"
        self._tenant_id = None
        self._clock = clock
        self._deadline = clock() + timeout_s

    def get_remaining_time_in_millis(self) -> int:  # type: ignore[override]
        return max(0, int((self._deadline - self._clock()) * 1000))


def is_text_content_type(content_type: str) -> bool:
    ct = content_type.split(";", 1)[0].strip().lower()
    return ct.startswith(_TEXT_TYPES) or ct.endswith(("+json", "+xml"))


def http_api_event(
    *,
    method: str,
    raw_path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    route_key: str,
    path_parameters: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    account: str = "123456789012",
) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0.

    Header names are lower-cased and repeated headers joined with commas (cookies go to
    ``cookies``), as API Gateway does. Text bodies are passed as-is, others base64-encoded.
    """
    merged: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        merged[key] = f"{merged[key]},{value}" if key in merged else value
    now = datetime.now(UTC)
    host = merged.get("host", "127.0.0.1")
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": merged,
        "requestContext": {
            "accountId": account,
            "apiId": api_id,
            "domainName": host,
            "domainPrefix": host.split(".", 1)[0],
            "http": {
                "method": method.upper(),
                "path": raw_path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": merged.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": route_key,
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if raw_query:
        params: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            params[key] = f"{params[key]},{value}" if key in params else value
        event["queryStringParameters"] = params
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        if is_text_content_type(merged.get("content-type", "")):
            try:
                event["body"] = body.decode("utf-8")
            except UnicodeDecodeError:
                event["body"] = base64.b64encode(body).decode()
                event["isBase64Encoded"] = True
        else:
            event["body"] = base64.b64encode(body).decode()
            event["isBase64Encoded"] = True
    return event


class HttpResponse:
    """A handler's result turned into what API Gateway would send back."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body


def http_response(result: object) -> HttpResponse:
    """Interpret a payload-v2 handler result like API Gateway does.

    A dict with ``statusCode`` is a full response; anything else is serialised as a 200 JSON
    body.
    """
    if isinstance(result, Mapping) and "statusCode" in result:
        status = int(result["statusCode"])
        headers = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        for name, values in (result.get("multiValueHeaders") or {}).items():
            headers.extend((str(name), str(v)) for v in values)
        headers.extend(("Set-Cookie", str(c)) for c in result.get("cookies") or [])
        raw = result.get("body")
        if raw is None:
            body = b""
        elif result.get("isBase64Encoded"):
            body = base64.b64decode(str(raw))
        else:
            body = str(raw).encode("utf-8")
        return HttpResponse(status, headers, body)
    if isinstance(result, str):
        return HttpResponse(200, [("Content-Type", "application/json")], result.encode())
    payload = json.dumps(result).encode()
    return HttpResponse(200, [("Content-Type", "application/json")], payload)
