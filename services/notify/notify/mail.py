"""Sending an email through SES, and keeping a copy in the outbox directory.

When an outbox directory is configured (always under the local runtime), the exact bytes
sent are also written to ``<outbox>/<document_id>.<outcome>.eml``. The copy is written to a
temporary file first and linked into place only after SES accepted the message, so the
outbox never holds a half-written file nor a message that was not sent. Every message sent
keeps its copy: a second one for the same document and outcome (a deliberate ``--renotify``,
or a bug) becomes ``<document_id>.<outcome>.2.eml``, and so on, never overwriting the first,
so what the outbox holds is what the recipient got.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from notify.errors import PermanentDeliveryError

if TYPE_CHECKING:
    from mypy_boto3_ses import SESClient

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
    outbox.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=outbox.parent, prefix=f".{outbox.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(raw)
        message_id = send_raw(ses, sender=sender, to=to, raw=raw)
        _keep(temporary, outbox)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return message_id


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
