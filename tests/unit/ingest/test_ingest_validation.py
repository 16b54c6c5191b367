"""ingest.validation on real (tiny) files made in the test: good ones pass, bad ones say why."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor

import pypdfium2 as pdfium
import pytest
from PIL import Image

from ingest.validation import (
    Accepted,
    Limits,
    Rejected,
    check_document,
    human_bytes,
)
from ocrpipe.events import RejectionReason
from ocrpipe.pdfium import PDFIUM_LOCK
from tests.polyglot import many_page_pdf, png_carrying

LIMITS = Limits(max_bytes=10 * 1024 * 1024, max_pages=50, max_image_pixels=50_000_000)


def image_bytes(fmt: str, size: tuple[int, int] = (64, 48), *, noise: bool = False, **kw) -> bytes:
    if noise:
        image = Image.effect_noise(size, 80).convert("RGB")
    else:
        image = Image.new("RGB", size, "white")
    out = io.BytesIO()
    image.save(out, fmt, **kw)
    return out.getvalue()


def tiff_with_frames(count: int) -> bytes:
    frames = [Image.new("L", (32, 32), shade * 20) for shade in range(count)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def pdf_with_pages(*sizes: tuple[float, float]) -> bytes:
    with PDFIUM_LOCK:
        pdf = pdfium.PdfDocument.new()
        try:
            for width, height in sizes:
                pdf.new_page(width, height)
            out = io.BytesIO()
            pdf.save(out)
        finally:
            pdf.close()
    return out.getvalue()


def png_claiming(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` but which carries almost no data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 16))
        + chunk(b"IEND", b"")
    )


def encrypted_pdf() -> bytes:
    """A PDF with a standard security handler whose user password is not empty."""
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
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += (
        b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\n"
        % (len(objects) + 1, b"ab" * 16, b"ab" * 16)
        + b"startxref\n%d\n%%%%EOF\n" % xref
    )
    return bytes(out)


def check(
    data: bytes,
    declared: str | None,
    filename: str = "scan.bin",
    limits: Limits = LIMITS,
    size_bytes: int | None = None,
) -> Accepted | Rejected:
    return check_document(
        io.BytesIO(data),
        filename=filename,
        declared_content_type=declared,
        limits=limits,
        size_bytes=size_bytes,
    )


def rejected(verdict: Accepted | Rejected, code: RejectionReason) -> Rejected:
    assert isinstance(verdict, Rejected), verdict
    assert verdict.code == code, verdict
    assert verdict.reason.endswith("."), verdict.reason
    return verdict


# -- good files -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "content_type", "pages"),
    [
        (image_bytes("JPEG", (300, 200), noise=True), "image/jpeg", 1),
        (image_bytes("PNG", (300, 200), noise=True), "image/png", 1),
        (image_bytes("TIFF"), "image/tiff", 1),
        (tiff_with_frames(5), "image/tiff", 5),
        (image_bytes("PDF"), "application/pdf", 1),
        (pdf_with_pages((612, 792), (595, 842), (842, 595)), "application/pdf", 3),
    ],
    ids=["jpeg", "png", "tiff", "tiff-5-frames", "pdf-pillow", "pdf-3-pages"],
)
def test_valid_documents_are_accepted_with_hash_and_pages(
    data: bytes, content_type: str, pages: int
) -> None:
    verdict = check(data, content_type)
    assert verdict == Accepted(
        content_type=content_type,  # type: ignore[arg-type]
        page_count=pages,
        size_bytes=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
    )


def test_hash_covers_every_chunk_of_a_file_larger_than_one_read() -> None:
    data = image_bytes("PNG", (1200, 1000), noise=True)
    assert len(data) > 1024 * 1024  # more than one read chunk
    verdict = check(data, "image/png")
    assert isinstance(verdict, Accepted)
    assert verdict.sha256 == hashlib.sha256(data).hexdigest()


def test_exactly_max_pages_is_accepted() -> None:
    verdict = check(tiff_with_frames(3), "image/tiff", limits=Limits(10**7, 3, 50_000_000))
    assert isinstance(verdict, Accepted)
    assert verdict.page_count == 3


# -- size ------------------------------------------------------------------------------


def test_zero_byte_file_is_empty() -> None:
    verdict = rejected(check(b"", "image/jpeg", "photo.jpg"), RejectionReason.EMPTY_FILE)
    assert verdict.reason == "photo.jpg is empty (0 bytes)."
    assert verdict.size_bytes == 0


def test_file_over_the_limit_is_too_large_and_not_read_past_it() -> None:
    limits = Limits(max_bytes=1024 * 1024, max_pages=50, max_image_pixels=50_000_000)
    stream = io.BytesIO(b"\xff\xd8\xff" + b"\x00" * (5 * 1024 * 1024))
    verdict = check_document(
        stream, filename="big.jpg", declared_content_type="image/jpeg", limits=limits
    )
    verdict = rejected(verdict, RejectionReason.TOO_LARGE)
    assert verdict.reason == "big.jpg is larger than 1.0 MiB, the largest file accepted."
    assert stream.tell() <= 2 * 1024 * 1024  # stopped reading once over the limit


def test_known_size_over_the_limit_is_rejected_without_reading() -> None:
    class Unreadable:
        def read(self, amt: int = -1, /) -> bytes:
            raise AssertionError("must not read")

    verdict = check_document(
        Unreadable(),
        filename="huge.pdf",
        declared_content_type="application/pdf",
        limits=LIMITS,
        size_bytes=50 * 1024 * 1024,
    )
    verdict = rejected(verdict, RejectionReason.TOO_LARGE)
    assert verdict.size_bytes == 50 * 1024 * 1024
    assert "50.0 MiB" in verdict.reason
    assert "10.0 MiB" in verdict.reason


# -- type ------------------------------------------------------------------------------


def test_text_file_renamed_jpg_is_unsupported() -> None:
    verdict = rejected(
        check(b"Dear diary,\nthis is not a photo.\n", "image/jpeg", "photo.jpg"),
        RejectionReason.UNSUPPORTED_TYPE,
    )
    assert verdict.reason == "photo.jpg is not a JPEG, PNG, TIFF or PDF file."


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP"])
def test_other_image_formats_are_unsupported(fmt: str) -> None:
    rejected(check(image_bytes(fmt), None), RejectionReason.UNSUPPORTED_TYPE)


def test_png_declared_as_jpeg_is_a_mismatch() -> None:
    verdict = rejected(
        check(image_bytes("PNG"), "image/jpeg", "photo.jpg"),
        RejectionReason.CONTENT_TYPE_MISMATCH,
    )
    assert verdict.reason == "photo.jpg was announced as a JPEG image but is a PNG image."


def test_a_pdf_behind_leading_junk_is_unsupported() -> None:
    # PDF readers find a header anywhere in the first 1024 bytes; ocrpipe only at offset 0.
    data = b"junk\n" * 20 + pdf_with_pages((612, 792))
    rejected(check(data, "application/pdf", "doc.pdf"), RejectionReason.UNSUPPORTED_TYPE)


def test_a_png_carrying_a_pdf_is_judged_as_the_png() -> None:
    data = png_carrying(image_bytes("PNG"), many_page_pdf(LIMITS.max_pages + 10))
    verdict = check(data, "image/png", "innocent.png")
    assert isinstance(verdict, Accepted)
    assert (verdict.content_type, verdict.page_count) == ("image/png", 1)
    # ... and announced as a PDF it is a mismatch, never read as a PDF
    rejected(check(data, "application/pdf", "innocent.pdf"), RejectionReason.CONTENT_TYPE_MISMATCH)


# -- corrupt ---------------------------------------------------------------------------


def test_truncated_jpeg_is_corrupt() -> None:
    data = image_bytes("JPEG", (300, 200), noise=True)
    verdict = rejected(
        check(data[: len(data) // 2], "image/jpeg", "cut.jpg"), RejectionReason.CORRUPT
    )
    assert verdict.reason.startswith("cut.jpg looks like a JPEG image but could not be read")


def test_jpeg_header_with_garbage_body_is_corrupt() -> None:
    rejected(check(b"\xff\xd8\xff\xe0" + b"garbage" * 100, "image/jpeg"), RejectionReason.CORRUPT)


def test_truncated_png_is_corrupt() -> None:
    data = image_bytes("PNG", (300, 200), noise=True)
    rejected(check(data[: len(data) // 2], "image/png"), RejectionReason.CORRUPT)


def test_png_with_a_flipped_byte_fails_its_crc() -> None:
    data = bytearray(image_bytes("PNG", (300, 200), noise=True))
    data[len(data) // 2] ^= 0xFF
    rejected(check(bytes(data), "image/png"), RejectionReason.CORRUPT)


def test_truncated_tiff_is_corrupt() -> None:
    data = image_bytes("TIFF", (200, 200))
    rejected(check(data[: len(data) // 2], "image/tiff"), RejectionReason.CORRUPT)


def test_broken_pdf_is_corrupt() -> None:
    verdict = rejected(
        check(b"%PDF-1.4\nthis is not really a PDF\n", "application/pdf", "doc.pdf"),
        RejectionReason.CORRUPT,
    )
    assert "doc.pdf" in verdict.reason


def test_password_protected_pdf_says_so() -> None:
    verdict = rejected(
        check(encrypted_pdf(), "application/pdf", "secret.pdf"), RejectionReason.CORRUPT
    )
    assert verdict.reason == (
        "secret.pdf is password-protected; please upload it without a password."
    )


# -- bombs and page counts -------------------------------------------------------------


def test_png_claiming_100000_by_100000_is_a_bomb() -> None:
    data = png_claiming(100_000, 100_000)
    assert len(data) < 100  # tiny file, 10^10 pixels
    verdict = rejected(check(data, "image/png", "bomb.png"), RejectionReason.DECOMPRESSION_BOMB)
    assert "50,000,000 pixels" in verdict.reason


def test_png_over_our_pixel_limit_but_under_pillows_is_a_bomb() -> None:
    # 8000 x 8000 = 64 MP: over our 50 MP limit, under Pillow's own warning threshold.
    verdict = rejected(
        check(png_claiming(8000, 8000), "image/png"), RejectionReason.DECOMPRESSION_BOMB
    )
    assert "8,000 x 8,000 pixels" in verdict.reason


def test_pixel_limit_is_configurable() -> None:
    limits = Limits(max_bytes=10**7, max_pages=50, max_image_pixels=1_000_000)
    rejected(
        check(png_claiming(1001, 1000), "image/png", limits=limits),
        RejectionReason.DECOMPRESSION_BOMB,
    )


def test_pdf_with_a_huge_mediabox_is_a_bomb() -> None:
    # 14400 pt = 200 in; at 300 dpi that is 60000 x 60000 pixels.
    data = pdf_with_pages((612, 792), (14400, 14400))
    verdict = rejected(
        check(data, "application/pdf", "poster.pdf"), RejectionReason.DECOMPRESSION_BOMB
    )
    assert verdict.reason.startswith("Page 2 of poster.pdf is 14,400 x 14,400 points")
    assert "3,600,000,000 pixels at 300 dpi" in verdict.reason


def test_pdf_with_too_many_pages() -> None:
    data = pdf_with_pages(*[(612, 792)] * 51)
    verdict = rejected(check(data, "application/pdf", "book.pdf"), RejectionReason.TOO_MANY_PAGES)
    assert verdict.reason == "book.pdf has 51 pages; at most 50 are accepted."


def test_tiff_with_too_many_frames() -> None:
    limits = Limits(max_bytes=10**7, max_pages=3, max_image_pixels=50_000_000)
    verdict = rejected(
        check(tiff_with_frames(4), "image/tiff", "fax.tif", limits=limits),
        RejectionReason.TOO_MANY_PAGES,
    )
    assert verdict.reason == "fax.tif has more than 3 pages; at most 3 are accepted."


def test_reason_without_a_filename_still_reads_well() -> None:
    verdict = rejected(check(b"", None, filename=""), RejectionReason.EMPTY_FILE)
    assert verdict.reason == "The file is empty (0 bytes)."


def test_human_bytes() -> None:
    assert human_bytes(1) == "1 byte"
    assert human_bytes(1000) == "1000 bytes"
    assert human_bytes(2048) == "2.0 KiB"
    assert human_bytes(10 * 1024 * 1024) == "10.0 MiB"


def test_pdfs_checked_from_several_threads_at_once() -> None:
    # Handlers run in threads of one process locally; pdfium is not thread-safe, so every
    # call holds ocrpipe.pdfium.PDFIUM_LOCK. Without it this crashes or corrupts results.
    documents = [pdf_with_pages(*[(612, 792)] * pages) for pages in range(1, 9)]

    def pages_of(data: bytes) -> int:
        verdict = check(data, "application/pdf")
        assert isinstance(verdict, Accepted), verdict
        return verdict.page_count

    with ThreadPoolExecutor(max_workers=4) as pool:
        counts = list(pool.map(pages_of, documents * 10))
    assert counts == list(range(1, 9)) * 10
