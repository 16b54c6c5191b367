"""Ingest's table: one item per upload, ``pk = "upload#<document_id>"``.

An upload moves through::

    pending --claim--> processing --finish--> uploaded | rejected
                          |  ^
                          |  '-- claim again once the lease has run out (a crashed worker)
                          '--release--> pending (the attempt failed before publishing)

Why a lease and not a plain "pending -> done" write: the outcome event must be published
exactly once, yet S3 may deliver its event twice (and moto gives every event the same id).

* The status is set to done only AFTER the event was published: a publish that fails leaves
  the item claimable, so the queue's retry publishes.
* Two deliveries at the same time cannot both publish: only one can claim; the other sees a
  live lease and is retried later by its queue (by then the item is done: it is skipped).

Items expire (``expires_at``, DynamoDB TTL) a day after the upload was opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from ingest.upload_request import parse_language
from ocrpipe.events import Language, Recipient

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

RECORD_TTL_S = 24 * 60 * 60

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


class UploadStatus(StrEnum):
    PENDING = "pending"
    PROCESSING = "processing"
    UPLOADED = "uploaded"
    REJECTED = "rejected"


DONE = (UploadStatus.UPLOADED, UploadStatus.REJECTED)


class UploadBusyError(RuntimeError):
    """Another worker holds the upload's lease; the message is retried later by its queue."""


class DuplicateUploadIdError(RuntimeError):
    """A pending upload with this id already exists (a random-id collision)."""


@dataclass(frozen=True)
class PendingUpload:
    document_id: str
    key: str
    filename: str
    content_type: str
    declared_size: int
    recipient: Recipient | None
    created_at: datetime
    access_token_sha256: str | None = None
    language: Language | None = None


@dataclass(frozen=True)
class StoredUpload:
    upload: PendingUpload
    status: UploadStatus
    #: ETag of the bytes that were checked (set once the upload is done).
    checked_etag: str | None = None


def partition_key(document_id: str) -> str:
    return f"upload#{document_id}"


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> StoredUpload:
    values = {k: _deserializer.deserialize(v) for k, v in item.items()}
    recipient = None
    if values.get("recipient_channel") and values.get("recipient_ciphertext"):
        recipient = Recipient(
            channel=values["recipient_channel"], ciphertext=values["recipient_ciphertext"]
        )
    upload = PendingUpload(
        document_id=str(values["pk"]).removeprefix("upload#"),
        key=str(values["key"]),
        filename=str(values.get("filename", "")),
        content_type=str(values.get("content_type", "")),
        declared_size=int(values.get("declared_size", 0)),
        recipient=recipient,
        created_at=datetime.fromisoformat(str(values["created_at"])),
        access_token_sha256=str(values["access_token_sha256"])
        if values.get("access_token_sha256")
        else None,
        language=parse_language(values.get("language")),
    )
    etag = values.get("etag")
    return StoredUpload(
        upload=upload,
        status=UploadStatus(str(values["status"])),
        checked_etag=str(etag) if etag else None,
    )


def _is_conditional_failure(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


class UploadsTable:
    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def record_pending(self, upload: PendingUpload) -> None:
        created = upload.created_at.astimezone(UTC)
        item = _to_item(
            {
                "pk": partition_key(upload.document_id),
                "status": UploadStatus.PENDING.value,
                "key": upload.key,
                "filename": upload.filename,
                "content_type": upload.content_type,
                "declared_size": upload.declared_size,
                "recipient_channel": upload.recipient.channel if upload.recipient else None,
                "recipient_ciphertext": upload.recipient.ciphertext if upload.recipient else None,
                "access_token_sha256": upload.access_token_sha256,
                "language": upload.language,
                "created_at": created.isoformat(),
                "expires_at": int(created.timestamp()) + RECORD_TTL_S,
            }
        )
        try:
            self._client.put_item(
                TableName=self._table,
                Item=item,
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise DuplicateUploadIdError(upload.document_id) from exc
            raise

    def get(self, document_id: str) -> StoredUpload | None:
        response = self._client.get_item(
            TableName=self._table,
            Key={"pk": {"S": partition_key(document_id)}},
            ConsistentRead=True,
        )
        item = response.get("Item")
        return _from_item(item) if item else None

    def claim(
        self, document_id: str, *, token: str, now: float, lease_s: int
    ) -> StoredUpload | None:
        """Take the upload's lease. Raises :class:`UploadBusyError` if another worker has it.

        Returns the item as it is now (None if there is none). If its status is already
        done, nothing was claimed and the caller must not publish again.
        """
        try:
            response = self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": partition_key(document_id)}},
                UpdateExpression=(
                    "SET #status = :processing, lease_until = :lease_until, claim_token = :token,"
                    " attempts = if_not_exists(attempts, :zero) + :one"
                ),
                ConditionExpression=(
                    "attribute_exists(pk) AND (#status = :pending OR"
                    " (#status = :processing AND lease_until < :now))"
                ),
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":processing": {"S": UploadStatus.PROCESSING.value},
                    ":pending": {"S": UploadStatus.PENDING.value},
                    ":lease_until": {"N": str(int(now) + lease_s)},
                    ":now": {"N": str(int(now))},
                    ":token": {"S": token},
                    ":zero": {"N": "0"},
                    ":one": {"N": "1"},
                },
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
            current = self.get(document_id)
            if current is None or current.status in DONE:
                return current
            raise UploadBusyError(f"upload {document_id} is being processed") from exc
        return _from_item(response["Attributes"])

    def finish(
        self,
        document_id: str,
        *,
        token: str,
        status: UploadStatus,
        now: float,
        outcome: dict[str, Any],
    ) -> bool:
        """Mark the claimed upload done. False if the lease was lost meanwhile."""
        assert status in DONE
        names = {"#status": "status"}
        values: dict[str, Any] = {
            ":done": {"S": status.value},
            ":processing": {"S": UploadStatus.PROCESSING.value},
            ":token": {"S": token},
            ":finished_at": {"S": datetime.fromtimestamp(now, UTC).isoformat()},
        }
        sets = ["#status = :done", "finished_at = :finished_at"]
        for index, (name, value) in enumerate(sorted(outcome.items())):
            if value is None:
                continue
            names[f"#o{index}"] = name
            values[f":o{index}"] = _serializer.serialize(value)
            sets.append(f"#o{index} = :o{index}")
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": partition_key(document_id)}},
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE lease_until, claim_token",
                ConditionExpression="#status = :processing AND claim_token = :token",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    def release(self, document_id: str, *, token: str) -> None:
        """Give the lease back (the attempt failed before publishing): retry can claim now."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"pk": {"S": partition_key(document_id)}},
                UpdateExpression="SET #status = :pending REMOVE lease_until, claim_token",
                ConditionExpression="#status = :processing AND claim_token = :token",
                ExpressionAttributeNames={"#status": "status"},
                ExpressionAttributeValues={
                    ":pending": {"S": UploadStatus.PENDING.value},
                    ":processing": {"S": UploadStatus.PROCESSING.value},
                    ":token": {"S": token},
                },
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise
