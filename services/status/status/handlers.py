"""Lambda handlers of the status service (thin: parse, call domain code, answer).

* :func:`on_event` — SQS consumer of every ``ocrpipe.*`` domain event (partial batch failures).
* :func:`api` — API Gateway HTTP API (payload v2): :mod:`status.api`'s routes.
* :func:`openapi` — that API's OpenAPI document (``GET /openapi.json`` serves it too).

Settings and clients are resolved per invocation (the local runtime calls these from several
threads of one process). Tokens and recipients are never logged.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from ocrpipe import aws
from ocrpipe.envelope import Envelope, UnknownEventError
from ocrpipe.links import Links, LinkSettings
from status import api as status_api
from status.config import Settings
from status.store import StatusStore

SERVICE = "status"
#: Events status itself would publish (it publishes none); never folded back in.
OWN_SOURCE = "ocrpipe.status"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="ocrpipe", service=SERVICE)


def _store(settings: Settings) -> StatusStore:
    return StatusStore(
        aws.client("dynamodb"),
        settings.status_table,
        retention=timedelta(days=settings.status_retention_days),
    )


def _record_handler(store: StatusStore, outcomes: dict[str, int]) -> Callable[[SQSRecord], None]:
    def handle(record: SQSRecord) -> None:
        try:
            envelope = Envelope.from_sqs_body(record.body)
        except ValueError:  # not JSON, or not an EventBridge envelope: retrying cannot help
            logger.error(
                "dropping a message that is not an event envelope", extra={"id": record.message_id}
            )
            outcomes["UnreadableEvents"] += 1
            return
        if envelope.source == OWN_SOURCE:
            outcomes["IgnoredEvents"] += 1
            return
        try:
            event = envelope.domain_event()
        except UnknownEventError:  # a newer event type than this code knows: not ours to judge
            logger.info(
                "ignoring an event type status does not track",
                extra={"source": envelope.source, "detail_type": envelope.detail_type},
            )
            outcomes["IgnoredEvents"] += 1
            return
        except ValidationError as error:  # a producer broke its contract: log, do not retry
            logger.error(
                "dropping an event that breaks its contract",
                extra={
                    "detail_type": envelope.detail_type,
                    "errors": [e["loc"] for e in error.errors()],
                },
            )
            outcomes["InvalidEvents"] += 1
            return
        status = store.apply(event)  # transient DynamoDB errors raise: the record is retried
        logger.debug(
            "applied",
            extra={
                "document_id": event.document_id,
                "detail_type": envelope.detail_type,
                "stage": status.stage.value,
            },
        )
        outcomes["EventsApplied"] += 1

    return handle


@metrics.log_metrics
def on_event(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    store = _store(Settings())
    outcomes = {"EventsApplied": 0, "IgnoredEvents": 0, "InvalidEvents": 0, "UnreadableEvents": 0}
    # Report even an all-failed batch as item failures (not an exception): same retry, and the
    # metrics of the invocation are still flushed.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event,
        record_handler=_record_handler(store, outcomes),
        processor=processor,
        context=context,
    )
    failures = list(response["batchItemFailures"])
    outcomes["EventsRetried"] = len(failures)
    for name, count in outcomes.items():
        if count:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    return {"batchItemFailures": failures}


def _app() -> APIGatewayHttpResolver:
    link_settings = LinkSettings()
    secret = link_settings.link_secret
    app = status_api.build(
        _store(Settings()),
        Links(link_settings, s3=lambda: aws.client("s3")),
        lambda: aws.client("s3"),
        link_secret=secret.get_secret_value() if secret is not None else None,
    )

    def unavailable(exc: Exception) -> Response[str]:
        logger.exception("status storage unavailable")
        return Response(503, "application/json", '{"error":"unavailable"}')

    app.exception_handler([ClientError, BotoCoreError])(unavailable)
    return app


def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """``GET /documents``, ``GET /documents/{id}``, its files, ``GET /openapi.json``."""
    response: dict[str, Any] = _app().resolve(event, context)
    logger.info(
        "status api",
        extra={"route": event.get("routeKey"), "status_code": response.get("statusCode")},
    )
    return response


def openapi() -> dict[str, Any]:
    """This service's OpenAPI document (the local runtime merges every service's)."""
    return status_api.openapi_schema(
        status_api.build(
            StatusStore(None, "-"),  # type: ignore[arg-type]  # never called: schema only
            Links(LinkSettings(), s3=lambda: aws.client("s3")),
            lambda: aws.client("s3"),
            link_secret=None,
        )
    )
