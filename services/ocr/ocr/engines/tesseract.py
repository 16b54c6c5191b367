"""Tesseract 5, in this process (:mod:`ocr.engines.libtesseract`) or through its CLI, at most
one page per core at a time.

* In-process by default: the same library the ``tesseract`` command runs, with each
  language's model loaded once per process instead of once per call (~19% less CPU per page,
  the same words). The command is used when the library is missing, for orientation checks,
  and when the engine is given a binary of its own.
* ``OMP_THREAD_LIMIT=1``: Tesseract's own OpenMP threads make it several times slower on a
  small box than running one single-threaded process per core.
* A process-wide semaphore caps concurrent ``tesseract`` processes at the core count, so
  several handler threads plus this engine's own page workers never oversubscribe the CPU.
* The page image is piped in as PGM (no encoding cost), with its resolution passed by
  ``--dpi`` (Tesseract's size heuristics assume 70 dpi when it does not know).
* One run yields TSV: words with confidences *and* their block/paragraph/line numbers, from
  which the text is rebuilt with its line breaks and paragraphs.

Never worse than the plain engine. A page that looks scanned (a flat white background,
:func:`ocr.preprocess.looks_clean`) is first read exactly as given (what ``tesseract page.png
out`` would read), and a confident plain read is kept: one engine call, like plain Tesseract.
A photo is prepared first (:mod:`ocr.preprocess`: flattening, deskew, orientation,
upscaling) and read; a confident prepared read that kept the page upright is kept, again one
engine call (on the 18 phone photos of the development set it was never below the plain read,
and 0.03 above it on average). Otherwise the plain read is made too, and the prepared one is
a *candidate*; then, for a photo still read unconfidently, a Sauvola-binarised copy of it. A
candidate replaces the best read so far only when its truth-free quality
(:func:`ocr.quality.read_score`) is higher, and a candidate that turned the page upside down
must be far better (:data:`FLIP_MARGIN`), since reading text upside down is the costliest
mistake.

Language: read in the document's language when the upload names one; otherwise the opening
pages are read in English until their text tells the language (:mod:`ocr.language`; a cover
page alone rarely does, so up to :data:`DETECTION_PAGES` pages), and when that is another of
the six those pages are read again in it, as is every page after them. Portuguese and
Spanish models lack some ASCII symbols; those come from an English read (:func:`fill_symbols`).
"""

from __future__ import annotations

import atexit
import difflib
import functools
import hashlib
import io
import itertools
import logging
import os
import re
import signal
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from PIL import Image

from ocr import language as languages
from ocr.engines import libtesseract
from ocr.engines.base import PAGE_SEPARATOR, EngineName, OcrResult, page_warnings
from ocr.errors import EngineError
from ocr.pages import Page
from ocr.preprocess import PREPROCESS_VERSION, PreparedImage, looks_clean, prepare, sauvola
from ocr.quality import read_score
from ocr.text import clean_paragraph
from ocrpipe.events import Language, PageRead

_log = logging.getLogger(__name__)

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

#: ASCII symbols a language's model (Debian's tesseract-ocr-<lang>, tessdata_fast 4.1) cannot
#: write, found in each model's ``lstm-unicharset`` (``combine_tessdata -u``). English has all
#: of them but ``^`` and a backquote. Pages read in these languages get the symbols from an
#: English read of the same image (:func:`fill_symbols`); the others lack only ``~``, which is
#: not worth a second read of every page.
MISSING_SYMBOLS: dict[str, str] = {"por": "_@#{}\\~", "spa": "@#&{}\\~"}
#: How alike (difflib ratio, case-folded) the page language's reading of a stretch and the
#: English word without its symbols must be for the English word to replace it.
FILL_SIMILARITY = 0.8
#: Version of how pages are read around the engine (candidates, symbol filling, clean-ups);
#: part of the fingerprint, so cached texts read by older rules are read again.
READ_RULES_VERSION = "5"
#: Language detection reads at most this many opening pages before it settles on English.
DETECTION_PAGES = 3

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
        how = (
            f"was killed by {signal.Signals(-proc.returncode).name}"
            if proc.returncode < 0 and -proc.returncode in signal.valid_signals()
            else f"exited with status {proc.returncode}"
        )
        raise EngineError(f"tesseract {how}: {detail[0][:200]}")
    return proc.stdout.decode("utf-8", "replace")


