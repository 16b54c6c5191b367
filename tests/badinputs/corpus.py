"""Every kind of bad input ocrpipe must answer clearly, and what the person is told.

Each :class:`Case` is one kind: the file's bytes (made here, in code: nothing binary is
committed), what the client declares in ``POST /uploads`` (filename, content type, size,
recipient...), how the bytes are sent, and the outcome the person sees (:class:`Expect`):

* ``refused``: ``POST /uploads`` answers a 4xx with a stable ``error`` code and a sentence;
  nothing is stored, nothing is queued;
* ``rejected``: the upload is accepted, then ingest checks the bytes and publishes
  ``DocumentRejected`` with a :class:`~ocrpipe.events.RejectionReason`;
* ``ocr_failed``: ingest accepted the file, the ocr stage could not read it: ``OcrFailed``
  with an :class:`~ocrpipe.events.OcrFailureReason`;
* ``counted``: an odd request that ocrpipe makes safe (a path as the filename, control
  characters): the document is read and counted under the sanitised name;
* ``answered``: any final answer but a passing one: counted, or rejected/failed with a
  permanent reason (never ``engine_error``, whose advice is "try again later"); for inputs
  whose right outcome is not pinned down, only that the person is not left waiting;
* ``notification_failed``: a webhook that passed the request-time check but cannot be
  delivered to (its host name resolves to an internal address, or to nothing): the document
  is processed, the delivery is refused or given up, ``NotificationFailed`` says why.

For ``rejected``, ``ocr_failed`` and ``counted`` the person gets an e-mail saying why; for
every accepted case ``GET /documents/{id}`` shows the stage. ``tests/e2e/test_bad_inputs.py``
runs every case through a local stack.

``python -m tests.badinputs.corpus OUTDIR`` writes every case's file into OUTDIR (as
``<case name><suffix>``, never under the declared filename, which may be a path) and
``OUTDIR/manifest.json`` describing each one.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import random
import re
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageDraw, ImageFont, TiffImagePlugin

from ingest.config import ValidationSettings
from ingest.validation import human_bytes
from ocr.pages import MAX_SIDE_PX
from ocrpipe.content_types import sniff_content_type
from ocrpipe.events import OcrFailureReason, RejectionReason
from tests.polyglot import many_page_pdf, pdf_from_objects, png_carrying, png_chunk

#: ingest's defaults, which the local stack runs with.
_LIMITS = ValidationSettings.model_fields
MAX_PAGES: int = _LIMITS["max_pages"].default
MAX_IMAGE_PIXELS: int = _LIMITS["max_image_pixels"].default
MAX_UPLOAD_BYTES: int = _LIMITS["max_upload_bytes"].default

Outcome = Literal["refused", "rejected", "ocr_failed", "counted", "answered", "notification_failed"]
Delivery = Literal["presigned_post", "late", "direct_put"]

#: What the words of :func:`text_page` are counted as (a readable page, for the cases whose
#: only problem is the request).
TEXT_LINES = ("The quick brown fox jumps over", "the lazy dog near the river bank.")


@dataclass(frozen=True)
class Expect:
    """The outcome the person sees."""

    outcome: Outcome
    #: The API's ``error`` code (refused), the ``reason_code`` (rejected, ocr_failed), the
    #: status API's ``failure_code`` (notification_failed), or "" (counted, answered).
    code: str
    #: A fragment of the sentence the person is told (the API's ``message``, or the event's
    #: ``reason``, which the e-mail repeats); for ``counted``, the name the file is kept as.
    says: str
    #: The HTTP status of a refusal.
    status: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "outcome": self.outcome,
            "code": self.code,
            "says": self.says,
            "status": self.status,
        }


def refused(status: int, code: str, says: str) -> Expect:
    return Expect("refused", code, says, status)


def rejected(code: RejectionReason, says: str) -> Expect:
    return Expect("rejected", code.value, says)


def ocr_failed(code: OcrFailureReason, says: str) -> Expect:
    return Expect("ocr_failed", code.value, says)


def counted(kept_as: str) -> Expect:
    return Expect("counted", "", kept_as)


def answered() -> Expect:
    return Expect("answered", "", "")


def notification_failed(says: str) -> Expect:
    return Expect("notification_failed", "delivery_failed", says)


@dataclass(frozen=True)
class Case:
    """One kind of bad input."""

    name: str
    #: Makes the file's bytes (cached: each generator runs once per process).
    make: Callable[[], bytes]
    #: The ``filename`` and ``content_type`` declared in ``POST /uploads``.
    filename: str
    content_type: str
    expect: Expect
    #: ``size_bytes`` declared in ``POST /uploads``; None: the file's real size.
    declared_size: int | None = None
    #: More ``POST /uploads`` fields, or replacements (a value of None leaves the field out):
    #: ``{"email": None, "webhook_url": ...}``. Every other case is notified by e-mail.
    request: Mapping[str, Any] = field(default_factory=dict)
    #: The exact ``POST /uploads`` body instead of a JSON object (a client's bug).
    raw_body: bytes | None = None
    #: ``presigned_post``: as a client does; ``late``: after the upload link expired;
    #: ``direct_put``: written into the uploads bucket without ``POST /uploads`` at all.
    delivery: Delivery = "presigned_post"
    #: What host names resolve to when notify delivers (the test's resolver answers so; an
    #: empty tuple: the name does not resolve).
    resolves: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: Why this is a kind of its own.
    note: str = ""
    #: Reading it kills the process that reads it (the OCR engine aborts): only ever run in
    #: a process of its own.
    isolated: bool = False
    #: A bug this case shows: the expectation is the right behaviour, which ocrpipe does not
    #: have yet (the test is a strict xfail with this reason).
    known_bug: str = ""

    @property
    def data(self) -> bytes:
        return self.make()

    @property
    def size_bytes(self) -> int:
        return len(self.data) if self.declared_size is None else self.declared_size

    @property
    def suffix(self) -> str:
        """The declared filename's suffix (as the person has the file), else ``.bin``."""
        found = _SUFFIX.search(self.filename)
        return found.group(0).lower() if found else ".bin"

    def to_json(self) -> dict[str, Any]:
        data = self.data
        return {
            "name": self.name,
            "file": self.name + self.suffix,
            "bytes": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "filename": self.filename,
            "content_type": self.content_type,
            "size_bytes": self.size_bytes,
            "request": dict(self.request),
            "raw_body": None if self.raw_body is None else self.raw_body.decode("latin-1"),
            "delivery": self.delivery,
            "resolves": {name: list(addresses) for name, addresses in self.resolves.items()},
            "note": self.note,
            "isolated": self.isolated,
            "known_bug": self.known_bug,
            "expect": self.expect.to_json(),
        }


