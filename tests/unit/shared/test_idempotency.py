"""``OncePerKey`` counting the duplicate calls it answers with the stored result."""

from __future__ import annotations

from typing import Any

import pytest
from aws_lambda_powertools.metrics import MetricUnit

from ocrpipe import aws
from ocrpipe.idempotency import DUPLICATES_SKIPPED, OncePerKey


class RecordedMetrics:
    def __init__(self) -> None:
        self.added: list[dict[str, Any]] = []

    def add_metric(self, **metric: Any) -> None:
        self.added.append(metric)


def once(monkeypatch: pytest.MonkeyPatch, **extra: Any) -> OncePerKey:
    monkeypatch.setattr(aws, "client", lambda service_name: object())  # no request is made
    return OncePerKey(
        table_name="t",
        key_prefix="p",
        key_jmespath="k",
        data_keyword_argument="d",
        expires_after_seconds=60,
        **extra,
    )


def test_a_duplicate_call_counts_as_skipped(monkeypatch: pytest.MonkeyPatch) -> None:
    metrics = RecordedMetrics()
    hook = once(monkeypatch, metrics=metrics).config.response_hook
    assert hook is not None
    assert hook({"stored": 1}, None) == {"stored": 1}  # type: ignore[arg-type]
    assert metrics.added == [{"name": DUPLICATES_SKIPPED, "unit": MetricUnit.Count, "value": 1}]


def test_without_metrics_a_duplicate_is_not_counted(monkeypatch: pytest.MonkeyPatch) -> None:
    assert once(monkeypatch).config.response_hook is None
