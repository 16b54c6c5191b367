"""``OneMachineStack``: the whole ocrpipe deployment on one machine.

moto server on loopback (shared per process) + the stage's resources provisioned from the
topology (discovered: :mod:`ocrpipe_local.discovery`) + queue worker threads calling the
services' handlers + the HTTP API + the event archive. One stack is active per process at a
time (the services read their configuration from ``os.environ``, which is process-wide);
stacks run one after another may share a stage.

Where things go (under ``state_dir``, default ``./.ocrpipe``):

* ``state.sqlite3``          the emulator's objects, items, queued messages and keys, kept
  across restarts (see :mod:`ocrpipe_local.durable`)
* ``archive.jsonl``          every domain event (see :mod:`ocrpipe_local.archive`)
* ``outbox/``                e-mails notify sent, as ``.eml``
* ``logs/functions.jsonl``   the handlers' stdout/stderr: powertools JSON logs, EMF metrics
* ``logs/runtime.log``       the runtime's own log (handler exceptions, retries)
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ocrpipe import aws, container
from ocrpipe.topology import Place, ServiceDeclaration, Topology
from ocrpipe_local import attach, durable, emulator, faults, loopback
from ocrpipe_local.archive import ArchivedEvent, EventArchive, document_is_done
from ocrpipe_local.discovery import WEB_DIR, discover, package_declarations
from ocrpipe_local.errors import StackError
from ocrpipe_local.function_output import FunctionOutput, serialise_powertools_metrics
from ocrpipe_local.http_api import LocalHttpApi, Route, parse_route
from ocrpipe_local.provision import (
    Provisioned,
    ProvisionedConsumer,
    Provisioner,
    environment,
    upload_proxy_path,
)
from ocrpipe_local.workers import Handler, QueueWorker, WorkerSpec, resolve_handler

log = logging.getLogger("ocrpipe_local")

#: Services whose work is CPU-bound (Tesseract runs one process per page, single-threaded):
#: they get one worker per core by default, every other consumer gets one worker.
CPU_BOUND_SERVICES = frozenset({"ocr"})
#: How long start-up waits for the workers to build their handlers' containers; a worker
#: still building after that goes on in the background (its first message waits for it).
WARM_TIMEOUT_S = 60.0

#: Same rule as ``ocrpipe.settings.ServiceSettings.stage``.
STAGE_PATTERN = re.compile(r"[a-z][a-z0-9]{0,9}")

#: Defaults for variables the functions read, set only when the user has not set them.
FUNCTION_ENV_DEFAULTS = {
    "POWERTOOLS_METRICS_NAMESPACE": "ocrpipe",
    "POWERTOOLS_LOG_LEVEL": "INFO",
    # Tesseract is several times faster single-threaded with one process per core.
    "OMP_THREAD_LIMIT": "1",
}


_active_lock = threading.Lock()
_active: OneMachineStack | None = None


@dataclass(frozen=True)
class QueueDepth:
    visible: int
    in_flight: int
    delayed: int
    is_dlq: bool

    @property
    def total(self) -> int:
        return self.visible + self.in_flight + self.delayed


def default_workers(topology: Topology) -> dict[str, int]:
    cores = os.cpu_count() or 1
    return {
        name: cores if spec.service in CPU_BOUND_SERVICES else 1
        for name, spec in topology.consumers.items()
    }


def without_service(topology: Topology, service: str) -> Topology:
    """``topology`` minus everything of ``service``: its consumers, HTTP APIs and storage.

    What a deployment looked like before ``service`` existed; :meth:`OneMachineStack.add_consumer`
    adds it to a running stack afterwards (a new consumer never changes the producers).
    """
    return topology.model_copy(
        update={
            "consumers": {k: c for k, c in topology.consumers.items() if c.service != service},
            "http": {k: h for k, h in topology.http.items() if h.service != service},
            "storage": {k: v for k, v in topology.storage.items() if k != service},
        }
    )


def active_stack() -> OneMachineStack | None:
    """The stack running in this process, if any (CLI commands attach to it)."""
    with _active_lock:
        return _active


def _load_handler(name: str, dotted: str) -> Handler:
    try:
        return resolve_handler(dotted)
    except (ImportError, ValueError) as exc:
        raise StackError(f"cannot load the handler of {name!r} ({dotted}): {exc}") from exc


class OneMachineStack:
    def __init__(
        self,
        *,
        state_dir: Path | str = ".ocrpipe",
        stage: str = "local",
        topology: Topology | None = None,
        consumers: Sequence[str] = (),
        workers: Mapping[str, int] | None = None,
        api_port: int = 0,
        api_host: str = "127.0.0.1",
        retry_backoff_s: float = 1.0,
        poll_wait_s: int = 1,
        env: Mapping[str, str] | None = None,
        attachable: bool = False,
        cors_origins: Sequence[str] = (),
        fault_plan: faults.FaultPlan | None = None,
    ) -> None:
        """``attachable``: other processes' commands may use this stack (``ocrpipe up``); a
        command's own stack holds the data directory without inviting them. ``api_host``: the
        address the API (and the web page) binds to: loopback unless told otherwise
        (``0.0.0.0`` lets phones on the network in). ``cors_origins``:
        browser origins allowed to call the API (``*`` for any), as API Gateway's CORS.
        ``fault_plan``: faults to inject while the stack runs (:mod:`ocrpipe_local.faults`)."""
        if not STAGE_PATTERN.fullmatch(stage):
            raise ValueError(
                f"stage {stage!r} must be 1-10 lower-case letters/digits, starting with a letter"
            )
        self.state_dir = Path(state_dir)
        self.consumer_packages = tuple(consumers)
        # The repository's services (or the given topology) plus extra consumer packages.
        if topology is None:
            self.topology = discover(consumers)
        else:
            self.topology = topology.adding(*package_declarations(consumers))
        self.place = Place(stage=stage, account=loopback.ACCOUNT, region=loopback.REGION)
        self.worker_counts = default_workers(self.topology)
        self.worker_counts.update(workers or {})
        unknown = set(self.worker_counts) - set(self.topology.consumers)
        if unknown:
            raise ValueError(f"no such consumer(s) in the topology: {sorted(unknown)}")
        self.api_port = api_port
        self.api_host = api_host
        self.cors_origins = tuple(cors_origins)
        self.retry_backoff_s = retry_backoff_s
        self.poll_wait_s = poll_wait_s
        self.extra_env = dict(env or {})
        self.fault_plan = fault_plan if fault_plan is not None and fault_plan.active else None
        self._supervisor: threading.Thread | None = None
        #: Workers started in place of ones an injected fault killed.
        self.restarted_workers = 0
        self.endpoint_url = ""
        self.provisioned: Provisioned | None = None
        self.archive: EventArchive | None = None
        self.workers: list[QueueWorker] = []
        self._api: LocalHttpApi | None = None
        self._stop = threading.Event()
        self._saved_env: dict[str, str | None] = {}
        self._output = FunctionOutput(self.state_dir / "logs" / "functions.jsonl")
        self._log_handler: logging.Handler | None = None
        self._running = False
        self.attachable = attachable
        self._claim: attach.Claim | None = None
        self._durable: durable.DurableState | None = None
        #: What the start found in the data directory (objects, items, messages, seconds).
        self.restored: durable.Restored | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def __enter__(self) -> OneMachineStack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> OneMachineStack:
        global _active
        with _active_lock:
            if _active is not None:
                raise StackError(
                    "another OneMachineStack is running in this process; stop it first"
                )
            _active = self
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._claim = attach.Claim(self.state_dir)  # one stack per data directory
        self._running = True
        self.state_dir.mkdir(parents=True, exist_ok=True)
        (self.state_dir / "outbox").mkdir(exist_ok=True)
        self._start_runtime_log()
        try:
            self._durable = durable.DurableState(self.state_dir)
        except (durable.DurableStateError, sqlite3.DatabaseError) as exc:
            raise StackError(f"cannot use the state in {self.state_dir}: {exc}") from exc
        self.endpoint_url = emulator.ensure_server()
        self._saved_env = loopback.point_environment_at(self.endpoint_url)
        # Keys before provisioning (it finds their aliases), the rest once resources exist.
        self._durable.restore_keys(self.place.account, self.place.region)
        self.provisioned = self._provisioner().provision(
            state_dir=self.state_dir,
            webhook_secret=self._webhook_secret(),
            link_secret=self._durable.setting("link_secret", lambda: secrets.token_hex(32)),
        )
        self._keep_state()
        env: dict[str, str | None] = {
            k: v for k, v in FUNCTION_ENV_DEFAULTS.items() if k not in os.environ
        }
        env.update(self.provisioned.env)
        env.update(self.extra_env)
        self._remember(loopback.apply_environment(env))

        self._output.open()
        serialise_powertools_metrics()
        handlers = {n: _load_handler(n, c.handler) for n, c in self.topology.consumers.items()}
        routes = [
            Route(
                method,
                path,
                f"{api.service}-{self.place.stage}-{name}",
                _load_handler(name, api.handler),
                service=api.service,
            )
            for name, api in self.topology.http.items()
            for method, path in map(parse_route, api.routes)
        ]
        self._output.capture_powertools_loggers()

        assert self.provisioned.archive_queue is not None
        self.archive = EventArchive(
            aws.client("sqs"), self.provisioned.archive_queue.url, self.state_dir / "archive.jsonl"
        )
        self.archive.start()
        self._stop.clear()
        if self.fault_plan is not None:
            faults.install(self.fault_plan)
            log.warning("fault injection on: %s", self.fault_plan.describe())
        self._api = LocalHttpApi(
            routes,
            account=self.place.account,
            region=self.place.region,
            host=self.api_host,
            port=self.api_port,
            output=self._output.file,
            cors_origins=self.cors_origins,
            openapi=self.openapi,
            static_dir=WEB_DIR if WEB_DIR.is_dir() else None,
            upload_proxy={
                upload_proxy_path(bucket): f"{self.endpoint_url}/{bucket}"
                for bucket in self.provisioned.upload_buckets
            },
        )
        self._api.start()
        # Links to results point at this API (known once it listens); see ocrpipe.links.
        self._remember(loopback.apply_environment({"OCRPIPE_PUBLIC_API_URL": self._api.url}))
        # The handlers build their settings and clients once per container: from here on
        # (the environment is whole), as Lambda would after a deploy.
        container.cold_start()
        for name, consumer in self.provisioned.consumers.items():
            self._start_workers(consumer, handlers[name])
        # Up means ready: each worker has built its handler's container (engine, models).
        deadline = time.monotonic() + WARM_TIMEOUT_S
        for worker in self.workers:
            worker.ready.wait(max(0.0, deadline - time.monotonic()))
        self._supervisor = threading.Thread(
            target=self._supervise, name="ocrpipe-supervisor", daemon=True
        )
        self._supervisor.start()
        self._claim.publish(
            attach.RuntimeInfo(
                pid=os.getpid(),
                api_url=self._api.url,
                endpoint_url=self.endpoint_url,
                stage=self.place.stage,
                started_at=time.time(),
                attachable=self.attachable,
                queues={n: c.queue.url for n, c in self.provisioned.consumers.items()},
                dlqs={n: c.dlq.url for n, c in self.provisioned.consumers.items()},
                consumer_packages=list(self.consumer_packages),
            )
        )
        log.info(
            "stack %s up: api %s, emulator %s", self.place.stage, self.api_url, self.endpoint_url
        )

    def stop_api(self) -> None:
        """Stop accepting HTTP requests (new uploads); queues and workers go on."""
        if self._api is not None:
            self._api.stop()
            self._api = None

    def stop(self) -> None:
        """Stop accepting requests, let in-flight batches finish, restore the environment."""
        global _active
        if self._api is not None:
            self._api.stop()
            self._api = None
        self._stop.set()
        if self.archive is not None:
            self.archive.request_stop()  # its last poll ends while the workers' do
        if self._supervisor is not None:
            self._supervisor.join()
            self._supervisor = None
        for worker in self.workers:
            worker.join()
        self.workers = []
        if self.fault_plan is not None:
            log.warning("faults injected: %s", faults.injected.snapshot())
            faults.install(None)
        if self.archive is not None:
            self.archive.stop()  # then archives what the workers' last batches published
        if self._durable is not None:
            self._durable.close()  # after the last request that changed anything
            self._durable = None
        self._output.close()
        if self._saved_env:
            loopback.apply_environment(self._saved_env)
            self._saved_env = {}
        container.cold_start()  # nothing built for this stack outlives it
        self._stop_runtime_log()
        self._running = False
        if self._claim is not None:
            self._claim.release()
            self._claim = None
        with _active_lock:
            if _active is self:
                _active = None

    def _start_workers(self, consumer: ProvisionedConsumer, handler: Handler) -> None:
        name = consumer.name
        spec = WorkerSpec(
            consumer=name,
            function_name=f"{consumer.spec.service}-{self.place.stage}-{name}",
            queue_url=consumer.queue.url,
            queue_arn=consumer.queue.arn,
            batch_size=consumer.spec.batch_size,
            visibility_timeout_s=consumer.spec.visibility_timeout_s,
            region=self.place.region,
            account=self.place.account,
            retry_backoff_s=self.retry_backoff_s,
            poll_wait_s=self.poll_wait_s,
            service=consumer.spec.service,
        )
        for index in range(self.worker_counts.get(name, 1)):
            self._start_worker(spec, handler, index)

    def _start_worker(self, spec: WorkerSpec, handler: Handler, index: int) -> QueueWorker:
        worker = QueueWorker(
            spec,
            handler,
            aws.client("sqs"),
            stop=self._stop,
            output=self._output.file,
            index=index,
        )
        worker.start()
        self.workers.append(worker)
        return worker

    def _supervise(self) -> None:
        """Start a new worker in place of each one that died, as Lambda starts a new sandbox
        after one crashed (only injected faults kill workers; see ``faults``)."""
        while not self._stop.wait(0.5):
            for worker in [w for w in self.workers if w.killed and not w.is_alive()]:
                self.workers.remove(worker)
                self._start_worker(worker.spec, worker.handler, worker.index)
                self.restarted_workers += 1

    def openapi(self) -> dict[str, Any]:
        """Every HTTP API's OpenAPI document, merged (``GET /openapi.json``)."""
        from aws_lambda_powertools.event_handler.openapi.merge import OpenAPIMerge

        merged = OpenAPIMerge(title="ocrpipe API (local)", version="1", on_conflict="first")
        for api in self.topology.http.values():
            if api.openapi is not None:
                merged.add_schema(resolve_handler(api.openapi)())  # type: ignore[call-arg]
        schema: dict[str, Any] = merged.get_openapi_schema()
        return schema

    def _webhook_secret(self) -> str:
        """The user's (``OCRPIPE_WEBHOOK_SECRET``, so their receiver can verify signatures), or
        one made at random for this data directory the first time and kept."""
        assert self._durable is not None
        given = os.environ.get("OCRPIPE_WEBHOOK_SECRET")
        return given or self._durable.setting("webhook_secret", lambda: secrets.token_hex(32))

    def _keep_state(self) -> None:
        """Restore the data directory's state into the provisioned resources, and keep it."""
        assert self._durable is not None
        assert self.provisioned is not None
        p = self.provisioned
        if p.notify_key_alias:
            self._durable.save_keys(self.place.account, self.place.region, [p.notify_key_alias])
        restored = self._durable.activate(
            durable.Scope(
                account=self.place.account,
                region=self.place.region,
                buckets=frozenset(p.buckets.values()),
                tables=frozenset(p.tables.values()) | frozenset(p.idempotency_tables.values()),
                idempotency_tables=frozenset(p.idempotency_tables.values()),
                queues=frozenset(q.name for q in p.all_queues()),
            )
        )
        if self.restored is None:  # the start's restore, not a later consumer's
            self.restored = restored

    def _provisioner(self) -> Provisioner:
        return Provisioner(
            self.topology,
            self.place,
            sqs=aws.client("sqs"),
            events=aws.client("events"),
            s3=aws.client("s3"),
            dynamodb=aws.client("dynamodb"),
            kms=aws.client("kms"),
            ses=aws.client("ses"),
        )

    def _remember(self, previous: dict[str, str | None]) -> None:
        for name, value in previous.items():
            self._saved_env.setdefault(name, value)

    def _start_runtime_log(self) -> None:
        path = self.state_dir / "logs" / "runtime.log"
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(threadName)s %(message)s")
        )
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
        self._log_handler = handler

    def _stop_runtime_log(self) -> None:
        if self._log_handler is not None:
            log.removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None

    # -- what callers use ----------------------------------------------------------------------

    @property
    def api_url(self) -> str:
        if self._api is None:
            raise StackError("the stack is not running")
        return self._api.url

    @property
    def network_url(self) -> str | None:
        """The API's (and web page's) address for other devices, if it listens beyond
        loopback (``api_host``)."""
        if self._api is None:
            raise StackError("the stack is not running")
        return self._api.network_url

    @property
    def outbox_dir(self) -> Path:
        return (self.state_dir / "outbox").resolve()

    @property
    def functions_log(self) -> Path:
        return self._output.path

    @property
    def resources(self) -> Provisioned:
        if self.provisioned is None:
            raise StackError("the stack is not running")
        return self.provisioned

    def client(self, service_name: str) -> Any:
        """A boto3 client for the emulator (only while the stack runs)."""
        return aws.client(service_name)

    def add_consumer(
        self,
        name: str,
        *,
        source: Topology | ServiceDeclaration | None = None,
        workers: int | None = None,
    ) -> ProvisionedConsumer:
        """Subscribe a new consumer to the running stack, as deploying it to AWS would.

        The consumer's spec comes from ``source``: a topology, the declaration of the service
        it belongs to (``ocrpipe.topology.load_declaration(PKG)`` for a consumer package), or by
        default the repository's services (:func:`ocrpipe_local.discovery.discover`). Its
        service's storage and HTTP routes are added if the stack does not have them yet, the
        queue, DLQ and rule are created, the ``OCRPIPE_*`` variables set, and workers started.
        Only events published from now on reach it; :mod:`ocrpipe_local.operations.replay` fills its
        history from the archive.
        """
        if self.provisioned is None or not self._running or self._api is None:
            raise StackError("the stack is not running")
        if isinstance(source, ServiceDeclaration):
            full = Topology.assemble([source], names=self.topology.names)
        else:
            full = source if source is not None else discover()
        if name not in full.consumers:
            raise StackError(f"no consumer {name!r} in the topology")
        if name in self.provisioned.consumers:
            raise StackError(f"consumer {name!r} is already running")
        spec = full.consumers[name]
        service = spec.service
        storage = dict(self.topology.storage)
        if service not in storage and service in full.storage:
            storage[service] = full.storage[service]
        new_http = {
            k: h
            for k, h in full.http.items()
            if h.service == service and k not in self.topology.http
        }
        self.topology = self.topology.model_copy(
            update={
                "consumers": {**self.topology.consumers, name: spec},
                "http": {**self.topology.http, **new_http},
                "storage": storage,
            }
        )
        if workers is not None:
            if workers < 1:
                raise ValueError("workers must be >= 1")
            self.worker_counts[name] = workers
        else:
            self.worker_counts.setdefault(name, default_workers(self.topology)[name])

        provisioner = self._provisioner()
        owned = self.topology.owned_storage().get(service)
        if owned is not None and service not in self._provisioned_services():
            for create in provisioner.storage_plan(service, owned, self.provisioned):
                create()
        consumer = provisioner.ensure_consumer(name, spec, custom_bus=self.provisioned.bus_name)
        self.provisioned.consumers[name] = consumer
        self._keep_state()  # its queues, and its service's tables and bucket, are kept too
        env = environment(
            self.provisioned,
            state_dir=self.state_dir,
            webhook_secret=self.provisioned.env["OCRPIPE_WEBHOOK_SECRET"],
            link_secret=self.provisioned.env["OCRPIPE_LINK_SECRET"],
        )
        added = {k: v for k, v in env.items() if self.provisioned.env.get(k) != v}
        added = {k: v for k, v in added.items() if k not in self.extra_env}
        self.provisioned.env.update(added)
        self._remember(loopback.apply_environment(dict(added)))
        container.cold_start()  # every handler sees the new environment from now on

        handler = _load_handler(name, spec.handler)
        routes = [
            Route(
                method,
                path,
                f"{api.service}-{self.place.stage}-{api_name}",
                _load_handler(api_name, api.handler),
                service=api.service,
            )
            for api_name, api in new_http.items()
            for method, path in map(parse_route, api.routes)
        ]
        self._start_workers(consumer, handler)
        if routes:
            self._api.routes = [*self._api.routes, *routes]
        log.info("consumer %s added to stack %s", name, self.place.stage)
        return consumer

    def _provisioned_services(self) -> set[str]:
        assert self.provisioned is not None
        p = self.provisioned
        return set(p.buckets) | set(p.tables) | set(p.idempotency_tables)

    def invocations(self) -> dict[str, int]:
        """Records each consumer's handler was given so far (redeliveries count again)."""
        counts: dict[str, int] = dict.fromkeys(self.resources.consumers, 0)
        for worker in self.workers:
            counts[worker.spec.consumer] = (
                counts.get(worker.spec.consumer, 0) + worker.stats.records
            )
        return counts

    def wait_for(
        self,
        document_ids: Collection[str],
        timeout: float,
        *,
        notified: Collection[str] = (),
        on_event: Callable[[ArchivedEvent], None] | None = None,
    ) -> dict[str, list[ArchivedEvent]]:
        """Each document's events once all reached an outcome (or ``timeout`` passed);
        ``on_event`` is called with each of their events as it arrives (within a second).

        A document is done at its first terminal pipeline event (WordsCounted,
        DocumentRejected, OcrFailed) and, for ids in ``notified``, a NotificationSent/Failed.
        Returns whatever was archived at the deadline; callers check :func:`document_is_done`.
        """
        if self.archive is None:
            raise StackError("the stack is not running")
        ids = set(document_ids)
        must_notify = set(notified)

        def all_done(events: list[ArchivedEvent]) -> bool:
            by_doc: dict[str, list[ArchivedEvent]] = {d: [] for d in ids}
            for event in events:
                if event.document_id in by_doc:
                    by_doc[event.document_id].append(event)
            return all(
                document_is_done(evs, needs_notification=d in must_notify)
                for d, evs in by_doc.items()
            )

        deadline = time.monotonic() + timeout
        quiet = 0
        told: dict[str, int] = {}

        def tell() -> None:
            if on_event is None or self.archive is None:
                return
            for document_id, events in self.archive.for_documents(ids).items():
                for event in events[told.get(document_id, 0) :]:
                    on_event(event)
                told[document_id] = len(events)

        while True:
            remaining = deadline - time.monotonic()
            finished = self.archive.wait_until(all_done, max(0.0, min(remaining, 1.0)))
            tell()
            if finished:
                break
            if remaining <= 0:
                break
            # Nothing queued, nothing in flight, archive drained: no event can come any more
            # (e.g. a notification whose message went to the DLQ). Stop waiting.
            quiet = quiet + 1 if self.is_idle() else 0
            if quiet >= 3:
                break
        return self.archive.for_documents(ids)

    def is_idle(self) -> bool:
        """No worker busy and every non-dead-letter queue (the archive's too) empty."""
        if any(w.busy.is_set() for w in self.workers):
            return False
        return all(d.total == 0 for d in self.queue_depths().values() if not d.is_dlq)

    def queue_depths(self) -> dict[str, QueueDepth]:
        sqs = aws.client("sqs")
        depths: dict[str, QueueDepth] = {}
        dlqs = {c.dlq.name for c in self.resources.consumers.values()}
        for queue in self.resources.all_queues():
            attrs = sqs.get_queue_attributes(
                QueueUrl=queue.url,
                AttributeNames=[
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            )["Attributes"]
            depths[queue.name] = QueueDepth(
                visible=int(attrs.get("ApproximateNumberOfMessages", 0)),
                in_flight=int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
                delayed=int(attrs.get("ApproximateNumberOfMessagesDelayed", 0)),
                is_dlq=queue.name in dlqs,
            )
        return depths

    def drain(
        self,
        timeout: float = 60.0,
        *,
        settle_checks: int = 2,
        on_depths: Callable[[dict[str, int]], None] | None = None,
    ) -> bool:
        """Wait until every (non-dead-letter) queue is empty and every worker idle;
        ``on_depths`` is told the messages left per queue as it goes."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            if on_depths is not None:
                depths = self.queue_depths()
                on_depths({name: d.total for name, d in depths.items() if not d.is_dlq})
            if self.is_idle():
                quiet += 1
                if quiet >= settle_checks:
                    return True
            else:
                quiet = 0
            time.sleep(0.2)
        return False

    def stuck_messages(self) -> dict[str, QueueDepth]:
        """Queues and DLQs that are not empty right now."""
        return {name: d for name, d in self.queue_depths().items() if d.total}
