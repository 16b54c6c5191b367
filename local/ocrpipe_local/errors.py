"""The one-machine runtime's error a command reports in a sentence (exit status 2)."""

from __future__ import annotations


class StackError(RuntimeError):
    """The stack cannot start or serve this command (already running, state unusable)."""
