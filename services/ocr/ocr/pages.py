"""Turn document bytes into page images, lazily, one page at a time.

The document is opened as the type ingest decided (``DocumentUploaded.content_type``) and
nothing else: :func:`check_content_type` refuses bytes that
:func:`ocrpipe.content_types.sniff_content_type` (the one function that decides what a file
is) calls another type, and an image is opened with that one Pillow format. A PNG that also
carries a PDF is read as the PNG that ingest checked, never as the PDF (whose page count
ingest never saw).

* JPEG/PNG: one page; EXIF orientation is applied (phones store photos sideways and record
  the rotation in EXIF); transparency is composited onto white (dark text on a transparent
  background would otherwise turn into black on black).
* TIFF: every frame is a page.
* PDF: every page is rendered with pdfium at ``pdf_dpi``; a page that would exceed
  ``max_image_pixels`` is rendered at a lower resolution instead of being refused.

PDF text layers: when a PDF page already carries a substantial text layer (born-digital
PDFs, or scans that another OCR already annotated), that text is exact where OCR can only
approximate it, so the page is NOT rendered and its text layer is used as the page's text
(see :data:`MIN_TEXT_LAYER_CHARS`). Pages without one (plain scans) are rendered and OCR'd.

Every decoding failure is raised as :class:`~ocr.errors.UnreadableDocumentError` (mapped to
``OcrFailed`` reason ``unreadable``); a page over the pixel limit as
:class:`~ocr.errors.DocumentTooLargeError`.
"""

from __future__ import annotations

import io
import math
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass

import pypdfium2 as pdfium
from PIL import Image, ImageOps, ImageSequence

from ocr.errors import DocumentTooLargeError, UnreadableDocumentError
from ocrpipe.content_types import (
    PIL_FORMATS,
    PIL_FORMATS_REPORTED,
    ContentType,
    sniff_content_type,
    type_name,
)
from ocrpipe.pdfium import PDFIUM_LOCK

#: A PDF page's text layer is used instead of OCR when it has at least this many letters
#: and digits (a page number or a stray header alone does not count as a text layer).
MIN_TEXT_LAYER_CHARS = 40


_DECODE_ERRORS = (OSError, ValueError, SyntaxError, struct.error, EOFError, IndexError, TypeError)


