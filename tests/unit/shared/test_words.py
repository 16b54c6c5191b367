"""The word rule (ocrpipe.words), version 2."""
# ruff: noqa: RUF001  (the tests are about look-alike characters)

from __future__ import annotations

import itertools
from collections import Counter

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ocrpipe import words as rule
from ocrpipe.words import (
    count_chunks,
    count_words,
    join_line_hyphens,
    token_words,
    words,
)


def counts(text: str) -> dict[str, int]:
    return dict(count_words(text).counts)


@pytest.mark.parametrize(
    "text", ["", " ", "   \n\t\r\n  ", "\u3000\u00a0", "...!?-- ''", "_", "— – • | & * ©"]
)
def test_text_without_words_counts_zero(text: str) -> None:
    assert count_words(text).total == 0
    assert count_words(text).counts == []


def test_results_sorted_by_count_then_word() -> None:
    result = count_words("b a c b c b zz a")
    assert result.counts == [("b", 3), ("a", 2), ("c", 2), ("zz", 1)]
    assert (result.total, result.unique, result.characters) == (8, 4, 16)
    assert result.top(2) == [("b", 3), ("a", 2)]


def test_characters_leave_out_line_breaks_and_compose() -> None:
    assert count_words("ab c\r\nd\n").characters == 5
    assert count_words("cafe\u0301").characters == 4  # NFC: é is one character


def test_counts_add_up() -> None:
    assert count_words("a b\n") + count_words("b c") == count_words("a b\nb c")


@pytest.mark.parametrize(
    "text",
    [
        "well-known",
        "3.14",
        "1,000",
        "e.g.",
        "don't",
        "l'homme",
        "IDN2_TOO_BIG_DOMAIN",
        "snake_case",
        "https://example.com/a/b?x=1",
        "a.b@example.com",
        "a/b",
        "word...word",
        "word\u2026word",
        "x-y-z",
        "rock'n'roll",
        "in\u00adfor\u00admation",  # soft hyphens mid-word
        "one\u200btwo",  # a zero-width space does not separate (as in Writer)
    ],
)
def test_one_word(text: str) -> None:
    assert count_words(text).total == 1, list(words(text))


class TestSeparators:
    @pytest.mark.parametrize(
        "space", [" ", "\t", "\n", "\u00a0", "\u202f", "\u2007", "\u2009", "\u3000"]
    )
    def test_spaces(self, space: str) -> None:
        assert list(words(f"one{space}two")) == ["one", "two"]

    @pytest.mark.parametrize("dash", ["\u2014", "\u2013", " \u2014 ", "--", "---", " -- "])
    def test_em_en_and_typewriter_dashes(self, dash: str) -> None:
        assert list(words(f"one{dash}two")) == ["one", "two"]

    @pytest.mark.parametrize("dash", ["-", "\u2010", "\u2011", "\u2012", "\u2015", "\u2212"])
    def test_hyphens_and_other_dashes_do_not_separate(self, dash: str) -> None:
        assert count_words(f"one{dash}two").total == 1

    def test_punctuation_only_tokens_are_not_words(self) -> None:
        assert list(words("• one - two ... & three | (—) 😀 ©")) == ["one", "two", "three"]


class TestKeys:
    def test_case_folded(self) -> None:
        assert counts("The THE the tHe") == {"the": 4}

    def test_accents_composed_and_folded(self) -> None:
        assert counts("café CAFÉ cafe\u0301") == {"café": 3}

    def test_sharp_s_folds_to_ss(self) -> None:
        assert counts("Straße STRASSE strasse") == {"strasse": 3}

    def test_full_width_and_ligature_and_superscript(self) -> None:
        assert list(words("\uff21\uff22\uff23 \uff12\uff10\uff12\uff14 \ufb01ne x\u00b2")) == [
            "abc",
            "2024",
            "fine",
            "x2",
        ]

    def test_final_sigma_folds(self) -> None:
        assert counts("ΟΔΟΣ οδος") == {"οδοσ": 2}

    @pytest.mark.parametrize(
        ("token", "key"),
        [
            ('"Hello,"', "hello"),
            ("(e.g.)", "e.g"),
            ("'tis", "tis"),
            ("dogs'", "dogs"),
            ("\u2018quoted\u2019", "quoted"),
            ("«mot»", "mot"),
            ("¿Qué?", "qué"),
            ("__init__", "init"),
            ("$5", "5"),
            ("[1]", "1"),
            ("word.", "word"),
        ],
    )
    def test_surrounding_punctuation_stripped(self, token: str, key: str) -> None:
        assert token_words(token) == [key]

    def test_inner_punctuation_kept(self) -> None:
        assert list(words("3.14 1,000 a/b snake_case")) == ["3.14", "1,000", "a/b", "snake_case"]

    def test_apostrophes_written_alike(self) -> None:
        assert counts("don't don\u2019t don\u2018t DON\u02bcT") == {"don't": 4}

    def test_invisible_characters_removed(self) -> None:
        assert counts("in\u00adfor\u200dma\u2060tion \ufeffinformation") == {"information": 2}

    def test_marks_stay_inside_words(self) -> None:
        assert list(words("हिन्दी भाषा")) == ["हिन्दी", "भाषा"]
        assert list(words("a \u0301 b")) == ["a", "b"]  # a stray mark is no word

    def test_greek_and_cyrillic(self) -> None:
        assert list(words("Γειά σου ΚΌΣΜΕ, Привет МИР!")) == [
            "γειά",
            "σου",
            "κόσμε",
            "привет",
            "мир",
        ]


