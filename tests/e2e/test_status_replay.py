"""A consumer added later gets its history by replay, and nothing else runs again.

The stack starts WITHOUT the status service (as a deployment did before status existed), reads
real documents end to end (real Tesseract, e-mail to the outbox), then status is added to the
running stack and the archive is replayed to it only (``ocrpipe replay --to status``). The
status API must then report every earlier document correctly, while ingest, ocr, wordcount and
notify received not one more message, no e-mail was sent again and the archive did not grow.
"""

from __future__ import annotations

import io
import secrets
from pathlib import Path
from typing import Any

import pytest
import requests
from PIL import Image

from ocrpipe_local import cli
from ocrpipe_local.archive import document_is_done, read_archive
from ocrpipe_local.discovery import discover
from ocrpipe_local.stack import OneMachineStack, without_service
from tests.local_uploads import upload

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

SAMPLES = Path(__file__).resolve().parents[2] / "samples"
CLEAN = SAMPLES / "clean-scan.png"
EMAIL = "replay-reader@example.com"


def _blank_png() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (400, 200), 255).save(buffer, format="PNG")
    return buffer.getvalue()


def _upload(session: requests.Session, api: str, name: str, data: bytes) -> dict[str, Any]:
    grant = upload(session, api, name, data, email=EMAIL)
    return {"id": grant["document_id"], "token": grant["access_token"], "name": name}


def _status(session: requests.Session, api: str, doc: dict[str, Any]) -> requests.Response:
    return session.get(
        f"{api}/documents/{doc['id']}",
        headers={"Authorization": f"Bearer {doc['token']}"},
        timeout=30,
    )


def test_status_added_later_is_filled_by_replay_and_nothing_else_runs_again(tmp_path, capsys):
    stage = "r" + secrets.token_hex(4)
    state = tmp_path / "state"
    before_status = without_service(discover(), "status")
    assert "status" not in before_status.consumers

    clean = CLEAN.read_bytes()
    inputs = {
        "clean.png": clean,  # counted
        "clean again.png": clean,  # counted, from the OCR cache
        "corrupt.png": clean[:300],  # rejected by ingest
        "blank.png": _blank_png(),  # OcrFailed: no text
    }
    with OneMachineStack(state_dir=state, stage=stage, topology=before_status) as stack:
        session = requests.Session()
        session.trust_env = False
        api = stack.api_url
        docs = {name: _upload(session, api, name, data) for name, data in inputs.items()}
        ids = [d["id"] for d in docs.values()]
        events = stack.wait_for(ids, 600, notified=ids)
        for name, doc in docs.items():
            assert document_is_done(events[doc["id"]], needs_notification=True), (
                name,
                [e.detail_type for e in events[doc["id"]]],
            )
        assert stack.drain(timeout=60)
        # No status service yet: the route does not exist.
        assert _status(session, api, docs["clean.png"]).status_code == 404

        before = stack.invocations()
        assert "status" not in before
        assert before["ocr"] >= 3
        assert before["notify"] >= 4
        outbox_before = sorted(p.name for p in stack.outbox_dir.glob("*.eml"))
        assert len(outbox_before) == 4
        archived = read_archive(state / "archive.jsonl")
        words = {
            e.document_id: e.detail["total_words"]
            for e in archived
            if e.detail_type == "WordsCounted"
        }

        stack.add_consumer("status")
        assert stack.invocations()["status"] == 0
        code = cli.main(
            [
                "replay",
                "--since",
                "1h",
                "--to",
                "status",
                "--state-dir",
                str(state),
                "--stage",
                stage,
            ]
        )
        printed = capsys.readouterr().out
        assert code == 0, printed
        assert f"{len(archived)} of {len(archived)} archived event(s)" in printed
        assert stack.drain(timeout=60)

        after = stack.invocations()
        # Every archived event reached status exactly once (all match its rule) ...
        assert after["status"] == len(archived)
        # ... and no other consumer received anything.
        assert {k: v for k, v in after.items() if k != "status"} == before
        assert sorted(p.name for p in stack.outbox_dir.glob("*.eml")) == outbox_before
        # Replayed events are not new history.
        assert len(read_archive(state / "archive.jsonl")) == len(archived)

        expected = {
            "clean.png": "notified",
            "clean again.png": "notified",
            "corrupt.png": "rejected",
            "blank.png": "ocr_failed",
        }
        for name, doc in docs.items():
            response = _status(session, api, doc)
            assert response.status_code == 200, (name, response.text)
            body = response.json()
            assert body["document_id"] == doc["id"]
            assert body["stage"] == expected[name], (name, body)
            assert body["filename"] == name
            if expected[name] == "notified":
                assert body["total_words"] == words[doc["id"]] > 20
                assert body["notification_channel"] == "email"
                assert "counted" in body["timestamps"]
            else:
                assert body["failure_code"], body
                assert len(body["failure_reason"]) > 10
            # The token is required: same 404 as an unknown document without it.
            anonymous = session.get(f"{api}/documents/{doc['id']}", timeout=30)
            assert anonymous.status_code == 404
        assert EMAIL not in (state / "archive.jsonl").read_text(encoding="utf-8")

        # From now on status follows live events too.
        late = _upload(session, api, "late.png", clean)
        stack.wait_for([late["id"]], 300, notified=[late["id"]])
        assert stack.drain(timeout=60)
        assert _status(session, api, late).json()["stage"] == "notified"
