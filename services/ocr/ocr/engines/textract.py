"""Amazon Textract text detection: blocks in, text out; Textract's errors mapped to ours.

* ``DetectDocumentText`` (synchronous) reads one image straight from S3 (:meth:`detect_s3`);
* ``StartDocumentTextDetection`` (asynchronous) starts a job for a PDF or TIFF in S3 and
  reports completion to an SNS topic (:meth:`start`); ``GetDocumentTextDetection`` pages
  through the job's blocks afterwards (:meth:`collect`).

Text is rebuilt from the ``LINE`` blocks of each page in the order Textract returns them
(its reading order), cleaned like Tesseract's output (:func:`ocr.text.clean_paragraph`),
and pages are joined with :data:`~ocr.engines.base.PAGE_SEPARATOR`. The confidence is the
mean of the ``WORD`` blocks' confidences (0-100).

Errors: throttling and concurrency limits become :class:`TextractThrottledError` (retried
later through the queue with a backoff, see :mod:`ocr.textract_jobs`); a document Textract
cannot read becomes the matching :class:`~ocr.errors.OcrError`; anything else (internal
errors, access denied, bad parameters) an :class:`~ocr.errors.EngineError`, which the
handler retries and, on the last delivery, reports as ``OcrFailed(engine_error)``.

The documented fixed limits (Amazon Textract developer guide, "Set Quotas"): synchronous
operations take JPEG/PNG (and 1-page PDF/TIFF) up to 10 MB; asynchronous ones take PDF and
TIFF up to 500 MB and 3,000 pages (JPEG/PNG up to 10 MB); images up to 10,000 pixels on
every side. :func:`check_limits` applies them before any call is made.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from botocore.exceptions import ClientError

from ocr.engines.base import PAGE_SEPARATOR, EngineName, OcrResult
from ocr.errors import (
    DocumentTooLargeError,
    EngineError,
    OcrError,
    UnreadableDocumentError,
    UnsupportedDocumentError,
)
from ocr.text import clean_paragraph
from ocrpipe.events import Language

if TYPE_CHECKING:
    from mypy_boto3_textract import TextractClient
    from mypy_boto3_textract.type_defs import BlockTypeDef

    from ocr.pages import Page

MIB = 1024 * 1024
#: DetectDocumentText, and any JPEG/PNG: at most 10 MB.
SYNC_MAX_BYTES = 10 * MIB
#: StartDocumentTextDetection with a PDF or TIFF: at most 500 MB and 3,000 pages.
ASYNC_MAX_BYTES = 500 * MIB
ASYNC_MAX_PAGES = 3000
#: Images up to 10,000 pixels on every side.
MAX_IMAGE_SIDE = 10_000
#: GetDocumentTextDetection returns at most 1,000 blocks per call.
MAX_RESULTS = 1000

#: Bumped whenever the way text is rebuilt from blocks changes (it invalidates the cache).
TEXT_BUILD_VERSION = "lines-v1"

#: Error codes that mean "too many requests now", including botocore giving up after its
#: own (deliberately few) retries of them. ``LimitExceededException`` is Textract's answer
#: to too many concurrent asynchronous jobs.
THROTTLING_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "LimitExceededException",
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
    }
)

SYNC_CONTENT_TYPES = frozenset({"image/jpeg", "image/png"})
ASYNC_CONTENT_TYPES = frozenset({"application/pdf", "image/tiff"})

Mode = Literal["sync", "async"]


class TextractThrottledError(EngineError):
    """Textract refused a call for its rate or concurrency quota; nothing is wrong with the
    document. Retried later through the queue (an ``EngineError``, so the last delivery
    still tells the person)."""

    def __init__(self, operation: str, code: str) -> None:
        super().__init__(
            f"Amazon Textract was too busy ({operation}: {code})",
            reason="Amazon Textract was too busy to read the document; please upload it "
            "again later.",
        )
        self.operation = operation
        self.code = code


def mode_for(content_type: str) -> Mode:
    """``sync`` for single images, ``async`` for PDF and TIFF (possibly many pages)."""
    if content_type in SYNC_CONTENT_TYPES:
        return "sync"
    if content_type in ASYNC_CONTENT_TYPES:
        return "async"
    raise UnsupportedDocumentError(f"Amazon Textract cannot read {content_type!r} files.")


def _mb(size: int) -> str:
    return f"{size / MIB:.1f} MB"


def check_limits(content_type: str, size_bytes: int, page_count: int) -> Mode:
    """The call to use for this document, or :class:`DocumentTooLargeError` when it is over
    Textract's fixed limits (checked before any call is made, so nothing is billed)."""
    mode = mode_for(content_type)
    if mode == "sync" and size_bytes > SYNC_MAX_BYTES:
        raise DocumentTooLargeError(
            f"The image is {_mb(size_bytes)}; Amazon Textract reads images up to "
            f"{_mb(SYNC_MAX_BYTES)}. Please upload a smaller image."
        )
    if mode == "async" and size_bytes > ASYNC_MAX_BYTES:
        raise DocumentTooLargeError(
            f"The document is {_mb(size_bytes)}; Amazon Textract reads documents up to "
            f"{_mb(ASYNC_MAX_BYTES)}. Please split it and upload the parts."
        )
    if mode == "async" and page_count > ASYNC_MAX_PAGES:
        raise DocumentTooLargeError(
            f"The document has {page_count} pages; Amazon Textract reads up to "
            f"{ASYNC_MAX_PAGES} pages. Please split it and upload the parts."
        )
    return mode


