"""``python -m ocrpipe_local.cli``: the ``ocrpipe`` command without its entry-point script."""

from ocrpipe_local.cli import main

raise SystemExit(main())
