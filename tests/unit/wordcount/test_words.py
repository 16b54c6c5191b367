"""The word rule (wordcount.words), version 1."""
# ruff: noqa: RUF001  (the tests are about look-alike characters)

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from wordcount import words as rule
from wordcount.words import WORD_RULE_VERSION, WordCounts, count_chunks, count_words, words


def counts(text: str) -> dict[str, int]:
    return dict(count_words(text).counts)


def test_version_is_recorded() -> None:
    assert WORD_RULE_VERSION == "1"


@pytest.mark.parametrize("text", ["", " ", "   \n\t\r\n  ", "\u3000\u00a0", "...!?-- ''", "_"])
def test_text_without_words_counts_zero(text: str) -> None:
    assert count_words(text) == WordCounts(total=0, unique=0, counts=[])


def test_counts_sorted_by_count_then_word() -> None:
    result = count_words("b a c b c b zz a")
    assert result.counts == [("b", 3), ("a", 2), ("c", 2), ("zz", 1)]
    assert (result.total, result.unique) == (8, 4)
    assert result.top(2) == [("b", 3), ("a", 2)]


class TestUnicode:
    def test_case_folded(self) -> None:
        assert counts("The THE the tHe") == {"the": 4}

    def test_accents_composed_and_folded(self) -> None:
        # precomposed, upper case, and e + combining acute are one word
        assert counts("café CAFÉ cafe\u0301") == {"café": 3}

    def test_sharp_s_folds_to_ss(self) -> None:
        assert counts("Straße STRASSE strasse") == {"strasse": 3}

    def test_full_width_digits_and_letters(self) -> None:
        assert counts("\uff12\uff10\uff12\uff14 2024 \uff21\uff22\uff23") == {"2024": 2, "abc": 1}

    def test_ligature_and_superscript(self) -> None:
        assert list(words("\ufb01ne x\u00b2")) == ["fine", "x2"]

    def test_greek_and_cyrillic(self) -> None:
        assert list(words("Γειά σου ΚΌΣΜΕ, Привет МИР!")) == [
            "γειά",
            "σου",
            "κόσμε",
            "привет",
            "мир",
        ]

    def test_final_sigma_folds(self) -> None:
        assert counts("ΟΔΟΣ οδος") == {"οδοσ": 2}

    def test_cjk_run_is_one_word_between_punctuation(self) -> None:
        assert list(words("日本語のテキスト。中文，文本")) == ["日本語のテキスト", "中文", "文本"]

    def test_half_width_katakana_normalised(self) -> None:
        assert list(words("\uff83\uff77\uff7d\uff84")) == ["テキスト"]

    def test_devanagari_marks_stay_inside_words(self) -> None:
        # vowel signs (Mc) and virama (Mn) are marks; they must not split the word
        assert list(words("हिन्दी भाषा")) == ["हिन्दी", "भाषा"]

    def test_stray_mark_after_space_is_not_a_word(self) -> None:
        assert list(words("a \u0301 b")) == ["a", "b"]

    def test_mark_outside_bmp_continues_word(self) -> None:
        # U+110B9 KAITHI SIGN VIRAMA (Mn) inside a Kaithi word
        assert list(words("\U0001108d\U000110b9\U0001108d x")) == [
            "\U0001108d\U000110b9\U0001108d",
            "x",
        ]

    def test_invisible_format_characters_removed(self) -> None:
        assert counts("in\u00adfor\u200dma\u2060tion \ufeffinformation") == {"information": 2}

    def test_zero_width_space_separates(self) -> None:
        assert list(words("one\u200btwo")) == ["one", "two"]

    def test_no_break_space_separates(self) -> None:
        assert list(words("one\u00a0two\u3000three")) == ["one", "two", "three"]


class TestApostrophes:
    def test_internal_apostrophes_kept(self) -> None:
        assert list(words("don't o'clock rock'n'roll")) == ["don't", "o'clock", "rock'n'roll"]

    def test_typographic_apostrophes_normalised(self) -> None:
        assert counts("don't don\u2019t don\u2018t DON\u02bcT") == {"don't": 4}

    def test_leading_and_trailing_apostrophes_dropped(self) -> None:
        assert list(words("'tis the dogs' \u2018quoted\u2019 'x'")) == [
            "tis",
            "the",
            "dogs",
            "quoted",
            "x",
        ]

    def test_double_apostrophe_splits(self) -> None:
        assert list(words("don''t")) == ["don", "t"]

    def test_apostrophe_between_digits(self) -> None:
        assert list(words("the '90s and 1'000")) == ["the", "90s", "and", "1'000"]


