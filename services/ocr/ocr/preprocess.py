"""Image preparation that helps Tesseract on phone photos without hurting clean scans.

Every step is switchable through :class:`Options` and earned its place on the evaluation
sets (``benchmarks/ocr_quality.py``; numbers in ``services/ocr/README.md``). In order:

1. grayscale;
2. illumination flattening: divide by a background estimate (grey closing on a reduced
   copy, lightly smoothed), so shadows, gradients and vignettes become a flat white page;
3. orientation and deskew: the angle (within ``max_skew_deg``) at which the ink's row
   profile is most peaked, tried upright and sideways, which finds 90/270 turns and skew in
   one search (whole degrees on a small mask, then tenths on a larger one);
4. upscaling of small text so its x-height is ~``target_x_height_px`` (LANCZOS);
5. upside-down check: Latin text has more ascenders than descenders; a clear balance turns
   the page over, an unclear one (tiny or very noisy text) asks the engine's OSD.

Measurements are taken on the central part of the image (:func:`central`) so the table
around a photographed page and the page edges do not count as text. Binarisation is left
to Tesseract (its Otsu is fine on a flattened page); :func:`sauvola` is the engine's second
try for pages it read with low confidence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFilter

#: Bump when the preprocessing changes what text comes out: it is part of the cache
#: fingerprint, so cached text from an older pipeline is not reused.
PREPROCESS_VERSION = "2"

FloatArray = NDArray[np.float32]

#: Ascender balance beyond which a page is confidently upright or upside down; in between,
#: the engine's own orientation detection (Tesseract OSD) is asked.
FLIP_BALANCE = 0.15

#: Asks the engine whether an upright-looking image is really upside down: 180 if so,
#: 0 if not, None when it cannot tell.
OsdCheck = Callable[[Image.Image], int | None]


@dataclass(frozen=True)
class Options:
    flatten: bool = True
    orient: bool = True
    deskew: bool = True
    upscale: bool = True
    max_skew_deg: float = 15.0
    target_x_height_px: float = 20.0
    min_x_height_px: float = 16.0
    max_upscale: float = 4.0
    max_pixels: int = 40_000_000


DEFAULT_OPTIONS = Options()


@dataclass(frozen=True)
class PreparedImage:
    image: Image.Image
    dpi: float
    skew_deg: float = 0.0
    scale: float = 1.0
    #: True when the page was turned upside down (180 degrees) to make it upright.
    flipped: bool = False
    #: True when the ascender test could not tell whether the page is upside down and no OSD
    #: check was asked for (the engine asks Tesseract's OSD only if the read is unconfident).
    orientation_unsure: bool = False


#: A page whose background is this share of near-white pixels looks scanned or rendered,
#: not photographed: the plain read of it is kept when it is confident.
CLEAN_WHITE_SHARE = 0.5


def looks_clean(image: Image.Image) -> bool:
    """Whether ``image`` looks like a scan or a rendered page (a flat white background)
    rather than a photo (uneven light, grey paper, sensor noise). Cheap: a 400-pixel
    thumbnail's share of pixels at 240 or brighter."""
    thumb = to_gray(image).copy()
    thumb.thumbnail((400, 400))
    arr = np.asarray(thumb)
    return bool(arr.size) and float((arr >= 240).mean()) >= CLEAN_WHITE_SHARE


def to_gray(image: Image.Image) -> Image.Image:
    return image if image.mode == "L" else image.convert("L")


def background(gray: Image.Image) -> Image.Image:
    """Estimate the page background (paper + lighting) without the ink."""
    width, height = gray.size
    factor = max(1, round(max(width, height) / 500))
    small = gray.reduce(factor) if factor > 1 else gray
    # Ink strokes are thin and dark: a grey closing (max then min) wider than a stroke
    # removes them and leaves paper brightness; a blur smooths the estimate.
    size = 2 * max(2, round(min(small.size) / 60)) + 1
    arr = np.asarray(small, dtype=np.uint8)
    closed = _rank2d(_rank2d(arr, size, np.maximum), size, np.minimum)
    smooth = Image.fromarray(closed, mode="L").filter(ImageFilter.GaussianBlur(size / 4))
    return smooth.resize(gray.size, Image.Resampling.BILINEAR)


