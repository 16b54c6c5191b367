from __future__ import annotations

import pytest

from ocr.text import clean_paragraph, fix_lone_bars, join_hyphenated


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("| thought | would sail", "I thought I would sail"),
        ("|", "I"),
        ("a || b", "a || b"),
        ("x|y and |z", "x|y and |z"),
    ],
)
def test_lone_bar_is_capital_i(line: str, expected: str) -> None:
    assert fix_lone_bars(line) == expected


def test_hyphenated_word_is_rejoined_on_its_first_line() -> None:
    lines = ["offer you the conso-", "lation that may be found", "in the thanks"]
    assert join_hyphenated(lines) == [
        "offer you the consolation",
        "that may be found",
        "in the thanks",
    ]


def test_punctuation_follows_the_rejoined_word() -> None:
    assert join_hyphenated(["a great bereave-", "ment."]) == ["a great bereavement."]


@pytest.mark.parametrize(
    "lines",
    [
        ["the whale Moby-", "Dick swam"],  # next line starts upper-case: a real hyphen
        ["pages 10-", "12 of it"],  # digits
        ["a dash -", "here"],  # hyphen not attached to a word
        ["last line-"],
    ],
)
def test_other_hyphens_are_left_alone(lines: list[str]) -> None:
    assert join_hyphenated(lines) == lines


def test_clean_paragraph_does_both() -> None:
    assert clean_paragraph(["| can not conse-", "crate | say"]) == ["I can not consecrate", "I say"]
