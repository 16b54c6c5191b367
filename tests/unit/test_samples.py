"""The sample generator: ground truth matches what is drawn, committed truth is current."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocrpipe.words import words
from scripts import make_samples as ms

SAMPLES = Path(__file__).resolve().parents[2] / "samples"


def _words(text: str) -> list[str]:
    """Words as the counting rule sees them (it re-joins `infor-\\nmation`)."""
    return list(words(text))


def _drawn(page: ms.Page) -> str:
    return "\n".join(" ".join(text for _, text in line.words) for line in page.lines)


def test_hyphenated_word_is_whole_in_truth_and_split_on_the_page() -> None:
    style = ms.Style(hyphenate=True, size_pt=11.5, margins_mm=(16, 15, 18, 15))
    pages, hyphenated = ms.typeset(ms.PASSAGES["gettysburg"], style)

    assert hyphenated, "the clean-scan layout must hyphenate at least one word"
    drawn, truth = _drawn(pages[0]), pages[0].truth
    for word in hyphenated:  # whole token, e.g. "continent," drawn as "conti-" / "nent,"
        assert word in truth.split()
        assert word not in drawn.split()
    assert _words(drawn) == _words(truth)


@pytest.mark.parametrize("slug", sorted(ms.PASSAGES))
def test_truth_holds_every_word_of_the_passage_when_it_fits(slug: str) -> None:
    passage = ms.PASSAGES[slug]
    pages, _ = ms.typeset(passage, ms.Style(hyphenate=True, size_pt=10.0))
    source = re.sub(r"^[#>|] ", "", passage.text, flags=re.MULTILINE)

    assert _words(ms.truth_text(pages)) == _words(source)
    assert _words(_drawn(pages[0])) == _words(pages[0].truth)


def test_overflowing_text_is_cut_at_a_line_and_left_out_of_the_truth() -> None:
    passage = ms.PASSAGES["declaration"]
    pages, _ = ms.typeset(passage, ms.Style(size_pt=20.0))

    truth = _words(ms.truth_text(pages))
    source = _words(passage.text.replace("# ", ""))
    assert 0 < len(truth) < len(source)
    assert truth == source[: len(truth)]


def test_hyphenation_points_keep_three_letters_and_clusters() -> None:
    splits = [
        "information"[:i] + "-" + "information"[i:] for i in ms.hyphenation_points("information")
    ]
    assert "infor-mation" in splits
    for word in ("quickness", "nothing", "increased"):
        assert ms.hyphenation_points(word) == []
    for i in ms.hyphenation_points("philosophical"):
        assert 3 <= i <= len("philosophical") - 3


def test_committed_samples_match_the_generator(tmp_path: Path) -> None:
    made = ms.make_committed(tmp_path)

    assert set(made) == {"clean-scan", "phone-photo", "two-page-letter", "receipt"}
    for stem in made:
        committed = (SAMPLES / "truth" / f"{stem}.txt").read_text(encoding="utf-8")
        assert (tmp_path / "truth" / f"{stem}.txt").read_text(encoding="utf-8") == committed
    with Image.open(SAMPLES / "clean-scan.png") as im:
        assert (im.mode, im.size) == ("L", ms.A5)
    with Image.open(SAMPLES / "phone-photo.jpg") as im:
        assert (im.format, im.mode) == ("JPEG", "RGB")
    with Image.open(SAMPLES / "receipt.tiff") as im:
        assert (im.format, im.mode) == ("TIFF", "1")
    pdf = (SAMPLES / "two-page-letter.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-")
    assert b"/Count 2" in pdf
    assert pdf.count(b"/Subtype /Image") == 2  # image-only: one scan per page, no text
    total = sum(p.stat().st_size for p in SAMPLES.iterdir() if p.is_file())
    assert total < 1_500_000


@pytest.mark.parametrize("family", list(ms.FAMILIES))
def test_each_degradation_is_seeded_and_named(family: str) -> None:
    style = ms.Style(size_pt=10.0)
    pages, _ = ms.typeset(ms.PASSAGES["bixby-letter"], style)
    page = ms.render_page(pages[0], style).resize((437, 620))

    def run(seed: int, i: int = 0) -> tuple[bytes, str]:
        img, name, params = ms.FAMILIES[family](page, np.random.default_rng(seed), i, style)
        assert isinstance(params, dict)
        return img.tobytes(), name

    first, name = run(1)
    assert run(1) == (first, name)
    assert re.fullmatch(r"[a-z0-9-]+", name), name
    if family != "clean":
        assert first != page.tobytes()


def test_missing_font_names_the_debian_package(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ms, "FONT_ROOT", tmp_path)
    ms.font_path.cache_clear()
    try:
        with pytest.raises(ms.FontMissingError, match="apt-get install fonts-liberation"):
            ms.font_path("liberation-serif")
    finally:
        ms.font_path.cache_clear()
