from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image

from ocr.engines.tesseract import (
    MISSING_SYMBOLS,
    TesseractEngine,
    Word,
    fill_symbols,
    join_splits,
    parse_tsv,
    run_tesseract,
)
from ocr.errors import ENGINE_FAILED, EngineError
from ocr.pages import Page

pytestmark = pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs tesseract")


def words(text: str) -> set[str]:
    return {w.strip(".,!").lower() for w in text.split()}


def test_reads_a_rendered_page(text_page: Image.Image) -> None:
    engine = TesseractEngine()
    result = engine.read([Page(number=1, image=text_page)])
    assert {"quick", "brown", "fox", "jumps", "lazy", "dog", "sphinx", "quartz"} <= words(
        result.text
    )
    assert result.page_count == 1
    assert result.engine == "tesseract"
    assert result.engine_version.startswith("5")
    assert 60 < result.mean_confidence <= 100
    assert result.word_count >= 40


def test_keeps_lines_and_separates_pages(render: Callable[..., Image.Image]) -> None:
    first = render(["alpha beta gamma", "delta epsilon"])
    second = render(["omega"])
    result = TesseractEngine(workers=2).read(
        [Page(number=1, image=first), Page(number=2, image=second)]
    )
    assert result.page_count == 2
    page_one, page_two = result.text.split("\f")
    assert page_one.strip().splitlines() == ["alpha beta gamma", "delta epsilon"]
    assert page_two.strip() == "omega"


def test_text_layer_pages_skip_the_engine() -> None:
    engine = TesseractEngine(binary="/nonexistent/tesseract-is-not-called")
    page = Page(number=1, image=None, text_layer="Exact text from the PDF.\n")
    result = engine._page_texts([page], "eng")  # read() also asks the version; this does not
    assert next(result).text == "Exact text from the PDF."


def test_blank_page_gives_no_words() -> None:
    result = TesseractEngine().read([Page(number=1, image=Image.new("L", (600, 400), 255))])
    assert result.word_count == 0
    assert result.text == ""


def test_missing_binary_is_an_engine_error(text_page: Image.Image) -> None:
    with pytest.raises(EngineError, match="could not be started"):
        run_tesseract(text_page, ["tsv"], binary="/nonexistent/tesseract")


def test_timeout_is_an_engine_error(text_page: Image.Image) -> None:
    big = text_page.resize((text_page.width * 3, text_page.height * 3))
    with pytest.raises(EngineError, match="longer than"):
        run_tesseract(big, ["tsv"], timeout_s=0.05)


def test_a_crashed_engine_is_named_for_the_logs_but_not_shown_to_the_person(
    text_page: Image.Image, tmp_path: Path
) -> None:
    crashing = tmp_path / "tesseract"
    crashing.write_text("#!/bin/sh\necho 'Segmentation fault' >&2\nkill -SEGV $$\n")
    crashing.chmod(0o755)
    with pytest.raises(EngineError) as caught:
        run_tesseract(text_page, ["tsv"], binary=str(crashing))
    assert "killed by SIGSEGV" in caught.value.detail
    assert str(caught.value) == caught.value.detail  # what the logs show
    assert caught.value.reason == ENGINE_FAILED  # what the person reads
    assert "Segmentation" not in caught.value.reason


def test_fingerprint_changes_with_options() -> None:
    assert TesseractEngine(psm=3).fingerprint != TesseractEngine(psm=6).fingerprint
    assert TesseractEngine(lang="eng").fingerprint != TesseractEngine(lang="eng+deu").fingerprint
    assert TesseractEngine().fingerprint == TesseractEngine().fingerprint


def test_parse_tsv_rebuilds_lines_and_paragraphs() -> None:
    header = "\t".join(
        [
            "level",
            "page_num",
            "block_num",
            "par_num",
            "line_num",
            "word_num",
            "left",
            "top",
            "width",
            "height",
            "conf",
            "text",
        ]
    )
    rows = [
        "5\t1\t1\t1\t1\t1\t0\t0\t1\t1\t90\tHello",
        "5\t1\t1\t1\t1\t2\t0\t0\t1\t1\t80\tworld",
        "5\t1\t1\t1\t2\t1\t0\t0\t1\t1\t70\tagain",
        "4\t1\t1\t2\t1\t0\t0\t0\t1\t1\t-1\t",
        "5\t1\t1\t2\t1\t1\t0\t0\t1\t1\t60\tNew",
        "5\t1\t1\t2\t1\t2\t0\t0\t1\t1\t-1\t ",
    ]
    page = parse_tsv("\n".join([header, *rows]))
    assert page.text == "Hello world\nagain\n\nNew"
    assert page.confidences == (90.0, 80.0, 70.0, 60.0)


