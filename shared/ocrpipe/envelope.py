"""The EventBridge envelope around a domain event, as consumers receive it.

EventBridge delivers the full envelope to an SQS target as the message body. The local
emulator (moto) omits ``account``; this model therefore makes it optional instead of using
powertools' ``EventBridgeModel`` directly.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ocrpipe.events import EVENTS_BY_DETAIL_TYPE, DomainEvent

E = TypeVar("E", bound=DomainEvent)


class UnknownEventError(ValueError):
    """The envelope carries a detail-type this consumer does not handle."""


class Envelope(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = ""
    source: str
    detail_type: str = Field(alias="detail-type")
    time: datetime | None = None
    account: str | None = None
    region: str | None = None
    resources: list[str] = Field(default_factory=list)
    replay_name: str | None = Field(default=None, alias="replay-name")
    detail: dict[str, Any]

    @classmethod
    def from_sqs_body(cls, body: str) -> Envelope:
        return cls.model_validate(json.loads(body))

    def domain_event(self) -> DomainEvent:
        """The typed event in this envelope, by its detail-type."""
        model = EVENTS_BY_DETAIL_TYPE.get(self.detail_type)
        if model is None or self.source != model.SOURCE:
            raise UnknownEventError(f"no contract for {self.source}/{self.detail_type}")
        return model.model_validate(self.detail)

    def expect(self, *models: type[E]) -> E:
        """The typed event, which must be one of ``models``."""
        for model in models:
            if self.detail_type == model.DETAIL_TYPE and self.source == model.SOURCE:
                return model.model_validate(self.detail)
        names = ", ".join(m.DETAIL_TYPE for m in models)
        raise UnknownEventError(f"expected one of {names}, got {self.source}/{self.detail_type}")
