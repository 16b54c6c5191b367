"""Create a stage's AWS resources in the emulator, from the topology, and derive the env vars.

Everything is read from :class:`ocrpipe.topology.Topology` (``names``, ``consumers``,
``storage``), assembled from the services' own declarations: a consumer or a service's storage
declared in an ``ocrpipe-service.json`` is provisioned and wired with no change here.
Provisioning is idempotent, so a stage can be provisioned again in the same emulator (e.g. two
CLI runs in one process keep the OCR cache).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from ocrpipe.topology import Consumer, Place, Storage, Topology

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_kms import KMSClient
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_ses import SESClient
    from mypy_boto3_sqs import SQSClient

#: The runtime's own subscriber to every domain event (see :mod:`ocrpipe_local.archive`).
ARCHIVE_CONSUMER = "local-archive"
ARCHIVE_PATTERN: dict[str, Any] = {"source": [{"prefix": "ocrpipe."}]}
SENDER_EMAIL = "ocrpipe@example.com"
DLQ_RETENTION_S = 14 * 24 * 3600


@dataclass(frozen=True)
class QueueRef:
    name: str
    url: str
    arn: str


@dataclass(frozen=True)
class ProvisionedConsumer:
    name: str
    spec: Consumer
    queue: QueueRef
    dlq: QueueRef
    rule: str
    bus: str


@dataclass
class Provisioned:
    place: Place
    bus_name: str
    consumers: dict[str, ProvisionedConsumer] = field(default_factory=dict)
    archive_queue: QueueRef | None = None
    buckets: dict[str, str] = field(default_factory=dict)
    upload_buckets: set[str] = field(default_factory=set)
    tables: dict[str, str] = field(default_factory=dict)
    idempotency_tables: dict[str, str] = field(default_factory=dict)
    notify_key_alias: str = ""
    notify_key_id: str = ""
    sender_email: str = SENDER_EMAIL
    env: dict[str, str] = field(default_factory=dict)

    def all_queues(self) -> list[QueueRef]:
        queues: list[QueueRef] = []
        for consumer in self.consumers.values():
            queues.extend((consumer.queue, consumer.dlq))
        if self.archive_queue is not None:
            queues.append(self.archive_queue)
        return queues


class Provisioner:
    def __init__(
        self,
        topology: Topology,
        place: Place,
        *,
        sqs: SQSClient,
        events: EventBridgeClient,
        s3: S3Client,
        dynamodb: DynamoDBClient,
        kms: KMSClient,
        ses: SESClient,
    ) -> None:
        self.topology = topology
        self.place = place
        self.sqs = sqs
        self.events = events
        self.s3 = s3
        self.dynamodb = dynamodb
        self.kms = kms
        self.ses = ses
        self._queues_lock = threading.Lock()

    def name(self, kind: str, *, service: str = "", consumer: str = "") -> str:
        return self.place.name(kind, service=service, consumer=consumer, topology=self.topology)

    def provision(self, *, state_dir: Path, webhook_secret: str, link_secret: str) -> Provisioned:
        """Create (or find) everything; independent resources are created concurrently."""
        bus = self.ensure_bus()
        result = Provisioned(place=self.place, bus_name=bus)
        result.upload_buckets = self.upload_bucket_names()
        with ThreadPoolExecutor(max_workers=8, thread_name_prefix="ocrpipe-provision") as pool:
            consumers = {
                name: pool.submit(self.ensure_consumer, name, spec, custom_bus=bus)
                for name, spec in self.topology.consumers.items()
            }
            archive = pool.submit(self.ensure_archive, custom_bus=bus)
            storage: list[Future[None]] = [
                pool.submit(create)
                for service, owned in self.topology.owned_storage().items()
                for create in self.storage_plan(service, owned, result)
            ]
            key: Future[str] | None = None
            if "notify_key_alias" in self.topology.names:
                result.notify_key_alias = self.name("notify_key_alias")
                key = pool.submit(self.ensure_key, result.notify_key_alias)
            sender = pool.submit(self.ses.verify_email_identity, EmailAddress=result.sender_email)
            result.consumers = {name: future.result() for name, future in consumers.items()}
            result.archive_queue = archive.result()
            for future in storage:
                future.result()
            result.notify_key_id = key.result() if key is not None else ""
            sender.result()
        result.env = environment(
            result, state_dir=state_dir, webhook_secret=webhook_secret, link_secret=link_secret
        )
        return result

    def storage_plan(
        self, service: str, owned: Storage, result: Provisioned
    ) -> list[Callable[[], None]]:
        """Record ``service``'s bucket/tables in ``result``; returns the calls creating them."""
        plan: list[Callable[[], None]] = []
        if owned.bucket:
            bucket = self.name("bucket", service=service)
            eventbridge = bucket in result.upload_buckets
            plan.append(partial(self.ensure_bucket, bucket, eventbridge=eventbridge))
            result.buckets[service] = bucket
        if owned.table:
            table = self.name("table", service=service)
            plan.append(
                partial(self.ensure_table, table, hash_key="pk", ttl_attribute="expires_at")
            )
            result.tables[service] = table
        if owned.idempotency_table:
            table = self.name("idempotency_table", service=service)
            plan.append(
                partial(self.ensure_table, table, hash_key="id", ttl_attribute="expiration")
            )
            result.idempotency_tables[service] = table
        return plan

    # -- EventBridge + SQS -------------------------------------------------------------------

    def ensure_bus(self) -> str:
        bus = self.name("bus")
        try:
            self.events.create_event_bus(Name=bus)
        except ClientError as exc:
            if _code(exc) != "ResourceAlreadyExistsException":
                raise
        return bus

    def ensure_queue(self, name: str, attributes: dict[str, str]) -> QueueRef:
        # One queue at a time: moto's redrive-policy check iterates over every queue while
        # another thread may add one ("dictionary changed size during iteration").
        with self._queues_lock:
            url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
            if attributes:
                self.sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)  # type: ignore[arg-type]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
        return QueueRef(name=name, url=url, arn=arn["Attributes"]["QueueArn"])

    def ensure_consumer(self, name: str, spec: Consumer, *, custom_bus: str) -> ProvisionedConsumer:
        dlq = self.ensure_queue(
            self.name("dlq", service=spec.service, consumer=name),
            {"MessageRetentionPeriod": str(DLQ_RETENTION_S)},
        )
        redrive = {"deadLetterTargetArn": dlq.arn, "maxReceiveCount": spec.max_receive_count}
        queue = self.ensure_queue(
            self.name("queue", service=spec.service, consumer=name),
            {
                "VisibilityTimeout": str(spec.visibility_timeout_s),
                "RedrivePolicy": json.dumps(redrive),
            },
        )
        bus = "default" if spec.bus == "default" else custom_bus
        rule = self.name("rule", service=spec.service, consumer=name)
        pattern = self.place.pattern(name, topology=self.topology)
        self.subscribe(queue, rule=rule, bus=bus, pattern=pattern)
        return ProvisionedConsumer(name=name, spec=spec, queue=queue, dlq=dlq, rule=rule, bus=bus)

    def ensure_archive(self, *, custom_bus: str) -> QueueRef:
        queue = self.ensure_queue(
            self.name("queue", consumer=ARCHIVE_CONSUMER),
            {"VisibilityTimeout": "30", "MessageRetentionPeriod": str(DLQ_RETENTION_S)},
        )
        rule = self.name("rule", consumer=ARCHIVE_CONSUMER)
        self.subscribe(queue, rule=rule, bus=custom_bus, pattern=ARCHIVE_PATTERN)
        return queue

    def subscribe(self, queue: QueueRef, *, rule: str, bus: str, pattern: dict[str, Any]) -> None:
        """A rule on ``bus`` targeting ``queue``, and the queue policy letting EventBridge in."""
        rule_arn = self.events.put_rule(
            Name=rule, EventBusName=bus, EventPattern=json.dumps(pattern), State="ENABLED"
        )["RuleArn"]
        self.events.put_targets(
            Rule=rule, EventBusName=bus, Targets=[{"Id": "queue", "Arn": queue.arn}]
        )
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "AllowEventBridgeRule",
                    "Effect": "Allow",
                    "Principal": {"Service": "events.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": queue.arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
                }
            ],
        }
        self.sqs.set_queue_attributes(QueueUrl=queue.url, Attributes={"Policy": json.dumps(policy)})

    # -- storage -----------------------------------------------------------------------------

    def upload_bucket_names(self) -> set[str]:
        """Buckets some ``bus: default`` consumer listens to: they must emit to EventBridge."""
        names: set[str] = set()
        for consumer in self.topology.consumers:
            if self.topology.consumers[consumer].bus != "default":
                continue
            pattern = self.place.pattern(consumer, topology=self.topology)
            bucket_names = pattern.get("detail", {}).get("bucket", {}).get("name", [])
            names.update(n for n in bucket_names if isinstance(n, str))
        return names

    def ensure_bucket(self, bucket: str, *, eventbridge: bool) -> None:
        try:
            self.s3.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if _code(exc) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise
        if eventbridge:
            # As in AWS: the bucket sends "Object Created" to the account's DEFAULT bus.
            self.s3.put_bucket_notification_configuration(
                Bucket=bucket, NotificationConfiguration={"EventBridgeConfiguration": {}}
            )

    def ensure_table(self, table: str, *, hash_key: str, ttl_attribute: str) -> None:
        try:
            self.dynamodb.create_table(
                TableName=table,
                AttributeDefinitions=[{"AttributeName": hash_key, "AttributeType": "S"}],
                KeySchema=[{"AttributeName": hash_key, "KeyType": "HASH"}],
                BillingMode="PAY_PER_REQUEST",
            )
        except ClientError as exc:
            if _code(exc) != "ResourceInUseException":
                raise
            return
        self.dynamodb.get_waiter("table_exists").wait(
            TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
        )
        self.dynamodb.update_time_to_live(
            TableName=table,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl_attribute},
        )

    def ensure_key(self, alias: str) -> str:
        for page in self.kms.get_paginator("list_aliases").paginate():
            for found in page["Aliases"]:
                if found.get("AliasName") == alias and found.get("TargetKeyId"):
                    return found["TargetKeyId"]
        key_id = self.kms.create_key(
            Description="ocrpipe notify recipients (local)", KeyUsage="ENCRYPT_DECRYPT"
        )["KeyMetadata"]["KeyId"]
        self.kms.create_alias(AliasName=alias, TargetKeyId=key_id)
        return key_id


