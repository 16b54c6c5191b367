"""Lambda entry points of the ingest service: parse, call domain code, answer.

* :func:`api` - ``POST /uploads`` (:mod:`ingest.api`): opens an upload.
* :func:`on_object_created` - SQS batch of S3 "Object Created" events from EventBridge: each
  object is checked (:mod:`ingest.intake`) and ``DocumentUploaded`` or ``DocumentRejected``
  published. Every failed record is reported as a batch item failure (even all of them), so
  the queue redelivers exactly those.
* :func:`on_batch_operation` - S3 Batch Operations: backfills existing objects
  (:mod:`ingest.backfill`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ingest.api import build_api, openapi_schema
from ingest.backfill import Backfiller, reocr_requested, run_batch_operation
from ingest.config import Settings, ValidationSettings
from ingest.intake import UploadIntake
from ingest.s3_events import parse_object_created
from ocrpipe.container import Consumer, EventRecord, built_by, per_container

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger(service="ingest")
metrics = Metrics(namespace="ocrpipe", service="ingest")

_settings = per_container(Settings)


@per_container
def _api() -> APIGatewayHttpResolver:
    return build_api(_settings)


@per_container
def _objects() -> Consumer:
    intake = UploadIntake.from_settings(_settings())

    def record_handler(record: EventRecord) -> str:
        outcome = intake.handle(parse_object_created(record.body))
        name = f"Objects{outcome.value.title().replace('_', '')}"
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        return outcome.value

    return Consumer(record_handler, fail_whole_batch=False)


@metrics.log_metrics
def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response: dict[str, Any] = _api().resolve(event, context)
    return response


def openapi() -> dict[str, Any]:
    """This service's OpenAPI document (the local runtime merges every service's)."""
    return openapi_schema(build_api(Settings))


@built_by(_objects)
@metrics.log_metrics
def on_object_created(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return _objects()(event, context)


@metrics.log_metrics
def on_batch_operation(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """S3 Batch Operations "Invoke AWS Lambda function" (schema 1.0 or 2.0): each task's
    object is checked and announced like an upload; ``job.userArguments.reocr`` (schema 2.0)
    asks ocr to read documents it has read before."""
    response = run_batch_operation(
        event, Backfiller.from_settings(ValidationSettings(), reocr=reocr_requested(event))
    )
    for result in response["results"]:
        metrics.add_metric(name=f"Backfill{result['resultCode']}", unit=MetricUnit.Count, value=1)
    logger.info(
        "batch operation handled",
        extra={
            "invocation_id": response["invocationId"],
            "tasks": len(response["results"]),
            "succeeded": sum(r["resultCode"] == "Succeeded" for r in response["results"]),
        },
    )
    return response
