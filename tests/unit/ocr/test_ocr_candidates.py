"""Never worse than the plain engine: candidate reads, the quality estimate, languages, and
pages that must not vanish (issue: counts people can trust on real documents)."""

from __future__ import annotations

import shutil
from collections.abc import Callable

import numpy as np
import pytest
from PIL import Image, ImageFilter

from ocr import language
from ocr.engines.base import page_warnings
from ocr.engines.tesseract import PageText, TesseractEngine
from ocr.pages import Page, clean_text_layer
from ocr.preprocess import looks_clean
from ocr.quality import plausible, read_score
from ocrpipe.events import PageRead

needs_tesseract = pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract")

ITALIAN = [
    "Questo manuale descrive come installare il sistema",
    "e come configurare la rete, gli utenti e i servizi",
    "che servono per lavorare ogni giorno con il computer.",
    "Le istruzioni sono scritte per chi comincia adesso.",
]
LOREM = [
    "Lorem ipsum dolor sit amet, consectetur adipiscing",
    "elit, sed do eiusmod tempor incididunt ut labore et",
    "dolore magna aliqua. Ut enim ad minim veniam, quis",
    "nostrud exercitation ullamco laboris nisi ut aliquip",
]


@pytest.mark.parametrize("word", ["hello", "well-known", "3.14", "don't", "(see", "apt-get."])
def test_words_of_text_are_plausible(word: str) -> None:
    assert plausible(word)


@pytest.mark.parametrize(
    "word", ["eee", "cece", "iiii", "....", "-", "rnmnrn", "a§¬©", "cee", "cect", "seneeeen"]
)
def test_shapes_ocr_makes_of_non_text_are_not(word: str) -> None:
    assert not plausible(word)


def test_read_score_weighs_confidence_and_ignores_artefacts() -> None:
    good = read_score([("manual", 95.0), ("pages", 90.0)])
    junk = read_score([("cece", 95.0), ("eee", 90.0), ("....", 99.0)])
    assert good == pytest.approx(1.85)
    assert junk == pytest.approx(-1.85)  # artefacts count against a read; "...." not at all
    assert read_score([("manual", -1.0)]) == 0.0


def test_clean_background_tells_scans_from_photos(render: Callable[..., Image.Image]) -> None:
    scan = render(ITALIAN)
    rng = np.random.default_rng(7)
    grey = np.clip(
        np.asarray(scan, dtype=np.float32) * 0.7 + 30 + rng.normal(0, 8, scan.size[::-1]), 0, 255
    )
    photo = Image.fromarray(grey.astype(np.uint8)).filter(ImageFilter.GaussianBlur(1))
    assert looks_clean(scan)
    assert not looks_clean(photo)
    assert not looks_clean(Image.new("L", (10, 10), 0))


def test_language_is_detected_from_text() -> None:
    assert language.detect(" ".join(ITALIAN)).language == "it"
    assert (
        language.detect("The manual explains how to install the system and the network.").language
        == "en"
    )
    assert (
        language.detect(
            "Este manual explica como instalar o sistema e configurar a rede dos computadores."
        ).language
        == "pt"
    )


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (
            "Die Anleitung beschreibt, wie man das System installiert und das Netzwerk einrichtet.",
            "de",
        ),
        (
            "Ce manuel explique comment installer le système et configurer le réseau de la maison.",
            "fr",
        ),
        ("Este manual explica cómo instalar el sistema y configurar la red de la oficina.", "es"),
        ("Questo manuale spiega come installare il sistema e configurare la rete di casa.", "it"),
        ("Este manual explica como instalar o sistema e configurar a rede da empresa.", "pt"),
        ("This manual explains how to install the system and set up the office network.", "en"),
    ],
)
def test_each_of_the_six_languages_is_told_apart(text: str, code: str) -> None:
    assert language.detect(text).language == code


@needs_tesseract
def test_every_language_has_its_tesseract_data() -> None:
    """The bootstrap installs one traineddata per language (system-packages.txt)."""
    import subprocess

    listed = subprocess.run(
        ["tesseract", "--list-langs"], capture_output=True, text=True, check=True
    )
    installed = set(listed.stdout.split())
    assert set(language.TESSERACT_CODES.values()) <= installed


def test_short_or_unclear_text_stays_english() -> None:
    assert language.detect("ok 42").language == "en"
    assert language.detect(" ".join(LOREM)).language == "en"


def test_pdf_text_layer_hyphen_marker_rejoins_the_word() -> None:
    raw = "an extra\x02\r\nordinary day\r\nwith\x07 a bell and a lone \x02 marker"
    assert clean_text_layer(raw) == "an extraordinary day\nwith a bell and a lone - marker"


