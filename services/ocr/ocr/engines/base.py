"""The engine seam: anything that turns pages into text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from ocr.pages import Page
from ocrpipe.events import Language, PageRead

EngineName = Literal["tesseract", "textract"]


@dataclass(frozen=True)
class OcrResult:
    """The text of a whole document.

    ``text`` keeps line breaks; paragraphs are separated by a blank line and pages by a
    form feed (``\\f``) on its own line. ``mean_confidence`` is the mean word confidence
    (0-100) over all words of all pages; ``word_count`` is how many words the engine saw.
    ``pages`` says what was read on each page (a page with no words is never dropped
    silently: ``warnings`` names it); ``language`` is the language the text was read in.
    """

    text: str
    page_count: int
    mean_confidence: float
    engine: EngineName
    engine_version: str
    word_count: int = 0
    language: Language | None = None
    pages: tuple[PageRead, ...] = ()
    warnings: tuple[str, ...] = ()


PAGE_SEPARATOR = "\n\f\n"


class OcrEngine(Protocol):
    """Reads pages into text. Raises :class:`ocr.errors.EngineError` when the engine fails."""

    @property
    def name(self) -> EngineName: ...

    @property
    def version(self) -> str: ...

    @property
    def fingerprint(self) -> str:
        """Everything that changes this engine's output (version, language, options),
        as a short string: cached text is only reused for an identical fingerprint."""
        ...

    def read(self, pages: Iterable[Page], language: Language | None = None) -> OcrResult:
        """The text of ``pages``, read in ``language`` (None: the engine finds out)."""
        ...


def page_warnings(pages: Iterable[PageRead], page_count: int) -> tuple[str, ...]:
    """Sentences for the person about pages on which nothing was read."""
    empty = [page.number for page in pages if page.word_count == 0]
    if not empty or len(empty) == page_count:
        return ()
    listed = ", ".join(map(str, empty[:20])) + (" ..." if len(empty) > 20 else "")
    noun = "Page" if len(empty) == 1 else "Pages"
    return (
        f"{noun} {listed} of {page_count}: no text was found there "
        "(blank, a picture, or too faint to read); the counts cover the other pages.",
    )