@functools.cache
def _shared_pool() -> libtesseract.ApiPool | None:
    """The process' pool of in-process Tesseract handles (None: no libtesseract here).

    Process-wide, not per engine: a handler may build its engine per call, and the loaded
    models are what makes reading in-process pay."""
    library = libtesseract.load()
    if library is None:
        return None
    pool = libtesseract.ApiPool(library)
    atexit.register(pool.close)
    return pool


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
    #: The words with their boxes (OCR reads only).
    words: tuple[Word, ...] = field(default=(), repr=False)
    #: The image this read was made from, at the resolution it was read at.
    image: Image.Image | None = field(default=None, repr=False, compare=False)
    dpi: float = 0.0

    @property
    def mean_confidence(self) -> float:
        return _mean(self.confidences)


@dataclass(frozen=True)
class Word:
    """One word of a Tesseract TSV read: its text, confidence, box and line."""

    text: str
    conf: float
    left: int
    top: int
    width: int
    height: int
    #: (block, paragraph, line) numbers.
    line: tuple[int, int, int]

    @property
    def area(self) -> int:
        return self.width * self.height

    def overlap(self, other: Word) -> int:
        """Pixels the two boxes share."""
        x = min(self.left + self.width, other.left + other.width) - max(self.left, other.left)
        y = min(self.top + self.height, other.top + other.height) - max(self.top, other.top)
        return max(0, x) * max(0, y)


def tsv_words(tsv: str) -> list[Word]:
    """The non-empty words of a Tesseract TSV, in reading order."""
    words: list[Word] = []
    for row in tsv.splitlines()[1:]:
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        if not text:
            continue
        try:
            line = (int(cols[2]), int(cols[3]), int(cols[4]))
            box = (int(cols[6]), int(cols[7]), int(cols[8]), int(cols[9]))
            conf = float(cols[10])
        except ValueError:
            continue
        words.append(Word(text, conf, *box, line))
    return words


def page_text(words: Iterable[Word]) -> PageText:
    """Text rebuilt from words: joined by spaces, lines by newlines, paragraphs and blocks by
    a blank line. Confidences of the words Tesseract scored."""
    paragraphs: list[list[list[str]]] = []
    kept: list[Word] = []
    current_par: tuple[int, int] | None = None
    current_line: tuple[int, int, int] | None = None
    for word in words:
        if word.line[:2] != current_par:
            paragraphs.append([])
            current_par = word.line[:2]
            current_line = None
        if word.line != current_line:
            paragraphs[-1].append([])
            current_line = word.line
        paragraphs[-1][-1].append(word.text)
        kept.append(word)
    scored = [(w.text, w.conf) for w in kept if w.conf >= 0]
    text = "\n\n".join(
        "\n".join(clean_paragraph([" ".join(line) for line in par])) for par in paragraphs
    )
    return PageText(
        text=text,
        confidences=tuple(conf for _, conf in scored),
        score=read_score(scored),
        words=tuple(kept),
    )


def parse_tsv(tsv: str) -> PageText:
    """:func:`page_text` of a Tesseract TSV."""
    return page_text(tsv_words(tsv))


def fill_symbols(words: Iterable[Word], english: Iterable[Word], missing: str) -> list[Word]:
    """``words`` with the symbols their model cannot write taken from an English read.

    Some of Tesseract's models have no ``_``, ``@``, ``#``, ``{``, ``}`` or ``\\`` at all
    (:data:`MISSING_SYMBOLS`): Portuguese reads ``crypt_file.gpg`` as ``crypt file.gpg`` and
    ``foo@example.org`` as ``fooqexample.org``, however clear the page. An English word that
    holds one of the ``missing`` symbols replaces the words of ``words`` whose boxes lie
    mostly inside its own (same image, so the boxes agree), when the two spell the same thing
    apart from those symbols (:data:`FILL_SIMILARITY`). Everything else stays as read in the
    page's language, accents included.
    """
    out: list[Word | None] = list(words)
    for donor in english:
        if not any(ch in missing for ch in donor.text):
            continue
        covered = [
            i
            for i, w in enumerate(out)
            if w is not None and w.area and donor.overlap(w) * 2 >= w.area
        ]
        if not covered:
            continue
        read = "".join(w.text for i in covered if (w := out[i]) is not None)
        bare = "".join(ch for ch in donor.text if ch not in missing)
        similarity = difflib.SequenceMatcher(None, read.casefold(), bare.casefold()).ratio()
        if similarity < FILL_SIMILARITY:
            continue
        first = out[covered[0]]
        assert first is not None
        out[covered[0]] = replace(first, text=donor.text, conf=min(first.conf, donor.conf))
        for i in covered[1:]:
            out[i] = None
    return [w for w in out if w is not None]


