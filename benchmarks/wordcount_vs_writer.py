"""Our word count vs LibreOffice Writer's, on plain-text files.

    .venv/bin/python benchmarks/wordcount_vs_writer.py DIR_OR_FILE... [--quiet]
    .venv/bin/python benchmarks/wordcount_vs_writer.py --textract tests/fixtures/textract [--quiet]

``--textract`` takes real Textract responses (JSON with ``Blocks``; files or directories of
``*.json``) and checks the Textract path the same way: each response's text as the ocr
service builds it (:func:`ocr.engines.textract.text_from_blocks`) is counted by us and by
Writer, and Textract's own number of ``WORD`` blocks is printed beside them.

Every ``.txt`` given (directories are searched for ``*.txt``, recursively) is converted to
ODT by one ``soffice --headless --convert-to odt`` run (a throw-away profile, in a temporary
directory), and Writer's ``meta:word-count`` is read from each document's ``meta.xml``. Per
file it prints our total (:func:`ocrpipe.words.count_words`), Writer's, and Writer's on two
variants of the text, so the deliberate differences of the rule are measured, not guessed:

* ``rejoined``: the text after our line-end hyphen re-join
  (:func:`ocrpipe.words.join_line_hyphens`; Writer cannot know a line was hyphenated);
* ``clean``: that, with every token cut at the rule's dashes (en/em dash, ``--``) and the
  pieces that hold no letter or digit removed (a lone ``-``, ``•``, ``...``, the ``--`` of
  ``--help``: Writer counts them as words, the rule does not).

The summary gives the files that agree exactly, the mean absolute difference in percent of
Writer's count, and the total difference split into the part the hyphen re-joins explain,
the part the punctuation-only pieces explain, and the rest. Needs ``soffice``
(``libreoffice-writer-nogui``, in ``system-packages.txt`` for the test target).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ocrpipe.words import count_words, join_line_hyphens, token_words

#: ``meta:word-count="N"`` and ``meta:character-count="N"`` of ``meta:document-statistic``.
_STATISTIC = re.compile(r'meta:(word|character)-count="(\d+)"')
_TOKEN = re.compile(r"\S+")
#: The dashes that separate words under the rule, as they appear in raw text.
_DASHES = re.compile(r"[\u2013\u2014]+|-{2,}")


class WriterMissingError(RuntimeError):
    """``soffice`` is not installed."""


@dataclass(frozen=True)
class WriterCount:
    words: int
    characters: int


def soffice() -> str:
    found = shutil.which("soffice")
    if found is None:
        raise WriterMissingError(
            "LibreOffice Writer (`soffice`) is not installed: it is the Debian package "
            "libreoffice-writer-nogui, which system-packages.txt lists for the test target "
            "(scripts/bootstrap.sh test installs it)"
        )
    return found


#: soffice 7.4 silently stops converting after 245 documents in one run (exit status 0).
MAX_DOCUMENTS_PER_RUN = 200


def writer_counts(texts: Sequence[str], *, timeout_s: float = 900) -> list[WriterCount]:
    """Writer's word and character count of each text, from as few ``soffice`` runs as can be."""
    if not texts:
        return []
    program = soffice()
    counts: list[WriterCount] = []
    with tempfile.TemporaryDirectory(prefix="wordcount-writer-") as tmp:
        root = Path(tmp)
        for first in range(0, len(texts), MAX_DOCUMENTS_PER_RUN):
            batch = texts[first : first + MAX_DOCUMENTS_PER_RUN]
            counts.extend(_convert(program, root / f"run{first}", batch, timeout_s))
    return counts


def _convert(program: str, root: Path, texts: Sequence[str], timeout_s: float) -> list[WriterCount]:
    (root / "in").mkdir(parents=True)
    inputs = []
    for index, text in enumerate(texts):
        path = root / "in" / f"{index:05d}.txt"
        path.write_text(text, encoding="utf-8", newline="")
        inputs.append(path)
    command = [
        program,
        f"-env:UserInstallation={(root / 'profile').as_uri()}",
        "--headless",
        "--norestore",
        "--infilter=Text (encoded):UTF8",
        "--convert-to",
        "odt",
        "--outdir",
        str(root / "out"),
        *map(str, inputs),
    ]
    run = subprocess.run(command, capture_output=True, timeout=timeout_s, check=False)
    counts = []
    for path in inputs:
        odt = root / "out" / f"{path.stem}.odt"
        if not odt.exists():
            detail = run.stderr.decode("utf-8", "replace").strip()[-500:]
            raise RuntimeError(
                f"soffice did not convert {path.name} of {len(inputs)} "
                f"(exit {run.returncode}): {detail}"
            )
        with zipfile.ZipFile(odt) as document:
            meta = document.read("meta.xml").decode("utf-8")
        found = dict(_STATISTIC.findall(meta))
        # Writer leaves the statistic out of an empty document.
        counts.append(WriterCount(int(found.get("word", 0)), int(found.get("character", 0))))
    return counts


