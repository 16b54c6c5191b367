"""Who may read a document's status: the holder of its capability token.

POST /uploads returns a random per-document token to the uploader; ingest events carry only
its SHA-256 (``access_token_sha256``). ``GET /documents/{id}`` presents the token as
``Authorization: Bearer <token>``; status compares hashes in constant time. ``GET /documents``
presents several, comma separated (a token never contains a comma). A token in the URL
(``?token=``) is not accepted: URLs end up in access logs, proxies and browser histories.

Every refusal looks the same — no token, a wrong token, an unknown or malformed document id,
a document without a token hash — so the API never tells whether a document exists.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Mapping

from ocrpipe.events import DOCUMENT_ID_PATTERN
from status.read_model import DocumentStatus

#: A document id (``ocrpipe.events.DocumentId``); anything else cannot exist.
DOCUMENT_ID_RE = re.compile(DOCUMENT_ID_PATTERN)
#: Longest token looked at; longer ones are refused without hashing them.
MAX_TOKEN_CHARS = 512
#: Most tokens one ``GET /documents`` may present.
MAX_TOKENS = 100
#: Compared against when there is nothing to compare with, so refusals cost the same.
_NO_HASH = "0" * 64


def token_from_request(headers: Mapping[str, str] | None) -> str | None:
    """The bearer token from ``Authorization`` (any header case)."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value:
            scheme, _, credentials = value.strip().partition(" ")
            if scheme.lower() == "bearer" and credentials.strip():
                return _bounded(credentials.strip())
    return None


def tokens_from_request(headers: Mapping[str, str] | None) -> list[str]:
    """Every bearer token in ``Authorization: Bearer a,b,c`` (over-long ones dropped); more
    than :data:`MAX_TOKENS` are returned so the caller can refuse them."""
    for name, value in (headers or {}).items():
        if name.lower() == "authorization" and value:
            scheme, _, credentials = value.strip().partition(" ")
            if scheme.lower() == "bearer":
                parts = (part.strip() for part in credentials.split(","))
                return [t for t in parts if t and _bounded(t) is not None][: MAX_TOKENS + 1]
    return []


def valid_id(document_id: str) -> bool:
    return DOCUMENT_ID_RE.fullmatch(document_id) is not None


def token_matches(stored_sha256: str | None, token: str | None) -> bool:
    """True only when both are present and ``sha256(token)`` equals the stored hash."""
    presented = hashlib.sha256(token.encode("utf-8")).hexdigest() if token else _NO_HASH
    same = hmac.compare_digest(presented, stored_sha256 or _NO_HASH)
    return same and token is not None and stored_sha256 is not None


def authorised(
    lookup: Callable[[str], DocumentStatus | None], document_id: str, token: str | None
) -> DocumentStatus | None:
    """The record ``token`` opens, or ``None`` for every kind of refusal alike."""
    record = lookup(document_id) if valid_id(document_id) else None
    stored = record.access_token_sha256 if record is not None else None
    if record is None or not token_matches(stored, token):
        return None
    return record


def _bounded(token: str) -> str | None:
    return token if len(token) <= MAX_TOKEN_CHARS else None
