"""The email a person receives: subject, body, attachment (notify.messages)."""

from __future__ import annotations

import email
import email.policy
import json
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest

from notify import messages
from notify.errors import PermanentDeliveryError
from notify.outcomes import attachment_name, display_name
from ocrpipe.events import WordCount

from .examples import DOC, counted, failed, rejected

ADDRESS = "person@example.org"
RESULT = json.dumps(
    {"document_id": DOC, "total_words": 1234, "counts": {"straße": 3, "the": 2}},
    ensure_ascii=False,
).encode("utf-8")


def parse(raw: bytes) -> EmailMessage:
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def text_body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    content = part.get_content()
    assert isinstance(content, str)
    return content


class TestSubject:
    def test_counted(self) -> None:
        assert messages.subject(counted()) == 'ocrpipe: 1,234 words in "scan.jpg"'

    def test_one_word_is_singular(self) -> None:
        assert messages.subject(counted(total_words=1)) == 'ocrpipe: 1 word in "scan.jpg"'

    def test_rejected_and_failed(self) -> None:
        assert messages.subject(rejected()) == 'ocrpipe: "notes.jpg" was not accepted'
        assert messages.subject(failed()) == 'ocrpipe: could not read "blank.png"'

    def test_hostile_file_name_is_one_clean_line(self) -> None:
        event = counted(filename="C:\\Users\\me\\evil\r\nBcc: x@y.z\u202e.jpg")
        subject = messages.subject(event)
        assert "\r" not in subject
        assert "\n" not in subject
        assert "\u202e" not in subject
        assert subject == 'ocrpipe: 1,234 words in "evil Bcc: x@y.z.jpg"'

    def test_long_and_missing_file_names(self) -> None:
        assert len(display_name(counted(filename="a" * 500 + ".png"))) == 80
        assert display_name(counted(filename="")) == f"document {DOC}"
        assert display_name(counted(filename="   ")) == f"document {DOC}"


class TestAttachmentName:
    @pytest.mark.parametrize(
        ("filename", "expected"),
        [
            ("scan.jpg", "scan.words.json"),
            ("my scan é.pdf", "my scan é.words.json"),
            ("archive.tar.gz", "archive.tar.words.json"),
            ("dir/sub/page.png", "page.words.json"),
            ('we"ird\\name.png', "name.words.json"),
            ("", f"{DOC}.words.json"),
            (".jpg", "jpg.words.json"),
            ("...", f"{DOC}.words.json"),
        ],
    )
    def test_stem_of_file_name(self, filename: str, expected: str) -> None:
        assert attachment_name(counted(filename=filename)) == expected


