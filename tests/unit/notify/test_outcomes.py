"""What notify tells a person, as data (notify.outcomes)."""

from __future__ import annotations

import pytest

from notify.outcomes import FAILURE_ADVICE, REJECTION_ADVICE, advice, outcome_of, summary
from ocrpipe.events import OcrFailureReason, RejectionReason

from .examples import DOC, counted, failed, rejected


def test_outcome_names() -> None:
    assert [outcome_of(e) for e in (counted(), rejected(), failed())] == [
        "counted",
        "rejected",
        "failed",
    ]


@pytest.mark.parametrize("reason", list(RejectionReason))
def test_every_rejection_reason_has_advice(reason: RejectionReason) -> None:
    assert REJECTION_ADVICE[reason].endswith(".")
    assert advice(rejected(reason_code=reason)) == REJECTION_ADVICE[reason]


@pytest.mark.parametrize("reason", list(OcrFailureReason))
def test_every_ocr_failure_reason_has_advice(reason: OcrFailureReason) -> None:
    assert FAILURE_ADVICE[reason].endswith(".")
    assert advice(failed(reason_code=reason)) == FAILURE_ADVICE[reason]


def test_counted_summary() -> None:
    data = summary(counted())
    assert data["document_id"] == DOC
    assert data["outcome"] == "counted"
    assert data["filename"] == "scan.jpg"
    assert (data["total_words"], data["unique_words"]) == (1234, 456)
    assert data["top_words"][0] == {"word": "w0", "count": 100}
    assert data["word_rule_version"] == "1"
    assert "result_uri" not in data  # internal; deliveries carry links (notify.delivery)
    assert "recipient" not in data
    assert "reason" not in data


def test_failure_summaries() -> None:
    data = summary(rejected())
    assert (data["outcome"], data["reason_code"]) == ("rejected", "corrupt")
    assert data["reason"].startswith("notes.jpg looks like")
    assert data["advice"] == REJECTION_ADVICE[RejectionReason.CORRUPT]
    assert "result_uri" not in data
    assert "recipient" not in data
    assert summary(failed())["reason_code"] == "no_text"
