"""The ocr service's domain logic: cache, hash check, failures (no AWS)."""

from __future__ import annotations

import hashlib
import io
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import pytest
from PIL import Image

from ocr import service as ocr_service
from ocr.cache import InMemoryTextCache, text_key
from ocr.engines.base import EngineName, OcrResult
from ocr.errors import NoTextFoundError, SourceGoneError, UnreadableDocumentError
from ocr.pages import Page
from ocr.service import OcrLimits, OcrService
from ocrpipe.events import DocumentUploaded, Language
from tests.polyglot import many_page_pdf, png_carrying
from tests.waiting import until


def to_bytes(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


class CountingEngine:
    """A fake engine: the unit under test is the cache logic, not OCR."""

    def __init__(self, text: str = "hello world\n", fingerprint: str = "fp1") -> None:
        self.calls = 0
        self.languages: list[Language | None] = []
        self.text = text
        self._fingerprint = fingerprint

    @property
    def name(self) -> EngineName:
        return "tesseract"

    @property
    def version(self) -> str:
        return "test"

    @property
    def fingerprint(self) -> str:
        return self._fingerprint

    def read(self, pages: Iterable[Page], language: Language | None = None) -> OcrResult:
        self.calls += 1
        self.languages.append(language)
        count = len(list(pages))
        words = len(self.text.split())
        return OcrResult(self.text, count, 90.0, "tesseract", "test", words, language or "en")


class MemoryStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}

    def exists(self, uri: str) -> bool:
        return uri in self.objects

    def get(self, uri: str) -> bytes:
        if uri not in self.objects:
            raise SourceGoneError("The uploaded file is no longer available.")
        return self.objects[uri]

    def put_text(self, bucket: str, key: str, text: str) -> str:
        uri = f"s3://{bucket}/{key}"
        self.objects[uri] = text.encode()
        return uri

    def delete(self, uri: str) -> None:
        self.objects.pop(uri, None)


PNG = to_bytes(Image.new("L", (64, 64), 255), "PNG")


def uploaded(doc_id: str, data: bytes = PNG, *, reocr: bool = False) -> DocumentUploaded:
    return DocumentUploaded(
        document_id=doc_id,
        source_uri=f"s3://uploads-bucket/{doc_id}/my scan ü.png",
        content_type="image/png",
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        page_count=1,
        reocr=reocr,
    )


def make(engine: CountingEngine, store: MemoryStore, cache: InMemoryTextCache) -> OcrService:
    return OcrService(
        engine=engine, cache=cache, store=store, text_bucket="ocr-bucket", limits=OcrLimits()
    )


@pytest.fixture
def store() -> MemoryStore:
    s = MemoryStore()
    for doc in ("doc-00001", "doc-00002", "doc-00003"):
        s.objects[uploaded(doc).source_uri] = PNG
    return s


def test_first_read_stores_text_and_fills_cache(store: MemoryStore) -> None:
    engine, cache = CountingEngine(), InMemoryTextCache()
    outcome = make(engine, store, cache).read(uploaded("doc-00001"))
    sha = hashlib.sha256(PNG).hexdigest()
    assert outcome.text_uri == f"s3://ocr-bucket/{text_key(sha, 'fp1-auto')}"
    assert store.objects[outcome.text_uri] == b"hello world\n"
    assert outcome.cached is False
    assert outcome.char_count == len("hello world\n")
    assert engine.calls == 1


def test_same_bytes_again_hit_the_cache_without_calling_the_engine(store: MemoryStore) -> None:
    engine, cache = CountingEngine(), InMemoryTextCache()
    service = make(engine, store, cache)
    first = service.read(uploaded("doc-00001"))
    store.objects.clear()  # a hit must not even download the upload
    second = service.read(uploaded("doc-00002"))
    assert engine.calls == 1
    assert second.cached is True
    assert second.text_uri == first.text_uri
    assert (second.page_count, second.char_count) == (first.page_count, first.char_count)


