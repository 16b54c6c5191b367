"""ocrpipe's wiring: the naming rules, and each service's own declaration of what it consumes.

Two kinds of definition, kept apart on purpose:

* **Naming rules** (``names.json``, here in shared): the deterministic name of every resource
  from the stage, service and consumer. Every service and the local runtime need them.
* **Service declarations** (``ocrpipe-service.json``, one per service, in the service's own
  folder): the events the service consumes (rule pattern, handler, queue settings), its HTTP
  routes and the storage it owns. They are read by the service's own ``serverless.yml``
  (through ``shared/topology.js``) and by the local runtime, which discovers them
  (``services/*/ocrpipe-service.json`` and extra packages). Nothing in shared lists who
  listens, so a new consumer changes nothing a producer ships.

:class:`Topology` is the assembled view of a deployment: the names plus the declarations of
the services in it.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

#: The file a service declares itself in: beside its handler package in its service folder
#: (``services/<service>/ocrpipe-service.json``), or as package data of a handler package that
#: lives anywhere else.
DECLARATION_FILE = "ocrpipe-service.json"

#: A service's name, as it appears in resource names (``ocrpipe-<stage>-<service>-...``): at
#: most 16 characters so the longest name (a bucket, <= 63) fits.
ServiceName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9]{0,15}$")]
#: A consumer's name, as it appears in queue and rule names (``ocrpipe-<stage>-<consumer>-dlq``).
ConsumerName = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$", max_length=40)
]
#: ``package.module.function`` of a Lambda handler.
HandlerPath = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+$")
]


class Subscription(BaseModel):
    """One consumer as its service declares it: a rule on a bus -> its queue (+ DLQ) -> handler."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handler: HandlerPath = Field(description="Dotted path module.function of the Lambda handler.")
    bus: Literal["default", "custom"] = Field(
        description="custom: the ocrpipe bus (domain events); default: the account's bus (S3)."
    )
    pattern: dict[str, Any] = Field(
        description="EventBridge event pattern; {stage} {account} {region} are filled per place."
    )
    batch_size: int = Field(ge=1, le=10)
    max_receive_count: int = Field(ge=1, description="Deliveries before the DLQ.")
    visibility_timeout_s: int = Field(ge=1, le=43200)
    max_concurrency: int = Field(ge=2, le=1000)


class Consumer(Subscription):
    """A subscription with the service that declared it."""

    service: ServiceName


class Routes(BaseModel):
    """An HTTP API function as its service declares it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    handler: HandlerPath
    routes: list[str] = Field(description='"METHOD /path/{param}" route keys.')
    openapi: HandlerPath | None = Field(
        default=None,
        description="Dotted path of a function returning this API's OpenAPI document (a "
        "dict); the local runtime merges every service's at GET /openapi.json.",
    )


class HttpApi(Routes):
    service: ServiceName


class Storage(BaseModel):
    """What a service owns. Tables: hash key ``pk`` (S), TTL ``expires_at``; idempotency
    tables (powertools): hash key ``id`` (S), TTL ``expiration``. Named by ``names``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: bool = False
    table: bool = False
    idempotency_table: bool = False


class ServiceDeclaration(BaseModel):
    """``ocrpipe-service.json``: what one service consumes, serves and owns."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    schema_uri: str = Field(default="", alias="$schema", description="Editor hint; ignored.")
    comment: str = Field(default="", alias="_comment")
    service: ServiceName
    consumers: dict[ConsumerName, Subscription] = Field(default_factory=dict)
    http: dict[ConsumerName, Routes] = Field(default_factory=dict)
    storage: Storage = Field(default_factory=Storage)


class Topology(BaseModel):
    """A deployment: the naming rules and the declarations of the services in it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: str = Field(default="", alias="_comment")
    names: dict[str, str]
    consumers: dict[str, Consumer]
    http: dict[str, HttpApi]
    storage: dict[str, Storage]

    def owned_storage(self) -> dict[str, Storage]:
        return dict(self.storage)

    @classmethod
    def assemble(
        cls, declarations: Iterable[ServiceDeclaration], *, names: dict[str, str] | None = None
    ) -> Topology:
        """The topology of these services; a service, consumer or API declared twice is an
        error (two folders or packages claiming one name would share its queue)."""
        return cls(names=dict(names or naming_rules()), consumers={}, http={}, storage={}).adding(
            *declarations
        )

    def adding(self, *declarations: ServiceDeclaration) -> Topology:
        """This topology plus ``declarations`` (services it does not have yet)."""
        consumers = dict(self.consumers)
        http = dict(self.http)
        storage = dict(self.storage)
        services = self.services()
        for declaration in declarations:
            service = declaration.service
            if service in services:
                raise ValueError(f"service {service!r} is declared twice")
            services.add(service)
            storage[service] = declaration.storage
            for name, sub in declaration.consumers.items():
                if name in consumers:
                    raise ValueError(
                        f"consumer {name!r} of {service!r} is already declared by "
                        f"{consumers[name].service!r}"
                    )
                consumers[name] = Consumer(service=service, **sub.model_dump())
            for name, routes in declaration.http.items():
                if name in http:
                    raise ValueError(f"HTTP API {name!r} of {service!r} is declared twice")
                http[name] = HttpApi(service=service, **routes.model_dump())
        return self.model_copy(update={"consumers": consumers, "http": http, "storage": storage})

    def services(self) -> set[str]:
        return (
            set(self.storage)
            | {c.service for c in self.consumers.values()}
            | {h.service for h in self.http.values()}
        )

    def declaration(self, service: str) -> ServiceDeclaration:
        """What ``service`` declared (its part of this topology)."""
        if service not in self.services():
            raise KeyError(f"no service {service!r} in the topology")
        return ServiceDeclaration(
            service=service,
            consumers={
                n: Subscription(**c.model_dump(exclude={"service"}))
                for n, c in self.consumers.items()
                if c.service == service
            },
            http={
                n: Routes(**h.model_dump(exclude={"service"}))
                for n, h in self.http.items()
                if h.service == service
            },
            storage=self.storage.get(service, Storage()),
        )


