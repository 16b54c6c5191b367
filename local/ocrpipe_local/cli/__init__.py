"""The ``ocrpipe`` command: run the whole pipeline on this machine.

``ocrpipe process PATH...`` starts the local stack, uploads each file through the real HTTP API
and presigned POST, waits for every document's outcome and prints a table. ``ocrpipe up`` keeps
the stack running for manual use (curl, a browser form, another program).

One module per command (``process``, ``documents``, ``dlq``, ``up``, ``replay``, ``backfill``),
each with its options (``HELP``, ``add_arguments``) and what it does (``run``); what several
share is in ``common``. This module only builds the parser and dispatches.

Command modules import the runtime (the stack, the emulator, boto3, the services) inside the
functions that start or call it, not at the top: a command attached to a running
``ocrpipe up`` needs none of it and starts in ~0.3 s instead of ~0.9 s, which is a page's worth
of engine time on a short ``ocrpipe process``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from ocrpipe_local import attach
from ocrpipe_local.cli import backfill, dlq, documents, process, replay, up
from ocrpipe_local.cli.common import common_options
from ocrpipe_local.errors import StackError

#: Each command's module, in the order ``ocrpipe --help`` lists them.
COMMANDS = {
    "process": process,
    "documents": documents,
    "dlq": dlq,
    "up": up,
    "replay": replay,
    "backfill": backfill,
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ocrpipe", description="Run the ocrpipe pipeline on this machine (no AWS account)."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    common = common_options()
    for name, command in COMMANDS.items():
        command.add_arguments(
            sub.add_parser(
                name,
                parents=[common],
                help=command.HELP,
                description=getattr(command, "DESCRIPTION", None),
            )
        )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "process":
            return process.run(args, sys.stdout)
        if args.command == "replay":
            return replay.run(args, sys.stdout)
        if args.command == "backfill":
            return backfill.run(args, sys.stdout)
        if args.command == "documents":
            return documents.run(args, sys.stdout)
        if args.command == "dlq":
            return dlq.run(args, sys.stdout)
        return up.run(args, sys.stdout)
    except (ValueError, StackError, attach.AlreadyRunningError) as exc:  # bad args, busy dir
        print(f"ocrpipe: {exc}", file=sys.stderr)
        return 2