@dataclass(frozen=True)
class Page:
    """One page of a document: an image to OCR, or text taken from a PDF text layer."""

    number: int
    image: Image.Image | None
    dpi: float | None = None
    text_layer: str | None = None


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGB or L, with transparency flattened onto white."""
    if image.mode in ("L", "RGB"):
        return image
    if image.mode == "1":
        return image.convert("L")
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16/32-bit grey: scale to 8 bits by the actual range.
        extrema = image.getextrema()
        arr_min = float(extrema[0])  # type: ignore[arg-type]
        span = max(1.0, float(extrema[1]) - arr_min)  # type: ignore[arg-type]
        return image.point(lambda v: (v - arr_min) * 255 / span).convert("L")
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _image_dpi(image: Image.Image) -> float | None:
    dpi = image.info.get("dpi")
    try:
        if dpi and float(dpi[0]) >= 50:
            return float(dpi[0])
    except (TypeError, ValueError, IndexError):
        return None
    return None


#: Tesseract (Leptonica) cannot read a page wider or taller than this: it fails on it every
#: time, so such an image is refused up front instead of failing three engine attempts as if
#: it were a passing fault. PDF pages are rendered to fit.
MAX_SIDE_PX = 32767
#: The longest side a page is given to the engine with: a longer one is scaled down to it.
#: Tesseract 5.3's layout analysis aborts the whole process on some pages near the limit
#: ("Assert failed: right_edge >= left_edge", pithsync.cpp: a 32,767 x 400 px banner with one
#: line of text; the same page at 16,384 px reads correctly), and deskewing such a page makes
#: it wider than :data:`MAX_SIDE_PX`. Text on a page this large is large too (at 300 dpi,
#: 16,384 px is 1.4 m), so halving it loses nothing.
ENGINE_SIDE_PX = 16384


def _check_pixels(width: int, height: int, max_pixels: int, what: str) -> None:
    if width <= 0 or height <= 0:
        raise UnreadableDocumentError(f"{what} has no pixels ({width}x{height}).")
    if max(width, height) > MAX_SIDE_PX:
        raise DocumentTooLargeError(
            f"{what} is {width}x{height} pixels; the OCR engine reads pages of up to "
            f"{MAX_SIDE_PX:,} pixels a side."
        )
    if width * height > max_pixels:
        raise DocumentTooLargeError(
            f"{what} is {width}x{height} pixels; the limit is {max_pixels:,} pixels."
        )


def check_content_type(data: bytes, content_type: ContentType) -> None:
    """Refuse ``data`` unless it is ``content_type`` by the rule ingest decided it with."""
    if not data:
        raise UnreadableDocumentError("The file is empty.")
    actual = sniff_content_type(data)
    if actual != content_type:
        found = "a type ocrpipe does not read" if actual is None else type_name(actual)
        raise UnreadableDocumentError(
            f"The file was accepted as {type_name(content_type)} but its bytes are "
            f"{found}; it was not read."
        )


def _iter_raster(data: bytes, content_type: ContentType, max_pixels: int) -> Iterator[Page]:
    try:
        image = Image.open(io.BytesIO(data), formats=[PIL_FORMATS[content_type]])
    except Image.DecompressionBombError as exc:
        raise DocumentTooLargeError(f"The image is too large to decode safely: {exc}") from exc
    except _DECODE_ERRORS as exc:
        raise UnreadableDocumentError(
            f"The file is not {type_name(content_type)} that can be read."
        ) from exc
    with image:
        fmt = image.format or "image"
        if fmt not in PIL_FORMATS_REPORTED[content_type]:
            raise UnreadableDocumentError(f"Unsupported image format {fmt}.")
        frame_count = getattr(image, "n_frames", 1)
        for number, frame in enumerate(ImageSequence.Iterator(image), start=1):
            if fmt == "PNG" and number > 1:
                break  # APNG: the first frame is the still image
            what = f"Page {number} of {frame_count}" if frame_count > 1 else "The image"
            _check_pixels(frame.width, frame.height, max_pixels, what)
            try:
                frame.load()
                page_image = frame.copy()
                if number == 1:
                    page_image = ImageOps.exif_transpose(page_image) or page_image
                page_image = _normalise_mode(page_image)
            except Image.DecompressionBombError as exc:
                raise DocumentTooLargeError(f"{what} is too large to decode safely.") from exc
            except _DECODE_ERRORS as exc:
                raise UnreadableDocumentError(
                    f"{what} is damaged or truncated and cannot be decoded."
                ) from exc
            yield _fit_for_engine(Page(number=number, image=page_image, dpi=_image_dpi(frame)))


def _fit_for_engine(page: Page) -> Page:
    """``page`` with its image scaled down to :data:`ENGINE_SIDE_PX` a side (and its dpi with
    it), when it is larger."""
    image = page.image
    if image is None or max(image.size) <= ENGINE_SIDE_PX:
        return page
    factor = ENGINE_SIDE_PX / max(image.size)
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    resized = image.resize(size, Image.Resampling.LANCZOS)
    return Page(
        number=page.number,
        image=resized,
        dpi=page.dpi * factor if page.dpi else None,
        text_layer=page.text_layer,
    )


#: pdfium marks a word hyphenated at a line end with U+0002 where the hyphen was
#: (``extra\x02\r\nordinary``); the word is whole, so the marker and the break go.
_PDFIUM_LINE_HYPHEN = re.compile(r"\x02[ \t]*\r?\n[ \t]*")
#: Control characters other than tab, line feed and form feed have no place in text.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def clean_text_layer(text: str) -> str:
    """A PDF page's text layer as plain text: hyphenated line breaks re-joined (pdfium's
    U+0002 marker), a marker elsewhere read as the hyphen it stands for, CRLF as LF, and no
    other control characters."""
    text = _PDFIUM_LINE_HYPHEN.sub("", text)
    text = text.replace("\x02", "-").replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _substantial(text: str) -> bool:
    return len(re.findall(r"\w", text)) >= MIN_TEXT_LAYER_CHARS


def render_scale(width_pt: float, height_pt: float, dpi: int, max_pixels: int) -> float:
    """pdfium scale (pixels per point) for ``dpi``, lowered so the page fits ``max_pixels``
    and :data:`ENGINE_SIDE_PX` a side."""
    scale = dpi / 72.0
    area = max(width_pt, 1.0) * max(height_pt, 1.0)
    if area * scale * scale > max_pixels:
        scale = math.sqrt(max_pixels / area) * 0.999
    longest = max(width_pt, height_pt, 1.0)
    if longest * scale > ENGINE_SIDE_PX:
        scale = ENGINE_SIDE_PX / longest * 0.999
    return scale


def _iter_pdf(data: bytes, dpi: int, max_pixels: int) -> Iterator[Page]:
    try:
        with PDFIUM_LOCK:
            pdf = pdfium.PdfDocument(data)
            page_count = len(pdf)
    except (pdfium.PdfiumError, *_DECODE_ERRORS) as exc:
        raise UnreadableDocumentError(
            "The PDF is damaged or password-protected and cannot be opened."
        ) from exc
    try:
        if page_count == 0:
            raise UnreadableDocumentError("The PDF has no pages.")
        for index in range(page_count):
            number = index + 1
            try:
                with PDFIUM_LOCK:
                    page = pdf[index]
                    try:
                        textpage = page.get_textpage()
                        try:
                            text_layer = clean_text_layer(textpage.get_text_bounded())
                        finally:
                            textpage.close()
                        if _substantial(text_layer):
                            result = Page(number=number, image=None, text_layer=text_layer)
                        else:
                            width_pt, height_pt = page.get_size()
                            scale = render_scale(width_pt, height_pt, dpi, max_pixels)
                            bitmap = page.render(scale=scale, grayscale=True)
                            image = bitmap.to_pil().convert("L")
                            bitmap.close()
                            result = Page(number=number, image=image, dpi=scale * 72.0)
                    finally:
                        page.close()
            except (pdfium.PdfiumError, *_DECODE_ERRORS) as exc:
                raise UnreadableDocumentError(
                    f"Page {number} of {page_count} of the PDF cannot be rendered."
                ) from exc
            yield result
    finally:
        with PDFIUM_LOCK:
            pdf.close()


def iter_pages(
    data: bytes, content_type: ContentType, *, pdf_dpi: int = 300, max_image_pixels: int
) -> Iterator[Page]:
    """The pages of ``data`` read as ``content_type`` (the type ingest checked it as),
    decoded one at a time (only one page image is held at once).

    Bytes that are not that type are refused here, before anything is decoded
    (:func:`check_content_type`)."""
    check_content_type(data, content_type)
    if content_type == "application/pdf":
        return _iter_pdf(data, pdf_dpi, max_image_pixels)
    return _iter_raster(data, content_type, max_image_pixels)