def without_wordless_pieces(text: str) -> str:
    """``text`` with each token cut at the rule's dashes and the wordless pieces dropped.

    ``--help`` -> ``help``, ``a—b`` -> ``a b``, ``•`` and ``...`` -> nothing.
    """

    def pieces(match: re.Match[str]) -> str:
        return " ".join(p for p in _DASHES.split(match.group()) if p and token_words(p))

    return _TOKEN.sub(pieces, text)


@dataclass(frozen=True)
class Row:
    name: str
    ours: int
    writer: int
    rejoined: int
    clean: int


def txt_files(arguments: Sequence[Path]) -> list[Path]:
    files: list[Path] = []
    for argument in arguments:
        if argument.is_dir():
            files.extend(sorted(argument.rglob("*.txt")))
        else:
            files.append(argument)
    return files


def textract_texts(arguments: Sequence[Path], directory: Path) -> dict[Path, int]:
    """Each Textract response's text as the ocr service stores it, written to ``directory``;
    returns each text file with the response's number of WORD blocks."""
    from ocr.engines.textract import text_from_blocks

    written: dict[Path, int] = {}
    responses = [
        path
        for argument in arguments
        for path in (sorted(argument.rglob("*.json")) if argument.is_dir() else [argument])
    ]
    for path in responses:
        blocks = json.loads(path.read_text(encoding="utf-8")).get("Blocks", [])
        words = [b for b in blocks if b.get("BlockType") == "WORD" and str(b.get("Text")).strip()]
        text = text_from_blocks(blocks).to_result(page_count=0, engine_version="-").text
        target = directory / f"{path.stem}.txt"
        target.write_text(text, encoding="utf-8")
        written[target] = len(words)
    return written


def compare(files: Sequence[Path]) -> list[Row]:
    texts = [path.read_text(encoding="utf-8") for path in files]
    rejoined = [join_line_hyphens(text) for text in texts]
    clean = [without_wordless_pieces(text) for text in rejoined]
    writer = writer_counts([*texts, *rejoined, *clean])
    n = len(texts)
    return [
        Row(
            name=str(path),
            ours=count_words(text).total,
            writer=writer[i].words,
            rejoined=writer[n + i].words,
            clean=writer[2 * n + i].words,
        )
        for i, (path, text) in enumerate(zip(files, texts, strict=True))
    ]


def summary(rows: Sequence[Row]) -> list[str]:
    agree = sum(row.ours == row.writer for row in rows)
    agree_clean = sum(row.ours == row.clean for row in rows)
    percents = [abs(row.ours - row.writer) / row.writer * 100 for row in rows if row.writer]
    mean = sum(percents) / len(percents) if percents else 0.0
    ours, writer = sum(row.ours for row in rows), sum(row.writer for row in rows)
    hyphens = sum(row.writer - row.rejoined for row in rows)
    wordless = sum(row.rejoined - row.clean for row in rows)
    rest = sum(row.clean - row.ours for row in rows)
    return [
        f"{len(rows)} files: {agree} agree exactly with Writer; "
        f"mean |ours - Writer| = {mean:.2f}% of Writer's count",
        f"total: ours {ours:,}, Writer {writer:,} ({writer - ours:+,} words in Writer), of which",
        f"  {hyphens:+,} line-end hyphen re-joins (Writer on our re-joined text: "
        f"{writer - hyphens:,})",
        f"  {wordless:+,} dashes and pieces without a letter or digit (Writer on that text "
        f"without them: "
        f"{writer - hyphens - wordless:,})",
        f"  {rest:+,} unexplained; {agree_clean} of {len(rows)} files agree exactly once both "
        "are taken out",
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", type=Path, nargs="*", help=".txt files or directories")
    parser.add_argument("--quiet", action="store_true", help="print the summary only")
    parser.add_argument(
        "--textract",
        type=Path,
        nargs="+",
        default=[],
        metavar="JSON",
        help="real Textract responses (files or directories of *.json) to check the same way",
    )
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="textract-texts-") as tmp:
        word_blocks = textract_texts(args.textract, Path(tmp))
        files = txt_files(args.paths) + list(word_blocks)
        if not files:
            print("no .txt files (or --textract responses) given", file=sys.stderr)
            return 2
        try:
            rows = compare(files)
        except WriterMissingError as exc:
            print(exc, file=sys.stderr)
            return 2
    if word_blocks:
        print("Textract responses: WORD blocks, our count of the service's text, Writer's")
        by_name = {Path(row.name).name: row for row in rows}
        for path, blocks in word_blocks.items():
            row = by_name[path.name]
            print(f"  {path.stem:<40} {blocks:6} {row.ours:6} {row.writer:6}")
        print()
    if not args.quiet:
        width = max(len(Path(row.name).name) for row in rows)
        print(
            f"{'file':<{width}} {'ours':>7} {'writer':>7} {'diff':>6} {'rejoined':>8} {'clean':>7}"
        )
        for row in rows:
            print(
                f"{Path(row.name).name:<{width}} {row.ours:7} {row.writer:7} "
                f"{row.writer - row.ours:+6} {row.rejoined:8} {row.clean:7}"
            )
        print()
    print("\n".join(summary(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