_SUFFIX = re.compile(r"\.[A-Za-z]{2,4}$")


# -- the files ------------------------------------------------------------------------------


def _save(image: Image.Image, fmt: str, **kwargs: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


def _noise(size: tuple[int, int], seed: int) -> Image.Image:
    """Grey noise (incompressible, so a cut really loses pixel data), the same every run."""
    return Image.frombytes("L", size, random.Random(seed).randbytes(size[0] * size[1]))


@functools.cache
def text_page() -> bytes:
    """A small, clean page of printed text Tesseract reads (7 KB)."""
    image = Image.new("L", (1000, 200), 255)
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=36)
    for line, text in enumerate(TEXT_LINES):
        draw.text((40, 40 + 70 * line), text, font=font, fill=0)
    return _save(image, "PNG", dpi=(300, 300))


@functools.cache
def blank_page() -> bytes:
    return _save(Image.new("L", (400, 200), 255), "PNG")


@functools.cache
def noise_png() -> bytes:
    return _save(_noise((300, 200), seed=1), "PNG")


@functools.cache
def noise_jpeg() -> bytes:
    return _save(_noise((300, 200), seed=2).convert("RGB"), "JPEG", quality=90)


def truncated_png() -> bytes:
    data = noise_png()
    return data[: len(data) // 2]


def truncated_jpeg() -> bytes:
    data = noise_jpeg()
    return data[: len(data) // 2]


def png_with_a_flipped_byte() -> bytes:
    data = bytearray(noise_png())
    data[len(data) // 2] ^= 0xFF
    return bytes(data)


def jpeg_header_then_garbage() -> bytes:
    return b"\xff\xd8\xff\xe0" + b"garbage" * 100


def png_with_undecodable_pixels() -> bytes:
    """Every chunk and CRC right, through IEND, but the IDAT holds no zlib stream: ingest's
    structural check passes, only decoding the pixels finds it."""
    ihdr = struct.pack(">IIBBBBB", 64, 48, 8, 0, 0, 0, 0)
    garbage = random.Random(3).randbytes(200)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", garbage)
        + png_chunk(b"IEND", b"")
    )


@functools.cache
def random_bytes() -> bytes:
    data = random.Random(4).randbytes(4096)
    assert sniff_content_type(data) is None
    return data


def text_file() -> bytes:
    return b"Dear diary,\nthis is not a photo.\n"


def gif_image() -> bytes:
    return _save(Image.new("L", (64, 48), 255), "GIF")


_ZIP_TIME = (2024, 1, 1, 0, 0, 0)  # the same bytes every run


def docx_file() -> bytes:
    """A minimal Word document (a zip): what people upload when they mean "my document"."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as docx:
        docx.writestr(
            zipfile.ZipInfo("[Content_Types].xml", date_time=_ZIP_TIME),
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        docx.writestr(
            zipfile.ZipInfo("word/document.xml", date_time=_ZIP_TIME),
            '<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/'
            'wordprocessingml/2006/main"><w:body><w:p><w:r><w:t>Hello</w:t></w:r></w:p>'
            "</w:body></w:document>",
        )
    return buffer.getvalue()


@functools.cache
def one_page_pdf() -> bytes:
    return many_page_pdf(1)


@functools.cache
def polyglot_png() -> bytes:
    """A blank PNG whose first chunk after IHDR holds a whole 60-page PDF (``%PDF-`` within
    the first 1024 bytes, where PDF readers look for it)."""
    data = png_carrying(blank_page(), many_page_pdf(MAX_PAGES + 10))
    assert b"%PDF-" in data[:1024]
    return data


def pdf_behind_junk() -> bytes:
    return b"junk\n" * 20 + one_page_pdf()


def pdf_with_too_many_pages() -> bytes:
    return many_page_pdf(MAX_PAGES + 1)


def tiff_with_too_many_pages() -> bytes:
    frames = [Image.new("L", (8, 8), (shade * 5) % 256) for shade in range(MAX_PAGES + 1)]
    return _save(frames[0], "TIFF", save_all=True, append_images=frames[1:])


def truncated_tiff() -> bytes:
    data = _save(Image.new("L", (200, 200), 255), "TIFF")  # uncompressed: 40 KB of pixels
    return data[: len(data) // 2]


def corrupt_pdf() -> bytes:
    return b"%PDF-1.4\n" + random.Random(5).randbytes(2000)


def pdf_without_pages() -> bytes:
    return pdf_from_objects(
        [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [] /Count 0 >>"]
    )


def encrypted_pdf() -> bytes:
    """A PDF with the standard security handler and a user password that is not empty."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <"
        + b"11" * 32
        + b"> /U <"
        + b"22" * 32
        + b"> /P -4 >>",
    ]
    plain = pdf_from_objects(objects)
    trailer = f"<< /Size {len(objects) + 1} /Root 1 0 R >>".encode()
    encrypted = (
        f"<< /Size {len(objects) + 1} /Root 1 0 R /Encrypt 4 0 R "
        f"/ID [<{'ab' * 16}> <{'ab' * 16}>] >>".encode()
    )
    assert plain.count(trailer) == 1
    return plain.replace(trailer, encrypted)  # after the xref: its offsets stay right


def pdf_with_a_huge_page() -> bytes:
    """One 200 x 200 inch page: 60,000 x 60,000 pixels at 300 dpi."""
    return pdf_from_objects(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 14400 14400] >>",
        ]
    )


