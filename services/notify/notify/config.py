"""The notify service's settings (see ``docs/configuration.md``)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from ocrpipe.settings import ServiceSettings


class Settings(ServiceSettings):
    notify_idempotency_table: str = Field(
        min_length=3, description="Powertools idempotency records (no double sends)."
    )
    sender_email: str = Field(
        pattern=r"^[^@\s]+@[^@\s]+$", description="Verified SES sender address."
    )
    outbox_dir: Path | None = Field(
        default=None, description="When set, every sent email is also written here as .eml."
    )
    webhook_secret: SecretStr = Field(
        min_length=16, description="HMAC-SHA256 key for signing webhook deliveries."
    )
    idempotency_expiry_s: int = Field(default=604_800, ge=60)
