"""``ocrpipe replay --aws``: StartReplay with the chosen rules and window, polled to the end.

moto implements StartReplay but ignores the destination filter and the window, so what is
asserted here is the request the real client sends (captured by a botocore event hook), and
that the command follows DescribeReplay to COMPLETED.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws

from ocrpipe.topology import Place
from ocrpipe_local import cli
from ocrpipe_local.discovery import discover
from ocrpipe_local.operations.replay import ReplayError, Window, prepare_aws_replay

pytestmark = pytest.mark.integration

STAGE = "prod"
PLACE = Place(stage=STAGE, region="us-east-1")


@pytest.fixture
def aws(monkeypatch):
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with mock_aws():
        yield


def _deploy() -> dict[str, str]:
    """The bus stack's archive and every consumer's rule, as serverless would create them."""
    topology = discover()
    events = boto3.client("events", region_name="us-east-1")
    bus = PLACE.name("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    events.create_archive(
        ArchiveName=PLACE.name("archive"),
        EventSourceArn=bus_arn,
        EventPattern=json.dumps({"source": [{"prefix": "ocrpipe."}]}),
    )
    arns = {}
    for name, spec in topology.consumers.items():
        if spec.bus != "custom":
            continue
        rule = PLACE.name("rule", service=spec.service, consumer=name)
        arns[name] = events.put_rule(
            Name=rule,
            EventBusName=bus,
            EventPattern=json.dumps(PLACE.pattern(name, topology=topology)),
        )["RuleArn"]
    arns["bus"] = bus_arn
    return arns


def _capture_start_replay(sent: list[dict[str, Any]]) -> Any:
    def hook(params: dict[str, Any], **_: Any) -> None:
        sent.append(params)

    return hook


def test_cli_replays_to_the_chosen_rules_only_and_waits_for_completion(aws, monkeypatch, capsys):
    arns = _deploy()
    sent: list[dict[str, Any]] = []
    real_session = boto3.session.Session

    class HookedSession(real_session):  # type: ignore[misc, valid-type]
        def client(self, *args: Any, **kwargs: Any) -> Any:
            made = super().client(*args, **kwargs)
            made.meta.events.register(
                "provide-client-params.events.StartReplay", _capture_start_replay(sent)
            )
            return made

    monkeypatch.setattr(boto3.session, "Session", HookedSession)
    before = datetime.now(UTC)
    code = cli.main(
        [
            "replay",
            "--aws",
            "--stage",
            STAGE,
            "--region",
            "us-east-1",
            "--since",
            "2h",
            "--to",
            "status",
            "--to",
            "notify",
            "--name",
            "backfill-status-1",
            "--poll",
            "0",
        ]
    )
    printed = capsys.readouterr().out
    assert code == 0, printed
    [params] = sent
    assert params["ReplayName"] == "backfill-status-1"
    assert params["EventSourceArn"].endswith(f":archive/{PLACE.name('archive')}")
    assert params["Destination"]["Arn"] == arns["bus"]
    assert sorted(params["Destination"]["FilterArns"]) == sorted([arns["status"], arns["notify"]])
    start, end = params["EventStartTime"], params["EventEndTime"]
    assert abs((start - (before - timedelta(hours=2))).total_seconds()) < 60
    assert abs((end - before).total_seconds()) < 60
    assert "COMPLETED" in printed
    assert "backfill-status-1 started" in printed
    described = boto3.client("events", region_name="us-east-1").describe_replay(
        ReplayName="backfill-status-1"
    )
    assert described["State"] == "COMPLETED"


def test_without_to_every_custom_bus_rule_is_a_destination(aws):
    arns = _deploy()
    events = boto3.client("events", region_name="us-east-1")
    now = datetime.now(UTC)
    request = prepare_aws_replay(
        events,
        topology=discover(),
        place=PLACE,
        window=Window(since=now - timedelta(days=1), until=now),
        consumers=None,
        name=None,
    )
    assert set(request.rule_arns) == {"ocr", "wordcount", "notify", "status"}
    assert set(request.rule_arns.values()) == {arns[n] for n in request.rule_arns}
    assert request.name.startswith("ocrpipe-prod-")
    # ingest-uploads listens on the default bus: an archive replay can never reach it.
    with pytest.raises(ReplayError, match="no such consumer"):
        prepare_aws_replay(
            events,
            topology=discover(),
            place=PLACE,
            window=Window(since=now - timedelta(days=1)),
            consumers=["ingest-uploads"],
            name=None,
        )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--reocr"], "--reocr is not available with --aws"),
        (["--renotify"], "--renotify is not available with --aws"),
        (["--event", "WordsCounted"], "--event is not available with --aws"),
    ],
)
def test_flags_that_startreplay_cannot_honour_are_refused(aws, capsys, extra, message):
    code = cli.main(["replay", "--aws", "--stage", STAGE, "--since", "1h", *extra])
    assert code == 2
    assert message in capsys.readouterr().err


def test_missing_since_and_missing_archive_are_clear_errors(aws, capsys):
    assert cli.main(["replay", "--aws", "--stage", STAGE, "--region", "us-east-1"]) == 2
    assert "--since is required on AWS" in capsys.readouterr().err
    code = cli.main(
        ["replay", "--aws", "--stage", "nothere", "--region", "us-east-1", "--since", "1h"]
    )
    assert code == 1
    assert "AWS refused the replay" in capsys.readouterr().err