class TestHyphens:
    def test_hyphenated_line_break_rejoined(self) -> None:
        assert list(words("infor-\nmation")) == ["information"]

    def test_trailing_spaces_crlf_and_indentation(self) -> None:
        assert list(words("infor-  \t\r\n    mation")) == ["information"]

    def test_unicode_hyphens_at_line_end(self) -> None:
        for hyphen in ("\u2010", "\u2011", "\ufe63", "\uff0d", "\u00ad"):
            assert list(words(f"infor{hyphen}\nmation")) == ["information"], hex(ord(hyphen))

    def test_hyphen_on_one_line_separates(self) -> None:
        assert list(words("a well-known fact")) == ["a", "well", "known", "fact"]

    def test_compound_broken_at_line_end_is_joined(self) -> None:
        # documented consequence of the rule
        assert list(words("well-\nknown")) == ["wellknown"]

    def test_paragraph_break_is_not_hyphenation(self) -> None:
        assert list(words("foo-\n\nbar")) == ["foo", "bar"]

    def test_dash_without_word_before_is_not_joined(self) -> None:
        assert list(words("x -\ny")) == ["x", "y"]
        assert list(words("- item\n-\nnext")) == ["item", "next"]

    def test_en_dash_is_not_a_hyphen(self) -> None:
        assert list(words("1990\u2013\n2000")) == ["1990", "2000"]

    def test_hyphen_before_punctuation_on_next_line(self) -> None:
        assert list(words("foo-\n(bar)")) == ["foo", "bar"]

    def test_joins_unicode_words(self) -> None:
        assert list(words("Grö-\nße")) == ["grösse"]


class TestDigits:
    def test_numbers_are_words(self) -> None:
        assert counts("In 2024 and 2024") == {"2024": 2, "and": 1, "in": 1}

    def test_decimal_point_and_thousands_separator_split(self) -> None:
        assert list(words("3.14 1,000")) == ["3", "14", "1", "000"]

    def test_letters_and_digits_run_together(self) -> None:
        assert list(words("mp3 A4-paper")) == ["mp3", "a4", "paper"]

    def test_underscore_separates(self) -> None:
        assert list(words("snake_case_name")) == ["snake", "case", "name"]


class TestChunks:
    def test_chunks_match_whole_text(self) -> None:
        text = "The infor-\nmation is here.\nAnd there-\n  after, don't stop.\n" * 50
        pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
        assert count_chunks(pieces, min_piece_chars=16) == count_words(text)

    def test_text_without_line_breaks(self) -> None:
        text = "word " * 1000
        pieces = [text[i : i + 10] for i in range(0, len(text), 10)]
        assert count_chunks(pieces, min_piece_chars=32) == count_words(text)

    def test_empty_chunks(self) -> None:
        assert count_chunks([]) == count_words("")
        assert count_chunks(["", "", "a", ""]) == count_words("a")


# --- properties -------------------------------------------------------------------------------

TRICKY = list(
    "aZé\u0301ß-\u2010\u2011\u00ad\ufe63\uff0d\n\r \t\u00a0\u3000_'\u2019\u2018\u02bc"
    "\u200b\u200c\u200d\ufeff0９²ﬁΣςσİı\u0915\u094d\u093f\U000110b9日.,"
)
texts = st.text(alphabet=st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=200)
ascii_texts = st.text(alphabet=st.sampled_from(list("abZ09_-' \t\r\n.")), max_size=200)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_result_is_consistent(text: str) -> None:
    result = count_words(text)
    assert result.total == sum(c for _, c in result.counts)
    assert result.unique == len(result.counts) == len({w for w, _ in result.counts})
    assert all(c >= 1 for _, c in result.counts)
    assert result.counts == sorted(result.counts, key=lambda wc: (-wc[1], wc[0]))
    assert result.total == len(list(words(text)))


@settings(max_examples=400, deadline=None)
@given(texts)
@example("Straße don't infor-\nmation")
def test_words_are_fixed_points(text: str) -> None:
    found = list(words(text))
    assert list(words(" ".join(found))) == found
    assert list(words("\n".join(found))) == found


@settings(max_examples=400, deadline=None)
@given(texts, st.lists(st.integers(min_value=0, max_value=200), max_size=8), st.integers(1, 8))
@example("a-\u3000\nbcdefgh", [3], 1)
@example("a-_\nbcdefgh", [3], 1)
@example("a\uff0d\nbcdefgh", [2], 1)
def test_counting_in_pieces_equals_counting_whole(
    text: str, cuts: list[int], min_piece: int
) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert count_chunks(pieces, min_piece_chars=min_piece) == count_words(text)


@settings(max_examples=400, deadline=None)
@given(ascii_texts)
def test_ascii_shortcut_agrees_with_unicode_path(text: str) -> None:
    slow = rule._unicode_patterns().word.findall(rule._normalize_unicode(text))
    assert list(words(text)) == slow


@settings(max_examples=400, deadline=None)
@given(texts)
def test_shortcuts_agree_with_the_full_pattern(text: str) -> None:
    # the ASCII and the no-marks shortcuts give what the full Unicode pattern gives
    slow = rule._unicode_patterns().word.findall(rule._normalize_unicode(text))
    assert list(words(text)) == slow


@settings(max_examples=500, deadline=None)
@given(texts)
@example("don't 'tis x'' ''y café—naïve a\u0301b \u0301c \U000110b9d e\U000110b9")
def test_counts_equal_the_word_pattern_over_the_whole_text(text: str) -> None:
    # counting takes shortcuts (rough tokens settled afterwards); the rule is the pattern
    slow = Counter(rule._unicode_patterns().word.findall(rule._normalize_unicode(text)))
    assert dict(count_words(text).counts) == dict(slow)
