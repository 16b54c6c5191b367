"""Persisting status records in the service's own DynamoDB table.

Item layout (hash key ``pk``; TTL attribute ``expires_at``)::

    pk          S  "doc#<document_id>"
    version     N  optimistic-lock counter, +1 on every write
    stage       S  derived stage (for people reading the table)
    updated_at  S  latest occurred_at seen (ISO 8601)
    expires_at  N  epoch seconds: updated_at + retention
    record      S  the DocumentStatus JSON; only its per-stage facts are read back

and, per document with a capability token, an index item so ``GET /documents`` can find the
documents whose tokens a caller presents (by hash; tokens themselves are never stored)::

    pk          S  "token#<sha256 of the token>"
    document_id S  the document it opens
    expires_at  N  the retention after the event that brought the token

Two workers may update one document at the same time, so :meth:`StatusStore.apply` is a
read-modify-write guarded by the ``version`` attribute: a write whose version moved since the
read fails its condition and is redone from a fresh read. The reducer is order-independent, so
redoing it is always safe.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict

from ocrpipe.aws import retry_until_done
from ocrpipe.events import DomainEvent
from status import read_model
from status.read_model import DocumentStatus, Stage, StageFact

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

KEY_PREFIX = "doc#"
TOKEN_PREFIX = "token#"  # noqa: S105 - a key prefix, not a secret
#: DynamoDB's BatchGetItem limit.
BATCH_SIZE = 100

T = TypeVar("T")


class ConcurrentUpdateError(RuntimeError):
    """The record kept changing under us; the message goes back to the queue and is retried."""


class _StoredRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    document_id: str
    facts: dict[Stage, StageFact]


def key_of(document_id: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": KEY_PREFIX + document_id}}


def token_key(token_sha256: str) -> dict[str, AttributeValueTypeDef]:
    return {"pk": {"S": TOKEN_PREFIX + token_sha256}}


class StatusStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        *,
        retention: timedelta = timedelta(days=30),
        max_attempts: int = 8,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._client = client
        self._table = table_name
        self._retention = retention
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._now = now

    def get(self, document_id: str, *, consistent: bool = False) -> DocumentStatus | None:
        """The record, or ``None`` when there is none or it has expired (TTL deletes lazily)."""
        found = self._read(document_id, consistent=consistent)
        if found is None:
            return None
        record, _version, expires_at = found
        if expires_at is not None and expires_at <= int(self._now().timestamp()):
            return None
        return record

    def documents_for_tokens(self, token_hashes: list[str]) -> list[DocumentStatus]:
        """The live records the given token hashes open (unknown hashes are skipped)."""
        index = self._batch_get([token_key(h) for h in dict.fromkeys(token_hashes)])
        wanted = {
            item["document_id"]["S"]: item["pk"]["S"].removeprefix(TOKEN_PREFIX)
            for item in index
            if "document_id" in item
        }
        now = int(self._now().timestamp())
        found: list[DocumentStatus] = []
        for item in self._batch_get([key_of(d) for d in wanted]):
            stored = _StoredRecord.model_validate_json(item["record"]["S"])
            expires = item.get("expires_at", {}).get("N")
            if expires is not None and int(expires) <= now:
                continue
            record = DocumentStatus.from_facts(stored.document_id, stored.facts)
            if record.access_token_sha256 == wanted.get(record.document_id):
                found.append(record)
        return found

    def _batch_get(self, keys: list[dict[str, AttributeValueTypeDef]]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        pending: Any = {}

        def get() -> bool | None:
            """True once no key is left unprocessed; else keeps those for the next call."""
            nonlocal pending
            response = self._client.batch_get_item(RequestItems=pending)
            items.extend(response.get("Responses", {}).get(self._table, []))
            pending = response.get("UnprocessedKeys") or {}
            return None if pending else True

        for start in range(0, len(keys), BATCH_SIZE):
            pending = {self._table: {"Keys": keys[start : start + BATCH_SIZE]}}
            if not self._retry(get):
                raise ConcurrentUpdateError("the status table kept throttling a batch read")
        return items

    def _retry(self, attempt: Callable[[], T | None], *, jitter: bool = False) -> T | None:
        """``attempt``'s first answer other than ``None``, in at most ``max_attempts`` calls
        0.02 s apart, doubling up to 0.5 s (each delay jittered down to half when asked)."""
        return retry_until_done(
            attempt,
            attempts=self._max_attempts,
            first_delay_s=0.02,
            max_delay_s=0.5,
            jitter=(0.5, 1.0) if jitter else None,
            sleep=self._sleep,
        )

    def apply(self, event: DomainEvent) -> DocumentStatus:
        """Fold ``event`` into the stored record; returns the record as stored."""

        def fold() -> DocumentStatus | None:
            """The record as stored; None when another write came between read and write."""
            found = self._read(event.document_id, consistent=True)
            current, version = (found[0], found[1]) if found else (None, 0)
            updated = read_model.apply(current, event)
            if current is not None and updated == current:
                return current  # duplicate or stale event: no write at all
            token_hash = updated.access_token_sha256
            if token_hash and (current is None or current.access_token_sha256 != token_hash):
                # Before the record: if this write fails, the retry sees no hash yet and
                # writes the index again; written after, a failure could leave it missing.
                self._write_token_index(token_hash, updated)
            return updated if self._write(updated, expected_version=version) else None

        stored = self._retry(fold, jitter=True)
        if stored is None:
            raise ConcurrentUpdateError(
                f"document {event.document_id}: {self._max_attempts} conflicting updates in a row"
            )
        return stored

    def _read(
        self, document_id: str, *, consistent: bool
    ) -> tuple[DocumentStatus, int, int | None] | None:
        response = self._client.get_item(
            TableName=self._table, Key=key_of(document_id), ConsistentRead=consistent
        )
        item = response.get("Item")
        if not item:
            return None
        stored = _StoredRecord.model_validate_json(item["record"]["S"])
        record = DocumentStatus.from_facts(stored.document_id, stored.facts)
        expires = item.get("expires_at", {}).get("N")
        return record, int(item["version"]["N"]), int(expires) if expires else None

    def _write_token_index(self, token_hash: str, record: DocumentStatus) -> None:
        expires_at = int((record.updated_at + self._retention).timestamp())
        self._client.put_item(
            TableName=self._table,
            Item={
                **token_key(token_hash),
                "document_id": {"S": record.document_id},
                "expires_at": {"N": str(expires_at)},
            },
        )

    def _write(self, record: DocumentStatus, *, expected_version: int) -> bool:
        """Put ``record`` if nobody wrote since ``expected_version`` (0 = no item yet)."""
        expires_at = int((record.updated_at + self._retention).timestamp())
        item: dict[str, AttributeValueTypeDef] = {
            **key_of(record.document_id),
            "version": {"N": str(expected_version + 1)},
            "stage": {"S": record.stage.value},
            "updated_at": {"S": record.updated_at.isoformat()},
            "expires_at": {"N": str(expires_at)},
            "record": {"S": record.model_dump_json()},
        }
        condition: dict[str, Any]
        if expected_version == 0:
            condition = {"ConditionExpression": "attribute_not_exists(pk)"}
        else:
            condition = {
                "ConditionExpression": "#version = :expected",
                "ExpressionAttributeNames": {"#version": "version"},
                "ExpressionAttributeValues": {":expected": {"N": str(expected_version)}},
            }
        try:
            self._client.put_item(TableName=self._table, Item=item, **condition)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True
