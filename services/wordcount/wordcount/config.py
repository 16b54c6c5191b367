"""The wordcount service's settings (see ``docs/configuration.md``)."""

from __future__ import annotations

from pydantic import Field

from ocrpipe.settings import ServiceSettings


class Settings(ServiceSettings):
    wordcount_bucket: str = Field(min_length=3, description="Bucket for count results (owned).")
    wordcount_idempotency_table: str = Field(
        min_length=3, description="Powertools idempotency table."
    )
    idempotency_expiry_s: int = Field(default=604_800, ge=60)