def _rank1d(arr: NDArray[np.uint8], size: int, op: np.ufunc, axis: int) -> NDArray[np.uint8]:
    """Running max/min over ``size`` neighbours along one axis (edges replicated)."""
    radius = size // 2
    pad = [(0, 0), (0, 0)]
    pad[axis] = (radius, radius)
    padded = np.pad(arr, pad, mode="edge")
    length = arr.shape[axis]
    out = np.take(padded, range(0, length), axis=axis)
    for shift in range(1, size):
        out = op(out, np.take(padded, range(shift, shift + length), axis=axis))
    result: NDArray[np.uint8] = out
    return result


def _rank2d(arr: NDArray[np.uint8], size: int, op: np.ufunc) -> NDArray[np.uint8]:
    """Square max (dilation) or min (erosion) filter, separably: O(size) per pixel."""
    return _rank1d(_rank1d(arr, size, op, 0), size, op, 1)


def flatten_illumination(gray: Image.Image) -> Image.Image:
    """Divide by the background, then stretch so paper is white and ink keeps its contrast."""
    img = np.asarray(gray, dtype=np.float32)
    bg = np.asarray(background(gray), dtype=np.float32)
    ratio = img / np.maximum(bg, 1.0)
    low = float(np.percentile(ratio, 0.5))
    high = 1.0
    out = (ratio - low) / max(high - low, 1e-3) * 255.0
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8), mode="L")


def central(gray: Image.Image, keep: float = 0.7) -> Image.Image:
    """The middle of the image, where the text of a photographed page is: page edges,
    the table around the page and the flattening halo stay out of the measurements."""
    width, height = gray.size
    dx, dy = round(width * (1 - keep) / 2), round(height * (1 - keep) / 2)
    return gray.crop((dx, dy, width - dx, height - dy))


def _ink_mask(gray: Image.Image, max_side: int) -> tuple[NDArray[np.bool_], float]:
    width, height = gray.size
    factor = max(1.0, max(width, height) / max_side)
    small = gray.resize(
        (max(1, round(width / factor)), max(1, round(height / factor))), Image.Resampling.BOX
    )
    # a light blur dissolves speckle (sensor noise, salt and pepper) but keeps strokes
    arr = np.asarray(small.filter(ImageFilter.GaussianBlur(0.8)), dtype=np.float32)
    threshold = otsu_threshold(arr)
    return arr < threshold, factor


def otsu_threshold(arr: FloatArray) -> float:
    hist = np.bincount(np.clip(arr, 0, 255).astype(np.uint8).ravel(), minlength=256)
    weights = hist.astype(np.float64)
    total = weights.sum()
    if total == 0:
        return 128.0
    edges = np.arange(257, dtype=np.float64)
    centers = (edges[:-1] + edges[1:]) / 2
    cum_w = np.cumsum(weights)
    cum_m = np.cumsum(weights * centers)
    mean_total = cum_m[-1] / total
    w0 = cum_w / total
    w1 = 1 - w0
    with np.errstate(divide="ignore", invalid="ignore"):
        between = (mean_total * w0 - cum_m / total) ** 2 / (w0 * w1)
    between = np.nan_to_num(between)
    return float(centers[int(np.argmax(between))])


def _profile_score(mask_img: Image.Image, angle: float) -> float:
    rotated = mask_img.rotate(angle, resample=Image.Resampling.NEAREST, expand=True, fillcolor=0)
    rows = np.asarray(rotated, dtype=np.float32).sum(axis=1)
    diffs = np.diff(rows)
    return float((diffs * diffs).sum())


def _coarse_angle(mask_img: Image.Image, max_angle: float) -> tuple[float, float]:
    """Best whole-degree angle and its profile score."""
    scores = {
        float(a): _profile_score(mask_img, float(a))
        for a in np.arange(-max_angle, max_angle + 0.01, 1.0)
    }
    best = max(scores, key=lambda a: scores[a])
    return best, scores[best]


def _fine_angle(mask_img: Image.Image, around: float) -> float:
    """Best angle to 0.1 degree within one degree of ``around``."""
    angles = [round(around + step / 10, 2) for step in range(-9, 10)]
    return max(angles, key=lambda a: _profile_score(mask_img, a))


def _mask_image(gray: Image.Image, max_side: int = 1000) -> Image.Image | None:
    mask, _ = _ink_mask(central(gray), max_side)
    if mask.mean() < 0.002:
        return None
    return Image.fromarray((mask * 255).astype(np.uint8), mode="L")


