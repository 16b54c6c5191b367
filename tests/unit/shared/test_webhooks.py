import ipaddress
import socket

import pytest

from ocrpipe import webhooks
from ocrpipe.webhooks import (
    MAX_WEBHOOK_URL_CHARS,
    WebhookTarget,
    WebhookUrlError,
    check_webhook_url,
    host_address,
    is_public_address,
    parse_webhook_url,
    resolve_webhook_target,
)
from tests.fake_dns import FakeResolver, fake_resolver

#: Hosts the HTTP client (getaddrinfo, by inet_aton rules) reads as internal addresses.
NUMERIC_HOSTS = [
    "https://2130706433/",  # 127.0.0.1 as one decimal number
    "https://127.1/",  # 127.0.0.1, shortened
    "https://0x7f000001/",  # hex
    "https://0177.0.0.1/",  # octal first byte
    "https://10.1/",  # 10.0.0.1
    "https://2852039166/",  # 169.254.169.254, the instance metadata address
    "https://0x7F.0.0.1:8443/x",  # upper-case hex, with a port
    "https://0/",  # 0.0.0.0
    "https://0xa9fea9fe/latest/meta-data/",
    "https://127.0.0.1./",  # trailing dot
]
IPV6_HOSTS = [
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
    "https://[::ffff:a9fe:a9fe]/",  # IPv4-mapped 169.254.169.254
    "https://[fd00:ec2::254]/",  # EC2's IPv6 metadata address
    "https://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "https://[2002:a9fe:a9fe::1]/",  # 6to4 of 169.254.169.254
    "https://[fe80::1]/",
    "https://[ff02::1]/",  # multicast
    "https://[::]/",
]
OTHER_INTERNAL = [
    "https://224.0.0.1/",  # multicast (ipaddress calls it "global")
    "https://100.64.0.1/",  # carrier-grade NAT
    "https://192.168.1.10/x",
    "https://240.0.0.1/",  # reserved
    "https://255.255.255.255/",
]


@pytest.mark.parametrize("url", NUMERIC_HOSTS + IPV6_HOSTS + OTHER_INTERNAL)
def test_internal_addresses_in_any_form_are_refused(url: str) -> None:
    with pytest.raises(WebhookUrlError, match="public internet host") as info:
        check_webhook_url(url, allow_loopback=False)
    assert url not in str(info.value)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("2130706433", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("10.1", "10.0.0.1"),
        ("2852039166", "169.254.169.254"),
        ("93.184.216.34", "93.184.216.34"),
        ("::ffff:127.0.0.1", "::ffff:7f00:1"),
        ("hooks.example.com", None),
        ("0x7f.example.com", None),  # a name whose LAST label is not a number
    ],
)
def test_hosts_are_read_as_inet_aton_reads_them(host: str, expected: str | None) -> None:
    address = host_address(host)
    assert (None if address is None else str(address)) == expected
    if expected is not None and ":" not in host:
        assert socket.inet_aton(host) == ipaddress.IPv4Address(expected).packed


@pytest.mark.parametrize(
    "url",
    [
        "https://999.1.1.1/",  # a number no resolver reads as an address
        "https://1.2.3.4.5/",
        "https://hooks.123/",  # ends in a number: an address to a WHATWG client, or nothing
        "https://08.1.1.1/",  # 8 is no octal digit
        "https://%31%32%37.0.0.1/",  # percent-encoded host
        "https://[::1/",
        "https://example.com:99999/x",
    ],
)
def test_numeric_hosts_no_client_agrees_on_are_not_urls(url: str) -> None:
    with pytest.raises(WebhookUrlError, match="not a valid URL"):
        check_webhook_url(url, allow_loopback=False)


@pytest.mark.parametrize(
    ("url", "allow_loopback", "reason"),
    [
        ("https://hooks.example.com/" + "a" * MAX_WEBHOOK_URL_CHARS, False, "longer than"),
        ("http://hooks.example.com/x", True, "must use https"),
        ("https://hooks.example.com/a\tb", False, "spaces or control"),
        ("https://localhost/x", False, "public internet host"),
        ("https://hooks.localhost/x", False, "public internet host"),
        ("https://user:pw@hooks.example.com/x", False, "user name or password"),
        ("https://hooks.example.com@127.0.0.1/x", False, "user name or password"),
        ("http://10.0.0.1/hook", True, "must use https"),
        ("https://10.0.0.1/hook", True, "public internet host"),
    ],
)
def test_refusals_say_why_without_repeating_the_url(url, allow_loopback, reason):
    with pytest.raises(WebhookUrlError, match=reason) as info:
        check_webhook_url(url, allow_loopback=allow_loopback)
    assert url not in str(info.value)


