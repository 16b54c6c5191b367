"""Is an uploaded object a document ocrpipe can read? Checked on the real bytes, cheaply.

The presigned POST only binds what the client *declared*; S3 stores whatever arrives (and
the local emulator does not even enforce the policy). So every object is checked here before
anything downstream spends an OCR call on it:

1. size: 0 bytes -> ``empty_file``; over the limit -> ``too_large`` (nothing past the limit
   is read);
2. magic number (:func:`ocrpipe.content_types.sniff_content_type`, the one function that
   decides what a file is, for ocr too): JPEG, PNG, TIFF or PDF, else ``unsupported_type``;
   a type other than the declared one -> ``content_type_mismatch``. The file is then checked
   only as that type, and the ocr stage opens it only as that type;
3. the format itself, without decoding full-size pixels:

   * images: dimensions come from the header and are checked against ``max_image_pixels``
     BEFORE any decoding (Pillow's own ``DecompressionBombError`` is caught too);
     JPEG is decoded at 1/8 scale (cheap, and it still reads every byte, so truncation is
     found); PNG chunks are CRC-checked (``verify``); TIFF frames are counted (at most
     ``max_pages``) and every frame's size and strip/tile offsets are checked.
   * PDF: pdfium opens it and reads the page count and page sizes, rendering nothing; a
     page whose size at ``pdf_dpi`` exceeds ``max_image_pixels`` is a decompression bomb.

The SHA-256 is computed while the bytes are read, chunk by chunk, into the one buffer the
checks then work on (the bytes are never held twice).

Every rejection carries a sentence a person can read, naming their file.
"""

from __future__ import annotations

import hashlib
import io
import math
import struct
from dataclasses import dataclass
from typing import Protocol

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_raw
from PIL import Image, TiffImagePlugin

from ocrpipe.content_types import (
    MAGIC_BYTES,
    PIL_FORMATS,
    TYPE_NAMES,
    ContentType,
    sniff_content_type,
    type_name,
)
from ocrpipe.events import RejectionReason
from ocrpipe.pdfium import PDFIUM_LOCK

_READ_CHUNK = 1024 * 1024
#: What Pillow raises on bytes it cannot parse (it is not consistent about it).
_DECODE_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    struct.error,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    ZeroDivisionError,
)
# TIFF tags that say where the pixel data lives.
_STRIP_OFFSETS, _STRIP_BYTE_COUNTS = 273, 279
_TILE_OFFSETS, _TILE_BYTE_COUNTS = 324, 325


class ReadableStream(Protocol):
    def read(self, amt: int = ..., /) -> bytes: ...


@dataclass(frozen=True)
class Limits:
    max_bytes: int
    max_pages: int
    max_image_pixels: int
    pdf_dpi: int = 300


@dataclass(frozen=True)
class Accepted:
    content_type: ContentType
    page_count: int
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Rejected:
    code: RejectionReason
    reason: str
    size_bytes: int


Verdict = Accepted | Rejected


def human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} byte" + ("" if size == 1 else "s")
    if size < 1024 * 1024:
        return f"{size / 1024:.1f} KiB"
    return f"{size / (1024 * 1024):.1f} MiB"


def check_document(
    stream: ReadableStream,
    *,
    filename: str,
    declared_content_type: str | None,
    limits: Limits,
    size_bytes: int | None = None,
) -> Verdict:
    """Read ``stream`` (at most ``limits.max_bytes`` + 1 bytes) and judge it.

    ``size_bytes`` is the object's size when known up front (S3 ``ContentLength``): an
    object over the limit is then rejected without reading it at all.
    """
    subject = filename or "The file"
    if size_bytes is not None and size_bytes > limits.max_bytes:
        return _too_large(subject, size_bytes, limits)

    buffer = io.BytesIO()
    digest = hashlib.sha256()
    total = 0
    while chunk := stream.read(_READ_CHUNK):
        total += len(chunk)
        if total > limits.max_bytes:
            if size_bytes is not None and size_bytes >= total:
                return _too_large(subject, size_bytes, limits)
            return Rejected(
                RejectionReason.TOO_LARGE,
                f"{subject} is larger than {human_bytes(limits.max_bytes)}, the largest file "
                "accepted.",
                total,
            )
        digest.update(chunk)
        buffer.write(chunk)

    if total == 0:
        return Rejected(RejectionReason.EMPTY_FILE, f"{subject} is empty (0 bytes).", 0)

    with buffer.getbuffer() as view:
        head = bytes(view[:MAGIC_BYTES])
    actual = sniff_content_type(head)
    if actual is None:
        return Rejected(
            RejectionReason.UNSUPPORTED_TYPE,
            f"{subject} is not a JPEG, PNG, TIFF or PDF file.",
            total,
        )
    if declared_content_type is not None and declared_content_type != actual:
        return Rejected(
            RejectionReason.CONTENT_TYPE_MISMATCH,
            f"{subject} was announced as {type_name(declared_content_type)} but is "
            f"{TYPE_NAMES[actual]}.",
            total,
        )

    buffer.seek(0)
    if actual == "application/pdf":
        outcome = _check_pdf(buffer, subject, limits)
    else:
        outcome = _check_image(buffer, total, actual, subject, limits)
    if isinstance(outcome, _Problem):
        return Rejected(outcome.code, outcome.reason, total)
    return Accepted(
        content_type=actual, page_count=outcome, size_bytes=total, sha256=digest.hexdigest()
    )


@dataclass(frozen=True)
class _Problem:
    code: RejectionReason
    reason: str