#: What may surround a word without being part of it, for :func:`join_splits`.
_EDGE_PUNCTUATION = "\"'`\u201c\u201d\u2018\u2019\u00ab\u00bb()[]{}<>,.;:!?"


def join_splits(words: Iterable[Word], english: Iterable[Word]) -> list[Word]:
    """``words`` with identifiers their model broke apart made whole from an English read.

    The Portuguese and Spanish models, trained on prose, split words set in a monospace font
    at a letter: ``mkfs`` reads ``mkf s``, ``dotglob`` ``dotg lob``, ``ext4`` ``ext 4``, while
    the English model, which has seen code, reads them whole. Two or more neighbouring words
    of one line whose boxes lie mostly inside one English word's box are joined when, put
    together, they spell that English word (quotes and punctuation at its ends aside, and
    letter case, which the English read then decides): the space the page's model added goes,
    and no character it read changes but for its case."""
    out: list[Word | None] = list(words)
    for donor in english:
        if not donor.area:
            continue
        covered = [
            i
            for i, w in enumerate(out)
            if w is not None and w.area and donor.overlap(w) * 2 >= w.area
        ]
        if len(covered) < 2 or covered != list(range(covered[0], covered[-1] + 1)):
            continue
        parts = [w for i in covered if (w := out[i]) is not None]
        joined = "".join(w.text for w in parts)
        core = joined.strip(_EDGE_PUNCTUATION)
        donor_core = donor.text.strip(_EDGE_PUNCTUATION)
        if len({w.line for w in parts}) != 1 or not core:
            continue
        if core.casefold() != donor_core.casefold():
            continue
        if core != donor_core:  # a case the split also confused (``dotg Lob``): English's
            start = joined.index(core)
            joined = joined[:start] + donor_core + joined[start + len(core) :]
        first = parts[0]
        right = max(w.left + w.width for w in parts)
        bottom = max(w.top + w.height for w in parts)
        top = min(w.top for w in parts)
        out[covered[0]] = replace(
            first,
            text=joined,
            conf=min(w.conf for w in parts),
            top=top,
            width=right - first.left,
            height=bottom - top,
        )
        for i in covered[1:]:
            out[i] = None
    return [w for w in out if w is not None]


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
    """:func:`ocr.preprocess.prepare` without OSD: when the ascender test cannot tell the
    page's orientation, the engine asks OSD only if the upright read is unconfident
    (:meth:`TesseractEngine._best_read`), since OSD costs about an engine call."""
    return prepare(image, dpi)


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
        in_process: bool = True,
    ) -> None:
        self._lang = lang
        self._psm = psm
        self._timeout_s = timeout_s
        self._workers = max(1, workers)
        self._preprocessor = preprocessor
        self._preprocess_version = preprocess_version if preprocessor else "none"
        self._binary = binary
        # In-process reads the same words as the command (libtesseract); a binary of one's
        # own, or no library, means the command.
        self._pool = _shared_pool() if in_process and binary == TESSERACT_BIN else None
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
        spec += f"pre={self._preprocess_version};rules={READ_RULES_VERSION}"
        return hashlib.sha256(spec.encode()).hexdigest()[:16]

    def read_page(
        self, page: Page, lang: str | None = None, english: PageText | None = None
    ) -> PageText:
        """The best read of one page in Tesseract language ``lang`` (default: the engine's).

        ``english``: an English read of the page already made (language detection makes
        one), reused for :func:`fill_symbols` when it was read from the same variant."""
        lang = lang or self._lang
        read = self._best_read(page, lang)
        missing = MISSING_SYMBOLS.get(lang)
        if missing and read.words and read.image is not None:
            if english is None or english.variant != read.variant or not english.words:
                english = self._ocr(read.image, read.dpi, DEFAULT_LANG, read.variant)
            filled = page_text(
                join_splits(fill_symbols(read.words, english.words, missing), english.words)
            )
            read = replace(filled, variant=read.variant, source=read.source)
        # The image is needed only until here; a document's reads must not hold its pages.
        return replace(read, image=None)

    def _best_read(self, page: Page, lang: str) -> PageText:
        if page.text_layer is not None:
            words = page.text_layer.split()
            conf = tuple(100.0 for _ in words)
            return PageText(page.text_layer.strip(), conf, float(len(words)), "text-layer")
        if page.image is None:
            return PageText("", ())
        dpi = page.dpi or 300.0
        if self._preprocessor is None:
            return self._ocr(page.image, dpi, lang, "plain")
        scanned = looks_clean(page.image)
        if scanned:
            best = self._ocr(page.image, dpi, lang, "plain")
            if _trusted(best):
                return best
            prepared = self._preprocessor(page.image, page.dpi)
            candidate = self._candidate(prepared.image, prepared.dpi, lang, "prepared")
        else:
            # A photo: the prepared read almost always wins, so it goes first, and a confident
            # one that kept the page upright is kept without the plain read (one engine call,
            # like plain Tesseract). Otherwise the plain read is made and the better one kept.
            prepared = self._preprocessor(page.image, page.dpi)
            candidate = self._candidate(prepared.image, prepared.dpi, lang, "prepared")
            if candidate is not None and not prepared.flipped and _trusted(candidate):
                return candidate
            best = self._ocr(page.image, dpi, lang, "plain")
        if candidate is not None:
            margin = FLIP_MARGIN if prepared.flipped else CANDIDATE_MARGIN
            best = _better(best, candidate, margin)
        if (
            prepared.orientation_unsure
            and not _trusted(best)
            and osd_upside_down(prepared.image) == 180
        ):
            # Neither read is confident and OSD says the page is upside down: read it turned.
            turned_image = prepared.image.rotate(180)
            turned = self._candidate(turned_image, prepared.dpi, lang, "turned")
            if turned is not None and _better(best, turned, FLIP_MARGIN) is turned:
                best, prepared = turned, replace(prepared, image=turned_image, flipped=True)
        if scanned or _trusted(best):
            # Binarisation is a remedy for photos (uneven light, noise); on a scan it only
            # turns dot leaders and fine print into more artefacts.
            return best
        binarised = self._candidate(sauvola(prepared.image), prepared.dpi, lang, "sauvola")
        if binarised is None:
            return best
        margin = FLIP_MARGIN if prepared.flipped and best.variant == "plain" else CANDIDATE_MARGIN
        return _better(best, binarised, margin)

    def _candidate(
        self, image: Image.Image, dpi: float, lang: str, variant: str
    ) -> PageText | None:
        """A candidate read, or None when the engine fails on it: a candidate is a try at
        doing better than the plain read, never a reason to fail the page."""
        try:
            return self._ocr(image, dpi, lang, variant)
        except EngineError as exc:
            _log.warning("the %s read of a page failed; keeping the plain read: %s", variant, exc)
            return None

    def _ocr(self, image: Image.Image, dpi: float, lang: str, variant: str) -> PageText:
        if self._pool is not None:
            with _PROCESS_SLOTS:
                tsv = self._pool.read_tsv(
                    image, lang=lang, psm=self._psm, dpi=round(dpi), timeout_s=self._timeout_s
                )
        else:
            tsv = run_tesseract(
                image,
                ["-l", lang, "--psm", str(self._psm), "tsv"],
                dpi=round(dpi),
                timeout_s=self._timeout_s,
                binary=self._binary,
            )
        return replace(parse_tsv(tsv), variant=variant, image=image, dpi=dpi)

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

    def _opening_pages(
        self, pages: Iterator[Page], language: Language | None
    ) -> tuple[list[PageText], Language]:
        """Read the document's opening pages and settle its language on them.

        With the language given, that is the first page read in it. Otherwise pages are read
        in English until their text says enough about the language (a cover page or a title
        alone does not, :data:`ocr.language.MIN_LETTERS`), at most :data:`DETECTION_PAGES` of
        them; the pages read so far are then read again in the detected language."""
        if language is not None:
            first = next(pages, None)
            if first is None:
                return [], language
            return [self.read_page(first, languages.TESSERACT_CODES[language])], language
        english = languages.TESSERACT_CODES[languages.DEFAULT_LANGUAGE]
        opening: list[tuple[Page, PageText]] = []
        detection = languages.detect("")
        for page in itertools.islice(pages, DETECTION_PAGES):
            opening.append((page, self.read_page(page, english)))
            detection = languages.detect("\n".join(read.text for _, read in opening))
            if detection.decided:
                break
        detected = detection.language
        if detected == languages.DEFAULT_LANGUAGE:
            return [read for _, read in opening], detected
        code = languages.TESSERACT_CODES[detected]
        reads = [
            read if page.text_layer is not None else self.read_page(page, code, english=read)
            for page, read in opening
        ]
        return reads, detected

    def read(self, pages: Iterable[Page], language: Language | None = None) -> OcrResult:
        page_iter = iter(pages)
        used: Language | None
        if self._lang != DEFAULT_LANG and language is None:
            # A fixed model chosen by configuration (e.g. OCRPIPE_TESSERACT_LANG=deu+eng).
            reads, used = list(self._page_texts(page_iter, self._lang)), None
        else:
            reads, used = self._opening_pages(page_iter, language)
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
