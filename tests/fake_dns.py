"""A stand-in for ``socket.getaddrinfo``, so that tests can say what a name resolves to."""

from __future__ import annotations

import socket
from typing import Any

import pytest


class FakeResolver:
    """``socket.getaddrinfo`` answering from a table (numeric hosts as the real one)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers = answers
        self.asked: list[str] = []
        self.real = socket.getaddrinfo

    def __call__(self, host: str, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        if host not in self.answers:
            return self.real(host, port, *args, **kwargs)
        self.asked.append(host)
        if not self.answers[host]:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in self.answers[host]
        ]


def fake_resolver(monkeypatch: pytest.MonkeyPatch) -> FakeResolver:
    """Install a :class:`FakeResolver` (names it is not told about resolve as usual)."""
    fake = FakeResolver({})
    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return fake
