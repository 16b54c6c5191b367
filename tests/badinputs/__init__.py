"""The bad-input corpus: every kind of bad input ocrpipe must answer clearly (see corpus.py)."""
