"""Counting one document: read its text from S3, count, store the result, announce it.

Plain code with its AWS clients passed in, so tests can run it against moto or stubs.

Failure policy: nothing a *user* sent can make this stage fail: the text was written by the
ocr service, any bytes decode (invalid UTF-8 becomes U+FFFD) and an empty text counts zero
words. What is left:

* a text object that is gone (:class:`TextMissingError`, e.g. an event replayed after the
  text expired): retrying cannot help, so :func:`count_or_fail` publishes ``WordCountFailed``
  (``text_missing``) at once and the person is told;
* AWS errors: raised, so the SQS record is retried; on the queue's last delivery
  :func:`count_or_fail` publishes ``WordCountFailed`` (``unavailable``) instead of letting
  the message go silently to the DLQ.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from ocrpipe import aws
from ocrpipe.bus import EventPublisher
from ocrpipe.events import OcrCompleted, WordCountFailed, WordCountFailureReason, WordsCounted
from ocrpipe.storage import S3Location
from ocrpipe.words import WordCounts, count_chunks
from wordcount import results

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

#: Bytes read from S3 per chunk while counting.
READ_CHUNK_BYTES = 1 << 20


class TextMissingError(RuntimeError):
    """The text an ``OcrCompleted`` points at does not exist (any more)."""


#: What the person reads for each failure.
FAILURE_REASONS = {
    WordCountFailureReason.TEXT_MISSING: "The document's text is no longer stored, so its "
    "words could not be counted.",
    WordCountFailureReason.UNAVAILABLE: "The words could not be counted because our storage "
    "kept failing.",
}


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
        if aws.is_not_found(exc):
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


def failed(completed: OcrCompleted, code: WordCountFailureReason) -> WordCountFailed:
    return WordCountFailed(
        document_id=completed.document_id,
        filename=completed.filename,
        recipient=completed.recipient,
        reason_code=code,
        reason=FAILURE_REASONS[code],
        text_uri=completed.text_uri,
    )


def count_or_fail(
    completed: OcrCompleted,
    *,
    s3: S3Client,
    bucket: str,
    publisher: EventPublisher,
    final_attempt: bool,
) -> WordsCounted | WordCountFailed:
    """:func:`count_document`, or the ``WordCountFailed`` published instead when counting
    cannot succeed: the text is gone, or this is the queue's last delivery. Any other error
    is raised for the queue to retry."""
    try:
        return count_document(completed, s3=s3, bucket=bucket, publisher=publisher)
    except TextMissingError:
        failure = failed(completed, WordCountFailureReason.TEXT_MISSING)
    except Exception:
        if not final_attempt:
            raise
        failure = failed(completed, WordCountFailureReason.UNAVAILABLE)
    publisher.publish(failure)
    return failure
