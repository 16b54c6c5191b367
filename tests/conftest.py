"""Every test starts as a new Lambda container: nothing a handler built for an earlier test
(settings, clients bound to another mock) is reused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ocrpipe import container


@pytest.fixture(autouse=True)
def _new_containers() -> Iterator[None]:
    container.cold_start()
    yield
    container.cold_start()