class SlowEngine(CountingEngine):
    """Holds its read open until told, so two reads of the same bytes overlap."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()

    def read(self, pages: Iterable[Page], language: Language | None = None) -> OcrResult:
        self.entered.set()
        assert self.release.wait(10)
        return super().read(pages, language)


def test_the_same_bytes_uploaded_together_are_read_once(store: MemoryStore) -> None:
    """Two workers with two uploads of the same bytes: the second waits for the first's
    reading and is answered from the cache (the engine ran twice before)."""
    engine, cache = SlowEngine(), InMemoryTextCache()
    service = make(engine, store, cache)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(service.read, uploaded("doc-00001"))
        assert engine.entered.wait(10)
        second = pool.submit(service.read, uploaded("doc-00002"))
        # The second is waiting for the first's reading of these bytes, not reading them.
        key = f"{uploaded('doc-00002').sha256}-auto"
        assert until(lambda: ocr_service._READING.get(key, (None, 0))[1] == 2, 10)
        engine.release.set()
        outcomes = [first.result(10), second.result(10)]
    assert engine.calls == 1
    assert [o.cached for o in outcomes] == [False, True]


def test_reocr_bypasses_the_cache(store: MemoryStore) -> None:
    engine, cache = CountingEngine(), InMemoryTextCache()
    service = make(engine, store, cache)
    service.read(uploaded("doc-00001"))
    outcome = service.read(uploaded("doc-00002", reocr=True))
    assert engine.calls == 2
    assert outcome.cached is False


def test_reocr_of_a_deleted_original_keeps_the_earlier_reading(store: MemoryStore) -> None:
    """A replay with --reocr after delete-after-OCR must not tell the person it failed."""
    engine, cache = CountingEngine(), InMemoryTextCache()
    service = make(engine, store, cache)
    first = service.read(uploaded("doc-00001"))
    service.discard_upload(uploaded("doc-00001").source_uri)
    again = service.read(uploaded("doc-00001", reocr=True))
    assert engine.calls == 1
    assert again.text_uri == first.text_uri
    assert again.warnings[-1].startswith("The original file is no longer stored")
    assert again.reread_skipped == again.warnings[-1]  # OcrCompleted.reread_skipped
    assert first.reread_skipped is None


def test_deleted_original_never_read_is_still_a_failure(store: MemoryStore) -> None:
    service = make(CountingEngine(), store, InMemoryTextCache())
    store.objects.clear()
    with pytest.raises(SourceGoneError):
        service.read(uploaded("doc-00001", reocr=True))


def test_a_different_fingerprint_is_a_miss(store: MemoryStore) -> None:
    cache = InMemoryTextCache()
    make(CountingEngine(fingerprint="fp1"), store, cache).read(uploaded("doc-00001"))
    other = CountingEngine(fingerprint="fp2")
    make(other, store, cache).read(uploaded("doc-00002"))
    assert other.calls == 1


def test_no_words_is_no_text(store: MemoryStore) -> None:
    engine = CountingEngine(text="")
    with pytest.raises(NoTextFoundError, match="No text"):
        make(engine, store, InMemoryTextCache()).read(uploaded("doc-00001"))


def test_changed_bytes_are_refused(store: MemoryStore) -> None:
    event = uploaded("doc-00001")
    store.objects[event.source_uri] = PNG + b"tampered"
    with pytest.raises(UnreadableDocumentError, match="changed"):
        make(CountingEngine(), store, InMemoryTextCache()).read(event)


def test_corrupt_upload_is_unreadable(store: MemoryStore) -> None:
    data = b"\xff\xd8\xff\xe0 definitely not a jpeg"
    event = uploaded("doc-00003", data)
    store.objects[event.source_uri] = data
    with pytest.raises(UnreadableDocumentError):
        make(CountingEngine(), store, InMemoryTextCache()).read(event)


def test_a_png_carrying_a_pdf_reaches_the_engine_as_one_png_page(store: MemoryStore) -> None:
    data = png_carrying(PNG, many_page_pdf(60))
    event = uploaded("doc-00003", data)
    store.objects[event.source_uri] = data
    outcome = make(CountingEngine(), store, InMemoryTextCache()).read(event)
    assert outcome.page_count == 1


def test_pdf_bytes_announced_as_a_png_are_refused(store: MemoryStore) -> None:
    data = many_page_pdf(60)
    event = uploaded("doc-00003", data)  # content_type image/png
    store.objects[event.source_uri] = data
    engine = CountingEngine()
    with pytest.raises(UnreadableDocumentError, match="accepted as a PNG image"):
        make(engine, store, InMemoryTextCache()).read(event)
    assert engine.calls == 0


def test_discard_upload_deletes_it(store: MemoryStore) -> None:
    event = uploaded("doc-00001")
    make(CountingEngine(), store, InMemoryTextCache()).discard_upload(event.source_uri)
    assert event.source_uri not in store.objects
