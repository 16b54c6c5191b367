"""The embedded AWS emulator: one moto server per process, on loopback, on a free port.

Stacks share the server and are isolated by their stage name (every resource name contains it).
The process environment is pointed at the server with dummy credentials, ALWAYS: the local
stack must never be able to touch a real AWS account, whatever the user's shell has set.
"""

from __future__ import annotations

import functools
import logging
import socket
import threading
from typing import Any

import botocore.handlers
import jsonpath_ng.ext
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from moto.core.botocore_stubber import BotocoreStubber
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from moto.server import ThreadedMotoServer
from werkzeug.serving import make_server

from ocrpipe_local import durable, faults
from ocrpipe_local.loopback import LOOPBACK, REGION

#: moto's own admin API (dashboard, every sent e-mail with its addresses, state reset). Nothing
#: in ocrpipe uses it, and on a shared machine it would let anyone read or wipe everything.
ADMIN_PREFIX = "/moto-api"


class _NoAdminApi:
    """WSGI middleware: moto's app without its admin API, each request a
    :func:`ocrpipe_local.durable.request_scope`."""

    def __init__(self, app: Any) -> None:
        self._app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        if str(environ.get("PATH_INFO", "")).startswith(ADMIN_PREFIX):
            body = b'{"message":"the emulator\'s admin API is disabled"}'
            start_response(
                "403 Forbidden",
                [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
            )
            return [body]
        with durable.request_scope():  # what the request changed is on disk before it returns
            return self._app(environ, start_response)


class EmulatorServer(ThreadedMotoServer):
    """moto's threaded server, with its admin API refused (:class:`_NoAdminApi`)."""

    def _server_entry(self) -> None:
        app = _NoAdminApi(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


_lock = threading.Lock()
_server: ThreadedMotoServer | None = None
_endpoint: str | None = None


def free_port(host: str = LOOPBACK) -> int:
    """A port nothing listens on right now (bind port 0 and ask the kernel)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _cache_jsonpath_parsing() -> None:
    """Parse each JSONPath once, not once per delivered event.

    moto's EventBridge renders every target's input through its input template, parsing the
    template's JSONPaths with ``jsonpath_ng.ext.parse`` -- which builds a new PLY parser on
    every call. That was the emulator's largest single cost per event (about 0.15 s of CPU per
    document, measured with ``py-spy record --gil``). The parsed expressions are immutable, so
    one cached parse per distinct path gives the same result.
    """
    parse = getattr(jsonpath_ng.ext, "parse")  # noqa: B009 - not re-exported for mypy
    if not hasattr(parse, "cache_info"):
        setattr(jsonpath_ng.ext, "parse", functools.lru_cache(maxsize=1024)(parse))  # noqa: B010


class InProcessCalls:
    """Calls from this process to its own emulator, served without HTTP.

    The handlers run in the same process as the moto server, so a request they make to the
    server's endpoint is handed to moto's backends directly (moto's own ``mock_aws``
    dispatcher) instead of going through a socket, werkzeug and Flask: the same backends, the
    same responses, ~55% less CPU per call (measured: 9.6 -> 4.4 ms for SQS and DynamoDB
    calls). On 2 cores that CPU is taken from Tesseract. Clients in other processes -- the
    AWS CLI, an attached ``ocrpipe`` command, a browser's presigned POST -- use the server.

    A ``before-send`` handler of every botocore session (``BUILTIN_HANDLERS``, as moto does),
    answering only requests addressed to :attr:`endpoint`; anything else goes on as usual.
    """

    def __init__(self) -> None:
        self.endpoint: str | None = None
        self._stubber = BotocoreStubber()
        self._stubber.enabled = True

    def __call__(
        self, request: AWSPreparedRequest, event_name: str = "", **_: object
    ) -> AWSResponse | None:
        endpoint = self.endpoint
        if endpoint is None or not request.url.startswith(endpoint + "/"):
            return None
        # "before-send.<service id>.<operation>"; moto matches on the endpoint prefix.
        service_id = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        service = _ENDPOINT_PREFIXES.get(service_id, service_id)
        host = "s3.amazonaws.com" if service == "s3" else f"{service}.{REGION}.amazonaws.com"
        # The URL tells moto the service; the Host header is the server's, as the server sees
        # it: an IP address, so S3 buckets are path-style and queue URLs name the server.
        request.url = f"http://{host}" + request.url[len(endpoint) :]
        request.headers["Host"] = endpoint.split("://", 1)[1]
        with durable.request_scope():
            response: AWSResponse | None = self._stubber("before-send", request)
        return response


#: Service ids (in botocore's event names) whose endpoint prefix differs.
_ENDPOINT_PREFIXES = {"eventbridge": "events", "ses": "email", "sesv2": "email"}

_in_process = InProcessCalls()


def _serve_in_process(endpoint: str) -> None:
    _in_process.endpoint = endpoint
    entry = ("before-send", _in_process)
    if entry not in botocore.handlers.BUILTIN_HANDLERS:
        botocore.handlers.BUILTIN_HANDLERS.append(entry)
    faults.register(botocore.handlers.BUILTIN_HANDLERS)  # does nothing until a plan is given


def ensure_server() -> str:
    """Start the process' moto server if needed; returns its endpoint URL."""
    global _server, _endpoint
    with _lock:
        if _server is None or _endpoint is None:
            _cache_jsonpath_parsing()
            # werkzeug logs every request to stderr; keep the terminal quiet.
            logging.getLogger("werkzeug").setLevel(logging.ERROR)
            port = free_port()
            server = EmulatorServer(ip_address=LOOPBACK, port=port, verbose=False)
            server.start()
            _server, _endpoint = server, f"http://{LOOPBACK}:{port}"
            _serve_in_process(_endpoint)
        return _endpoint


def stop_server() -> None:
    global _server, _endpoint
    with _lock:
        if _server is not None:
            _server.stop()
        _server, _endpoint = None, None
        _in_process.endpoint = None
