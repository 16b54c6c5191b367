"""The ``ocrpipe`` command: run the whole pipeline on this machine.

``ocrpipe process PATH...`` starts the local stack, uploads each file through the real HTTP API
and presigned POST, waits for every document's outcome and prints a table. ``ocrpipe up`` keeps
the stack running for manual use (curl, a browser form, another program).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TextIO

import boto3
import requests
from botocore.exceptions import BotoCoreError, ClientError

from ingest.backfill import Backfiller
from ingest.config import ValidationSettings
from ocrpipe.bus import EventPublisher
from ocrpipe.content_types import MAGIC_BYTES, sniff_content_type
from ocrpipe.events import (
    LANGUAGES,
    DocumentRejected,
    NotificationFailed,
    NotificationSent,
    OcrCompleted,
    OcrFailed,
    WordCountFailed,
    WordsCounted,
)
from ocrpipe.storage import S3Location
from ocrpipe.topology import Place
from ocrpipe_local import attach, durable, emulator, faults
from ocrpipe_local import backfill as backfill_mod
from ocrpipe_local import dlq as dlq_mod
from ocrpipe_local import documents as documents_mod
from ocrpipe_local import replay as replay_mod
from ocrpipe_local.archive import ArchivedEvent, read_archive
from ocrpipe_local.discovery import discover
from ocrpipe_local.progress import CountsProgress, DocumentsProgress, QueuesProgress
from ocrpipe_local.stack import LocalStack, QueueDepth, StackError, active_stack

SUPPORTED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf"})
DEFAULT_STATE_DIR = ".ocrpipe"
DEFAULT_TIMEOUT_S = 300.0
HTTP_TIMEOUT_S = 60


class UsageError(Exception):
    pass


def guess_content_type(path: Path, head: bytes) -> str:
    """By magic bytes first (what the file is, by the rule ingest and ocr use), then by
    extension (what it claims to be)."""
    sniffed = sniff_content_type(head)
    if sniffed is not None:
        return sniffed
    guessed, _ = mimetypes.guess_type(path.name)
    return guessed or "application/octet-stream"


def expand_paths(paths: Sequence[str]) -> list[Path]:
    """Files as given; directories expand to the supported files inside (recursively, sorted)."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(
                sorted(
                    p
                    for p in path.rglob("*")
                    if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise UsageError(f"no such file or directory: {raw}")
    if not found:
        raise UsageError("no supported files (jpg, png, tiff, pdf) found in " + ", ".join(paths))
    return found


@dataclass
class DocumentOutcome:
    path: Path
    document_id: str = ""
    status: str = "pending"  # counted | rejected | failed | timeout | error
    reason: str = ""
    total_words: int | None = None
    unique_words: int | None = None
    top_words: list[tuple[str, int]] = field(default_factory=list)
    cached: bool | None = None
    notification: str = ""  # sent | failed | ""
    text_uri: str = ""
    result_uri: str = ""
    outputs: list[str] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "counted" and self.notification != "failed"

    def to_json(self) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "document_id": self.document_id,
            "status": self.status,
            "reason": self.reason,
            "total_words": self.total_words,
            "unique_words": self.unique_words,
            "top_words": [{"word": w, "count": c} for w, c in self.top_words],
            "ocr_cached": self.cached,
            "notification": self.notification,
            "outputs": self.outputs,
            "events": self.events,
        }


def upload(
    session: requests.Session, api_url: str, outcome: DocumentOutcome, fields: dict[str, str]
) -> None:
    """``POST /uploads`` (with the extra request ``fields``: recipient, language) then the
    multipart POST of the bytes to the presigned URL."""
    data = outcome.path.read_bytes()
    content_type = guess_content_type(outcome.path, data[:MAGIC_BYTES])
    request: dict[str, object] = {
        "filename": outcome.path.name,
        "content_type": content_type,
        "size_bytes": len(data),
        **fields,
    }
    response = session.post(f"{api_url}/uploads", json=request, timeout=HTTP_TIMEOUT_S)
    if 400 <= response.status_code < 500:
        outcome.status = "rejected"
        outcome.reason = _api_message(response)
        if not data:
            outcome.reason = f"The file is empty (0 bytes). ({outcome.reason})"
        return
    if response.status_code != 201:
        outcome.status = "error"
        outcome.reason = f"POST /uploads answered {response.status_code}: {_api_message(response)}"
        return
    grant = response.json()
    outcome.document_id = str(grant["document_id"])
    post = grant["upload"]
    stored = session.post(
        post["url"],
        data=post["fields"],
        files={"file": (outcome.path.name, data, content_type)},
        timeout=HTTP_TIMEOUT_S,
    )
    if stored.status_code >= 300:
        outcome.status = "error"
        outcome.reason = f"upload to storage failed with HTTP {stored.status_code}"