def check_image_size(width: int, height: int) -> None:
    if width > MAX_IMAGE_SIDE or height > MAX_IMAGE_SIDE:
        raise DocumentTooLargeError(
            f"The image is {width} x {height} pixels; Amazon Textract reads images up to "
            f"{MAX_IMAGE_SIDE} pixels on each side. Please scale it down and upload it again."
        )


def translate_error(exc: ClientError, operation: str) -> OcrError:
    """Our error for a Textract ``ClientError`` (the caller raises it ``from exc``)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    message = str(error.get("Message", ""))[:300]
    if code in THROTTLING_CODES:
        return TextractThrottledError(operation, code)
    if code == "DocumentTooLargeException":
        return DocumentTooLargeError(
            "The document is too large for Amazon Textract (10 MB for images, 500 MB and "
            "3,000 pages for PDF/TIFF)."
        )
    if code == "UnsupportedDocumentException":
        return UnsupportedDocumentError(
            "Amazon Textract does not support this document's format (it may be "
            "password-protected, or a PDF form Textract cannot read)."
        )
    if code == "BadDocumentException":
        return UnreadableDocumentError(
            "Amazon Textract could not read the document; the file may be damaged."
        )
    if code == "InvalidS3ObjectException":
        return UnreadableDocumentError(
            "Amazon Textract could not open the uploaded file (it may have expired)."
        )
    return EngineError(f"Amazon Textract {operation} failed: {code or 'error'}: {message}")


@dataclass(frozen=True)
class BlockText:
    """What a set of blocks says: pages of text and the words' confidences."""

    pages: tuple[str, ...]
    confidences: tuple[float, ...]

    def to_result(self, *, page_count: int, engine_version: str) -> OcrResult:
        joined = PAGE_SEPARATOR.join(self.pages).strip()
        mean = sum(self.confidences) / len(self.confidences) if self.confidences else 0.0
        return OcrResult(
            text=joined + "\n" if joined else "",
            page_count=max(page_count, len(self.pages), 1),
            mean_confidence=round(max(0.0, min(100.0, mean)), 2),
            engine="textract",
            engine_version=engine_version,
            word_count=len(self.confidences),
        )


