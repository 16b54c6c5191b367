"""Which language a document is written in, from its text, without the user saying.

The six languages are the ones both engines read (Textract: English, German, French,
Spanish, Italian, Portuguese). Detection is py3langid (langid.py's model, shipped inside its
wheel: no download at run time) restricted to those six, run on the text of a first read with
the English model -- Latin letters come out right even when the accents do not, which is all
the detector needs. A text it is not sure about (short, code, names, Latin placeholder text)
stays English: reading it with the English model is what plain Tesseract would do.

The model takes ~1 s to load, once per process; the Tesseract engine starts loading it in
the background when it is built (:func:`warm_up`), while the first page is read.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ocrpipe.events import Language

if TYPE_CHECKING:
    from py3langid.langid import LanguageIdentifier

#: Tesseract's traineddata name for each language (ISO 639-1 in the events).
TESSERACT_CODES: dict[Language, str] = {
    "en": "eng",
    "de": "deu",
    "fr": "fra",
    "es": "spa",
    "it": "ita",
    "pt": "por",
}

DEFAULT_LANGUAGE: Language = "en"
_BY_CODE: dict[str, Language] = {code: code for code in TESSERACT_CODES}

#: The detector's probability above which its answer replaces the default.
MIN_PROBABILITY = 0.9
#: Fewer letters than this say too little about a language.
MIN_LETTERS = 40

_lock = threading.Lock()
_identifier: LanguageIdentifier | None = None


def _model() -> LanguageIdentifier:
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
            identifier.set_languages(list(TESSERACT_CODES))
            _identifier = identifier
        return _identifier


def warm_up() -> threading.Thread:
    """Load the model in a background thread (a container's first document then does not
    wait for it while its first page is being read)."""
    thread = threading.Thread(target=_model, name="langid-warm-up", daemon=True)
    thread.start()
    return thread


@dataclass(frozen=True)
class Detection:
    language: Language
    probability: float
    #: False when the text was too short to say anything (more text might).
    decided: bool = True


def detect(text: str) -> Detection:
    """The language of ``text`` among the six, or English when the text does not say."""
    letters = sum(ch.isalpha() for ch in text)
    if letters < MIN_LETTERS:
        return Detection(DEFAULT_LANGUAGE, 0.0, decided=False)
    code, probability = _model().classify(text)
    language = _BY_CODE.get(code)
    if language is None or probability < MIN_PROBABILITY:
        return Detection(DEFAULT_LANGUAGE, float(probability))
    return Detection(language, float(probability))