def _api_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip() or f"HTTP {response.status_code}"
    if isinstance(body, dict):
        return str(body.get("message") or body.get("error") or body)
    return str(body)


def apply_events(outcome: DocumentOutcome, events: list[ArchivedEvent]) -> None:
    for archived in events:
        outcome.events.append(archived.detail_type)
        event = archived.event()
        if isinstance(event, WordsCounted):
            outcome.status = "counted"
            outcome.total_words = event.total_words
            outcome.unique_words = event.unique_words
            outcome.top_words = [(w.word, w.count) for w in event.top_words]
            outcome.text_uri = event.text_uri
            outcome.result_uri = event.result_uri
        elif isinstance(event, DocumentRejected):
            outcome.status = "rejected"
            outcome.reason = event.reason
        elif isinstance(event, OcrFailed | WordCountFailed):
            outcome.status = "failed"
            outcome.reason = event.reason
        elif isinstance(event, OcrCompleted):
            outcome.cached = event.cached
        elif isinstance(event, NotificationSent):
            outcome.notification = "sent"
        elif isinstance(event, NotificationFailed):
            outcome.notification = "failed"
            outcome.reason = outcome.reason or f"notification failed: {event.reason}"


#: Longest file name most file systems take (bytes); the longest suffix written after a stem.
NAME_MAX_BYTES = 255
OUTPUT_SUFFIX = ".words.json"


def output_stem(stem: str, taken: Collection[str]) -> str:
    """A stem for ``<stem>.txt`` and ``<stem>.words.json`` not in ``taken`` and short enough
    for a file name: a long one is cut (on a character boundary) and given a short hash of
    the whole, so two long names that share a beginning stay apart."""
    room = NAME_MAX_BYTES - len(OUTPUT_SUFFIX) - len("-99999")
    if len(stem.encode("utf-8")) > room:
        digest = hashlib.sha256(stem.encode("utf-8")).hexdigest()[:8]
        cut = stem.encode("utf-8")[: room - len(digest) - 1].decode("utf-8", "ignore")
        stem = f"{cut}~{digest}"
    name, n = stem, 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}"
    return name


