"""The S3 "Object Created" event, as EventBridge delivers it to ingest's queue.

Shape: powertools' ``S3EventNotificationEventBridgeModel``; parsed tolerantly here because
moto leaves out fields AWS sends (``account``; ``request-id`` etc. may vary) and spells the
etag ``eTag`` where AWS writes ``etag``. Only what ingest uses is required: the bucket name
and the object key.
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from ocrpipe.envelope import Envelope

S3_SOURCE = "aws.s3"
OBJECT_CREATED = "Object Created"


class NotAnObjectCreatedEventError(ValueError):
    """The message on ingest's queue is not an S3 Object Created event (a wiring mistake)."""


class _Bucket(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=3)


class _Object(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    key: str = Field(min_length=1)
    size: int | None = None
    etag: str | None = Field(default=None, validation_alias=AliasChoices("etag", "eTag"))
    version_id: str | None = Field(default=None, alias="version-id")
    sequencer: str | None = None


class _Detail(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    bucket: _Bucket
    object_: _Object = Field(alias="object")
    reason: str | None = None


class ObjectCreated(BaseModel):
    """What ingest needs to know about a new object. ``key`` is as the event carries it."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    bucket: str
    key: str
    size: int | None = None
    etag: str | None = None


def parse_object_created(envelope: Envelope) -> ObjectCreated:
    if envelope.source != S3_SOURCE or envelope.detail_type != OBJECT_CREATED:
        raise NotAnObjectCreatedEventError(
            f"expected {S3_SOURCE}/{OBJECT_CREATED}, got {envelope.source}/{envelope.detail_type}"
        )
    detail = _Detail.model_validate(envelope.detail)
    return ObjectCreated(
        event_id=envelope.id,
        bucket=detail.bucket.name,
        key=detail.object_.key,
        size=detail.object_.size,
        etag=detail.object_.etag,
    )