def test_warnings_name_pages_with_no_words() -> None:
    pages = [
        PageRead(number=1, word_count=10),
        PageRead(number=2, word_count=0),
        PageRead(number=3, word_count=4),
    ]
    (warning,) = page_warnings(pages, 3)
    assert warning.startswith("Page 2 of 3: no text was found there")
    assert page_warnings(pages[:1], 1) == ()
    # every page empty: the document fails as "no text found" instead
    assert page_warnings([PageRead(number=1, word_count=0)], 1) == ()


@needs_tesseract
def test_sparse_page_keeps_its_few_lines(render: Callable[..., Image.Image]) -> None:
    """A cover page or a letter's last page: a line near the top of a large white page."""
    page = Image.new("L", (2480, 3508), 255)
    page.paste(render(["Yours sincerely, Maria Rossi"], size=50), (150, 200))
    result = TesseractEngine().read([Page(number=1, image=page, dpi=300)])
    assert "sincerely" in result.text.lower()
    assert result.pages[0].word_count >= 3


@needs_tesseract
def test_upright_latin_placeholder_text_is_not_turned_over(
    render: Callable[..., Image.Image],
) -> None:
    result = TesseractEngine().read([Page(number=1, image=render(LOREM), dpi=300)])
    text = result.text.lower()
    assert "lorem ipsum dolor" in text
    assert "exercitation" in text


@needs_tesseract
def test_upside_down_page_is_read_upright(render: Callable[..., Image.Image]) -> None:
    page = render(ITALIAN + ITALIAN).rotate(180)
    result = TesseractEngine().read([Page(number=1, image=page, dpi=300)], "it")
    assert "installare" in result.text
    assert "configurare" in result.text


@needs_tesseract
def test_blank_page_inside_a_document_is_reported_not_dropped(
    render: Callable[..., Image.Image],
) -> None:
    pages = [
        Page(number=1, image=render(ITALIAN), dpi=300),
        Page(number=2, image=Image.new("L", (1400, 400), 255), dpi=300),
        Page(number=3, image=render(ITALIAN[:2]), dpi=300),
    ]
    result = TesseractEngine().read(pages)
    assert [p.word_count > 0 for p in result.pages] == [True, False, True]
    assert result.page_count == 3
    assert any(w.startswith("Page 2 of 3") for w in result.warnings)


@needs_tesseract
def test_language_is_detected_per_document_or_taken_as_given(
    render: Callable[..., Image.Image],
) -> None:
    page = Page(number=1, image=render(ITALIAN), dpi=300)
    assert TesseractEngine().read([page]).language == "it"
    assert TesseractEngine().read([page], "en").language == "en"


@needs_tesseract
def test_a_short_cover_page_does_not_decide_the_language(
    render: Callable[..., Image.Image],
) -> None:
    """A title page says too little; the language comes from the pages after it, and the
    cover is read again in that language."""
    pages = [
        Page(number=1, image=render(["Relazione annuale"]), dpi=300),
        Page(number=2, image=render(ITALIAN), dpi=300),
        Page(number=3, image=render(ITALIAN[:2]), dpi=300),
    ]
    engine = TesseractEngine()
    asked: list[tuple[int, str]] = []
    original = engine.read_page

    def spy(page: Page, lang: str | None = None, english: PageText | None = None) -> PageText:
        asked.append((page.number, lang or ""))
        return original(page, lang, english)

    engine.read_page = spy  # type: ignore[method-assign]
    result = engine.read(pages)
    assert result.language == "it"
    assert asked[:4] == [(1, "eng"), (2, "eng"), (1, "ita"), (2, "ita")]
    assert (3, "ita") in asked
    assert (3, "eng") not in asked
    assert "Relazione" in result.text


@needs_tesseract
def test_text_layer_language_is_detected_without_ocr() -> None:
    engine = TesseractEngine(binary="/nonexistent/tesseract-is-not-called")
    page = Page(number=1, image=None, text_layer=" ".join(ITALIAN))
    reads, detected = engine._opening_pages(iter([page]), None)
    assert detected == "it"
    assert reads[0].source == "text-layer"


@needs_tesseract
@pytest.mark.parametrize(
    ("lines", "code", "accented"),
    [
        (
            [
                "Ce manuel explique comment installer le système",
                "et configurer le réseau, les utilisateurs et les",
                "services dont on a besoin chaque journée.",
            ],
            "fr",
            "système",
        ),
        (
            [
                "Die Anleitung beschreibt, wie man das System",
                "installiert und für jeden Benutzer die Dienste",
                "einrichtet, die täglich gebraucht werden.",
            ],
            "de",
            "täglich",
        ),
        (
            [
                "Este manual explica cómo instalar el sistema y",
                "configurar la red, los usuarios y los servicios",
                "que se necesitan para trabajar cada día.",
            ],
            "es",
            "cómo",
        ),
    ],
)
def test_a_page_is_read_with_the_model_of_its_language(
    render: Callable[..., Image.Image], lines: list[str], code: str, accented: str
) -> None:
    result = TesseractEngine().read([Page(number=1, image=render(lines), dpi=300)])
    assert result.language == code
    assert accented in result.text
