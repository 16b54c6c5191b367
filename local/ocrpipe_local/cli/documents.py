"""``ocrpipe documents [ID]``: the documents of the data directory, from its event archive
(the logic: :mod:`ocrpipe_local.documents`)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TextIO

from ocrpipe_local import documents as documents_mod
from ocrpipe_local.cli.common import cell


def run(args: argparse.Namespace, out: TextIO) -> int:
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
            f"{st.document_id:<32}  {cell(st.filename, 24):<24}  {st.stage.value:<20}  "
            f"{words:>6}  {unique:>6}  {updated}",
            file=out,
        )
    print(f"\n{len(views)} document(s) in {Path(args.state_dir).resolve()}", file=out)
    return 0


HELP = "list the documents of the data directory (from its event archive)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("document_id", nargs="?", help="show this document in full")
    parser.add_argument("--json", action="store_true", help="print JSON")
