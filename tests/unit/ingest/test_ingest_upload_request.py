"""The POST /uploads request model: clear 4xx errors, sanitised filenames, valid recipients."""

from __future__ import annotations

from typing import Any

import pytest

from ingest.upload_request import (
    RecipientAddress,
    RequestRejected,
    UploadRequest,
    parse_upload_request,
    sanitise_filename,
)

MAX = 10 * 1024 * 1024


def parse(body: Any, *, local_mode: bool = False) -> UploadRequest:
    return parse_upload_request(body, max_bytes=MAX, local_mode=local_mode)


def refused(body: Any, *, local_mode: bool = False) -> RequestRejected:
    with pytest.raises(RequestRejected) as info:
        parse(body, local_mode=local_mode)
    error = info.value
    assert error.message.endswith("."), error.message
    assert error.body() == {"error": error.code, "message": error.message}
    return error


def body(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"filename": "scan.png", "content_type": "image/png", "size_bytes": 1234}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not ...}


def test_minimal_request() -> None:
    assert parse(body()) == UploadRequest("scan.png", "image/png", 1234, None)


def test_email_recipient_is_normalised() -> None:
    request = parse(body(email="  Person.Name+ocr@Example.COM "))
    assert request.recipient == RecipientAddress("email", "Person.Name+ocr@example.com")


def test_recipient_address_is_hidden_from_repr() -> None:
    request = parse(body(email="person@example.com"))
    assert "person@example.com" not in repr(request)
    assert "person@example.com" not in str(request)


@pytest.mark.parametrize(
    "address",
    [
        "not-an-address",
        "person@",
        "@example.com",
        "a b@example.com",
        "person@localhost",
        "x@example.invalid",
        "josé@example.com",
        42,
    ],
)
def test_invalid_email_is_400_and_does_not_echo_the_address(address: Any) -> None:
    error = refused(body(email=address))
    assert (error.status, error.code) == (400, "invalid_email")
    if isinstance(address, str) and address:
        assert address not in error.message


def test_webhook_recipient() -> None:
    request = parse(body(webhook_url="https://hooks.example.com/ocr?token=abc"))
    assert request.recipient == RecipientAddress(
        "webhook", "https://hooks.example.com/ocr?token=abc"
    )


@pytest.mark.parametrize(
    "url",
    [
        "http://hooks.example.com/x",  # not https
        "ftp://hooks.example.com/x",
        "https:///no-host",
        "hooks.example.com/x",
        "https://127.0.0.1/x",  # loopback outside local mode
        "https://localhost:8443/x",
        "https://10.0.0.5/x",  # private
        "https://169.254.169.254/latest/meta-data",  # link-local (instance metadata)
        "https://[::1]/x",
        "https://hooks.example.com:99999/x",  # bad port
        "https://hooks.example.com/a b",
        "",
        # internal addresses in the numeric forms the HTTP client (inet_aton) reads
        "https://2130706433/",
        "https://127.1/",
        "https://0x7f000001/",
        "https://0177.0.0.1/",
        "https://10.1/",
        "https://2852039166/",  # 169.254.169.254
        "https://[::ffff:127.0.0.1]/",
        "https://[fd00:ec2::254]/",
        "https://user:secret@hooks.example.com/x",
    ],
)
def test_bad_webhook_url_is_400(url: str) -> None:
    error = refused(body(webhook_url=url))
    assert (error.status, error.code) == (400, "invalid_webhook_url")


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://localhost:9000/hook", "http://[::1]:9000/h"]
)
def test_http_loopback_webhook_only_in_local_mode(url: str) -> None:
    assert parse(body(webhook_url=url), local_mode=True).recipient == RecipientAddress(
        "webhook", url
    )
    assert refused(body(webhook_url=url)).code == "invalid_webhook_url"


def test_http_to_a_public_host_is_refused_even_in_local_mode() -> None:
    error = refused(body(webhook_url="http://hooks.example.com/x"), local_mode=True)
    assert error.code == "invalid_webhook_url"


def test_email_and_webhook_together_are_refused() -> None:
    error = refused(body(email="person@example.com", webhook_url="https://hooks.example.com/x"))
    assert (error.status, error.code) == (400, "conflicting_recipients")


def test_null_recipients_mean_none() -> None:
    assert parse(body(email=None, webhook_url=None)).recipient is None


