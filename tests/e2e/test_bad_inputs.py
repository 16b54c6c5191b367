"""The bad-input corpus (tests/badinputs/corpus.py) through the whole local stack.

ONE in-process stack (real services, real Tesseract) takes every case the way a client sends
it: ``POST /uploads``, then the presigned POST of the bytes. Each case is its own test and
checks what the person sees: a 4xx with a sentence, or, once accepted, the outcome event with
its reason code, the e-mail in the outbox saying why, and ``GET /documents/{id}`` showing the
stage. The last test checks that no queue and no dead-letter queue holds a message.

The stack runs with ``OCRPIPE_LOCAL_MODE=false``: the webhook policy is the deployed one (the
local runtime otherwise lets webhooks reach loopback, for a developer's own receiver). Host
names the webhook cases name resolve as the case says (:mod:`tests.fake_dns`).

A case that kills the process reading it (``Case.isolated``) never enters that stack: it runs
through ``ocrpipe process`` in a process of its own. A case showing a known bug
(``Case.known_bug``) asserts the right behaviour and is a strict xfail.
"""

from __future__ import annotations

import email
import email.policy
import json
import secrets
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
import requests

from ingest.keys import derived_document_id
from ocrpipe.events import OcrFailureReason, RejectionReason
from ocrpipe_local.archive import ArchivedEvent, document_is_done
from ocrpipe_local.stack import OneMachineStack
from tests.badinputs import corpus
from tests.badinputs.corpus import Case
from tests.fake_dns import fake_resolver

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

REPO = Path(__file__).resolve().parents[2]
EMAIL = "bad-inputs@example.com"
CASES = corpus.cases()
IN_STACK = [case for case in CASES if not case.isolated]
ISOLATED = [case for case in CASES if case.isolated]
#: How long every accepted document may take to reach its outcome and be notified.
OUTCOME_TIMEOUT_S = 300
#: The upload link lives 30 s, plus 10 s of grace (ingest.intake.EXPIRY_GRACE_S).
LATE_BY = timedelta(seconds=65)

#: The outcome event and the outbox's name for each expected outcome.
EVENT = {"rejected": "DocumentRejected", "ocr_failed": "OcrFailed", "counted": "WordsCounted"}
OUTCOME_EVENTS = frozenset({*EVENT.values(), "WordCountFailed"})
MAIL_OUTCOME = {"rejected": "rejected", "ocr_failed": "failed", "counted": "counted"}
#: What the person is told for a failure only a retry may fix (OcrFailed engine_error).
TRY_AGAIN = "try again later"
#: The stage GET /documents/{id} shows once the person was told.
STAGE = {
    "rejected": "rejected",
    "ocr_failed": "ocr_failed",
    "counted": "notified",
    "notification_failed": "notification_failed",
}


@dataclass
class Sent:
    """What happened to one case on the client's side, and what the stack did with it."""

    case: Case
    opened: requests.Response | None = None  # POST /uploads
    grant: dict[str, Any] | None = None
    stored: requests.Response | None = None  # the presigned POST
    document_id: str | None = None
    key: str | None = None
    events: list[ArchivedEvent] = field(default_factory=list)

    @property
    def notified(self) -> bool:
        return self.grant is not None and self.case.delivery != "direct_put"

    @property
    def outcome(self) -> ArchivedEvent:
        [outcome] = [e for e in self.events if e.detail_type in OUTCOME_EVENTS]
        return outcome


@dataclass
class Run:
    stack: OneMachineStack
    session: requests.Session
    sent: dict[str, Sent]


def _request_body(case: Case) -> dict[str, Any]:
    body: dict[str, Any] = {
        "filename": case.filename,
        "content_type": case.content_type,
        "size_bytes": case.size_bytes,
        "email": EMAIL,
        **case.request,
    }
    return {k: v for k, v in body.items() if v is not None}


