"""Word-level F1 of ``ocrpipe process`` against plain ``tesseract``, on real pages.

    .venv/bin/python benchmarks/ocr_quality.py DIR/manifest.json [--results RES] [--jobs 2]

``manifest.json`` is a list of pages as the OCR development set describes them
(``build.sh DIR`` beside the design guide): ``name``, ``image``, ``truth`` (paths relative
to the manifest), ``kind`` (``clean``/``photo``) and ``lang`` (ISO 639-1). In one run it

* reads every image with plain Tesseract twice -- ``-l eng`` (what a newcomer runs) and with
  the page's own language -- one single-threaded process per core (``OMP_THREAD_LIMIT=1``);
* runs the whole local pipeline on the images, ``ocrpipe process IMAGES --out RES`` (or scores
  an existing ``--results`` folder), with no language given: ocrpipe detects it;
* scores everything with the project's word rule: bag-of-words precision/recall/F1 of the
  text (``RES/NAME.txt``) and of the counts (``RES/NAME.words.json``) against the truth,

and prints F1 per kind and language, the pages where ours is below plain Tesseract with the
right language (the "never worse" check, by more than ``--tolerance``), and the wall time of
each side. Exit status 0; the numbers are the result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ocr.language import TESSERACT_CODES
from ocrpipe.words import count_words

ROOT = Path(__file__).resolve().parents[1]
OCRPIPE = ROOT / ".venv" / "bin" / "ocrpipe"


def bag(text: str) -> Counter[str]:
    """The words of ``text`` under the project's word rule, as a multiset."""
    return Counter(dict(count_words(text).counts))


def bag_from_counts(path: Path) -> Counter[str]:
    """The ``counts`` of an ``ocrpipe process`` result (keys already under the word rule)."""
    return Counter(json.loads(path.read_text(encoding="utf-8"))["counts"])


def f1(truth: Counter[str], found: Counter[str]) -> float:
    common = sum((truth & found).values())
    if not common:
        return 0.0
    precision = common / sum(found.values())
    recall = common / sum(truth.values())
    return 2 * precision * recall / (precision + recall)


@dataclass
class PageScore:
    name: str
    kind: str
    lang: str
    scores: dict[str, float] = field(default_factory=dict)


def plain_tesseract(image: Path, lang: str) -> str:
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    done = subprocess.run(
        ["tesseract", str(image), "stdout", "-l", lang],
        capture_output=True,
        check=True,
        env=env,
        timeout=600,
    )
    return done.stdout.decode("utf-8", "replace")


def timed_map(
    fn: Callable[[dict], str], items: Iterable[dict], jobs: int
) -> tuple[list[str], float]:
    started = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        out = list(pool.map(fn, items))
    return out, time.perf_counter() - started


def run_ocrpipe(images: list[Path], results: Path) -> float:
    """``ocrpipe process`` on links to the images (one folder, as a user would pass it)."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp, "images")
        folder.mkdir()
        for image in images:
            (folder / image.name).symlink_to(image)
        started = time.perf_counter()
        subprocess.run(
            [str(OCRPIPE), "process", str(folder), "--out", str(results), "--timeout", "3600"],
            check=False,
            stdout=subprocess.DEVNULL,
        )
        return time.perf_counter() - started


def mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--results", type=Path, help="score this ocrpipe --out folder")
    parser.add_argument("--jobs", type=int, default=2, help="tesseract processes at once")
    parser.add_argument("--tolerance", type=float, default=0.02)
    parser.add_argument("--json", type=Path, help="write the per-page scores here")
    args = parser.parse_args(argv)
    if shutil.which("tesseract") is None:
        print("needs tesseract (scripts/bootstrap.sh run installs it)", file=sys.stderr)
        return 2

    base = args.manifest.resolve().parent
    pages = json.loads(args.manifest.read_text())
    truths = [bag((base / p["truth"]).read_text(encoding="utf-8")) for p in pages]
    images = [(base / p["image"]).resolve() for p in pages]

    def plain_eng(p: dict) -> str:
        return plain_tesseract(base / p["image"], "eng")

    def plain_own(p: dict) -> str:
        return plain_tesseract(base / p["image"], TESSERACT_CODES[p["lang"]])

    eng_texts, eng_s = timed_map(plain_eng, pages, args.jobs)
    own_texts = [
        eng if p["lang"] == "en" else None for p, eng in zip(pages, eng_texts, strict=True)
    ]
    others = [p for p, t in zip(pages, own_texts, strict=True) if t is None]
    other_texts = iter(timed_map(plain_own, others, args.jobs)[0])
    own_texts = [t if t is not None else next(other_texts) for t in own_texts]

    if args.results:
        results, ours_s = args.results, float("nan")
    else:
        results = Path(tempfile.mkdtemp(prefix="ocrpipe-quality-"))
        ours_s = run_ocrpipe(images, results)

    scored: list[PageScore] = []
    for p, truth, eng, own in zip(pages, truths, eng_texts, own_texts, strict=True):
        row = PageScore(p["name"], p["kind"], p["lang"])
        row.scores["tesseract eng"] = f1(truth, bag(eng))
        row.scores["tesseract lang"] = f1(truth, bag(own))
        stem = Path(p["image"]).stem
        text_path, counts_path = results / f"{stem}.txt", results / f"{stem}.words.json"
        row.scores["ours text"] = (
            f1(truth, bag(text_path.read_text(encoding="utf-8"))) if text_path.exists() else 0.0
        )
        row.scores["ours counts"] = (
            f1(truth, bag_from_counts(counts_path)) if counts_path.exists() else 0.0
        )
        scored.append(row)

    columns = ["tesseract eng", "tesseract lang", "ours text", "ours counts"]
    groups: dict[tuple[str, str], list[PageScore]] = defaultdict(list)
    for row in scored:
        groups[(row.kind, row.lang)].append(row)
        groups[(row.kind, "all")].append(row)
    print(f"{'kind':<6} {'lang':<4} {'pages':>5}  " + "  ".join(f"{c:>14}" for c in columns))
    for (kind, lang), rows in sorted(groups.items()):
        cells = "  ".join(f"{mean([r.scores[c] for r in rows]):>14.3f}" for c in columns)
        print(f"{kind:<6} {lang:<4} {len(rows):>5}  {cells}")
    overall = "  ".join(f"{mean([r.scores[c] for r in scored]):>14.3f}" for c in columns)
    print(f"{'all':<6} {'all':<4} {len(scored):>5}  {overall}")

    worse = [r for r in scored if r.scores["ours text"] < r.scores["tesseract lang"]]
    print(
        f"\npages where ours (text) is below plain tesseract with the right language: {len(worse)}"
    )
    for r in sorted(worse, key=lambda r: r.scores["ours text"] - r.scores["tesseract lang"]):
        gap = r.scores["ours text"] - r.scores["tesseract lang"]
        mark = "  <-- beyond tolerance" if gap < -args.tolerance else ""
        print(
            f"  {r.name:<36} {r.kind:<5} {r.lang}  ours {r.scores['ours text']:.3f}"
            f"  tesseract {r.scores['tesseract lang']:.3f}  ({gap:+.3f}){mark}"
        )
    print(
        f"\nwall time: plain tesseract -l eng, {args.jobs} at a time {eng_s:.1f} s; "
        f"ocrpipe process {ours_s:.1f} s; {len(pages)} pages"
    )
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ for r in scored], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
