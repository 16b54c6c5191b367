"""THE word rule of ocrpipe: what a "word" is, and how words are counted.

Word rule version ``2`` (:data:`WORD_RULE_VERSION`). Any change to what this module counts
as a word must bump the version, because every result file and ``WordsCounted`` event
records the version it was counted with. It lives in the shared package because the ocr
service (re-joining hyphenated lines), the wordcount service (counting), the tests and the
benchmarks all need the same rule, and services may not import each other.

The aim: totals that agree with what people check them against, the word count of a word
processor. Every decision below was checked against LibreOffice Writer 7.4 (its
``meta:word-count`` for a plain-text file, Writer's default "additional separators" being
the em and en dash); ``tests/unit/shared/test_words_writer.py`` keeps checking it and
``benchmarks/wordcount_vs_writer.py`` measures it on whole documents.

The rule, in order:

1. **Line-break hyphenation is undone** (:func:`join_line_hyphens`, also used by the ocr
   service's clean-up). A hyphen (``-`` U+002D, U+2010, U+2011, soft hyphen U+00AD, U+FE63,
   U+FF0D) right after a letter, digit or mark, at the end of a line (then optional
   spaces/tabs, ``\\n`` or ``\\r\\n``, optional indentation), followed by a letter or digit,
   joins the two halves into one word. The hyphen is dropped (``extra-\\nordinary`` ->
   ``extraordinary``) unless the next line starts with an upper-case letter or a digit
   (``Moby-\\nDick`` -> ``Moby-Dick``, ``10-\\n12`` -> ``10-12``: compounds); a soft hyphen is
   always dropped. A blank line between the halves is a paragraph break, not hyphenation.
   A compound broken at its own hyphen before a lower-case letter (``well-\\nknown``)
   becomes ``wellknown``: text cannot tell it from a split word. *Deliberate difference:*
   Writer cannot know a line of a plain-text file was hyphenated and counts two words.
2. **Words are runs of non-space characters** (``str.split()``: spaces, tabs, line breaks,
   the no-break space U+00A0, the narrow no-break space U+202F, figure, thin, hair, em and
   ideographic spaces all separate, as in Writer). So ``well-known``, ``3.14``, ``1,000``,
   ``e.g.``, ``don't``, ``l'homme``, ``snake_case``, ``IDN2_TOO_BIG_DOMAIN``, ``a/b``,
   ``and/or``, ``word...word``, ``word…word``, ``one.two``, ``A&B`` and a whole URL or
   e-mail address are one word each, as in Writer. (``1 000`` with a no-break space is two
   words, in Writer too.)
3. **Dashes separate**: the en dash U+2013 and the em dash U+2014 (Writer's default
   additional separators) and a run of two or more ``-`` (the typewriter dash,
   ``one--two``; Writer splits there too) act like a space. A single hyphen and the other
   dashes (U+2010, U+2011, U+2012, U+2015, minus U+2212) do not (``x-y-z`` is one word, as in
   Writer).
4. **Each CJK ideograph, kana and bopomofo character is one word**, as word processors count
   them: ``日本語のテキスト`` is 8 words, ``abc日本def`` 4, ``2024年`` 2, as in Writer. There is
   no dictionary segmentation.
5. **A word must hold a letter or a digit** (Unicode ``L*`` or ``N*``). *Deliberate
   difference:* Writer counts every other non-space token too - a lone ``-``, ``&``, ``•``,
   ``|``, ``...``, ``--``, ``_``, an emoji, ``©``, a stray combining mark, CJK punctuation
   such as ``。``, the leading ``--`` of ``--help`` (2 words in Writer) - except a token
   made only of en/em dashes. Those are bullets, rules, leaders and OCR specks, not words.
   On manuals this is the whole difference: see ``benchmarks/wordcount_vs_writer.py``.
6. **Keys**: Unicode NFKC, then case folding (``str.casefold``), then NFKC again; invisible
   format characters removed (soft hyphen U+00AD, zero-width space U+200B, zero-width
   (non-)joiner U+200C/U+200D, word joiner U+2060, BOM U+FEFF: none of them separates
   words, as in Writer - ``in\\u00adfor\\u00admation`` and ``one\\u200btwo`` are one word
   each); the apostrophes U+2019, U+2018 and U+02BC written ``'``; then the characters at
   both ends that are not letters, digits or marks are stripped: ``"Hello,"`` -> ``hello``,
   ``(e.g.)`` -> ``e.g``, ``'tis`` -> ``tis``, ``don’t`` -> ``don't``, ``$5`` -> ``5``,
   ``__init__`` -> ``init``. ``É``/``é``/``e`` + U+0301 are one key, ``ß`` -> ``ss``,
   full-width ``ＡＢＣ`` -> ``abc``, ``ﬁ`` -> ``fi``.

Other deliberate differences from Writer, all rare in text:

* Splitting happens after NFKC, so full-width Latin letters and digits count as their ASCII
  forms (``ＡＢＣ １２`` is 2 words; Writer counts each full-width character, 5) and a
  superscript stays in its word (``x²`` -> ``x2``, 1 word; Writer 2).
* Hangul is counted by spaces, like Latin (``한국어 텍스트`` is 2 words); Writer counts every
  syllable (6). Korean is written with spaces between words, so a syllable count would make
  every key a syllable. Thai, Lao, Khmer and Myanmar runs between spaces are one word each
  (Writer counts every character cluster): there is no dictionary segmentation.
* A BOM inside the text is removed (Writer counts ``one \\ufefftwo`` as 3 words); the ASCII
  control characters ``\\v`` and ``\\x1c``-``\\x1f`` separate (``str.split``), in Writer they
  do not. After a zero-width space, Writer 7.4 counts the rest of the paragraph as one word
  (``one\\u200btwo three`` is 1); that quirk is not followed (2).

Results (:class:`WordCounts`): the total number of words, the number of distinct words
(keys), the number of characters (code points after NFC composition, line breaks ``\\r``
and ``\\n`` not counted: Writer's "characters including spaces" for text without
combining sequences; Writer counts grapheme clusters), and the counts sorted by count
descending, then word ascending (by code point).

Speed: counting is ``str.split`` + :class:`collections.Counter` over the raw tokens (C
code); each *distinct* token is then turned into its words once (:func:`_settle`). A token
of ASCII letters and digits only is its own lower-cased key, with no Python work per
character. Long texts can be counted in pieces with :func:`count_chunks`, which gives
exactly the result of counting the whole text: it only cuts right after a line break that
cannot be line-break hyphenation.
"""

