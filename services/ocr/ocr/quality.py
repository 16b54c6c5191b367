"""How good is a read? A truth-free estimate, to choose between candidate reads of a page.

Preprocessing, rotation and second reads are candidates, never verdicts: the engine keeps a
candidate only when this estimate says it beats the plain read of the same page. The
estimate is the page's *confident plausible word mass*: the sum, over the words read, of the
engine's confidence (0-1) for each word that looks like language. A word looks like language
when it holds a letter or digit and is not one of the shapes OCR makes of non-text (dot
leaders, rules, speckle, text read upside down):

* a letters-only word of three or more letters with no vowel (``cccc``, ``rnmn``; also
  ``dpkg``, which costs every candidate of the page alike);
* one or two letters repeated (``eee``, ``cece``, ``iiii``), or a letter three times in a
  row (``seneeeen``);
* three or more letters that are nearly all ``c`` and ``e`` (``cee``, ``cect``): what dot
  leaders in an index or a table of contents are read as;
* a word of four or more characters that mixes letters with symbols other than the
  punctuation words carry (``a$#b``).

Artefacts count *against* a read (their confidence mass is subtracted): a candidate that
reads dot leaders as rows of ``cee eee`` must not win by the number of its "words".
Upside-down text is read as short, unconfident fragments, so it scores far below the same
page read upright; a page read right is nearly all confident plausible words.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

#: Vowels of the six languages' Latin alphabets (after case folding).
_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøœùúûüý")
_REPEATED = re.compile(r"^(.{1,2})\1{1,}.?$|(.)\2\2", re.S)
#: The letters dot leaders are read as.
_LEADER_LETTERS = frozenset("ce")
#: Punctuation that words carry inside or around them (apostrophes, hyphens, dots, commas,
#: quotes, brackets, slashes, underscores, colons, percent, currency).
_WORD_PUNCTUATION = frozenset("'\u2019-\u2010.,;:!?\"()[]{}<>/\\_%$\u20ac#@&*+=~|^`")


def plausible(word: str) -> bool:
    """Whether ``word`` looks like a word of text rather than an artefact of OCR."""
    folded = word.casefold()
    if not any(ch.isalnum() for ch in folded):
        return False
    core = folded.strip("".join(_WORD_PUNCTUATION))
    if len(core) >= 3 and core.isalpha():
        leaders = sum(ch in _LEADER_LETTERS for ch in core)
        if _REPEATED.search(core) or not any(ch in _VOWELS for ch in core):
            return False
        if leaders * 4 >= len(core) * 3:
            return False
    odd = sum(1 for ch in core if not ch.isalnum() and ch not in _WORD_PUNCTUATION)
    return not (len(core) >= 4 and any(ch.isalpha() for ch in core) and odd * 4 >= len(core))


def read_score(words: Iterable[tuple[str, float]]) -> float:
    """Confident plausible word mass of a read: sum of confidence/100 over plausible words,
    less the same sum over artefacts that hold letters (a confidence below 0, Tesseract's
    "not a word", counts as 0)."""
    score = 0.0
    for word, conf in words:
        weight = max(0.0, conf) / 100.0
        if plausible(word):
            score += weight
        elif any(ch.isalpha() for ch in word):
            score -= weight
    return score
