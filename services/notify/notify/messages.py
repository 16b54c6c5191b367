"""The email a person receives about their document (MIME, built with :mod:`email`).

* subject: ``ocrpipe: 1,234 words in "scan.jpg"`` / ``ocrpipe: "scan.jpg" was not
  accepted`` / ``ocrpipe: could not read "scan.jpg"``;
* a short plain-text body: totals and the top words, or the reason and what to do;
* for a counted document, the full result JSON attached as ``<stem>.words.json`` (unless it
  is over :data:`MAX_ATTACHMENT_BYTES`, in which case the body says so).
"""

from __future__ import annotations

import email.policy
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, make_msgid

from notify.errors import PermanentDeliveryError
from notify.outcomes import advice, attachment_name, display_name
from notify.recipients import INVALID_EMAIL_ADDRESS
from ocrpipe.events import DocumentRejected, OutcomeEvent, WordCountFailed, WordsCounted

#: SES accepts raw messages up to 10 MB; base64 makes an attachment a third larger.
MAX_ATTACHMENT_BYTES = 7 * 1024 * 1024
SENDER_NAME = "ocrpipe"


def _plural(count: int, one: str, many: str) -> str:
    return f"{count:,} {one if count == 1 else many}"


def subject(event: OutcomeEvent) -> str:
    name = display_name(event)
    if isinstance(event, WordsCounted):
        return f'ocrpipe: {_plural(event.total_words, "word", "words")} in "{name}"'
    if isinstance(event, DocumentRejected):
        return f'ocrpipe: "{name}" was not accepted'
    if isinstance(event, WordCountFailed):
        return f'ocrpipe: could not count the words of "{name}"'
    return f'ocrpipe: could not read "{name}"'


def body(event: OutcomeEvent, *, attachment: str | None, attachment_note: str = "") -> str:
    name = display_name(event)
    lines = ["Hello,", ""]
    if isinstance(event, WordsCounted):
        lines += [
            f'We counted the words in "{name}".',
            "",
            f"  Words:            {event.total_words:,}",
            f"  Different words:  {event.unique_words:,}",
            "",
        ]
        if event.warnings:
            lines.append("Please note:")
            lines += [f"  - {warning}" for warning in event.warnings]
            lines.append("")
        if event.top_words:
            lines.append("Most frequent words:")
            width = max(len(w.word) for w in event.top_words)
            for rank, w in enumerate(event.top_words, start=1):
                lines.append(f"  {rank:>2}. {w.word:<{width}}  {w.count:,}")
            lines.append("")
        if attachment:
            lines.append(f"The count of every word is attached as {attachment}.")
        elif attachment_note:
            lines.append(attachment_note)
        lines.append(f"(Word rule version {event.word_rule_version}.)")
    elif isinstance(event, DocumentRejected):
        lines += [
            f'We could not accept "{name}".',
            "",
            f"Why: {event.reason}",
            "",
            f"What you can do: {advice(event)}",
        ]
    else:
        what = "count the words of" if isinstance(event, WordCountFailed) else "read the text in"
        lines += [
            f'We could not {what} "{name}".',
            "",
            f"Why: {event.reason}",
            "",
            f"What you can do: {advice(event)}",
        ]
    lines += ["", f"Document id: {event.document_id}", "", "-- ocrpipe", ""]
    return "\n".join(lines)


def build_email(
    event: OutcomeEvent,
    *,
    sender: str,
    to: str,
    result_json: bytes | None = None,
    missing_note: str = "",
    now: datetime | None = None,
) -> EmailMessage:
    """The message for ``event``; ``result_json`` is attached for a counted document.

    ``missing_note`` is said instead of the attachment when ``result_json`` is None.
    """
    message = EmailMessage(policy=email.policy.SMTP)
    message["From"] = formataddr((SENDER_NAME, sender))
    try:
        message["To"] = to
    except (ValueError, HeaderParseError):
        raise PermanentDeliveryError(INVALID_EMAIL_ADDRESS) from None
    message["Subject"] = subject(event)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message["X-Ocrpipe-Document-Id"] = event.document_id
    attachment = None
    note = missing_note
    if isinstance(event, WordsCounted) and result_json is not None:
        if len(result_json) <= MAX_ATTACHMENT_BYTES:
            attachment = attachment_name(event)
        else:
            size_mb = len(result_json) / 1024 / 1024
            note = f"The full count ({size_mb:.1f} MB) is too large to attach to an email."
    message.set_content(body(event, attachment=attachment, attachment_note=note))
    if attachment is not None and result_json is not None:
        message.add_attachment(
            result_json, maintype="application", subtype="json", filename=attachment
        )
    return message


def to_bytes(message: EmailMessage) -> bytes:
    """The exact bytes that are sent (and written to the outbox): CRLF line ends."""
    return message.as_bytes(policy=email.policy.SMTP)
