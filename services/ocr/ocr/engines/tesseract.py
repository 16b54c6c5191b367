"""Tesseract 5 through its CLI, one process per page, at most one process per core.

* ``OMP_THREAD_LIMIT=1``: Tesseract's own OpenMP threads make it several times slower on a
  small box than running one single-threaded process per core.
* A process-wide semaphore caps concurrent ``tesseract`` processes at the core count, so
  several handler threads plus this engine's own page workers never oversubscribe the CPU.
* The page image is piped in as PGM/PPM (no encoding cost), with its resolution passed by
  ``--dpi`` (Tesseract's size heuristics assume 70 dpi when it does not know).
* One run yields TSV: words with confidences *and* their block/paragraph/line numbers, from
  which the text is rebuilt with its line breaks and paragraphs.
"""

from __future__ import annotations

import functools
import hashlib
import io
import os
import re
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from PIL import Image

from ocr.engines.base import PAGE_SEPARATOR, EngineName, OcrResult
from ocr.errors import EngineError
from ocr.pages import Page
from ocr.preprocess import PREPROCESS_VERSION, PreparedImage, prepare, sauvola
from ocr.text import clean_paragraph

TESSERACT_BIN = "tesseract"
DEFAULT_PSM = 3
DEFAULT_TIMEOUT_S = 180.0

#: A page read with a mean word confidence below this is read a second time from a
#: Sauvola-binarised image; the read with the larger sum of word confidences wins.
RETRY_BELOW_CONFIDENCE = 90.0

_CORES = max(1, os.cpu_count() or 1)
#: At most one tesseract process per core in this whole process.
_PROCESS_SLOTS = threading.BoundedSemaphore(_CORES)


