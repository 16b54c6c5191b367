"""wordcount.handlers.on_ocr_completed against moto: S3 text in, result JSON + event out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from moto import mock_aws

from ocrpipe.events import OcrCompleted, PageRead, Recipient
from ocrpipe.topology import load_declaration
from ocrpipe.words import WORD_RULE_VERSION
from tests import lambda_shapes
from tests.lambda_shapes import envelope_body, lambda_context, sqs_event
from wordcount import handlers

pytestmark = pytest.mark.integration

REGION = "us-east-1"
BUS = "ocrpipe-test"
TEXT_BUCKET = "ocrpipe-test-ocr-123456789012-us-east-1"
RESULT_BUCKET = "ocrpipe-test-wordcount-123456789012-us-east-1"
TABLE = "ocrpipe-test-wordcount-idempotency"
SHA = "b" * 64
FUNCTION = "ocrpipe-test-wordcount"


def completed(document_id: str, key: str, **extra: Any) -> OcrCompleted:
    return OcrCompleted(
        document_id=document_id,
        filename=extra.pop("filename", "scan é.jpg"),
        text_uri=f"s3://{TEXT_BUCKET}/{key}",
        sha256=SHA,
        engine="tesseract",
        page_count=1,
        mean_confidence=90.0,
        char_count=100,
        **extra,
    )


class Aws:
    def __init__(self) -> None:
        self.s3 = boto3.client("s3", region_name=REGION)
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.events = boto3.client("events", region_name=REGION)
        for bucket in (TEXT_BUCKET, RESULT_BUCKET):
            self.s3.create_bucket(Bucket=bucket)
        boto3.client("dynamodb", region_name=REGION).create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        self.events.create_event_bus(Name=BUS)
        self.queue_url = self.sqs.create_queue(QueueName="capture")["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])
        self.events.put_rule(
            Name="capture",
            EventBusName=BUS,
            EventPattern=json.dumps({"source": ["ocrpipe.wordcount"]}),
        )
        self.events.put_targets(
            Rule="capture",
            EventBusName=BUS,
            Targets=[{"Id": "q", "Arn": arn["Attributes"]["QueueArn"]}],
        )

    def put_text(self, key: str, data: bytes) -> None:
        self.s3.put_object(Bucket=TEXT_BUCKET, Key=key, Body=data)

    def published(self) -> list[dict[str, Any]]:
        return lambda_shapes.drain_bodies(self.sqs, self.queue_url)

    def result(self, document_id: str) -> tuple[dict[str, Any], str, bytes]:
        obj = self.s3.get_object(Bucket=RESULT_BUCKET, Key=f"results/{document_id}.json")
        raw = obj["Body"].read()
        return json.loads(raw.decode("utf-8")), obj["ContentType"], raw


@pytest.fixture
def cloud(monkeypatch: pytest.MonkeyPatch) -> Iterator[Aws]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for name, value in {
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "OCRPIPE_STAGE": "test",
        "OCRPIPE_BUS_NAME": BUS,
        "OCRPIPE_WORDCOUNT_BUCKET": RESULT_BUCKET,
        "OCRPIPE_WORDCOUNT_IDEMPOTENCY_TABLE": TABLE,
        "POWERTOOLS_METRICS_NAMESPACE": "ocrpipe",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        yield Aws()


def handle(*events: OcrCompleted | str) -> dict[str, Any]:
    bodies = [e if isinstance(e, str) else envelope_body(e) for e in events]
    response: dict[str, Any] = handlers.on_ocr_completed(
        sqs_event(*bodies), lambda_context(FUNCTION)
    )
    return response


def test_counts_text_writes_result_and_publishes(cloud: Aws) -> None:
    text = "The cat and the hat.\nThe infor-\nmation, don\u2019t forget: Stra\u00dfe!\n"
    cloud.put_text("text/a.txt", text.encode("utf-8"))
    recipient = Recipient(channel="email", ciphertext="Y2lwaGVy")

    response = handle(completed("doc-0001-abcd", "text/a.txt", recipient=recipient))

    assert response == {"batchItemFailures": []}
    result, content_type, raw = cloud.result("doc-0001-abcd")
    assert content_type == "application/json; charset=utf-8"
    assert result == {
        "document_id": "doc-0001-abcd",
        "filename": "scan é.jpg",
        "text_uri": f"s3://{TEXT_BUCKET}/text/a.txt",
        "word_rule_version": WORD_RULE_VERSION,
        "total_words": 10,
        "unique_words": 8,
        "characters": 59,
        "language": None,
        "pages": [],
        "warnings": [],
        "counts": {
            "the": 3,
            "and": 1,
            "cat": 1,
            "don't": 1,
            "forget": 1,
            "hat": 1,
            "information": 1,
            "strasse": 1,
        },
    }
    # sorted order is kept in the file, and non-ASCII is written as UTF-8, not \u escapes
    assert list(result["counts"]) == [
        "the", "and", "cat", "don't", "forget", "hat", "information", "strasse"
    ]  # fmt: skip
    assert "scan é.jpg".encode() in raw
    published = cloud.published()
    assert [p["detail-type"] for p in published] == ["WordsCounted"]
    detail = published[0]["detail"]
    assert detail["document_id"] == "doc-0001-abcd"
    assert detail["filename"] == "scan é.jpg"
    assert detail["result_uri"] == f"s3://{RESULT_BUCKET}/results/doc-0001-abcd.json"
    assert (detail["total_words"], detail["unique_words"]) == (10, 8)
    assert detail["top_words"][:2] == [{"word": "the", "count": 3}, {"word": "and", "count": 1}]
    assert len(detail["top_words"]) == 8
    assert detail["recipient"] == {"channel": "email", "ciphertext": "Y2lwaGVy"}
    assert detail["word_rule_version"] == WORD_RULE_VERSION
    assert detail["result_csv_uri"] == f"s3://{RESULT_BUCKET}/results/doc-0001-abcd.csv"
    assert detail["characters"] == 59


def test_the_counts_are_also_written_as_csv_for_spreadsheets(cloud: Aws) -> None:
    cloud.put_text("text/c.txt", 'He paid 1,000 "euros", 1,000 Euros; Straße.'.encode())
    assert handle(completed("doc-0002-csv0", "text/c.txt")) == {"batchItemFailures": []}
    obj = cloud.s3.get_object(Bucket=RESULT_BUCKET, Key="results/doc-0002-csv0.csv")
    assert obj["ContentType"] == "text/csv; charset=utf-8"
    raw = obj["Body"].read()
    assert raw.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs to read UTF-8
    assert raw.decode("utf-8-sig").split("\r\n") == [
        "word,count",
        '"1,000",2',
        "euros,2",
        "he,1",
        "paid,1",
        "strasse,1",
        "",
    ]


def test_language_pages_and_warnings_of_the_read_reach_the_result(cloud: Aws) -> None:
    cloud.put_text("text/p.txt", b"uno due\n\f\n\n\f\ntre\n")
    pages = [
        PageRead(number=1, word_count=2, mean_confidence=91.0),
        PageRead(number=2, word_count=0),
        PageRead(number=3, word_count=1, mean_confidence=88.5),
    ]
    warning = "Page 2 of 3: no text was found there."
    handle(completed("doc-0003-abcd", "text/p.txt", language="it", pages=pages, warnings=[warning]))

    result, _, _ = cloud.result("doc-0003-abcd")
    assert result["language"] == "it"
    assert [p["word_count"] for p in result["pages"]] == [2, 0, 1]
    assert result["warnings"] == [warning]
    (detail,) = [p["detail"] for p in cloud.published()]
    assert (detail["language"], detail["warnings"]) == ("it", [warning])


def test_top_words_limited_to_ten(cloud: Aws) -> None:
    text = " ".join(f"w{i} " * (30 - i) for i in range(25))
    cloud.put_text("text/many.txt", text.encode())
    handle(completed("doc-many-words", "text/many.txt"))
    detail = cloud.published()[0]["detail"]
    assert [t["word"] for t in detail["top_words"]] == [f"w{i}" for i in range(10)]
    assert detail["unique_words"] == 25


def test_duplicate_delivery_counts_and_publishes_once(cloud: Aws) -> None:
    cloud.put_text("text/d.txt", b"one two two")
    event = completed("doc-duplicate", "text/d.txt")

    # the same event twice in one batch, then once more (a replay) in a later batch
    assert handle(event, event) == {"batchItemFailures": []}
    cloud.s3.delete_object(Bucket=RESULT_BUCKET, Key="results/doc-duplicate.json")
    cloud.s3.delete_object(Bucket=RESULT_BUCKET, Key="results/doc-duplicate.csv")
    assert handle(event) == {"batchItemFailures": []}

    assert [p["detail-type"] for p in cloud.published()] == ["WordsCounted"]
    listed = cloud.s3.list_objects_v2(Bucket=RESULT_BUCKET, Prefix="results/")
    assert listed.get("KeyCount", 0) == 0  # nothing was counted or written again


def test_new_text_from_a_re_ocr_is_counted_again(cloud: Aws) -> None:
    cloud.put_text("text/first.txt", b"one two")
    cloud.put_text("text/second.txt", b"one two three")
    handle(completed("doc-reocr", "text/first.txt"))
    handle(completed("doc-reocr", "text/second.txt"))  # re-OCR produced new text
    handle(completed("doc-reocr", "text/second.txt"))  # duplicate of the re-OCR

    totals = [p["detail"]["total_words"] for p in cloud.published()]
    assert totals == [2, 3]
    result, _, _ = cloud.result("doc-reocr")
    assert result["total_words"] == 3


def test_large_multibyte_text_is_streamed_and_counted_exactly(cloud: Aws) -> None:
    # > 3 read chunks; multi-byte characters straddle the 1 MiB chunk boundaries
    line = "Ελληνικά ĉu naïve café 日本語 don\u2019t infor-\n  mation\n"
    text = line * 60_000
    data = text.encode("utf-8")
    assert len(data) > 3 * (1 << 20)
    cloud.put_text("text/big.txt", data)

    handle(completed("doc-big-text", "text/big.txt"))

    result, _, _ = cloud.result("doc-big-text")
    words = ["ελληνικά", "ĉu", "naïve", "café", "日", "本", "語", "don't", "information"]
    assert result["total_words"] == 9 * 60_000
    assert result["characters"] == (len(line) - 2) * 60_000
    assert result["counts"] == dict.fromkeys(sorted(words), 60_000)
    assert list(result["counts"]) == sorted(words)


def test_empty_and_invalid_utf8_text(cloud: Aws) -> None:
    cloud.put_text("text/empty.txt", b"")
    cloud.put_text("text/bad.txt", b"caf\xe9 ok\xff\xfeok")
    assert handle(
        completed("doc-empty-text", "text/empty.txt"), completed("doc-bad-bytes", "text/bad.txt")
    ) == {"batchItemFailures": []}

    empty, _, _ = cloud.result("doc-empty-text")
    assert (empty["total_words"], empty["unique_words"], empty["counts"]) == (0, 0, {})
    bad, _, _ = cloud.result("doc-bad-bytes")
    # undecodable bytes become U+FFFD, an ordinary character: stripped at a word's end only
    assert bad["counts"] == {"caf": 1, "ok\ufffd\ufffdok": 1}
    assert len(cloud.published()) == 2


def test_key_with_spaces_and_unicode(cloud: Aws) -> None:
    key = "text/my scan é+ü (1).txt"
    cloud.put_text(key, b"hello world")
    handle(completed("doc-odd-key-1", key))
    result, _, _ = cloud.result("doc-odd-key-1")
    assert result["counts"] == {"hello": 1, "world": 1}
    assert result["text_uri"] == f"s3://{TEXT_BUCKET}/{key}"


def test_missing_text_is_a_failure_the_person_is_told_at_once(cloud: Aws) -> None:
    event = completed("doc-missing-1", "text/gone.txt")
    other = completed("doc-present-1", "text/present.txt")
    cloud.put_text("text/present.txt", b"fine")

    assert handle(event, other) == {"batchItemFailures": []}  # nothing for the DLQ

    by_type = {p["detail-type"]: p["detail"] for p in cloud.published()}
    assert set(by_type) == {"WordCountFailed", "WordsCounted"}
    failed = by_type["WordCountFailed"]
    assert failed["document_id"] == "doc-missing-1"
    assert failed["reason_code"] == "text_missing"
    assert "no longer stored" in failed["reason"]
    assert failed["recipient"] == event.model_dump(mode="json")["recipient"]
    # a duplicate delivery is told nothing more
    assert handle(event) == {"batchItemFailures": []}
    assert cloud.published() == []


def test_a_store_that_keeps_failing_is_retried_then_told_on_the_last_delivery(
    cloud: Aws, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OCRPIPE_WORDCOUNT_BUCKET", "no-such-results-bucket")
    event = completed("doc-unstored-1", "text/present.txt")
    cloud.put_text("text/present.txt", b"fine")
    body = envelope_body(event)

    with pytest.raises(BatchProcessingError):  # the record is retried: it may yet pass
        handlers.on_ocr_completed(sqs_event(body), lambda_context(FUNCTION))
    assert cloud.published() == []

    max_receives = load_declaration("wordcount").consumers["wordcount"].max_receive_count
    last = handlers.on_ocr_completed(
        sqs_event(body, receive_count=max_receives), lambda_context(FUNCTION)
    )  # the last delivery: the next stop would be the DLQ
    assert last == {"batchItemFailures": []}
    [published] = cloud.published()
    assert published["detail-type"] == "WordCountFailed"
    assert published["detail"]["reason_code"] == "unavailable"


def test_other_event_types_fail_the_record(cloud: Aws) -> None:
    body = json.dumps(
        {"source": "ocrpipe.ocr", "detail-type": "OcrFailed", "detail": {"document_id": "x" * 8}}
    )
    batch = sqs_event(body, "not json")
    # every record failed: powertools raises, so Lambda retries the whole batch (-> DLQ)
    with pytest.raises(BatchProcessingError, match="All records failed"):
        handlers.on_ocr_completed(batch, lambda_context(FUNCTION))
    assert cloud.published() == []
