"""Uploading a document to a running local stack the way a client does (tests only)."""

from __future__ import annotations

from typing import Any

import requests


def upload(
    session: requests.Session,
    api: str,
    name: str,
    data: bytes,
    *,
    email: str,
    content_type: str = "image/png",
) -> dict[str, Any]:
    """``POST /uploads`` then the presigned POST of the bytes; returns the upload grant
    (``document_id``, ``access_token``, ...)."""
    opened = session.post(
        f"{api}/uploads",
        json={
            "filename": name,
            "content_type": content_type,
            "size_bytes": len(data),
            "email": email,
        },
        timeout=60,
    )
    assert opened.status_code == 201, opened.text
    grant: dict[str, Any] = opened.json()
    stored = session.post(
        grant["upload"]["url"],
        data=grant["upload"]["fields"],
        files={"file": (name, data, content_type)},
        timeout=60,
    )
    assert stored.status_code < 300, stored.text
    return grant
