"""Typed access to ``topology.json``, the one definition of ocrpipe's wiring.

The same JSON file is read by every service's ``serverless.yml`` (through
``shared/topology.js``) and by the local runtime, so the rules a consumer subscribes with in
AWS are exactly the ones the local stack creates.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

ServiceName = Literal["ingest", "ocr", "wordcount", "notify", "status"]


class Consumer(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: ServiceName
    handler: str = Field(description="Dotted path module.function of the Lambda handler.")
    bus: Literal["default", "custom"]
    pattern: dict[str, Any]
    batch_size: int = Field(ge=1, le=10)
    max_receive_count: int = Field(ge=1)
    visibility_timeout_s: int = Field(ge=1, le=43200)
    max_concurrency: int = Field(ge=2, le=1000)


class HttpApi(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    service: ServiceName
    handler: str
    routes: list[str]


class Storage(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bucket: bool
    table: bool
    idempotency_table: bool


class Topology(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    comment: str = Field(default="", alias="_comment")
    names: dict[str, str]
    consumers: dict[str, Consumer]
    http: dict[str, HttpApi]
    storage: dict[str, Storage | str]

    def owned_storage(self) -> dict[str, Storage]:
        return {k: v for k, v in self.storage.items() if isinstance(v, Storage)}


@dataclass(frozen=True)
class Place:
    """Where a deployment lives: fills the placeholders of topology names and patterns."""

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
        """The resource name of ``kind``; ``topology`` defaults to the packaged one."""
        template = (topology or load()).names[kind]
        return template.format(
            stage=self.stage,
            account=self.account,
            region=self.region,
            service=service,
            consumer=consumer,
        )

    def pattern(self, consumer: str, *, topology: Topology | None = None) -> dict[str, Any]:
        """The consumer's event pattern with placeholders filled."""
        raw = json.dumps((topology or load()).consumers[consumer].pattern)
        for key, value in (
            ("stage", self.stage),
            ("account", self.account),
            ("region", self.region),
        ):
            raw = raw.replace("{" + key + "}", value)
        result: dict[str, Any] = json.loads(raw)
        return result


@cache
def load() -> Topology:
    text = resources.files("ocrpipe").joinpath("topology.json").read_text(encoding="utf-8")
    return Topology.model_validate_json(text)