def text_from_blocks(blocks: Iterable[Mapping[str, Any]]) -> BlockText:
    """Text of ``LINE`` blocks per page (pages in page-number order, lines in Textract's
    order), confidences of ``WORD`` blocks. A page without lines is an empty page; blocks
    without ``Page`` (synchronous calls) belong to page 1."""
    lines: defaultdict[int, list[str]] = defaultdict(list)
    pages: set[int] = set()
    confidences: list[float] = []
    for block in blocks:
        kind = block.get("BlockType")
        page = int(block.get("Page") or 1)
        if kind == "PAGE":
            pages.add(page)
        elif kind == "LINE":
            pages.add(page)
            text = str(block.get("Text") or "").strip()
            if text:
                lines[page].append(text)
        elif kind == "WORD" and str(block.get("Text") or "").strip():
            confidences.append(float(block.get("Confidence") or 0.0))
    texts = tuple("\n".join(clean_paragraph(lines[number])) for number in sorted(pages))
    return BlockText(pages=texts, confidences=tuple(confidences))


def _page_count(metadata: Mapping[str, Any] | None) -> int:
    pages = (metadata or {}).get("Pages")
    return pages if isinstance(pages, int) else 0


@dataclass(frozen=True)
class JobOutcome:
    """A finished asynchronous job: its status and, when it succeeded, its text."""

    status: str
    status_message: str
    result: OcrResult | None


@dataclass(frozen=True)
class NotificationChannel:
    """Where Textract reports a finished job, and the role it assumes to publish there."""

    sns_topic_arn: str
    role_arn: str


