from __future__ import annotations

import jsonpath_ng.ext

from ocrpipe_local import emulator


def test_jsonpath_parsing_is_cached_and_still_finds() -> None:
    emulator._cache_jsonpath_parsing()
    emulator._cache_jsonpath_parsing()  # idempotent: not wrapped twice
    parse = jsonpath_ng.ext.parse
    assert parse("$.detail.id") is parse("$.detail.id")
    assert not hasattr(parse.__wrapped__, "cache_info")  # type: ignore[attr-defined]
    assert [m.value for m in parse("$.detail.id").find({"detail": {"id": "d1"}})] == ["d1"]
