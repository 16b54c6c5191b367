"""Fetchable, short-lived links to a document's results: its text, its counts as JSON and CSV.

Results live in S3 at internal addresses (``s3://...``) that nobody outside the account can
fetch. People -- a browser, a webhook receiver -- get links instead, made one of two ways
(``OCRPIPE_LINKS``):

* ``presigned`` (AWS, the default): a presigned S3 ``GET``, valid ``OCRPIPE_LINK_EXPIRY_S``
  seconds, downloading the object as an attachment named after the document. The signer's
  role needs ``s3:GetObject`` on the object (and the link dies with the role's session).
* ``api`` (the local runtime): a URL of the status API,
  ``{base}/documents/{id}/files/{name}?expires=<unix s>&signature=<hex>``, signed with
  HMAC-SHA256 under ``OCRPIPE_LINK_SECRET``; the status API checks signature and expiry and
  serves the file. ``base`` is the API address the caller used (so a phone on the network
  gets an address it can reach) or ``OCRPIPE_PUBLIC_API_URL``. Locally the emulator listens on
  loopback and checks neither the signature nor the expiry of presigned URLs, so its presigned
  URLs would be neither reachable from another device nor short-lived.

A link names one of :data:`FILES`; the signature covers the document id, the file name and
the expiry, so a link cannot be moved to another document, file or time.
"""

from __future__ import annotations

import hashlib
import hmac
import time
import urllib.parse
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from ocrpipe.storage import S3Location

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


@dataclass(frozen=True)
class FileKind:
    """One of a document's downloadable files."""

    name: str
    content_type: str
    #: Appended to the document's file name stem for the download's name.
    suffix: str


TEXT = FileKind("text.txt", "text/plain; charset=utf-8", ".txt")
COUNTS_JSON = FileKind("counts.json", "application/json; charset=utf-8", ".counts.json")
COUNTS_CSV = FileKind("counts.csv", "text/csv; charset=utf-8", ".counts.csv")
FILES: dict[str, FileKind] = {kind.name: kind for kind in (TEXT, COUNTS_JSON, COUNTS_CSV)}

#: Longest link lifetime accepted (a presigned SigV4 URL's own limit: 7 days).
MAX_EXPIRY_S = 7 * 24 * 3600


class LinkSettings(BaseSettings):
    """How links are made (``OCRPIPE_LINKS``, ``OCRPIPE_LINK_EXPIRY_S``, ...)."""

    model_config = SettingsConfigDict(env_prefix="OCRPIPE_", extra="ignore", frozen=True)

    links: Literal["presigned", "api"] = "presigned"
    link_expiry_s: int = Field(default=900, ge=60, le=MAX_EXPIRY_S)
    public_api_url: str = Field(
        default="", description="Status API base URL for api links made outside a request."
    )
    link_secret: SecretStr | None = Field(default=None, description="HMAC key of api links.")


def request_base_url(headers: Mapping[str, str] | None) -> str | None:
    """The API address a request was sent to (``scheme://host[:port]``), from its ``Host``
    (and ``X-Forwarded-Proto``) headers: what links and upload URLs made for that caller
    point at, so a phone on the network gets an address it can reach. None without a Host."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    host = lowered.get("host")
    if not host:
        return None
    scheme = lowered.get("x-forwarded-proto", "http").split(",")[0].strip()
    return f"{scheme}://{host}"


class LinkError(RuntimeError):
    """Links cannot be made as configured (e.g. api links without a secret or base URL)."""


def download_name(document_filename: str, kind: FileKind) -> str:
    """``scan.jpg`` -> ``scan.txt`` / ``scan.counts.json`` / ``scan.counts.csv``."""
    stem = PurePosixPath(document_filename.replace("\\", "/")).stem or "document"
    return stem + kind.suffix


def content_disposition(filename: str) -> str:
    """An attachment header any browser reads, non-ASCII names included (RFC 6266/5987)."""
    ascii_name = filename.encode("ascii", "replace").decode("ascii").replace('"', "'")
    quoted = urllib.parse.quote(filename, safe="")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quoted}"


def signature(secret: str, document_id: str, name: str, expires: int) -> str:
    message = f"{document_id}\n{name}\n{expires}".encode()
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str, document_id: str, name: str, expires: str, presented: str, *, now: float
) -> bool:
    """True for a link made by :class:`Links` for this file that has not expired."""
    if not expires.isdigit() or int(expires) < now:
        return False
    expected = signature(secret, document_id, name, int(expires))
    return hmac.compare_digest(expected, presented)


@dataclass(frozen=True)
class DocumentLinks:
    links: dict[str, str]
    expires_at: int


class Links:
    """Makes a document's links as :class:`LinkSettings` say."""

    def __init__(
        self,
        settings: LinkSettings,
        s3: Callable[[], S3Client],
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._s3 = s3
        self._now = now

    def for_document(
        self,
        document_id: str,
        filename: str,
        uris: Mapping[str, str | None],
        *,
        base_url: str | None = None,
        expiry_s: int | None = None,
    ) -> DocumentLinks:
        """Links to the files in ``uris`` (file name -> ``s3://`` URI; ``None`` skipped)."""
        expiry = min(expiry_s or self._settings.link_expiry_s, MAX_EXPIRY_S)
        expires_at = int(self._now()) + expiry
        made: dict[str, str] = {}
        for name, uri in uris.items():
            if not uri:
                continue
            kind = FILES[name]
            if self._settings.links == "presigned":
                made[name] = self._presigned(uri, download_name(filename, kind), kind, expiry)
            else:
                made[name] = self._api_link(document_id, name, expires_at, base_url)
        return DocumentLinks(made, expires_at)

    def _presigned(self, uri: str, download: str, kind: FileKind, expiry: int) -> str:
        location = S3Location.parse(uri)
        url: str = self._s3().generate_presigned_url(
            "get_object",
            Params={
                "Bucket": location.bucket,
                "Key": location.key,
                "ResponseContentDisposition": content_disposition(download),
                "ResponseContentType": kind.content_type,
            },
            ExpiresIn=expiry,
        )
        return url

    def _api_link(self, document_id: str, name: str, expires_at: int, base_url: str | None) -> str:
        secret = self._settings.link_secret
        base = (base_url or self._settings.public_api_url).rstrip("/")
        if secret is None or not base:
            raise LinkError("api links need OCRPIPE_LINK_SECRET and a base URL")
        query = urllib.parse.urlencode(
            {
                "expires": expires_at,
                "signature": signature(secret.get_secret_value(), document_id, name, expires_at),
            }
        )
        return f"{base}/documents/{document_id}/files/{name}?{query}"
