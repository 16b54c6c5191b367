"""``ocrpipe replay``: archived events again to chosen consumers, locally from the archive
file or ``--aws`` with EventBridge's StartReplay (the logic:
:mod:`ocrpipe_local.operations.replay`)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from ocrpipe.topology import Place
from ocrpipe_local import attach, loopback
from ocrpipe_local.archive import read_archive
from ocrpipe_local.cli.common import (
    DEFAULT_TIMEOUT_S,
    command_stack,
    parse_csv_args,
    running_elsewhere,
)
from ocrpipe_local.discovery import discover
from ocrpipe_local.progress import QueuesProgress

if TYPE_CHECKING:
    from ocrpipe_local.operations.replay import Window
    from ocrpipe_local.stack import OneMachineStack


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``ocrpipe replay``: locally from the archive file, or ``--aws`` with StartReplay."""
    from ocrpipe_local.operations import replay as replay_mod
    from ocrpipe_local.stack import active_stack

    window = replay_mod.Window.parse(args.since, args.until)
    consumers = parse_csv_args(args.to) or None
    event_types = parse_csv_args(args.event) or None
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

    def replay_on(stack: OneMachineStack) -> bool:
        report = replay_mod.replay_local(stack, **options)
        replay_mod.summarise(report, out)
        with QueuesProgress() as progress:
            drained = stack.drain(timeout=args.timeout, on_depths=progress.left)
        if args.reocr and stack.archive is not None:  # drained: the archive has it all
            replay_mod.summarise_skipped_rereads(stack.archive.events, started, out)
        return drained

    attached = active_stack()
    running = None if attached is not None else running_elsewhere(args, out)
    if isinstance(running, int):
        return running
    if attached is not None:
        drained = replay_on(attached)
    elif running is not None:
        return _replay_attached(running, args, options, out)
    else:
        with command_stack(args) as stack:
            drained = replay_on(stack)
    if not drained:
        print(f"ERROR: consumers still busy after {args.timeout:g} s", file=out)
        return 1
    return 0


def _replay_attached(
    running: attach.AttachedStack, args: argparse.Namespace, options: dict[str, Any], out: TextIO
) -> int:
    """Replay into the consumers of the ``ocrpipe up`` this command attached to."""
    from ocrpipe_local.operations import replay as replay_mod

    info = running.info
    place = Place(stage=info.stage, account=loopback.ACCOUNT, region=loopback.REGION)
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
    window: Window,
    consumers: list[str] | None,
    event_types: list[str] | None,
    out: TextIO,
) -> int:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    from ocrpipe_local.operations import replay as replay_mod

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


HELP = "replay archived events to consumers"
DESCRIPTION = (
    "Replay the events archived in [--since, --until) to the consumers whose rules "
    "match them (only those named by --to). Locally from <state-dir>/archive.jsonl; "
    "with --aws by StartReplay on the stage's bus archive."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--since", help="ISO-8601 time or a duration before now (30m, 2h, 7d)")
    parser.add_argument("--until", help="ISO-8601 time or duration before now (default: now)")
    parser.add_argument(
        "--event", action="append", metavar="TYPE", help="only these detail-types (repeatable)"
    )
    parser.add_argument(
        "--to", action="append", metavar="CONSUMER", help="only these consumers (repeatable)"
    )
    parser.add_argument("--reocr", action="store_true", help="read documents again (local only)")
    parser.add_argument("--renotify", action="store_true", help="tell people again (local only)")
    parser.add_argument("--name", help="replay name (default: generated)")
    parser.add_argument("--aws", action="store_true", help="replay in AWS (your credentials)")
    parser.add_argument("--region", help="AWS region (default: your AWS configuration)")
    parser.add_argument("--poll", type=float, default=5.0, help="seconds between progress checks")
    parser.add_argument(
        "--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="seconds to wait for the end"
    )
