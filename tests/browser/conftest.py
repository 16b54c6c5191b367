"""The web page in a real browser: Debian's headless Chromium driven through chromium-driver.

``ocrpipe up`` runs as its own process, as a person starts it; the browser opens its page at
``/`` and uses it with the keyboard and mouse events a person sends. Screenshots go to
``build/browser/``.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

from ocrpipe_local import attach

ROOT = Path(__file__).resolve().parents[2]
SAMPLES = ROOT / "samples"
SHOTS = ROOT / "build" / "browser"
OCRPIPE = [sys.executable, "-m", "ocrpipe_local.cli"]
#: Debian's packages (system-packages.txt, target test); nothing is downloaded.
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
#: The two real documents the tests upload (and ``ocrpipe process`` reads for reference).
DOCUMENTS = (SAMPLES / "clean-scan.png", SAMPLES / "two-page-letter.pdf")
DESKTOP = (1280, 1000)
PHONE = (360, 780)


@dataclass(frozen=True)
class Running:
    url: str
    data: Path


@pytest.fixture(scope="session")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """``ocrpipe up`` on a data directory of its own, stopped (SIGTERM) after the tests."""
    data = tmp_path_factory.mktemp("web") / "data"
    log = data.parent / "up.log"
    proc = subprocess.Popen(
        [*OCRPIPE, "up", "--data-dir", str(data)],
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    info = attach.find_running(data)
    while info is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"ocrpipe up did not come up:\n{log.read_text()}")
        time.sleep(0.2)
        info = attach.find_running(data)
    try:
        yield Running(url=info.api_url, data=data)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


@pytest.fixture(scope="session")
def reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """What ``ocrpipe process`` counts for the same files, on a stack of its own (nothing
    shared with the page's stack, not even the OCR cache): result JSON by file name."""
    work = tmp_path_factory.mktemp("reference")
    out = work / "out"
    done = subprocess.run(
        [
            *OCRPIPE,
            "process",
            *map(str, DOCUMENTS),
            "--data-dir",
            str(work / "data"),
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return {
        path.name: json.loads((out / f"{path.stem}.words.json").read_text(encoding="utf-8"))
        for path in DOCUMENTS
    }


def _options(downloads: Path, size: tuple[int, int]) -> Options:
    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in (
        "--headless=new",
        "--no-sandbox",  # root in a container: Chromium's sandbox needs user namespaces
        "--disable-dev-shm-usage",  # a fresh root's /dev/shm may be small or missing
        "--disable-gpu",
        "--no-first-run",
        "--disable-extensions",
        f"--window-size={size[0]},{size[1]}",
        "--lang=en-US",
    ):
        options.add_argument(flag)
    options.add_experimental_option(
        "prefs",
        {
            "download.default_directory": str(downloads),
            "download.prompt_for_download": False,
            "safebrowsing.enabled": False,
        },
    )
    return options


@dataclass
class Browser:
    driver: webdriver.Chrome
    downloads: Path
    url: str

    def screenshot(self, name: str, size: tuple[int, int]) -> Path:
        """The whole page at ``size``'s width, as ``build/browser/<name>.png``."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        driver = self.driver
        driver.set_window_size(size[0], size[1])
        driver.execute_script("window.scrollTo(0, 0)")
        time.sleep(0.3)  # the chart redraws for the new width
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(size[0], max(size[1], min(height + 100, 6000)))
        path = SHOTS / f"{name}.png"
        driver.save_screenshot(str(path))
        driver.set_window_size(*DESKTOP)
        time.sleep(0.3)
        return path


@pytest.fixture
def browser(web: Running, tmp_path: Path) -> Iterator[Browser]:
    """A fresh Chromium (empty storage) on the page."""
    for needed in (CHROMIUM, CHROMEDRIVER):
        if not needed.exists() or shutil.which(str(needed)) is None:
            pytest.fail(f"{needed} is missing: scripts/bootstrap.sh test installs it")
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    driver = webdriver.Chrome(
        options=_options(downloads, DESKTOP), service=Service(str(CHROMEDRIVER))
    )
    try:
        driver.set_page_load_timeout(60)
        driver.get(f"{web.url}/")
        yield Browser(driver=driver, downloads=downloads, url=web.url)
    finally:
        driver.quit()


def api_get(web: Running, path: str, token: str) -> requests.Response:
    return requests.get(
        f"{web.url}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
