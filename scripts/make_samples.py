"""Render ocrpipe's sample documents and the OCR evaluation set.

    python scripts/make_samples.py                      # regenerate samples/ (committed)
    python scripts/make_samples.py --eval-dir DIR [--count N] [--seed S]

Every page is rendered from public-domain text embedded below, so the ground truth is
known exactly: `<stem>.txt` holds the text line by line as it was drawn, except that a word
split across a line break by a hyphen is written whole at the end of its first line.

The committed samples are reproducible byte for byte (fixed seed, fixed dates, no
timestamps) on a machine with the same Pillow, numpy and font versions. The evaluation set
renders every passage under one degradation family at a time (skew, right-angle rotation,
blur, uneven light, low resolution, JPEG, noise, perspective, and a combined "phone photo"),
named `<passage>__<degradation>.png` with `<passage>__<degradation>.txt` beside it, and a
`manifest.json` that lists the pairs and their parameters.

Dependencies: Pillow and numpy; fonts from the Debian packages fonts-dejavu-core and
fonts-liberation, looked up by file name under the standard font directory.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFilter, ImageFont

from ocrpipe.words import words

DPI = 300
A5 = (1748, 2480)  # 148 x 210 mm at 300 dpi
SEED = 20240607
FONT_ROOT = Path("/usr/share/fonts")  # the standard system font directory (Debian)
REPO_ROOT = Path(__file__).resolve().parent.parent
# A fixed PDF creation date keeps the committed PDF reproducible.
PDF_DATE = time.strptime("2024-06-07 12:00:00", "%Y-%m-%d %H:%M:%S")

FloatArray = npt.NDArray[np.float32]

# ---------------------------------------------------------------------------------------
# Fonts


@dataclass(frozen=True)
class FontFace:
    file_name: str
    apt_package: str


FONTS: dict[str, FontFace] = {
    "dejavu-serif": FontFace("DejaVuSerif.ttf", "fonts-dejavu-core"),
    "dejavu-serif-bold": FontFace("DejaVuSerif-Bold.ttf", "fonts-dejavu-core"),
    "dejavu-sans": FontFace("DejaVuSans.ttf", "fonts-dejavu-core"),
    "dejavu-sans-bold": FontFace("DejaVuSans-Bold.ttf", "fonts-dejavu-core"),
    "dejavu-mono": FontFace("DejaVuSansMono.ttf", "fonts-dejavu-core"),
    "dejavu-mono-bold": FontFace("DejaVuSansMono-Bold.ttf", "fonts-dejavu-core"),
    "liberation-serif": FontFace("LiberationSerif-Regular.ttf", "fonts-liberation"),
    "liberation-serif-bold": FontFace("LiberationSerif-Bold.ttf", "fonts-liberation"),
    "liberation-sans": FontFace("LiberationSans-Regular.ttf", "fonts-liberation"),
    "liberation-sans-bold": FontFace("LiberationSans-Bold.ttf", "fonts-liberation"),
}


class FontMissingError(RuntimeError):
    pass


@cache
def font_path(name: str) -> Path:
    face = FONTS[name]
    hits = sorted(FONT_ROOT.rglob(face.file_name)) if FONT_ROOT.is_dir() else []
    if not hits:
        raise FontMissingError(
            f"font file {face.file_name} not found under {FONT_ROOT}; "
            f"install it with: sudo apt-get install {face.apt_package}"
        )
    return hits[0]


@cache
def load_font(name: str, size_px: int) -> ImageFont.FreeTypeFont:
    # BASIC layout: no dependency on the local raqm/harfbuzz build, so output is stable.
    return ImageFont.truetype(str(font_path(name)), size_px, layout_engine=ImageFont.Layout.BASIC)


def pt_to_px(points: float, dpi: int = DPI) -> int:
    return round(points * dpi / 72)


# ---------------------------------------------------------------------------------------
# Public-domain passages.
#
# Markup: blocks are separated by blank lines; a block is a paragraph whose lines are
# joined with spaces, unless it starts with one of these prefixes (per line):
#   "# "  title (bold, centred)        "> "  line set flush right
#   "| "  line set flush left as is    "~~~" page break
# Dashes are em dashes, quotes and apostrophes are plain ASCII.


@dataclass(frozen=True)
class Passage:
    slug: str
    source: str
    text: str


PASSAGES: dict[str, Passage] = {}


def _passage(slug: str, source: str, text: str) -> None:
    PASSAGES[slug] = Passage(slug, source, text.strip("\n"))


_passage(
    "gettysburg",
    "Abraham Lincoln, Address at Gettysburg, 19 November 1863 (Bliss copy)",
    """
# The Gettysburg Address

Four score and seven years ago our fathers brought forth on this continent, a new nation,
conceived in Liberty, and dedicated to the proposition that all men are created equal.

Now we are engaged in a great civil war, testing whether that nation, or any nation so
conceived and so dedicated, can long endure. We are met on a great battle-field of that war.
We have come to dedicate a portion of that field, as a final resting place for those who here
gave their lives that that nation might live. It is altogether fitting and proper that we
should do this.

But, in a larger sense, we can not dedicate—we can not consecrate—we can not hallow—this
ground. The brave men, living and dead, who struggled here, have consecrated it, far above our
poor power to add or detract. The world will little note, nor long remember what we say here,
but it can never forget what they did here. It is for us the living, rather, to be dedicated
here to the unfinished work which they who fought here have thus far so nobly advanced. It is
rather for us to be here dedicated to the great task remaining before us—that from these
honored dead we take increased devotion to that cause for which they gave the last full
measure of devotion—that we here highly resolve that these dead shall not have died in
vain—that this nation, under God, shall have a new birth of freedom—and that government of
the people, by the people, for the people, shall not perish from the earth.

