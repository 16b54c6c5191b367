"""Domain event contracts: the only coupling between ocrpipe services.

Every event travels on the custom EventBridge bus in the standard envelope:

* ``source``      = ``ocrpipe.<producing service>`` (:attr:`DomainEvent.SOURCE`)
* ``detail-type`` = the event name (:attr:`DomainEvent.DETAIL_TYPE`)
* ``detail``      = the JSON of the pydantic model below

Versioning rules
----------------
* Additive, optional fields keep ``schema_version``; consumers ignore fields they do not know
  (models are parsed with ``extra="ignore"``).
* A breaking change gets a new class with a new ``DETAIL_TYPE`` (e.g. ``OcrCompleted.v2``)
  that producers publish alongside the old one until every consumer has moved.

Size rule: events stay far below EventBridge's 256 KB limit. Text and results never travel
inline; they travel as ``s3://`` URIs that the consumer is allowed to read.

Personal data rule: the address to notify travels only as :class:`Recipient`, a KMS
ciphertext that only the notify service can decrypt.

The JSON Schemas in ``docs/events.md`` and ``docs/schemas/`` are generated from these models
by ``python -m ocrpipe.schemas write``; a contract test fails when they are stale.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ocrpipe.content_types import ContentType

S3Uri = Annotated[str, Field(pattern=r"^s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]/.+$")]
Sha256Hex = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
#: What a document id may be; a reader that checks ids (e.g. the status API) uses this one.
DOCUMENT_ID_PATTERN = r"^[0-9A-Za-z_\-]{8,64}$"
DocumentId = Annotated[str, Field(pattern=DOCUMENT_ID_PATTERN)]
#: The languages ocrpipe reads (those both engines support), as ISO 639-1 codes.
Language = Literal["en", "de", "fr", "es", "it", "pt"]
LANGUAGES: tuple[Language, ...] = get_args(Language)
#: Warnings are sentences a person can read; at most this many travel in one event.
MAX_WARNINGS = 20


def utc_now() -> datetime:
    return datetime.now(UTC)


#: What became of a document: its words were counted, its upload was refused, or it failed.
OutcomeName = Literal["counted", "rejected", "failed"]
#: The flag every outcome event carries for ``ocrpipe replay --renotify``.
Renotify = Annotated[
    bool,
    Field(
        description=(
            "Set only on events replayed with `ocrpipe replay --renotify`: notify tells the "
            "person again although it already did for this document and outcome."
        )
    ),
]


class Recipient(BaseModel):
    """Where to deliver the result, encrypted so that only notify can read it.

    ``ciphertext`` is the base64 KMS ciphertext of the UTF-8 address (an email address or an
    https webhook URL), encrypted with the notify key and the encryption context
    ``{"document_id": <id>, "channel": <channel>}``.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    channel: Literal["email", "webhook"]
    ciphertext: str = Field(min_length=1, max_length=4096)


def recipient_encryption_context(document_id: str, channel: str) -> dict[str, str]:
    """The KMS encryption context of a :class:`Recipient`'s ciphertext: ingest encrypts and
    notify decrypts with it, so the ciphertext cannot be replayed for another document."""
    return {"document_id": document_id, "channel": channel}


