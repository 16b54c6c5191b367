from __future__ import annotations

import pytest

from ocr.text import clean_paragraph, join_hyphenated
from ocrpipe.words import words


def test_a_lone_bar_stays_a_bar() -> None:
    """Shell pipelines in manuals: the bar is real (it was once turned into ``I``)."""
    assert clean_paragraph(["ps aux | pager", "|"]) == ["ps aux | pager", "|"]


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
    ("lines", "expected"),
    [
        (["the whale Moby-", "Dick swam"], ["the whale Moby-Dick", "swam"]),  # a compound
        (["pages 10-", "12 of it"], ["pages 10-12", "of it"]),  # digits: a range
    ],
)
def test_hyphen_is_kept_before_a_capital_or_a_digit(lines: list[str], expected: list[str]) -> None:
    assert join_hyphenated(lines) == expected


@pytest.mark.parametrize(
    "lines",
    [
        ["a dash -", "here"],  # hyphen not attached to a word
        ["a list-", "- item"],  # next line does not start with a letter or digit
        ["last line-"],
    ],
)
def test_other_hyphens_are_left_alone(lines: list[str]) -> None:
    assert join_hyphenated(lines) == lines


def test_joined_text_counts_as_the_word_rule_counts() -> None:
    lines = ["offer you the conso-", "lation that the whale Moby-", "Dick gave"]
    assert list(words("\n".join(join_hyphenated(lines)))) == list(words("\n".join(lines)))


def test_clean_paragraph_rejoins_and_keeps_bars() -> None:
    assert clean_paragraph(["cat log | conse-", "crate | say"]) == ["cat log | consecrate", "| say"]
