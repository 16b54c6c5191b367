"""The webhook URL policy, one definition for ingest (at request time) and notify (at send time).

A webhook is an https URL to a public internet host. Plain http is allowed only to a loopback
host, and only under the one-machine runtime. Loopback, private, link-local (e.g. the instance
metadata address) and other non-global IP literals are refused, so a user cannot make the
service call into its own network. Host names are not resolved here.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from urllib.parse import urlsplit

MAX_WEBHOOK_URL_CHARS = 2048


class WebhookUrlError(ValueError):
    """The URL breaks the policy; the message says why and never repeats the URL."""


def _has_space_or_control(text: str) -> bool:
    return any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in text)


def is_loopback_host(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _is_non_global_ip(host: str) -> bool:
    try:
        return not ipaddress.ip_address(host).is_global
    except ValueError:
        return False  # a host name


def check_webhook_url(url: str, *, local_mode: bool) -> str:
    """``url`` itself when it is an acceptable webhook, else :class:`WebhookUrlError`."""
    if len(url) > MAX_WEBHOOK_URL_CHARS:
        raise WebhookUrlError(f"The webhook URL is longer than {MAX_WEBHOOK_URL_CHARS} characters.")
    if _has_space_or_control(url):
        raise WebhookUrlError("The webhook URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").rstrip(".")
        _ = parts.port  # raises ValueError on a bad port
    except ValueError:
        raise WebhookUrlError("The webhook URL is not a valid URL.") from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not host:
        raise WebhookUrlError("The webhook URL must be an https URL with a host name.")
    if local_mode and is_loopback_host(host):
        return url
    if scheme != "https":
        raise WebhookUrlError("The webhook URL must use https.")
    if is_loopback_host(host) or _is_non_global_ip(host):
        raise WebhookUrlError("The webhook URL must point at a public internet host.")
    return url