> Abraham Lincoln
""",
)

_passage(
    "moby-dick",
    "Herman Melville, Moby-Dick; or, The Whale (1851), chapter 1, opening paragraph",
    """
# CHAPTER 1. Loomings.

Call me Ishmael. Some years ago—never mind how long precisely—having little or no money in
my purse, and nothing particular to interest me on shore, I thought I would sail about a
little and see the watery part of the world. It is a way I have of driving off the spleen and
regulating the circulation. Whenever I find myself growing grim about the mouth; whenever it
is a damp, drizzly November in my soul; whenever I find myself involuntarily pausing before
coffin warehouses, and bringing up the rear of every funeral I meet; and especially whenever
my hypos get such an upper hand of me, that it requires a strong moral principle to prevent
me from deliberately stepping into the street, and methodically knocking people's hats
off—then, I account it high time to get to sea as soon as I can. This is my substitute for
pistol and ball. With a philosophical flourish Cato throws himself upon his sword; I quietly
take to the ship. There is nothing surprising in this. If they but knew it, almost all men in
their degree, some time or other, cherish very nearly the same feelings towards the ocean
with me.
""",
)

_passage(
    "pride-and-prejudice",
    "Jane Austen, Pride and Prejudice (1813), chapter 1, opening",
    """
# Chapter 1

It is a truth universally acknowledged, that a single man in possession of a good fortune,
must be in want of a wife.

However little known the feelings or views of such a man may be on his first entering a
neighbourhood, this truth is so well fixed in the minds of the surrounding families, that he
is considered the rightful property of some one or other of their daughters.

"My dear Mr. Bennet," said his lady to him one day, "have you heard that Netherfield Park is
let at last?"

Mr. Bennet replied that he had not.

"But it is," returned she; "for Mrs. Long has just been here, and she told me all about it."

Mr. Bennet made no answer.

"Do you not want to know who has taken it?" cried his wife impatiently.

"You want to tell me, and I have no objection to hearing it."

This was invitation enough.

"Why, my dear, you must know, Mrs. Long says that Netherfield is taken by a young man of
large fortune from the north of England; that he came down on Monday in a chaise and four to
see the place, and was so much delighted with it, that he agreed with Mr. Morris immediately;
that he is to take possession before Michaelmas, and some of his servants are to be in the
house by the end of next week."
""",
)

_passage(
    "declaration",
    "United States Declaration of Independence (4 July 1776), opening and preamble",
    """
# IN CONGRESS, July 4, 1776.

When in the Course of human events, it becomes necessary for one people to dissolve the
political bands which have connected them with another, and to assume among the powers of the
earth, the separate and equal station to which the Laws of Nature and of Nature's God entitle
them, a decent respect to the opinions of mankind requires that they should declare the
causes which impel them to the separation.

We hold these truths to be self-evident, that all men are created equal, that they are
endowed by their Creator with certain unalienable Rights, that among these are Life, Liberty
and the pursuit of Happiness.—That to secure these rights, Governments are instituted among
Men, deriving their just powers from the consent of the governed,—That whenever any Form of
Government becomes destructive of these ends, it is the Right of the People to alter or to
abolish it, and to institute new Government, laying its foundation on such principles and
organizing its powers in such form, as to them shall seem most likely to effect their Safety
and Happiness. Prudence, indeed, will dictate that Governments long established should not
be changed for light and transient causes; and accordingly all experience hath shewn, that
mankind are more disposed to suffer, while evils are sufferable, than to right themselves by
abolishing the forms to which they are accustomed. But when a long train of abuses and
usurpations, pursuing invariably the same Object evinces a design to reduce them under
absolute Despotism, it is their right, it is their duty, to throw off such Government, and to
provide new Guards for their future security.
""",
)

_passage(
    "origin-of-species",
    "Charles Darwin, On the Origin of Species (1859), Introduction, first paragraph",
    """
# INTRODUCTION.

When on board H.M.S. 'Beagle,' as naturalist, I was much struck with certain facts in the
distribution of the inhabitants of South America, and in the geological relations of the
present to the past inhabitants of that continent. These facts seemed to me to throw some
light on the origin of species—that mystery of mysteries, as it has been called by one of our
greatest philosophers. On my return home, it occurred to me, in 1837, that something might
perhaps be made out on this question by patiently accumulating and reflecting on all sorts of
facts which could possibly have any bearing on it. After five years' work I allowed myself to
speculate on the subject, and drew up some short notes; these I enlarged in 1844 into a
sketch of the conclusions, which then seemed to me probable: from that period to the present
day I have steadily pursued the same object. I hope that I may be excused for entering on
these personal details, as I give them to show that I have not been hasty in coming to a
decision.
""",
)

_passage(
    "tale-of-two-cities",
    "Charles Dickens, A Tale of Two Cities (1859), book 1, chapter 1, opening",
    """
# I. The Period

It was the best of times, it was the worst of times, it was the age of wisdom, it was the
age of foolishness, it was the epoch of belief, it was the epoch of incredulity, it was the
season of Light, it was the season of Darkness, it was the spring of hope, it was the winter
of despair, we had everything before us, we had nothing before us, we were all going direct
to Heaven, we were all going direct the other way—in short, the period was so far like the
present period, that some of its noisiest authorities insisted on its being received, for
good or for evil, in the superlative degree of comparison only.

