"""Every service's structured log lines reach its log stream.

A domain module logs through a powertools child logger (``Logger(service=..., child=True)``),
which only propagates its records: the JSON lines are written by the service's own logger,
which the handler module creates. Without it the child's lines ("document read" with the
engine's seconds, warnings) reach no handler of the service and vanish from CloudWatch and
from the local ``functions.jsonl``.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil

import pytest

SERVICES = ("ingest", "ocr", "wordcount", "notify", "status")


@pytest.mark.parametrize("service", SERVICES)
def test_child_loggers_write_through_the_service_logger_the_handlers_create(service: str) -> None:
    package = importlib.import_module(service)
    for module in pkgutil.walk_packages(package.__path__, prefix=f"{service}."):
        importlib.import_module(module.name)
    children = [
        name
        for name, logger in logging.Logger.manager.loggerDict.items()
        if name.startswith(f"{service}.") and isinstance(logger, logging.Logger)
    ]
    assert logging.getLogger(service).handlers, (
        f"{service}: child loggers {children} write through a service logger nobody created"
    )
