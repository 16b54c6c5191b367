"""Lambda handlers of the status service (thin: parse, call domain code, answer).

* :func:`on_event` — SQS consumer of every ``ocrpipe.*`` domain event (partial batch failures).
* :func:`api` — API Gateway HTTP API (payload v2): :mod:`status.api`'s routes.
* :func:`openapi` — that API's OpenAPI document (``GET /openapi.json`` serves it too).

Built once per container (:mod:`ocrpipe.container`). Tokens and recipients are never logged.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from ocrpipe import aws
from ocrpipe.container import Consumer, built_by, per_container
from ocrpipe.links import Links, LinkSettings
from status import api as status_api
from status.config import Settings
from status.consume import fold_message
from status.store import StatusStore

SERVICE = "status"

logger = Logger(service=SERVICE)
metrics = Metrics(namespace="ocrpipe", service=SERVICE)


@per_container
def _store() -> StatusStore:
    settings = Settings()
    retention = timedelta(days=settings.status_retention_days)
    return StatusStore(aws.client("dynamodb"), settings.status_table, retention=retention)


@per_container
def _events() -> tuple[Consumer, Counter[str]]:
    store, folded = _store(), Counter[str]()

    def record_handler(record: SQSRecord) -> None:
        folded[fold_message(store, record.body, message_id=record.message_id)] += 1

    # An all-failed batch is reported as item failures too: same retry, metrics still flushed.
    return Consumer(record_handler, fail_whole_batch=False, model=None), folded


@built_by(_events)
@metrics.log_metrics
def on_event(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    consumer, folded = _events()
    folded.clear()
    response = consumer(event, context)
    folded["EventsRetried"] = len(response["batchItemFailures"])
    for name, count in folded.items():
        if count:
            metrics.add_metric(name=name, unit=MetricUnit.Count, value=count)
    return response


@per_container
def _app() -> APIGatewayHttpResolver:
    link_settings = LinkSettings()
    secret = link_settings.link_secret
    app = status_api.build(
        _store(),
        Links(link_settings, s3=lambda: aws.client("s3")),
        lambda: aws.client("s3"),
        link_secret=secret.get_secret_value() if secret is not None else None,
    )

    def unavailable(exc: Exception) -> Response[str]:
        logger.exception("status storage unavailable")
        return Response(503, "application/json", '{"error":"unavailable"}')

    app.exception_handler([ClientError, BotoCoreError])(unavailable)
    return app


@metrics.log_metrics
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
