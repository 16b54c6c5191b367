"""The presigned POST a client uploads its file with.

It is bound to one exact key, one exact ``Content-Type``, a size range of 1 byte to the
declared size (never more than the service limit) and a short lifetime. S3 enforces the
policy in AWS; the local emulator does not, which is why ingest checks the real bytes too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class PresignedUpload:
    url: str
    fields: dict[str, str]
    expires_in_s: int


def upload_conditions(content_type: str, max_length: int) -> list[Any]:
    return [{"Content-Type": content_type}, ["content-length-range", 1, max_length]]


def presign_upload(
    s3: S3Client,
    *,
    bucket: str,
    key: str,
    content_type: str,
    declared_size: int,
    max_bytes: int,
    expires_in_s: int,
) -> PresignedUpload:
    # boto3 adds the {"bucket": ...} and exact {"key": ...} conditions itself.
    post = s3.generate_presigned_post(
        Bucket=bucket,
        Key=key,
        Fields={"Content-Type": content_type},
        Conditions=upload_conditions(content_type, min(declared_size, max_bytes)),
        ExpiresIn=expires_in_s,
    )
    fields = {str(k): str(v) for k, v in post["fields"].items()}
    return PresignedUpload(url=post["url"], fields=fields, expires_in_s=expires_in_s)
