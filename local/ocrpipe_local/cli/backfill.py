"""``ocrpipe backfill``: put objects that already exist in S3 through the pipeline, locally
or ``--aws`` (the logic: :mod:`ocrpipe_local.operations.backfill`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from ocrpipe.topology import Place
from ocrpipe_local.cli.common import DEFAULT_TIMEOUT_S, command_stack, running_elsewhere
from ocrpipe_local.progress import CountsProgress

if TYPE_CHECKING:
    from ocrpipe_local import attach
    from ocrpipe_local.stack import OneMachineStack


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``ocrpipe backfill``: announce existing objects (locally, or ``--aws``)."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from ocrpipe_local.stack import OneMachineStack, active_stack

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
    target: OneMachineStack | attach.AttachedStack | None = active_stack()
    if target is None:
        running = running_elsewhere(args, out)
        if isinstance(running, int):
            return running
        target = running
    if target is not None:
        stage = target.place.stage if isinstance(target, OneMachineStack) else target.info.stage
        return _backfill_with(
            args,
            inventory,
            target.client("s3"),
            target.client("events"),
            Place(stage=stage).name("bus"),
            target,
            out,
        )
    with command_stack(args) as stack:
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
    stack: OneMachineStack | attach.AttachedStack | None,
    out: TextIO,
) -> int:
    from ingest.backfill import Backfiller
    from ingest.config import ValidationSettings
    from ocrpipe.bus import EventPublisher
    from ocrpipe_local.operations import backfill as backfill_mod
    from ocrpipe_local.stack import OneMachineStack

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
        if isinstance(stack, OneMachineStack):
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


HELP = "put existing S3 objects through the pipeline"
DESCRIPTION = (
    "Check every object under s3://bucket/prefix (or listed in an S3 Inventory / "
    "Batch Operations CSV) and publish DocumentUploaded for it, at a bounded rate, "
    "resumably. Exit code: 0 done, 1 some rows failed (run again), 3 stopped early."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "source", nargs="?", metavar="s3://BUCKET/PREFIX", help="objects to backfill"
    )
    parser.add_argument(
        "--inventory", metavar="FILE.csv", help="bucket,key rows (keys URL-encoded)"
    )
    parser.add_argument("--rate", type=float, default=20.0, help="objects per second (default 20)")
    parser.add_argument("--limit", type=int, help="stop after this many new rows (resume later)")
    parser.add_argument("--reocr", action="store_true", help="OCR again what was read before")
    parser.add_argument("--restart", action="store_true", help="forget the checkpoint, start over")
    parser.add_argument("--aws", action="store_true", help="backfill in AWS (your credentials)")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration)")
    parser.add_argument(
        "--no-wait",
        dest="wait",
        action="store_false",
        help="locally: do not wait for the documents' outcomes",
    )
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for outcomes"
    )