There were a king with a large jaw and a queen with a plain face, on the throne of England;
there were a king with a large jaw and a queen with a fair face, on the throne of France. In
both countries it was clearer than crystal to the lords of the State preserves of loaves and
fishes, that things in general were settled for ever.
""",
)

_passage(
    "bixby-letter",
    "Abraham Lincoln, letter to Lydia Bixby, 21 November 1864 (text as published in 1864)",
    """
> Executive Mansion,
> Washington, Nov. 21, 1864.

| Mrs. Bixby, Boston, Mass.

| Dear Madam,

I have been shown in the files of the War Department a statement of the Adjutant General of
Massachusetts that you are the mother of five sons who have died gloriously on the field of
battle. I feel how weak and fruitless must be any word of mine which should attempt to
beguile you from the grief of a loss so overwhelming. But I cannot refrain from tendering to
you the consolation that may be found in the thanks of the Republic they died to save. I pray
that our Heavenly Father may assuage the anguish of your bereavement, and leave you only the
cherished memory of the loved and lost, and the solemn pride that must be yours to have laid
so costly a sacrifice upon the altar of Freedom.

> Yours, very sincerely and respectfully,
> A. Lincoln
""",
)

# Invented for this project (no third-party text); the number is in a range reserved for
# fiction, the shop does not exist.
RECEIPT_TEXT = """\
CORNER BOOKSHOP
12 Harbour Street, Bristol
Tel 0117 496 0000
--------------------------------
Date 2024-03-14 10:42    Till 2
--------------------------------
Moby-Dick (paperback)       8.99
Pride and Prejudice         6.50
Origin of Species          11.25
Bookmark x2                 1.50
--------------------------------
SUBTOTAL                   28.24
VAT 0%                      0.00
TOTAL                      28.24
CARD                       28.24
--------------------------------
Thank you for shopping with us!"""

# ---------------------------------------------------------------------------------------
# Layout


@dataclass(frozen=True)
class Block:
    kind: str  # "title" | "para" | "right" | "left" | "break"
    text: str = ""


def parse_passage(text: str) -> list[Block]:
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = chunk.strip().splitlines()
        if lines[0].startswith("~~~"):
            blocks.append(Block("break"))
        elif lines[0].startswith("# "):
            blocks.append(Block("title", " ".join(ln[2:].strip() for ln in lines)))
        elif lines[0].startswith(("> ", "| ")):
            for ln in lines:
                kind = "right" if ln.startswith("> ") else "left"
                blocks.append(Block(kind, ln[2:].strip()))
        else:
            blocks.append(Block("para", " ".join(ln.strip() for ln in lines)))
    return blocks


@dataclass(frozen=True)
class Style:
    font: str = "liberation-serif"
    title_font: str = "liberation-serif-bold"
    size_pt: float = 11.0
    title_pt: float = 14.0
    leading: float = 1.3  # line pitch / font size
    justify: bool = True
    hyphenate: bool = False
    indent_em: float = 1.5  # first-line indent of paragraphs after the first
    margins_mm: tuple[float, float, float, float] = (16, 14, 18, 14)  # top, right, bottom, left
    ink: int = 28
    paper: int = 252


@dataclass
class Line:
    words: list[tuple[int, str]]  # (x, drawn text)
    baseline: int
    font: ImageFont.FreeTypeFont
    truth: str


@dataclass
class Page:
    size: tuple[int, int]
    lines: list[Line] = field(default_factory=list)

    @property
    def truth(self) -> str:
        return "\n".join(ln.truth for ln in self.lines)


VOWELS = set("aeiouyAEIOUY")
_WORD_CORE = re.compile(r"^([^A-Za-z]*)([A-Za-z]+)([^A-Za-z]*)$")


# Consonant pairs that start a syllable together (`re-gret`), and pairs never split.
ONSETS = frozenset("bl br cl cr dr fl fr gl gr pl pr tr tw wr".split())  # noqa: SIM905
UNSPLIT = ONSETS | frozenset("ch ck gh ng ph qu sh th wh".split())  # noqa: SIM905


def hyphenation_points(word: str) -> list[int]:
    """Candidate split indices in an alphabetic word, longest prefix first.

    A cheap syllable rule, good enough to look like print: split before a consonant that
    follows a single vowel and precedes a vowel or an onset pair (`dedi-cated`,
    `devo-tion`), or between two consonants that sit between vowels unless they belong
    together (`con-secrated`, not `qui-ckness`). At least 3 letters stay on each side and
    an `-ed`/`-es` ending is not split off on its own.
    """
    lower = word.lower()
    points = []
    for i in range(3, len(word) - 2):
        prev, cur, nxt = lower[i - 1], lower[i], lower[i + 1]
        tail = lower[i:]
        if cur in VOWELS or (len(tail) <= 4 and tail.endswith(("ed", "es"))):
            continue
        single_vowel = prev in VOWELS and lower[i - 2] not in VOWELS
        v_cv = single_vowel and (nxt in VOWELS or cur + nxt in ONSETS)  # V|CV, V|CCV
        vc_cv = prev not in VOWELS and lower[i - 2] in VOWELS and nxt in VOWELS
        if (v_cv or vc_cv) and prev + cur not in UNSPLIT:
            points.append(i)
    return sorted(points, reverse=True)


def _split_for_line(
    token: str, font: ImageFont.FreeTypeFont, room: float
) -> tuple[str, str, str] | None:
    """Split `token` so that `head-` fits in `room` px: (drawn head, tail, whole word)."""
    m = _WORD_CORE.match(token)
    if not m or len(m.group(2)) < 7 or m.group(2)[0].isupper():
        return None
    lead, core, trail = m.groups()
    for i in hyphenation_points(core):
        head = lead + core[:i] + "-"
        if font.getlength(head) <= room:
            return head, core[i:] + trail, token
    return None


class PageFullError(Exception):
    pass


class Typesetter:
    """Flows blocks into pages; stops (and drops the rest) when `max_pages` are full."""

    def __init__(self, style: Style, page_size: tuple[int, int] = A5, max_pages: int = 1):
        self.style = style
        self.page_size = page_size
        self.max_pages = max_pages
        mm = DPI / 25.4
        top, right, bottom, left = (round(m * mm) for m in style.margins_mm)
        self.left, self.right = left, page_size[0] - right
        self.top, self.bottom = top, page_size[1] - bottom
        self.font = load_font(style.font, pt_to_px(style.size_pt))
        self.title_font = load_font(style.title_font, pt_to_px(style.title_pt))
        self.pitch = round(pt_to_px(style.size_pt) * style.leading)
        self.pages: list[Page] = []
        self.y = 0
        self.hyphenated: list[str] = []
        self._new_page()

    def _new_page(self) -> None:
        if len(self.pages) >= self.max_pages:
            raise PageFullError
        self.pages.append(Page(self.page_size))
        self.y = self.top

    def _place(self, font: ImageFont.FreeTypeFont, pitch: int) -> int:
        """Reserve a line of `pitch` px, returning its baseline."""
        if self.y + pitch > self.bottom:
            self._new_page()
        ascent, _ = font.getmetrics()
        baseline = self.y + ascent
        self.y += pitch
        return baseline

    def _emit(
        self,
        words: list[tuple[int, str]],
        font: ImageFont.FreeTypeFont,
        truth: str,
        pitch: int | None = None,
    ) -> None:
        baseline = self._place(font, pitch or self.pitch)
        self.pages[-1].lines.append(Line(words, baseline, font, truth))

    def typeset(self, blocks: Sequence[Block]) -> list[Page]:
        try:
            first_para = True
            for i, block in enumerate(blocks):
                if block.kind == "break":
                    self._new_page()
                elif block.kind == "title":
                    self._title(block.text)
                elif block.kind in ("left", "right"):
                    width = self.font.getlength(block.text)
                    x = self.left if block.kind == "left" else round(self.right - width)
                    self._emit([(x, block.text)], self.font, block.text)
                    nxt = blocks[i + 1].kind if i + 1 < len(blocks) else ""
                    if nxt != block.kind:
                        self.y += self.pitch // 2
                else:
                    self._paragraph(block.text, indent=not first_para)
                    first_para = False
        except PageFullError:
            pass
        return [p for p in self.pages if p.lines]

    def _title(self, text: str) -> None:
        font = self.title_font
        width = font.getlength(text)
        x = round((self.left + self.right - width) / 2)
        self._emit([(x, text)], font, text, pitch=round(pt_to_px(self.style.title_pt) * 1.4))
        self.y += self.pitch // 2

    def _paragraph(self, text: str, indent: bool) -> None:
        """Fill lines greedily. Each item is (drawn text, truth text); the tail of a word
        hyphenated at the end of the previous line has empty truth (the word is whole there).
        """
        style, font = self.style, self.font
        space = font.getlength(" ")
        x0 = self.left + (round(style.indent_em * pt_to_px(style.size_pt)) if indent else 0)
        queue = [(tok, tok) for tok in text.split()]
        line: list[tuple[str, str]] = []
        while queue:
            drawn, truth = queue[0]
            used = sum(font.getlength(d) for d, _ in line) + space * len(line)
            if not line or x0 + used + font.getlength(drawn) <= self.right:
                line.append(queue.pop(0))
                continue
            split = None
            if style.hyphenate and truth == drawn:
                split = _split_for_line(drawn, font, self.right - (x0 + used))
            if split:
                head, tail, whole = split
                line.append((head, whole))
                queue[0] = (tail, "")
                self.hyphenated.append(whole)
            self._set_line(line, x0, last=False)
            line, x0 = [], self.left
        if line:
            self._set_line(line, x0, last=True)
        self.y += self.pitch // 4

    def _set_line(self, items: list[tuple[str, str]], x0: int, last: bool) -> None:
        font = self.font
        widths = [font.getlength(d) for d, _ in items]
        space = font.getlength(" ")
        gap = space
        if self.style.justify and not last and len(items) > 1:
            stretched = (self.right - x0 - sum(widths)) / (len(items) - 1)
            if stretched <= space * 3:
                gap = stretched
        words, x = [], float(x0)
        for (drawn, _), w in zip(items, widths, strict=True):
            words.append((round(x), drawn))
            x += w + gap
        self._emit(words, font, " ".join(t for _, t in items if t))


def render_page(page: Page, style: Style) -> Image.Image:
    img = Image.new("L", page.size, style.paper)
    draw = ImageDraw.Draw(img)
    for line in page.lines:
        for x, text in line.words:
            draw.text((x, line.baseline), text, font=line.font, fill=style.ink, anchor="ls")
    return img


def typeset(passage: Passage, style: Style, max_pages: int = 1) -> tuple[list[Page], list[str]]:
    setter = Typesetter(style, max_pages=max_pages)
    pages = setter.typeset(parse_passage(passage.text))
    return pages, setter.hyphenated


def truth_text(pages: Sequence[Page]) -> str:
    return "\n\n".join(p.truth for p in pages) + "\n"


# ---------------------------------------------------------------------------------------
# Degradations (numpy float32 arrays, 0..255; grey H x W or colour H x W x 3)


def to_array(img: Image.Image) -> FloatArray:
    return np.asarray(img, dtype=np.float32)


def to_image(arr: FloatArray) -> Image.Image:
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8))


def illumination_field(
    h: int, w: int, rng: np.random.Generator, gradient: float, vignette: float, shadow: float
) -> FloatArray:
    """Multiplicative light field: linear gradient x radial vignette x soft shadow band."""
    yy = (np.arange(h, dtype=np.float32)[:, None] / h) - 0.5
    xx = (np.arange(w, dtype=np.float32)[None, :] / w) - 0.5
    angle = rng.uniform(0, 2 * math.pi)
    along = math.cos(angle) * xx + math.sin(angle) * yy  # -0.71 .. 0.71
    field = 1.0 - gradient * (along + 0.71) / 1.42
    cx, cy = rng.uniform(-0.15, 0.15, size=2)
    r2 = ((xx - cx) ** 2 + (yy - cy) ** 2) / 0.5
    field = field * (1.0 - vignette * np.clip(r2, 0, 1.5))
    if shadow > 0:
        theta = rng.uniform(0, math.pi)
        offset = rng.uniform(0.15, 0.35) * rng.choice([-1.0, 1.0])
        dist = math.cos(theta) * xx + math.sin(theta) * yy - offset
        half_width, soft = rng.uniform(0.06, 0.14), 0.04
        inside = 1.0 / (1.0 + np.exp(-(half_width - np.abs(dist)) / soft))
        field = field * (1.0 - shadow * inside)
    out: FloatArray = np.asarray(field, dtype=np.float32)
    return out


def apply_light(arr: FloatArray, light: FloatArray) -> FloatArray:
    return arr * (light[..., None] if arr.ndim == 3 else light)


def gaussian_noise(arr: FloatArray, rng: np.random.Generator, sigma: float) -> FloatArray:
    return arr + rng.normal(0.0, sigma, size=arr.shape).astype(np.float32)


def salt_and_pepper(arr: FloatArray, rng: np.random.Generator, density: float) -> FloatArray:
    out = arr.copy()
    hit = rng.random(arr.shape[:2])
    out[hit < density / 2] = 0
    out[(hit >= density / 2) & (hit < density)] = 255
    return out


def jpeg_roundtrip(img: Image.Image, quality: int) -> Image.Image:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    buf.seek(0)
    with Image.open(buf) as decoded:
        return decoded.convert(img.mode)


def perspective_coeffs(
    dst: Sequence[tuple[float, float]], src: Sequence[tuple[float, float]]
) -> tuple[float, ...]:
    """Coefficients for Image.transform(PERSPECTIVE) sending quad `src` onto quad `dst`."""
    rows, rhs = [], []
    for (x, y), (u, v) in zip(dst, src, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
        rhs.extend([u, v])
    sol = np.linalg.solve(np.array(rows, dtype=np.float64), np.array(rhs, dtype=np.float64))
    return tuple(float(c) for c in sol)


def warp_onto(
    page: Image.Image,
    quad: Sequence[tuple[float, float]],
    canvas: Image.Image,
) -> Image.Image:
    """Paste `page` onto `canvas` so that its corners (tl, tr, br, bl) land on `quad`."""
    w, h = page.size
    coeffs = perspective_coeffs(quad, [(0, 0), (w, 0), (w, h), (0, h)])
    mode = page.mode
    warped = page.transform(
        canvas.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BICUBIC
    )
    mask = Image.new("L", page.size, 255).transform(
        canvas.size, Image.Transform.PERSPECTIVE, coeffs, Image.Resampling.BILINEAR
    )
    out = canvas.convert(mode).copy()
    out.paste(warped, (0, 0), mask)
    return out


def rotated_quad(
    size: tuple[int, int],
    center: tuple[float, float],
    scale: float,
    angle_deg: float,
    keystone: float = 0.0,
    jitter: Sequence[float] = (0.0,) * 8,
) -> list[tuple[float, float]]:
    """Corners (tl, tr, br, bl) of a page scaled, rotated about `center`, with keystone.

    keystone > 0 narrows the top edge (camera tilted back); jitter moves each corner by a
    fraction of the page width.
    """
    w, h = size[0] * scale, size[1] * scale
    base = [(-w / 2, -h / 2), (w / 2, -h / 2), (w / 2, h / 2), (-w / 2, h / 2)]
    base[0] = (base[0][0] + keystone * w, base[0][1])
    base[1] = (base[1][0] - keystone * w, base[1][1])
    a = math.radians(angle_deg)
    out = []
    for k, (x, y) in enumerate(base):
        x += jitter[2 * k] * w
        y += jitter[2 * k + 1] * w
        out.append(
            (
                center[0] + x * math.cos(a) - y * math.sin(a),
                center[1] + x * math.sin(a) + y * math.cos(a),
            )
        )
    return out


PAPER_RGB = np.array([238, 232, 217], dtype=np.float32)
INK_RGB = np.array([34, 33, 42], dtype=np.float32)


def paper_colour(page: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Grey page -> RGB on slightly warm, faintly mottled paper."""
    grey = to_array(page)
    ink = 1.0 - (grey - grey.min()) / max(1.0, float(grey.max() - grey.min()))
    h, w = grey.shape
    mottle = to_array(
        Image.fromarray((rng.random((h // 128 + 2, w // 128 + 2)) * 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BICUBIC
        )
    )
    paper = PAPER_RGB[None, None, :] * (0.985 + 0.03 * mottle[..., None] / 255.0)
    rgb = paper * (1.0 - ink[..., None]) + INK_RGB[None, None, :] * ink[..., None]
    return to_image(rgb.astype(np.float32))


def table_background(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A dark wooden desk: one brown tone, soft light variation and fine streaks."""
    w, h = size
    low = rng.random((9, 12)).astype(np.float32)
    shade = to_array(
        Image.fromarray((low * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BICUBIC)
    )
    streaks = rng.normal(0.0, 1.0, size=(h, w // 12 + 1)).astype(np.float32)
    grain = to_array(
        Image.fromarray(np.clip(streaks * 40 + 128, 0, 255).astype(np.uint8)).resize(
            (w, h), Image.Resampling.BILINEAR
        )
    )
    tone = 0.85 + 0.3 * shade / 255.0 + 0.08 * (grain - 128.0) / 128.0
    base = np.array([96.0, 72.0, 52.0], dtype=np.float32)
    return to_image((tone[..., None] * base[None, None, :]).astype(np.float32))


def phone_photo(
    page: Image.Image,
    rng: np.random.Generator,
    *,
    out_size: tuple[int, int] = (1800, 2400),
    fill: float = 0.86,
    angle: float = 3.0,
    keystone: float = 0.03,
    light: tuple[float, float, float] = (0.22, 0.22, 0.25),
    blur: float = 1.1,
    noise: float = 3.0,
) -> Image.Image:
    """Photograph a page: off-page desk, rotation, keystone, uneven light, blur, noise.

    Returns an RGB image; the caller applies JPEG compression by saving it.
    """
    coloured = paper_colour(page, rng)
    canvas = table_background(out_size, rng)
    scale = fill * out_size[1] / page.size[1]
    centre = (out_size[0] / 2 + rng.uniform(-20, 20), out_size[1] / 2 + rng.uniform(-20, 20))
    jitter = [float(v) for v in rng.uniform(-0.008, 0.008, size=8)]
    quad = rotated_quad(page.size, centre, scale, angle, keystone, jitter)
    photo = warp_onto(coloured, quad, canvas)
    arr = to_array(photo)
    gradient, vignette, shadow = light
    arr = apply_light(
        arr, illumination_field(out_size[1], out_size[0], rng, gradient, vignette, shadow)
    )
    photo = to_image(arr).filter(ImageFilter.GaussianBlur(blur))
    arr = to_array(photo)
    # sensor noise: a little more in the shadows, a little colour noise
    lum_noise = rng.normal(0.0, noise, size=arr.shape[:2]).astype(np.float32)
    chroma = rng.normal(0.0, noise / 2, size=arr.shape).astype(np.float32)
    arr = arr + lum_noise[..., None] * (1.4 - arr.mean(axis=2, keepdims=True) / 255.0) + chroma
    return to_image(arr)


# ---------------------------------------------------------------------------------------
# Committed samples


def _save_png(img: Image.Image, path: Path, dpi: int = DPI) -> None:
    img.save(path, "PNG", dpi=(dpi, dpi), optimize=True)


def _write_truth(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", newline="\n")


def make_committed(out_dir: Path, seed: int = SEED) -> dict[str, str]:
    """Write the committed samples into out_dir (and truth/). Returns stem -> passage info."""
    truth_dir = out_dir / "truth"
    truth_dir.mkdir(parents=True, exist_ok=True)
    made: dict[str, str] = {}

    # 1. clean-scan.png: grey, clean, justified and hyphenated.
    style = Style(hyphenate=True, size_pt=11.5, margins_mm=(16, 15, 18, 15))
    pages, hyphenated = typeset(PASSAGES["gettysburg"], style)
    _require_complete(pages, PASSAGES["gettysburg"], "clean-scan")
    if not hyphenated:
        raise SystemExit("clean-scan: expected at least one word hyphenated across a line")
    _save_png(render_page(pages[0], style), out_dir / "clean-scan.png")
    _write_truth(truth_dir / "clean-scan.txt", truth_text(pages))
    made["clean-scan"] = "gettysburg"

    # 2. phone-photo.jpg: the same kind of page, photographed.
    style = Style(font="dejavu-serif", title_font="dejavu-serif-bold", size_pt=11.0)
    pages, _ = typeset(PASSAGES["moby-dick"], style)
    _require_complete(pages, PASSAGES["moby-dick"], "phone-photo")
    rng = np.random.default_rng([seed, 2])
    photo = phone_photo(render_page(pages[0], style), rng)
    photo.save(out_dir / "phone-photo.jpg", "JPEG", quality=80)
    _write_truth(truth_dir / "phone-photo.txt", truth_text(pages))
    made["phone-photo"] = "moby-dick"

    # 3. two-page-letter.pdf: image-only PDF, a letter and its enclosure.
    letter_style = Style(size_pt=12.0, justify=False, indent_em=0.0, margins_mm=(22, 18, 18, 20))
    letter, _ = typeset(PASSAGES["bixby-letter"], letter_style)
    encl_style = Style(font="dejavu-serif", title_font="dejavu-serif-bold", size_pt=10.5)
    enclosure, _ = typeset(PASSAGES["declaration"], encl_style)
    _require_complete(letter, PASSAGES["bixby-letter"], "two-page-letter")
    _require_complete(enclosure, PASSAGES["declaration"], "two-page-letter")
    images = [render_page(letter[0], letter_style), render_page(enclosure[0], encl_style)]
    images = [
        _scanner_grain(im, np.random.default_rng([seed, 3, k])) for k, im in enumerate(images)
    ]
    images[0].save(
        out_dir / "two-page-letter.pdf",
        "PDF",
        save_all=True,
        append_images=images[1:],
        resolution=float(DPI),
        quality=60,
        title="two-page-letter",
        creationDate=PDF_DATE,
        modDate=PDF_DATE,
    )
    _write_truth(truth_dir / "two-page-letter.txt", truth_text([letter[0], enclosure[0]]))
    made["two-page-letter"] = "bixby-letter + declaration"

    # 4. receipt.tiff: a narrow thermal receipt scanned black-and-white (CCITT G4).
    receipt, receipt_truth = render_receipt(np.random.default_rng([seed, 4]))
    receipt.save(out_dir / "receipt.tiff", "TIFF", compression="group4", dpi=(DPI, DPI))
    _write_truth(truth_dir / "receipt.txt", receipt_truth)
    made["receipt"] = "invented receipt"
    return made


def _require_complete(pages: Sequence[Page], passage: Passage, sample: str) -> None:
    want = _words(passage.text.replace("# ", "").replace("> ", "").replace("| ", ""))
    got = _words("\n".join(p.truth for p in pages))
    if got != want:
        raise SystemExit(f"{sample}: passage {passage.slug} does not fit its page(s)")


def _words(text: str) -> list[str]:
    """The words of ``text`` under the project's word rule."""
    return list(words(text))


def _scanner_grain(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """A flatbed scan: a touch of blur and faint noise, paper not quite white."""
    arr = to_array(img.filter(ImageFilter.GaussianBlur(0.6))) * 0.97
    return to_image(gaussian_noise(arr, rng, 1.5))


def render_receipt(rng: np.random.Generator) -> tuple[Image.Image, str]:
    font = load_font("dejavu-mono", pt_to_px(8.5))
    bold = load_font("dejavu-mono-bold", pt_to_px(8.5))
    lines = RECEIPT_TEXT.splitlines()
    width = round(80 / 25.4 * DPI)  # 80 mm roll
    pitch = round(pt_to_px(8.5) * 1.35)
    text_w = max(font.getlength(ln) for ln in lines)
    height = pitch * (len(lines) + 4)
    img = Image.new("L", (width, height), 255)
    draw = ImageDraw.Draw(img)
    y = pitch * 2
    for k, line in enumerate(lines):
        f = bold if k == 0 or line.startswith("TOTAL") else font
        lw = f.getlength(line)
        centred = k < 3 or k == len(lines) - 1
        x = (width - lw) / 2 if centred else (width - text_w) / 2
        draw.text((round(x), y), line, font=f, fill=0, anchor="ls")
        y += pitch
    # thermal print: slightly faded, uneven darkness, then a 1-bit scan
    arr = to_array(img.filter(ImageFilter.GaussianBlur(0.8)))
    fade = 1.0 - 0.35 * rng.random((1, width)).astype(np.float32) ** 3
    arr = (255.0 - (255.0 - arr) * fade).astype(np.float32)
    arr = gaussian_noise(arr, rng, 10.0)
    bilevel = to_image(arr).point(lambda v: 255 if v > 150 else 0).convert("1")
    return bilevel, RECEIPT_TEXT + "\n"


# ---------------------------------------------------------------------------------------
# Evaluation set

Degraded = tuple[Image.Image, str, dict[str, Any]]
Degrader = Callable[[Image.Image, np.random.Generator, int, Style], Degraded]


def _fmt(value: float) -> str:
    return f"{value:.1f}".replace(".", "p")


def deg_clean(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    return img, "clean", {}


def deg_skew(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    angle = float(rng.uniform(1.0, 8.0)) * (1 if i % 2 == 0 else -1)
    out = img.rotate(angle, Image.Resampling.BICUBIC, expand=True, fillcolor=style.paper)
    direction = "ccw" if angle > 0 else "cw"
    return out, f"skew-{direction}{_fmt(abs(angle))}deg", {"angle_deg": round(angle, 2)}


def deg_rotate(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    angle = (90, 180, 270)[i % 3]
    ops = {
        90: Image.Transpose.ROTATE_90,
        180: Image.Transpose.ROTATE_180,
        270: Image.Transpose.ROTATE_270,
    }
    return img.transpose(ops[angle]), f"rot{angle}", {"angle_deg": angle}


def deg_blur(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    sigma = float(rng.uniform(1.0, 2.5))
    return (
        img.filter(ImageFilter.GaussianBlur(sigma)),
        f"blur-s{_fmt(sigma)}",
        {"sigma_px": round(sigma, 2)},
    )


def deg_light(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    gradient, vignette, shadow = (float(v) for v in rng.uniform([0.3, 0.2, 0.3], [0.55, 0.4, 0.6]))
    field_ = illumination_field(img.size[1], img.size[0], rng, gradient, vignette, shadow)
    out = to_image(apply_light(to_array(img), field_))
    darkest = float(field_.min())
    return (
        out,
        f"light-min{_fmt(darkest)}",
        {
            "gradient": round(gradient, 2),
            "vignette": round(vignette, 2),
            "shadow": round(shadow, 2),
            "darkest_factor": round(darkest, 2),
        },
    )


def deg_lowres(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    dpi = (150, 100)[i % 2]
    size = (round(img.size[0] * dpi / DPI), round(img.size[1] * dpi / DPI))
    return img.resize(size, Image.Resampling.LANCZOS), f"lowres-{dpi}dpi", {"dpi": dpi}


def deg_jpeg(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    quality = int(rng.integers(30, 51))
    return jpeg_roundtrip(img, quality), f"jpeg-q{quality}", {"quality": quality}


def deg_noise(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    arr = to_array(img)
    if i % 2 == 0:
        density = float(rng.uniform(0.005, 0.03))
        return (
            to_image(salt_and_pepper(arr, rng, density)),
            f"saltpepper-{density * 100:.1f}pct".replace(".", "p"),
            {"kind": "salt_and_pepper", "density": round(density, 4)},
        )
    sigma = float(rng.uniform(15.0, 40.0))
    return (
        to_image(gaussian_noise(arr, rng, sigma)),
        f"gaussnoise-s{sigma:.0f}",
        {"kind": "gaussian", "sigma": round(sigma, 1)},
    )


def deg_perspective(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    keystone = float(rng.uniform(0.03, 0.09))
    jitter = [float(v) for v in rng.uniform(-0.02, 0.02, size=8)]
    w, h = img.size
    canvas = Image.new("L", (w, h), 200)
    quad = rotated_quad((w, h), (w / 2, h / 2), 0.92, 0.0, keystone, jitter)
    out = warp_onto(img, quad, canvas)
    return out, f"perspective-k{keystone * 100:.0f}", {"keystone": round(keystone, 3)}


def deg_phone(img: Image.Image, rng: np.random.Generator, i: int, style: Style) -> Degraded:
    angle = float(rng.uniform(2.0, 6.0)) * (1 if i % 2 == 0 else -1)
    keystone = float(rng.uniform(0.01, 0.05))
    blur = float(rng.uniform(0.8, 1.6))
    noise = float(rng.uniform(2.0, 6.0))
    quality = int(rng.integers(60, 86))
    photo = phone_photo(
        img,
        rng,
        angle=angle,
        keystone=keystone,
        blur=blur,
        noise=noise,
        light=(float(rng.uniform(0.15, 0.35)), 0.25, float(rng.uniform(0, 0.35))),
    )
    out = jpeg_roundtrip(photo, quality)
    return (
        out,
        f"phone-{abs(angle):.0f}deg-q{quality}",
        {
            "angle_deg": round(angle, 2),
            "keystone": round(keystone, 3),
            "blur_px": round(blur, 2),
            "noise": round(noise, 2),
            "jpeg_quality": quality,
        },
    )


FAMILIES: dict[str, Degrader] = {
    "clean": deg_clean,
    "skew": deg_skew,
    "rotate": deg_rotate,
    "blur": deg_blur,
    "illumination": deg_light,
    "lowres": deg_lowres,
    "jpeg": deg_jpeg,
    "noise": deg_noise,
    "perspective": deg_perspective,
    "phone": deg_phone,
}

EVAL_FONTS = [
    ("liberation-serif", "liberation-serif-bold"),
    ("dejavu-serif", "dejavu-serif-bold"),
    ("liberation-sans", "liberation-sans-bold"),
    ("dejavu-sans", "dejavu-sans-bold"),
]


def eval_style(rng: np.random.Generator) -> Style:
    font, bold = EVAL_FONTS[int(rng.integers(len(EVAL_FONTS)))]
    return Style(
        font=font,
        title_font=bold,
        size_pt=float(rng.choice([10.0, 10.5, 11.0, 12.0])),
        justify=bool(rng.random() < 0.6),
        hyphenate=bool(rng.random() < 0.5),
    )


def eval_items(count: int, seed: int) -> Iterator[tuple[str, int, Passage]]:
    slugs = sorted(PASSAGES)
    for f_idx, family in enumerate(FAMILIES):
        for i in range(count):
            yield family, i, PASSAGES[slugs[(f_idx + i) % len(slugs)]]


def make_eval_set(out_dir: Path, count: int, seed: int) -> list[dict[str, object]]:
    out_dir.mkdir(parents=True, exist_ok=True)
    manifest: list[dict[str, object]] = []
    used: set[str] = set()
    for f_idx, (family, i, passage) in enumerate(eval_items(count, seed)):
        rng = np.random.default_rng([seed, list(FAMILIES).index(family), i])
        style = eval_style(rng)
        pages, _ = typeset(passage, style)
        page_img = render_page(pages[0], style)
        img, degradation, params = FAMILIES[family](page_img, rng, i, style)
        stem = f"{passage.slug}__{degradation}"
        if stem in used:
            stem = f"{stem}-{f_idx}"
        used.add(stem)
        dpi = int(params.get("dpi", DPI))
        _save_png(img, out_dir / f"{stem}.png", dpi=dpi)
        _write_truth(out_dir / f"{stem}.txt", truth_text(pages))
        manifest.append(
            {
                "image": f"{stem}.png",
                "truth": f"{stem}.txt",
                "passage": passage.slug,
                "family": family,
                "degradation": degradation,
                "params": params,
                "font": style.font,
                "size_pt": style.size_pt,
                "dpi": dpi,
            }
        )
        print(f"  {stem}.png", file=sys.stderr)
    (out_dir / "manifest.json").write_text(
        json.dumps({"seed": seed, "count_per_family": count, "items": manifest}, indent=2) + "\n",
        encoding="utf-8",
    )
    return manifest


# ---------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=REPO_ROOT / "samples",
        help="where the committed samples go (default: samples/)",
    )
    parser.add_argument(
        "--eval-dir", type=Path, help="write the (not committed) OCR evaluation set here instead"
    )
    parser.add_argument(
        "--count", type=int, default=3, help="evaluation pairs per degradation family (default 3)"
    )
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    try:
        if args.eval_dir:
            if args.count < 1:
                parser.error("--count must be at least 1")
            items = make_eval_set(args.eval_dir, args.count, args.seed)
            print(f"wrote {len(items)} image/truth pairs to {args.eval_dir}")
        else:
            made = make_committed(args.out_dir, args.seed)
            for stem, source in made.items():
                print(f"{stem}: {source}")
    except FontMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
