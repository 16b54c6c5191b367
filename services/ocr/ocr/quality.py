"""How good is a read? A truth-free estimate, to choose between candidate reads of a page.

Preprocessing, rotation and second reads are candidates, never verdicts: the engine keeps a
candidate only when this estimate says it beats the plain read of the same page. The
estimate is the page's *confident plausible word mass*: the sum, over the words read, of the
engine's confidence (0-1) for each word that looks like language. A word looks like language
when it holds a letter or digit and is not one of the shapes OCR makes of non-text (dot
leaders, rules, speckle, text read upside down):

* a letters-only word of three or more letters with no vowel (``cccc``, ``rnmn``; also
  ``dpkg``, which costs every candidate of the page alike);
* one or two letters repeated (``eee``, ``cece``, ``iiii``);
* a word of four or more characters that mixes letters with symbols other than the
  punctuation words carry (``a$#b``).

Upside-down text is read as short, unconfident fragments, so it scores far below the same
page read upright; a page read right is nearly all confident plausible words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Vowels of the six languages' Latin alphabets (after case folding).
_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøœùúûüý")
_REPEATED = re.compile(r"^(.{1,2})\1{1,}.?$", re.S)
#: Punctuation that words carry inside or around them (apostrophes, hyphens, dots, commas,
#: quotes, brackets, slashes, underscores, colons, percent, currency).
_WORD_PUNCTUATION = frozenset("'\u2019-\u2010.,;:!?\"()[]{}<>/\\_%$\u20ac#@&*+=~|^`")


def plausible(word: str) -> bool:
    """Whether ``word`` looks like a word of text rather than an artefact of OCR."""
    folded = word.casefold()
    if not any(ch.isalnum() for ch in folded):
        return False
    core = folded.strip("".join(_WORD_PUNCTUATION))
    artefact = _REPEATED.match(core) or not any(ch in _VOWELS for ch in core)
    if len(core) >= 3 and core.isalpha() and artefact:
        return False
    letters = [ch for ch in core if ch.isalpha()]
    odd = sum(1 for ch in core if not ch.isalnum() and ch not in _WORD_PUNCTUATION)
    return not (len(core) >= 4 and letters and odd * 4 >= len(core))


def read_score(words: Iterable[tuple[str, float]]) -> float:
    """Confident plausible word mass of a read: sum of confidence/100 over plausible words
    (a confidence below 0, Tesseract's "not a word", counts as 0)."""
    return sum(max(0.0, conf) / 100.0 for word, conf in words if plausible(word))
