"""Contract tests for what the project installs: one declaration per dependency, one lock.

A fresh machine has only what the project's own lists install (system-packages.txt,
requirements.lock, package-lock.json), so these tests fail when a declaration and the lock
drift apart, or when the code reaches for a system file that no listed package provides.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
WORKSPACE_DIRS = sorted(
    p.parent.relative_to(ROOT).as_posix()
    for p in [
        ROOT / "shared/pyproject.toml",
        ROOT / "local/pyproject.toml",
        *ROOT.glob("services/*/pyproject.toml"),
    ]
)


def _lock_pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-\[\]]+)==([^ ;\\]+)", line)
        if m:
            pins[canonicalize_name(m.group(1).split("[")[0])] = m.group(2)
    return pins


def _declared() -> list[tuple[str, Requirement]]:
    out = []
    for d in WORKSPACE_DIRS:
        project = tomllib.loads((ROOT / d / "pyproject.toml").read_text())["project"]
        out += [(f"{d}/pyproject.toml", Requirement(r)) for r in project.get("dependencies", [])]
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            out.append(("requirements-dev.txt", Requirement(line)))
    return out


def _system_packages() -> dict[str, set[str]]:
    rows = {}
    for line in (ROOT / "system-packages.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            pkg, _command, *targets = line.split()
            rows[pkg] = set(targets)
    return rows


def test_requirements_in_names_every_workspace_distribution() -> None:
    editables = re.findall(r"^-e \./(\S+)$", (ROOT / "requirements.in").read_text(), re.M)
    assert sorted(editables) == WORKSPACE_DIRS


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    pins = _lock_pins(ROOT / "requirements.lock")
    ours = {canonicalize_name(f"ocrpipe-{Path(d).name}") for d in WORKSPACE_DIRS}
    ours |= {"ocrpipe-shared", "ocrpipe-local"}
    problems = []
    for where, req in _declared():
        name = canonicalize_name(req.name)
        if name in ours:
            continue
        if name not in pins:
            problems.append(f"{where}: {req} is not in requirements.lock (run `make lock`)")
        elif not req.specifier.contains(pins[name], prereleases=True):
            problems.append(f"{where}: {req} but requirements.lock pins {pins[name]}")
    assert not problems, "\n".join(problems)


def test_lock_has_hashes_and_no_machine_paths() -> None:
    for lock in ("requirements.lock", "scripts/requirements-checkov.lock"):
        text = (ROOT / lock).read_text()
        pins = re.findall(r"^[A-Za-z0-9].*==", text, re.M)
        assert pins, lock
        assert text.count("--hash=sha256:") >= len(pins), f"{lock}: a pin without a hash"
        assert not re.search(r"(file://|/home/|/root/|/tmp/|/work/)", text), lock


@pytest.mark.parametrize("service", [Path(d).name for d in WORKSPACE_DIRS if "services/" in d])
def test_service_requirements_name_only_the_service_itself(service: str) -> None:
    """Dependencies are declared in pyproject.toml; requirements.txt only says what to install."""
    lines = [
        line.strip()
        for line in (ROOT / "services" / service / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines == [f"ocrpipe-{service}"]


def test_system_packages_cover_run_and_test() -> None:
    rows = _system_packages()
    for pkg in ("python3", "python3-venv", "tesseract-ocr", "tesseract-ocr-eng"):
        assert {"run", "test"} <= rows[pkg], pkg
    for pkg in ("nodejs", "npm", "fonts-dejavu-core", "fonts-liberation", "unzip"):
        assert "test" in rows[pkg], pkg


def test_every_font_and_apt_hint_in_the_code_is_a_listed_package() -> None:
    """A font path or an `apt-get install X` hint in code must be installed by the bootstrap."""
    font_dirs = {"dejavu": "fonts-dejavu-core", "liberation": "fonts-liberation"}
    listed = _system_packages()
    problems = []
    for path in [*ROOT.glob("scripts/*.py"), *ROOT.glob("tests/**/*.py"), *ROOT.glob("*/**/*.py")]:
        if any(part in {".venv", "node_modules", "build"} for part in path.parts):
            continue
        text = path.read_text(errors="replace")
        for hint in re.findall(r"apt-get install ([a-z0-9][a-z0-9.+-]+)", text):
            if hint not in listed:
                problems.append(f"{path.relative_to(ROOT)} asks for {hint}")
        for family in re.findall(r"/usr/share/fonts/truetype/([a-z]+)/", text):
            pkg = font_dirs.get(family)
            if pkg is None or "test" not in listed.get(pkg, set()):
                problems.append(f"{path.relative_to(ROOT)} uses fonts of {family}")
    assert not problems, "\n".join(sorted(set(problems)))
