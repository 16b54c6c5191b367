"""The word rule against a real LibreOffice Writer: the same totals, or a documented reason.

One ``soffice`` run converts every case below (one ``.txt`` each) and reads Writer's word
count from each ODT's ``meta.xml``. Needs ``soffice`` (``libreoffice-writer-nogui``); without
it the test fails, it does not skip.
"""
# ruff: noqa: RUF001  (the cases are about look-alike characters)

from __future__ import annotations

import pytest

from benchmarks.wordcount_vs_writer import WriterCount, WriterMissingError, writer_counts
from ocrpipe.words import count_words

#: Text -> our total, which is also Writer's.
AGREE: dict[str, int] = {
    "well-known": 1,
    "3.14 1,000 e.g.": 3,
    "don't don\u2019t l'homme": 3,
    "IDN2_TOO_BIG_DOMAIN snake_case": 2,
    "https://example.com/a/b?x=1 a.b@example.com": 2,
    "a/b and/or word...word word\u2026word": 4,
    "x-y-z one\u2011two one\u2010two one\u2212two one\u2015two": 5,  # hyphens don't separate
    "one\u2014two one\u2013two": 4,  # em and en dash separate (Writer's defaults)
    "one \u2014 two \u2013 three": 3,  # a lone em/en dash is no word in Writer either
    "\u2014a\u2014b\u2014": 2,
    "one--two one---two": 4,  # so does the typewriter dash
    "one\u00a0two one\u202ftwo one\u2007two one\u2009two one\u3000two": 10,
    "in\u00adfor\u00admation": 1,  # soft hyphen
    "one\u200btwo": 1,  # a zero-width space doesn't separate
    "one\u2060two three": 2,  # nor does a word joiner
    "one\u200dtwo": 1,
    "'tis dogs' \u2018quoted\u2019 \u201cdouble\u201d \u00abmot\u00bb \u00bfQu\u00e9?": 6,
    "see www.example.com now, +1 (555) 123-4567": 6,
    "U.S.A. etc. 9 a.m. 12:30 2024-01-02 50% $5 #tag @user": 10,
    "日本語": 3,  # one word per ideograph
    "日本語のテキスト": 8,  # and per kana
    "abc日本def 2024年": 6,
    "カーテン \uff83\uff77\uff7d\uff84": 8,  # half-width katakana too
    "Tokyo 東京 city": 4,
    "café cafe\u0301 naïve Straße": 4,
    "Γειά σου, Привет мир": 4,
    "हिन्दी भाषा مرحبا بالعالم": 4,
    "one\ttwo\nthree\n\nfour\r\nfive": 5,
    "foo-\n\nbar": 2,  # a paragraph break is no hyphenation
    "\u2014": 0,
    "": 0,
}

#: Text -> (our total, Writer's total, why we differ on purpose).
DIFFER: dict[str, tuple[int, int, str]] = {
    "extra-\nordinary": (1, 2, "line-end hyphenation re-joined; Writer cannot know"),
    "Moby-\nDick": (1, 2, "line-end hyphen re-joined (kept: a capital follows)"),
    "one - two": (2, 3, "a lone hyphen holds no letter or digit"),
    "• item": (1, 2, "a bullet is no word"),
    "one ... two & three": (3, 5, "punctuation-only tokens are no words"),
    "--help -v": (2, 3, "the -- of an option is no word"),
    "one 😀 two": (2, 3, "an emoji is no word"),
    "中文，文本。": (4, 6, "CJK punctuation is no word"),
    "한국어 텍스트": (2, 6, "Hangul is counted by spaces, not per syllable"),
    "ภาษาไทย": (1, 7, "Thai runs are one word (no dictionary segmentation)"),
    "ＡＢＣ １２": (2, 5, "full-width forms count as ASCII after NFKC"),
    "x²": (1, 2, "NFKC keeps a superscript in its word"),
    "one \ufefftwo": (2, 3, "a BOM inside the text is removed"),
    "one\u200btwo three": (2, 1, "Writer 7.4 counts a paragraph's rest after a ZWSP as one word"),
}


@pytest.fixture(scope="module")
def writer() -> dict[str, WriterCount]:
    texts = [*AGREE, *DIFFER]
    try:
        return dict(zip(texts, writer_counts(texts), strict=True))
    except WriterMissingError as exc:
        pytest.fail(f"{exc}; this test compares the word rule with a real Writer")


def test_cases_are_distinct() -> None:
    assert not set(AGREE) & set(DIFFER)


@pytest.mark.parametrize("text", list(AGREE), ids=repr)
def test_same_total_as_writer(writer: dict[str, WriterCount], text: str) -> None:
    ours = count_words(text).total
    assert (ours, writer[text].words) == (AGREE[text], AGREE[text])


@pytest.mark.parametrize("text", list(DIFFER), ids=repr)
def test_documented_difference_from_writer(writer: dict[str, WriterCount], text: str) -> None:
    expected_ours, expected_writer, why = DIFFER[text]
    ours = count_words(text).total
    assert (ours, writer[text].words) == (expected_ours, expected_writer), why


@pytest.mark.parametrize("text", [t for t in AGREE if t.isascii() and "\r" not in t], ids=repr)
def test_same_characters_as_writer(writer: dict[str, WriterCount], text: str) -> None:
    assert count_words(text).characters == writer[text].characters
