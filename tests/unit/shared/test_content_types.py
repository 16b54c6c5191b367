"""ocrpipe.content_types: the one function that decides what a file is."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from ocrpipe.content_types import MAGIC_BYTES, sniff_content_type, type_name
from tests.polyglot import many_page_pdf, png_carrying


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (40, 20), 255).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xff\xd8\xff\xe0", "image/jpeg"),
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"II*\x00", "image/tiff"),
        (b"MM\x00*", "image/tiff"),
        (b"%PDF-1.7", "application/pdf"),
        (b"GIF89a", None),
        (b"", None),
        (b"\x89PNG", None),  # a prefix of a magic number is not one
    ],
)
def test_magic_numbers(head: bytes, expected: str | None) -> None:
    assert sniff_content_type(head) == expected


def test_only_the_first_bytes_count() -> None:
    assert sniff_content_type(b"%PDF-1.7" + b"\xff\xd8\xff" * 100) == "application/pdf"
    assert len(b"\x89PNG\r\n\x1a\n") == MAGIC_BYTES  # the longest magic number fits


@pytest.mark.parametrize(
    "data",
    [
        b" %PDF-1.7\n",  # whitespace before the header
        b"\xef\xbb\xbf%PDF-1.7\n",  # a byte-order mark
        b"junk" * 200 + many_page_pdf(2),  # what PDF readers would still open
    ],
    ids=["space", "bom", "junk"],
)
def test_a_pdf_header_must_be_at_offset_zero(data: bytes) -> None:
    assert b"%PDF-" in data[:1024]
    assert sniff_content_type(data) is None


def test_a_png_carrying_a_pdf_is_a_png() -> None:
    data = png_carrying(png(), many_page_pdf(60))
    assert b"%PDF-" in data[:1024]
    assert sniff_content_type(data) == "image/png"
    with Image.open(io.BytesIO(data)) as image:
        image.verify()  # a valid PNG: every chunk's CRC is right


def test_type_names() -> None:
    assert type_name("image/png") == "a PNG image"
    assert type_name("application/pdf") == "a PDF document"
    assert type_name("text/plain") == "text/plain"
