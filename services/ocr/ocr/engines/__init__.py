"""OCR engines behind one protocol; :func:`build_engine` picks one by name."""

from __future__ import annotations

from ocr.engines.base import EngineName, OcrEngine, OcrResult

__all__ = ["EngineName", "OcrEngine", "OcrResult", "UnknownEngineError", "build_engine"]


class UnknownEngineError(ValueError):
    pass


def build_engine(name: str, *, lang: str = "eng") -> OcrEngine:
    """The engine called ``name`` (``OCRPIPE_OCR_ENGINE``)."""
    if name == "tesseract":
        from ocr.engines.tesseract import TesseractEngine

        return TesseractEngine(lang=lang)
    if name == "textract":
        try:
            from ocr.engines import textract  # type: ignore[attr-defined,unused-ignore]
        except ImportError as exc:
            raise UnknownEngineError("the textract engine is not installed") from exc
        engine: OcrEngine = textract.build(lang=lang)
        return engine
    raise UnknownEngineError(f"unknown OCR engine {name!r}")
