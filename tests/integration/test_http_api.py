"""The local HTTP API against hostile and unlucky clients (issue #10's probes).

A real server on loopback (waitress), a route that records what reached it, raw sockets.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from ocrpipe_local.http_api import MAX_BODY_BYTES, LocalHttpApi, Route

pytestmark = pytest.mark.timeout(120)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        with self._lock:
            self.calls.append(event)
        return {"statusCode": 201, "body": json.dumps({"body": event.get("body") or ""})}


@pytest.fixture
def api() -> Iterator[tuple[LocalHttpApi, Recorder]]:
    recorder = Recorder()
    server = LocalHttpApi(
        [Route("POST", "/uploads", "ingest-test-api", recorder)],
        account="123456789012",
        region="us-east-1",
    )
    server.start()
    yield server, recorder
    server.stop()


def raw(api: LocalHttpApi, data: bytes, *, wait_s: float = 2.0) -> bytes:
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=wait_s) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except TimeoutError:
            pass
        return b"".join(chunks)


def test_a_body_sent_to_an_unknown_route_is_never_parsed_as_a_request(api) -> None:
    server, recorder = api
    hidden = b"POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}"
    request = (
        b"POST /nowhere HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Length: {len(hidden)}\r\n\r\n".encode()
        + hidden
    )
    answer = raw(server, request)
    assert answer.startswith(b"HTTP/1.1 404")
    assert answer.count(b"HTTP/1.1 ") == 1
    assert recorder.calls == []


@pytest.mark.parametrize("length", [b"-1", b"abc", b"1, 2"])
def test_malformed_content_length_is_refused_at_once(api, length: bytes) -> None:
    server, recorder = api
    # raw() gives up after 2 s: a server waiting for a body would have answered nothing.
    answer = raw(
        server, b"POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Length: " + length + b"\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 400")
    assert recorder.calls == []


def test_a_short_body_holds_no_worker_and_reaches_no_handler(api) -> None:
    server, recorder = api
    host, port = server.url.removeprefix("http://").split(":")
    stalled = []
    for _ in range(20):  # more stalled clients than worker threads
        sock = socket.create_connection((host, int(port)))
        sock.sendall(b"POST /uploads HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
        stalled.append(sock)
    try:
        with requests.Session() as session:
            session.trust_env = False  # loopback, never a proxy
            answer = session.post(f"{server.url}/uploads", json={"a": 1}, timeout=5)
        assert answer.status_code == 201
        assert len(recorder.calls) == 1  # only the complete request
    finally:
        for sock in stalled:
            sock.close()


def test_an_oversized_body_is_refused(api) -> None:
    server, recorder = api
    answer = raw(
        server,
        b"POST /uploads HTTP/1.1\r\nHost: x\r\n"
        + f"Content-Length: {MAX_BODY_BYTES + 1}\r\n\r\n".encode(),
    )
    assert answer.startswith(b"HTTP/1.1 413")
    assert recorder.calls == []


def test_many_concurrent_clients_are_all_answered(api) -> None:
    server, recorder = api

    def one(i: int) -> int:
        with requests.Session() as session:
            session.trust_env = False
            return session.post(f"{server.url}/uploads", json={"i": i}, timeout=30).status_code

    with ThreadPoolExecutor(64) as pool:
        codes = list(pool.map(one, range(256)))
    assert codes == [201] * 256
    assert len(recorder.calls) == 256


def test_stop_closes_idle_keep_alive_connections_at_once() -> None:
    """``close()`` alone left the loop serving open connections until they timed out."""
    server = LocalHttpApi(
        [Route("POST", "/uploads", "ingest-test-api", Recorder())],
        account="123456789012",
        region="us-east-1",
    )
    server.start()
    with requests.Session() as session:
        session.trust_env = False
        assert session.post(f"{server.url}/uploads", json={}, timeout=5).status_code == 201
        server.stop()  # the session's connection is still open: stop does not wait on it
        with pytest.raises(requests.ConnectionError):
            session.post(f"{server.url}/uploads", json={}, timeout=2)


@pytest.fixture
def cors_api() -> Iterator[tuple[LocalHttpApi, Recorder]]:
    recorder = Recorder()
    server = LocalHttpApi(
        [
            Route("POST", "/uploads", "ingest-test-api", recorder),
            Route("GET", "/documents/{document_id}", "status-test-api", recorder),
        ],
        account="123456789012",
        region="us-east-1",
        cors_origins=["http://page.example"],
        openapi=lambda: {"openapi": "3.0.3", "paths": {"/uploads": {}}},
    )
    server.start()
    yield server, recorder
    server.stop()


def test_cors_as_api_gateway_answers_it(cors_api: tuple[LocalHttpApi, Recorder]) -> None:
    server, recorder = cors_api
    with requests.Session() as s:
        s.trust_env = False
        preflight = s.options(
            f"{server.url}/documents/abc12345",
            headers={
                "Origin": "http://page.example",
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
            timeout=10,
        )
        assert preflight.status_code == 204
        assert preflight.headers["Access-Control-Allow-Origin"] == "http://page.example"
        assert preflight.headers["Access-Control-Allow-Methods"] == "GET"
        assert "Authorization" in preflight.headers["Access-Control-Allow-Headers"]
        assert recorder.calls == []  # answered by the API, like API Gateway's CORS

        allowed = s.post(
            f"{server.url}/uploads", json={}, headers={"Origin": "http://page.example"}, timeout=10
        )
        assert allowed.headers["Access-Control-Allow-Origin"] == "http://page.example"
        other = s.post(
            f"{server.url}/uploads", json={}, headers={"Origin": "http://evil.example"}, timeout=10
        )
        assert other.status_code == 201  # CORS is the browser's check, not an authorisation
        assert "Access-Control-Allow-Origin" not in other.headers
        refused = s.options(
            f"{server.url}/uploads",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
            timeout=10,
        )
        assert "Access-Control-Allow-Origin" not in refused.headers
        assert "Access-Control-Allow-Methods" not in refused.headers
        unknown = s.options(
            f"{server.url}/nothing",
            headers={"Origin": "http://page.example", "Access-Control-Request-Method": "GET"},
            timeout=10,
        )
        assert unknown.status_code == 404


def test_openapi_is_served_at_its_path(cors_api: tuple[LocalHttpApi, Recorder]) -> None:
    server, _ = cors_api
    with requests.Session() as s:
        s.trust_env = False
        got = s.get(f"{server.url}/openapi.json", timeout=10)
    assert got.status_code == 200
    assert got.json() == {"openapi": "3.0.3", "paths": {"/uploads": {}}}


def test_concurrent_requests_to_powertools_resolvers_each_read_their_own_body() -> None:
    """Powertools keeps the current event in a class attribute every resolver shares; the
    local API must not let two requests' handlers interleave (each would read the other's
    body, as two concurrent ``POST /uploads`` once did)."""
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    def resolver_handler(path: str) -> Any:
        app = APIGatewayHttpResolver()

        @app.post(path)
        def echo() -> dict[str, Any]:
            first = app.current_event.json_body
            time.sleep(0.02)  # let another request's handler run in between, if it may
            return {"first": first, "second": app.current_event.json_body}

        return lambda event, context: app.resolve(event, context)

    server = LocalHttpApi(
        [
            Route("POST", "/echo", "a-test-api", resolver_handler("/echo")),
            Route("POST", "/other", "b-test-api", resolver_handler("/other")),
        ],
        account="123456789012",
        region="us-east-1",
    )
    server.start()
    try:

        def call(n: int) -> dict[str, Any]:
            path = "/echo" if n % 2 else "/other"
            answer = requests.post(f"{server.url}{path}", json={"n": n}, timeout=30)
            return {"status": answer.status_code, **(answer.json() if answer.ok else {})}

        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(call, range(24)))
    finally:
        server.stop()
    for n, result in enumerate(results):
        assert result == {"status": 200, "first": {"n": n}, "second": {"n": n}}


class _Bucket(BaseHTTPRequestHandler):
    """Stands in for the emulator's bucket endpoint: records what was forwarded."""

    received: ClassVar[list[tuple[str, str, bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.path, self.headers["Content-Type"], body))
        self.send_response(204)
        self.send_header("ETag", '"abc"')
        self.send_header("X-Amz-Secret-Thing", "not passed on")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def web_api(tmp_path: Path) -> Iterator[tuple[LocalHttpApi, Path]]:
    site = tmp_path / "site"
    (site / "css").mkdir(parents=True)
    (site / "index.html").write_text("<!doctype html><title>page</title>", encoding="utf-8")
    (site / "css" / "app.css").write_text("body{}", encoding="utf-8")
    (tmp_path / "secret.txt").write_text("outside the site", encoding="utf-8")
    bucket = ThreadingHTTPServer(("127.0.0.1", 0), _Bucket)
    threading.Thread(target=bucket.serve_forever, daemon=True).start()
    _Bucket.received.clear()
    recorder = Recorder()
    server = LocalHttpApi(
        [Route("GET", "/documents", "status-test-api", recorder)],
        account="123456789012",
        region="us-east-1",
        static_dir=site,
        upload_proxy={"/_s3/uploads": f"http://127.0.0.1:{bucket.server_port}/uploads"},
    )
    server.start()
    yield server, site
    server.stop()
    bucket.shutdown()


def test_the_web_page_is_served_at_the_root_and_nothing_outside_it(web_api) -> None:
    server, _ = web_api
    page = requests.get(f"{server.url}/", timeout=10)
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.text.startswith("<!doctype html>")
    css = requests.get(f"{server.url}/css/app.css", timeout=10)
    assert css.headers["Content-Type"] == "text/css; charset=utf-8"
    # Routes come first; what is neither a route nor a file is a 404.
    assert requests.get(f"{server.url}/documents", timeout=10).status_code == 201
    assert requests.get(f"{server.url}/nothing.js", timeout=10).status_code == 404
    assert requests.post(f"{server.url}/index.html", timeout=10).status_code == 404
    for sneaky in (b"/../secret.txt", b"/%2e%2e/secret.txt", b"/css/../../secret.txt"):
        answer = raw(server, b"GET " + sneaky + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 404"), answer[:80]
        assert b"outside the site" not in answer


def test_a_presigned_post_is_forwarded_to_the_bucket_as_sent(web_api) -> None:
    server, _ = web_api
    answer = requests.post(
        f"{server.url}/_s3/uploads",
        data={"key": "uploads/x/a.png", "Content-Type": "image/png"},
        files={"file": ("a.png", b"\x89PNG bytes", "image/png")},
        timeout=10,
    )
    assert answer.status_code == 204
    assert answer.headers["ETag"] == '"abc"'
    assert "X-Amz-Secret-Thing" not in answer.headers
    ((path, content_type, body),) = _Bucket.received
    assert path == "/uploads"
    assert content_type.startswith("multipart/form-data; boundary=")
    assert b"uploads/x/a.png" in body
    assert b"\x89PNG bytes" in body
    # Only the configured path forwards, and only POST.
    assert requests.post(f"{server.url}/_s3/other", data=b"x", timeout=10).status_code == 404
    assert requests.get(f"{server.url}/_s3/uploads", timeout=10).status_code == 404


def test_a_forwarded_upload_to_a_dead_emulator_is_a_502() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    server = LocalHttpApi(
        [],
        account="123456789012",
        region="us-east-1",
        upload_proxy={"/_s3/uploads": f"http://127.0.0.1:{dead}/uploads"},
    )
    server.start()
    try:
        answer = requests.post(f"{server.url}/_s3/uploads", data=b"form", timeout=30)
    finally:
        server.stop()
    assert answer.status_code == 502
    assert "emulator" in answer.json()["message"]


def test_stop_still_closes_the_server_when_its_wake_up_pipe_is_gone() -> None:
    """Seen once under load at SIGTERM: waitress' trigger pipe was closed, pull_trigger
    raised EBADF and ``ocrpipe up`` exited 1 instead of finishing its documents."""
    import os

    server = LocalHttpApi(
        [Route("POST", "/uploads", "ingest-test-api", Recorder())],
        account="123456789012",
        region="us-east-1",
    )
    server.start()
    host, port = server.url.removeprefix("http://").split(":")
    os.close(server._server.trigger.trigger)  # the write end the stop wakes the loop with
    server.stop()
    server.stop()  # twice is harmless
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection((host, int(port)), timeout=2),
    ):
        pass