class WordCount(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    word: str
    count: int = Field(ge=1)


class RejectionReason(StrEnum):
    """Why ingest refused an uploaded object."""

    EMPTY_FILE = "empty_file"
    TOO_LARGE = "too_large"
    UNSUPPORTED_TYPE = "unsupported_type"
    CONTENT_TYPE_MISMATCH = "content_type_mismatch"
    CORRUPT = "corrupt"
    DECOMPRESSION_BOMB = "decompression_bomb"
    TOO_MANY_PAGES = "too_many_pages"
    UNKNOWN_UPLOAD = "unknown_upload"
    #: More bytes arrived than the upload request declared (the presigned POST's bound).
    LARGER_THAN_DECLARED = "larger_than_declared"
    #: The object was stored after its upload link had expired.
    UPLOAD_EXPIRED = "upload_expired"


class OcrFailureReason(StrEnum):
    """Why ocr could not read a document."""

    UNREADABLE = "unreadable"  # the file could not be decoded/rendered
    NO_TEXT = "no_text"  # engine ran fine but found no text at all
    ENGINE_ERROR = "engine_error"  # the engine crashed or timed out
    TOO_LARGE = "too_large"  # over the engine's limits (pages, pixels, bytes)
    UNSUPPORTED = "unsupported"


class WordCountFailureReason(StrEnum):
    """Why wordcount could not count a document's text."""

    #: The text the ``OcrCompleted`` points at is gone (e.g. replayed after it expired).
    TEXT_MISSING = "text_missing"
    #: Storage or the bus kept failing until the queue's last delivery.
    UNAVAILABLE = "unavailable"


class DomainEvent(BaseModel):
    """Base of every event's ``detail``."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    SOURCE: ClassVar[str]
    DETAIL_TYPE: ClassVar[str]

    schema_version: int = Field(default=1, description="Bumped only by breaking changes.")
    document_id: DocumentId = Field(description="Stable id of the document across all stages.")
    occurred_at: datetime = Field(default_factory=utc_now, description="When it happened (UTC).")
    filename: str = Field(
        default="", max_length=1024, description="Original file name as the user gave it."
    )
    recipient: Recipient | None = Field(
        default=None, description="Encrypted delivery address, forwarded unchanged by every stage."
    )


class IngestEvent(DomainEvent):
    """Fields every ingest event carries."""

    access_token_sha256: Sha256Hex | None = Field(
        default=None,
        description=(
            "SHA-256 (hex) of the per-document capability token returned by POST /uploads. "
            "Read models (e.g. the status service) authorise GET /documents/{id} with it "
            "without ever seeing the token."
        ),
    )


class DocumentUploaded(IngestEvent):
    """An uploaded object passed validation and is ready for OCR."""

    SOURCE: ClassVar[str] = "ocrpipe.ingest"
    DETAIL_TYPE: ClassVar[str] = "DocumentUploaded"

    source_uri: S3Uri
    content_type: ContentType = Field(
        description=(
            "What the file is, as ingest decided it from the magic number "
            "(ocrpipe.content_types) and checked it; ocr opens it as this type only."
        )
    )
    size_bytes: int = Field(ge=1)
    sha256: Sha256Hex
    page_count: int = Field(ge=1, description="1 for JPEG/PNG; frames for TIFF; pages for PDF.")
    reocr: bool = Field(
        default=False, description="Re-run the OCR engine even if this content was read before."
    )
    keep_source: bool = Field(
        default=False,
        description=(
            "True when source_uri is not an upload ocrpipe owns (e.g. an object published by "
            "`ocrpipe backfill`): no consumer may delete or change it."
        ),
    )
    language: Language | None = Field(
        default=None,
        description="The document's language as the uploader gave it; None: detect it.",
    )


class DocumentRejected(IngestEvent):
    """An uploaded object failed validation; nothing downstream will run for it."""

    SOURCE: ClassVar[str] = "ocrpipe.ingest"
    DETAIL_TYPE: ClassVar[str] = "DocumentRejected"
    OUTCOME: ClassVar[OutcomeName] = "rejected"

    source_uri: S3Uri
    reason_code: RejectionReason
    reason: str = Field(min_length=1, description="A sentence a person can read.")
    size_bytes: int = Field(default=0, ge=0)
    renotify: Renotify = False


class PageRead(BaseModel):
    """What the engine found on one page."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    number: int = Field(ge=1)
    word_count: int = Field(ge=0, description="Words the engine read on the page.")
    mean_confidence: float = Field(default=0, ge=0, le=100)
    source: Literal["ocr", "text-layer"] = "ocr"


class OcrCompleted(DomainEvent):
    """The document's text was read and stored.

    A page on which nothing could be read does not vanish: it is listed in ``pages`` with
    ``word_count`` 0 and named in ``warnings``.
    """

    SOURCE: ClassVar[str] = "ocrpipe.ocr"
    DETAIL_TYPE: ClassVar[str] = "OcrCompleted"

    text_uri: S3Uri
    sha256: Sha256Hex
    engine: Literal["tesseract", "textract"]
    engine_version: str = ""
    page_count: int = Field(ge=1)
    mean_confidence: float = Field(ge=0, le=100, description="Mean word confidence, 0-100.")
    char_count: int = Field(ge=0)
    cached: bool = Field(default=False, description="True when the engine was not called.")
    reread_skipped: str | None = Field(
        default=None,
        description="Set when a re-read (``reocr``) was asked for but could not happen, e.g. "
        "the original is no longer stored: why. The event then carries the earlier reading.",
    )
    language: Language | None = Field(
        default=None, description="The language the text was read in (given or detected)."
    )
    pages: list[PageRead] = Field(
        default_factory=list, max_length=1000, description="Per page, in order (may be empty)."
    )
    warnings: list[str] = Field(
        default_factory=list,
        max_length=MAX_WARNINGS,
        description="Sentences for the person: pages with no text, a language guessed, ...",
    )


class OcrFailed(DomainEvent):
    """The document could not be read; the reason says why."""

    SOURCE: ClassVar[str] = "ocrpipe.ocr"
    DETAIL_TYPE: ClassVar[str] = "OcrFailed"
    OUTCOME: ClassVar[OutcomeName] = "failed"

    reason_code: OcrFailureReason
    reason: str = Field(min_length=1)
    engine: Literal["tesseract", "textract"]
    renotify: Renotify = False


class WordCountFailed(DomainEvent):
    """The document's text could not be counted; the reason says why."""

    SOURCE: ClassVar[str] = "ocrpipe.wordcount"
    DETAIL_TYPE: ClassVar[str] = "WordCountFailed"
    OUTCOME: ClassVar[OutcomeName] = "failed"

    reason_code: WordCountFailureReason
    reason: str = Field(min_length=1)
    text_uri: S3Uri
    renotify: Renotify = False


class WordsCounted(DomainEvent):
    """The document's words were counted; the full result is at ``result_uri``."""

    SOURCE: ClassVar[str] = "ocrpipe.wordcount"
    DETAIL_TYPE: ClassVar[str] = "WordsCounted"
    OUTCOME: ClassVar[OutcomeName] = "counted"

    text_uri: S3Uri
    result_uri: S3Uri
    result_csv_uri: S3Uri | None = Field(
        default=None,
        description="The same counts as CSV (``word,count`` rows); absent from older events.",
    )
    total_words: int = Field(ge=0)
    unique_words: int = Field(ge=0)
    characters: int | None = Field(
        default=None, ge=0, description="Characters of the text (absent from older events)."
    )
    top_words: list[WordCount] = Field(max_length=10)
    word_rule_version: str
    language: Language | None = Field(
        default=None, description="The language the text was read in (from OcrCompleted)."
    )
    warnings: list[str] = Field(
        default_factory=list,
        max_length=MAX_WARNINGS,
        description="What the person should know about the read (from OcrCompleted).",
    )
    renotify: Renotify = False


class NotificationSent(DomainEvent):
    """The person was told the outcome of their document."""

    SOURCE: ClassVar[str] = "ocrpipe.notify"
    DETAIL_TYPE: ClassVar[str] = "NotificationSent"

    channel: Literal["email", "webhook"]
    outcome: OutcomeName
    message_id: str = ""


class NotificationFailed(DomainEvent):
    """Delivery to the person failed for good (after retries)."""

    SOURCE: ClassVar[str] = "ocrpipe.notify"
    DETAIL_TYPE: ClassVar[str] = "NotificationFailed"

    channel: Literal["email", "webhook"]
    reason: str = Field(min_length=1)


EVENT_TYPES: tuple[type[DomainEvent], ...] = (
    DocumentUploaded,
    DocumentRejected,
    OcrCompleted,
    OcrFailed,
    WordsCounted,
    WordCountFailed,
    NotificationSent,
    NotificationFailed,
)

EVENTS_BY_DETAIL_TYPE: dict[str, type[DomainEvent]] = {e.DETAIL_TYPE: e for e in EVENT_TYPES}

#: The events that end a document's journey through the pipeline (apart from notify telling
#: the person), each with its outcome (``OUTCOME``): what notify says, what status shows.
OutcomeEvent = WordsCounted | DocumentRejected | OcrFailed | WordCountFailed
OUTCOME_EVENTS: tuple[type[OutcomeEvent], ...] = (
    WordsCounted,
    DocumentRejected,
    OcrFailed,
    WordCountFailed,
)
