"""``ocrpipe up``: keep the stack running for manual use (curl, a browser form, another
program, commands that attach) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import os
import signal
import threading
import time
from typing import TYPE_CHECKING, TextIO

from ocrpipe_local.cli.common import worker_counts

if TYPE_CHECKING:
    from ocrpipe_local import faults
    from ocrpipe_local.stack import OneMachineStack


def run(args: argparse.Namespace, out: TextIO) -> int:
    from ocrpipe_local import durable
    from ocrpipe_local.stack import OneMachineStack

    done = threading.Event()
    previous = {
        sig: signal.signal(sig, lambda *_: done.set()) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        with OneMachineStack(
            state_dir=args.state_dir,
            stage=args.stage,
            attachable=True,
            api_port=args.port,
            api_host=args.host,
            consumers=args.consumer or (),
            workers=worker_counts(args.workers),
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
    stack: OneMachineStack, interrupt: threading.Event, timeout: float, out: TextIO
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


def _fault_plan(text: str | None) -> faults.FaultPlan | None:
    from ocrpipe_local import faults

    if not text:
        return None
    try:
        return faults.parse_plan(text)
    except faults.FaultPlanError as exc:
        raise SystemExit(f"ocrpipe: --faults: {exc}") from None


HELP = "run the stack and API until Ctrl-C"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--port", type=int, default=0, help="API port (default: a free one)")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address the API and web page listen on (default: loopback only; 0.0.0.0 lets "
        "phones and laptops on your network open the page)",
    )
    parser.add_argument(
        "--cors-origin",
        action="append",
        metavar="ORIGIN",
        help="let web pages from ORIGIN (e.g. http://localhost:5173, or *) call the API",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="on Ctrl-C/SIGTERM, seconds to finish accepted documents before stopping",
    )
    parser.add_argument(
        "--faults",
        metavar="PLAN",
        default=os.environ.get("OCRPIPE_FAULTS"),
        help=(
            "inject faults on purpose: a profile (soak, flaky-aws, at-least-once, crashes) "
            "and/or settings like aws=0.1,duplicate=0.05,seed=7 (docs/operations.md; "
            "default $OCRPIPE_FAULTS, else none)"
        ),
    )
