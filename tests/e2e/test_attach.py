"""A stack you keep: ``ocrpipe up`` in the background, commands in other processes attach to
it, and what was done survives ``kill -9`` and a restart.

Everything runs as separate processes through the installed ``ocrpipe`` command, as a person
at two terminals would.
"""

from __future__ import annotations

import email
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrpipe_local import attach
from ocrpipe_local.archive import document_is_done

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
OCRPIPE = [sys.executable, "-m", "ocrpipe_local.cli"]
#: A consumer as a third party ships it, importable by its own name (not under services/).
FIXTURES = ROOT / "tests" / "fixtures"
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(FIXTURES), os.environ.get("PYTHONPATH")])),
}


def start_up(data: Path, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [*OCRPIPE, "up", "--data-dir", str(data), *extra],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        env=ENV,
    )
    deadline = time.monotonic() + 120
    while attach.find_running(data) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"ocrpipe up did not come up:\n{log.read_text()}")
        time.sleep(0.2)
    return proc


def runtime(data: Path) -> attach.RuntimeInfo:
    """What the ``ocrpipe up`` running on ``data`` published (it must be running)."""
    info = attach.find_running(data)
    assert info is not None
    return info


def ocrpipe(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*OCRPIPE, *args], capture_output=True, text=True, timeout=300, env=ENV)


