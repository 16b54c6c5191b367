"""The body of ``POST /uploads``: parsed, checked and sanitised, with errors a person can read.

Every problem raises :class:`RequestRejected` with an HTTP status, a stable machine code and
one sentence, e.g. ``413 too_large "size_bytes is 12.0 MiB; the largest upload accepted is
10.0 MiB."``. Nothing here talks to AWS.

The address to notify is personal data: it is kept in :class:`RecipientAddress`, whose
``repr`` hides it, and it never appears in an error message.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from email_validator import EmailNotValidError, validate_email
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, model_validator

from ingest.keys import MAX_KEY_BYTES, upload_key
from ingest.validation import human_bytes
from ocrpipe.content_types import SUPPORTED_CONTENT_TYPES, ContentType
from ocrpipe.events import LANGUAGES, Language
from ocrpipe.webhooks import WebhookUrlError, check_webhook_url

MAX_FILENAME_CHARS = 255
#: Longest raw filename we even look at (before path components are stripped).
MAX_RAW_FILENAME_CHARS = 4096
MAX_EMAIL_CHARS = 254

_FIELDS = frozenset({"filename", "content_type", "size_bytes", "email", "webhook_url", "language"})

#: Common non-standard spellings clients send.
_CONTENT_TYPE_ALIASES: dict[str, ContentType] = {"image/jpg": "image/jpeg"}
#: Invisible characters that reorder or hide text (filename spoofing, e.g. "gpj.exe").
_BIDI_CONTROLS = frozenset("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_DROPPED_CATEGORIES = frozenset({"Cc", "Cs", "Zl", "Zp"})
_PATH_SEPARATORS = re.compile(r"[/\\]")


class RequestRejected(Exception):
    """The request cannot be accepted as sent; ``message`` tells the client why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


@dataclass(frozen=True)
class RecipientAddress:
    """Where to tell the person about the result (plain text: handle as personal data)."""

    channel: Literal["email", "webhook"]
    address: str = field(repr=False)


@dataclass(frozen=True)
class UploadRequest:
    filename: str
    content_type: ContentType
    size_bytes: int
    recipient: RecipientAddress | None
    #: The document's language as the client gave it; None: ocr detects it.
    language: Language | None = None


def parse_language(raw: Any) -> Language | None:
    """An ISO 639-1 code among the languages ocrpipe reads, or None (detect it)."""
    if raw is None:
        return None
    value = raw.strip().lower() if isinstance(raw, str) else raw
    for language in LANGUAGES:
        if value == language:
            return language
    raise RequestRejected(
        400,
        "invalid_language",
        f"language must be one of {', '.join(LANGUAGES)} (or left out to detect it).",
    )


