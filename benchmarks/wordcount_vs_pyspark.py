r"""Word counting speed: our word rule vs PySpark's DataFrame API, from one page to 1 GiB.

    .venv/bin/python benchmarks/wordcount_vs_pyspark.py [--sizes 0.003,10,1024] [--rdd]

The original design counted words with PySpark's RDD API and Python lambdas::

    sc.textFile(path).flatMap(lambda line: line.split()).map(lambda w: (w, 1)).reduceByKey(add)

which pays a Python call per word. The baseline a Spark user writes today is the DataFrame
API, which stays in the JVM::

    spark.read.text(path).select(explode(split("value", r"\s+"))).groupBy("word").count()

This script generates seeded, realistic English-like text (Zipf-distributed words, capitals
after full stops, commas, apostrophes, a few accented words, hyphenated line breaks) at each
``--sizes`` (default: one page, 10 MiB, 1 GiB) and times, on the same file:

* **ours, 1 process**: :func:`ocrpipe.words.count_chunks` reading the file in 1 MiB chunks:
  the full rule (NFKC, case folding, apostrophes, hyphenation), on one core;
* **ours, N processes**: the file split at line breaks into N parts, counted by N processes
  and the counters merged (the same two cores Spark gets);
* **Spark DataFrame**: the query above, ``local[N]``, from reading the file to the collected
  counts, the session already started and the query run once before (its start-up is
  reported separately; a one-page job on a cold session pays it in full);
* **Spark RDD** (``--rdd``): the original job.

The two rules are not the same on realistic text (``The``/``the``, ``end.``/``end``), so their
totals differ and are both reported. To check that they agree where their rules coincide,
both also count a smaller "already normalised" text (lower-case ASCII words separated by
single spaces and newlines), where the counts must be identical.

pyspark is not a project dependency: ``pip install pyspark`` (it needs Java 17+). Without it
the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from operator import add
from pathlib import Path
from typing import Any

from ocrpipe.words import WordCounts, count_chunks, ends_with_line_hyphen
from wordcount.service import decode_utf8

COMMON = (  # noqa: SIM905
    "the of and to a in is it you that he was for on are with as I his they be at one have "
    "this from or had by hot word but what some we can out other were all there when up use "
    "your how said an each she which do their time if will way about many then them write "
    "would like so these her long make thing see him two has look more day could go come did "
    "number sound no most people my over know water than call first who may down side been "
    "now find any new work part take get place made live where after back little only round "
    "man year came show every good me give our under name very through just form sentence "
    "great think say help low line differ turn cause much mean before move right boy old too "
    "same tell does set three want air well also play small end put home read hand port large "
    "spell add even land here must big high such follow act why ask men change went light "
    "kind off need house picture try us again animal point mother world near build self earth "
    "father don't it's can't o'clock café naïve Straße résumé"
).split()
SYLLABLES = (  # noqa: SIM905
    "ba be bi bo bu ca ce ci co cu da de di do du fa fe fi fo ga ge go la le li lo lu ma me mi "
    "mo mu na ne ni no nu pa pe pi po ra re ri ro ru sa se si so ta te ti to tu va ve vi wa we "
    "ex en er in on an al el il ol st tr pr th sh ch"
).split()
WORDS_PER_LINE = 11
READ_CHUNK_BYTES = 1 << 20


def vocabulary(rng: random.Random, size: int) -> list[str]:
    words = list(COMMON)
    seen = set(words)
    while len(words) < size:
        word = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4)))
        if word not in seen:
            seen.add(word)
            words.append(word)
    return words


def zipf_weights(size: int, exponent: float = 1.07) -> list[float]:
    weights, total = [], 0.0
    for rank in range(1, size + 1):
        total += 1.0 / rank**exponent
        weights.append(total)
    return weights


def realistic_lines(rng: random.Random, target_bytes: int) -> Iterator[str]:
    """Lines of English-like prose, ~70 characters each."""
    vocab = vocabulary(rng, 60_000)
    tokens: list[str] = []
    weights: list[float] = []
    cumulative = 0.0
    for rank, word in enumerate(vocab, start=1):
        p = 1.0 / rank**1.07
        for variant, share in ((word, 0.86), (word.capitalize(), 0.06), (word + ",", 0.05)):
            cumulative += p * share
            tokens.append(variant)
            weights.append(cumulative)
        cumulative += p * 0.03
        tokens.append(word + ".")
        weights.append(cumulative)
    produced = 0
    while produced < target_bytes:
        batch = rng.choices(tokens, cum_weights=weights, k=WORDS_PER_LINE * 10_000)
        for start in range(0, len(batch), WORDS_PER_LINE):
            line_words = batch[start : start + WORDS_PER_LINE]
            last = line_words[-1]
            if len(last) > 5 and rng.random() < 0.03:  # hyphenated at the line end
                cut = len(last) // 2
                line_words[-1] = last[:cut] + "-"
                batch[start + WORDS_PER_LINE : start + WORDS_PER_LINE] = [last[cut:]]
            line = " ".join(line_words)
            produced += len(line.encode("utf-8")) + 1
            yield line
            if produced >= target_bytes:
                return


def normalised_lines(rng: random.Random, target_bytes: int) -> Iterator[str]:
    """Lines on which our rule and a whitespace split must agree exactly."""
    vocab = [w for w in vocabulary(rng, 20_000) if w.isascii() and w.isalpha() and w.islower()]
    weights = zipf_weights(len(vocab))
    produced = 0
    while produced < target_bytes:
        batch = rng.choices(vocab, cum_weights=weights, k=WORDS_PER_LINE * 10_000)
        for start in range(0, len(batch), WORDS_PER_LINE):
            line = " ".join(batch[start : start + WORDS_PER_LINE])
            produced += len(line) + 1
            yield line
            if produced >= target_bytes:
                return


def write_text(path: Path, lines: Iterator[str]) -> int:
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for line in lines:
            out.write(line)
            out.write("\n")
    return path.stat().st_size


def file_chunks(path: Path, start: int = 0, end: int | None = None) -> Iterator[str]:
    """The text of bytes ``[start, end)`` of ``path``, decoded as the service decodes S3."""

    def raw_chunks() -> Iterator[bytes]:
        with path.open("rb") as raw:
            raw.seek(start)
            remaining = (end if end is not None else path.stat().st_size) - start
            while remaining > 0:
                chunk = raw.read(min(READ_CHUNK_BYTES, remaining))
                if not chunk:
                    return
                remaining -= len(chunk)
                yield chunk

    return decode_utf8(raw_chunks())


def count_file(path: Path) -> WordCounts:
    return count_chunks(file_chunks(path))


def _count_part(args: tuple[str, int, int]) -> WordCounts:
    path, start, end = args
    return count_chunks(file_chunks(Path(path), start, end))


def part_bounds(path: Path, parts: int) -> list[tuple[int, int]]:
    """Byte ranges that start right after a line break that is not line-break hyphenation."""
    size = path.stat().st_size
    cuts = [0]
    with path.open("rb") as raw:
        for index in range(1, parts):
            raw.seek(size * index // parts)
            while True:
                line = raw.readline()
                if not line or not ends_with_line_hyphen(line.decode("utf-8", "replace")[:-1]):
                    break
            cuts.append(raw.tell())
    cuts.append(size)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]


def count_file_parallel(path: Path, workers: int) -> WordCounts:
    total = WordCounts.from_counter(Counter(), characters=0)
    with ProcessPoolExecutor(workers) as pool:
        for part in pool.map(
            _count_part, [(str(path), a, b) for a, b in part_bounds(path, workers)]
        ):
            total += part
    return total


def timed(fn: Any, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def spark_counts(spark: Any, path: Path) -> dict[str, int]:
    """The word count a Spark user writes today: the DataFrame API, no Python per row."""
    from pyspark.sql import functions as f

    words = spark.read.text(str(path)).select(
        f.explode(f.split(f.col("value"), r"\s+")).alias("word")
    )
    counted = words.where(f.col("word") != "").groupBy("word").count()
    return {row["word"]: row["count"] for row in counted.collect()}


def spark_rdd_counts(spark: Any, path: Path) -> dict[str, int]:
    """The original design's job: the RDD API with Python lambdas."""
    counts = (
        spark.sparkContext.textFile(str(path))
        .flatMap(lambda line: line.split())
        .map(lambda word: (word, 1))
        .reduceByKey(add)
    )
    return dict(counts.collect())