class TestCJK:
    def test_each_ideograph_and_kana_is_a_word(self) -> None:
        assert list(words("日本語のテキスト。")) == ["日", "本", "語", "の", "テ", "キ", "ス", "ト"]

    def test_mixed_with_latin_and_digits(self) -> None:
        assert list(words("abc日本def 2024年 第3章")) == [
            "abc",
            "日",
            "本",
            "def",
            "2024",
            "年",
            "第",
            "3",
            "章",
        ]

    def test_punctuation_between_ideographs(self) -> None:
        assert list(words("（中文，文本）")) == ["中", "文", "文", "本"]

    def test_half_width_katakana_and_extension_b(self) -> None:
        assert list(words("\uff83\uff77\uff7d\uff84 \U00020000")) == [
            "テ",
            "キ",
            "ス",
            "ト",
            "\U00020000",
        ]

    def test_hangul_and_thai_go_by_spaces(self) -> None:
        assert list(words("한국어 텍스트 ภาษาไทย")) == ["한국어", "텍스트", "ภาษาไทย"]


class TestLineHyphens:
    def test_rejoined(self) -> None:
        assert list(words("extra-\nordinary")) == ["extraordinary"]

    def test_trailing_spaces_crlf_and_indentation(self) -> None:
        assert list(words("infor-  \t\r\n    mation")) == ["information"]

    @pytest.mark.parametrize("hyphen", ["\u2010", "\u2011", "\ufe63", "\uff0d", "\u00ad"])
    def test_unicode_hyphens(self, hyphen: str) -> None:
        assert list(words(f"infor{hyphen}\nmation")) == ["information"]

    def test_hyphen_kept_before_a_capital_or_a_digit(self) -> None:
        assert list(words("Moby-\nDick 10-\n12")) == ["moby-dick", "10-12"]
        assert list(words("Moby\u00ad\nDick")) == ["mobydick"]  # a soft hyphen never stays

    def test_compound_broken_at_line_end_is_joined(self) -> None:
        assert list(words("well-\nknown")) == ["wellknown"]  # documented consequence

    def test_joins_unicode_words(self) -> None:
        assert list(words("Grö-\nße")) == ["grösse"]

    def test_chain_of_one_syllable_lines(self) -> None:
        assert list(words("a-\nb-\nc")) == ["abc"]

    @pytest.mark.parametrize(
        "text",
        [
            "foo-\n\nbar",  # paragraph break
            "x -\ny",  # hyphen not attached to a word
            "- item\n-\nnext",
            "1990\u2013\n2000",  # en dash
            "foo-\n(bar)",  # next line starts with punctuation
            "foo--\nbar",  # a dash, not a hyphen
            "foo-",
        ],
    )
    def test_not_joined(self, text: str) -> None:
        assert count_words(text).total == 2 - (text == "foo-"), list(words(text))
        assert join_line_hyphens(text) == text

    def test_second_half_moves_up_and_lines_stay(self) -> None:
        text = "the conso-\nlation that\nthe bereave-\nment.\nend"
        assert join_line_hyphens(text) == "the consolation\nthat\nthe bereavement.\nend"


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
    "aZé\u0301ß-\u2010\u2011\u00ad\ufe63\uff0d\u2013\u2014\n\r \t\u00a0\u3000_'\u2019\u2018"
    "\u02bc\u200b\u200c\u200d\ufeff0９²ﬁΣςσİı\u0915\u094d\u093f\U000110b9日の한.,()•"
)
texts = st.text(alphabet=st.one_of(st.sampled_from(TRICKY), st.characters()), max_size=200)
ascii_tokens = st.text(alphabet=st.characters(max_codepoint=127), min_size=1, max_size=20)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_result_is_consistent(text: str) -> None:
    result = count_words(text)
    assert result.total == sum(c for _, c in result.counts)
    assert result.unique == len(result.counts) == len({w for w, _ in result.counts})
    assert all(c >= 1 for _, c in result.counts)
    assert result.counts == sorted(result.counts, key=lambda wc: (-wc[1], wc[0]))
    assert Counter(words(text)) == Counter(dict(result.counts))


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
@example("a-\t\nbcdefgh", [3], 1)
@example("a-\nb-\ncdefgh", [2, 5], 1)
@example("a\uff0d\r\nbcdefgh", [3], 1)
def test_counting_in_pieces_equals_counting_whole(
    text: str, cuts: list[int], min_piece: int
) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert count_chunks(pieces, min_piece_chars=min_piece) == count_words(text)


@settings(max_examples=400, deadline=None)
@given(ascii_tokens)
@example("a--b")
@example("\x00a\x7f")
def test_ascii_shortcut_agrees_with_unicode_path(token: str) -> None:
    for piece in token.split():
        assert token_words(piece) == rule._unicode_token_words(piece)


@settings(max_examples=200, deadline=None)
@given(texts)
def test_rejoining_is_idempotent_and_never_adds_words(text: str) -> None:
    once = join_line_hyphens(text)
    assert join_line_hyphens(once) == once
    assert count_words(once).total <= count_words(text).total
