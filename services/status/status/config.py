"""The status service's settings (see ``docs/configuration.md``)."""

from __future__ import annotations

from pydantic import Field

from ocrpipe.settings import ServiceSettings


class Settings(ServiceSettings):
    status_table: str = Field(min_length=3, description="The read-model table (owned by status).")
    status_retention_days: int = Field(
        default=30, ge=1, le=3650, description="Days a record is kept after its last event."
    )
