"""The ocr service's settings (see ``docs/configuration.md``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ocrpipe.settings import ServiceSettings


class Settings(ServiceSettings):
    ocr_bucket: str = Field(min_length=3, description="Bucket for OCR text (owned by ocr).")
    ocr_table: str = Field(min_length=3, description="Content-hash cache table.")
    ocr_idempotency_table: str = Field(min_length=3, description="Powertools idempotency table.")
    ocr_engine: Literal["tesseract", "textract"] = "tesseract"
    tesseract_lang: str = Field(default="eng", pattern=r"^[A-Za-z_]+(\+[A-Za-z_]+)*$")
    pdf_dpi: int = Field(default=300, ge=72, le=600)
    delete_uploads_after_ocr: bool = True
    max_image_pixels: int = Field(default=50_000_000, ge=1_000_000)
    idempotency_expiry_s: int = Field(default=604_800, ge=60)
