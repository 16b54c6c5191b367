"""Lambda handlers of the ingest service (thin: parse, call domain code, answer).

* :func:`api` - ``POST /uploads`` (API Gateway HTTP API, payload v2): opens an upload.
* :func:`on_object_created` - SQS batch of S3 "Object Created" events from EventBridge:
  checks each uploaded object and publishes ``DocumentUploaded`` or ``DocumentRejected``.
* :func:`on_batch_operation` - S3 Batch Operations: backfills existing objects
  (:mod:`ingest.backfill`).

The local runtime calls these from several threads of one process, so everything with
per-call state (settings, the HTTP resolver, the batch processor) is made per call.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from ingest.backfill import Backfiller, run_batch_operation
from ingest.config import Settings, ValidationSettings
from ingest.intake import EXPIRY_GRACE_S, IntakeOutcome, UploadIntake
from ingest.s3_events import parse_object_created
from ingest.upload_request import RequestRejected, UploadRequestBody, parse_upload_request
from ingest.uploads import open_upload
from ingest.uploads_table import DuplicateUploadIdError, UploadsTable
from ingest.validation import Limits
from ocrpipe.aws import client
from ocrpipe.bus import EventPublisher
from ocrpipe.envelope import Envelope
from ocrpipe.links import request_base_url

logger = Logger(service="ingest")

METRICS_NAMESPACE = "ocrpipe"


def _count(name: str) -> None:
    with single_metric(
        name=name, unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value="ingest")


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, ensure_ascii=False),
    )


class UploadGrant(BaseModel):
    """What ``POST /uploads`` answers (201): where and how to send the file."""

    document_id: str
    access_token: str = Field(description="Keep it: GET /documents/{id} needs it.")
    key: str
    upload: dict[str, Any] = Field(
        description="A presigned POST: send the file as multipart form to url with fields."
    )
    expires_in_s: int


def _build_api(get_settings: Callable[[], Settings]) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    @app.post(
        "/uploads",
        summary="Open an upload: a presigned POST for one document, and its access token",
        responses={
            201: {
                "description": "The upload is open",
                "content": {"application/json": {"model": UploadGrant}},
            },
            400: {"description": "The request cannot be accepted (error, message)"},
            413: {"description": "size_bytes is over the limit"},
            415: {"description": "content_type is not accepted"},
        },
    )
    def create_upload() -> Response[str]:
        settings = get_settings()
        try:
            body = app.current_event.json_body
        except ValueError:
            raise RequestRejected(
                400, "invalid_json", "The request body must be a JSON object."
            ) from None
        request = parse_upload_request(
            body, max_bytes=settings.max_upload_bytes, local_mode=settings.local_mode
        )
        base = request_base_url(app.current_event.headers)
        ticket = open_upload(
            request,
            settings=settings,
            s3=client("s3"),
            kms=client("kms"),
            uploads=UploadsTable(client("dynamodb"), settings.ingest_table),
            upload_url=f"{base}{settings.upload_proxy_path}"
            if settings.upload_proxy_path and base
            else None,
        )
        logger.info(
            "upload opened",
            extra={
                "document_id": ticket.document_id,
                "content_type": request.content_type,
                "size_bytes": request.size_bytes,
                "notify": request.recipient.channel if request.recipient else None,
            },
        )
        _count("UploadsOpened")
        return _json(201, ticket.response_body())

    def request_rejected(exc: RequestRejected) -> Response[str]:
        logger.info("upload request refused", extra={"error": exc.code, "status": exc.status})
        return _json(exc.status, exc.body())

    def unavailable(exc: Exception) -> Response[str]:
        # No traceback or message: botocore's parameter errors repeat the values sent, and
        # one of them is the address to notify.
        details = {"error_type": type(exc).__name__}
        if isinstance(exc, ClientError):
            details["error_code"] = str(exc.response.get("Error", {}).get("Code"))
            details["operation"] = exc.operation_name
        logger.error("could not open upload", extra=details)
        return _json(
            503,
            {"error": "unavailable", "message": "Uploads are unavailable; try again shortly."},
        )

    # powertools' registration decorators are untyped: register by plain calls.
    app.exception_handler(RequestRejected)(request_rejected)
    app.exception_handler([ClientError, BotoCoreError, DuplicateUploadIdError])(unavailable)

    @app.not_found
    def not_found(exc: Exception) -> Response[str]:
        return _json(404, {"error": "not_found", "message": "Use POST /uploads."})

    @app.get("/openapi.json", include_in_schema=False)
    def describe() -> Response[str]:
        return _json(200, _openapi(app))

    return app


def _openapi(app: APIGatewayHttpResolver) -> dict[str, Any]:
    """The resolver's document, with the request body the route validates against
    (:class:`UploadRequestBody`; the route parses it itself, for its error messages)."""
    schema: dict[str, Any] = app.get_openapi_schema(
        title="ocrpipe ingest API", version="1"
    ).model_dump(mode="json", by_alias=True, exclude_none=True)
    body = UploadRequestBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.update(body.pop("$defs", {}))
    components["UploadRequestBody"] = body
    schema["paths"]["/uploads"]["post"]["requestBody"] = {
        "required": True,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/UploadRequestBody"}}
        },
    }
    return schema


def openapi() -> dict[str, Any]:
    """This service's OpenAPI document (the local runtime merges every service's)."""
    return _openapi(_build_api(Settings))


def api(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    response: dict[str, Any] = _build_api(Settings).resolve(event, context)
    return response


def on_object_created(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = Settings()
    intake = UploadIntake(
        s3=client("s3"),
        uploads=UploadsTable(client("dynamodb"), settings.ingest_table),
        publisher=EventPublisher(client("events"), settings.bus_name),
        bucket=settings.uploads_bucket,
        limits=Limits(
            max_bytes=settings.max_upload_bytes,
            max_pages=settings.max_pages,
            max_image_pixels=settings.max_image_pixels,
        ),
        upload_window_s=settings.presign_expiry_s + EXPIRY_GRACE_S,
    )

    def record_handler(record: SQSRecord) -> IntakeOutcome:
        created = parse_object_created(Envelope.from_sqs_body(record.body))
        outcome = intake.handle(created)
        _count(f"Objects{outcome.value.title().replace('_', '')}")
        return outcome

    # Report every failed record (even all of them) as batchItemFailures rather than
    # raising: the queue redelivers exactly those, in AWS and under the local runtime alike.
    processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return cast(dict[str, Any], response)


def on_batch_operation(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """S3 Batch Operations "Invoke AWS Lambda function" (schema 1.0 or 2.0): backfill.

    Each task's object is checked and announced like an upload (see :mod:`ingest.backfill`);
    ``job.userArguments.reocr`` (schema 2.0) asks ocr to read documents it has read before.
    """
    settings = ValidationSettings()
    user_arguments = (event.get("job") or {}).get("userArguments") or {}
    reocr = str(user_arguments.get("reocr", "")).lower() in ("1", "true", "yes")
    backfiller = Backfiller(
        s3=client("s3"),
        limits=settings.limits(),
        publisher=EventPublisher(client("events"), settings.bus_name),
        reocr=reocr,
    )
    response = run_batch_operation(event, backfiller)
    for result in response["results"]:
        _count(f"Backfill{result['resultCode']}")
    logger.info(
        "batch operation handled",
        extra={
            "invocation_id": response["invocationId"],
            "tasks": len(response["results"]),
            "succeeded": sum(r["resultCode"] == "Succeeded" for r in response["results"]),
        },
    )
    return response
