"""The uploads bucket's key layout: ``uploads/<document_id>/<sanitised filename>``.

Spaces and non-ASCII letters in the filename are kept on purpose (people name files that
way); path separators and control characters never reach a key (see
:func:`ingest.upload_request.sanitise_filename`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from dataclasses import dataclass

from ocrpipe.storage import decode_event_key

UPLOADS_PREFIX = "uploads/"
#: S3's limit on a key, in UTF-8 bytes.
MAX_KEY_BYTES = 1024

_UPLOAD_KEY = re.compile(r"^uploads/(?P<document_id>[0-9a-f]{32})/(?P<filename>[^/]+)$")


def new_document_id() -> str:
    """A random, URL-safe id (matches :data:`ocrpipe.events.DocumentId`)."""
    return uuid.uuid4().hex


def new_access_token() -> str:
    """The per-document capability token POST /uploads hands the uploader.

    Only its SHA-256 is stored and travels in events (``access_token_sha256``): read models
    such as the status service authorise ``GET /documents/{id}`` by comparing hashes.
    """
    return secrets.token_urlsafe(32)


def access_token_sha256(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def upload_key(document_id: str, filename: str) -> str:
    return f"{UPLOADS_PREFIX}{document_id}/{filename}"


@dataclass(frozen=True)
class UploadKey:
    document_id: str
    filename: str


def parse_upload_key(key: str) -> UploadKey | None:
    """The document id and filename in ``key``, or None if the key is not in our layout."""
    found = _UPLOAD_KEY.match(key)
    if found is None:
        return None
    return UploadKey(found["document_id"], found["filename"])


def derived_document_id(key: str) -> str:
    """A stable id for an object that is not a known upload (same key, same id)."""
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def key_candidates(event_key: str) -> list[str]:
    """The keys an S3 event's ``object.key`` may stand for, most likely first.

    S3's classic notifications URL-encode keys (space as ``+``), and AWS documents the
    EventBridge events the same way (powertools' S3 EventBridge data class decodes them),
    while moto 5 puts the raw key in EventBridge events. So both are tried: the key as given
    and its decoded form.
    """
    decoded = decode_event_key(event_key)
    return [event_key] if decoded == event_key else [event_key, decoded]
