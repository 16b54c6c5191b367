"""Replay planning without AWS: the window, the consumer and event filters, the flags."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from ocrpipe.topology import Place
from ocrpipe_local.archive import ArchivedEvent
from ocrpipe_local.discovery import discover
from ocrpipe_local.operations.replay import (
    AwsReplayRequest,
    PatternMatcher,
    ReplayError,
    Window,
    check_replay_name,
    event_time,
    parse_time,
    plan_replay,
    replay_on_aws,
    replayed_envelope,
)

NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
PLACE = Place(stage="test")
SOURCES = {
    "DocumentUploaded": "ocrpipe.ingest",
    "DocumentRejected": "ocrpipe.ingest",
    "OcrCompleted": "ocrpipe.ocr",
    "OcrFailed": "ocrpipe.ocr",
    "WordsCounted": "ocrpipe.wordcount",
    "NotificationSent": "ocrpipe.notify",
}


def archived(detail_type: str, at: datetime, doc: str = "doc00001", **extra) -> ArchivedEvent:
    envelope = {
        "version": "0",
        "id": f"id-{doc}-{detail_type}",
        "source": SOURCES[detail_type],
        "detail-type": detail_type,
        "time": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": {"document_id": doc, "reocr": False},
        **extra,
    }
    return ArchivedEvent(archived_at=at + timedelta(seconds=1), message_id=doc, envelope=envelope)


def matcher() -> PatternMatcher:
    return PatternMatcher.for_topology(discover(), PLACE)


def test_parse_time_accepts_iso_relative_and_now():
    assert parse_time("now", now=NOW) == NOW
    assert parse_time("30m", now=NOW) == NOW - timedelta(minutes=30)
    assert parse_time("2h", now=NOW) == NOW - timedelta(hours=2)
    assert parse_time("7d", now=NOW) == NOW - timedelta(days=7)
    assert parse_time("90s", now=NOW) == NOW - timedelta(seconds=90)
    assert parse_time("2024-05-01T10:00:00Z", now=NOW) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    # No zone means UTC; another zone is converted.
    assert parse_time("2024-05-01T10:00:00", now=NOW) == datetime(2024, 5, 1, 10, tzinfo=UTC)
    assert parse_time("2024-05-01T12:00:00+02:00", now=NOW) == datetime(2024, 5, 1, 10, tzinfo=UTC)


@pytest.mark.parametrize("bad", ["yesterday", "5 weeks", "-2h", "2024-13-01", ""])
def test_parse_time_rejects_what_it_cannot_read(bad):
    with pytest.raises(ReplayError, match="cannot read the time"):
        parse_time(bad, now=NOW)


def test_window_is_since_inclusive_until_exclusive():
    window = Window(since=NOW - timedelta(hours=1), until=NOW)
    assert window.contains(NOW - timedelta(hours=1))
    assert window.contains(NOW - timedelta(seconds=1))
    assert not window.contains(NOW)
    assert not window.contains(NOW - timedelta(hours=1, seconds=1))
    assert Window().contains(NOW)
    with pytest.raises(ReplayError, match="must be before"):
        Window(since=NOW, until=NOW)
    assert Window.parse("2h", "1h", now=NOW) == Window(
        NOW - timedelta(hours=2), NOW - timedelta(hours=1)
    )


def test_event_time_is_the_envelope_time_else_the_archive_time():
    event = archived("OcrCompleted", NOW)
    assert event_time(event) == NOW
    no_time = ArchivedEvent(NOW, "m", {"source": "ocrpipe.ocr", "detail-type": "OcrCompleted"})
    assert event_time(no_time) == NOW


def test_each_event_goes_to_the_consumers_whose_rules_match():
    events = [
        archived("DocumentUploaded", NOW),
        archived("OcrCompleted", NOW),
        archived("WordsCounted", NOW),
        archived("NotificationSent", NOW),
    ]
    plan = plan_replay(events, matcher(), window=Window())
    routed = {d.event.detail_type: set(d.consumers) for d in plan.deliveries}
    assert routed == {
        "DocumentUploaded": {"ocr", "status"},
        "OcrCompleted": {"wordcount", "status"},
        "WordsCounted": {"notify", "status"},
        "NotificationSent": {"status"},
    }
    assert plan.per_consumer() == {"notify": 1, "ocr": 1, "status": 4, "wordcount": 1}
    assert plan.messages == 7


def test_window_and_consumer_filter_select_exactly():
    t0 = NOW - timedelta(hours=3)
    events = [
        archived("DocumentUploaded", t0, doc="early0001"),
        archived("DocumentUploaded", t0 + timedelta(hours=1), doc="first0001"),  # == since
        archived("WordsCounted", t0 + timedelta(hours=1, minutes=30), doc="middle001"),
        archived("DocumentUploaded", t0 + timedelta(hours=2), doc="until0001"),  # == until
        archived("DocumentUploaded", t0 + timedelta(hours=2, seconds=-1), doc="last00001"),
    ]
    window = Window(since=t0 + timedelta(hours=1), until=t0 + timedelta(hours=2))
    plan = plan_replay(events, matcher(), window=window, consumers=["ocr"], name="r-1")
    assert [d.event.document_id for d in plan.deliveries] == ["first0001", "last00001"]
    assert all(d.consumers == ("ocr",) for d in plan.deliveries)
    assert (plan.archived, plan.in_window) == (5, 3)

    # Oldest first, whatever the order in the file.
    plan = plan_replay(list(reversed(events)), matcher(), window=window, consumers=["status"])
    assert [d.event.document_id for d in plan.deliveries] == ["first0001", "middle001", "last00001"]


def test_event_type_filter_and_unknown_names_are_refused():
    events = [archived("DocumentUploaded", NOW), archived("WordsCounted", NOW)]
    plan = plan_replay(events, matcher(), window=Window(), event_types=["WordsCounted"])
    assert [d.event.detail_type for d in plan.deliveries] == ["WordsCounted"]
    with pytest.raises(ReplayError, match="unknown event type"):
        plan_replay(events, matcher(), window=Window(), event_types=["Wordscounted"])
    with pytest.raises(ReplayError, match="no such consumer"):
        plan_replay(events, matcher(), window=Window(), consumers=["stats"])


def test_replayed_and_unreadable_events_are_never_replayed():
    events = [
        archived("DocumentUploaded", NOW, **{"replay-name": "earlier"}),
        ArchivedEvent(NOW, "m", {"unparseable_body": "garbage"}),
        archived("OcrCompleted", NOW),
    ]
    plan = plan_replay(events, matcher(), window=Window())
    assert [d.event.detail_type for d in plan.deliveries] == ["OcrCompleted"]
    assert plan.archived == 1


def test_replayed_envelope_is_marked_and_flags_apply_only_where_they_mean_something():
    uploaded = archived("DocumentUploaded", NOW)
    counted = archived("WordsCounted", NOW)
    plain = replayed_envelope(uploaded, name="r-1")
    assert plain["replay-name"] == "r-1"
    assert plain["detail"]["reocr"] is False
    assert "replay-name" not in uploaded.envelope  # the archive copy is untouched
    assert replayed_envelope(uploaded, name="r", reocr=True)["detail"]["reocr"] is True
    assert "renotify" not in replayed_envelope(uploaded, name="r", renotify=True)["detail"]
    assert replayed_envelope(counted, name="r", renotify=True)["detail"]["renotify"] is True
    assert replayed_envelope(counted, name="r", reocr=True)["detail"] == counted.detail


def test_replay_names_follow_eventbridge_rules():
    assert check_replay_name("ocrpipe-20240501-abc_1.2") == "ocrpipe-20240501-abc_1.2"
    for bad in ("", "has space", "x" * 65, "ünï"):
        with pytest.raises(ReplayError):
            check_replay_name(bad)


class FakeEvents:
    """Just enough of an EventBridge client to follow replay_on_aws' polling."""

    def __init__(self, states):
        self.states = list(states)
        self.started = {}

    def start_replay(self, **kwargs):
        self.started = kwargs
        return {"State": "STARTING"}

    def describe_replay(self, ReplayName):
        state, last = self.states.pop(0)
        return {"State": state, "EventLastReplayedTime": last, "StateReason": "boom"}


def test_aws_replay_reports_progress_until_a_final_state():
    since, until = NOW - timedelta(hours=2), NOW
    fake = FakeEvents(
        [
            ("STARTING", None),
            ("RUNNING", NOW - timedelta(hours=1)),
            ("FAILED", NOW - timedelta(minutes=30)),
        ]
    )
    request = AwsReplayRequest(
        archive_arn="arn:archive",
        bus_arn="arn:bus",
        rule_arns={"status": "arn:rule/status"},
        since=since,
        until=until,
        name="r-1",
    )
    out = io.StringIO()
    slept: list[float] = []
    client: Any = fake
    state = replay_on_aws(client, request, out=out, poll_s=2, sleep=slept.append)
    assert state == "FAILED"
    assert slept == [2, 2]
    assert fake.started["Destination"] == {"Arn": "arn:bus", "FilterArns": ["arn:rule/status"]}
    text = out.getvalue()
    assert "RUNNING 50%" in text
    assert "FAILED 75%" in text
    assert "reason: boom" in text