class TextractEngine:
    """Textract behind the :class:`~ocr.engines.base.OcrEngine` protocol, plus the S3 calls
    the ocr service uses (:meth:`detect_s3`, :meth:`start`, :meth:`collect`)."""

    def __init__(self, client: TextractClient) -> None:
        self._client = client
        self._model_version = ""

    @property
    def name(self) -> EngineName:
        return "textract"

    @property
    def version(self) -> str:
        """Textract's model version as last reported (``DetectDocumentText/1.0``)."""
        return self._model_version

    @property
    def fingerprint(self) -> str:
        """Textract's model is not chosen by the caller; the fingerprint changes with the way
        text is rebuilt from its blocks."""
        spec = f"textract;text={TEXT_BUILD_VERSION}"
        return hashlib.sha256(spec.encode()).hexdigest()[:16]

    def _remember_version(self, response: Mapping[str, Any]) -> str:
        model = str(response.get("DetectDocumentTextModelVersion") or "")
        if model:
            self._model_version = f"DetectDocumentText/{model}"
        return self._model_version

    # --- synchronous -------------------------------------------------------------------
    def detect_s3(self, bucket: str, key: str) -> OcrResult:
        """DetectDocumentText on one image in S3."""
        try:
            response = self._client.detect_document_text(
                Document={"S3Object": {"Bucket": bucket, "Name": key}}
            )
        except ClientError as exc:
            raise translate_error(exc, "DetectDocumentText") from exc
        text = text_from_blocks(_blocks(response.get("Blocks", [])))
        return text.to_result(
            page_count=_page_count(_mapping(response.get("DocumentMetadata"))),
            engine_version=self._remember_version(_mapping(response)),
        )

    def detect_bytes(self, data: bytes) -> BlockText:
        if len(data) > SYNC_MAX_BYTES:
            raise DocumentTooLargeError(
                f"A page is {_mb(len(data))} as an image; Amazon Textract reads images up to "
                f"{_mb(SYNC_MAX_BYTES)}."
            )
        try:
            response = self._client.detect_document_text(Document={"Bytes": data})
        except ClientError as exc:
            raise translate_error(exc, "DetectDocumentText") from exc
        self._remember_version(_mapping(response))
        return text_from_blocks(_blocks(response.get("Blocks", [])))

    def read(self, pages: Iterable[Page], language: Language | None = None) -> OcrResult:
        """The :class:`OcrEngine` protocol: each decoded page sent as PNG bytes (a PDF text
        layer is used as it is). The ocr service prefers :meth:`detect_s3` / :meth:`start`,
        which let Textract read the upload itself. Textract finds the language itself, so
        ``language`` is not passed on."""
        texts: list[str] = []
        confidences: list[float] = []
        for page in pages:
            if page.text_layer is not None:
                texts.append(page.text_layer.strip())
                confidences.extend(100.0 for _ in page.text_layer.split())
                continue
            if page.image is None:
                texts.append("")
                continue
            check_image_size(*page.image.size)
            buffer = io.BytesIO()
            page.image.save(buffer, format="PNG")
            found = self.detect_bytes(buffer.getvalue())
            texts.append(PAGE_SEPARATOR.join(found.pages).strip())
            confidences.extend(found.confidences)
        return BlockText(pages=tuple(texts), confidences=tuple(confidences)).to_result(
            page_count=len(texts), engine_version=self._model_version
        )

    # --- asynchronous ------------------------------------------------------------------
    def start(
        self,
        bucket: str,
        key: str,
        *,
        client_request_token: str,
        job_tag: str,
        channel: NotificationChannel,
    ) -> str:
        """StartDocumentTextDetection; its JobId. The same token returns the same JobId, so
        a repeated start (a retried delivery) does not start (or bill) a second job."""
        try:
            response = self._client.start_document_text_detection(
                DocumentLocation={"S3Object": {"Bucket": bucket, "Name": key}},
                ClientRequestToken=client_request_token,
                JobTag=job_tag,
                NotificationChannel={
                    "SNSTopicArn": channel.sns_topic_arn,
                    "RoleArn": channel.role_arn,
                },
            )
        except ClientError as exc:
            raise translate_error(exc, "StartDocumentTextDetection") from exc
        return response["JobId"]

    def collect(self, job_id: str, *, expected_pages: int = 0) -> JobOutcome:
        """Every block of a finished job, page by page of results (``NextToken``)."""
        blocks: list[Mapping[str, Any]] = []
        next_token: str | None = None
        page_count = 0
        status = status_message = ""
        while True:
            try:
                if next_token is None:
                    response = self._client.get_document_text_detection(
                        JobId=job_id, MaxResults=MAX_RESULTS
                    )
                else:
                    response = self._client.get_document_text_detection(
                        JobId=job_id, MaxResults=MAX_RESULTS, NextToken=next_token
                    )
            except ClientError as exc:
                raise translate_error(exc, "GetDocumentTextDetection") from exc
            status = str(response.get("JobStatus") or "")
            status_message = str(response.get("StatusMessage") or "")
            if status not in ("SUCCEEDED", "PARTIAL_SUCCESS"):
                return JobOutcome(status=status, status_message=status_message, result=None)
            page_count = max(page_count, _page_count(_mapping(response.get("DocumentMetadata"))))
            self._remember_version(_mapping(response))
            blocks.extend(_blocks(response.get("Blocks", [])))
            next_token = response.get("NextToken") or None
            if next_token is None:
                break
        result = text_from_blocks(blocks).to_result(
            page_count=page_count or expected_pages, engine_version=self._model_version
        )
        return JobOutcome(status=status, status_message=status_message, result=result)


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _blocks(blocks: Iterable[BlockTypeDef] | object) -> list[Mapping[str, Any]]:
    if not isinstance(blocks, Iterable):
        return []
    return [b for b in blocks if isinstance(b, Mapping)]


def build(*, lang: str = "eng") -> TextractEngine:
    """The engine for ``OCRPIPE_OCR_ENGINE=textract`` (Textract detects the language itself,
    so ``lang`` is not used). The client retries once at most; see :mod:`ocrpipe.aws`."""
    from ocrpipe import aws

    del lang
    client: TextractClient = aws.client("textract")
    return TextractEngine(client)
