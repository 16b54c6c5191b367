"""Pages per second: plain ``tesseract`` one page after another vs our engine, 2 workers.

    .venv/bin/python benchmarks/ocr_throughput.py [DIR] [--pages 8] [--workers 2]

Pages are the images in ``DIR`` (or rendered text pages when no directory is given), cycled
until ``--pages`` are queued. The baseline is what a person gets from the CLI: one
``tesseract <page> stdout`` process at a time, with Tesseract's default (OpenMP) threading.
Ours is ``TesseractEngine.read`` over the same pages as one document, with ``--workers``
single-threaded processes in parallel, preprocessing included. For reference it also times
plain ``tesseract`` with ``OMP_THREAD_LIMIT=1``, one page after another.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from itertools import cycle, islice
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from ocr.engines.tesseract import TesseractEngine
from ocr.pages import Page

SAMPLE = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
    "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it "
    "was the season of Light, it was the season of Darkness, it was the spring of hope, it "
    "was the winter of despair."
)


def rendered_pages(count: int, directory: Path) -> list[Path]:
    font_path = "/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf"
    font = ImageFont.truetype(font_path, 42)
    paths = []
    for index in range(count):
        image = Image.new("L", (2480, 3508), 255)
        draw = ImageDraw.Draw(image)
        words = (SAMPLE + " ") * 12
        line, y = "", 200
        for word in words.split():
            if font.getlength(f"{line} {word}") > 2080:
                draw.text((200, y), line, font=font, fill=0)
                line, y = word, y + 64
                if y > 3300:
                    break
            else:
                line = f"{line} {word}".strip()
        path = directory / f"page{index}.png"
        image.save(path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", type=Path, nargs="?")
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        if args.directory:
            sources = sorted(
                p
                for p in args.directory.iterdir()
                if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".tif", ".tiff"}
            )
        else:
            sources = rendered_pages(min(args.pages, 4), Path(tmp))
        paths = list(islice(cycle(sources), args.pages))

        start = time.perf_counter()
        for path in paths:
            subprocess.run(["tesseract", str(path), "stdout"], capture_output=True, check=True)
        baseline = time.perf_counter() - start

        single_env = dict(os.environ, OMP_THREAD_LIMIT="1")
        start = time.perf_counter()
        for path in paths:
            subprocess.run(
                ["tesseract", str(path), "stdout"], capture_output=True, check=True, env=single_env
            )
        single = time.perf_counter() - start

        engine = TesseractEngine(workers=args.workers)
        start = time.perf_counter()
        pages = (Page(number=i + 1, image=Image.open(p).convert("L")) for i, p in enumerate(paths))
        result = engine.read(pages)
        ours = time.perf_counter() - start

    n = len(paths)
    print(f"pages: {n} ({result.word_count} words read by ours)")
    print(f"plain tesseract, sequential: {baseline:.1f} s  ({n / baseline:.2f} pages/s)")
    print(f"plain tesseract, OMP_THREAD_LIMIT=1, sequential: {single:.1f} s")
    print(f"ocrpipe engine, {args.workers} workers: {ours:.1f} s  ({n / ours:.2f} pages/s)")
    print(f"throughput ratio (ours / plain): {baseline / ours:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
