"""Typed failures of the ocr stage, each mapped to an :class:`OcrFailureReason`."""

from __future__ import annotations

from ocrpipe.events import OcrFailureReason


class OcrError(Exception):
    """A failure that retrying cannot fix; it becomes an ``OcrFailed`` event."""

    reason_code: OcrFailureReason = OcrFailureReason.UNREADABLE

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class UnreadableDocumentError(OcrError):
    """The bytes could not be decoded or rendered as pages."""

    reason_code = OcrFailureReason.UNREADABLE


class SourceGoneError(UnreadableDocumentError):
    """The uploaded object is no longer stored (deleted after an earlier read, or expired)."""


class DocumentTooLargeError(OcrError):
    """A page is over the pixel limit even after scaling, or too many pages."""

    reason_code = OcrFailureReason.TOO_LARGE


class UnsupportedDocumentError(OcrError):
    reason_code = OcrFailureReason.UNSUPPORTED


class NoTextFoundError(OcrError):
    """The engine ran fine but found no words."""

    reason_code = OcrFailureReason.NO_TEXT


#: What the person reads when the engine failed: its own words ("exited with status -11:
#: Segmentation fault") say nothing to them and stay in the logs.
ENGINE_FAILED = "Our text reader failed on this document (it stopped or ran out of time)."


class EngineError(OcrError):
    """The engine crashed or timed out (may be transient; see the handler's retry policy).

    ``detail`` is the engine's own account, for the logs (``str(exc)``); ``reason``, what the
    person is told, is :data:`ENGINE_FAILED` unless a plainer one is given."""

    reason_code = OcrFailureReason.ENGINE_ERROR

    def __init__(self, detail: str, *, reason: str = ENGINE_FAILED) -> None:
        super().__init__(reason)
        self.args = (detail,)
        self.detail = detail
