"""Tesseract 5 through its CLI, one process per page, at most one process per core.

* ``OMP_THREAD_LIMIT=1``: Tesseract's own OpenMP threads make it several times slower on a
  small box than running one single-threaded process per core.
* A process-wide semaphore caps concurrent ``tesseract`` processes at the core count, so
  several handler threads plus this engine's own page workers never oversubscribe the CPU.
* The page image is piped in as PGM (no encoding cost), with its resolution passed by
  ``--dpi`` (Tesseract's size heuristics assume 70 dpi when it does not know).
* One run yields TSV: words with confidences *and* their block/paragraph/line numbers, from
  which the text is rebuilt with its line breaks and paragraphs.

Never worse than the plain engine: each page is first read exactly as given (what
``tesseract page.png out`` would read). A page that looks scanned (a flat white background,
:func:`ocr.preprocess.looks_clean`) and whose plain read is confident keeps that read: one
engine call, like plain Tesseract. Any other page (a photo, or an unconfident read) is
prepared (:mod:`ocr.preprocess`: flattening, deskew, orientation, upscaling) and read again
as a *candidate*, then, for a photo still read unconfidently, a Sauvola-binarised copy of
it. A candidate replaces the best read so far only when its truth-free quality
(:func:`ocr.quality.read_score`) is higher, and a candidate that turned the page upside down
must be far better (:data:`FLIP_MARGIN`), since reading text upside down is the costliest
mistake.

Language: read in the document's language when the upload names one; otherwise the first
page is read in English, its text tells the language (:mod:`ocr.language`), and when that is
another of the six the page is read again in it, as is every page after it.
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

from ocr import language as languages
from ocr.engines.base import PAGE_SEPARATOR, EngineName, OcrResult, page_warnings
from ocr.errors import EngineError
from ocr.pages import Page
from ocr.preprocess import PREPROCESS_VERSION, PreparedImage, looks_clean, prepare, sauvola
from ocr.quality import read_score
from ocr.text import clean_paragraph
from ocrpipe.events import Language, PageRead

TESSERACT_BIN = "tesseract"
#: The engine's configured model; any other value is a fixed choice that disables detection.
DEFAULT_LANG = "eng"
DEFAULT_PSM = 3
DEFAULT_TIMEOUT_S = 180.0

#: A plain read is trusted -- no candidate reads are tried -- when its mean word
#: confidence reaches this and it has at least :data:`TRUSTED_MIN_WORDS` words.
TRUSTED_CONFIDENCE = 88.0
TRUSTED_MIN_WORDS = 3
#: A candidate read replaces the current best only when its quality is higher by this
#: factor; a candidate that turned the page upside down needs :data:`FLIP_MARGIN`.
CANDIDATE_MARGIN = 1.0
FLIP_MARGIN = 1.5

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
    """Run ``tesseract stdin stdout <args>`` on ``image``; its stdout as text.

    Colour pages are sent as greyscale: Tesseract recognises on grey anyway, reads the same
    words from it, and a PGM is a third of a PPM's bytes and ~25% faster to read."""
    if image.mode not in ("L", "1"):
        image = image.convert("L")
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
    #: Truth-free quality of the read (:func:`ocr.quality.read_score`).
    score: float = 0.0
    source: str = "ocr"
    #: How the page was prepared for the read that was kept ("plain", "prepared", ...).
    variant: str = "plain"

    @property
    def mean_confidence(self) -> float:
        return _mean(self.confidences)


