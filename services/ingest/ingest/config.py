"""The ingest service's settings (see ``docs/configuration.md``)."""

from __future__ import annotations

from pydantic import Field

from ingest.validation import Limits
from ocrpipe.settings import ServiceSettings


class ValidationSettings(ServiceSettings):
    """What checking a document needs; all the backfill function reads."""

    max_upload_bytes: int = Field(default=10 * 1024 * 1024, ge=1, le=5 * 1024**3)
    max_pages: int = Field(default=50, ge=1)
    max_image_pixels: int = Field(default=50_000_000, ge=1_000_000)

    def limits(self) -> Limits:
        return Limits(
            max_bytes=self.max_upload_bytes,
            max_pages=self.max_pages,
            max_image_pixels=self.max_image_pixels,
        )


class Settings(ValidationSettings):
    uploads_bucket: str = Field(min_length=3, description="Bucket uploads land in (ingest's).")
    ingest_table: str = Field(min_length=3, description="Pending uploads and their outcome.")
    presign_expiry_s: int = Field(default=30, ge=1, le=3600)
    upload_proxy_path: str = Field(
        default="",
        pattern=r"^(/[A-Za-z0-9._~/-]*)?$",
        description="Locally: the path of the API that forwards presigned POSTs to the "
        "uploads bucket; upload URLs then point at the API address the caller used (a phone "
        "cannot reach the loopback emulator). Empty on AWS: the bucket's own URL.",
    )
    notify_key_id: str = Field(
        min_length=1, description="KMS key (id, ARN or alias) that encrypts recipients."
    )