#: Sizes of the ink masks the angle search runs on: whole degrees on a small one, then
#: tenths on a larger one (rotating the mask ~80 times is the costly part of deskewing).
_COARSE_SIDE, _FINE_SIDE = 500, 1000


def estimate_skew(gray: Image.Image, max_angle: float = 15.0) -> float:
    """Angle (degrees, counter-clockwise) to rotate by so text lines are horizontal."""
    return estimate_rotation(gray, max_angle, sideways=False)[1]


def estimate_rotation(
    gray: Image.Image, max_angle: float = 15.0, *, sideways: bool = True
) -> tuple[int, float]:
    """(quarter turns, skew): rotate by ``90 * turns``, then by ``skew`` degrees (both
    counter-clockwise) to make the text lines horizontal. Text lines give a much more
    peaked row profile than columns of text do, which tells 0/180 from 90/270; whether the
    result is upside down is :func:`ascender_balance`'s question."""
    coarse = _mask_image(gray, _COARSE_SIDE)
    fine = _mask_image(gray, _FINE_SIDE)
    if coarse is None or fine is None:
        return 0, 0.0
    turns, (angle, score) = 0, _coarse_angle(coarse, max_angle)
    if sideways:
        side = coarse.transpose(Image.Transpose.ROTATE_90)
        side_angle, side_score = _coarse_angle(side, max_angle)
        if side_score > score * 1.5:
            turns, angle = 1, side_angle
            fine = fine.transpose(Image.Transpose.ROTATE_90)
    return turns, _fine_angle(fine, angle)


def _ascender_balance(mask: NDArray[np.bool_]) -> float:
    """Ink above minus ink below the x-height bands of the lines, over all ink.

    Latin text has more ascenders (b d f h k l t, capitals, digits) than descenders
    (g j p q y), so upright text scores positive and upside-down text negative.
    """
    rows = mask.mean(axis=1).astype(np.float32)
    rows = np.maximum(rows - _row_floor(rows), 0)
    above = below = 0.0
    for start, end in _line_runs(rows):
        line = rows[start:end]
        if end - start < 4:
            continue
        core = np.flatnonzero(line > 0.5 * float(line.max()))
        top, bottom = int(core[0]), int(core[-1])
        above += float(line[:top].sum())
        below += float(line[bottom + 1 :].sum())
    total = above + below
    return 0.0 if total == 0 else (above - below) / total


def ascender_balance(gray: Image.Image) -> float:
    """:func:`_ascender_balance` of a page whose text lines are horizontal: clearly
    positive when upright, clearly negative when upside down, near zero when unsure."""
    mask, _ = _ink_mask(central(gray), 2000)
    return _ascender_balance(mask)


def rotate(gray: Image.Image, angle: float) -> Image.Image:
    return gray.rotate(angle, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)


def _row_floor(rows: FloatArray) -> float:
    """Ink level of the emptiest rows (the gaps between lines): noise, not text."""
    return float(np.percentile(rows, 10)) if rows.size else 0.0


