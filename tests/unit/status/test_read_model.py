from __future__ import annotations

import itertools
import json
import random
from datetime import datetime

import pytest

from ocrpipe import events
from status.read_model import (
    DELIVERY_FAILED,
    STAGE_OF_EVENT,
    DocumentStatus,
    Stage,
    apply,
)

from .lifecycle import (
    DOC,
    RECIPIENT,
    RESULT,
    TEXT,
    TOKEN_SHA,
    at,
    count_failed,
    counted,
    notification_failed,
    notified,
    ocr_completed,
    ocr_failed,
    rejected,
    uploaded,
)


def fold(evts: list[events.DomainEvent]) -> DocumentStatus:
    record: DocumentStatus | None = None
    for event in evts:
        record = apply(record, event)
    assert record is not None
    return record


def test_every_event_type_has_a_stage():
    assert set(STAGE_OF_EVENT) == set(events.EVENT_TYPES)
    assert set(STAGE_OF_EVENT.values()) == set(Stage)


@pytest.mark.parametrize(
    ("event", "stage"),
    [
        (uploaded(), Stage.UPLOADED),
        (rejected(), Stage.REJECTED),
        (ocr_completed(), Stage.OCR_COMPLETED),
        (ocr_failed(), Stage.OCR_FAILED),
        (counted(), Stage.COUNTED),
        (count_failed(), Stage.COUNT_FAILED),
        (notified(), Stage.NOTIFIED),
        (notification_failed(), Stage.NOTIFICATION_FAILED),
    ],
)
def test_a_first_event_of_any_type_starts_a_record(event, stage):
    record = apply(None, event)
    assert record.document_id == DOC
    assert record.stage is stage
    assert record.timestamps == {stage: event.occurred_at}
    assert record.updated_at == event.occurred_at


def test_happy_path_fields():
    record = fold([uploaded(0), ocr_completed(1), counted(2), notified(3)])
    assert record.stage is Stage.NOTIFIED
    assert record.filename == "my scan é.jpg"
    assert record.timestamps == {
        Stage.UPLOADED: at(0),
        Stage.OCR_COMPLETED: at(1),
        Stage.COUNTED: at(2),
        Stage.NOTIFIED: at(3),
    }
    assert record.text_uri == TEXT
    assert record.result_uri == RESULT
    assert (record.total_words, record.unique_words) == (7, 5)
    assert record.failure_code is None
    assert record.failure_reason is None
    assert record.notification_channel == "email"
    assert record.updated_at == at(3)
    assert record.access_token_sha256 == TOKEN_SHA


def test_stage_follows_the_pipeline_step_by_step():
    stages = []
    record = None
    for event in (uploaded(0), ocr_completed(1), counted(2), notified(3)):
        record = apply(record, event)
        stages.append(record.stage)
    assert stages == [Stage.UPLOADED, Stage.OCR_COMPLETED, Stage.COUNTED, Stage.NOTIFIED]


def test_rejection_stays_the_stage_after_the_person_is_told():
    record = fold([rejected(0), notified(1, outcome="rejected")])
    assert record.stage is Stage.REJECTED
    assert record.failure_code == "corrupt"
    assert record.failure_reason == "notes.jpg looks like a JPEG but cannot be decoded."
    assert record.timestamps[Stage.NOTIFIED] == at(1)
    assert record.access_token_sha256 == TOKEN_SHA
    assert record.result_uri is None


def test_a_failed_count_stays_the_stage_after_the_person_is_told():
    record = fold([uploaded(0), ocr_completed(1), count_failed(2), notified(3, outcome="failed")])
    assert record.stage is Stage.COUNT_FAILED
    assert record.failure_code == "text_missing"
    assert "no longer stored" in (record.failure_reason or "")
    # a later count that succeeds (a replay after the text was restored) clears it
    assert fold([uploaded(0), ocr_completed(1), count_failed(2), counted(4)]).stage is (
        Stage.COUNTED
    )


def test_ocr_failure_stays_the_stage_even_when_notification_fails_too():
    record = fold([uploaded(0), ocr_failed(1), notification_failed(2)])
    assert record.stage is Stage.OCR_FAILED
    assert record.failure_code == "no_text"
    assert record.failure_reason == "No text was found in the document."
    assert record.notification_channel == "webhook"


def test_failed_delivery_of_a_counted_document():
    record = fold([uploaded(0), ocr_completed(1), counted(2), notification_failed(3)])
    assert record.stage is Stage.NOTIFICATION_FAILED
    assert record.failure_code == DELIVERY_FAILED
    assert record.failure_reason == "The webhook answered 410 Gone."
    assert record.result_uri == RESULT
    # Re-notifying later succeeds: the delivery failure is cleared.
    again = apply(record, notified(10))
    assert again.stage is Stage.NOTIFIED
    assert again.failure_code is None
    assert again.failure_reason is None


def test_failure_after_success_shows_the_latest_attempt_and_keeps_the_old_result():
    first_run = [uploaded(0), ocr_completed(1), counted(2), notified(3)]
    reocr = [uploaded(100, reocr=True), ocr_failed(101)]
    record = fold(first_run + reocr)
    assert record.stage is Stage.OCR_FAILED
    assert record.failure_code == "no_text"
    assert record.result_uri == RESULT  # the earlier result is still readable
    assert record.timestamps[Stage.UPLOADED] == at(100)
    assert record.timestamps[Stage.OCR_COMPLETED] == at(1)


