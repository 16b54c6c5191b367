"""ocrpipe status service: a per-document read model built only from domain events."""