@functools.cache
def tesseract_version(binary: str = TESSERACT_BIN) -> str:
    """``5.3.0`` for ``tesseract 5.3.0``; raises :class:`EngineError` when not installed."""
    try:
        out = subprocess.run(
            [binary, "--version"], capture_output=True, timeout=30, check=True, text=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        raise EngineError(f"tesseract is not available: {exc}") from exc
    first = (out.stdout or out.stderr).strip().splitlines()[0]
    return first.split()[-1] if first.startswith("tesseract") else first


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"
    return env


def run_tesseract(
    image: Image.Image,
    args: list[str],
    *,
    dpi: int | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    binary: str = TESSERACT_BIN,
) -> str:
    """Run ``tesseract stdin stdout <args>`` on ``image``; its stdout as text."""
    if image.mode not in ("L", "RGB", "1"):
        image = image.convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PPM")
    command = [binary, "stdin", "stdout"]
    if dpi:
        command += ["--dpi", str(int(dpi))]
    command += args
    with _PROCESS_SLOTS:
        try:
            proc = subprocess.run(
                command,
                input=buffer.getvalue(),
                capture_output=True,
                timeout=timeout_s,
                env=_env(),
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise EngineError(f"tesseract took longer than {timeout_s:.0f} s on a page") from exc
        except OSError as exc:
            raise EngineError(f"tesseract could not be started: {exc}") from exc
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["?"]
        raise EngineError(f"tesseract exited with status {proc.returncode}: {detail[0][:200]}")
    return proc.stdout.decode("utf-8", "replace")


def _mean(values: tuple[float, ...]) -> float:
    return sum(values) / len(values) if values else 0.0


@dataclass(frozen=True)
class PageText:
    text: str
    confidences: tuple[float, ...]


def parse_tsv(tsv: str) -> PageText:
    """Rebuild text from Tesseract TSV: words joined by spaces, lines by newlines,
    paragraphs and blocks by a blank line. Confidences of the non-empty words."""
    paragraphs: list[list[list[str]]] = []
    confidences: list[float] = []
    current_par: tuple[int, int] | None = None
    current_line: tuple[int, int, int] | None = None
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        word = cols[11].strip()
        if not word:
            continue
        try:
            block, par, line = int(cols[2]), int(cols[3]), int(cols[4])
            conf = float(cols[10])
        except ValueError:
            continue
        if (block, par) != current_par:
            paragraphs.append([])
            current_par = (block, par)
            current_line = None
        if (block, par, line) != current_line:
            paragraphs[-1].append([])
            current_line = (block, par, line)
        paragraphs[-1][-1].append(word)
        if conf >= 0:
            confidences.append(conf)
    text = "\n\n".join(
        "\n".join(clean_paragraph([" ".join(words) for words in par])) for par in paragraphs
    )
    return PageText(text=text, confidences=tuple(confidences))


Preprocessor = Callable[[Image.Image, float | None], PreparedImage]

_OSD_ROTATE = re.compile(r"Rotate:\s*(\d+)")
_OSD_CONFIDENCE = re.compile(r"Orientation confidence:\s*([\d.]+)")
#: OSD's orientation confidence below which its answer is ignored.
MIN_OSD_CONFIDENCE = 2.0


def osd_upside_down(image: Image.Image, *, timeout_s: float = 60.0) -> int | None:
    """Tesseract's orientation detection (``--psm 0``): 180 when it is confident the
    page is upside down, 0 when confident it is not, None otherwise (too little text,
    low confidence, or a 90/270 answer for a page whose text lines are horizontal)."""
    try:
        out = run_tesseract(image, ["--psm", "0"], dpi=300, timeout_s=timeout_s)
    except EngineError:
        return None
    rotate, confidence = _OSD_ROTATE.search(out), _OSD_CONFIDENCE.search(out)
    if not rotate or not confidence or float(confidence.group(1)) < MIN_OSD_CONFIDENCE:
        return None
    degrees = int(rotate.group(1))
    return degrees if degrees in (0, 180) else None


def default_preprocessor(image: Image.Image, dpi: float | None) -> PreparedImage:
    return prepare(image, dpi, osd=osd_upside_down)


class TesseractEngine:
    """:class:`~ocr.engines.base.OcrEngine` over the local ``tesseract`` binary."""

    def __init__(
        self,
        *,
        lang: str = "eng",
        psm: int = DEFAULT_PSM,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        workers: int = _CORES,
        preprocessor: Preprocessor | None = default_preprocessor,
        preprocess_version: str = PREPROCESS_VERSION,
        binary: str = TESSERACT_BIN,
    ) -> None:
        self._lang = lang
        self._psm = psm
        self._timeout_s = timeout_s
        self._workers = max(1, workers)
        self._preprocessor = preprocessor
        self._preprocess_version = preprocess_version if preprocessor else "none"
        self._binary = binary

    @property
    def name(self) -> EngineName:
        return "tesseract"

    @property
    def version(self) -> str:
        return tesseract_version(self._binary)

    @property
    def fingerprint(self) -> str:
        spec = f"tesseract={self.version};lang={self._lang};psm={self._psm};"
        spec += f"pre={self._preprocess_version}"
        return hashlib.sha256(spec.encode()).hexdigest()[:16]

    def read_page(self, page: Page) -> PageText:
        if page.text_layer is not None:
            words = page.text_layer.split()
            return PageText(page.text_layer.strip(), tuple(100.0 for _ in words))
        if page.image is None:
            return PageText("", ())
        if self._preprocessor is not None:
            prepared = self._preprocessor(page.image, page.dpi)
        else:
            prepared = PreparedImage(page.image, page.dpi or 300.0)
        first = self._ocr(prepared.image, prepared.dpi)
        if self._preprocessor is None or _mean(first.confidences) >= RETRY_BELOW_CONFIDENCE:
            return first
        # A poor read (noise, dim light): try again on a locally binarised page and keep
        # the read with more confident words.
        second = self._ocr(sauvola(prepared.image), prepared.dpi)
        return second if sum(second.confidences) > sum(first.confidences) else first

    def _ocr(self, image: Image.Image, dpi: float) -> PageText:
        tsv = run_tesseract(
            image,
            ["-l", self._lang, "--psm", str(self._psm), "tsv"],
            dpi=round(dpi),
            timeout_s=self._timeout_s,
            binary=self._binary,
        )
        return parse_tsv(tsv)

    def _page_texts(self, pages: Iterable[Page]) -> Iterator[PageText]:
        """Pages in order, up to ``workers`` in flight; pages are pulled lazily."""
        if self._workers == 1:
            for page in pages:
                yield self.read_page(page)
            return
        with ThreadPoolExecutor(self._workers, thread_name_prefix="tesseract") as pool:
            in_flight: deque[Future[PageText]] = deque()
            for page in pages:
                in_flight.append(pool.submit(self.read_page, page))
                if len(in_flight) >= self._workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()

    def read(self, pages: Iterable[Page]) -> OcrResult:
        texts: list[str] = []
        confidences: list[float] = []
        for page_text in self._page_texts(pages):
            texts.append(page_text.text)
            confidences.extend(page_text.confidences)
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        joined = PAGE_SEPARATOR.join(texts).strip()
        return OcrResult(
            text=joined + "\n" if joined else "",
            page_count=len(texts),
            mean_confidence=round(max(0.0, min(100.0, mean)), 2),
            engine="tesseract",
            engine_version=self.version,
            word_count=len(confidences),
        )