def test_unicode_host_names_and_ports_are_fine():
    url = "https://hööks.example.com:8443/ocr?x=1#frag"
    assert check_webhook_url(url, allow_loopback=False) == url
    target = parse_webhook_url(url, allow_loopback=False)
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "xn--hks-snaa.example.com",
        8443,
        "/ocr?x=1",
    )
    assert target.address is None


@pytest.mark.parametrize(
    "url", ["https://93.184.216.34/x", "https://[2606:2800:220:1:248:1893:25c8:1946]/x"]
)
def test_public_address_literals_are_fine(url: str) -> None:
    target = parse_webhook_url(url, allow_loopback=False)
    assert target.address is not None
    assert is_public_address(target.address)
    assert (target.port, target.path) == (443, "/x")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://[::1]:9000/h",
        "http://2130706433:8080/",  # loopback in any form, under the local runtime only
        "https://receiver.localhost/h",
    ],
)
def test_loopback_only_when_allowed(url: str) -> None:
    assert check_webhook_url(url, allow_loopback=True) == url
    with pytest.raises(WebhookUrlError):
        check_webhook_url(url, allow_loopback=False)


# -- send time: the name is resolved and every address checked -----------------------------


@pytest.fixture
def resolver(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    return fake_resolver(monkeypatch)


def resolve(url: str, *, allow_loopback: bool = False) -> webhooks.WebhookDestination:
    return resolve_webhook_target(parse_webhook_url(url, allow_loopback=allow_loopback))


@pytest.mark.parametrize(
    "answer",
    [
        ["127.0.0.1"],
        ["169.254.169.254"],
        ["93.184.216.34", "10.0.0.7"],  # ANY internal address refuses the name
        ["2606:2800:220:1:248:1893:25c8:1946", "fd00:ec2::254"],
        ["::ffff:127.0.0.1"],
    ],
)
def test_a_name_resolving_to_an_internal_address_is_refused(
    resolver: FakeResolver, answer: list[str]
) -> None:
    resolver.answers["hooks.example.com"] = answer
    with pytest.raises(WebhookUrlError, match="public internet host"):
        resolve("https://hooks.example.com/x")
    assert resolver.asked == ["hooks.example.com"]


def test_a_public_name_gives_every_checked_address_once(resolver: FakeResolver) -> None:
    resolver.answers["hooks.example.com"] = ["93.184.216.34", "93.184.216.34", "2606:2800::1"]
    destination = resolve("https://hooks.example.com/x")
    assert [str(a) for a in destination.addresses] == ["93.184.216.34", "2606:2800::1"]
    assert destination.target.host == "hooks.example.com"


def test_an_address_literal_is_not_resolved(resolver: FakeResolver) -> None:
    resolver.answers["93.184.216.34"] = ["127.0.0.1"]
    assert [str(a) for a in resolve("https://93.184.216.34/").addresses] == ["93.184.216.34"]
    assert resolver.asked == []


@pytest.mark.parametrize("host", ["2130706433", "127.1", "0x7f000001", "0177.0.0.1", "10.1"])
def test_numeric_hosts_are_refused_at_send_time_even_if_they_slipped_through(host: str) -> None:
    # a target built past the URL check: the resolver (the real one) still reads the number
    target = WebhookTarget(scheme="https", host=host, port=443, path="/", address=None)
    with pytest.raises(WebhookUrlError, match="public internet host"):
        resolve_webhook_target(target)


def test_resolver_failures_are_os_errors(resolver: FakeResolver) -> None:
    resolver.answers["gone.example.com"] = []
    with pytest.raises(socket.gaierror):
        resolve("https://gone.example.com/")


def test_local_runtime_may_reach_loopback_and_nothing_else_internal(
    resolver: FakeResolver,
) -> None:
    resolver.answers["receiver.localhost"] = ["127.0.0.1", "::1"]
    destination = resolve("http://receiver.localhost:8080/h", allow_loopback=True)
    assert [str(a) for a in destination.addresses] == ["127.0.0.1", "::1"]
    resolver.answers["receiver.localhost"] = ["127.0.0.1", "10.0.0.7"]
    with pytest.raises(WebhookUrlError):
        resolve("http://receiver.localhost:8080/h", allow_loopback=True)
    resolver.answers["localhost"] = ["93.184.216.34"]  # plain http never leaves the machine
    with pytest.raises(WebhookUrlError):
        resolve("http://localhost:8080/h", allow_loopback=True)
