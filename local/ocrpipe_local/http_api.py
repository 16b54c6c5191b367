"""A local stand-in for API Gateway HTTP APIs, served by waitress on loopback.

Each request is matched against the services' ``http`` routes (``"POST /uploads"``, path
parameters ``{name}`` and greedy ``{name+}``, method ``ANY``), turned into a payload-v2 event
and passed to the route's handler; the handler's result becomes the HTTP response.

As API Gateway's own features, not any handler's: CORS for the configured origins (preflight
``OPTIONS`` answered for every route's path, ``Access-Control-Allow-Origin`` on responses to
an allowed ``Origin``), and ``GET /openapi.json``, the services' OpenAPI documents merged
(on AWS each service's API serves its own). Two things CloudFront does on AWS (``web/``):
the web page's files at ``/`` (``static_dir``), and the uploads bucket's presigned POSTs
forwarded to the emulator (``upload_proxy``), so that a browser on another device -- which
cannot reach the loopback emulator -- uploads through the one address it knows.

The server is waitress, a production WSGI server, not the standard library's: probed as a
hostile client would, ``http.server`` parsed an unread body sent to an unknown route as the
next request on the connection (a hidden ``POST /uploads`` got a 201), hung a thread on
``Content-Length: -1`` or a short body, and reset about 1 % of connections at 32 concurrent
clients. waitress reads every request whole in its event loop before a worker thread sees it,
refuses malformed framing with 400 and bodies over :data:`MAX_BODY_BYTES` with 413, and drops
clients that stall (:data:`CHANNEL_TIMEOUT_S`) without holding a thread.
"""

from __future__ import annotations

import json
import logging
import mimetypes
import re
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any, TextIO

import requests
from waitress import wasyncore
from waitress.server import create_server

from ocrpipe_local import faults
from ocrpipe_local.function_output import route_current_thread
from ocrpipe_local.lambda_events import (
    LocalLambdaContext,
    http_api_event,
    http_response,
)

log = logging.getLogger(__name__)

#: Largest request body a route accepts (API Gateway's own limit is 10 MB).
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Largest upload form forwarded to the emulator (ingest checks the real size limit after).
MAX_UPLOAD_FORM_BYTES = 256 * 1024 * 1024
API_TIMEOUT_S = 30
#: Worker threads running handlers; connections beyond them wait in waitress' event loop.
THREADS = 8
#: A client that sends nothing for this long is disconnected.
CHANNEL_TIMEOUT_S = 30

ALL_ADDRESSES = ("0.0.0.0", "::", "")  # noqa: S104 (recognised, not bound to)
LOOPBACK_ADDRESSES = ("127.0.0.1", "::1", "localhost")

StartResponse = Callable[[str, list[tuple[str, str]]], Any]

