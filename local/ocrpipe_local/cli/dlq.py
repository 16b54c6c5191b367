"""``ocrpipe dlq``: the running stack's dead-letter queues, listed or moved back (the logic:
:mod:`ocrpipe_local.dlq`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from ocrpipe_local.cli.common import parse_csv_args, running_elsewhere


def run(args: argparse.Namespace, out: TextIO) -> int:
    """``ocrpipe dlq [--redrive] [--to CONSUMER]``: the running stack's dead-letter queues."""
    from ocrpipe_local import dlq as dlq_mod
    from ocrpipe_local.stack import active_stack

    in_process = active_stack()
    if in_process is not None:
        provisioned = in_process.resources.consumers
        queues = {n: c.queue.url for n, c in provisioned.items()}
        dlqs = {n: c.dlq.url for n, c in provisioned.items()}
        sqs = in_process.client("sqs")
    else:
        running = running_elsewhere(args, out)
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
    chosen = parse_csv_args(args.to) or sorted(dlqs)
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


HELP = "list the running stack's dead-letter queues, or move their messages back"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--to", action="append", metavar="CONSUMER", help="only these consumers")
    parser.add_argument(
        "--redrive", action="store_true", help="move the messages back to their queues"
    )