# ruff: noqa: RUF002  (the docstring is about look-alike characters)

from __future__ import annotations

import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

WORD_RULE_VERSION = "2"

#: Characters that hyphenate a word across a line break (in the raw text, before NFKC).
LINE_HYPHENS = "-\u2010\u2011\u00ad\ufe63\uff0d"
_LINE_HYPHEN_SET = frozenset(LINE_HYPHENS)
#: Removed from keys; they never separate words.
_INVISIBLE = ("\u00ad", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff")
#: Spellings of the apostrophe, all written U+0027 in keys.
_APOSTROPHES = ("\u2019", "\u2018", "\u02bc")

#: A hyphen at a line end and the first word of the next line (step 1 of the rule).
_LINE_HYPHEN = re.compile(rf"[{re.escape(LINE_HYPHENS)}][ \t]*(\r?\n)[ \t]*(?=[^\W_])(\S+)[ \t]*")
#: What separates words inside a normalised token (step 3, and spaces made by NFKC).
_SEPARATORS = re.compile(r"[\s\u2013\u2014]+|-{2,}")
#: One word each (step 4): CJK ideographs, kana and bopomofo letters (after NFKC).
_CJK = re.compile(
    "([\u3005-\u3007\u3021-\u3029\u3031-\u3035\u3038-\u303c"
    "\u3041-\u3096\u309d-\u309f\u30a1-\u30fa\u30fc-\u30ff"
    "\u3105-\u312f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
    "\U0001b000-\U0001b16f\U00020000-\U0002fa1f\U00030000-\U000323af])"
)
_ALNUM = re.compile(r"[^\W_]")
#: ASCII characters stripped from the ends of a key: everything but letters and digits.
_ASCII_STRIP = "".join(chr(c) for c in range(128) if not chr(c).isalnum())
_ASCII_SEPARATORS = "".join(string.whitespace)


@dataclass(frozen=True)
class WordCounts:
    """The outcome of counting one text."""

    total: int
    unique: int
    #: Characters of the text (NFC code points), line breaks not counted.
    characters: int
    #: ``(word, count)`` sorted by count descending, then word ascending.
    counts: list[tuple[str, int]]

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        return self.counts[:n]

    @classmethod
    def from_counter(cls, counter: Counter[str], characters: int) -> WordCounts:
        ordered = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
        return cls(
            total=sum(counter.values()),
            unique=len(counter),
            characters=characters,
            counts=ordered,
        )

    def __add__(self, other: WordCounts) -> WordCounts:
        """The counts of two texts together (e.g. parts of one text counted in parallel)."""
        merged = Counter(dict(self.counts))
        merged.update(dict(other.counts))
        return WordCounts.from_counter(merged, self.characters + other.characters)


# --- step 1: line-break hyphenation ---------------------------------------------------------


def _is_word_char(char: str) -> bool:
    return unicodedata.category(char)[0] in "LNM"


def join_line_hyphens(text: str) -> str:
    """``text`` with words hyphenated across a line break re-joined (step 1 of the rule).

    The second half moves up to the end of the first line, so lines keep reading as they
    were meant (``conso-`` / ``lation that`` -> ``consolation`` / ``that``); a line left
    empty by the move disappears. Only the hyphen, the line break and the blanks around the
    moved part are removed, so the words of the result are the rule's words.
    """
    if "\n" not in text or not any(hyphen in text for hyphen in LINE_HYPHENS):
        return text
    again = True

    def join(match: re.Match[str]) -> str:
        nonlocal again
        source, start, end = match.string, match.start(), match.end()
        if start == 0 or not _is_word_char(source[start - 1]):
            return match.group()
        hyphen, newline, rest = source[start], match.group(1), match.group(2)
        first = rest[0]
        keep = hyphen != "\u00ad" and (first.isupper() or first.istitle() or first.isdigit())
        # "a-\nb-\nc": a moved part may itself end its line with a hyphen; go again then.
        again = again or rest[-1] in _LINE_HYPHEN_SET
        line_goes_on = end < len(source) and source[end] not in "\r\n"
        return (hyphen if keep else "") + rest + (newline if line_goes_on else "")

    while again:
        again = False
        text = _LINE_HYPHEN.sub(join, text)
    return text


def ends_with_line_hyphen(line: str) -> bool:
    """Whether a line (without its line break) may continue on the next one (step 1)."""
    return line.rstrip(" \t\r")[-1:] in _LINE_HYPHEN_SET


# --- steps 2-6: tokens to words -------------------------------------------------------------


def _strip(piece: str) -> str:
    """``piece`` without the characters at its ends that are not letters, digits or marks."""
    start, end = 0, len(piece)
    while start < end and not _is_word_char(piece[start]):
        start += 1
    while end > start and not _is_word_char(piece[end - 1]):
        end -= 1
    return piece[start:end]


def _unicode_token_words(token: str) -> list[str]:
    normal = unicodedata.normalize("NFKC", token)
    normal = unicodedata.normalize("NFKC", normal.casefold())
    for invisible in _INVISIBLE:
        if invisible in normal:
            normal = normal.replace(invisible, "")
    for apostrophe in _APOSTROPHES:
        if apostrophe in normal:
            normal = normal.replace(apostrophe, "'")
    found: list[str] = []
    for part in _SEPARATORS.split(normal):
        # With its capturing group, split() puts each CJK character at an odd index.
        for index, piece in enumerate(_CJK.split(part)):
            if index % 2:
                found.append(piece)
                continue
            piece = _strip(piece)
            if piece and _ALNUM.search(piece):
                found.append(piece)
    return found


def _ascii_token_words(token: str) -> list[str]:
    """:func:`_unicode_token_words` for a pure-ASCII token, the same result faster."""
    lower = token.lower()
    parts = _SEPARATORS.split(lower) if "--" in lower else [lower]
    found = []
    for part in parts:
        piece = part.strip(_ASCII_STRIP)
        if piece:
            found.append(piece)
    return found


def token_words(token: str) -> list[str]:
    """The words (keys) in one whitespace-free token, in order (steps 3-6 of the rule)."""
    if token.isascii():
        if token.isalnum():
            return [token.lower()]
        return _ascii_token_words(token)
    return _unicode_token_words(token)


def count_characters(text: str) -> int:
    """Characters of ``text`` as :class:`WordCounts` counts them."""
    breaks = text.count("\n") + text.count("\r")
    if text.isascii():
        return len(text) - breaks
    return len(unicodedata.normalize("NFC", text)) - breaks


def words(text: str) -> Iterator[str]:
    """The words of ``text`` in order, as keys (NFKC, case-folded, ends stripped)."""
    seen: dict[str, list[str]] = {}
    for token in join_line_hyphens(text).split():
        found = seen.get(token)
        if found is None:
            found = seen[token] = token_words(token)
        yield from found


# --- counting -------------------------------------------------------------------------------


def _count_into(counter: Counter[str], text: str) -> int:
    """Add the raw tokens of ``text`` to ``counter``; return its characters.

    :func:`_settle` turns the tokens into words afterwards, once per distinct token.
    """
    if not text:
        return 0
    counter.update(join_line_hyphens(text).split())
    return count_characters(text)


def _settle(tokens: Counter[str]) -> Counter[str]:
    counted: Counter[str] = Counter()
    for token, count in tokens.items():
        if token.isascii() and token.isalnum():
            counted[token.lower()] += count
            continue
        for word in token_words(token):
            counted[word] += count
    return counted


def count_words(text: str) -> WordCounts:
    """Count the words of ``text`` under :data:`WORD_RULE_VERSION`."""
    tokens: Counter[str] = Counter()
    characters = _count_into(tokens, text)
    return WordCounts.from_counter(_settle(tokens), characters)


def _safe_cut(buffer: str) -> int:
    """Index just after the last line break the rule never looks across, or 0 if none.

    Cutting right after ``\\n`` is safe for NFC/NFKC (a line feed never composes), for
    tokens (a line feed separates them) and for characters; only undoing line-break
    hyphenation looks across a line feed, so a line ending with a hyphen (and blanks) is
    never a cut point.
    """
    end = len(buffer)
    while True:
        newline = buffer.rfind("\n", 0, end)
        if newline < 0:
            return 0
        line_start = buffer.rfind("\n", 0, newline) + 1
        if not ends_with_line_hyphen(buffer[line_start:newline]):
            return newline + 1
        end = newline


def count_chunks(chunks: Iterable[str], *, min_piece_chars: int = 1 << 20) -> WordCounts:
    """Count the words of the text made by joining ``chunks``, holding only a piece of it.

    Gives the same result as ``count_words("".join(chunks))``. Pieces of at least
    ``min_piece_chars`` characters are counted as soon as a safe line break is seen; a text
    without line breaks is held whole.
    """
    tokens: Counter[str] = Counter()
    characters = 0
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
            characters += _count_into(tokens, buffer[:cut])
            buffer = buffer[cut:]
        pending = [buffer]
        pending_chars = len(buffer)
        # Without a cut point, wait for twice as much text before looking again.
        threshold = max(min_piece_chars, 2 * pending_chars)
    characters += _count_into(tokens, "".join(pending))
    return WordCounts.from_counter(_settle(tokens), characters)
