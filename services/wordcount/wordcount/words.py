"""THE word rule of ocrpipe: what a "word" is, and how words are counted.

Word rule version ``1`` (:data:`WORD_RULE_VERSION`). Any change to what this module counts
as a word must bump the version, because every result file and ``WordsCounted`` event
records the version it was counted with.

The rule, applied in this order:

1. **Unicode NFKC, then case folding** (``str.casefold``), then NFKC again (case folding can
   un-normalise a few characters). So ``É``, ``é`` and ``e`` + U+0301 are one word,
   ``ß`` → ``ss``, full-width digits U+FF10..U+FF19 → ASCII digits, the ``ﬁ`` ligature →
   ``fi``, ``²`` → ``2``, a no-break space → a space.
2. **The underscore ``_`` is a separator**, like a space.
3. **Line-break hyphenation is undone.** A hyphen (``-`` U+002D, U+2010, or the soft hyphen
   U+00AD; NFKC has already turned U+2011, U+FE63 and U+FF0D into one of these) that directly
   follows a letter, digit or mark and ends a line (then optional spaces/tabs, ``\\n`` or
   ``\\r\\n``, optional indentation) and is followed by a letter or digit joins the two
   halves: ``infor-\\nmation`` → ``information``. A hyphen inside a line separates like any
   punctuation: ``well-known`` → ``well``, ``known``. A blank line between the halves
   (``foo-\\n\\nbar``) is a paragraph break, not hyphenation. Consequence: a real compound
   broken at its own hyphen at a line end (``well-\\nknown``) counts as ``wellknown``; text
   cannot tell the two apart, and in OCR'd text the first case is far more common.
4. **Invisible format characters are removed**: the soft hyphen U+00AD (mid-line it only
   marks where a word may break), zero-width non-joiner/joiner U+200C/U+200D, word joiner
   U+2060 and the byte order mark U+FEFF. (A zero-width *space* U+200B stays a separator.)
5. **Apostrophes**: ``'`` U+0027, the right single quotation mark U+2019, the left one
   U+2018 (a common OCR misreading) and the modifier letter apostrophe U+02BC all become
   ``'``. An apostrophe belongs to a word only *between* two letters/digits: ``don't``,
   ``o'clock`` and ``rock'n'roll`` are one word each. Leading and trailing apostrophes are
   dropped because they cannot be told apart from quotation marks: ``'tis`` → ``tis``,
   ``dogs'`` → ``dogs``, ``'quoted'`` → ``quoted``; ``don''t`` is ``don`` and ``t``.
6. **A word is a maximal run of letters and digits** (Unicode categories ``L*`` and ``N*``,
   exactly what Python's ``\\w`` matches apart from ``_``), with the internal apostrophes of
   step 5. **Combining marks** (``M*``) continue a word but cannot start one: after NFKC most
   Latin accents are precomposed, but Devanagari (``हिन्दी``), Thai, or Hebrew with points
   write vowel signs and viramas as marks, and cutting words there would be wrong. A mark
   with no letter or digit before it is ignored. Everything else separates words: spaces,
   punctuation, symbols, and ``.`` or ``,`` inside numbers (``3.14`` → ``3``, ``14``).
   Scripts written without spaces (Chinese, Japanese, Thai) therefore count a whole run
   between punctuation as one word; there is no dictionary segmentation.

Results (:class:`WordCounts`): the total number of words, the number of distinct words, and
the counts sorted by count descending, then word ascending (by code point).

Speed: counting is a handful of C-implemented passes over the text (``unicodedata.normalize``,
``str.casefold``, ``str.replace``, a byte translation, ``str.split`` and
``collections.Counter``) with no per-character Python loop; the word pattern then runs once
per distinct token that needs it (see :func:`_count_into`). Pure-ASCII text takes a
shortcut with the same result (``str.lower``, an ASCII pattern). Long texts can be counted
in pieces with :func:`count_chunks`, which gives exactly the result of counting the whole
text: it only cuts right after a line break that cannot be line-break hyphenation.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache

WORD_RULE_VERSION = "1"

#: Characters that hyphenate a word across a line break (after NFKC; U+2011 becomes U+2010,
#: U+FE63/U+FF0D become U+002D).
_HYPHENS = "-\u2010\u00ad"
#: Removed after hyphenation is undone.
_INVISIBLE = ("\u00ad", "\u200c", "\u200d", "\u2060", "\ufeff")
#: Spellings of the apostrophe, all normalised to U+0027.
_APOSTROPHES = ("\u2019", "\u2018", "\u02bc")


@dataclass(frozen=True)
class WordCounts:
    """The outcome of counting one text."""

    total: int
    unique: int
    #: ``(word, count)`` sorted by count descending, then word ascending.
    counts: list[tuple[str, int]]

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        return self.counts[:n]

    @classmethod
    def from_counter(cls, counter: Counter[str]) -> WordCounts:
        ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        return cls(total=sum(counter.values()), unique=len(counter), counts=ordered)


def _mark_ranges(low: int, high: int) -> str:
    """Regex character-class body with every combining mark (``M*``) in ``[low, high]``."""
    categories = map(unicodedata.category, map(chr, range(low, high + 1)))
    ranges: list[tuple[int, int]] = []
    start = -1
    for offset, category in enumerate(categories):
        if category[0] == "M":
            if start < 0:
                start = low + offset
        elif start >= 0:
            ranges.append((start, low + offset - 1))
            start = -1
    if start >= 0:
        ranges.append((start, high))
    return "".join(
        re.escape(chr(a)) if a == b else f"{re.escape(chr(a))}-{re.escape(chr(b))}"
        for a, b in ranges
    )


@dataclass(frozen=True)
class _Patterns:
    word: re.Pattern[str]
    line_hyphen: re.Pattern[str]
    word_char: re.Pattern[str]


@dataclass(frozen=True)
class _UnicodePatterns(_Patterns):
    #: The word pattern for text without combining marks (most text after NFKC).
    word_without_marks: re.Pattern[str]
    #: Finds a combining mark, or any character outside the BMP (which might be one).
    maybe_mark: re.Pattern[str]


@cache
def _unicode_patterns() -> _UnicodePatterns:
    """Patterns for any text. Built at first use (~0.2 s, once per process) from
    :mod:`unicodedata`, so they match the Unicode version NFKC and ``\\w`` use.

    ``re`` tests a class of BMP characters in constant time but a class with astral ranges
    one range at a time, so astral marks get their own class behind a cheap range test; and
    text without any mark uses a simpler pattern, which is twice as fast.
    """
    bmp_marks = _mark_ranges(0, 0xFFFF)
    astral_marks = _mark_ranges(0x10000, sys.maxunicode)
    mark = rf"(?:[{bmp_marks}]|[\U00010000-\U0010ffff](?<=[{astral_marks}]))"
    # `_` has been turned into a space before matching, so `\w` means letters and digits.
    part = rf"\w+(?:{mark}+\w*)*"
    return _UnicodePatterns(
        word=re.compile(rf"{part}(?:'{part})*"),
        line_hyphen=re.compile(rf"[{_HYPHENS}][ \t]*\r?\n[ \t]*(?=\w)"),
        word_char=re.compile(rf"\w|{mark}"),
        word_without_marks=re.compile(r"\w+(?:'\w+)*"),
        maybe_mark=re.compile(rf"[{bmp_marks}\U00010000-\U0010ffff]"),
    )


#: The same rule for text that is pure ASCII once lower-cased (no marks, no other hyphens).
_ASCII = _Patterns(
    word=re.compile(r"[a-z0-9]+(?:'[a-z0-9]+)*"),
    line_hyphen=re.compile(r"-[ \t]*\r?\n[ \t]*(?=[a-z0-9])"),
    word_char=re.compile(r"[a-z0-9]"),
)


def _join_line_hyphens(text: str, patterns: _Patterns) -> str:
    word_char = patterns.word_char

    def join(match: re.Match[str]) -> str:
        start = match.start()
        if start and word_char.match(match.string, start - 1):
            return ""
        return match.group()

    return patterns.line_hyphen.sub(join, text)


def _normalize_unicode(text: str) -> str:
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFKC", text.casefold())
    if "_" in text:
        text = text.replace("_", " ")
    if "\n" in text:
        text = _join_line_hyphens(text, _unicode_patterns())
    for invisible in _INVISIBLE:
        if invisible in text:
            text = text.replace(invisible, "")
    for apostrophe in _APOSTROPHES:
        if apostrophe in text:
            text = text.replace(apostrophe, "'")
    return text


def _normalize_ascii(text: str) -> str:
    text = text.lower()
    if "_" in text:
        text = text.replace("_", " ")
    if "-" in text and "\n" in text:
        text = _join_line_hyphens(text, _ASCII)
    return text


def _prepare(text: str) -> tuple[str, re.Pattern[str]]:
    """The normalised text and the pattern that finds its words."""
    if text.isascii():
        return _normalize_ascii(text), _ASCII.word
    patterns = _unicode_patterns()
    text = _normalize_unicode(text)
    if patterns.maybe_mark.search(text) is None:
        return text, patterns.word_without_marks
    return text, patterns.word


def normalize(text: str) -> str:
    """``text`` as words are matched in it: steps 1-5 of the rule."""
    return _prepare(text)[0]


def words(text: str) -> Iterator[str]:
    """The words of ``text`` in order, normalised (NFKC, case-folded)."""
    normal, pattern = _prepare(text)
    for match in pattern.finditer(normal):
        yield match.group()


#: Maps every ASCII byte that is never part of a word to a space, and keeps the rest
#: (ASCII letters, digits, the apostrophe, and all bytes of non-ASCII characters).
_ROUGH_TABLE = bytes(
    byte if chr(byte).isalnum() or byte == ord("'") or byte >= 0x80 else ord(" ")
    for byte in range(256)
)


def _count_into(counter: Counter[str], text: str) -> None:
    """Add the *rough* tokens of ``text`` to ``counter``; :func:`_settle` finishes the job.

    Counting is the hot path, and splitting on whitespace is several times faster than
    matching the word pattern: the normalised text has every ASCII separator turned into a
    space (a byte translation of its UTF-8, which keeps multi-byte characters intact) and
    is split. A token that is ASCII and has no apostrophe is then exactly one word; any
    other token (non-ASCII characters, apostrophes) is settled by the word pattern once per
    *distinct* token, after all text is counted. A token boundary is always a separator
    under the rule (whitespace and ASCII punctuation are never letters, digits or marks),
    so matching a token alone finds what matching it in its text would.
    """
    if text:
        normal = _prepare(text)[0]
        rough = normal.encode("utf-8", "surrogatepass").translate(_ROUGH_TABLE)
        counter.update(rough.decode("utf-8", "surrogatepass").split())


def _settle(counter: Counter[str]) -> Counter[str]:
    """Replace the rough tokens that may not be single words by the words in them."""
    unsettled = [token for token in counter if "'" in token or not token.isascii()]
    for token in unsettled:
        count = counter.pop(token)
        pattern = _ASCII.word if token.isascii() else _unicode_patterns().word
        for word in pattern.findall(token):
            counter[word] += count
    return counter


def count_words(text: str) -> WordCounts:
    """Count the words of ``text`` under :data:`WORD_RULE_VERSION`."""
    counter: Counter[str] = Counter()
    _count_into(counter, text)
    return WordCounts.from_counter(_settle(counter))


@cache
def _cut_guards() -> tuple[frozenset[str], frozenset[str]]:
    """Raw characters that normalise to a line-break hyphen, and to blanks (space, tab, ``_``).

    All such characters are in the Basic Multilingual Plane.
    """
    hyphens: set[str] = set()
    blanks = {"\r"}
    for code_point in range(0x10000):
        char = chr(code_point)
        normal = unicodedata.normalize("NFKC", char)
        if normal.endswith(tuple(_HYPHENS)):
            hyphens.add(char)
        elif normal and not normal.strip(" \t_"):
            blanks.add(char)
    return frozenset(hyphens), frozenset(blanks)


def _safe_cut(buffer: str) -> int:
    """Index just after the last line break the rule never looks across, or 0 if none.

    Cutting right after ``\\n`` is safe for NFKC (a line feed never composes with what
    follows it), for words (a line feed separates words) and for apostrophes; only undoing
    line-break hyphenation looks across a line feed, so a line whose last visible character
    is (or normalises to) a hyphen is never a cut point.
    """
    hyphens, blanks = _cut_guards()
    end = len(buffer)
    while True:
        newline = buffer.rfind("\n", 0, end)
        if newline < 0:
            return 0
        last = newline - 1
        while last >= 0 and buffer[last] in blanks:
            last -= 1
        if last < 0 or buffer[last] not in hyphens:
            return newline + 1
        end = newline


def count_chunks(chunks: Iterable[str], *, min_piece_chars: int = 1 << 20) -> WordCounts:
    """Count the words of the text made by joining ``chunks``, holding only a piece of it.

    Gives the same result as ``count_words("".join(chunks))``. Pieces of at least
    ``min_piece_chars`` characters are counted as soon as a safe line break is seen; a text
    without line breaks is held whole.
    """
    counter: Counter[str] = Counter()
    pending: list[str] = []
    pending_chars = 0
    threshold = min_piece_chars
    for chunk in chunks:
        if not chunk:
            continue
        pending.append(chunk)
        pending_chars += len(chunk)
        if pending_chars < threshold:
            continue
        buffer = "".join(pending)
        cut = _safe_cut(buffer)
        if cut:
            _count_into(counter, buffer[:cut])
            buffer = buffer[cut:]
        pending = [buffer]
        pending_chars = len(buffer)
        # Without a cut point, wait for twice as much text before looking again.
        threshold = max(min_piece_chars, 2 * pending_chars)
    _count_into(counter, "".join(pending))
    return WordCounts.from_counter(_settle(counter))
