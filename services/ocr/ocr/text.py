"""Clean-ups of OCR output that the engines get wrong in the same way every time.

* A word split across a line break by a hyphen (``conso-`` / ``lation``) is written whole
  at the end of its first line, the remainder left on the next line, so the text reads as
  it was meant (``consolation``). What counts as such a break is the word rule's
  (:func:`ocrpipe.words.join_line_hyphens`), so the text says what the word count counts:
  the hyphen is dropped before a lower-case letter and kept before a capital or a digit
  (``Moby-`` / ``Dick`` -> ``Moby-Dick``, ``10-`` / ``12`` -> ``10-12``).

Measured on real pages (``benchmarks/ocr_quality.py`` on the OCR development set). Text from
a PDF text layer is exact and is not touched.

A bar standing alone is left alone. An earlier rule turned it into a capital ``I`` ("a lone I
is often read as ``|``"), which held on our generator's pages only: on the real pages
Tesseract read every lone ``I`` of the truth as ``I``, and the lone bars were real (``ps aux |
pager``).
"""

from __future__ import annotations

from ocrpipe.words import join_line_hyphens


def join_hyphenated(lines: list[str]) -> list[str]:
    """Re-join words split across consecutive lines of one paragraph."""
    joined = join_line_hyphens("\n".join(lines)).split("\n")
    return [line for line in joined if line]


def clean_paragraph(lines: list[str]) -> list[str]:
    return join_hyphenated(lines)