def sanitise_filename(raw: Any) -> str:
    """The last path component of ``raw``, NFC-normalised, without control characters.

    Spaces and non-ASCII letters are kept; ``../../etc/passwd`` becomes ``passwd``.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise RequestRejected(400, "invalid_filename", "filename is required (1 to 255 chars).")
    if len(raw) > MAX_RAW_FILENAME_CHARS:
        raise RequestRejected(
            400, "invalid_filename", f"filename is longer than {MAX_FILENAME_CHARS} characters."
        )
    name = unicodedata.normalize("NFC", raw)
    name = "".join(
        ch
        for ch in name
        if unicodedata.category(ch) not in _DROPPED_CATEGORIES and ch not in _BIDI_CONTROLS
    )
    name = _PATH_SEPARATORS.split(name)[-1].strip()
    if name in ("", ".", ".."):
        raise RequestRejected(
            400, "invalid_filename", "filename must name a file, not a folder or path."
        )
    if "${filename}" in name:
        # S3 POST would replace this with the name of the file the browser sends.
        raise RequestRejected(400, "invalid_filename", "filename must not contain ${filename}.")
    if len(name) > MAX_FILENAME_CHARS:
        raise RequestRejected(
            400, "invalid_filename", f"filename is longer than {MAX_FILENAME_CHARS} characters."
        )
    if len(upload_key("0" * 32, name).encode("utf-8")) > MAX_KEY_BYTES:
        raise RequestRejected(
            400, "invalid_filename", "filename is too long once encoded; please shorten it."
        )
    return name


def parse_content_type(raw: Any) -> ContentType:
    allowed = ", ".join(SUPPORTED_CONTENT_TYPES)
    if not isinstance(raw, str) or not raw.strip():
        raise RequestRejected(
            400, "invalid_content_type", f"content_type is required; one of {allowed}."
        )
    value = raw.strip().lower()
    value = _CONTENT_TYPE_ALIASES.get(value, value)
    for supported in SUPPORTED_CONTENT_TYPES:
        if value == supported:
            return supported
    shown = raw if len(raw) <= 100 else raw[:100] + "..."
    raise RequestRejected(
        415,
        "unsupported_content_type",
        f"content_type {shown!r} is not accepted; send one of {allowed}.",
    )


def parse_size(raw: Any, *, max_bytes: int) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int):
        raise RequestRejected(
            400, "invalid_size", "size_bytes is required: the file's size as a whole number."
        )
    if raw < 1:
        raise RequestRejected(400, "invalid_size", "size_bytes must be at least 1.")
    if raw > max_bytes:
        raise RequestRejected(
            413,
            "too_large",
            f"size_bytes is {human_bytes(raw)}; the largest upload accepted is "
            f"{human_bytes(max_bytes)}.",
        )
    return raw


def parse_email(raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise RequestRejected(400, "invalid_email", "email must be an email address.")
    if len(raw) > MAX_EMAIL_CHARS:
        raise RequestRejected(400, "invalid_email", "email is too long to be an email address.")
    try:
        valid = validate_email(raw.strip(), check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError as exc:
        # The library's reasons describe the problem without repeating the address.
        raise RequestRejected(400, "invalid_email", f"email is not valid: {exc}") from None
    return valid.ascii_email or valid.normalized


def parse_webhook_url(raw: Any, local_mode: bool) -> str:
    """An https URL to a public host (http only to a loopback host under the local runtime)."""
    if not isinstance(raw, str) or not raw.strip():
        raise RequestRejected(400, "invalid_webhook_url", "webhook_url must be an https URL.")
    try:
        return check_webhook_url(raw.strip(), allow_loopback=local_mode)
    except WebhookUrlError as exc:
        raise RequestRejected(400, "invalid_webhook_url", str(exc)) from None


def _context(info: ValidationInfo) -> dict[str, Any]:
    context: dict[str, Any] = info.context or {}
    return context


class UploadRequestBody(BaseModel):
    """The JSON body of ``POST /uploads``, validated by the parsers of this module.

    Each field runs its parser (``sanitise_filename``, ``parse_content_type``, ...), which
    raises :class:`RequestRejected` with a reason a person can read: this model is both what
    checks a request and what the API's OpenAPI document describes. Validate it with
    ``context={"max_bytes": ..., "local_mode": ...}`` (:func:`parse_upload_request`).
    """

    model_config = ConfigDict(
        frozen=True,
        json_schema_extra={"required": ["filename", "content_type", "size_bytes"]},
    )

    filename: Annotated[
        str,
        BeforeValidator(sanitise_filename),
        Field(
            description="The file's name (path components are dropped).",
            max_length=MAX_FILENAME_CHARS,
        ),
    ] = Field(default=None, validate_default=True)
    content_type: Annotated[
        ContentType,
        BeforeValidator(parse_content_type),
        Field(description="The file's media type ('image/jpg' is read as image/jpeg)."),
    ] = Field(default=None, validate_default=True)
    size_bytes: Annotated[
        int,
        BeforeValidator(lambda raw, info: parse_size(raw, max_bytes=_context(info)["max_bytes"])),
        Field(description="The file's size in bytes; at most the deployment's limit.", ge=1),
    ] = Field(default=None, validate_default=True)
    email: Annotated[
        str | None,
        BeforeValidator(lambda raw: None if raw is None else parse_email(raw)),
        Field(description=f"Where to e-mail the result (at most {MAX_EMAIL_CHARS} chars)."),
    ] = None
    webhook_url: Annotated[
        str | None,
        BeforeValidator(
            lambda raw, info: (
                None if raw is None else parse_webhook_url(raw, _context(info)["local_mode"])
            )
        ),
        Field(description="An https URL to POST the signed result to (not with email)."),
    ] = None
    language: Annotated[
        Language | None,
        BeforeValidator(parse_language),
        Field(description="The document's language; left out, it is detected."),
    ] = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, body: Any) -> Any:
        if not isinstance(body, dict):
            raise RequestRejected(400, "invalid_body", "The request body must be a JSON object.")
        unknown = sorted(str(k) for k in body if k not in _FIELDS)
        if unknown:
            raise RequestRejected(
                400,
                "unknown_field",
                f"Unknown field {unknown[0]!r}; allowed fields are "
                "filename, content_type, size_bytes, email, webhook_url and language.",
            )
        if body.get("email") is not None and body.get("webhook_url") is not None:
            raise RequestRejected(
                400, "conflicting_recipients", "Give either email or webhook_url, not both."
            )
        return body


def parse_upload_request(body: Any, *, max_bytes: int, local_mode: bool) -> UploadRequest:
    checked = UploadRequestBody.model_validate(
        body, context={"max_bytes": max_bytes, "local_mode": local_mode}
    )
    recipient: RecipientAddress | None = None
    if checked.email is not None:
        recipient = RecipientAddress("email", checked.email)
    elif checked.webhook_url is not None:
        recipient = RecipientAddress("webhook", checked.webhook_url)
    return UploadRequest(
        checked.filename, checked.content_type, checked.size_bytes, recipient, checked.language
    )
