"""Waiting for something to happen, in tests: poll a condition instead of sleeping a guess."""

from __future__ import annotations

import time
from collections.abc import Callable


def until(predicate: Callable[[], object], timeout: float = 20.0, *, poll_s: float = 0.1) -> bool:
    """True as soon as ``predicate()`` is truthy; its last answer once ``timeout`` has passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(poll_s)
    return bool(predicate())
