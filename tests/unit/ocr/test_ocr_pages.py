from __future__ import annotations

import io

import pytest
from PIL import Image

from ocr.errors import DocumentTooLargeError, UnreadableDocumentError
from ocr.pages import MIN_TEXT_LAYER_CHARS, Page, iter_pages, render_scale
from ocrpipe.content_types import ContentType
from tests.polyglot import many_page_pdf, pdf_from_objects, png_carrying


def to_bytes(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


LIMIT = 50_000_000


def pages(
    data: bytes, content_type: ContentType, *, dpi: int = 150, limit: int = LIMIT
) -> list[Page]:
    return list(iter_pages(data, content_type, pdf_dpi=dpi, max_image_pixels=limit))


def image_of(page: Page) -> Image.Image:
    assert page.image is not None
    return page.image


def test_png_is_one_page() -> None:
    result = pages(to_bytes(Image.new("RGB", (300, 200), "white"), "PNG"), "image/png")
    assert len(result) == 1
    assert image_of(result[0]).size == (300, 200)
    assert result[0].number == 1


def test_jpeg_exif_orientation_is_applied() -> None:
    image = Image.new("RGB", (400, 100), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 CW to display
    data = to_bytes(image, "JPEG", exif=exif.tobytes())
    (page,) = pages(data, "image/jpeg")
    assert image_of(page).size == (100, 400)


def test_transparent_png_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    image.putpixel((10, 10), (0, 0, 0, 255))
    (page,) = pages(to_bytes(image, "PNG"), "image/png")
    assert image_of(page).mode == "RGB"
    assert image_of(page).getpixel((0, 0)) == (255, 255, 255)
    assert image_of(page).getpixel((10, 10)) == (0, 0, 0)


def test_multi_frame_tiff_yields_each_frame() -> None:
    frames = [Image.new("L", (120 + i * 10, 80), 255) for i in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    result = pages(buffer.getvalue(), "image/tiff")
    assert [p.number for p in result] == [1, 2, 3]
    assert [image_of(p).size[0] for p in result] == [120, 130, 140]


def test_pages_are_lazy() -> None:
    frames = [Image.new("L", (100, 100), 255) for _ in range(3)]
    buffer = io.BytesIO()
    frames[0].save(buffer, format="TIFF", save_all=True, append_images=frames[1:])
    iterator = iter_pages(buffer.getvalue(), "image/tiff", max_image_pixels=LIMIT)
    assert next(iterator).number == 1  # decoded one page without touching the rest


def test_scanned_pdf_page_is_rendered_at_dpi() -> None:
    # Pillow writes a raster-only PDF: 200x100 px at 100 dpi = 2 x 1 inch.
    data = to_bytes(Image.new("RGB", (200, 100), "white"), "PDF", resolution=100.0)
    (page,) = pages(data, "application/pdf", dpi=150)
    assert page.text_layer is None
    assert image_of(page).size == (300, 150)
    assert page.dpi == pytest.approx(150)


def test_pdf_render_is_scaled_down_to_pixel_limit() -> None:
    data = to_bytes(Image.new("RGB", (2000, 2000), "white"), "PDF", resolution=10.0)
    (page,) = pages(
        data, "application/pdf", dpi=300, limit=4_000_000
    )  # 200 in x 200 in at 300 dpi = 3.6 Gpx
    width, height = image_of(page).size
    assert width * height <= 4_000_000
    assert width > 1000


def test_render_scale_keeps_dpi_when_page_fits() -> None:
    assert render_scale(612, 792, 300, LIMIT) == pytest.approx(300 / 72)


def _pdf_with_text(text: str) -> bytes:
    """A minimal hand-built PDF with one page and a real (Helvetica) text layer."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    return pdf_from_objects(objects)


def test_pdf_text_layer_is_used_when_substantial() -> None:
    sentence = "It was the best of times, it was the worst of times, it was the age of wisdom"
    assert len(sentence) > MIN_TEXT_LAYER_CHARS
    (page,) = pages(_pdf_with_text(sentence), "application/pdf")
    assert page.image is None
    assert page.text_layer is not None
    assert "worst of times" in page.text_layer


def test_pdf_with_a_tiny_text_layer_is_rendered_instead() -> None:
    (page,) = pages(_pdf_with_text("Page 7"), "application/pdf")
    assert page.text_layer is None
    assert page.image is not None


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (b"", "image/png"),
        (b"this is not an image at all", "image/png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png"),
        (b"%PDF-1.7\n1 0 obj garbage", "application/pdf"),
        (b"GIF89a" + b"\x00" * 100, "image/png"),
    ],
    ids=["empty", "text", "png-header-only", "broken-pdf", "gif"],
)
def test_undecodable_bytes_are_unreadable(data: bytes, content_type: ContentType) -> None:
    with pytest.raises(UnreadableDocumentError) as info:
        pages(data, content_type)
    assert info.value.reason  # a sentence a person can read


def test_truncated_jpeg_is_unreadable() -> None:
    data = to_bytes(Image.effect_noise((800, 800), 64).convert("RGB"), "JPEG")
    with pytest.raises(UnreadableDocumentError):
        pages(data[: len(data) // 3], "image/jpeg")


@pytest.mark.parametrize("size", [(20, 100_000), (40_000, 3)])
def test_an_image_longer_than_the_engine_reads_is_too_large(size: tuple[int, int]) -> None:
    """Tesseract fails on it every time: refused up front, not retried as a passing fault."""
    data = to_bytes(Image.new("1", size, 1), "PNG")
    with pytest.raises(DocumentTooLargeError, match="32,767 pixels a side"):
        pages(data, "image/png", limit=10_000_000)


def test_a_long_pdf_page_is_rendered_to_fit_the_engine() -> None:
    from ocr.pages import ENGINE_SIDE_PX, render_scale

    scale = render_scale(612, 612 * 200, 300, 10**12)  # a 200-letter-pages-long page
    assert 612 * 200 * scale <= ENGINE_SIDE_PX


def test_a_very_wide_image_reaches_the_engine_at_16384_px_with_its_dpi_scaled() -> None:
    """Tesseract 5.3 aborts the whole process on some pages near its 32,767 px limit."""
    image = Image.new("L", (32_767, 400), 255)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", dpi=(600, 600))
    [page] = pages(buffer.getvalue(), "image/png", limit=50_000_000)
    assert page.image is not None
    assert page.image.size == (16_384, 200)
    assert page.dpi == pytest.approx(600 * 16_384 / 32_767, rel=1e-3)  # PNG keeps px/m


def test_image_over_pixel_limit_is_too_large() -> None:
    data = to_bytes(Image.new("L", (3000, 3000), 255), "PNG")
    with pytest.raises(DocumentTooLargeError, match="pixels"):
        pages(data, "image/png", limit=1_000_000)


# -- a file is read as the type ingest checked, and only as that ------------------------


def test_a_png_carrying_a_pdf_is_read_as_the_png() -> None:
    data = png_carrying(to_bytes(Image.new("L", (320, 200), 255), "PNG"), many_page_pdf(60))
    assert b"%PDF-" in data[:1024]  # what the old check took for a PDF
    (page,) = pages(data, "image/png")
    assert page.text_layer is None
    assert image_of(page).size == (320, 200)


@pytest.mark.parametrize(
    ("data", "content_type", "found"),
    [
        (many_page_pdf(3), "image/png", "a PDF document"),
        (to_bytes(Image.new("L", (50, 50), 255), "JPEG"), "image/png", "a JPEG image"),
        (to_bytes(Image.new("L", (50, 50), 255), "PNG"), "application/pdf", "a PNG image"),
        (b"junk" * 100 + many_page_pdf(3), "application/pdf", "a type ocrpipe does not read"),
    ],
    ids=["pdf-as-png", "jpeg-as-png", "png-as-pdf", "pdf-behind-junk"],
)
def test_bytes_of_another_type_are_refused_before_decoding(
    data: bytes, content_type: ContentType, found: str
) -> None:
    with pytest.raises(UnreadableDocumentError, match=found) as info:
        iter_pages(data, content_type, max_image_pixels=LIMIT)  # refused eagerly, not lazily
    assert "it was not read" in info.value.reason