@pytest.fixture
def data(tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "data"
    yield directory
    info = attach.find_running(directory)
    if info is not None:
        os.kill(info.pid, signal.SIGKILL)


def test_commands_attach_and_documents_survive_kill_9(data: Path, tmp_path: Path) -> None:
    first = start_up(data, tmp_path / "up-1.log")
    # A second stack on the same data directory is refused, with who holds it.
    second = ocrpipe("up", "--data-dir", str(data))
    assert second.returncode == 2
    assert f"pid {first.pid}" in second.stderr

    out = tmp_path / "out"
    files = [SAMPLES / "clean-scan.png", SAMPLES / "phone-photo.jpg", SAMPLES / "receipt.tiff"]
    done = ocrpipe(
        "process",
        *map(str, files),
        "--data-dir",
        str(data),
        "--out",
        str(out),
        "--email",
        "reader@example.com",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"attached to the stack running on {data} (pid {first.pid}" in done.stdout
    assert (out / "clean-scan.txt").read_text(encoding="utf-8").strip()
    counts: dict[str, Any] = json.loads((out / "clean-scan.words.json").read_text())
    assert counts["total_words"] > 100
    assert first.poll() is None  # the command did not stop the stack it used
    emails = sorted((data / "outbox").glob("*.eml"))
    assert len(emails) == 3

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    assert attach.find_running(data) is None  # a killed stack is not believed

    # Started again, now with a consumer from outside services/.
    again = start_up(data, tmp_path / "up-2.log", "--consumer", "wordstats_consumer")
    listed = ocrpipe("documents", "--data-dir", str(data), "--json")
    assert listed.returncode == 0, listed.stderr
    documents = json.loads(listed.stdout)
    names = ["clean-scan.png", "phone-photo.jpg", "receipt.tiff"]
    assert sorted(d["filename"] for d in documents) == names
    assert all(d["stage"] == "notified" and d["total_words"] > 20 for d in documents)
    by_name = {d["filename"]: d for d in documents}
    assert by_name["clean-scan.png"]["total_words"] == counts["total_words"]

    # The new consumer's history, filled by a replay to it alone: no e-mail sent again.
    replayed = ocrpipe("replay", "--since", "1h", "--to", "wordstats", "--data-dir", str(data))
    assert replayed.returncode == 0, replayed.stdout + replayed.stderr
    assert "attached to the stack" in replayed.stdout
    info = runtime(data)
    running = attach.AttachedStack(data, info)
    stats = running.client("dynamodb").scan(TableName="ocrpipe-local-wordstats")["Items"]
    assert len(stats) == 3
    assert sorted((data / "outbox").glob("*.eml")) == emails

    # Objects put into a bucket with boto3 against the emulator, backfilled into the stack.
    s3 = running.client("s3")
    s3.create_bucket(Bucket="my-archive")
    s3.put_object(Bucket="my-archive", Key="scans/a.png", Body=files[0].read_bytes())
    filled = ocrpipe("backfill", "s3://my-archive/scans/", "--data-dir", str(data))
    assert filled.returncode == 0, filled.stdout + filled.stderr
    assert "pipeline: 1 counted" in filled.stdout
    assert len(json.loads(ocrpipe("documents", "--data-dir", str(data), "--json").stdout)) == 4

    again.send_signal(signal.SIGINT)
    assert again.wait(timeout=60) == 0
    assert attach.find_running(data) is None


def test_sigterm_finishes_every_accepted_document(data: Path, tmp_path: Path) -> None:
    """Stopping ``ocrpipe up`` right after uploads were accepted loses none of them."""
    import requests

    from tests.local_uploads import upload

    up = start_up(data, tmp_path / "up.log")
    info = runtime(data)
    image = (SAMPLES / "clean-scan.png").read_bytes()
    with requests.Session() as session:
        session.trust_env = False
        grants = [
            upload(
                session, info.api_url, f"page-{i}.png", image + bytes([i]), email="a@example.com"
            )
            for i in range(6)
        ]
    up.send_signal(signal.SIGTERM)  # at once: most of them are still queued or being read
    assert up.wait(timeout=300) == 0, (tmp_path / "up.log").read_text()
    log = (tmp_path / "up.log").read_text()
    assert "all accepted documents finished" in log

    listed = ocrpipe("documents", "--data-dir", str(data), "--json")
    documents = {d["document_id"]: d for d in json.loads(listed.stdout)}
    assert set(documents) == {g["document_id"] for g in grants}
    assert {d["stage"] for d in documents.values()} == {"notified"}
    assert len(list((data / "outbox").glob("*.eml"))) == 6


def test_a_command_attached_to_a_stack_that_dies_says_so(data: Path, tmp_path: Path) -> None:
    up = start_up(data, tmp_path / "up.log")
    photo = (SAMPLES / "phone-photo.jpg").read_bytes()
    files = []
    for i in range(3):  # distinct bytes: no cache hits, several seconds of reading
        path = tmp_path / f"photo-{i}.jpg"
        path.write_bytes(photo + bytes([i]))
        files.append(str(path))
    command = subprocess.Popen(
        [*OCRPIPE, "process", *files, "--data-dir", str(data), "--timeout", "300"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**ENV, "PYTHONUNBUFFERED": "1"},
    )
    assert command.stdout is not None
    first = command.stdout.readline()  # only once it is attached (a loaded machine is slow)
    assert "attached to the stack" in first, first
    time.sleep(1.0)
    up.send_signal(signal.SIGKILL)
    rest, _ = command.communicate(timeout=60)  # not the command's own 300 s timeout
    output = first + rest
    assert command.returncode == 1, output
    assert "attached to stopped before the document finished" in output.replace("\n", " ")


def test_kill_9_loses_nothing_accepted_and_finishes_what_was_in_flight(
    data: Path, tmp_path: Path
) -> None:
    """Uploads accepted, then ``kill -9`` while they are queued or being read: started again on
    the same data directory, every document finishes, each user gets one e-mail, and the
    documents done before the kill keep their status records (the tables survived)."""
    import requests

    from tests.local_uploads import upload

    up = start_up(data, tmp_path / "up-1.log")
    info = runtime(data)
    image = (SAMPLES / "clean-scan.png").read_bytes()
    with requests.Session() as session:
        session.trust_env = False
        first = upload(session, info.api_url, "first.png", image, email="a@example.com")
        running = attach.AttachedStack(data, info)
        one = [first["document_id"]]
        assert document_is_done(
            running.wait_for(one, 240, notified=one)[one[0]], needs_notification=True
        )
        later = [
            upload(
                session, info.api_url, f"page-{i}.png", image + bytes([i]), email="b@example.com"
            )
            for i in range(4)
        ]
    up.send_signal(signal.SIGKILL)  # most of them are still queued or being read
    up.wait(timeout=30)

    again = start_up(data, tmp_path / "up-2.log")
    info = runtime(data)
    running = attach.AttachedStack(data, info)
    ids = [g["document_id"] for g in [first, *later]]
    finished = running.wait_for(ids, timeout=300, notified=ids)
    assert all(document_is_done(events, needs_notification=True) for events in finished.values()), (
        finished
    )

    with requests.Session() as session:
        session.trust_env = False
        for grant in [first, *later]:
            status = session.get(
                f"{info.api_url}/documents/{grant['document_id']}",
                headers={"Authorization": f"Bearer {grant['access_token']}"},
                timeout=30,
            )
            assert status.status_code == 200, status.text
            body = status.json()
            assert body["stage"] == "notified", body
            assert body["total_words"] > 100
        # The browser's view: every document its tokens open, newest first, with links.
        tokens = ",".join(g["access_token"] for g in [first, *later])
        mine = session.get(
            f"{info.api_url}/documents", headers={"Authorization": f"Bearer {tokens}"}, timeout=30
        ).json()["documents"]
        assert [d["document_id"] for d in mine][-1] == first["document_id"]
        assert sorted(d["document_id"] for d in mine) == sorted(ids)
        csv_link = mine[0]["links"]["counts.csv"]
        assert csv_link.startswith(f"{info.api_url}/documents/{mine[0]['document_id']}/files/")
        table = session.get(csv_link, timeout=30)  # no token: the link is the permission
        assert table.status_code == 200
        assert table.text.lstrip("\ufeff").startswith("word,count\r\n")
        described = session.get(f"{info.api_url}/openapi.json", timeout=30).json()
        assert {"/uploads", "/documents", "/documents/{document_id}"} <= set(described["paths"])
    subjects = sorted(
        str(email.message_from_bytes(path.read_bytes())["Subject"])
        for path in (data / "outbox").glob("*.eml")
    )
    assert len(subjects) == 5, subjects  # one each, none sent twice
    for name in ["first.png", *(f"page-{i}.png" for i in range(4))]:
        assert sum(f'"{name}"' in s for s in subjects) == 1, subjects
    again.send_signal(signal.SIGINT)
    assert again.wait(timeout=60) == 0
