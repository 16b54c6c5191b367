"""How a delivery can fail.

* :class:`PermanentDeliveryError`: retrying cannot help (the address is invalid, the
  receiver refused the message, the address can no longer be decrypted). The handler turns
  it into a ``NotificationFailed`` event and the SQS record succeeds.
* :class:`TransientDeliveryError`: it may work later (the webhook answered 5xx/429, the
  network failed). It is raised, so the queue retries; after the queue's maximum receives
  the record lands in the DLQ, from where it can be redriven once the receiver is back.

Messages never contain the recipient's address or URL: they are logged and published.
"""

from __future__ import annotations


class PermanentDeliveryError(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TransientDeliveryError(Exception):
    pass
