"""What a file is: the one decision every stage takes from the same function.

A document's type is decided once, by :func:`sniff_content_type` on its first bytes (the
magic number), when ingest checks the upload. Ingest validates the file *as that type*
(page count, pixel count, ...) and carries the type in ``DocumentUploaded.content_type``;
the ocr stage opens the bytes as that type only, and refuses them when this same function
gives another answer. No stage may guess a type any other way (by looking for a marker
further into the file, or by letting a decoder pick): a file can be valid as two types at
once (a PNG whose ancillary chunk holds a whole PDF), and reading it as a type other than
the one that was checked bypasses every limit that was checked.

The rules, deliberately strict:

* every magic number must be at offset 0;
* a PDF must *begin* with ``%PDF-``. PDF readers (pdfium, Acrobat) also accept a header
  anywhere in the first 1024 bytes, after leading junk; ocrpipe does not. A file with
  something else in front of its PDF header is what such a polyglot looks like, and ingest
  has always refused it as ``unsupported_type`` (so no real PDF that was ever accepted
  changes its fate). Whoever needs to upload one can strip the junk first.

Standard library only: the ingest and ocr services and the local CLI import it.
"""

from __future__ import annotations

from typing import Literal, get_args

ContentType = Literal["image/jpeg", "image/png", "image/tiff", "application/pdf"]
SUPPORTED_CONTENT_TYPES: tuple[ContentType, ...] = get_args(ContentType)

#: How many leading bytes :func:`sniff_content_type` looks at (and needs).
MAGIC_BYTES = 8

_MAGIC: tuple[tuple[bytes, ContentType], ...] = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"II*\x00", "image/tiff"),
    (b"MM\x00*", "image/tiff"),
    (b"%PDF-", "application/pdf"),
)

#: How each type is called in a sentence a person reads.
TYPE_NAMES: dict[ContentType, str] = {
    "image/jpeg": "a JPEG image",
    "image/png": "a PNG image",
    "image/tiff": "a TIFF image",
    "application/pdf": "a PDF document",
}

#: The one Pillow format an image type may be opened as (``Image.open(formats=[...])``), so
#: Pillow never picks a format by itself. Pillow reports a JPEG with an MPO index (phones'
#: multi-picture JPEGs) as ``MPO``: that is still a JPEG.
PIL_FORMATS: dict[ContentType, str] = {
    "image/jpeg": "JPEG",
    "image/png": "PNG",
    "image/tiff": "TIFF",
}
PIL_FORMATS_REPORTED: dict[ContentType, frozenset[str]] = {
    "image/jpeg": frozenset({"JPEG", "MPO"}),
    "image/png": frozenset({"PNG"}),
    "image/tiff": frozenset({"TIFF"}),
}


def sniff_content_type(head: bytes) -> ContentType | None:
    """The type the first bytes of a file announce (at offset 0), or None if not one we
    accept. ``head`` may be the whole file; only its first :data:`MAGIC_BYTES` are read."""
    head = head[:MAGIC_BYTES]
    for magic, content_type in _MAGIC:
        if head.startswith(magic):
            return content_type
    return None


def type_name(content_type: str) -> str:
    """``image/png`` -> ``a PNG image``; an unknown type is named as it is."""
    for known, name in TYPE_NAMES.items():
        if known == content_type:
            return name
    return content_type