def test_success_after_failure_clears_the_failure():
    record = fold(
        [uploaded(0), ocr_failed(1), uploaded(100, reocr=True), ocr_completed(101), counted(102)]
    )
    assert record.stage is Stage.COUNTED
    assert record.failure_code is None
    assert record.failure_reason is None
    assert record.timestamps[Stage.OCR_FAILED] == at(1)


def test_events_before_their_cause_do_not_move_the_stage_back():
    record = fold([counted(2), ocr_completed(1), uploaded(0)])
    assert record.stage is Stage.COUNTED
    assert record.filename == "my scan é.jpg"
    assert record.access_token_sha256 == TOKEN_SHA


def test_a_duplicate_or_older_event_returns_the_same_record():
    record = fold([uploaded(0), ocr_completed(5)])
    assert apply(record, ocr_completed(5)) is record
    assert apply(record, ocr_completed(4)) is record  # older than what is known
    newer = apply(record, ocr_completed(6, text_uri=TEXT.replace(".txt", "-v2.txt")))
    assert newer.text_uri == TEXT.replace(".txt", "-v2.txt")
    assert newer.timestamps[Stage.OCR_COMPLETED] == at(6)


def test_latest_occurred_at_wins_per_field_across_event_types():
    older_text = TEXT.replace(".txt", "-old.txt")
    # WordsCounted (later) carries the new text URI; OcrCompleted (earlier) the old one.
    forward = fold([ocr_completed(1, text_uri=older_text), counted(2)])
    backward = fold([counted(2), ocr_completed(1, text_uri=older_text)])
    assert forward == backward
    assert forward.text_uri == TEXT


def test_same_time_different_content_is_decided_by_content_not_arrival():
    a, b = counted(2, total=7), counted(2, total=9)
    assert fold([a, b]) == fold([b, a])


LIFECYCLES = {
    "happy": [uploaded(0), ocr_completed(1), counted(2), notified(3)],
    "rejected": [rejected(0), notified(1, outcome="rejected")],
    "ocr failed": [uploaded(0), ocr_failed(1), notified(2, outcome="failed")],
    "delivery failed": [uploaded(0), ocr_completed(1), counted(2), notification_failed(3)],
    "reocr failed": [
        uploaded(0),
        ocr_completed(1),
        counted(2),
        notified(3),
        uploaded(100, reocr=True),
        ocr_failed(101),
    ],
}


@pytest.mark.parametrize("name", LIFECYCLES)
def test_every_order_gives_the_same_record(name):
    evts = LIFECYCLES[name]
    expected = fold(evts)
    orders = itertools.permutations(evts) if len(evts) <= 5 else _shuffles(evts, 200)
    for order in orders:
        assert fold(list(order)) == expected, [type(e).__name__ for e in order]


@pytest.mark.parametrize("name", LIFECYCLES)
def test_duplicates_in_any_order_change_nothing(name):
    evts = LIFECYCLES[name]
    expected = fold(evts)
    rng = random.Random(name)
    for _ in range(100):
        with_dupes = evts + rng.choices(evts, k=rng.randint(1, 2 * len(evts)))
        rng.shuffle(with_dupes)
        assert fold(with_dupes) == expected


def test_apply_twice_equals_apply_once():
    for evts in LIFECYCLES.values():
        record = None
        for event in evts:
            once = apply(record, event)
            assert apply(once, event) == once
            record = once


def test_an_event_of_another_document_is_refused():
    with pytest.raises(ValueError, match="different documents"):
        apply(apply(None, uploaded(0)), ocr_completed(1, doc="another-document-1"))


def test_recipient_ciphertext_is_never_kept():
    record = fold(LIFECYCLES["happy"])
    assert RECIPIENT.ciphertext not in record.model_dump_json()


def test_public_view_has_no_token_hash_and_no_internal_facts():
    record = fold(LIFECYCLES["happy"])
    view = record.public()
    assert "access_token_sha256" not in view
    assert "facts" not in view
    assert TOKEN_SHA not in json.dumps(view)
    assert view["stage"] == "notified"
    assert view["timestamps"]["uploaded"] == "2026-11-24T09:00:00Z"
    assert view["document_id"] == DOC


def test_record_round_trips_through_json():
    record = fold(LIFECYCLES["reocr failed"])
    again = DocumentStatus.model_validate_json(record.model_dump_json())
    assert again == record
    assert DocumentStatus.from_facts(again.document_id, again.facts) == record


def test_naive_times_are_taken_as_utc():
    naive = ocr_completed(1).model_copy(update={"occurred_at": datetime(2026, 11, 24, 9, 0, 1)})
    record = fold([uploaded(0), naive])
    assert record.timestamps[Stage.OCR_COMPLETED] == at(1)


def _shuffles(evts: list[events.DomainEvent], n: int) -> list[list[events.DomainEvent]]:
    rng = random.Random(len(evts))
    out = []
    for _ in range(n):
        order = list(evts)
        rng.shuffle(order)
        out.append(order)
    return out
