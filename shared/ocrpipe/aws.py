"""boto3 clients, created once per (service, region, endpoint) and shared across threads.

boto3 clients are thread-safe; creating them is not, hence the lock. The endpoint comes from
the standard ``AWS_ENDPOINT_URL`` variable, which the local runtime points at its emulator.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import boto3
from botocore.config import Config

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
