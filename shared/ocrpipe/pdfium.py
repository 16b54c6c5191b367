"""The one process-wide lock around PDFium.

PDFium is not thread-safe, not even across different documents, and the local runtime runs
every service's handlers in threads of ONE process. A per-service lock therefore does not
protect anything: every caller of pypdfium2 (ingest's validation, ocr's rendering) must hold
this lock for the whole time it uses a document, including closing it.
"""

from __future__ import annotations

import threading

PDFIUM_LOCK = threading.RLock()
