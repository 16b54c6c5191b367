"""The web page used as a person uses it, in headless Chromium against ``ocrpipe up``.

The counts the page shows are checked against what ``ocrpipe process`` counts for the same
files on a stack of its own; the corrupt file must show its reason in plain words.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import Select, WebDriverWait

from tests.browser.conftest import DESKTOP, DOCUMENTS, PHONE, SHOTS, Browser, Running

pytestmark = [pytest.mark.browser, pytest.mark.e2e, pytest.mark.timeout(900)]

TERMINAL = {"counted", "notified", "rejected", "ocr_failed", "count_failed", "notification_failed"}
CLEAN, LETTER = DOCUMENTS


def wait(browser: Browser, until: Callable[[Any], Any], timeout: float = 300.0) -> Any:
    return WebDriverWait(
        browser.driver,
        timeout,
        poll_frequency=0.2,
        ignored_exceptions=(StaleElementReferenceException,),  # the page re-renders lists
    ).until(until)


def corrupt_png(tmp_path: Path) -> Path:
    """A file that says it is a PNG and is not one (what a broken transfer leaves)."""
    path = tmp_path / "damaged.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    return path


def rows(browser: Browser) -> dict[str, WebElement]:
    found = browser.driver.find_elements(By.CSS_SELECTOR, "#uploads li.upload")
    return {r.find_element(By.CSS_SELECTOR, ".name").text: r for r in found}


def upload(
    browser: Browser, paths: list[Path], *, stages: set[str] = TERMINAL, timeout: float = 300
) -> dict[str, WebElement]:
    """Choose ``paths`` in the file picker, press "Count words", wait until each is done."""
    driver = browser.driver
    driver.find_element(By.ID, "files").send_keys("\n".join(str(p) for p in paths))
    driver.find_element(By.ID, "submit").click()
    names = {p.name for p in paths}

    def all_done(_: Any) -> dict[str, WebElement] | None:
        try:
            found = rows(browser)
            if names <= set(found) and all(
                found[n].get_attribute("data-stage") in stages for n in names
            ):
                return found
        except StaleElementReferenceException:
            pass
        return None

    done: dict[str, WebElement] = wait(browser, all_done, timeout)
    return done


def open_result(browser: Browser, row: WebElement, total: int) -> None:
    row.find_element(By.XPATH, ".//button[normalize-space()='Show result']").click()
    wait(browser, lambda d: d.find_element(By.ID, "total-words").text == f"{total:,}", 60)
    # The counts table fills once counts.json has arrived.
    wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "#words-table tbody tr"), 60)


def shown_number(browser: Browser, element_id: str) -> int:
    return int(browser.driver.find_element(By.ID, element_id).text.replace(",", ""))


def chart_words(browser: Browser) -> list[tuple[str, int]]:
    bars = browser.driver.find_elements(By.CSS_SELECTOR, "#chart g.bar")
    out = []
    for bar in bars:
        title = bar.find_element(By.TAG_NAME, "title").get_attribute("textContent") or ""
        word, _, count = title.rpartition(": ")
        out.append((word, int(count)))
    return out


def downloaded(browser: Browser, suffix: str, timeout: float = 30) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in browser.downloads.iterdir() if p.name.endswith(suffix)]
        if done:
            return done[0]
        time.sleep(0.2)
    raise AssertionError(f"no {suffix} download in {sorted(browser.downloads.iterdir())}")


def stored_documents(browser: Browser) -> list[dict[str, Any]]:
    raw = browser.driver.execute_script("return localStorage.getItem('ocrpipe.documents.v1')")
    return list(json.loads(raw or "[]"))


# -- the scenario -------------------------------------------------------------------


def test_two_documents_and_a_corrupt_file_show_the_counts_ocrpipe_process_gives(
    browser: Browser, reference: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    damaged = corrupt_png(tmp_path)
    done = upload(browser, [CLEAN, LETTER, damaged])

    bad = done[damaged.name]
    assert bad.get_attribute("data-stage") == "rejected"
    reason = bad.find_element(By.CSS_SELECTOR, ".reason").text
    assert "PNG" in reason or "image" in reason.lower(), reason
    assert "Traceback" not in reason, reason

    for path in (CLEAN, LETTER):
        expected = reference[path.name]
        row = done[path.name]
        assert row.get_attribute("data-stage") == "counted"
        assert f"{expected['total_words']:,} words" in row.text
        open_result(browser, row, expected["total_words"])
        assert shown_number(browser, "total-words") == expected["total_words"]
        assert shown_number(browser, "unique-words") == expected["unique_words"]
        assert shown_number(browser, "characters") == expected["characters"]
        assert shown_number(browser, "pages") == len(expected["pages"])
        # The chart: the 20 most frequent words, in the rule's order, with their counts.
        assert chart_words(browser) == list(expected["counts"].items())[:20]
        if path == CLEAN:
            browser.screenshot("results-desktop", DESKTOP)
            browser.screenshot("results-phone", PHONE)
            # The results card alone (the README's picture: docs/images/web-results.png).
            browser.driver.find_element(By.ID, "result").screenshot(str(SHOTS / "results-card.png"))

    # The CSV download of the last document opened: every word with its count.
    for old in browser.downloads.iterdir():
        old.unlink()
    browser.driver.find_element(By.CSS_SELECTOR, "a[data-file='counts.csv']").click()
    saved = downloaded(browser, ".csv")
    assert saved.name == "two-page-letter.counts.csv"
    table = list(csv.reader(io.StringIO(saved.read_text(encoding="utf-8-sig"))))
    assert table[0] == ["word", "count"]
    assert {w: int(c) for w, c in table[1:]} == reference[LETTER.name]["counts"]


# -- the rest of what a person does ---------------------------------------------------------


def test_the_word_table_can_be_searched_and_sorted(
    browser: Browser, reference: dict[str, dict[str, Any]]
) -> None:
    expected = reference[CLEAN.name]
    done = upload(browser, [CLEAN])
    open_result(browser, done[CLEAN.name], expected["total_words"])
    driver = browser.driver

    def table() -> list[tuple[str, int]]:
        cells = driver.find_elements(By.CSS_SELECTOR, "#words-table tbody tr")
        return [
            (
                r.find_element(By.CSS_SELECTOR, "td").text,
                int(r.find_element(By.CSS_SELECTOR, "td.num").text),
            )
            for r in cells
        ]

    counts: dict[str, int] = expected["counts"]
    assert table() == list(counts.items())[: len(table())]
    search = driver.find_element(By.ID, "word-search")
    search.send_keys("dedicat")
    wait(browser, lambda _: all("dedicat" in w for w, _ in table()), 10)
    assert dict(table()) == {w: c for w, c in counts.items() if "dedicat" in w}
    search.send_keys(Keys.CONTROL, "a", Keys.BACKSPACE)
    driver.find_element(By.CSS_SELECTOR, "button[data-sort='word']").click()
    header = driver.find_element(By.CSS_SELECTOR, "th:first-child")
    assert header.get_attribute("aria-sort") == "ascending"
    words = [w for w, _ in table()]
    assert words == sorted(words)  # the Gettysburg address: lower-case ASCII words
    driver.find_element(By.CSS_SELECTOR, "button[data-sort='word']").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert next(w for w, _ in table()) == max(counts)


def test_my_documents_are_kept_newest_first_and_can_be_forgotten(
    browser: Browser, reference: dict[str, dict[str, Any]]
) -> None:
    upload(browser, [CLEAN])
    upload(browser, [LETTER])
    driver = browser.driver
    driver.refresh()  # what is kept survives a reload (the tokens live in this browser)

    def listed() -> list[str]:
        return [
            li.find_element(By.CSS_SELECTOR, ".name").text
            for li in driver.find_elements(By.CSS_SELECTOR, "#mine li.doc")
        ]

    wait(browser, lambda _: len(listed()) == 2, 30)
    assert listed() == [LETTER.name, CLEAN.name]
    first = driver.find_element(By.CSS_SELECTOR, "#mine li.doc")
    wait(browser, lambda _: f"{reference[LETTER.name]['total_words']:,} words" in first.text, 30)
    first.find_element(By.XPATH, ".//button[normalize-space()='Forget']").click()
    wait(browser, lambda _: listed() == [CLEAN.name], 10)
    driver.refresh()
    wait(browser, lambda _: listed() == [CLEAN.name], 30)
    assert [d["filename"] for d in stored_documents(browser)] == [CLEAN.name]


def test_errors_are_shown_never_swallowed(browser: Browser) -> None:
    driver = browser.driver
    driver.find_element(By.ID, "submit").click()
    error = driver.find_element(By.ID, "form-error")
    assert error.is_displayed()
    assert "Choose at least one file" in error.text

    driver.find_element(By.CSS_SELECTOR, "input[name='notify'][value='email']").click()
    driver.find_element(By.ID, "email").send_keys("not-an-address")
    done = upload(browser, [CLEAN])
    row = done[CLEAN.name]
    assert row.get_attribute("data-stage") == "rejected"
    # The API's own message (ingest's validation), shown as it was given.
    assert "email is not valid" in row.find_element(By.CSS_SELECTOR, ".reason").text
    assert stored_documents(browser) == []


def test_a_result_sent_by_email_reaches_the_outbox(browser: Browser, web: Running) -> None:
    driver = browser.driver
    driver.find_element(By.CSS_SELECTOR, "input[name='notify'][value='email']").click()
    driver.find_element(By.ID, "email").send_keys("reader@example.com")
    Select(driver.find_element(By.ID, "language")).select_by_value("en")
    done = upload(browser, [CLEAN], stages={"notified", "notification_failed", "rejected"})
    row = done[CLEAN.name]
    assert row.get_attribute("data-stage") == "notified", row.text
    assert "Counted and sent" in row.text
    (document,) = stored_documents(browser)
    assert list((web.data / "outbox").glob(f"{document['id']}*.eml"))


def test_keyboard_order_and_labels(browser: Browser) -> None:
    driver = browser.driver
    unlabelled = driver.execute_script(
        """return [...document.querySelectorAll('input, select, button')]
             .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                          && !e.textContent.trim())
             .map(e => e.id || e.outerHTML)"""
    )
    assert unlabelled == []
    order = []
    for _ in range(12):
        # As a keyboard does: to whatever has the focus (a file input is not typed into).
        ActionChains(driver).send_keys(Keys.TAB).perform()
        active = driver.switch_to.active_element
        order.append(active.get_attribute("id") or active.get_attribute("value") or active.tag_name)
    # Skip link, both pickers, the notification choice, language, then the button.
    assert order[:3] == ["a", "files", "camera"] or order[1:3] == ["files", "camera"], order
    assert order.index("language") < order.index("submit"), order


def test_the_page_fits_a_phone(browser: Browser, reference: dict[str, dict[str, Any]]) -> None:
    driver = browser.driver
    driver.set_window_size(*PHONE)
    done = upload(browser, [CLEAN])
    open_result(browser, done[CLEAN.name], reference[CLEAN.name]["total_words"])
    overflow = driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    camera = driver.find_element(By.ID, "camera")
    assert camera.get_attribute("capture") == "environment"
    browser.screenshot("upload-phone", PHONE)