@functools.cache
def png_bomb() -> bytes:
    """A real 8,000 x 8,000 1-bit white image (64 MP, over ingest's 50 MP): about 20 KB."""
    assert MAX_IMAGE_PIXELS < 8000 * 8000
    return _save(Image.new("1", (8000, 8000), 1), "PNG")


def png_claiming_huge_size() -> bytes:
    """A PNG whose header claims 100,000 x 100,000 pixels, with almost no data (under 100
    bytes): over Pillow's own bomb limit too."""
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + png_chunk(b"IEND", b"")
    )


def too_tall_image() -> bytes:
    """20 x 40,000 pixels (only 0.8 MP, well under ingest's limit) but taller than the OCR
    engine reads a side."""
    return _save(Image.new("1", (20, 40_000), 1), "PNG")


def tiff_with_undecodable_strips() -> bytes:
    """A deflate-compressed TIFF whose strip holds no deflate stream: every tag and offset
    is right (ingest checks them), only decoding the pixels finds it."""
    data = bytearray(_save(Image.new("L", (64, 48), 255), "TIFF", compression="tiff_adobe_deflate"))
    with Image.open(io.BytesIO(bytes(data))) as image:
        assert isinstance(image, TiffImagePlugin.TiffImageFile)
        offset, count = image.tag_v2[273][0], image.tag_v2[279][0]
    data[offset : offset + count] = random.Random(6).randbytes(count)
    return bytes(data)


