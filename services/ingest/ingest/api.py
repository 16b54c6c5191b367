"""``POST /uploads``: open an upload (API Gateway HTTP API, payload v2, powertools' resolver).

The answer is a presigned POST for one document and its access token (:mod:`ingest.uploads`);
refusals are JSON with an ``error`` code and a ``message`` a person can act on.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import BaseModel, Field

from ingest.config import Settings
from ingest.upload_request import RequestRejected, UploadRequestBody, parse_upload_request
from ingest.uploads import open_upload
from ingest.uploads_table import DuplicateUploadIdError, UploadsTable
from ocrpipe.aws import client
from ocrpipe.links import request_base_url

logger = Logger(service="ingest", child=True)
metrics = Metrics(namespace="ocrpipe", service="ingest")


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


def build_api(get_settings: Callable[[], Settings]) -> APIGatewayHttpResolver:
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
        metrics.add_metric(name="UploadsOpened", unit=MetricUnit.Count, value=1)
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
        return _json(200, openapi_schema(app))

    return app


def openapi_schema(app: APIGatewayHttpResolver) -> dict[str, Any]:
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
