"""The engine seam: anything that turns pages into text."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from ocr.pages import Page

EngineName = Literal["tesseract", "textract"]


@dataclass(frozen=True)
class OcrResult:
    """The text of a whole document.

    ``text`` keeps line breaks; paragraphs are separated by a blank line and pages by a
    form feed (``\\f``) on its own line. ``mean_confidence`` is the mean word confidence
    (0-100) over all words of all pages; ``word_count`` is how many words the engine saw.
    """

    text: str
    page_count: int
    mean_confidence: float
    engine: EngineName
    engine_version: str
    word_count: int = 0


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

    def read(self, pages: Iterable[Page]) -> OcrResult: ...
