"""The Textract path on real Textract responses (tests/fixtures/textract/README.md).

The text the ocr service builds from a response's LINE blocks must hold exactly the words of
its WORD blocks under the word rule: nothing lost, nothing counted twice (an earlier version
counted 252 words on a form where Textract returned 131 WORD blocks). The rule differs from a
plain count of WORD blocks only where it means to, and each difference is pinned here: a
block of punctuation alone (`$`, `-`) is no word, a block holding a space is two, and a word
hyphenated across a line end is one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ocr.engines.textract import text_from_blocks
from ocrpipe.words import count_words

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "textract"


def blocks(name: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads((FIXTURES / name).read_text(encoding="utf-8"))[
        "Blocks"
    ]
    return found


def words_of(blocks_: list[dict[str, Any]]) -> list[str]:
    return [b["Text"] for b in blocks_ if b["BlockType"] == "WORD" and b["Text"].strip()]


def service_text(blocks_: list[dict[str, Any]]) -> str:
    """The text as the ocr service stores it (what wordcount counts)."""
    return text_from_blocks(blocks_).to_result(page_count=0, engine_version="x").text


@pytest.mark.parametrize(
    ("name", "word_blocks", "counted", "rejoined", "why"),
    [
        ("gib.json", 131, 131, 0, "every WORD block is one word"),
        ("test-multicol-response.json", 114, 113, 1, "non-/trivial across a line end is one"),
        ("multi-tables-multi-page-sample.json", 40, 42, 0, "two WORD blocks hold a space"),
        ("tables_with_merged_cells_sample1.json", 86, 73, 0, "13 blocks are a lone `$`"),
    ],
)
def test_the_service_counts_what_textract_read(
    name: str, word_blocks: int, counted: int, rejoined: int, why: str
) -> None:
    real = blocks(name)
    words = words_of(real)
    assert len(words) == word_blocks
    text = service_text(real)
    assert count_words(text).total == counted, why
    # Nothing lost or doubled: the WORD blocks under the rule are the text's words, but for
    # the words re-joined at a line end (two blocks, one word).
    of_blocks = count_words(" ".join(words))
    assert of_blocks.total - counted == rejoined
    if not rejoined:
        assert count_words(text).counts == of_blocks.counts


def test_pages_are_kept_apart_and_in_order() -> None:
    real = blocks("multi-tables-multi-page-sample.json")
    result = text_from_blocks(real)
    assert len(result.pages) == len({b.get("Page", 1) for b in real if b["BlockType"] == "PAGE"})
    assert len(result.pages) == 3
    assert all(page.strip() for page in result.pages)