def _line_runs(rows: FloatArray) -> list[tuple[int, int]]:
    """(start, end) of the runs of inked rows: the text lines of a deskewed mask."""
    floor = _row_floor(rows)
    peak = float(np.percentile(rows, 95)) if rows.size else 0.0
    inked = rows > max(0.002, floor + 0.1 * (peak - floor))
    edges = np.diff(np.concatenate(([0], inked.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def estimate_x_height(gray: Image.Image) -> float | None:
    """Median x-height in pixels of the text lines of a deskewed page.

    Each run of inked rows is a line; within it, the rows carrying at least half of the
    line's densest row are its x-height band. Runs much thinner than the typical line
    (rules, dashes, underlines, specks) are left out.
    """
    return _x_height(*_ink_mask(central(gray), 2000))


def _x_height(mask: NDArray[np.bool_], factor: float) -> float | None:
    rows = mask.mean(axis=1).astype(np.float32)
    runs = [(a, b) for a, b in _line_runs(rows) if b - a >= 3]
    if len(runs) < 2:
        return None
    heights = np.array([b - a for a, b in runs], dtype=np.float32)
    typical = float(np.percentile(heights, 75))
    x_heights = []
    for (a, b), height in zip(runs, heights, strict=True):
        if height < 0.5 * typical:
            continue
        line = rows[a:b]
        core = np.flatnonzero(line >= 0.5 * float(line.max()))
        x_heights.append(int(core[-1]) - int(core[0]) + 1)
    if not x_heights:
        return None
    return float(np.median(x_heights)) * factor


def _box_mean(arr: NDArray[np.float64], radius: int) -> NDArray[np.float64]:
    """Mean over a (2r+1)^2 window, by integral image (edges use the part inside)."""
    padded = np.pad(arr, radius, mode="edge")
    integral = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    size = 2 * radius + 1
    total = (
        integral[size:, size:]
        - integral[:-size, size:]
        - integral[size:, :-size]
        + integral[:-size, :-size]
    )
    result: NDArray[np.float64] = total / (size * size)
    return result


def sauvola(
    gray: Image.Image, *, window: int = 31, k: float = 0.2, blur: float = 1.5
) -> Image.Image:
    """Sauvola binarisation of a lightly smoothed page: each pixel is ink when darker than
    ``mean * (1 + k * (std / 128 - 1))`` of its neighbourhood. Used as the engine's second
    try on pages it read with low confidence (noisy, dim phone photos)."""
    smooth = gray.filter(ImageFilter.GaussianBlur(blur)) if blur else gray
    arr = np.asarray(smooth, dtype=np.float64)
    radius = window // 2
    mean = _box_mean(arr, radius)
    sq_mean = _box_mean(arr * arr, radius)
    std = np.sqrt(np.maximum(sq_mean - mean * mean, 0.0))
    threshold = mean * (1.0 + k * (std / 128.0 - 1.0))
    return Image.fromarray(np.where(arr < threshold, 0, 255).astype(np.uint8), mode="L")


def upscale_factor(x_height: float | None, size: tuple[int, int], options: Options) -> float:
    """How much to enlarge so the x-height reaches the target (1.0: leave as is)."""
    if x_height is None or x_height >= options.min_x_height_px:
        return 1.0
    scale = min(options.max_upscale, options.target_x_height_px / x_height)
    limit = (options.max_pixels / max(1, size[0] * size[1])) ** 0.5
    scale = max(1.0, min(scale, limit))
    return scale if scale > 1.05 else 1.0


def prepare(
    image: Image.Image,
    dpi: float | None,
    options: Options = DEFAULT_OPTIONS,
    osd: OsdCheck | None = None,
) -> PreparedImage:
    """The page, ready for the engine (see the module docstring for the steps)."""
    gray = to_gray(image)
    if options.flatten:
        gray = flatten_illumination(gray)
    skew = 0.0
    if options.orient:
        turns, skew = estimate_rotation(gray, options.max_skew_deg)
        if turns:
            gray = gray.rotate(90 * turns, expand=True)
    elif options.deskew:
        skew = estimate_skew(gray, options.max_skew_deg)
    if options.deskew and abs(skew) >= 0.3:
        gray = rotate(gray, skew)
    # One ink mask serves both the x-height and (unless the page is enlarged) the
    # ascender balance: it is the same image, so measuring it twice would be wasted work.
    mask, factor = _ink_mask(central(gray), 2000)
    x_height = _x_height(mask, factor)
    scale = upscale_factor(x_height, gray.size, options) if options.upscale else 1.0
    effective_dpi = dpi or 300.0
    if scale > 1.0:
        width, height = gray.size
        size = (round(width * scale), round(height * scale))
        gray = gray.resize(size, Image.Resampling.LANCZOS)
        effective_dpi *= scale
    if options.orient:
        # Small text is too coarse for the ascender test: leave it to the engine's OSD.
        balance = ascender_balance(gray) if scale > 1.0 else _ascender_balance(mask)
        if x_height is not None and x_height < options.min_x_height_px:
            balance = 0.0
        unsure = abs(balance) < FLIP_BALANCE
        upside_down = balance <= -FLIP_BALANCE or (unsure and osd is not None and osd(gray) == 180)
        if upside_down:
            gray = gray.rotate(180)
            return PreparedImage(gray, effective_dpi, skew, scale, flipped=True)
        return PreparedImage(
            gray, effective_dpi, skew, scale, orientation_unsure=unsure and osd is None
        )
    return PreparedImage(gray, effective_dpi, skew, scale)