@dataclass(frozen=True)
class Place:
    """Where a deployment lives: fills the placeholders of names and patterns."""

    stage: str = "local"
    account: str = "123456789012"
    region: str = "us-east-1"

    def name(
        self,
        kind: str,
        *,
        service: str = "",
        consumer: str = "",
        topology: Topology | None = None,
    ) -> str:
        """The resource name of ``kind``; ``topology`` defaults to the shared naming rules."""
        template = (topology.names if topology is not None else naming_rules())[kind]
        return template.format(
            stage=self.stage,
            account=self.account,
            region=self.region,
            service=service,
            consumer=consumer,
        )

    def pattern(self, consumer: str, *, topology: Topology) -> dict[str, Any]:
        """The consumer's event pattern with placeholders filled."""
        return self.fill(topology.consumers[consumer].pattern)

    def fill(self, pattern: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(pattern)
        for key, value in (
            ("stage", self.stage),
            ("account", self.account),
            ("region", self.region),
        ):
            raw = raw.replace("{" + key + "}", value)
        result: dict[str, Any] = json.loads(raw)
        return result


@cache
def naming_rules() -> dict[str, str]:
    """``names.json``: resource-name templates by kind (``bus``, ``queue``, ``table``...)."""
    text = resources.files("ocrpipe").joinpath("names.json").read_text(encoding="utf-8")
    raw: dict[str, str] = json.loads(text)
    return {k: v for k, v in raw.items() if not k.startswith("_")}


def read_declaration(path: Path) -> ServiceDeclaration:
    """A declaration file; a ``ValueError`` naming the file when it is invalid."""
    try:
        return ServiceDeclaration.model_validate_json(path.read_bytes())
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from exc


@cache
def load_declaration(package: str) -> ServiceDeclaration:
    """The declaration of the service whose handlers are in ``package``.

    Found as package data of ``package`` (a consumer shipped as its own distribution), else
    beside the package directory: ``services/<service>/ocrpipe-service.json`` next to
    ``services/<service>/<package>/`` in the repository, and at the root of the service's
    Lambda zip, where ``<package>/`` is too.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"{package!r} is not an importable package")
    shipped = resources.files(package).joinpath(DECLARATION_FILE)
    if shipped.is_file():
        try:
            return ServiceDeclaration.model_validate_json(shipped.read_bytes())
        except ValueError as exc:
            raise ValueError(f"{package}/{DECLARATION_FILE}: {exc}") from exc
    for location in spec.submodule_search_locations:
        beside = Path(location).parent / DECLARATION_FILE
        if beside.is_file():
            return read_declaration(beside)
    raise ValueError(
        f"package {package!r} ships no {DECLARATION_FILE} (as package data, or beside it)"
    )


def is_final_attempt(approximate_receive_count: object, package: str, consumer: str) -> bool:
    """Whether this delivery of a message is its queue's last before the dead-letter queue.

    A stage that would fail a message for a passing fault tells the user instead on the last
    delivery (``max_receive_count`` of ``consumer`` in ``package``'s own declaration): a
    message that just goes to the DLQ leaves them waiting forever."""
    try:
        received = int(str(approximate_receive_count))
    except (TypeError, ValueError):
        return False
    return received >= load_declaration(package).consumers[consumer].max_receive_count