def parse_sizes(text: str) -> list[float]:
    return [float(part) for part in text.split(",") if part.strip()]


def label(mib: float) -> str:
    if mib < 1:
        return f"{mib * 1024:.0f} KiB"
    return f"{mib / 1024:.0f} GiB" if mib >= 1024 else f"{mib:.0f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=parse_sizes("0.003,10,1024"),
        help="MiB of realistic text per row (default: one page, 10 MiB, 1 GiB)",
    )
    parser.add_argument("--check-mb", type=int, default=20, help="size of the normalised text")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--parallel", type=int, default=2, help="processes for 'ours, N'")
    parser.add_argument("--rdd", action="store_true", help="also time the original RDD job")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)

    try:
        from pyspark.sql import SparkSession
    except ImportError:
        print("pyspark is not installed: `pip install pyspark` (needs Java 17+) to compare.")
        print("Skipping the benchmark.")
        return 0

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    start = time.perf_counter()
    spark = (
        SparkSession.builder.master(f"local[{args.parallel}]")
        .appName("wordcount-benchmark")
        .config("spark.driver.memory", "4g")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    startup_s = time.perf_counter() - start
    spark.sparkContext.setLogLevel("ERROR")
    rows: list[tuple[str, float, float, float, float | None, str]] = []
    agree = True
    try:
        with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
            normalised = Path(tmp) / "normalised.txt"
            write_text(
                normalised, normalised_lines(random.Random(args.seed + 1), args.check_mb << 20)
            )
            ours_check = count_file(normalised)
            agree = dict(ours_check.counts) == spark_counts(spark, normalised)
            for mib in args.sizes:
                path = Path(tmp) / "realistic.txt"
                size = write_text(path, realistic_lines(random.Random(args.seed), int(mib * 2**20)))
                spark_counts(spark, path)  # warm: the first query plans and compiles
                ours, ours_s = timed(count_file, path)
                ours_par, ours_par_s = timed(count_file_parallel, path, args.parallel)
                assert ours_par == ours, "parallel count differs from the single-process count"
                counted, spark_s = timed(spark_counts, spark, path)
                rdd_s = timed(spark_rdd_counts, spark, path)[1] if args.rdd else None
                note = f"{ours.total:,} words (ours) / {sum(counted.values()):,} tokens (split)"
                rows.append((label(size / 2**20), ours_s, ours_par_s, spark_s, rdd_s, note))
                path.unlink()
    finally:
        spark.stop()

    print(f"Spark {spark.version} local[{args.parallel}], session start-up {startup_s:.1f} s")
    print("(not counted below); seconds per run, and Spark DataFrame / ours:\n")
    head = f"| text | ours, 1 process | ours, {args.parallel} processes | Spark DataFrame |"
    head += " Spark RDD |" if args.rdd else ""
    print(head + " DataFrame / ours (faster of the two) | faster |")
    print("|---" * (head.count("|") + 1) + "|")
    for name, ours_s, par_s, spark_s, rdd_s, _ in rows:
        rdd = f" {rdd_s:.2f} |" if rdd_s is not None else ""
        best = min(ours_s, par_s)
        faster = "ours" if best < spark_s else "Spark"
        print(
            f"| {name} | {ours_s:.2f} | {par_s:.2f} | {spark_s:.2f} |{rdd}"
            f" {spark_s / max(best, 1e-9):.2f}x | {faster} |"
        )
    print()
    for name, *_, note in rows:
        print(f"  {name}: {note}")
    print(
        "  (a whitespace split keeps case and punctuation and counts both halves of a "
        "hyphenated line break; ours is the word rule)"
    )
    print(f"\nnormalised text, {args.check_mb} MiB: identical counts: {agree}")
    return 0 if agree else 1


if __name__ == "__main__":
    sys.exit(main())
