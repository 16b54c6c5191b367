"""Clean-ups of OCR output that the engines get wrong in the same way every time.

* A lone capital I is very often read as a vertical bar (``|``); a bar standing alone
  between words is turned back into ``I``.
* A word split across a line break by a hyphen (``conso-`` / ``lation``) is written whole
  at the end of its first line, the remainder removed from the next line, so the text reads
  as it was meant (``consolation``). Only a hyphen after a letter, followed by a line that
  starts with a lower-case letter, counts as a break (``Moby-`` / ``Dick`` is left alone).

Both are measured on the evaluation set (``benchmarks/ocr_quality.py``). Text from a PDF
text layer is exact and is not touched.
"""

from __future__ import annotations

import re

_LONE_BAR = re.compile(r"(?<!\S)\|(?!\S)")
_BROKEN_WORD = re.compile(r"(?<=[^\W\d_])-$")
_FIRST_WORD = re.compile(r"^([^\W\d_][^\s]*)\s*(.*)$")


def fix_lone_bars(line: str) -> str:
    return _LONE_BAR.sub("I", line)


def join_hyphenated(lines: list[str]) -> list[str]:
    """Re-join words split across consecutive lines of one paragraph."""
    out = list(lines)
    for i in range(len(out) - 1):
        line, following = out[i], out[i + 1]
        if not _BROKEN_WORD.search(line) or not following[:1].islower():
            continue
        match = _FIRST_WORD.match(following)
        if match is None:
            continue
        out[i] = line[:-1] + match.group(1)
        out[i + 1] = match.group(2)
    return [line for line in out if line]


def clean_paragraph(lines: list[str]) -> list[str]:
    return join_hyphenated([fix_lone_bars(line) for line in lines])
