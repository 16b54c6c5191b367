"""Content-hash cache: a document read once is never sent to the engine again.

The key is the document's sha256 plus the engine's fingerprint (engine, version, language,
page segmentation and preprocessing version), so changing any of them re-reads documents
instead of serving text produced by another pipeline. The ocr table row
``pk = "text#<sha256>#<fingerprint>"`` points at the text stored in the ocr bucket at
``text/<sha256>/<fingerprint>.txt``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from botocore.exceptions import ClientError

from ocrpipe import aws
from ocrpipe.events import Language, PageRead
from ocrpipe.storage import S3Location

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

#: How long a cache row lives (DynamoDB TTL on ``expires_at``).
CACHE_TTL_S = 90 * 24 * 3600


@dataclass(frozen=True)
class CachedText:
    text_uri: str
    page_count: int
    mean_confidence: float
    char_count: int
    engine_version: str
    language: Language | None = None
    pages: tuple[PageRead, ...] = ()
    warnings: tuple[str, ...] = field(default=())

    def details_json(self) -> str:
        """Language, pages and warnings as one JSON attribute of the cache row."""
        return json.dumps(
            {
                "language": self.language,
                "pages": [page.model_dump(mode="json") for page in self.pages],
                "warnings": list(self.warnings),
            },
            separators=(",", ":"),
        )


def _details(raw: str | None) -> dict[str, Any]:
    """The parsed details attribute; rows written before it existed have none."""
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def cache_key(sha256: str, fingerprint: str) -> str:
    return f"text#{sha256}#{fingerprint}"


def text_key(sha256: str, fingerprint: str) -> str:
    return f"text/{sha256}/{fingerprint}.txt"


class TextCache(Protocol):
    def get(self, sha256: str, fingerprint: str) -> CachedText | None: ...

    def put(self, sha256: str, fingerprint: str, entry: CachedText) -> None: ...


class DynamoTextCache:
    """The cache in the ocr table; a row whose text object is gone counts as a miss."""

    def __init__(self, dynamodb: DynamoDBClient, table: str, s3: S3Client) -> None:
        self._dynamodb = dynamodb
        self._table = table
        self._s3 = s3

    def get(self, sha256: str, fingerprint: str) -> CachedText | None:
        item = self._dynamodb.get_item(
            TableName=self._table,
            Key={"pk": {"S": cache_key(sha256, fingerprint)}},
            ConsistentRead=True,
        ).get("Item")
        if not item:
            return None
        details = _details(item.get("details", {}).get("S"))
        entry = CachedText(
            text_uri=item["text_uri"]["S"],
            page_count=int(item["page_count"]["N"]),
            mean_confidence=float(item["mean_confidence"]["N"]),
            char_count=int(item["char_count"]["N"]),
            engine_version=item.get("engine_version", {}).get("S", ""),
            language=details.get("language"),
            pages=tuple(PageRead.model_validate(page) for page in details.get("pages", [])),
            warnings=tuple(str(w) for w in details.get("warnings", [])),
        )
        return entry if s3_object_exists(self._s3, entry.text_uri) else None

    def put(self, sha256: str, fingerprint: str, entry: CachedText) -> None:
        self._dynamodb.put_item(
            TableName=self._table,
            Item={
                "pk": {"S": cache_key(sha256, fingerprint)},
                "text_uri": {"S": entry.text_uri},
                "page_count": {"N": str(entry.page_count)},
                "mean_confidence": {"N": str(Decimal(str(entry.mean_confidence)))},
                "char_count": {"N": str(entry.char_count)},
                "engine_version": {"S": entry.engine_version},
                "details": {"S": entry.details_json()},
                "expires_at": {"N": str(int(time.time()) + CACHE_TTL_S)},
            },
        )


def s3_object_exists(s3: S3Client, uri: str) -> bool:
    """Whether the object at ``uri`` is there (a HEAD); any other failure is raised."""
    location = S3Location.parse(uri)
    try:
        s3.head_object(Bucket=location.bucket, Key=location.key)
    except ClientError as exc:
        if aws.is_not_found(exc):
            return False
        raise
    return True


class InMemoryTextCache:
    """A dict-backed cache for unit tests and one-off runs."""

    def __init__(self) -> None:
        self.entries: dict[str, CachedText] = {}

    def get(self, sha256: str, fingerprint: str) -> CachedText | None:
        return self.entries.get(cache_key(sha256, fingerprint))

    def put(self, sha256: str, fingerprint: str, entry: CachedText) -> None:
        self.entries[cache_key(sha256, fingerprint)] = entry