def environment(
    provisioned: Provisioned, *, state_dir: Path, webhook_secret: str, link_secret: str
) -> dict[str, str]:
    """The ``OCRPIPE_*`` variables of docs/configuration.md for this stack.

    Storage variables follow one rule so a new service needs no change here:
    ``OCRPIPE_<SERVICE>_BUCKET``, ``OCRPIPE_<SERVICE>_TABLE``,
    ``OCRPIPE_<SERVICE>_IDEMPOTENCY_TABLE``; the bucket uploads land in is also
    ``OCRPIPE_UPLOADS_BUCKET``.
    """
    env: dict[str, str] = {
        "OCRPIPE_STAGE": provisioned.place.stage,
        "OCRPIPE_BUS_NAME": provisioned.bus_name,
        "OCRPIPE_LOCAL_MODE": "true",
        "OCRPIPE_SENDER_EMAIL": provisioned.sender_email,
        "OCRPIPE_OUTBOX_DIR": str((state_dir / "outbox").resolve()),
        "OCRPIPE_WEBHOOK_SECRET": webhook_secret,
        # Result links are the status API's own (the emulator is loopback-only and checks no
        # presigned URL): signed with a key of this data directory. See ocrpipe.links.
        "OCRPIPE_LINKS": "api",
        "OCRPIPE_LINK_SECRET": link_secret,
    }
    if provisioned.notify_key_alias:
        env["OCRPIPE_NOTIFY_KEY_ID"] = provisioned.notify_key_alias
    for service, bucket in provisioned.buckets.items():
        env[f"OCRPIPE_{_env_part(service)}_BUCKET"] = bucket
        if bucket in provisioned.upload_buckets:
            env["OCRPIPE_UPLOADS_BUCKET"] = bucket
            # Browsers upload through the local API, which forwards to the emulator.
            env["OCRPIPE_UPLOAD_PROXY_PATH"] = upload_proxy_path(bucket)
    for service, table in provisioned.tables.items():
        env[f"OCRPIPE_{_env_part(service)}_TABLE"] = table
    for service, table in provisioned.idempotency_tables.items():
        env[f"OCRPIPE_{_env_part(service)}_IDEMPOTENCY_TABLE"] = table
    return env


def upload_proxy_path(bucket: str) -> str:
    """The local API path that forwards presigned POSTs to ``bucket`` (see http_api)."""
    return f"/_s3/{bucket}"


def _env_part(service: str) -> str:
    return service.upper().replace("-", "_")


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