def write_outputs(
    stack: ProcessTarget, outcome: DocumentOutcome, out_dir: Path, taken: set[str]
) -> None:
    s3 = stack.client("s3")
    name = output_stem(outcome.path.stem, taken)
    taken.add(name)
    text_loc = S3Location.parse(outcome.text_uri)
    text = s3.get_object(Bucket=text_loc.bucket, Key=text_loc.key)["Body"].read()
    result_loc = S3Location.parse(outcome.result_uri)
    result = json.loads(s3.get_object(Bucket=result_loc.bucket, Key=result_loc.key)["Body"].read())
    # The result document as wordcount wrote it, less its internal s3:// address.
    words = {
        "document_id": outcome.document_id,
        "total_words": result.get("total_words", outcome.total_words),
        "unique_words": result.get("unique_words", outcome.unique_words),
        **{k: v for k, v in result.items() if k not in ("document_id", "text_uri", "counts")},
        "counts": result.get("counts", {}),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    text_path = out_dir / f"{name}.txt"
    words_path = out_dir / f"{name}.words.json"
    text_path.write_bytes(text)
    words_path.write_text(json.dumps(words, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    outcome.outputs = [str(text_path), str(words_path)]


def _cell(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_table(outcomes: list[DocumentOutcome], out: TextIO) -> None:
    width = min(40, max([4, *(len(o.path.name) for o in outcomes)]))
    header = f"{'FILE':<{width}}  {'STATUS':<8}  {'WORDS':>6}  {'UNIQUE':>6}  TOP WORDS"
    print(header, file=out)
    print("-" * len(header), file=out)
    for o in outcomes:
        total = "" if o.total_words is None else str(o.total_words)
        unique = "" if o.unique_words is None else str(o.unique_words)
        top = ", ".join(f"{w} {c}" for w, c in o.top_words[:5])
        status = o.status + (" *" if o.cached else "")
        print(
            f"{_cell(o.path.name, width):<{width}}  {status:<8}  {total:>6}  {unique:>6}  {top}",
            file=out,
        )
        if o.reason:
            print(f"{'':<{width}}  ↳ {o.reason}", file=out)
    if any(o.cached for o in outcomes):
        print("* text from the OCR cache (same bytes read before)", file=out)


def _running_elsewhere(args: argparse.Namespace, out: TextIO) -> attach.AttachedStack | int | None:
    """The ``ocrpipe up`` this command attaches to (and says so), None when none runs on the
    data directory, or an exit status when the directory is busy with another command."""
    running = attach.find_running(Path(args.state_dir))
    if running is None:
        return None
    if not running.attachable:
        print(
            f"ocrpipe: another ocrpipe command (pid {running.pid}) is using {args.state_dir}; "
            "wait for it, or give this one another --data-dir",
            file=sys.stderr,
        )
        return 2
    if getattr(args, "consumer", None) or getattr(args, "workers", None):
        print("ocrpipe: --consumer/--workers apply to `ocrpipe up`, not here", file=sys.stderr)
        return 2
    print(
        f"attached to the stack running on {args.state_dir} (pid {running.pid}, "
        f"API {running.api_url})",
        file=out,
    )
    return attach.AttachedStack(Path(args.state_dir), running)


class ProcessTarget(Protocol):
    """What ``process`` needs of a stack: its own (:class:`LocalStack`) or one it attached
    to (:class:`~ocrpipe_local.attach.AttachedStack`)."""

    @property
    def api_url(self) -> str: ...

    def client(self, service_name: str) -> Any: ...

    def wait_for(
        self,
        document_ids: Collection[str],
        timeout: float,
        *,
        notified: Collection[str] = (),
        on_event: Callable[[ArchivedEvent], None] | None = None,
    ) -> dict[str, list[ArchivedEvent]]: ...


def _process_on(
    stack: ProcessTarget,
    args: argparse.Namespace,
    outcomes: list[DocumentOutcome],
    recipient: dict[str, str],
) -> None:
    """Upload every file through the API, wait for the outcomes, write the outputs."""
    session = requests.Session()
    session.trust_env = False  # loopback only: never a proxy
    fields = {**recipient, **({"language": args.lang} if args.lang else {})}
    with DocumentsProgress(str(o.path) for o in outcomes) as progress:
        for outcome in outcomes:
            try:
                upload(session, stack.api_url, outcome, fields)
                progress.uploaded(str(outcome.path), outcome.document_id)
            except (OSError, requests.RequestException, KeyError, ValueError) as exc:
                outcome.status = "error"
                outcome.reason = f"upload failed: {exc}"
                progress.upload_failed(str(outcome.path))
        waiting = [o for o in outcomes if o.document_id and o.status == "pending"]
        notified = [o.document_id for o in waiting] if recipient else []
        events = stack.wait_for(
            [o.document_id for o in waiting],
            args.timeout,
            notified=notified,
            on_event=progress.saw,
        )
    for outcome in waiting:
        apply_events(outcome, events.get(outcome.document_id, []))
        if outcome.status == "pending":
            outcome.status = "timeout"
            seen = ", ".join(outcome.events) or "no events"
            if getattr(stack, "stopped", False):
                outcome.reason = (
                    "the `ocrpipe up` this command attached to stopped before the document "
                    f"finished (seen: {seen}); start it again and run the command again"
                )
            else:
                outcome.reason = f"no outcome within {args.timeout:g} s (seen: {seen})"
        elif recipient and not outcome.notification:
            outcome.notification = "failed"
            outcome.reason = outcome.reason or "no notification within the timeout"
    taken: set[str] = set()
    if args.out:
        for outcome in outcomes:
            if outcome.status == "counted":
                try:
                    write_outputs(stack, outcome, Path(args.out), taken)
                except Exception as exc:
                    outcome.status = "error"
                    outcome.reason = f"could not write outputs: {exc}"


def process(args: argparse.Namespace, out: TextIO) -> int:
    started = time.monotonic()
    try:
        paths = expand_paths(args.paths)
    except UsageError as exc:
        print(f"ocrpipe: {exc}", file=sys.stderr)
        return 2
    recipient: dict[str, str] = {}
    if args.email:
        recipient["email"] = args.email
    elif args.webhook:
        recipient["webhook_url"] = args.webhook
    outcomes = [DocumentOutcome(path=p) for p in paths]
    stuck: dict[str, QueueDepth] = {}
    drained = True
    running = _running_elsewhere(args, out)
    if isinstance(running, int):
        return running
    if running is not None:
        attached = running
        _process_on(attached, args, outcomes, recipient)
        outbox, functions_log = attached.outbox_dir, attached.functions_log
    else:
        print(
            f"no stack runs on {args.state_dir}: starting one for this command "
            "(`ocrpipe up` keeps one running)",
            file=out,
        )
        with _command_stack(args) as stack:
            _process_on(stack, args, outcomes, recipient)
            drained = stack.drain(timeout=min(60.0, max(5.0, args.timeout)))
            stuck = stack.stuck_messages()
            outbox = stack.outbox_dir
            functions_log = stack.functions_log

    elapsed = time.monotonic() - started
    print_table(outcomes, out)
    counts: dict[str, int] = {}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    print(f"\n{len(outcomes)} document(s): {summary} in {elapsed:.1f} s", file=out)
    if args.out:
        print(f"outputs: {Path(args.out).resolve()}", file=out)
    if args.email:
        print(f"e-mails (.eml): {outbox}", file=out)
    failed = [o for o in outcomes if not o.ok]
    if stuck or not drained:
        detail = ", ".join(
            f"{name}: {d.visible} visible, {d.in_flight} in flight"
            for name, d in sorted(stuck.items())
        )
        print(f"ERROR: messages left in queues: {detail or 'queues did not drain'}", file=out)
        print(f"       see {functions_log} and {functions_log.parent / 'runtime.log'}", file=out)
    if args.json:
        report = {
            "elapsed_s": round(elapsed, 3),
            "documents": [o.to_json() for o in outcomes],
            "stuck_queues": {n: d.total for n, d in stuck.items()},
            "outbox": str(outbox),
        }
        Path(args.json).write_text(
            json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8"
        )
    return 1 if failed or stuck or not drained else 0


def up(args: argparse.Namespace, out: TextIO) -> int:
    done = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with LocalStack(
            state_dir=args.state_dir,
            stage=args.stage,
            attachable=True,
            api_port=args.port,
            api_host=args.host,
            consumers=args.consumer or (),
            workers=_worker_counts(args.workers),
            cors_origins=args.cors_origin or (),
            fault_plan=_fault_plan(args.faults),
        ) as stack:
            api = stack.api_url
            print(f"ocrpipe local stack is up (stage {stack.place.stage})", file=out)
            print(f"  web page:   {api}/", file=out)
            if stack.network_url is not None:
                print(
                    f"  from your phone (same network): {stack.network_url}/  -- anyone on "
                    "the network can use it",
                    file=out,
                )
            else:
                print(
                    "  (loopback only; `ocrpipe up --host 0.0.0.0` to open it from a phone)",
                    file=out,
                )
            print(
                f"  API:        {api}  (POST /uploads, GET /documents, {api}/openapi.json)",
                file=out,
            )
            print(
                f"  emulator:   {stack.endpoint_url}  (AWS_ENDPOINT_URL, dummy credentials)",
                file=out,
            )
            print(f"  consumers:  {', '.join(sorted(stack.resources.consumers))}", file=out)
            print(f"  outbox:     {stack.outbox_dir}", file=out)
            print(f"  events:     {stack.state_dir.resolve() / 'archive.jsonl'}", file=out)
            if stack.restored is not None:
                r = stack.restored
                print(
                    f"  state:      {stack.state_dir.resolve() / durable.FILE_NAME}  (restored "
                    f"{r.objects} objects, {r.items} items, {r.messages} queued messages)",
                    file=out,
                )
            print(f"  logs:       {stack.functions_log.resolve()}", file=out)
            if stack.fault_plan is not None:
                print(
                    f"  FAULTS:     {stack.fault_plan.describe()}  (injected on purpose)", file=out
                )
            secret = stack.resources.env["OCRPIPE_WEBHOOK_SECRET"]
            print(f"  webhook signing secret: {secret}", file=out)
            print("\nTry:", file=out)
            print(
                f"  curl -s -X POST {api}/uploads -H 'content-type: application/json' \\\n"
                '    -d \'{"filename": "scan.png", "content_type": "image/png", '
                '"size_bytes": 12345}\'',
                file=out,
            )
            print(
                "  then POST the file to upload.url with upload.fields (multipart form).", file=out
            )
            print("\nCtrl-C to stop.", file=out, flush=True)
            done.wait()
            finished = _finish_in_flight(stack, done, args.drain_timeout, out)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0 if finished else 1


def _finish_in_flight(
    stack: LocalStack, interrupt: threading.Event, timeout: float, out: TextIO
) -> bool:
    """On SIGINT/SIGTERM: take no new uploads, finish what was accepted, then stop.

    Everything in flight lives in the emulator's memory, so stopping at once would lose the
    documents whose bytes were accepted but not yet counted. A second signal stops at once."""
    interrupt.clear()
    stack.stop_api()
    print(
        "stopping: no new uploads; finishing the documents in flight (Ctrl-C again to stop now)…",
        file=out,
        flush=True,
    )
    deadline = time.monotonic() + timeout
    while not interrupt.is_set() and time.monotonic() < deadline:
        if stack.drain(timeout=1.0):
            print("all accepted documents finished; stopped", file=out)
            return True
    left = ", ".join(
        f"{name}: {depth.total}" for name, depth in sorted(stack.stuck_messages().items())
    )
    print(f"ERROR: stopped with work unfinished ({left or 'workers busy'})", file=out)
    return False


def replay(args: argparse.Namespace, out: TextIO) -> int:
    """``ocrpipe replay``: locally from the archive file, or ``--aws`` with StartReplay."""
    window = replay_mod.Window.parse(args.since, args.until)
    consumers = replay_mod.parse_csv_args(args.to) or None
    event_types = replay_mod.parse_csv_args(args.event) or None
    if args.aws:
        return _replay_on_aws(args, window, consumers, event_types, out)

    options: dict[str, Any] = {
        "window": window,
        "event_types": event_types,
        "consumers": consumers,
        "reocr": args.reocr,
        "renotify": args.renotify,
        "name": args.name,
    }

    started = datetime.now(UTC)

    def replay_on(stack: LocalStack) -> bool:
        report = replay_mod.replay_local(stack, **options)
        replay_mod.summarise(report, out)
        with QueuesProgress() as progress:
            drained = stack.drain(timeout=args.timeout, on_depths=progress.left)
        if args.reocr and stack.archive is not None:  # drained: the archive has it all
            replay_mod.summarise_skipped_rereads(stack.archive.events, started, out)
        return drained

    attached = active_stack()
    running = None if attached is not None else _running_elsewhere(args, out)
    if isinstance(running, int):
        return running
    if attached is not None:
        drained = replay_on(attached)
    elif running is not None:
        return _replay_attached(running, args, options, out)
    else:
        with _command_stack(args) as stack:
            drained = replay_on(stack)
    if not drained:
        print(f"ERROR: consumers still busy after {args.timeout:g} s", file=out)
        return 1
    return 0


def _replay_attached(
    running: attach.AttachedStack, args: argparse.Namespace, options: dict[str, Any], out: TextIO
) -> int:
    """Replay into the consumers of the ``ocrpipe up`` this command attached to."""
    info = running.info
    place = Place(stage=info.stage, account=emulator.ACCOUNT, region=emulator.REGION)
    before = running.queue_depths()
    started = datetime.now(UTC)
    report = replay_mod.replay_archive(
        running.archive_path,
        discover(info.consumer_packages),
        place,
        info.queues,
        running.client("sqs"),
        **options,
    )
    replay_mod.summarise(report, out)
    with QueuesProgress() as progress:
        drained = running.drain(timeout=args.timeout, on_depths=progress.left)
    if not drained:
        print(f"ERROR: consumers still busy after {args.timeout:g} s", file=out)
        return 1
    if args.reocr:
        replay_mod.summarise_skipped_rereads(read_archive(running.archive_path), started, out)
    after = running.queue_depths()
    failed = {
        name: after[name] - before.get(name, 0)
        for name in after
        if name.endswith("-dlq") and after[name] > before.get(name, 0)
    }
    if failed:
        detail = ", ".join(f"{n} to {q}" for q, n in sorted(failed.items()))
        print(f"ERROR: replayed messages failed and went to dead-letter queues: {detail}", file=out)
        print(f"       see {running.functions_log}", file=out)
        return 1
    return 0


def _replay_on_aws(
    args: argparse.Namespace,
    window: replay_mod.Window,
    consumers: list[str] | None,
    event_types: list[str] | None,
    out: TextIO,
) -> int:
    refused = [
        (flag, why)
        for flag, why in (
            ("--event", "StartReplay cannot select event types; each rule's pattern does"),
            ("--reocr", "StartReplay replays events unchanged; use `ocrpipe backfill --reocr`"),
            ("--renotify", "StartReplay replays events unchanged; notify cannot be told to"),
        )
        if (flag == "--event" and event_types)
        or (flag == "--reocr" and args.reocr)
        or (flag == "--renotify" and args.renotify)
    ]
    if refused:
        for flag, why in refused:
            print(f"ocrpipe: {flag} is not available with --aws: {why}", file=sys.stderr)
        return 2
    try:  # real AWS: the user's credentials and configuration, no emulator
        events = boto3.session.Session(region_name=args.region).client("events")
        place = Place(stage=args.stage, region=events.meta.region_name)
        request = replay_mod.prepare_aws_replay(
            events,
            topology=discover(args.consumer or ()),
            place=place,
            window=window,
            consumers=consumers,
            name=args.name,
        )
        state = replay_mod.replay_on_aws(
            events, request, out=out, poll_s=args.poll, timeout_s=args.timeout
        )
    except (BotoCoreError, ClientError) as exc:
        print(f"ocrpipe: AWS refused the replay: {exc}", file=sys.stderr)
        return 1
    return 0 if state == "COMPLETED" else 1


def backfill(args: argparse.Namespace, out: TextIO) -> int:
    """``ocrpipe backfill``: announce existing objects (locally, or ``--aws``)."""
    inventory = Path(args.inventory) if args.inventory else None
    if args.aws:
        try:  # real AWS: the user's credentials and configuration, no emulator
            session = boto3.session.Session(region_name=args.region)
            s3 = session.client("s3")
            events = session.client("events")
            bus = Place(stage=args.stage).name("bus")
            return _backfill_with(args, inventory, s3, events, bus, None, out)
        except (BotoCoreError, ClientError) as exc:
            print(f"ocrpipe: AWS refused the backfill: {exc}", file=sys.stderr)
            return 1
    target: LocalStack | attach.AttachedStack | None = active_stack()
    if target is None:
        running = _running_elsewhere(args, out)
        if isinstance(running, int):
            return running
        target = running
    if target is not None:
        stage = target.place.stage if isinstance(target, LocalStack) else target.info.stage
        return _backfill_with(
            args,
            inventory,
            target.client("s3"),
            target.client("events"),
            Place(stage=stage).name("bus"),
            target,
            out,
        )
    with _command_stack(args) as stack:
        return _backfill_with(
            args,
            inventory,
            stack.client("s3"),
            stack.client("events"),
            stack.resources.bus_name,
            stack,
            out,
        )


def _backfill_with(
    args: argparse.Namespace,
    inventory: Path | None,
    s3: Any,
    events: Any,
    bus: str,
    stack: LocalStack | attach.AttachedStack | None,
    out: TextIO,
) -> int:
    description, rows = backfill_mod.load_rows(args.source, inventory, s3)
    job = backfill_mod.job_name(description, args.stage + (":aws" if args.aws else ""))
    checkpoint_path = Path(args.state_dir) / "backfill" / f"{job}.jsonl"
    if args.restart:
        checkpoint_path.unlink(missing_ok=True)
    checkpoint = backfill_mod.Checkpoint(checkpoint_path)
    backfill_mod.print_header(description, rows, checkpoint, out)
    publisher = EventPublisher(events, bus)
    settings = ValidationSettings(bus_name=bus)
    with CountsProgress(len(rows), description="backfill") as progress:
        summary = backfill_mod.run_backfill(
            rows,
            backfiller=Backfiller(s3=s3, limits=settings.limits(), reocr=args.reocr),
            publisher=publisher,
            checkpoint=checkpoint,
            limiter=backfill_mod.RateLimiter(args.rate),
            progress=progress,
            limit=args.limit,
        )
    summary.print(out)
    print(f"checkpoint: {checkpoint_path}", file=out)
    if stack is not None and args.wait and summary.document_ids:
        found = stack.wait_for(summary.document_ids, args.timeout)
        outcomes = backfill_mod.pipeline_outcomes(found)
        print(
            "pipeline: " + ", ".join(f"{n} {k}" for k, n in sorted(outcomes.items())),
            file=out,
        )
        if isinstance(stack, LocalStack):
            stack.drain(timeout=min(60.0, args.timeout))
        # Rejected documents are bad input, told as such; a failed read or no outcome at all
        # is the backfill not done.
        unfinished = outcomes["ocr_failed"] + outcomes["count_failed"] + outcomes["pending"]
        if unfinished:
            print(
                f"ERROR: {unfinished} backfilled document(s) failed or got no outcome "
                "(`ocrpipe documents` has each one's stage and reason)",
                file=out,
            )
            return 1
    if summary.stopped_early:
        return 3
    return 1 if summary.counts["failed"] else 0


def dlq(args: argparse.Namespace, out: TextIO) -> int:
    """``ocrpipe dlq [--redrive] [--to CONSUMER]``: the running stack's dead-letter queues."""
    in_process = active_stack()
    if in_process is not None:
        provisioned = in_process.resources.consumers
        queues = {n: c.queue.url for n, c in provisioned.items()}
        dlqs = {n: c.dlq.url for n, c in provisioned.items()}
        sqs = in_process.client("sqs")
    else:
        running = _running_elsewhere(args, out)
        if isinstance(running, int):
            return running
        if running is None:
            print(
                f"ocrpipe: no stack runs on {args.state_dir}: dead-letter queues live in the "
                "running stack (`ocrpipe up`)",
                file=sys.stderr,
            )
            return 2
        queues, dlqs, sqs = running.info.queues, running.info.dlqs, running.client("sqs")
    chosen = replay_mod.parse_csv_args(args.to) or sorted(dlqs)
    unknown = sorted(set(chosen) - set(dlqs))
    if unknown:
        print(f"ocrpipe: no consumer {unknown}; consumers: {sorted(dlqs)}", file=sys.stderr)
        return 2
    total = 0
    for name in chosen:
        if args.redrive:
            moved = dlq_mod.redrive(sqs, dlqs[name], queues[name])
            total += moved
            print(f"{name}: {moved} message(s) moved back to its queue", file=out)
            continue
        letters = dlq_mod.peek(sqs, dlqs[name])
        total += len(letters)
        print(f"{name}: {len(letters)} message(s)", file=out)
        for letter in letters:
            print(
                f"  {letter.detail_type:<20} {letter.document_id:<34} "
                f"received {letter.receive_count}x  {letter.message_id}",
                file=out,
            )
    if not args.redrive and total:
        print(
            f"\nwhy: {Path(args.state_dir) / 'logs' / 'functions.jsonl'}; after the fix: "
            "ocrpipe dlq --redrive",
            file=out,
        )
    return 0


def documents(args: argparse.Namespace, out: TextIO) -> int:
    """``ocrpipe documents [ID]``: the documents of the data directory, or one of them."""
    views = documents_mod.load(Path(args.state_dir))
    if args.document_id:
        found = [v for v in views if v.status.document_id == args.document_id]
        if not found:
            print(f"ocrpipe: no document {args.document_id} in {args.state_dir}", file=sys.stderr)
            return 1
        view = found[0]
        detail = {
            **view.status.public(),
            "language": view.language,
            "top_words": [{"word": w, "count": c} for w, c in view.top_words],
            "events": view.events,
        }
        print(json.dumps(detail, ensure_ascii=False, indent=2), file=out)
        return 0
    if args.json:
        rows = [v.status.public() for v in views]
        print(json.dumps(rows, ensure_ascii=False, indent=2), file=out)
        return 0
    header = f"{'DOCUMENT':<32}  {'FILE':<24}  {'STAGE':<20}  {'WORDS':>6}  {'UNIQUE':>6}  UPDATED"
    print(header, file=out)
    print("-" * len(header), file=out)
    for view in views:
        st = view.status
        words = "" if st.total_words is None else str(st.total_words)
        unique = "" if st.unique_words is None else str(st.unique_words)
        updated = st.updated_at.strftime("%Y-%m-%d %H:%M:%S")
        print(
            f"{st.document_id:<32}  {_cell(st.filename, 24):<24}  {st.stage.value:<20}  "
            f"{words:>6}  {unique:>6}  {updated}",
            file=out,
        )
    print(f"\n{len(views)} document(s) in {Path(args.state_dir).resolve()}", file=out)
    return 0


def _command_stack(args: argparse.Namespace) -> LocalStack:
    """The stack a command runs for its own duration when no ``ocrpipe up`` runs."""
    return LocalStack(
        state_dir=args.state_dir,
        stage=args.stage,
        consumers=args.consumer or (),
        workers=_worker_counts(args.workers),
    )


def _fault_plan(text: str | None) -> faults.FaultPlan | None:
    if not text:
        return None
    try:
        return faults.parse_plan(text)
    except faults.FaultPlanError as exc:
        raise SystemExit(f"ocrpipe: --faults: {exc}") from None


def _worker_counts(values: Sequence[str] | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values or []:
        name, _, number = value.partition("=")
        if not name or not number.isdigit() or int(number) < 1:
            raise SystemExit(f"ocrpipe: --workers expects CONSUMER=N with N >= 1, got {value!r}")
        counts[name] = int(number)
    return counts


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocrpipe", description="Run the ocrpipe pipeline on this machine (no AWS account)."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--data-dir",
        "--state-dir",
        dest="state_dir",
        default=DEFAULT_STATE_DIR,
        help=(
            "the stack's data directory: archive, outbox, logs, and how commands find a "
            "running `ocrpipe up` (default ./.ocrpipe)"
        ),
    )
    common.add_argument(
        "--stage",
        default="local",
        help="stage name; stacks of one process share the emulator, isolated by stage",
    )
    common.add_argument(
        "--consumer",
        action="append",
        metavar="PKG",
        help=(
            "also run the consumers declared by this importable package "
            "(its ocrpipe-service.json; repeatable)"
        ),
    )
    common.add_argument(
        "--workers",
        action="append",
        metavar="CONSUMER=N",
        help="worker threads for a consumer (default: one per core for ocr, else 1)",
    )

    p = sub.add_parser("process", parents=[common], help="OCR and count the words of files")
    p.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    p.add_argument("--out", metavar="DIR", help="write <stem>.txt and <stem>.words.json here")
    target = p.add_mutually_exclusive_group()
    target.add_argument("--email", metavar="ADDR", help="e-mail the result (written to the outbox)")
    target.add_argument("--webhook", metavar="URL", help="POST the signed result to this URL")
    p.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for outcomes"
    )
    p.add_argument("--json", metavar="FILE", help="also write a machine-readable report")
    p.add_argument(
        "--lang",
        choices=LANGUAGES,
        help="the documents' language (default: detected per document)",
    )

    d = sub.add_parser(
        "documents",
        parents=[common],
        help="list the documents of the data directory (from its event archive)",
    )
    d.add_argument("document_id", nargs="?", help="show this document in full")
    d.add_argument("--json", action="store_true", help="print JSON")

    q = sub.add_parser(
        "dlq",
        parents=[common],
        help="list the running stack's dead-letter queues, or move their messages back",
    )
    q.add_argument("--to", action="append", metavar="CONSUMER", help="only these consumers")
    q.add_argument("--redrive", action="store_true", help="move the messages back to their queues")

    u = sub.add_parser("up", parents=[common], help="run the stack and API until Ctrl-C")
    u.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    u.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the API and web page listen on (default: loopback only; 0.0.0.0 lets "
        "phones and laptops on your network open the page)",
    )
    u.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let web pages from ORIGIN (e.g. http://localhost:5173, or *) call the API",
    )
    u.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="on Ctrl-C/SIGTERM, seconds to finish accepted documents before stopping",
    )
    u.add_argument(
        "--faults",
        metavar="PLAN",
        default=os.environ.get("OCRPIPE_FAULTS"),
        help=(
            "inject faults on purpose: a profile (soak, flaky-aws, at-least-once, crashes) "
            "and/or settings like aws=0.1,duplicate=0.05,seed=7 (docs/operations.md; "
            "default $OCRPIPE_FAULTS, else none)"
        ),
    )

    r = sub.add_parser(
        "replay",
        parents=[common],
        help="replay archived events to consumers",
        description=(
            "Replay the events archived in [--since, --until) to the consumers whose rules "
            "match them (only those named by --to). Locally from <state-dir>/archive.jsonl; "
            "with --aws by StartReplay on the stage's bus archive."
        ),
    )
    r.add_argument("--since", help="ISO-8601 time or a duration before now (30m, 2h, 7d)")
    r.add_argument("--until", help="ISO-8601 time or duration before now (default: now)")
    r.add_argument(
        "--event", action="append", metavar="TYPE", help="only these detail-types (repeatable)"
    )
    r.add_argument(
        "--to", action="append", metavar="CONSUMER", help="only these consumers (repeatable)"
    )
    r.add_argument("--reocr", action="store_true", help="read documents again (local only)")
    r.add_argument("--renotify", action="store_true", help="tell people again (local only)")
    r.add_argument("--name", help="replay name (default: generated)")
    r.add_argument("--aws", action="store_true", help="replay in AWS (your credentials)")
    r.add_argument("--region", help="AWS region (default: your AWS configuration)")
    r.add_argument("--poll", type=float, default=5.0, help="seconds between progress checks")
    r.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for the end"
    )

    b = sub.add_parser(
        "backfill",
        parents=[common],
        help="put existing S3 objects through the pipeline",
        description=(
            "Check every object under s3://bucket/prefix (or listed in an S3 Inventory / "
            "Batch Operations CSV) and publish DocumentUploaded for it, at a bounded rate, "
            "resumably. Exit code: 0 done, 1 some rows failed (run again), 3 stopped early."
        ),
    )
    b.add_argument("source", nargs="?", metavar="s3://BUCKET/PREFIX", help="objects to backfill")
    b.add_argument("--inventory", metavar="FILE.csv", help="bucket,key rows (keys URL-encoded)")
    b.add_argument("--rate", type=float, default=20.0, help="objects per second (default 20)")
    b.add_argument("--limit", type=int, help="stop after this many new rows (resume later)")
    b.add_argument("--reocr", action="store_true", help="OCR again what was read before")
    b.add_argument("--restart", action="store_true", help="forget the checkpoint, start over")
    b.add_argument("--aws", action="store_true", help="backfill in AWS (your credentials)")
    b.add_argument("--region", help="AWS region (default: your AWS configuration)")
    b.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="locally: do not wait for the documents' outcomes",
    )
    b.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for outcomes"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "process":
            return process(args, sys.stdout)
        if args.command == "replay":
            return replay(args, sys.stdout)
        if args.command == "backfill":
            return backfill(args, sys.stdout)
        if args.command == "documents":
            return documents(args, sys.stdout)
        if args.command == "dlq":
            return dlq(args, sys.stdout)
        return up(args, sys.stdout)
    except (ValueError, StackError, attach.AlreadyRunningError) as exc:  # bad args, busy dir
        print(f"ocrpipe: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