def parse_tsv(tsv: str) -> PageText:
    """Rebuild text from Tesseract TSV: words joined by spaces, lines by newlines,
    paragraphs and blocks by a blank line. Confidences of the non-empty words."""
    paragraphs: list[list[list[str]]] = []
    confidences: list[float] = []
    scored: list[tuple[str, float]] = []
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
            scored.append((word, conf))
    text = "\n\n".join(
        "\n".join(clean_paragraph([" ".join(words) for words in par])) for par in paragraphs
    )
    return PageText(text=text, confidences=tuple(confidences), score=read_score(scored))


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
        if lang == DEFAULT_LANG:
            languages.warm_up()

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

    def read_page(self, page: Page, lang: str | None = None) -> PageText:
        """The best read of one page in Tesseract language ``lang`` (default: the engine's)."""
        lang = lang or self._lang
        if page.text_layer is not None:
            words = page.text_layer.split()
            conf = tuple(100.0 for _ in words)
            return PageText(page.text_layer.strip(), conf, float(len(words)), "text-layer")
        if page.image is None:
            return PageText("", ())
        dpi = page.dpi or 300.0
        best = self._ocr(page.image, dpi, lang, "plain")
        if self._preprocessor is None:
            return best
        scanned = looks_clean(page.image)
        if scanned and _trusted(best):
            return best
        prepared = self._preprocessor(page.image, page.dpi)
        candidate = self._ocr(prepared.image, prepared.dpi, lang, "prepared")
        best = _better(best, candidate, FLIP_MARGIN if prepared.flipped else CANDIDATE_MARGIN)
        if scanned or _trusted(best):
            # Binarisation is a remedy for photos (uneven light, noise); on a scan it only
            # turns dot leaders and fine print into more artefacts.
            return best
        binarised = self._ocr(sauvola(prepared.image), prepared.dpi, lang, "sauvola")
        margin = FLIP_MARGIN if prepared.flipped and best.variant == "plain" else CANDIDATE_MARGIN
        return _better(best, binarised, margin)

    def _ocr(self, image: Image.Image, dpi: float, lang: str, variant: str) -> PageText:
        tsv = run_tesseract(
            image,
            ["-l", lang, "--psm", str(self._psm), "tsv"],
            dpi=round(dpi),
            timeout_s=self._timeout_s,
            binary=self._binary,
        )
        read = parse_tsv(tsv)
        return PageText(read.text, read.confidences, read.score, read.source, variant)

    def _page_texts(self, pages: Iterable[Page], lang: str) -> Iterator[PageText]:
        """Pages in order, up to ``workers`` in flight; pages are pulled lazily."""
        if self._workers == 1:
            for page in pages:
                yield self.read_page(page, lang)
            return
        with ThreadPoolExecutor(self._workers, thread_name_prefix="tesseract") as pool:
            in_flight: deque[Future[PageText]] = deque()
            for page in pages:
                in_flight.append(pool.submit(self.read_page, page, lang))
                if len(in_flight) >= self._workers:
                    yield in_flight.popleft().result()
            while in_flight:
                yield in_flight.popleft().result()

    def _first_page(
        self, pages: Iterator[Page], language: Language | None
    ) -> tuple[list[PageText], Language]:
        """Read the first page and settle the document's language on it."""
        first = next(pages, None)
        if first is None:
            return [], language or languages.DEFAULT_LANGUAGE
        if language is not None:
            return [self.read_page(first, languages.TESSERACT_CODES[language])], language
        read = self.read_page(first, languages.TESSERACT_CODES[languages.DEFAULT_LANGUAGE])
        detected = languages.detect(read.text).language
        if detected != languages.DEFAULT_LANGUAGE and first.text_layer is None:
            read = self.read_page(first, languages.TESSERACT_CODES[detected])
        return [read], detected

    def read(self, pages: Iterable[Page], language: Language | None = None) -> OcrResult:
        page_iter = iter(pages)
        used: Language | None
        if self._lang != DEFAULT_LANG and language is None:
            # A fixed model chosen by configuration (e.g. OCRPIPE_TESSERACT_LANG=deu+eng).
            reads, used = list(self._page_texts(page_iter, self._lang)), None
        else:
            reads, used = self._first_page(page_iter, language)
            reads += list(self._page_texts(page_iter, languages.TESSERACT_CODES[used]))
        texts = [r.text for r in reads]
        confidences = [c for r in reads for c in r.confidences]
        mean = sum(confidences) / len(confidences) if confidences else 0.0
        summaries = tuple(
            PageRead(
                number=number,
                word_count=len(r.confidences),
                mean_confidence=round(max(0.0, min(100.0, r.mean_confidence)), 2),
                source="text-layer" if r.source == "text-layer" else "ocr",
            )
            for number, r in enumerate(reads, start=1)
        )
        joined = PAGE_SEPARATOR.join(texts).strip()
        return OcrResult(
            text=joined + "\n" if joined else "",
            page_count=len(texts),
            mean_confidence=round(max(0.0, min(100.0, mean)), 2),
            engine="tesseract",
            engine_version=self.version,
            word_count=len(confidences),
            language=used,
            pages=summaries,
            warnings=page_warnings(summaries, len(texts)),
        )


def _trusted(read: PageText) -> bool:
    return len(read.confidences) >= TRUSTED_MIN_WORDS and read.mean_confidence >= (
        TRUSTED_CONFIDENCE
    )


def _better(best: PageText, candidate: PageText, margin: float) -> PageText:
    """``candidate`` when its quality beats ``best``'s by ``margin``, else ``best``."""
    return candidate if candidate.score > best.score * margin + 1e-9 else best
