"""How a process of the one-machine runtime reaches the emulator: loopback, never a proxy,
dummy credentials, never real ones.

Light on purpose (no moto, no boto3): a command that attaches to a running ``ocrpipe up``
needs these and nothing of the emulator itself, and starts faster without it.
"""

from __future__ import annotations

import os

LOOPBACK = "127.0.0.1"
REGION = "us-east-1"
#: moto's default account; resource names and ARNs in the emulator use it.
ACCOUNT = "123456789012"

#: The emulator accepts any credentials; these dummy ones make sure no real ones are used.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

#: Variables that could make boto3 find real credentials or another endpoint; removed.
_CREDENTIAL_VARS = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_CONFIG_FILE",
)


def point_environment_at(endpoint: str) -> dict[str, str | None]:
    """Set the AWS variables for the emulator; returns the previous values to restore."""
    updates: dict[str, str | None] = {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": DUMMY_CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": DUMMY_CREDENTIALS["aws_secret_access_key"],
        "AWS_EC2_METADATA_DISABLED": "true",
        # Loopback must never go through a proxy (boto3 and requests both honour these).
        "NO_PROXY": _with_loopback(os.environ.get("NO_PROXY", "")),
        "no_proxy": _with_loopback(os.environ.get("no_proxy", "")),
    }
    updates.update(dict.fromkeys(_CREDENTIAL_VARS))
    return apply_environment(updates)


def loopback_without_proxy() -> dict[str, str | None]:
    """Make boto3 and requests in this process reach loopback directly, never through the
    machine's proxy; returns the previous values."""
    return apply_environment(
        {
            "NO_PROXY": _with_loopback(os.environ.get("NO_PROXY", "")),
            "no_proxy": _with_loopback(os.environ.get("no_proxy", "")),
        }
    )


def apply_environment(updates: dict[str, str | None]) -> dict[str, str | None]:
    """Set (or, for ``None``, unset) variables; returns their previous values."""
    previous: dict[str, str | None] = {}
    for name, value in updates.items():
        previous[name] = os.environ.get(name)
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return previous


def _with_loopback(current: str) -> str:
    hosts = [h for h in current.split(",") if h]
    for host in (LOOPBACK, "localhost"):
        if host not in hosts:
            hosts.append(host)
    return ",".join(hosts)
