"""What several ``ocrpipe`` commands share: the common options, and which stack a command
works on (an ``ocrpipe up`` it attaches to, or one it starts for its own duration)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from ocrpipe_local import attach

if TYPE_CHECKING:
    from ocrpipe_local.stack import OneMachineStack

DEFAULT_STATE_DIR = ".ocrpipe"
DEFAULT_TIMEOUT_S = 300.0


def common_options() -> argparse.ArgumentParser:
    """The options every command takes (a parent parser)."""
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
    return common


def cell(text: str, width: int) -> str:
    """``text`` cut to a table column of ``width`` characters."""
    return text if len(text) <= width else text[: width - 1] + "…"


def running_elsewhere(args: argparse.Namespace, out: TextIO) -> attach.AttachedStack | int | None:
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


def command_stack(args: argparse.Namespace) -> OneMachineStack:
    """The stack a command runs for its own duration when no ``ocrpipe up`` runs."""
    from ocrpipe_local.stack import OneMachineStack  # the runtime, only when one is started

    return OneMachineStack(
        state_dir=args.state_dir,
        stage=args.stage,
        consumers=args.consumer or (),
        workers=worker_counts(args.workers),
    )


def parse_csv_args(values: Sequence[str] | None) -> list[str]:
    """``--to a --to b,c`` -> ``[a, b, c]``."""
    found: list[str] = []
    for value in values or []:
        found.extend(v.strip() for v in value.split(",") if v.strip())
    return found


def worker_counts(values: Sequence[str] | None) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values or []:
        name, _, number = value.partition("=")
        if not name or not number.isdigit() or int(number) < 1:
            raise SystemExit(f"ocrpipe: --workers expects CONSUMER=N with N >= 1, got {value!r}")
        counts[name] = int(number)
    return counts
