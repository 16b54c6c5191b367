"""The ocr service's settings (see ``docs/configuration.md``)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

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
    textract_sns_topic_arn: str = Field(
        default="",
        pattern=r"^(arn:[a-z-]+:sns:[a-z0-9-]+:[0-9]{12}:[A-Za-z0-9_-]+)?$",
        description="SNS topic Textract reports finished asynchronous jobs (PDF/TIFF) to.",
    )
    textract_role_arn: str = Field(
        default="",
        pattern=r"^(arn:[a-z-]+:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@/_-]+)?$",
        description="Role Textract assumes to publish to that topic.",
    )

    @model_validator(mode="after")
    def _textract_channel_is_whole(self) -> Settings:
        if bool(self.textract_sns_topic_arn) != bool(self.textract_role_arn):
            raise ValueError(
                "set both OCRPIPE_TEXTRACT_SNS_TOPIC_ARN and OCRPIPE_TEXTRACT_ROLE_ARN, or neither"
            )
        return self
