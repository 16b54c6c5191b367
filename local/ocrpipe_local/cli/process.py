"""``ocrpipe process PATH...``: upload each file through the real HTTP API and presigned POST,
wait for every document's outcome, print a table (and write the outputs)."""

from __future__ import annotations

import argparse
import hashlib
import json
import mimetypes
import sys
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import requests

from ocrpipe.content_types import MAGIC_BYTES, sniff_content_type
from ocrpipe.events import (
    LANGUAGES,
    OUTCOME_EVENTS,
    NotificationFailed,
    NotificationSent,
    OcrCompleted,
    WordsCounted,
)
from ocrpipe.storage import S3Location
from ocrpipe_local.archive import ArchivedEvent
from ocrpipe_local.cli.common import (
    DEFAULT_TIMEOUT_S,
    cell,
    command_stack,
    running_elsewhere,
)
from ocrpipe_local.progress import DocumentsProgress

if TYPE_CHECKING:
    from ocrpipe_local.stack import QueueDepth

SUPPORTED_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".tif", ".tiff", ".pdf"})
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
        if isinstance(event, OUTCOME_EVENTS):
            outcome.status = event.OUTCOME
            if isinstance(event, WordsCounted):
                outcome.total_words = event.total_words
                outcome.unique_words = event.unique_words
                outcome.top_words = [(w.word, w.count) for w in event.top_words]
                outcome.text_uri = event.text_uri
                outcome.result_uri = event.result_uri
            else:
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


def output_names(outcomes: Sequence[DocumentOutcome]) -> list[str]:
    """Each input's output stem, in the order the inputs were given (a second
    ``scan.png`` from another folder is always ``scan-2``, whichever finishes first)."""
    taken: set[str] = set()
    names = []
    for outcome in outcomes:
        names.append(output_stem(outcome.path.stem, taken))
        taken.add(names[-1])
    return names


def write_outputs(stack: ProcessTarget, outcome: DocumentOutcome, out_dir: Path, name: str) -> None:
    """``<name>.txt`` and ``<name>.words.json`` of a counted document."""
    s3 = stack.client("s3")
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
            f"{cell(o.path.name, width):<{width}}  {status:<8}  {total:>6}  {unique:>6}  {top}",
            file=out,
        )
        if o.reason:
            print(f"{'':<{width}}  ↳ {o.reason}", file=out)
    if any(o.cached for o in outcomes):
        print("* text from the OCR cache (same bytes read before)", file=out)


class ProcessTarget(Protocol):
    """What ``process`` needs of a stack: its own (:class:`OneMachineStack`) or one it attached
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


def process_on(
    stack: ProcessTarget,
    args: argparse.Namespace,
    outcomes: list[DocumentOutcome],
    recipient: dict[str, str],
) -> None:
    """Upload every file through the API, wait for the outcomes, write the outputs."""
    session = requests.Session()
    session.trust_env = False  # loopback only: never a proxy
    fields = {**recipient, **({"language": args.lang} if args.lang else {})}
    names = dict(zip((id(o) for o in outcomes), output_names(outcomes), strict=True))
    by_id: dict[str, DocumentOutcome] = {}
    applied: dict[str, int] = {}

    def write(outcome: DocumentOutcome) -> None:
        if not args.out or outcome.status != "counted" or outcome.outputs:
            return
        try:
            write_outputs(stack, outcome, Path(args.out), names[id(outcome)])
        except Exception as exc:
            outcome.status = "error"
            outcome.reason = f"could not write outputs: {exc}"

    def saw(event: ArchivedEvent) -> None:
        """An event of one of the documents, as it arrives: shown, applied, and a counted
        document's outputs written at once (not all at the end)."""
        progress.saw(event)
        outcome = by_id.get(event.document_id)
        if outcome is not None:
            apply_events(outcome, [event])
            applied[event.document_id] = applied.get(event.document_id, 0) + 1
            write(outcome)

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
        by_id.update((o.document_id, o) for o in waiting)
        notified = [o.document_id for o in waiting] if recipient else []
        events = stack.wait_for(
            [o.document_id for o in waiting],
            args.timeout,
            notified=notified,
            on_event=saw,
        )
    for outcome in waiting:
        # Events archived after the last one shown (the display is told within a second).
        apply_events(
            outcome, events.get(outcome.document_id, [])[applied.get(outcome.document_id, 0) :]
        )
        write(outcome)
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


def run(args: argparse.Namespace, out: TextIO) -> int:
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
    running = running_elsewhere(args, out)
    if isinstance(running, int):
        return running
    if running is not None:
        attached = running
        process_on(attached, args, outcomes, recipient)
        outbox, functions_log = attached.outbox_dir, attached.functions_log
    else:
        print(
            f"no stack runs on {args.state_dir}: starting one for this command "
            "(`ocrpipe up` keeps one running)",
            file=out,
        )
        with command_stack(args) as stack:
            process_on(stack, args, outcomes, recipient)
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


HELP = "OCR and count the words of files"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="files or directories")
    parser.add_argument("--out", metavar="DIR", help="write <stem>.txt and <stem>.words.json here")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--email", metavar="ADDR", help="e-mail the result (written to the outbox)")
    target.add_argument("--webhook", metavar="URL", help="POST the signed result to this URL")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for outcomes"
    )
    parser.add_argument("--json", metavar="FILE", help="also write a machine-readable report")
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        help="the documents' language (default: detected per document)",
    )
