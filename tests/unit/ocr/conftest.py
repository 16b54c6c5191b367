"""Fixtures of the ocr unit tests: rendered text pages and image encoding."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image, ImageDraw, ImageFont

FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation")]


def find_font() -> Path:  # pragma: no cover - environment dependent
    for directory in FONT_DIRS:
        for name in ("DejaVuSans.ttf", "LiberationSans-Regular.ttf"):
            if (directory / name).exists():
                return directory / name
    pytest.skip("no TrueType font installed")


def render_lines(lines: list[str], *, size: int = 40, width: int = 1400) -> Image.Image:
    font = ImageFont.truetype(str(find_font()), size)
    line_height = int(size * 1.5)
    image = Image.new("L", (width, 80 + line_height * len(lines)), 255)
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((60, 40 + i * line_height), line, font=font, fill=0)
    return image


def to_bytes(image: Image.Image, fmt: str, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **kwargs)
    return buffer.getvalue()


@pytest.fixture
def render() -> Callable[..., Image.Image]:
    return render_lines


@pytest.fixture
def text_page() -> Image.Image:
    return render_lines(
        [
            "The quick brown fox jumps over the lazy dog.",
            "Pack my box with five dozen liquor jugs.",
            "How vexingly quick daft zebras jump!",
            "Sphinx of black quartz, judge my vow.",
            "The five boxing wizards jump quickly.",
            "Jackdaws love my big sphinx of quartz.",
        ]
    )
