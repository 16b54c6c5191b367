"""The soak benchmark at 100 documents (``benchmarks/soak.py``): faults at every stage, and
still every accepted document is told its outcome exactly once, and nothing stays queued."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(1200)]

ROOT = Path(__file__).resolve().parents[2]


def load_soak() -> object:
    spec = importlib.util.spec_from_file_location("soak", ROOT / "benchmarks" / "soak.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module
    spec.loader.exec_module(module)
    return module


def test_100_documents_with_faults_at_every_stage_lose_nothing(tmp_path: Path) -> None:
    soak = load_soak()
    run = soak.Soak(100, "soak,seed=11", 11, tmp_path / "data")  # type: ignore[attr-defined]
    report = run.run()
    shares = soak.injected_faults(run.data)  # type: ignore[attr-defined]
    assert report["accepted"] == 100, report
    assert report["lost"] == [], report
    assert report["double-notified"] == [], report
    assert report["unexpected outcome"] == [], report
    assert report["left in queues"] == {}, report
    assert report["left in DLQs"] == {}, report
    assert report["counted"] + report["rejected"] + report["failed-and-told"] == 100
    assert report["rejected"] > 0  # the corrupt files were told why
    # the faults really happened, at every stage
    for consumer in ("ingest-uploads", "ocr", "wordcount", "notify", "status"):
        assert f"'{consumer}'" in shares, shares