def _too_large(subject: str, size: int, limits: Limits) -> Rejected:
    return Rejected(
        RejectionReason.TOO_LARGE,
        f"{subject} is {human_bytes(size)}; the largest file accepted is "
        f"{human_bytes(limits.max_bytes)}.",
        size,
    )


def _corrupt(subject: str, content_type: ContentType) -> _Problem:
    return _Problem(
        RejectionReason.CORRUPT,
        f"{subject} looks like {TYPE_NAMES[content_type]} but could not be read; "
        "it may be damaged or incomplete.",
    )


def _too_many_pixels(subject: str, width: int, height: int, limits: Limits) -> _Problem:
    return _Problem(
        RejectionReason.DECOMPRESSION_BOMB,
        f"{subject} is {width:,} x {height:,} pixels; the largest image accepted is "
        f"{limits.max_image_pixels:,} pixels.",
    )


def _check_image(
    buffer: io.BytesIO, file_size: int, content_type: ContentType, subject: str, limits: Limits
) -> int | _Problem:
    """Page count of a JPEG/PNG/TIFF, or what is wrong with it."""
    try:
        with Image.open(buffer, formats=[PIL_FORMATS[content_type]]) as image:
            width, height = image.size
            if width <= 0 or height <= 0:
                return _corrupt(subject, content_type)
            if width * height > limits.max_image_pixels:
                return _too_many_pixels(subject, width, height, limits)
            if content_type == "image/jpeg":
                # Decode at 1/8 scale: every byte is still read, so truncation shows.
                image.draft(None, (max(1, width // 8), max(1, height // 8)))
                image.load()
                return 1
            if content_type == "image/png":
                image.verify()  # chunk CRCs, through to IEND
                return 1
            assert isinstance(image, TiffImagePlugin.TiffImageFile)
            return _check_tiff_frames(image, file_size, subject, limits)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # (the warning only matters where warnings are turned into errors)
        return _Problem(
            RejectionReason.DECOMPRESSION_BOMB,
            f"{subject} claims to be far larger than the largest image accepted "
            f"({limits.max_image_pixels:,} pixels).",
        )
    except _DECODE_ERRORS:
        return _corrupt(subject, content_type)


def _as_tuple(value: object) -> tuple[int, ...]:
    if value is None:
        return ()
    if isinstance(value, int):
        return (value,)
    return tuple(int(v) for v in value)  # type: ignore[attr-defined]


def _check_tiff_frames(
    image: TiffImagePlugin.TiffImageFile, file_size: int, subject: str, limits: Limits
) -> int | _Problem:
    """Count frames (stopping past ``max_pages``) and check each one's size and data offsets."""
    frames = 0
    while True:
        if frames:
            try:
                image.seek(frames)
            except EOFError:
                break
        frames += 1
        if frames > limits.max_pages:
            return _Problem(
                RejectionReason.TOO_MANY_PAGES,
                f"{subject} has more than {limits.max_pages} pages; at most "
                f"{limits.max_pages} are accepted.",
            )
        width, height = image.size
        if width <= 0 or height <= 0:
            return _corrupt(subject, "image/tiff")
        if width * height > limits.max_image_pixels:
            return _too_many_pixels(subject, width, height, limits)
        tags = image.tag_v2
        offsets = _as_tuple(tags.get(_STRIP_OFFSETS) or tags.get(_TILE_OFFSETS))
        counts = _as_tuple(tags.get(_STRIP_BYTE_COUNTS) or tags.get(_TILE_BYTE_COUNTS))
        if not offsets:
            return _corrupt(subject, "image/tiff")
        if counts and len(counts) != len(offsets):
            return _corrupt(subject, "image/tiff")
        for index, offset in enumerate(offsets):
            end = offset + (counts[index] if counts else 1)
            if offset < 0 or end > file_size:
                return _corrupt(subject, "image/tiff")
    return frames


def _check_pdf(buffer: io.BytesIO, subject: str, limits: Limits) -> int | _Problem:
    """Page count of a PDF (nothing is rendered), or what is wrong with it."""
    scale = limits.pdf_dpi / 72.0  # PDF units are points, 72 per inch
    with PDFIUM_LOCK:
        try:
            pdf = pdfium.PdfDocument(buffer)
        except pdfium.PdfiumError as exc:
            if exc.err_code in (pdfium_raw.FPDF_ERR_PASSWORD, pdfium_raw.FPDF_ERR_SECURITY):
                return _Problem(
                    RejectionReason.CORRUPT,
                    f"{subject} is password-protected; please upload it without a password.",
                )
            return _corrupt(subject, "application/pdf")
        try:
            pages = len(pdf)
            if pages <= 0:
                return _Problem(RejectionReason.CORRUPT, f"{subject} has no pages.")
            if pages > limits.max_pages:
                return _Problem(
                    RejectionReason.TOO_MANY_PAGES,
                    f"{subject} has {pages} pages; at most {limits.max_pages} are accepted.",
                )
            for index in range(pages):
                try:
                    width_pt, height_pt = pdf.get_page_size(index)
                except pdfium.PdfiumError:
                    return _corrupt(subject, "application/pdf")
                if not (width_pt > 0 and height_pt > 0) or math.isinf(width_pt * height_pt):
                    return _corrupt(subject, "application/pdf")
                pixels = round(width_pt * scale) * round(height_pt * scale)
                if pixels > limits.max_image_pixels:
                    return _Problem(
                        RejectionReason.DECOMPRESSION_BOMB,
                        f"Page {index + 1} of {subject} is {width_pt:,.0f} x {height_pt:,.0f} "
                        f"points, {pixels:,} pixels at {limits.pdf_dpi} dpi; the largest page "
                        f"accepted is {limits.max_image_pixels:,} pixels.",
                    )
            return pages
        finally:
            pdf.close()
