from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ocr.preprocess import (
    FLIP_BALANCE,
    Options,
    ascender_balance,
    estimate_skew,
    estimate_x_height,
    flatten_illumination,
    prepare,
    sauvola,
)


def _uneven(image: Image.Image) -> Image.Image:
    """Light falling off from left (bright) to right (dark), like a photo by a window."""
    arr = np.asarray(image, dtype=np.float32)
    gradient = np.linspace(1.0, 0.35, arr.shape[1], dtype=np.float32)[None, :]
    return Image.fromarray(np.clip(arr * gradient, 0, 255).astype(np.uint8), mode="L")


def _background_spread(image: Image.Image) -> float:
    """Spread of paper brightness across the page (std of column-wise paper level)."""
    arr = np.asarray(image, dtype=np.float32)
    paper = np.percentile(arr, 90, axis=0)
    return float(paper.std())


@pytest.mark.parametrize("angle", [-7.0, -2.5, 3.0, 6.0])
def test_deskew_recovers_known_angle_within_one_degree(
    text_page: Image.Image, angle: float
) -> None:
    rotated = text_page.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
    found = estimate_skew(rotated)
    assert found == pytest.approx(-angle, abs=1.0)


def test_straight_page_is_not_rotated(text_page: Image.Image) -> None:
    assert abs(estimate_skew(text_page)) < 0.3


def test_blank_page_has_no_skew() -> None:
    assert estimate_skew(Image.new("L", (500, 500), 255)) == 0.0


def test_flattening_evens_out_the_background(text_page: Image.Image) -> None:
    uneven = _uneven(text_page)
    flat = flatten_illumination(uneven)
    assert _background_spread(uneven) > 20
    assert _background_spread(flat) < _background_spread(uneven) / 4
    # ink stays dark: the darkest percentile is still far below the paper
    arr = np.asarray(flat, dtype=np.float32)
    assert np.percentile(arr, 1) < 100 < np.percentile(arr, 50)


def test_x_height_is_measured(text_page: Image.Image) -> None:
    x_height = estimate_x_height(text_page)
    assert x_height is not None
    assert 19 <= x_height <= 26  # 40 px DejaVu Sans: x-height ~0.55 em


def test_small_text_is_upscaled(text_page: Image.Image) -> None:
    small = text_page.resize((text_page.width // 3, text_page.height // 3))
    prepared = prepare(small, 100.0)
    assert prepared.scale > 1.5
    assert prepared.dpi == pytest.approx(100.0 * prepared.scale)


def test_large_text_is_left_alone(text_page: Image.Image) -> None:
    prepared = prepare(text_page, 300.0, Options(deskew=False))
    assert prepared.scale == 1.0
    assert prepared.image.size == text_page.size


def _similarity(a: Image.Image, b: Image.Image) -> float:
    """Correlation of two same-sized grey images (1.0: identical)."""
    x = np.asarray(a, dtype=np.float32).ravel()
    y = np.asarray(b, dtype=np.float32).ravel()
    return float(np.corrcoef(x, y)[0, 1])


@pytest.mark.parametrize("turn", [90, 180, 270])
def test_sideways_and_upside_down_pages_are_turned_upright(
    text_page: Image.Image, turn: int
) -> None:
    upright = prepare(text_page, 300.0).image
    turned = prepare(text_page.rotate(turn, expand=True), 300.0).image
    assert turned.size == upright.size
    assert _similarity(turned, upright) > 0.9


def test_upright_page_has_a_clearly_positive_ascender_balance(text_page: Image.Image) -> None:
    assert ascender_balance(text_page) > FLIP_BALANCE
    assert ascender_balance(text_page.rotate(180)) < -FLIP_BALANCE


def test_engine_osd_decides_when_text_is_too_small_to_judge(text_page: Image.Image) -> None:
    tiny = text_page.resize((text_page.width // 4, text_page.height // 4), Image.Resampling.BOX)
    asked: list[tuple[int, int]] = []

    def osd(image: Image.Image) -> int | None:
        asked.append(image.size)
        return 180

    flipped = prepare(tiny, 75.0, osd=osd)
    kept = prepare(tiny, 75.0, osd=lambda image: None)
    assert len(asked) == 1
    assert _similarity(flipped.image.rotate(180), kept.image) > 0.9


def test_no_osd_for_large_clear_text(text_page: Image.Image) -> None:
    def osd(image: Image.Image) -> int | None:
        raise AssertionError("OSD must not be needed for a clear upright page")

    prepare(text_page, 300.0, osd=osd)


def test_sauvola_binarises_unevenly_lit_text(text_page: Image.Image) -> None:
    binary = sauvola(_uneven(text_page))
    arr = np.asarray(binary)
    assert set(np.unique(arr)) <= {0, 255}
    ink = np.asarray(text_page) < 128
    # the ink is found on the dark side of the page as well as on the bright one
    right = slice(arr.shape[1] * 2 // 3, None)
    found = (arr[:, right] == 0) & ink[:, right]
    assert found.sum() > 0.6 * ink[:, right].sum()
    # and the paper stays paper
    assert (arr[~ink] == 255).mean() > 0.95
