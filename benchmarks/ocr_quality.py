"""Word-level F1 of our OCR path vs plain ``tesseract``, on (image, truth .txt) pairs.

    .venv/bin/python benchmarks/ocr_quality.py DIR [--psm 3] [--opt flatten=false ...]

``DIR`` holds images (``.png .jpg .jpeg .tif .tiff .pdf``) each with its true text in
``<stem>.txt`` beside it or in ``truth/<stem>.txt`` (the layout of ``samples/``); the
evaluation set of ``scripts/make_samples.py --eval-dir`` fits as is. For every image it
prints the bag-of-words F1 of

* ``raw``:  ``tesseract <image> stdout`` (the baseline: what you get without ocrpipe);
* ``ours``: ``ocr.pages`` -> ``ocr.preprocess`` -> ``ocr.engines.tesseract``;

then the means and the wall-time ratio (ours / raw). Both run two images at a time (one
Tesseract process per core, ``OMP_THREAD_LIMIT=1``), so the ratio compares like with like.

Tokens: the words of the project's word rule (:func:`ocrpipe.words.words`); F1 over the
multiset of words (order-free), so it measures what the word count sees.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ocr.engines.tesseract import TesseractEngine, osd_upside_down
from ocr.pages import iter_pages
from ocr.preprocess import DEFAULT_OPTIONS, Options, prepare
from ocrpipe.words import words

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".pdf"}


def truth_path(image: Path) -> Path | None:
    """``<stem>.txt`` next to the image, or in a ``truth/`` folder beside it (samples/)."""
    for candidate in (image.with_suffix(".txt"), image.parent / "truth" / f"{image.stem}.txt"):
        if candidate.exists():
            return candidate
    return None


def truth_file(image: Path) -> Path:
    found = truth_path(image)
    assert found is not None
    return found


def tokens(text: str) -> Counter[str]:
    return Counter(words(text))


def f1(truth: str, found: str) -> float:
    want, got = tokens(truth), tokens(found)
    hits = sum((want & got).values())
    if not hits:
        return 0.0
    precision = hits / sum(got.values())
    recall = hits / sum(want.values())
    return 2 * precision * recall / (precision + recall)


def raw_tesseract(path: Path) -> str:
    env = dict(os.environ, OMP_THREAD_LIMIT="1")
    out = subprocess.run(
        ["tesseract", str(path), "stdout"], capture_output=True, env=env, check=False
    )
    return out.stdout.decode("utf-8", "replace")


def ours(engine: TesseractEngine) -> Callable[[Path], str]:
    def read(path: Path) -> str:
        pages = iter_pages(path.read_bytes(), pdf_dpi=300, max_image_pixels=50_000_000)
        return engine.read(pages).text

    return read


def timed_map(fn: Callable[[Path], str], paths: list[Path]) -> tuple[list[str], float]:
    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(fn, paths))
    return results, time.perf_counter() - start


def parse_options(pairs: list[str]) -> Options:
    changes: dict[str, object] = {}
    fields = {f.name: f for f in dataclasses.fields(Options)}
    for pair in pairs:
        key, _, value = pair.partition("=")
        current = getattr(DEFAULT_OPTIONS, key)
        if key not in fields:
            raise SystemExit(f"unknown option {key}")
        if isinstance(current, bool):
            changes[key] = value.lower() in ("1", "true", "yes", "on")
        elif isinstance(current, int):
            changes[key] = int(value)
        elif isinstance(current, float):
            changes[key] = float(value)
        else:
            changes[key] = value
    return dataclasses.replace(DEFAULT_OPTIONS, **changes)  # type: ignore[arg-type]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--psm", type=int, default=None, help="override the engine's psm")
    parser.add_argument("--opt", action="append", default=[], help="preprocess option k=v")
    parser.add_argument("--no-raw", action="store_true", help="skip the raw baseline")
    parser.add_argument("--filter", default="", help="only images whose name contains this")
    args = parser.parse_args(argv)

    paths = sorted(
        p
        for p in args.directory.iterdir()
        if p.suffix.lower() in IMAGE_SUFFIXES
        and truth_path(p) is not None
        and args.filter in p.name
    )
    if not paths:
        print(f"no (image, .txt) pairs in {args.directory}", file=sys.stderr)
        return 2
    truths = [truth_file(p).read_text(encoding="utf-8") for p in paths]
    options = parse_options(args.opt)
    engine_kwargs: dict[str, object] = {"workers": 1}
    if args.psm is not None:
        engine_kwargs["psm"] = args.psm
    engine = TesseractEngine(
        preprocessor=lambda image, dpi: prepare(image, dpi, options, osd=osd_upside_down),
        **engine_kwargs,  # type: ignore[arg-type]
    )

    raw_texts, raw_s = ([""] * len(paths), 0.0)
    if not args.no_raw:
        raw_texts, raw_s = timed_map(raw_tesseract, paths)
    our_texts, our_s = timed_map(ours(engine), paths)

    print(f"{'image':<28} {'raw F1':>7} {'ours F1':>8}")
    raw_scores, our_scores = [], []
    for path, truth, raw, mine in zip(paths, truths, raw_texts, our_texts, strict=True):
        raw_f1, our_f1 = f1(truth, raw), f1(truth, mine)
        raw_scores.append(raw_f1)
        our_scores.append(our_f1)
        print(f"{path.name:<28} {raw_f1:7.3f} {our_f1:8.3f}")
    n = len(paths)
    print(f"{'MEAN':<28} {sum(raw_scores) / n:7.3f} {sum(our_scores) / n:8.3f}")
    if raw_s:
        print(f"wall time: raw {raw_s:.1f} s, ours {our_s:.1f} s, ratio {our_s / raw_s:.2f}")
    else:
        print(f"wall time: ours {our_s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
