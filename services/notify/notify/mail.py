"""Sending an email through SES, and keeping a copy in the outbox directory.

When an outbox directory is configured (always under the local runtime), the exact bytes
sent are also written to ``<outbox>/<document_id>.<outcome>.eml``. The copy is written to a
temporary file first and linked into place only after SES accepted the message, so the
outbox never holds a half-written file nor a message that was not sent. Every message sent
keeps its copy: a second one for the same document and outcome (a deliberate ``--renotify``,
or a bug) becomes ``<document_id>.<outcome>.2.eml``, and so on, never overwriting the first,
so what the outbox holds is what the recipient got.

Locally the outbox is where a person reads their mail, so an outbox that cannot be written
(disk full, permissions) is a delivery that did not happen: it is a transient failure, retried
by the queue and announced as ``NotificationFailed`` on its last delivery, and nothing is sent
before the copy is on disk. Once SES accepted the message, nothing raises any more (a retry
would send it twice).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from notify.errors import PermanentDeliveryError, TransientDeliveryError

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

logger = Logger(service="notify")

#: SES errors that no retry fixes: the message or an address was refused.
_REFUSED = frozenset({"MessageRejected", "InvalidParameterValue"})


def outbox_path(outbox_dir: Path, document_id: str, outcome: str) -> Path:
    return outbox_dir / f"{document_id}.{outcome}.eml"


def send_raw(ses: SESClient, *, sender: str, to: str, raw: bytes) -> str:
    """Send ``raw`` to ``to``; the SES message id. A refused message is permanent."""
    try:
        response = ses.send_raw_email(Source=sender, Destinations=[to], RawMessage={"Data": raw})
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in _REFUSED:
            # SES's own message can name the address: do not repeat it.
            raise PermanentDeliveryError(
                f"The email could not be delivered: Amazon SES refused it ({code})."
            ) from None
        raise
    return response["MessageId"]


def send_and_keep(
    ses: SESClient,
    *,
    sender: str,
    to: str,
    raw: bytes,
    outbox: Path | None,
) -> str:
    """:func:`send_raw`, and when ``outbox`` is given, also write ``raw`` there atomically."""
    if outbox is None:
        return send_raw(ses, sender=sender, to=to, raw=raw)
    temporary = _write_temporary(outbox, raw)
    try:
        message_id = send_raw(ses, sender=sender, to=to, raw=raw)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    try:
        _keep(temporary, outbox)
    except OSError as exc:  # sent: the temporary copy stays, under its hidden name
        logger.error("e-mail sent but its outbox copy not linked", extra={"error": str(exc)})
    return message_id


def _write_temporary(outbox: Path, raw: bytes) -> str:
    try:
        outbox.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(
            dir=outbox.parent, prefix=f".{outbox.name}.", suffix=".tmp"
        )
    except OSError as exc:
        raise TransientDeliveryError(
            f"The e-mail could not be written to the outbox ({exc.strerror or exc})."
        ) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
    except OSError as exc:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise TransientDeliveryError(
            f"The e-mail could not be written to the outbox ({exc.strerror or exc})."
        ) from exc
    return temporary


def _keep(temporary: str, outbox: Path) -> None:
    """Link ``temporary`` at ``outbox``, or at the first free ``<stem>.N.eml`` beside it."""
    candidate, n = outbox, 1
    while True:
        try:
            os.link(temporary, candidate)
            break
        except FileExistsError:
            n += 1
            candidate = outbox.with_name(f"{outbox.name.removesuffix('.eml')}.{n}.eml")
    os.unlink(temporary)