OPENAPI_PATH = "/openapi.json"
#: Request headers a cross-origin page may send (the services' serverless.yml allow the same).
CORS_ALLOWED_HEADERS = "Authorization, Content-Type"
CORS_MAX_AGE_S = 300
#: What the web page's files are served with (the web stack's CloudFront policy sets the same).
STATIC_HEADERS = [
    ("Cache-Control", "no-cache"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    (
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
]
#: A forwarded upload's answer headers passed back to the browser.
PROXY_ANSWER_HEADERS = ("content-type", "etag", "location")

#: Handlers run one at a time. On AWS each concurrent request gets its own container; here
#: they share one process, and powertools' resolvers keep the request being handled in a
#: class attribute (``BaseRouter.current_event``) that every resolver instance shares: two
#: concurrent ``POST /uploads`` read each other's bodies. Waitress still reads requests
#: concurrently; only the (short) handler calls are serialised.
_ONE_REQUEST_AT_A_TIME = threading.Lock()


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    function_name: str
    handler: Callable[[dict[str, Any], Any], Any]
    #: The service the route belongs to (what fault plans' ``aws[SERVICE:...]`` match).
    service: str = ""

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.template}"

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method not in ("ANY", method.upper()):
            return None
        found = re.fullmatch(_template_regex(self.template), path)
        return None if found is None else found.groupdict()


def _template_regex(template: str) -> str:
    parts: list[str] = []
    for piece in re.split(r"(\{[^}]+\})", template):
        if piece.startswith("{") and piece.endswith("}"):
            name = piece[1:-1]
            if name.endswith("+"):
                parts.append(f"(?P<{re.escape(name[:-1])}>.+)")
            else:
                parts.append(f"(?P<{re.escape(name)}>[^/]+)")
        else:
            parts.append(re.escape(piece))
    return "".join(parts)


def parse_route(spec: str) -> tuple[str, str]:
    """``"POST /uploads"`` -> ``("POST", "/uploads")``."""
    method, _, path = spec.strip().partition(" ")
    if not method or not path.startswith("/"):
        raise ValueError(f"route {spec!r} is not 'METHOD /path'")
    return method.upper(), path.strip()


class LocalHttpApi:
    def __init__(
        self,
        routes: list[Route],
        *,
        account: str,
        region: str,
        host: str = "127.0.0.1",
        port: int = 0,
        output: TextIO | None = None,
        cors_origins: Sequence[str] = (),
        openapi: Callable[[], dict[str, Any]] | None = None,
        static_dir: Path | None = None,
        upload_proxy: Mapping[str, str] | None = None,
    ) -> None:
        """``static_dir``: files served at ``/`` to ``GET`` requests no route takes (the web
        page). ``upload_proxy``: request path -> emulator URL; a ``POST`` there is sent on
        as it came (a presigned POST's multipart form) and the emulator's answer returned."""
        self.routes = routes
        self.static_dir = static_dir.resolve() if static_dir is not None else None
        self.upload_proxy = dict(upload_proxy or {})
        self.cors_origins = tuple(cors_origins)
        self.openapi = openapi
        self.account = account
        self.region = region
        self.output = output
        self._server = create_server(
            self.wsgi,
            host=host,
            port=port,
            threads=THREADS,
            channel_timeout=CHANNEL_TIMEOUT_S,
            max_request_body_size=MAX_UPLOAD_FORM_BYTES if upload_proxy else MAX_BODY_BYTES,
            ident="ocrpipe-local",
            clear_untrusted_proxy_headers=True,
        )
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def url(self) -> str:
        """Where this machine reaches the API (loopback when it listens on every address)."""
        host = str(self._server.effective_host)
        if host in ALL_ADDRESSES:
            host = "127.0.0.1"
        return f"http://{host}:{self._server.effective_port}"

    @property
    def listens_on_network(self) -> bool:
        return str(self._server.effective_host) not in LOOPBACK_ADDRESSES

    @property
    def network_url(self) -> str | None:
        """Where other devices reach the API, if it listens beyond loopback."""
        if not self.listens_on_network:
            return None
        host = str(self._server.effective_host)
        if host in ALL_ADDRESSES:
            host = lan_address()
        return f"http://{host}:{self._server.effective_port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.run, name="ocrpipe-http-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Close the listening socket and every connection (idle keep-alive ones too), in the
        server's own loop thread, and let running requests finish: ``close()`` alone leaves
        the loop serving open connections until they time out."""
        server = self._server
        if self._stopped:
            return
        self._stopped = True
        if self._thread is not None and self._thread.is_alive():
            try:
                server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            except OSError as exc:
                # The loop's wake-up pipe is gone (seen once, under load, at SIGTERM): close
                # from here instead; the loop ends when its map is empty.
                log.warning("HTTP API loop could not be woken (%s); closing it directly", exc)
                wasyncore.close_all(server._map, ignore_all=True)
            self._thread.join(timeout=10)
            self._thread = None
        else:
            wasyncore.close_all(server._map, ignore_all=True)
        server.task_dispatcher.shutdown(timeout=5)

    def wsgi(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        route_current_thread(self.output)
        method = str(environ["REQUEST_METHOD"]).upper()
        path = _wsgi_path(environ)
        cors = self._cors_headers(str(environ.get("HTTP_ORIGIN", "")))

        def send(status: int, headers: list[tuple[str, str]], body: bytes) -> list[bytes]:
            return _send(start_response, method, status, [*headers, *cors], body)

        if method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
            return self._preflight(path, send, bool(cors))
        if method in ("GET", "HEAD") and path == OPENAPI_PATH and self.openapi is not None:
            document = json.dumps(self.openapi(), ensure_ascii=False).encode("utf-8")
            return send(200, [("Content-Type", "application/json")], document)
        if method == "POST" and path in self.upload_proxy:
            return self._forward_upload(self.upload_proxy[path], environ, send)
        for route in self.routes:
            params = route.match(method, path)
            if params is not None:
                break
        else:
            static = self._static_file(path) if method in ("GET", "HEAD") else None
            if static is not None:
                return send(200, [*static[0], *STATIC_HEADERS], static[1])
            return send(404, [], b'{"message":"Not Found"}')
        if int(environ.get("CONTENT_LENGTH") or 0) > MAX_BODY_BYTES:
            return send(413, [], b'{"message":"Request Entity Too Large"}')
        body = environ["wsgi.input"].read()  # waitress has read and bounded it already
        event = http_api_event(
            method=method,
            raw_path=path,
            raw_query=str(environ.get("QUERY_STRING", "")),
            headers=_wsgi_headers(environ),
            body=body,
            route_key=route.route_key,
            path_parameters=params,
            source_ip=str(environ.get("REMOTE_ADDR", "")),
            account=self.account,
        )
        context = LocalLambdaContext(
            route.function_name, timeout_s=API_TIMEOUT_S, account=self.account, region=self.region
        )
        try:
            with (
                _ONE_REQUEST_AT_A_TIME,
                faults.invocation(route.service, route.function_name, context.aws_request_id),
            ):
                result = route.handler(event, context)
            response = http_response(result)
        except Exception:
            log.exception("HTTP handler for %s raised", route.route_key)
            error = json.dumps({"message": "Internal Server Error"}).encode()
            return send(500, [], error)
        return send(response.status, response.headers, response.body)

    def _static_file(self, path: str) -> tuple[list[tuple[str, str]], bytes] | None:
        """The web page's file at ``path`` (``/`` is ``index.html``), never one outside it."""
        if self.static_dir is None:
            return None
        relative = path.lstrip("/") or "index.html"
        if relative.endswith("/"):
            relative += "index.html"
        candidate = (self.static_dir / relative).resolve()
        if not candidate.is_relative_to(self.static_dir) or not candidate.is_file():
            return None
        return [("Content-Type", static_content_type(candidate))], candidate.read_bytes()

    def _forward_upload(
        self,
        target: str,
        environ: dict[str, Any],
        send: Callable[[int, list[tuple[str, str]], bytes], list[bytes]],
    ) -> list[bytes]:
        """A presigned POST sent on to the emulator's bucket, unchanged."""
        body = environ["wsgi.input"].read()
        headers = {"Content-Type": str(environ.get("CONTENT_TYPE", ""))}
        try:
            answer = requests.post(target, data=body, headers=headers, timeout=API_TIMEOUT_S)
        except requests.RequestException as exc:
            log.warning("could not forward an upload to %s: %s", target, exc)
            return send(502, [], b'{"message":"The storage emulator did not answer"}')
        kept = [(k, v) for k, v in answer.headers.items() if k.lower() in PROXY_ANSWER_HEADERS]
        return send(answer.status_code, kept, answer.content)

    def _cors_headers(self, origin: str) -> list[tuple[str, str]]:
        """What API Gateway adds for an allowed ``Origin`` (nothing for any other)."""
        if not origin or not self.cors_origins:
            return []
        if "*" in self.cors_origins:
            allowed = "*"
        elif origin in self.cors_origins:
            allowed = origin
        else:
            return []
        return [
            ("Access-Control-Allow-Origin", allowed),
            ("Access-Control-Expose-Headers", "Content-Disposition"),
            ("Vary", "Origin"),
        ]

    def _preflight(
        self,
        path: str,
        send: Callable[[int, list[tuple[str, str]], bytes], list[bytes]],
        allowed: bool,
    ) -> list[bytes]:
        methods = sorted(
            {r.method for r in self.routes if re.fullmatch(_template_regex(r.template), path)}
        )
        if not methods:
            return send(404, [], b'{"message":"Not Found"}')
        headers: list[tuple[str, str]] = []
        if allowed:
            headers = [
                ("Access-Control-Allow-Methods", ", ".join(methods)),
                ("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS),
                ("Access-Control-Max-Age", str(CORS_MAX_AGE_S)),
            ]
        return send(204, headers, b"")


def static_content_type(path: Path) -> str:
    """What a page's file is served as (here, and from the web stack's bucket)."""
    kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        kind += "; charset=utf-8"
    return kind


def lan_address() -> str:
    """This machine's address on its network (the one its default route leaves from)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: nothing is sent on a UDP connect
            return str(probe.getsockname()[0])
        except OSError:
            return socket.gethostbyname(socket.gethostname())


def _wsgi_path(environ: dict[str, Any]) -> str:
    """The request path as sent (WSGI gives it decoded as latin-1)."""
    raw = str(environ.get("PATH_INFO", "")) or "/"
    try:
        return raw.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return raw


def _wsgi_headers(environ: dict[str, Any]) -> list[tuple[str, str]]:
    headers = []
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            headers.append((key[5:].replace("_", "-").lower(), str(value)))
        elif key in ("CONTENT_TYPE", "CONTENT_LENGTH") and value:
            headers.append((key.replace("_", "-").lower(), str(value)))
    return headers


def _send(
    start_response: StartResponse,
    method: str,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
) -> list[bytes]:
    out: list[tuple[str, str]] = []
    names = set()
    for name, value in headers:
        if name.lower() in ("content-length", "connection", "transfer-encoding"):
            continue
        out.append((name, value))
        names.add(name.lower())
    if "content-type" not in names and body:
        out.append(("Content-Type", "application/json"))
    out.append(("Content-Length", str(len(body))))
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Status"
    start_response(f"{status} {reason}", out)
    return [] if method == "HEAD" else [body]
