"""Clean-ups of OCR output that the engines get wrong in the same way every time.

* A lone capital I is very often read as a vertical bar (``|``); a bar standing alone
  between words is turned back into ``I``.
* A word split across a line break by a hyphen (``conso-`` / ``lation``) is written whole
  at the end of its first line, the remainder left on the next line, so the text reads as
  it was meant (``consolation``). What counts as such a break is the word rule's
  (:func:`ocrpipe.words.join_line_hyphens`), so the text says what the word count counts:
  the hyphen is dropped before a lower-case letter and kept before a capital or a digit
  (``Moby-`` / ``Dick`` -> ``Moby-Dick``, ``10-`` / ``12`` -> ``10-12``).

Both are measured on the evaluation set (``benchmarks/ocr_quality.py``). Text from a PDF
text layer is exact and is not touched.
"""

from __future__ import annotations

import re

from ocrpipe.words import join_line_hyphens

_LONE_BAR = re.compile(r"(?<!\S)\|(?!\S)")


def fix_lone_bars(line: str) -> str:
    return _LONE_BAR.sub("I", line)


def join_hyphenated(lines: list[str]) -> list[str]:
    """Re-join words split across consecutive lines of one paragraph."""
    joined = join_line_hyphens("\n".join(lines)).split("\n")
    return [line for line in joined if line]


def clean_paragraph(lines: list[str]) -> list[str]:
    return join_hyphenated([fix_lone_bars(line) for line in lines])