def _backdate(stack: OneMachineStack, document_id: str) -> None:
    """As if ``POST /uploads`` had answered :data:`LATE_BY` ago (the link has expired)."""
    asked = datetime.now(UTC) - LATE_BY
    stack.client("dynamodb").update_item(
        TableName=stack.resources.tables["ingest"],
        Key={"pk": {"S": f"upload#{document_id}"}},
        UpdateExpression="SET created_at = :t",
        ExpressionAttributeValues={":t": {"S": asked.isoformat()}},
    )


def _send(stack: OneMachineStack, session: requests.Session, case: Case) -> Sent:
    sent = Sent(case)
    data = case.data
    if case.delivery == "direct_put":
        key = f"uploads/{uuid.uuid4().hex}/{case.filename}"
        stack.client("s3").put_object(
            Bucket=stack.resources.env["OCRPIPE_UPLOADS_BUCKET"], Key=key, Body=data
        )
        sent.key, sent.document_id = key, derived_document_id(key)
        return sent
    api = stack.api_url
    if case.raw_body is not None:
        sent.opened = session.post(
            f"{api}/uploads",
            data=case.raw_body,
            headers={"Content-Type": "application/json"},
            timeout=60,
        )
    else:
        sent.opened = session.post(f"{api}/uploads", json=_request_body(case), timeout=60)
    if sent.opened.status_code != 201:
        return sent
    sent.grant = sent.opened.json()
    sent.document_id, sent.key = sent.grant["document_id"], sent.grant["key"]
    if case.delivery == "late":
        _backdate(stack, sent.grant["document_id"])
    post = sent.grant["upload"]
    sent.stored = session.post(
        post["url"],
        data=post["fields"],
        # The part's own file name is not what S3 stores under (the policy's key is).
        files={"file": (sent.key.rsplit("/", 1)[-1], data, case.content_type)},
        timeout=60,
    )
    return sent


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    state = tmp_path_factory.mktemp("bad-inputs") / "state"
    stack = OneMachineStack(
        state_dir=state,
        stage="b" + secrets.token_hex(4),
        retry_backoff_s=0.2,
        env={"OCRPIPE_LOCAL_MODE": "false"},
    )
    with pytest.MonkeyPatch.context() as patch, stack:
        resolver = fake_resolver(patch)
        for case in IN_STACK:
            resolver.answers.update({name: list(found) for name, found in case.resolves.items()})
        session = requests.Session()
        session.trust_env = False
        sent = {case.name: _send(stack, session, case) for case in IN_STACK}
        waiting = [s for s in sent.values() if s.document_id is not None]
        events = stack.wait_for(
            [s.document_id for s in waiting if s.document_id],
            OUTCOME_TIMEOUT_S,
            notified=[s.document_id for s in waiting if s.notified and s.document_id],
        )
        for s in waiting:
            assert s.document_id is not None
            s.events = events.get(s.document_id, [])
        # Every consumer (status too) has seen every event before anything is asserted.
        stack.drain(timeout=60)
        yield Run(stack, session, sent)


