"""Short-lived links to a document's files (ocrpipe.links)."""

from __future__ import annotations

import urllib.parse

import boto3
import pytest
from botocore.config import Config
from pydantic import SecretStr

from ocrpipe import links
from ocrpipe.links import LinkError, Links, LinkSettings

NOW = 1_800_000_000
SECRET = "s" * 64
URIS = {
    "text.txt": "s3://ocr-bucket/text/abc/1-auto.txt",
    "counts.json": "s3://wc-bucket/results/doc123456.json",
    "counts.csv": None,  # not written (an older result): no link
}


def api_links(**overrides: object) -> Links:
    settings = LinkSettings(
        links="api", link_secret=SecretStr(SECRET), link_expiry_s=600, **overrides
    )
    return Links(settings, s3=lambda: pytest.fail("api links need no S3"), now=lambda: NOW)


def test_api_links_name_the_file_and_verify_until_they_expire() -> None:
    made = api_links().for_document(
        "doc123456", "scan.jpg", URIS, base_url="http://192.168.1.5:8080/"
    )
    assert set(made.links) == {"text.txt", "counts.json"}
    assert made.expires_at == NOW + 600
    url = urllib.parse.urlsplit(made.links["counts.json"])
    assert f"{url.scheme}://{url.netloc}{url.path}" == (
        "http://192.168.1.5:8080/documents/doc123456/files/counts.json"
    )
    query = dict(urllib.parse.parse_qsl(url.query))
    assert query["expires"] == str(NOW + 600)
    signature = query["signature"]
    ok = links.verify(SECRET, "doc123456", "counts.json", query["expires"], signature, now=NOW)
    assert ok
    # Not after expiry, not for another file, document, secret, or a changed expiry.
    assert not links.verify(
        SECRET, "doc123456", "counts.json", query["expires"], signature, now=NOW + 601
    )
    assert not links.verify(SECRET, "doc123456", "text.txt", query["expires"], signature, now=NOW)
    assert not links.verify(
        SECRET, "other1234", "counts.json", query["expires"], signature, now=NOW
    )
    assert not links.verify(
        "x" * 64, "doc123456", "counts.json", query["expires"], signature, now=NOW
    )
    later = str(NOW + 9999)
    assert not links.verify(SECRET, "doc123456", "counts.json", later, signature, now=NOW)
    assert not links.verify(SECRET, "doc123456", "counts.json", "soon", signature, now=NOW)


def test_api_links_without_a_secret_or_base_are_a_clear_error() -> None:
    no_base = api_links()
    with pytest.raises(LinkError, match="base URL"):
        no_base.for_document("doc123456", "scan.jpg", URIS)
    no_secret = Links(LinkSettings(links="api", public_api_url="http://h"), s3=lambda: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(LinkError, match="OCRPIPE_LINK_SECRET"):
        no_secret.for_document("doc123456", "scan.jpg", URIS)


def test_the_configured_base_is_used_outside_a_request() -> None:
    made = api_links(public_api_url="http://127.0.0.1:9000").for_document(
        "doc123456", "scan.jpg", URIS
    )
    assert made.links["text.txt"].startswith("http://127.0.0.1:9000/documents/doc123456/files/")


def test_presigned_links_download_as_the_document_named_attachment() -> None:
    s3 = boto3.client(
        "s3",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(signature_version="s3v4"),  # as ocrpipe.aws.client makes it
    )
    made = Links(LinkSettings(link_expiry_s=300), s3=lambda: s3, now=lambda: NOW).for_document(
        "doc123456", "Relatório final.pdf", URIS
    )
    url = urllib.parse.urlsplit(made.links["counts.json"])
    assert url.path == "/results/doc123456.json"
    assert url.netloc.startswith("wc-bucket.")
    query = dict(urllib.parse.parse_qsl(url.query))
    assert query["X-Amz-Expires"] == "300"
    assert query["response-content-type"] == "application/json; charset=utf-8"
    disposition = query["response-content-disposition"]
    assert disposition.startswith('attachment; filename="Relat?rio final.counts.json"')
    assert "filename*=UTF-8''Relat%C3%B3rio%20final.counts.json" in disposition


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("scan.jpg", "scan.txt"),
        ("two.pages.pdf", "two.pages.txt"),
        ("C:\\Users\\me\\photo.png", "photo.txt"),
        ("", "document.txt"),
    ],
)
def test_download_names_follow_the_document(filename: str, expected: str) -> None:
    assert links.download_name(filename, links.TEXT) == expected