class TestCountedEmail:
    def test_warnings_of_the_read_are_told(self) -> None:
        warning = "Page 2 of 3: no text was found there; the counts cover the other pages."
        message = messages.build_email(
            counted(warnings=[warning]),
            sender="ocrpipe@example.com",
            to=ADDRESS,
            result_json=RESULT,
        )
        body = text_body(parse(messages.to_bytes(message)))
        assert f"Please note:\r\n  - {warning}" in body

    def test_message_has_body_and_json_attachment(self) -> None:
        message = messages.build_email(
            counted(), sender="ocrpipe@example.com", to=ADDRESS, result_json=RESULT
        )
        parsed = parse(messages.to_bytes(message))
        assert parsed["Subject"] == 'ocrpipe: 1,234 words in "scan.jpg"'
        assert parsed["To"] == ADDRESS
        assert parsed["From"] == "ocrpipe <ocrpipe@example.com>"
        assert parsed["Message-ID"].endswith("@example.com>")
        assert parsed["X-Ocrpipe-Document-Id"] == DOC
        body = text_body(parsed)
        assert "1,234" in body
        assert "456" in body
        assert " 1. w0  100" in body
        assert "10. w9  91" in body
        assert "attached as scan.words.json" in body
        assert f"Document id: {DOC}" in body
        attachments = list(parsed.iter_attachments())
        assert len(attachments) == 1
        attachment = attachments[0]
        assert attachment.get_filename() == "scan.words.json"
        assert attachment.get_content_type() == "application/json"
        assert attachment.get_content() == RESULT
        assert json.loads(attachment.get_content())["counts"] == {"straße": 3, "the": 2}

    def test_non_ascii_file_name_survives_encoding(self) -> None:
        message = messages.build_email(
            counted(filename="Prüfung ½.png"),
            sender="s@example.com",
            to=ADDRESS,
            result_json=RESULT,
        )
        parsed = parse(messages.to_bytes(message))
        assert parsed["Subject"] == 'ocrpipe: 1,234 words in "Prüfung ½.png"'
        assert next(parsed.iter_attachments()).get_filename() == "Prüfung ½.words.json"

    def test_without_words(self) -> None:
        event = counted(total_words=0, unique_words=0, top_words=[])
        message = messages.build_email(event, sender="s@example.com", to=ADDRESS, result_json=b"{}")
        body = text_body(parse(messages.to_bytes(message)))
        assert "Words:            0" in body
        assert "Most frequent" not in body

    def test_long_top_word_is_aligned(self) -> None:
        event = counted(top_words=[WordCount(word="a", count=2), WordCount(word="abcdef", count=1)])
        body = messages.body(event, attachment=None)
        assert "   1. a       2\n   2. abcdef  1" in body

    def test_too_large_result_is_not_attached(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(messages, "MAX_ATTACHMENT_BYTES", 10)
        message = messages.build_email(
            counted(), sender="s@example.com", to=ADDRESS, result_json=RESULT
        )
        parsed = parse(messages.to_bytes(message))
        assert list(parsed.iter_attachments()) == []
        assert "too large to attach" in text_body(parsed)

    def test_missing_result_says_so(self) -> None:
        message = messages.build_email(
            counted(), sender="s@example.com", to=ADDRESS, result_json=None, missing_note="Gone."
        )
        parsed = parse(messages.to_bytes(message))
        assert list(parsed.iter_attachments()) == []
        assert "Gone." in text_body(parsed)

    def test_sent_bytes_use_crlf(self) -> None:
        raw = messages.to_bytes(
            messages.build_email(counted(), sender="s@example.com", to=ADDRESS, result_json=RESULT)
        )
        assert b"\r\n" in raw
        assert b"\n" not in raw.replace(b"\r\n", b"")

    def test_fixed_date(self) -> None:
        when = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
        message = messages.build_email(rejected(), sender="s@example.com", to=ADDRESS, now=when)
        assert message["Date"] == "Wed, 01 May 2024 12:00:00 +0000"


class TestFailureEmails:
    def test_rejected_says_why_and_what_to_do(self) -> None:
        message = messages.build_email(rejected(), sender="s@example.com", to=ADDRESS)
        body = text_body(parse(messages.to_bytes(message)))
        assert 'We could not accept "notes.jpg".' in body
        assert "Why: notes.jpg looks like a JPEG but cannot be decoded." in body
        assert "What you can do: The file seems damaged." in body
        assert list(parse(messages.to_bytes(message)).iter_attachments()) == []

    def test_failed_says_why_and_what_to_do(self) -> None:
        message = messages.build_email(failed(), sender="s@example.com", to=ADDRESS)
        body = text_body(parse(messages.to_bytes(message)))
        assert 'We could not read the text in "blank.png".' in body
        assert "Why: No text was found in the document." in body
        assert "What you can do: No text was found. Make sure the page is in focus" in body


@pytest.mark.parametrize("to", ["a@b.c\r\nBcc: evil@x.y", "a@b.c\nX: y"])
def test_header_injection_in_address_is_refused(to: str) -> None:
    with pytest.raises(PermanentDeliveryError, match="not a valid address"):
        messages.build_email(rejected(), sender="s@example.com", to=to)