def _message(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        pytest.fail(f"HTTP {response.status_code} answered with no JSON: {response.text[:300]}")
    assert isinstance(body, dict), body
    return body


def _mail(run: Run, document_id: str, outcome: str) -> EmailMessage:
    paths = sorted(run.stack.outbox_dir.glob(f"{document_id}.*.eml"))
    assert [p.name for p in paths] == [f"{document_id}.{outcome}.eml"], "one e-mail, this one"
    message = email.message_from_bytes(paths[0].read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _text(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def _status(run: Run, sent: Sent) -> dict[str, Any]:
    assert sent.grant is not None
    response = run.session.get(
        f"{run.stack.api_url}/documents/{sent.document_id}",
        headers={"Authorization": f"Bearer {sent.grant['access_token']}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return _message(response)


def _object_exists(run: Run, key: str) -> bool:
    s3 = run.stack.client("s3")
    bucket = run.stack.resources.env["OCRPIPE_UPLOADS_BUCKET"]
    return bool(s3.list_objects_v2(Bucket=bucket, Prefix=key).get("KeyCount", 0))


def _params(cases: list[Case]) -> list[Any]:
    return [
        pytest.param(
            case,
            id=case.name,
            marks=[pytest.mark.xfail(strict=True, reason=case.known_bug)] if case.known_bug else [],
        )
        for case in cases
    ]


def _assert_answered(outcome: str, reason_code: str | None, mail_text: str) -> None:
    """A final answer, not a passing one: nobody is left waiting or told to try again."""
    assert outcome in ("WordsCounted", "DocumentRejected", "OcrFailed", "WordCountFailed")
    assert reason_code != OcrFailureReason.ENGINE_ERROR.value, mail_text
    assert TRY_AGAIN not in mail_text.lower(), mail_text


@pytest.mark.parametrize("case", _params(IN_STACK))
def test_the_person_is_told_why(run: Run, case: Case) -> None:
    sent = run.sent[case.name]
    expect = case.expect
    if expect.outcome == "refused":
        _assert_refused(sent)
        return
    if case.delivery == "direct_put":
        _assert_unknown_object_removed(run, sent)
        return
    assert sent.opened is not None
    assert sent.opened.status_code == 201, sent.opened.text
    assert sent.stored is not None
    assert sent.stored.status_code < 300, sent.stored.text
    assert sent.document_id is not None
    kinds = [e.detail_type for e in sent.events]
    assert document_is_done(sent.events, needs_notification=True), kinds
    view = _status(run, sent)
    assert view["stage"] == STAGE[expect.outcome], view
    if expect.outcome == "notification_failed":
        _assert_delivery_failed(run, sent, view)
        return
    assert "NotificationSent" in kinds, kinds
    outcome = sent.outcome
    if expect.outcome == "answered":
        told = {"WordsCounted": "counted", "DocumentRejected": "rejected"}
        mail = _mail(run, sent.document_id, told.get(outcome.detail_type, "failed"))
        _assert_answered(outcome.detail_type, outcome.detail.get("reason_code"), _text(mail))
        return
    assert outcome.detail_type == EVENT[expect.outcome], outcome.detail
    mail = _mail(run, sent.document_id, MAIL_OUTCOME[expect.outcome])
    assert mail["To"] == EMAIL
    text = _text(mail)

    if expect.outcome == "counted":
        assert sent.key == f"uploads/{sent.document_id}/{expect.says}"
        assert outcome.detail["filename"] == view["filename"] == expect.says
        assert outcome.detail["total_words"] > 0
        shown = expect.says if len(expect.says) <= 80 else expect.says[:79]
        assert shown in mail["Subject"]
        assert f'We counted the words in "{shown}' in text
        assert view["total_words"] == outcome.detail["total_words"]
        return

    reason = outcome.detail["reason"]
    assert outcome.detail["reason_code"] == expect.code, reason
    assert expect.says in reason
    assert f"Why: {reason}" in text
    assert "What you can do:" in text
    assert case.filename in mail["Subject"]
    assert view["failure_code"] == expect.code
    assert view["failure_reason"] == reason
    assert TRY_AGAIN not in text.lower(), "a failure no retry can fix"
    if expect.outcome == "rejected":
        assert not _object_exists(run, sent.key or ""), "a rejected upload is deleted"


def _assert_delivery_failed(run: Run, sent: Sent, view: dict[str, Any]) -> None:
    """The document was processed; telling the person was refused or given up, and the
    status API (the one place left to learn it) says why."""
    expect = sent.case.expect
    assert sent.outcome.detail_type == "WordsCounted"
    [failed] = [e for e in sent.events if e.detail_type == "NotificationFailed"]
    assert "NotificationSent" not in [e.detail_type for e in sent.events]
    reason = failed.detail["reason"]
    assert expect.says in reason
    assert view["failure_code"] == expect.code
    assert view["failure_reason"] == reason
    assert "will retry" not in reason, "the last word on a delivery that was given up"
    assert not list(run.stack.outbox_dir.glob(f"{sent.document_id}.*"))


def _assert_refused(sent: Sent) -> None:
    expect = sent.case.expect
    assert sent.opened is not None
    body = _message(sent.opened)
    assert sent.opened.status_code == expect.status, body
    assert body["error"] == expect.code, body
    assert expect.says in body["message"], body
    assert body["message"].endswith("."), body
    assert sent.grant is None
    for value in sent.case.request.values():
        if isinstance(value, str) and "@" in value:
            assert value not in body["message"], "a refused address is not repeated"


def _assert_unknown_object_removed(run: Run, sent: Sent) -> None:
    expect = sent.case.expect
    outcome = sent.outcome
    assert outcome.detail_type == "DocumentRejected"
    assert outcome.detail["reason_code"] == expect.code
    assert expect.says in outcome.detail["reason"]
    assert not _object_exists(run, sent.key or ""), "an unknown object is deleted"
    # Nobody asked for it: nobody to tell, and no token to read its status with.
    assert not list(run.stack.outbox_dir.glob(f"{sent.document_id}.*"))


@pytest.mark.parametrize("case", _params(ISOLATED))
def test_an_input_that_kills_its_reader_is_still_answered(tmp_path: Path, case: Case) -> None:
    """``ocrpipe process`` in a process of its own: it must survive the file, tell the person
    a final answer, and leave no message in any queue."""
    path = tmp_path / case.filename
    path.write_bytes(case.data)
    state, report = tmp_path / "state", tmp_path / "report.json"
    argv = ["process", str(path), "--email", EMAIL, "--state-dir", str(state)]
    argv += ["--stage", "i" + secrets.token_hex(4), "--json", str(report), "--timeout", "300"]
    script = "import sys; from ocrpipe_local import cli; sys.exit(cli.main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", script, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=420,
        check=False,
    )
    assert done.returncode in (0, 1), f"the process died ({done.returncode}): {done.stderr[-600:]}"
    result = json.loads(report.read_text(encoding="utf-8"))
    assert result["stuck_queues"] == {}
    [doc] = result["documents"]
    assert doc["notification"] == "sent", doc
    archived = [json.loads(line) for line in (state / "archive.jsonl").open(encoding="utf-8")]
    [outcome] = [
        a["envelope"]
        for a in archived
        if a["envelope"]["detail"].get("document_id") == doc["document_id"]
        and a["envelope"]["detail-type"] in OUTCOME_EVENTS
    ]
    [eml] = (state / "outbox").glob(f"{doc['document_id']}.*.eml")
    message = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    _assert_answered(outcome["detail-type"], outcome["detail"].get("reason_code"), _text(message))


def test_no_queue_and_no_dead_letter_queue_holds_a_message(run: Run) -> None:
    assert run.stack.drain(timeout=60), run.stack.queue_depths()
    assert run.stack.stuck_messages() == {}


def test_the_corpus_covers_every_reason_a_person_can_cause() -> None:
    def codes(outcome: str) -> set[str]:
        return {case.expect.code for case in CASES if case.expect.outcome == outcome}

    # A file over the size limit is refused by POST /uploads (413 too_large), and one larger
    # than it was declared is larger_than_declared first: ingest's own too_large is met only
    # by a backfill, never by an upload.
    reachable = set(RejectionReason) - {RejectionReason.TOO_LARGE}
    assert {r.value for r in reachable} <= codes("rejected")
    assert "too_large" in codes("refused")
    # engine_error (the engine failed: a retry may help) and unsupported (no input reaches
    # it past ingest) are not what a person's file should cause.
    caused = set(OcrFailureReason) - {OcrFailureReason.ENGINE_ERROR, OcrFailureReason.UNSUPPORTED}
    assert {r.value for r in caused} <= codes("ocr_failed")
    assert len({case.name for case in CASES}) == len(CASES)


def test_the_generator_writes_every_file_and_a_manifest(tmp_path: Path) -> None:
    assert corpus.main([str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "manifest.json").read_text(encoding="utf-8"))["cases"]
    assert [m["name"] for m in manifest] == [c.name for c in CASES]
    for entry, case in zip(manifest, CASES, strict=True):
        assert (tmp_path / entry["file"]).read_bytes() == case.data
        assert entry["expect"]["outcome"] == case.expect.outcome
    assert sum(len(c.data) for c in CASES) < 1024 * 1024  # small: made in code, not committed
