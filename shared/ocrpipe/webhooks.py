"""The webhook URL policy, one definition for ingest (at request time) and notify (at send time).

A webhook is an https URL to a public internet host, so that a user cannot make the service
call into its own network (the instance metadata address, a database on a private subnet).

**Hosts are read the way the HTTP client and the OS read them**, not the way a person does:

* an IPv6 literal (``[...]``) is that address; one with an IPv4 address inside it
  (IPv4-mapped ``::ffff:127.0.0.1``, 6to4, the NAT64 prefix ``64:ff9b::/96``) is judged by
  the IPv4 address too;
* a host whose last label is a number is an IPv4 literal by ``inet_aton`` rules, which is
  what ``getaddrinfo`` (and so every HTTP client here) applies: ``2130706433``, ``127.1``,
  ``0x7f000001`` and ``0177.0.0.1`` all mean 127.0.0.1, ``10.1`` is 10.0.0.1 and
  ``2852039166`` is 169.254.169.254. A numeric host ``inet_aton`` cannot read
  (``999.1.1.1``, ``foo.123``) is refused rather than left to a resolver;
* anything else is a host name (letters, digits, ``-``, ``_`` and dots, after IDNA).

An address is public unless it is loopback, private, link-local, multicast, reserved,
unspecified, otherwise not globally routable (``ipaddress``'s ``is_global``), or a cloud
metadata address (169.254.169.254, 169.254.170.2, fd00:ec2::254).

At request time (:func:`check_webhook_url`) a host name is not resolved: its answer may
change before the send. At send time :func:`resolve_webhook_target` resolves it with
``getaddrinfo`` and refuses it when ANY address it resolves to is not public; the caller
then connects to those checked addresses only (notify pins the connection, so a DNS answer
that changes in between cannot move it) while TLS still checks the certificate against the
host name.

**Loopback, under the one-machine runtime only.** ``allow_loopback=True`` is passed by the
services when ``OCRPIPE_LOCAL_MODE`` is set, which only the local runtime's provisioning
does: it lets a webhook go to a loopback host (``localhost``, 127.0.0.0/8, ``::1``), over
plain http too, so a developer's (and the e2e tests') receiver on 127.0.0.1 gets its
deliveries. Every other non-public address is refused even then.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

MAX_WEBHOOK_URL_CHARS = 2048

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: Cloud metadata endpoints (EC2/IMDS, ECS task metadata, EC2's IPv6 IMDS). All are
#: non-public anyway; named so that no change to the general rule can let them through.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.IPv4Address("169.254.169.254"),
        ipaddress.IPv4Address("169.254.170.2"),
        ipaddress.IPv6Address("fd00:ec2::254"),
    }
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
#: A label ``inet_aton`` reads as a number: decimal, octal (leading 0) or hex (0x...).
_NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)")
_HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")

NOT_PUBLIC = "The webhook URL must point at a public internet host."
NOT_A_URL = "The webhook URL is not a valid URL."


class WebhookUrlError(ValueError):
    """The URL breaks the policy; the message says why and never repeats the URL."""


def has_space_or_control(text: str) -> bool:
    """True when ``text`` holds white space or a control/format character (also used to
    check email addresses: the one definition)."""
    return any(ch.isspace() or unicodedata.category(ch)[0] == "C" for ch in text)


def host_address(host: str) -> IPAddress | None:
    """The IP address ``host`` (a URL's host, lower-case, without brackets) denotes, as
    ``getaddrinfo`` reads it; None for a host name; :class:`WebhookUrlError` for a numeric
    host that is no address."""
    if ":" in host:
        try:
            return ipaddress.IPv6Address(host)
        except ValueError:
            raise WebhookUrlError(NOT_A_URL) from None
    if not _NUMERIC_LABEL.fullmatch(host.rsplit(".", 1)[-1]):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        raise WebhookUrlError(NOT_A_URL) from None


def _and_embedded_ipv4(address: IPAddress) -> Iterator[IPAddress]:
    yield address
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            yield address.ipv4_mapped
        if address.sixtofour is not None:
            yield address.sixtofour
        if address in _NAT64:
            yield ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)


def is_public_address(address: IPAddress) -> bool:
    """May a webhook be delivered to ``address``?"""
    for candidate in _and_embedded_ipv4(address):
        if (
            candidate in METADATA_ADDRESSES
            or candidate.is_loopback
            or candidate.is_private
            or candidate.is_link_local
            or candidate.is_multicast
            or candidate.is_reserved
            or candidate.is_unspecified
            or not candidate.is_global
        ):
            return False
    return True


def _is_loopback(host: str, address: IPAddress | None) -> bool:
    if address is not None:
        return address.is_loopback
    return host == "localhost" or host.endswith(".localhost")


@dataclass(frozen=True)
class WebhookTarget:
    """A webhook URL as the HTTP client will use it."""

    scheme: Literal["https", "http"]
    #: The host name (IDNA, lower-case, no trailing dot) or IP literal (no brackets): what
    #: is resolved, sent as TLS SNI and ``Host``, and checked against the certificate.
    host: str
    port: int
    #: The request target: path (at least ``/``) and query; a fragment is never sent.
    path: str
    #: The address when the host is an IP literal (in any numeric form), else None.
    address: IPAddress | None
    allow_loopback: bool = False


@dataclass(frozen=True)
class WebhookDestination:
    """A target and the addresses, all checked, that a connection to it may use."""

    target: WebhookTarget
    addresses: tuple[IPAddress, ...]


def _host_of(hostname: str) -> str:
    host = hostname.rstrip(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise WebhookUrlError(NOT_A_URL) from None
    return host.lower()


def parse_webhook_url(url: str, *, allow_loopback: bool) -> WebhookTarget:
    """The target of ``url`` when it is an acceptable webhook, else :class:`WebhookUrlError`.
    Names are not resolved here (see :func:`resolve_webhook_target`)."""
    if len(url) > MAX_WEBHOOK_URL_CHARS:
        raise WebhookUrlError(f"The webhook URL is longer than {MAX_WEBHOOK_URL_CHARS} characters.")
    if has_space_or_control(url):
        raise WebhookUrlError("The webhook URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
        hostname = parts.hostname or ""
    except ValueError:
        raise WebhookUrlError(NOT_A_URL) from None
    scheme = parts.scheme.lower()
    if scheme not in ("https", "http") or not hostname.rstrip("."):
        raise WebhookUrlError("The webhook URL must be an https URL with a host name.")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("The webhook URL must not contain a user name or password.")
    host = _host_of(hostname)
    address = host_address(host)
    if address is None and not _HOST_NAME.fullmatch(host):
        raise WebhookUrlError(NOT_A_URL)
    loopback = _is_loopback(host, address)
    if not (allow_loopback and loopback):
        if scheme != "https":
            raise WebhookUrlError("The webhook URL must use https.")
        if loopback or (address is not None and not is_public_address(address)):
            raise WebhookUrlError(NOT_PUBLIC)
    path = parts.path or "/"
    return WebhookTarget(
        scheme="https" if scheme == "https" else "http",
        host=host,
        port=port if port is not None else (443 if scheme == "https" else 80),
        path=f"{path}?{parts.query}" if parts.query else path,
        address=address,
        allow_loopback=allow_loopback,
    )


def check_webhook_url(url: str, *, allow_loopback: bool) -> str:
    """``url`` itself when it is an acceptable webhook, else :class:`WebhookUrlError`."""
    parse_webhook_url(url, allow_loopback=allow_loopback)
    return url


def _may_connect(target: WebhookTarget, address: IPAddress) -> bool:
    if target.scheme == "http":  # only ever to loopback, under the local runtime
        return target.allow_loopback and address.is_loopback
    return is_public_address(address) or (target.allow_loopback and address.is_loopback)


def resolve_webhook_target(target: WebhookTarget) -> WebhookDestination:
    """Every address ``target`` resolves to (``getaddrinfo``), each checked: refused
    (:class:`WebhookUrlError`) when ANY of them is not public. Connect to these addresses
    only. Resolver failures raise ``OSError`` (``socket.gaierror``), for a retry."""
    if target.address is not None:
        candidates: list[IPAddress] = [target.address]
    else:
        candidates = []
        for *_, sockaddr in socket.getaddrinfo(
            target.host, target.port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        ):
            address = ipaddress.ip_address(str(sockaddr[0]))
            if address not in candidates:
                candidates.append(address)
    if not candidates:
        raise socket.gaierror(socket.EAI_NONAME, "no address")
    if not all(_may_connect(target, address) for address in candidates):
        raise WebhookUrlError(NOT_PUBLIC)
    return WebhookDestination(target=target, addresses=tuple(candidates))
