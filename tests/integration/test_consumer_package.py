"""A consumer package from outside ``services/`` joins a running pipeline and is filled by replay.

``tests/fixtures/wordstats_consumer`` is a consumer as a third party would ship it: an importable
package with its handler and its own ``ocrpipe-service.json`` (package data), subscribing to
``WordsCounted`` into a table it owns. Nothing in ``shared/`` or any producer names it.

The real pipeline (discovered from ``services/*/ocrpipe-service.json``; real Tesseract on tiny
images, e-mail to the outbox) processes two documents without it; then it is added to the
running stack and ``ocrpipe replay --to wordstats`` replays the archive to it alone. It must hold
exactly those two documents' counts, once each, while no other consumer received anything, no
e-mail was sent again and the archive did not grow. A second test starts a stack with
``ocrpipe process --consumer wordstats_consumer``: it receives live events from the start.
"""

from __future__ import annotations

import io
import secrets
import shutil
from pathlib import Path
from typing import Any

import boto3
import pytest
import requests
from PIL import Image, ImageDraw, ImageFont

from ocrpipe.topology import load_declaration
from ocrpipe_local import cli, emulator, loopback
from ocrpipe_local.archive import document_is_done, read_archive
from ocrpipe_local.stack import OneMachineStack
from tests.local_uploads import upload

pytestmark = [
    pytest.mark.integration,
    pytest.mark.timeout(600),
    pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract"),
]

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
PACKAGE = "wordstats_consumer"
EMAIL = "stats-reader@example.com"


@pytest.fixture(autouse=True)
def importable_fixture_package(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if ``pip install wordstats-consumer``: the package is importable by its own name."""
    monkeypatch.syspath_prepend(str(FIXTURES))


def _image(text: str) -> bytes:
    image = Image.new("L", (520, 64), 255)
    ImageDraw.Draw(image).text((10, 14), text, fill=0, font=ImageFont.load_default(size=28))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def _wordstats(dynamodb: Any, stage: str) -> dict[str, dict[str, Any]]:
    items = dynamodb.scan(TableName=f"ocrpipe-{stage}-wordstats")["Items"]
    return {
        i["pk"]["S"]: {
            "deliveries": int(i["deliveries"]["N"]),
            "total_words": int(i["total_words"]["N"]),
            "replay_name": i["replay_name"]["S"],
        }
        for i in items
    }


def test_consumer_package_added_later_is_filled_by_replay_alone(tmp_path, capsys):
    stage = "w" + secrets.token_hex(4)
    state = tmp_path / "state"
    with OneMachineStack(state_dir=state, stage=stage, retry_backoff_s=0) as stack:
        assert "wordstats" not in stack.resources.consumers
        session = requests.Session()
        session.trust_env = False
        docs = [
            upload(session, stack.api_url, "first.png", _image("alpha bravo charlie"), email=EMAIL)[
                "document_id"
            ],
            upload(
                session, stack.api_url, "second.png", _image("delta echo foxtrot golf"), email=EMAIL
            )["document_id"],
        ]
        events = stack.wait_for(docs, 300, notified=docs)
        for doc in docs:
            assert document_is_done(events[doc], needs_notification=True), events[doc]
        assert stack.drain(timeout=60)
        before = stack.invocations()
        outbox_before = sorted(p.name for p in stack.outbox_dir.glob("*.eml"))
        assert len(outbox_before) == 2
        archived = read_archive(state / "archive.jsonl")
        counted = {
            e.document_id: e.detail["total_words"]
            for e in archived
            if e.detail_type == "WordsCounted"
        }
        assert set(counted) == set(docs)

        # Deploying the new consumer: its queue, DLQ, rule and table; nothing else changes.
        stack.add_consumer("wordstats", source=load_declaration(PACKAGE))
        assert stack.invocations()["wordstats"] == 0
        dynamodb = stack.client("dynamodb")
        assert _wordstats(dynamodb, stage) == {}

        code = cli.main(
            [
                *("replay", "--since", "1h", "--to", "wordstats", "--name", "fill-wordstats"),
                *("--state-dir", str(state), "--stage", stage),
            ]
        )
        printed = capsys.readouterr().out
        assert code == 0, printed
        assert stack.drain(timeout=60)

        after = stack.invocations()
        assert after["wordstats"] == 2  # the two WordsCounted, nothing else matched its rule
        assert {k: v for k, v in after.items() if k != "wordstats"} == before
        assert sorted(p.name for p in stack.outbox_dir.glob("*.eml")) == outbox_before
        assert len(read_archive(state / "archive.jsonl")) == len(archived)
        assert _wordstats(dynamodb, stage) == {
            doc: {"deliveries": 1, "total_words": counted[doc], "replay_name": "fill-wordstats"}
            for doc in docs
        }


def test_process_with_consumer_option_runs_the_package_from_the_start(tmp_path):
    stage = "p" + secrets.token_hex(4)
    page = tmp_path / "page.png"
    page.write_bytes(_image("hotel india juliett"))
    code = cli.main(
        [
            *("process", str(page), "--consumer", PACKAGE, "--timeout", "120"),
            *("--state-dir", str(tmp_path / "state"), "--stage", stage),
        ]
    )
    assert code == 0
    # The stack stopped; its state lives on in this process' emulator.
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=emulator.ensure_server(),
        region_name=loopback.REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    stats = _wordstats(dynamodb, stage)
    assert [(s["deliveries"], s["total_words"], s["replay_name"]) for s in stats.values()] == [
        (1, 3, "")
    ]
