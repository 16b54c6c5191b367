"""Tesseract in this process, through libtesseract's C API (``capi.h``), by ctypes.

Why not the ``tesseract`` command: every call of the command starts a process and loads the
language model again (~0.2 s of CPU for English), then encodes and decodes the page through a
pipe. Reading in-process with a model loaded once costs ~19% less CPU per clean page and reads
exactly the same words (TSV compared word for word on real pages). Why not tesserocr (the
Cython binding on PyPI): its only wheels are manylinux_2_28, outside the Lambda-compatible lock
(``scripts/lock.sh``), and building it needs a compiler and Tesseract's headers. The C API is
Tesseract's stable interface for exactly this use, and the library is the one the
``tesseract`` command itself runs on (Debian's ``libtesseract5``, installed with
``tesseract-ocr``).

* One ``TessBaseAPI`` handle reads one page at a time. Handles are pooled per language
  (:class:`ApiPool`): a handle is created and its model loaded the first time a language is
  needed by more threads than have one, and reused after that. The engine's core-count
  semaphore bounds how many exist: cores times languages in use.
* ctypes releases the GIL for the duration of each foreign call, so pages are read in parallel.
* Time-outs use Tesseract's own monitor (``TessMonitorSetDeadlineMSecs``): recognition stops
  at the deadline and the read fails, where a process would be killed.
* OpenMP: Tesseract is several times slower with its own threads on a small machine than with
  one thread per page; each call sets the calling thread to one OpenMP thread.

:func:`load` returns None when the library is missing or not Tesseract 5; the engine then
runs the command.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
import time
from collections import defaultdict
from dataclasses import dataclass

from PIL import Image

from ocr.errors import EngineError

#: Tesseract's ``PSM_AUTO``; the C API's own default is ``PSM_SINGLE_BLOCK``, the command's
#: is this.
PSM_AUTO = 3


@dataclass(frozen=True)
class Library:
    tess: ctypes.CDLL
    omp_set_num_threads: ctypes._CFuncPtr | None  # type: ignore[name-defined]
    version: str


def _bind(lib: ctypes.CDLL) -> None:
    handle, text = ctypes.c_void_p, ctypes.c_char_p
    lib.TessVersion.restype = text
    lib.TessVersion.argtypes = []
    lib.TessBaseAPICreate.restype = handle
    lib.TessBaseAPICreate.argtypes = []
    lib.TessBaseAPIDelete.restype = None
    lib.TessBaseAPIDelete.argtypes = [handle]
    lib.TessBaseAPIInit3.restype = ctypes.c_int
    lib.TessBaseAPIInit3.argtypes = [handle, text, text]
    lib.TessBaseAPISetPageSegMode.restype = None
    lib.TessBaseAPISetPageSegMode.argtypes = [handle, ctypes.c_int]
    lib.TessBaseAPISetImage.restype = None
    lib.TessBaseAPISetImage.argtypes = [
        handle,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.c_int,
    ]
    lib.TessBaseAPISetSourceResolution.restype = None
    lib.TessBaseAPISetSourceResolution.argtypes = [handle, ctypes.c_int]
    lib.TessBaseAPIRecognize.restype = ctypes.c_int
    lib.TessBaseAPIRecognize.argtypes = [handle, handle]
    lib.TessBaseAPIGetTsvText.restype = handle  # a char* Tesseract allocated; freed below
    lib.TessBaseAPIGetTsvText.argtypes = [handle, ctypes.c_int]
    lib.TessDeleteText.restype = None
    lib.TessDeleteText.argtypes = [handle]
    lib.TessBaseAPIClear.restype = None
    lib.TessBaseAPIClear.argtypes = [handle]
    lib.TessMonitorCreate.restype = handle
    lib.TessMonitorCreate.argtypes = []
    lib.TessMonitorDelete.restype = None
    lib.TessMonitorDelete.argtypes = [handle]
    lib.TessMonitorSetDeadlineMSecs.restype = None
    lib.TessMonitorSetDeadlineMSecs.argtypes = [handle, ctypes.c_int]


@functools.cache
def load() -> Library | None:
    """libtesseract 5 with its C API bound, or None when this machine has no such library."""
    # libgomp reads this once, when it is loaded (with libtesseract, if not before).
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    name = ctypes.util.find_library("tesseract") or "libtesseract.so.5"
    try:
        lib = ctypes.CDLL(name)
        _bind(lib)
        version = (lib.TessVersion() or b"").decode("ascii", "replace")
    except (OSError, AttributeError):
        return None
    if not version.startswith("5."):
        return None
    omp: ctypes._CFuncPtr | None = None  # type: ignore[name-defined]
    gomp = ctypes.util.find_library("gomp")
    if gomp:
        try:
            omp = ctypes.CDLL(gomp).omp_set_num_threads
            omp.restype = None
            omp.argtypes = [ctypes.c_int]
        except (OSError, AttributeError):
            omp = None
    return Library(lib, omp, version)


class ApiPool:
    """Idle ``TessBaseAPI`` handles per language; each is used by one thread at a time."""

    def __init__(self, library: Library, datapath: str | None = None) -> None:
        self._lib = library
        self._datapath = datapath.encode() if datapath else None
        self._idle: defaultdict[str, list[int]] = defaultdict(list)
        self._lock = threading.Lock()

    def _take(self, lang: str) -> int:
        with self._lock:
            if self._idle[lang]:
                return self._idle[lang].pop()
        tess = self._lib.tess
        handle: int | None = tess.TessBaseAPICreate()
        if not handle:
            raise EngineError("libtesseract could not create an API handle")
        if tess.TessBaseAPIInit3(handle, self._datapath, lang.encode()) != 0:
            tess.TessBaseAPIDelete(handle)
            raise EngineError(f"Tesseract has no language data for {lang!r}")
        return handle

    def _give_back(self, lang: str, handle: int) -> None:
        with self._lock:
            self._idle[lang].append(handle)

    def idle(self, lang: str) -> int:
        with self._lock:
            return len(self._idle[lang])

    def close(self) -> None:
        """Free the idle handles (their models); handles in use are freed when given back."""
        with self._lock:
            handles = [h for idle in self._idle.values() for h in idle]
            self._idle.clear()
        for handle in handles:
            self._lib.tess.TessBaseAPIDelete(handle)

    def read_tsv(
        self, image: Image.Image, *, lang: str, psm: int, dpi: int, timeout_s: float
    ) -> str:
        """Tesseract's TSV of ``image`` (greyscale), as ``tesseract img stdout tsv`` prints
        its rows."""
        if image.mode != "L":
            image = image.convert("L")
        pixels = image.tobytes()
        tess = self._lib.tess
        handle = self._take(lang)
        monitor = tess.TessMonitorCreate()
        healthy = False
        try:
            if self._lib.omp_set_num_threads is not None:
                self._lib.omp_set_num_threads(1)
            tess.TessBaseAPISetPageSegMode(handle, psm)
            tess.TessBaseAPISetImage(handle, pixels, image.width, image.height, 1, image.width)
            tess.TessBaseAPISetSourceResolution(handle, dpi)
            deadline_ms = max(1, int(timeout_s * 1000))
            tess.TessMonitorSetDeadlineMSecs(monitor, deadline_ms)
            started = time.monotonic()
            if tess.TessBaseAPIRecognize(handle, monitor) != 0:
                if time.monotonic() - started >= timeout_s * 0.99:
                    raise EngineError(f"tesseract took longer than {timeout_s:.0f} s on a page")
                raise EngineError("tesseract could not recognise the page")
            pointer = tess.TessBaseAPIGetTsvText(handle, 0)
            if not pointer:
                raise EngineError("tesseract returned no result for the page")
            try:
                tsv = ctypes.string_at(pointer).decode("utf-8", "replace")
            finally:
                tess.TessDeleteText(pointer)
            tess.TessBaseAPIClear(handle)
            healthy = True
        finally:
            tess.TessMonitorDelete(monitor)
            if healthy:
                self._give_back(lang, handle)
            else:
                tess.TessBaseAPIDelete(handle)
        return TSV_HEADER + tsv


#: The header row the command prints and the C API does not.
TSV_HEADER = (
    "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\t"
    "left\ttop\twidth\theight\tconf\ttext\n"
)
