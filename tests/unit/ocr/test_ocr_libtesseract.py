"""libtesseract in-process: the same words as the command, handles reused, deadlines kept."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PIL import Image

from ocr.engines import libtesseract
from ocr.engines.tesseract import parse_tsv, run_tesseract
from ocr.errors import EngineError

LIBRARY = libtesseract.load()
pytestmark = pytest.mark.skipif(LIBRARY is None, reason="needs libtesseract 5")


@pytest.fixture
def pool() -> Iterator[libtesseract.ApiPool]:
    assert LIBRARY is not None
    pool = libtesseract.ApiPool(LIBRARY)
    yield pool
    pool.close()


def test_reads_the_same_words_as_the_command(
    pool: libtesseract.ApiPool, text_page: Image.Image
) -> None:
    in_process = pool.read_tsv(text_page, lang="eng", psm=3, dpi=300, timeout_s=60)
    command = run_tesseract(text_page, ["-l", "eng", "--psm", "3", "tsv"], dpi=300)
    assert in_process.splitlines()[0] == command.splitlines()[0]  # the same header
    ours, theirs = parse_tsv(in_process), parse_tsv(command)
    assert ours.text == theirs.text
    assert ours.confidences == theirs.confidences
    assert "quartz," in ours.text.split()


def test_a_handle_is_loaded_once_and_reused(
    pool: libtesseract.ApiPool, text_page: Image.Image
) -> None:
    for _ in range(3):
        pool.read_tsv(text_page, lang="eng", psm=3, dpi=300, timeout_s=60)
    assert pool.idle("eng") == 1


def test_the_deadline_stops_recognition(pool: libtesseract.ApiPool, text_page: Image.Image) -> None:
    big = text_page.resize((text_page.width * 3, text_page.height * 3))
    with pytest.raises(EngineError, match="longer than"):
        pool.read_tsv(big, lang="eng", psm=3, dpi=300, timeout_s=0.05)
    assert pool.idle("eng") == 0  # a handle that failed is not reused


def test_a_language_without_data_is_an_engine_error(
    pool: libtesseract.ApiPool, text_page: Image.Image
) -> None:
    with pytest.raises(EngineError, match="no language data for 'xyz'"):
        pool.read_tsv(text_page, lang="xyz", psm=3, dpi=300, timeout_s=60)