def _word(text: str, left: int, width: int, line: int = 1, conf: float = 90.0) -> Word:
    return Word(text, conf, left, 10 * line, width, 10, (1, 1, line))


def test_fill_symbols_takes_the_symbol_words_from_the_english_read() -> None:
    portuguese = [
        _word("em", 0, 20),
        _word("crypt", 30, 50),
        _word("file.gpg", 90, 80),
        _word("configuração", 0, 120, line=2),
    ]
    english = [
        _word("em", 0, 20),
        _word("crypt_file.gpg", 30, 140, conf=85.0),
        _word("configuracao", 0, 120, line=2),  # no symbol: the page's language wins
    ]
    filled = fill_symbols(portuguese, english, MISSING_SYMBOLS["por"])
    assert [w.text for w in filled] == ["em", "crypt_file.gpg", "configuração"]
    assert filled[1].conf == 85.0
    assert filled[1].line == (1, 1, 1)


def test_fill_symbols_needs_the_same_spelling_and_the_same_place() -> None:
    portuguese = [_word("ficheiro", 0, 80), _word("nome", 100, 40)]
    english = [
        _word("x_y", 0, 80),  # same place, different word
        _word("nome@host", 300, 90),  # a symbol, elsewhere on the line
    ]
    assert fill_symbols(portuguese, english, MISSING_SYMBOLS["por"]) == portuguese


def test_join_splits_makes_an_identifier_the_page_model_broke_whole() -> None:
    portuguese = [
        _word("com", 0, 30),
        _word('"dotg', 40, 50),
        _word("Lob\u201d,", 92, 40),  # split at a letter, and an l read as L
        _word("mkf", 0, 30, line=2),
        _word("s", 32, 10, line=2),
        _word("ext", 60, 30, line=2),
        _word("4", 92, 10, line=2),
    ]
    english = [
        _word("com", 0, 30),
        _word('"dotglob\u201d,', 40, 92, conf=80.0),
        _word("mkfs", 0, 42, line=2),
        _word("ext4", 60, 42, line=2),
    ]
    joined = join_splits(portuguese, english)
    assert [w.text for w in joined] == ["com", '"dotglob\u201d,', "mkfs", "ext4"]
    assert joined[1].width == 92
    assert joined[1].conf == 90.0  # the page model's own (lowest) confidence


def test_join_splits_never_changes_a_letter_or_joins_across_lines() -> None:
    portuguese = [_word("dotg", 0, 40), _word("lab", 42, 30), _word("x", 90, 10)]
    english = [
        _word("dotglob", 0, 72),  # "lab" is not "lob": a different reading, not a split
        _word("xy", 90, 30),  # one word only: nothing to join
    ]
    assert join_splits(portuguese, english) == portuguese
    across = [_word("mkf", 0, 30, line=1), _word("s", 0, 10, line=2)]
    tall = Word("mkfs", 90.0, 0, 10, 30, 20, (1, 1, 1))  # a box over both lines
    assert join_splits(across, [tall]) == across


def test_portuguese_page_keeps_underscores_and_at_signs(render: Callable[..., Image.Image]) -> None:
    """Tesseract's Portuguese model has no ``_`` or ``@``: alone it reads ``crypt file.gpg``
    and ``fooexample.org``; the English read fills them in and the accents stay."""
    page = render(
        ["A configuração está em crypt_file.gpg e", "escreva para foo@example.org sem demora."]
    )
    plain = run_tesseract(page, ["-l", "por"], dpi=300)
    assert "crypt_file.gpg" not in plain  # what the model alone reads
    result = TesseractEngine().read([Page(number=1, image=page)], "pt")
    assert {"crypt_file.gpg", "foo@example.org", "configuração", "está"} <= set(result.text.split())
    assert result.language == "pt"
