"""Counting one document: read its text from S3, count, store the result, announce it.

Plain code with its AWS clients passed in, so tests can run it against moto or stubs.

Failure policy: every error here is raised, so the SQS record is retried and, if it keeps
failing, parked in the DLQ. Nothing a *user* sent can make this stage fail: the text was
written by the ocr service, any bytes decode (invalid UTF-8 becomes U+FFFD)
and an empty text counts zero words. What is left are AWS errors (transient: retrying
helps) and a text object that is gone (:class:`TextMissingError`: an operator problem, e.g.
an event replayed after the text expired, which the DLQ shows to an operator).
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ocrpipe.bus import EventPublisher
from ocrpipe.events import OcrCompleted, WordsCounted
from ocrpipe.storage import S3Location
from ocrpipe.words import WordCounts, count_chunks
from wordcount import results

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Bytes read from S3 per chunk while counting.
READ_CHUNK_BYTES = 1 << 20


class TextMissingError(RuntimeError):
    """The text an ``OcrCompleted`` points at does not exist (any more)."""


def decode_utf8(chunks: Iterable[bytes]) -> Iterator[str]:
    """Decode a stream of UTF-8 bytes; a character split across chunks is kept whole."""
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    for chunk in chunks:
        text = decoder.decode(chunk)
        if text:
            yield text
    tail = decoder.decode(b"", final=True)
    if tail:
        yield tail


def count_s3_text(s3: S3Client, uri: str) -> WordCounts:
    """Count the words of a UTF-8 text object, streaming it (texts can be megabytes)."""
    location = S3Location.parse(uri)
    try:
        response = s3.get_object(Bucket=location.bucket, Key=location.key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            raise TextMissingError(f"text object {uri} does not exist") from exc
        raise
    body = response["Body"]
    try:
        return count_chunks(decode_utf8(body.iter_chunks(READ_CHUNK_BYTES)))
    finally:
        body.close()


def count_document(
    completed: OcrCompleted, *, s3: S3Client, bucket: str, publisher: EventPublisher
) -> WordsCounted:
    """Count, write ``results/<document_id>.json`` and ``.csv``, publish ``WordsCounted``;
    return it.

    Safe to repeat: the result objects are overwritten with the same content.
    """
    counts = count_s3_text(s3, completed.text_uri)
    key = results.result_key(completed.document_id)
    s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=results.encode_result(results.result_document(completed, counts)),
        ContentType=results.RESULT_CONTENT_TYPE,
    )
    table = results.csv_key(completed.document_id)
    s3.put_object(
        Bucket=bucket,
        Key=table,
        Body=results.encode_csv(counts),
        ContentType=results.CSV_CONTENT_TYPE,
    )
    counted = results.words_counted(
        completed, counts, S3Location(bucket, key).uri, S3Location(bucket, table).uri
    )
    publisher.publish(counted)
    return counted
