"""A local stand-in for API Gateway HTTP APIs: stdlib threaded HTTP server on loopback.

Each request is matched against the topology's ``http`` routes (``"POST /uploads"``, path
parameters ``{name}`` and greedy ``{name+}``, method ``ANY``), turned into a payload-v2 event
and passed to the route's handler; the handler's result becomes the HTTP response.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import urlsplit

from ocrpipe_local.function_output import route_current_thread
from ocrpipe_local.lambda_events import (
    LocalLambdaContext,
    http_api_event,
    http_response,
)

log = logging.getLogger(__name__)

#: Largest request body accepted (API Gateway's own limit is 10 MB).
MAX_BODY_BYTES = 10 * 1024 * 1024
API_TIMEOUT_S = 30


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    function_name: str
    handler: Callable[[dict[str, Any], Any], Any]

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
    ) -> None:
        self.routes = routes
        self.account = account
        self.region = region
        self.output = output
        api = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            server_version = "ocrpipe-local"

            def do_GET(self) -> None:
                api.handle(self)

            do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("%s - %s", self.address_string(), format % args)

        self._server = ThreadingHTTPServer((host, port), RequestHandler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ocrpipe-http-api", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        route_current_thread(self.output)
        split = urlsplit(request.path)
        method = request.command
        for route in self.routes:
            params = route.match(method, split.path)
            if params is not None:
                break
        else:
            self._send(
                request, 404, [("Content-Type", "application/json")], b'{"message":"Not Found"}'
            )
            return
        length = int(request.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            body = json.dumps({"message": "Request Entity Too Large"}).encode()
            self._send(request, 413, [("Content-Type", "application/json")], body)
            return
        body = request.rfile.read(length) if length else b""
        event = http_api_event(
            method=method,
            raw_path=split.path,
            raw_query=split.query,
            headers=list(request.headers.items()),
            body=body,
            route_key=route.route_key,
            path_parameters=params,
            source_ip=request.client_address[0],
            account=self.account,
        )
        context = LocalLambdaContext(
            route.function_name, timeout_s=API_TIMEOUT_S, account=self.account, region=self.region
        )
        try:
            result = route.handler(event, context)
            response = http_response(result)
        except Exception:
            log.exception("HTTP handler for %s raised", route.route_key)
            body = json.dumps({"message": "Internal Server Error"}).encode()
            self._send(request, 500, [("Content-Type", "application/json")], body)
            return
        self._send(request, response.status, response.headers, response.body)

    @staticmethod
    def _send(
        request: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: bytes
    ) -> None:
        request.send_response(status)
        names = set()
        for name, value in headers:
            if name.lower() in ("content-length", "connection", "transfer-encoding"):
                continue
            request.send_header(name, value)
            names.add(name.lower())
        if "content-type" not in names and body:
            request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(body)))
        request.end_headers()
        if request.command != "HEAD":
            request.wfile.write(body)