@pytest.mark.parametrize("content_type", ["text/plain", "image/gif", "application/zip"])
def test_unsupported_content_type_is_415(content_type: str) -> None:
    error = refused(body(content_type=content_type))
    assert (error.status, error.code) == (415, "unsupported_content_type")
    assert "image/jpeg, image/png, image/tiff, application/pdf" in error.message


@pytest.mark.parametrize("content_type", [..., None, "", 7])
def test_missing_content_type_is_400(content_type: Any) -> None:
    error = refused(body(content_type=content_type))
    assert (error.status, error.code) == (400, "invalid_content_type")


def test_content_type_is_case_insensitive_and_image_jpg_means_jpeg() -> None:
    assert parse(body(content_type="IMAGE/PNG")).content_type == "image/png"
    assert parse(body(content_type="image/jpg")).content_type == "image/jpeg"


def test_too_big_is_413() -> None:
    error = refused(body(size_bytes=MAX + 1))
    assert (error.status, error.code) == (413, "too_large")
    assert error.message == "size_bytes is 10.0 MiB; the largest upload accepted is 10.0 MiB."
    assert parse(body(size_bytes=MAX)).size_bytes == MAX


@pytest.mark.parametrize("size", [0, -5, 1.5, "100", True, None, ...])
def test_bad_size_is_400(size: Any) -> None:
    error = refused(body(size_bytes=size))
    assert (error.status, error.code) == (400, "invalid_size")


@pytest.mark.parametrize("payload", [None, [], "scan.png", 3])
def test_body_must_be_an_object(payload: Any) -> None:
    assert refused(payload).code == "invalid_body"


def test_unknown_fields_are_named() -> None:
    error = refused(body(emial="person@example.com"))
    assert (error.status, error.code) == (400, "unknown_field")
    assert "'emial'" in error.message


# -- filenames -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("my scan é.png", "my scan é.png"),  # spaces and unicode are kept
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\scan.png", "scan.png"),
        ("/abs/path/scan.png", "scan.png"),
        ("  padded.pdf  ", "padded.pdf"),
        ("tab\tand\nnewline.png", "tabandnewline.png"),
        ("evil\u202egnp.exe", "evilgnp.exe"),  # right-to-left override removed
        ("e\u0301te\u0301.jpg", "été.jpg"),  # NFD (macOS) becomes NFC
        ("報告書 2024.pdf", "報告書 2024.pdf"),
        ("a+b=c&d.png", "a+b=c&d.png"),
        (".hidden.png", ".hidden.png"),
    ],
)
def test_filename_sanitising(raw: str, clean: str) -> None:
    assert sanitise_filename(raw) == clean


@pytest.mark.parametrize(
    "raw", ["", "   ", "..", "some/dir/", "../..", "\x00\x01", None, 12, "x${filename}.png"]
)
def test_unusable_filename_is_400(raw: Any) -> None:
    error = refused(body(filename=raw))
    assert (error.status, error.code) == (400, "invalid_filename")


def test_filename_length_limits() -> None:
    assert sanitise_filename("a" * 251 + ".png") == "a" * 251 + ".png"
    assert refused(body(filename="a" * 256)).code == "invalid_filename"
    # 255 four-byte characters fit the char limit but not S3's 1024-byte key limit.
    assert refused(body(filename="😀" * 255)).code == "invalid_filename"
    # A long path is fine as long as its last component is short.
    assert sanitise_filename("d/" * 300 + "scan.png") == "scan.png"


@pytest.mark.parametrize(("raw", "language"), [("it", "it"), (" PT ", "pt"), (None, None)])
def test_language_is_one_of_the_six_or_left_to_detection(raw: Any, language: Any) -> None:
    assert parse(body(language=raw)).language == language


@pytest.mark.parametrize("raw", ["italian", "eng", "zh", 7, ""])
def test_unknown_language_is_400_and_lists_the_choices(raw: Any) -> None:
    error = refused(body(language=raw))
    assert (error.status, error.code) == (400, "invalid_language")
    assert "en, de, fr, es, it, pt" in error.message


def test_the_openapi_document_describes_the_model_that_checks_requests() -> None:
    from ingest import handlers
    from ingest.upload_request import UploadRequestBody

    schema = handlers.openapi()
    post = schema["paths"]["/uploads"]["post"]
    ref = post["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    body = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert set(body["properties"]) == set(UploadRequestBody.model_fields)
    assert body["required"] == ["filename", "content_type", "size_bytes"]
    assert "image/png" in str(body["properties"]["content_type"])
    assert "UploadGrant" in schema["components"]["schemas"]
    assert "/openapi.json" not in schema["paths"]
