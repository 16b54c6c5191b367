"""boto3 clients, created once per (service, region, endpoint) and shared across threads.

boto3 clients are thread-safe; creating them is not, hence the lock. The endpoint comes from
the standard ``AWS_ENDPOINT_URL`` variable, which the local runtime points at its emulator.
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import boto3
import tenacity
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

_lock = threading.Lock()
_clients: dict[tuple[str, str | None, str | None], Any] = {}

_CONFIG = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32)
#: Per-service additions. S3: botocore still presigns with the deprecated SigV2 by default
#: (``AWSAccessKeyId``/``signature`` fields), which newer regions reject; SigV4 everywhere.
#: Textract: one retry at most; throttling is retried with backoff through the queue
#: (``ocr.textract_jobs``), not by a handler sleeping in the SDK's retries.
_SERVICE_CONFIG = {
    "s3": Config(signature_version="s3v4"),
    "textract": Config(retries={"total_max_attempts": 2, "mode": "standard"}),
}


def client(service_name: str) -> Any:
    """A shared boto3 client. Typed callers annotate, e.g. ``s3: S3Client = client("s3")``."""
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    key = (service_name, region, endpoint)
    with _lock:
        found = _clients.get(key)
        if found is None:
            found = boto3.session.Session().client(
                service_name,  # type: ignore[call-overload]
                region_name=region,
                config=_CONFIG.merge(_SERVICE_CONFIG[service_name])
                if service_name in _SERVICE_CONFIG
                else _CONFIG,
            )
            _clients[key] = found
        return found


def forget_clients() -> None:
    """Drop the shared clients (the next :func:`client` call makes new ones): for a new
    environment, e.g. another endpoint or region (:func:`ocrpipe.container.cold_start`)."""
    with _lock:
        _clients.clear()


#: Error codes AWS answers for throttling (HTTP 400 or 429, so the status alone misses them).
THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottled",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "SlowDown",
        "LimitExceededException",
    }
)


def is_transient(exc: BaseException) -> bool:
    """An AWS failure that asking again may cure: throttling, a 5xx, a connection error or
    timeout (anything botocore raises below the HTTP answer)."""
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        code = exc.response.get("Error", {}).get("Code", "")
        return code in THROTTLING_CODES or status >= 500
    return isinstance(exc, BotoCoreError)


#: Error codes S3 answers when the object (or the version asked for) is not there: ``NoSuchKey``
#: from GET, a bare ``404`` (or ``NotFound``) from HEAD, which has no body to name the error,
#: and ``NoSuchVersion`` for a ``VersionId`` that does not exist. A missing *bucket*
#: (``NoSuchBucket``) or table (``ResourceNotFoundException``) is a wiring mistake, not this.
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound", "NoSuchVersion"})


def is_not_found(exc: BaseException) -> bool:
    """An AWS answer that the object asked for does not exist (:data:`NOT_FOUND_CODES`)."""
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "")) in NOT_FOUND_CODES
    return False


F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


def retry_transient(*, attempts: int = 6, max_wait_s: float = 4.0) -> Callable[[F], F]:
    """A decorator retrying a call on :func:`is_transient` failures, with jittered
    exponential backoff, for the few writes whose failure costs more than the retry: they
    come on top of the SDK's own retries of each call."""
    decorator: Callable[[F], F] = tenacity.retry(  # type: ignore[assignment]
        retry=tenacity.retry_if_exception(is_transient),
        stop=tenacity.stop_after_attempt(attempts),
        wait=tenacity.wait_exponential_jitter(multiplier=0.1, max=max_wait_s, jitter=0.1),
        reraise=True,
    )
    return decorator


def retry_until_done(
    attempt: Callable[[], T | None],
    *,
    attempts: int,
    first_delay_s: float,
    max_delay_s: float = float("inf"),
    jitter: tuple[float, float] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> T | None:
    """Call ``attempt`` until it returns something other than ``None`` (what it returns), at
    most ``attempts`` times; ``None`` when it never did. For calls that report unfinished work
    in their answer rather than raising (unprocessed items, a lost optimistic lock): the
    caller knows what to raise. An exception is not retried: it propagates at once.

    Between attempts it sleeps ``first_delay_s`` doubled each time, at most ``max_delay_s``,
    each delay multiplied by a uniform draw from ``jitter`` when given; not after the last."""
    exponential = tenacity.wait_exponential(multiplier=first_delay_s, max=max_delay_s)

    def wait(state: tenacity.RetryCallState) -> float:
        delay = exponential(state)
        return delay * random.uniform(*jitter) if jitter else delay

    retrying = tenacity.Retrying(
        stop=tenacity.stop_after_attempt(attempts),
        wait=wait,
        sleep=sleep,
        retry=tenacity.retry_if_result(lambda answer: answer is None),
        retry_error_callback=lambda _state: None,
    )
    done: T | None = retrying(attempt)
    return done