def _banner(width: int, height: int, font_px: int, repeat: int, skew_deg: float) -> bytes:
    image = Image.new("L", (width, height), 255)
    ImageDraw.Draw(image).text(
        (200, (height - font_px) // 2),
        "WIDE BANNER TEXT " * repeat,
        font=ImageFont.load_default(size=font_px),
        fill=0,
    )
    if skew_deg:
        image = image.rotate(skew_deg, Image.Resampling.BICUBIC, expand=False, fillcolor=255)
    return _save(image.convert("1"), "PNG", optimize=True)


def skewed_wide_banner() -> bytes:
    """32,767 x 700 pixels (23 MP: within ingest's limits and the OCR engine's 32,767 a
    side), one line of large text turned 1.5 degrees: about 80 KB."""
    return _banner(MAX_SIDE_PX, 700, 300, 12, 1.5)


def wide_banner() -> bytes:
    """32,767 x 400 pixels (13 MP), one line of 150-pixel text: about 20 KB."""
    return _banner(MAX_SIDE_PX, 400, 150, 24, 0.0)


def empty() -> bytes:
    return b""


# -- the cases ------------------------------------------------------------------------------

PNG, JPEG, TIFF, PDF = "image/png", "image/jpeg", "image/tiff", "application/pdf"
R, F = RejectionReason, OcrFailureReason
WEBHOOK_REFUSED = "The webhook URL must point at a public internet host."


def _webhook(url: str) -> dict[str, Any]:
    return {"email": None, "webhook_url": url}


def cases() -> list[Case]:
    """Every kind of bad input, once."""
    long_name = "a" * 251 + ".png"  # 255 characters (and bytes): the longest accepted
    return [
        # -- refused by POST /uploads: the request itself -----------------------------------
        Case(
            "empty_file_declared_0_bytes",
            empty,
            "empty.png",
            PNG,
            refused(400, "invalid_size", "size_bytes must be at least 1."),
            note="What a client sends for an empty file: its real size, 0.",
        ),
        Case(
            "declared_over_size_limit",
            text_page,
            "huge.png",
            PNG,
            refused(
                413, "too_large", f"the largest upload accepted is {human_bytes(MAX_UPLOAD_BYTES)}."
            ),
            declared_size=MAX_UPLOAD_BYTES + 1024 * 1024,
        ),
        Case(
            "unsupported_type_gif",
            gif_image,
            "drawing.gif",
            "image/gif",
            refused(415, "unsupported_content_type", "content_type 'image/gif' is not accepted"),
        ),
        Case(
            "unsupported_type_docx",
            docx_file,
            "letter.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            refused(415, "unsupported_content_type", "send one of image/jpeg, image/png"),
        ),
        Case(
            "filename_256_chars",
            text_page,
            "a" * 252 + ".png",
            PNG,
            refused(400, "invalid_filename", "filename is longer than 255 characters."),
        ),
        Case(
            "filename_too_long_encoded",
            text_page,
            "\U0001f600" * 251 + ".png",
            PNG,
            refused(400, "invalid_filename", "filename is too long once encoded"),
            note="255 characters, but 4 bytes each: over S3's 1024-byte key limit.",
        ),
        Case(
            "filename_only_a_path",
            text_page,
            "../",
            PNG,
            refused(400, "invalid_filename", "filename must name a file, not a folder or path."),
        ),
        Case(
            "filename_with_s3_placeholder",
            text_page,
            "x${filename}.png",
            PNG,
            refused(400, "invalid_filename", "filename must not contain ${filename}."),
            note="S3's POST would replace it with the name the browser sends.",
        ),
        Case(
            "email_invalid",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_email", "email is not valid"),
            request={"email": "not-an-address"},
        ),
        Case(
            "email_header_injection",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_email", "email is not valid"),
            request={"email": "reader@example.com\r\nBcc: victim@example.org"},
        ),
        Case(
            "webhook_private_address",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_webhook_url", WEBHOOK_REFUSED),
            request=_webhook("https://10.0.0.1/hook"),
        ),
        Case(
            "webhook_loopback_short_form",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_webhook_url", WEBHOOK_REFUSED),
            request=_webhook("https://127.1/"),
            note="127.1 is 127.0.0.1 to inet_aton (and so to every HTTP client).",
        ),
        Case(
            "webhook_loopback_decimal",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_webhook_url", WEBHOOK_REFUSED),
            request=_webhook("https://2130706433/"),
            note="2130706433 is 127.0.0.1 as one number.",
        ),
        Case(
            "webhook_cloud_metadata",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_webhook_url", WEBHOOK_REFUSED),
            request=_webhook("https://169.254.169.254/latest/meta-data/"),
        ),
        Case(
            "webhook_not_https",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_webhook_url", "https"),
            request=_webhook("http://hooks.example.com/ocr"),
        ),
        Case(
            "email_and_webhook",
            text_page,
            "scan.png",
            PNG,
            refused(400, "conflicting_recipients", "Give either email or webhook_url, not both."),
            request={"webhook_url": "https://hooks.example.com/ocr"},
        ),
        Case(
            "language_unknown",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_language", "language must be one of"),
            request={"language": "klingon"},
        ),
        Case(
            "unknown_field",
            text_page,
            "scan.png",
            PNG,
            refused(400, "unknown_field", "Unknown field 'colour'"),
            request={"colour": "red"},
        ),
        Case(
            "body_not_json",
            text_page,
            "scan.png",
            PNG,
            refused(400, "invalid_json", "The request body must be a JSON object."),
            raw_body=b"{not json",
        ),
        # -- accepted, then rejected by ingest: the bytes -----------------------------------
        Case(
            "empty_file_sent",
            empty,
            "empty.png",
            PNG,
            rejected(R.EMPTY_FILE, "empty.png is empty (0 bytes)."),
            declared_size=1000,
            note="Declared with a size, then sent empty.",
        ),
        Case(
            "larger_than_declared",
            text_page,
            "bigger.png",
            PNG,
            rejected(R.LARGER_THAN_DECLARED, "more than the 100 bytes its upload was announced"),
            declared_size=100,
        ),
        Case(
            "upload_link_expired",
            text_page,
            "late.png",
            PNG,
            rejected(R.UPLOAD_EXPIRED, "after its upload link expired."),
            delivery="late",
        ),
        Case(
            "not_uploaded_through_the_api",
            text_page,
            "stray.png",
            PNG,
            rejected(R.UNKNOWN_UPLOAD, "was not uploaded through ocrpipe's upload API"),
            delivery="direct_put",
            note="Nobody to tell: no recipient, no access token.",
        ),
        Case(
            "random_bytes_named_png",
            random_bytes,
            "photo.png",
            PNG,
            rejected(R.UNSUPPORTED_TYPE, "photo.png is not a JPEG, PNG, TIFF or PDF file."),
        ),
        Case(
            "text_file_named_jpg",
            text_file,
            "photo.jpg",
            JPEG,
            rejected(R.UNSUPPORTED_TYPE, "photo.jpg is not a JPEG, PNG, TIFF or PDF file."),
        ),
        Case(
            "gif_declared_as_png",
            gif_image,
            "drawing.png",
            PNG,
            rejected(R.UNSUPPORTED_TYPE, "drawing.png is not a JPEG, PNG, TIFF or PDF file."),
        ),
        Case(
            "pdf_behind_leading_junk",
            pdf_behind_junk,
            "report.pdf",
            PDF,
            rejected(R.UNSUPPORTED_TYPE, "report.pdf is not a JPEG, PNG, TIFF or PDF file."),
            note="PDF readers find a header in the first 1024 bytes; ocrpipe only at 0.",
        ),
        Case(
            "pdf_declared_as_png",
            one_page_pdf,
            "scan.png",
            PNG,
            rejected(
                R.CONTENT_TYPE_MISMATCH,
                "scan.png was announced as a PNG image but is a PDF document.",
            ),
        ),
        Case(
            "polyglot_declared_as_pdf",
            polyglot_png,
            "innocent.pdf",
            PDF,
            rejected(
                R.CONTENT_TYPE_MISMATCH,
                "innocent.pdf was announced as a PDF document but is a PNG image.",
            ),
        ),
        Case(
            "truncated_png",
            truncated_png,
            "cut.png",
            PNG,
            rejected(R.CORRUPT, "cut.png looks like a PNG image but could not be read"),
        ),
        Case(
            "png_with_a_flipped_byte",
            png_with_a_flipped_byte,
            "flipped.png",
            PNG,
            rejected(R.CORRUPT, "flipped.png looks like a PNG image but could not be read"),
            note="A chunk's CRC no longer matches.",
        ),
        Case(
            "truncated_jpeg",
            truncated_jpeg,
            "cut.jpg",
            JPEG,
            rejected(R.CORRUPT, "cut.jpg looks like a JPEG image but could not be read"),
        ),
        Case(
            "jpeg_header_then_garbage",
            jpeg_header_then_garbage,
            "garbage.jpg",
            JPEG,
            rejected(R.CORRUPT, "garbage.jpg looks like a JPEG image but could not be read"),
        ),
        Case(
            "truncated_tiff",
            truncated_tiff,
            "cut.tif",
            TIFF,
            rejected(R.CORRUPT, "cut.tif looks like a TIFF image but could not be read"),
        ),
        Case(
            "corrupt_pdf",
            corrupt_pdf,
            "broken.pdf",
            PDF,
            rejected(R.CORRUPT, "broken.pdf looks like a PDF document but could not be read"),
        ),
        Case(
            "pdf_without_pages",
            pdf_without_pages,
            "nothing.pdf",
            PDF,
            rejected(R.CORRUPT, "nothing.pdf looks like a PDF document but could not be read"),
            note="pdfium does not open a PDF whose page tree is empty.",
        ),
        Case(
            "password_protected_pdf",
            encrypted_pdf,
            "secret.pdf",
            PDF,
            rejected(
                R.CORRUPT,
                "secret.pdf is password-protected; please upload it without a password.",
            ),
        ),
        Case(
            "pdf_too_many_pages",
            pdf_with_too_many_pages,
            "book.pdf",
            PDF,
            rejected(
                R.TOO_MANY_PAGES,
                f"book.pdf has {MAX_PAGES + 1} pages; at most {MAX_PAGES} are accepted.",
            ),
        ),
        Case(
            "tiff_too_many_pages",
            tiff_with_too_many_pages,
            "fax.tif",
            TIFF,
            rejected(
                R.TOO_MANY_PAGES,
                f"fax.tif has more than {MAX_PAGES} pages; at most {MAX_PAGES} are accepted.",
            ),
        ),
        Case(
            "png_decompression_bomb",
            png_bomb,
            "bomb.png",
            PNG,
            rejected(R.DECOMPRESSION_BOMB, "bomb.png is 8,000 x 8,000 pixels"),
        ),
        Case(
            "png_header_claiming_10_gigapixels",
            png_claiming_huge_size,
            "claims.png",
            PNG,
            rejected(R.DECOMPRESSION_BOMB, "claims.png claims to be far larger than the largest"),
        ),
        Case(
            "pdf_page_decompression_bomb",
            pdf_with_a_huge_page,
            "poster.pdf",
            PDF,
            rejected(R.DECOMPRESSION_BOMB, "Page 1 of poster.pdf is 14,400 x 14,400 points"),
        ),
        # -- accepted by ingest, not readable by ocr ----------------------------------------
        Case(
            "png_with_undecodable_pixels",
            png_with_undecodable_pixels,
            "undecodable.png",
            PNG,
            ocr_failed(F.UNREADABLE, "damaged or truncated and cannot be decoded"),
            note="Structurally sound (every CRC right), so ingest accepts it.",
        ),
        Case(
            "tiff_with_undecodable_strips",
            tiff_with_undecodable_strips,
            "scan.tif",
            TIFF,
            ocr_failed(F.UNREADABLE, "damaged or truncated and cannot be decoded"),
            note="Tags and strip offsets right, so ingest accepts it.",
        ),
        Case(
            "image_taller_than_the_engine_reads",
            too_tall_image,
            "receipt.png",
            PNG,
            ocr_failed(F.TOO_LARGE, "the OCR engine reads pages of up to 32,767 pixels a side."),
        ),
        Case(
            "blank_page",
            blank_page,
            "blank.png",
            PNG,
            ocr_failed(F.NO_TEXT, "No text was found in the 1-page document"),
        ),
        Case(
            "wide_skewed_banner",
            skewed_wide_banner,
            "banner.png",
            PNG,
            counted("banner.png"),
            note="Read at the engine's 16,384 px a side. Before, its deskewed candidate was "
            "32,775 px wide, more than Tesseract reads: 'try again later' for a page no retry "
            "could read.",
        ),
        Case(
            "wide_banner_aborting_tesseract",
            wide_banner,
            "wide.png",
            PNG,
            answered(),
            isolated=True,
            note="Within every limit, yet Tesseract 5.3's layout analysis aborts the process on "
            "it ('right_edge >= left_edge', pithsync.cpp) at its full 32,767 px; read at the "
            "engine's 16,384 px a side it is counted. Still run in a process of its own.",
        ),
        Case(
            "polyglot_png_carrying_a_pdf",
            polyglot_png,
            "innocent.png",
            PNG,
            ocr_failed(F.NO_TEXT, "No text was found in the 1-page document"),
            note="Read as the (blank) PNG it was checked as, never as its 60-page PDF.",
        ),
        # -- odd requests made safe: read and counted under a sanitised name -----------------
        Case(
            "filename_255_chars",
            text_page,
            long_name,
            PNG,
            counted(long_name),
        ),
        Case(
            "filename_path_traversal",
            text_page,
            "../../etc/passwd.png",
            PNG,
            counted("passwd.png"),
        ),
        Case(
            "filename_control_characters",
            text_page,
            "bad\x00name\x1b\r\n\u202e.png",
            PNG,
            counted("badname.png"),
            note="NUL, ESC, CR/LF and a right-to-left override are dropped.",
        ),
        # -- accepted and processed, but the webhook cannot be delivered to -----------------
        Case(
            "webhook_name_resolving_to_a_private_address",
            text_page,
            "scan.png",
            PNG,
            notification_failed(WEBHOOK_REFUSED),
            request=_webhook("https://internal.hooks.example.com/ocr"),
            resolves={"internal.hooks.example.com": ("10.0.0.7",)},
            note="Names are not resolved at request time (the answer may change); at send time "
            "every address is checked.",
        ),
        Case(
            "webhook_name_not_resolving",
            text_page,
            "scan.png",
            PNG,
            notification_failed("could not be resolved"),
            request=_webhook("https://gone.hooks.example.com/ocr"),
            resolves={"gone.hooks.example.com": ()},
            note="Retried (DNS may answer later), then given up on the last delivery.",
        ),
    ]


def write(outdir: Path) -> list[Case]:
    """Every case's file into ``outdir`` and ``outdir/manifest.json``."""
    outdir.mkdir(parents=True, exist_ok=True)
    every = cases()
    manifest = []
    for case in every:
        entry = case.to_json()
        (outdir / entry["file"]).write_bytes(case.data)
        manifest.append(entry)
    (outdir / "manifest.json").write_text(
        json.dumps({"cases": manifest}, indent=2, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return every


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m tests.badinputs.corpus OUTDIR", file=sys.stderr)
        return 2
    outdir = Path(argv[0])
    every = write(outdir)
    total = sum(len(c.data) for c in every)
    print(f"{len(every)} bad inputs ({total:,} bytes) and manifest.json written to {outdir}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
