"""The ocr stage as plain domain code: document in, stored text (or a typed failure) out.

Order of work for one :class:`~ocrpipe.events.DocumentUploaded`:

1. cache lookup by the content hash the event carries (no download at all on a hit);
2. download the upload, check its hash, decode pages lazily (:mod:`ocr.pages`);
3. run the engine, store the text in the ocr bucket, remember it in the cache;
4. the caller publishes the outcome and only then deletes the upload
   (:meth:`OcrService.discard_upload`), so a retry after a failed publish still finds it.

Permanent failures raise :class:`~ocr.errors.OcrError` subclasses; anything else (S3,
DynamoDB, throttling) propagates so that the queue retries.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import ClientError

from ocr.cache import CachedText, TextCache, s3_object_exists, text_key
from ocr.engines.base import EngineName, OcrEngine, OcrResult
from ocr.errors import NoTextFoundError, SourceGoneError, UnreadableDocumentError
from ocr.pages import iter_pages
from ocrpipe import aws
from ocrpipe.events import DocumentUploaded, Language, PageRead
from ocrpipe.storage import S3Location
from ocrpipe.words import count_words

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectStore(Protocol):
    def get(self, uri: str) -> bytes: ...

    def exists(self, uri: str) -> bool: ...

    def put_text(self, bucket: str, key: str, text: str) -> str: ...

    def delete(self, uri: str) -> None: ...


class S3ObjectStore:
    def __init__(self, s3: S3Client) -> None:
        self._s3 = s3

    def get(self, uri: str) -> bytes:
        location = S3Location.parse(uri)
        try:
            response = self._s3.get_object(Bucket=location.bucket, Key=location.key)
        except ClientError as exc:
            if aws.is_not_found(exc):
                raise SourceGoneError(
                    "The uploaded file is no longer available (it may have expired)."
                ) from exc
            raise
        return response["Body"].read()

    def exists(self, uri: str) -> bool:
        return s3_object_exists(self._s3, uri)

    def put_text(self, bucket: str, key: str, text: str) -> str:
        self._s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=text.encode("utf-8"),
            ContentType="text/plain; charset=utf-8",
        )
        return S3Location(bucket, key).uri

    def delete(self, uri: str) -> None:
        location = S3Location.parse(uri)
        self._s3.delete_object(Bucket=location.bucket, Key=location.key)


@dataclass(frozen=True)
class OcrOutcome:
    text_uri: str
    page_count: int
    mean_confidence: float
    char_count: int
    engine: EngineName
    engine_version: str
    cached: bool
    engine_seconds: float = 0.0
    language: Language | None = None
    pages: tuple[PageRead, ...] = ()
    warnings: tuple[str, ...] = ()
    #: Why a re-read (``reocr``) did not happen and this earlier reading is given instead.
    reread_skipped: str | None = None


@dataclass(frozen=True)
class OcrLimits:
    pdf_dpi: int = 300
    max_image_pixels: int = 50_000_000


_READING_LOCK = threading.Lock()
_READING: dict[str, tuple[threading.Lock, int]] = {}


@contextlib.contextmanager
def _reading(key: str) -> Iterator[None]:
    """A lock per key, dropped when nobody holds or waits for it."""
    with _READING_LOCK:
        lock, users = _READING.get(key, (threading.Lock(), 0))
        _READING[key] = (lock, users + 1)
    try:
        with lock:
            yield
    finally:
        with _READING_LOCK:
            lock, users = _READING[key]
            if users <= 1:
                del _READING[key]
            else:
                _READING[key] = (lock, users - 1)


class OcrService:
    def __init__(
        self,
        *,
        engine: OcrEngine,
        cache: TextCache,
        store: ObjectStore,
        text_bucket: str,
        limits: OcrLimits,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._store = store
        self._text_bucket = text_bucket
        self._limits = limits

    @property
    def engine(self) -> OcrEngine:
        return self._engine

    def read(self, uploaded: DocumentUploaded) -> OcrOutcome:
        # One read per content at a time in this process: two uploads of the same bytes
        # arriving together would both miss the cache and run the engine twice; the second
        # now waits and is answered from the cache.
        with _reading(f"{uploaded.sha256}-{uploaded.language or 'auto'}"):
            return self._read(uploaded)

    def _read(self, uploaded: DocumentUploaded) -> OcrOutcome:
        if not uploaded.reocr:
            hit = self.cached(uploaded)
            if hit is not None:
                return hit
        data = self.source(uploaded)
        if data is None:
            kept = self.kept_reading(uploaded)
            assert kept is not None  # source() returns None only when there is one
            return kept
        actual = hashlib.sha256(data).hexdigest()
        if actual != uploaded.sha256:
            raise UnreadableDocumentError(
                "The uploaded file changed after it was checked; please upload it again."
            )
        pages = iter_pages(
            data,
            uploaded.content_type,
            pdf_dpi=self._limits.pdf_dpi,
            max_image_pixels=self._limits.max_image_pixels,
        )
        started = time.perf_counter()
        result = self._engine.read(pages, uploaded.language)
        return self.remember(
            uploaded.sha256, result, time.perf_counter() - started, uploaded.language
        )

    def source(self, uploaded: DocumentUploaded) -> bytes | None:
        """The uploaded bytes; None when a re-read was asked for (``reocr``) but the
        original is gone and an earlier reading of it is kept instead."""
        try:
            return self._store.get(uploaded.source_uri)
        except SourceGoneError:
            if uploaded.reocr and self.kept_reading(uploaded) is not None:
                return None
            raise

    def kept_reading(self, uploaded: DocumentUploaded) -> OcrOutcome | None:
        """For a re-read whose original is gone: the earlier reading, with a warning that
        says so. A replay must not tell a person their document failed when it was read."""
        hit = self.cached(uploaded)
        if hit is None:
            return None
        note = (
            "The original file is no longer stored, so it could not be read again; "
            "the earlier reading is kept."
        )
        return dataclasses.replace(hit, warnings=(*hit.warnings, note), reread_skipped=note)

    def fingerprint(self, language: Language | None) -> str:
        """The cache fingerprint: the engine's, and the language asked for (or "auto").
        Textract finds the language itself: what is asked for does not change its text."""
        if self._engine.name == "textract":
            return self._engine.fingerprint
        return f"{self._engine.fingerprint}-{language or 'auto'}"

    def cached(self, uploaded: DocumentUploaded) -> OcrOutcome | None:
        """The outcome of an earlier read of the same bytes by this engine, if any."""
        hit = self._cache.get(uploaded.sha256, self.fingerprint(uploaded.language))
        if hit is None:
            return None
        return OcrOutcome(
            text_uri=hit.text_uri,
            page_count=hit.page_count,
            mean_confidence=hit.mean_confidence,
            char_count=hit.char_count,
            engine=self._engine.name,
            engine_version=hit.engine_version,
            cached=True,
            language=hit.language,
            pages=hit.pages,
            warnings=hit.warnings,
        )

    def remember(
        self,
        sha256: str,
        result: OcrResult,
        engine_seconds: float,
        requested: Language | None = None,
    ) -> OcrOutcome:
        """Store the engine's text and cache it under the content hash; raises
        :class:`NoTextFoundError` when the engine found no words."""
        fingerprint = self.fingerprint(requested)
        # "No text" by the word rule, so a page of dashes or dot leaders is not a count of 0.
        if count_words(result.text).total == 0:
            raise NoTextFoundError(
                f"No text was found in the {result.page_count}-page document; "
                "is it a photo of text, in focus and well lit?"
            )
        text_uri = self._store.put_text(
            self._text_bucket, text_key(sha256, fingerprint), result.text
        )
        entry = CachedText(
            text_uri=text_uri,
            page_count=result.page_count,
            mean_confidence=result.mean_confidence,
            char_count=len(result.text),
            engine_version=result.engine_version,
            language=result.language,
            pages=result.pages,
            warnings=result.warnings,
        )
        self._cache.put(sha256, fingerprint, entry)
        return OcrOutcome(
            text_uri=text_uri,
            page_count=result.page_count,
            mean_confidence=result.mean_confidence,
            char_count=entry.char_count,
            engine=result.engine,
            engine_version=result.engine_version,
            cached=False,
            engine_seconds=engine_seconds,
            language=result.language,
            pages=result.pages,
            warnings=result.warnings,
        )

    def discard_upload(self, uri: str) -> None:
        """Delete an original once its outcome is published."""
        self._store.delete(uri)
