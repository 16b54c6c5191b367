"""The status HTTP API: a document's progress and results, for whoever holds its token.

* ``GET /documents`` -- the documents whose capability tokens the caller presents
  (``Authorization: Bearer <token>[,<token>...]``, up to :data:`access.MAX_TOKENS`), newest
  first. A browser keeps the tokens of what it uploaded; nothing else identifies a person.
* ``GET /documents/{document_id}`` -- one document: its stage, totals, top words, and links to
  its text and counts (JSON, CSV) that expire (:mod:`ocrpipe.links`).
* ``GET /documents/{document_id}/files/{name}?expires=&signature=`` -- serves a file behind an
  ``api`` link (the local runtime's kind; on AWS links are presigned S3 URLs).
* ``GET /openapi.json`` -- this API described as OpenAPI 3, generated from the models below.

Built on powertools' ``APIGatewayHttpResolver``, which keeps the current event in a class
attribute all resolvers share: the local runtime runs HTTP handlers one at a time for that
reason (:mod:`ocrpipe_local.http_api`). Refusals stay indistinct (see :mod:`status.access`).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from botocore.exceptions import ClientError
from pydantic import BaseModel, Field

from ocrpipe import aws
from ocrpipe import links as links_mod
from ocrpipe.events import WordCount
from ocrpipe.storage import S3Location
from status import access
from status.read_model import DocumentStatus, Stage
from status.store import StatusStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

TITLE = "ocrpipe status API"
VERSION = "1"
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


class DocumentView(BaseModel):
    """One document as its token holder sees it."""

    document_id: str
    stage: Stage
    filename: str = ""
    timestamps: dict[Stage, datetime]
    total_words: int | None = None
    unique_words: int | None = None
    characters: int | None = None
    top_words: list[WordCount] = Field(default_factory=list, description="At most 10.")
    language: str | None = None
    failure_code: str | None = None
    failure_reason: str | None = Field(default=None, description="In plain words.")
    notification_channel: Literal["email", "webhook"] | None = None
    updated_at: datetime
    links: dict[str, str] = Field(
        default_factory=dict,
        description="Download links by file name (text.txt, counts.json, counts.csv), once "
        "the document is counted.",
    )
    links_expire_at: datetime | None = None


class DocumentList(BaseModel):
    documents: list[DocumentView]


class ApiError(BaseModel):
    error: str
    message: str = ""


def _json_response(model: type[BaseModel], description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


NOT_FOUND_DOC = _json_response(ApiError, "No such document, or not for this token")


def build(
    store: StatusStore,
    links: links_mod.Links,
    s3: Callable[[], S3Client],
    *,
    link_secret: str | None,
    now: Callable[[], float] | None = None,
) -> APIGatewayHttpResolver:
    clock = now or (lambda: time.time())
    app = APIGatewayHttpResolver(enable_validation=True)

    def view(record: DocumentStatus) -> dict[str, Any]:
        shown = DocumentView.model_validate(record.public())
        if record.result_uri:
            made = links.for_document(
                record.document_id,
                record.filename,
                record.files,
                base_url=links_mod.request_base_url(app.current_event.headers),
            )
            shown.links = made.links
            shown.links_expire_at = datetime.fromtimestamp(made.expires_at, UTC)
        return shown.model_dump(mode="json")

    @app.get(
        "/documents",
        summary="The documents whose tokens are presented",
        description="Authorization: Bearer <token>[,<token>...]; unknown tokens are skipped.",
        security=BEARER,
        responses={
            200: _json_response(DocumentList, "Newest first"),
            400: _json_response(ApiError, "Too many tokens"),
        },
    )
    def list_documents() -> Response[Any]:
        tokens = access.tokens_from_request(app.current_event.headers)
        if len(tokens) > access.MAX_TOKENS:
            return _error(400, "too_many_tokens", f"at most {access.MAX_TOKENS} tokens")
        hashes = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in tokens]
        records = store.documents_for_tokens(hashes) if hashes else []
        records.sort(key=lambda r: (min(r.timestamps.values()), r.document_id), reverse=True)
        return _ok({"documents": [view(r) for r in records]})

    @app.get(
        "/documents/<document_id>",
        summary="One document's progress, totals and result links",
        security=BEARER,
        responses={200: _json_response(DocumentView, "The document"), 404: NOT_FOUND_DOC},
    )
    def get_document(document_id: str) -> Response[Any]:
        token = access.token_from_request(app.current_event.headers)
        record = access.authorised(store.get, document_id, token)
        return _error(404, "not_found") if record is None else _ok(view(record))

    @app.get(
        "/documents/<document_id>/files/<name>",
        summary="A result file behind a link made by GET /documents/{document_id}",
        description="Query: expires (unix seconds) and signature, as in the link.",
        responses={
            200: {"description": "The file, as an attachment"},
            404: _json_response(ApiError, "No such link"),
            410: _json_response(ApiError, "The link has expired"),
        },
    )
    def get_file(document_id: str, name: str) -> Response[Any]:
        query = app.current_event.query_string_parameters or {}
        expires, signature = query.get("expires", ""), query.get("signature", "")
        kind = links_mod.FILES.get(name)
        if link_secret is None or kind is None or not access.valid_id(document_id):
            return _error(404, "not_found")
        if not links_mod.verify(link_secret, document_id, name, expires, signature, now=0):
            return _error(404, "not_found")
        if int(expires) < clock():
            return _error(410, "link_expired", "open the document again for a fresh link")
        record = store.get(document_id)
        uri = record.files.get(name) if record is not None else None
        if record is None or not uri:
            return _error(404, "not_found")
        location = S3Location.parse(uri)
        try:
            body = s3().get_object(Bucket=location.bucket, Key=location.key)["Body"].read()
        except ClientError as exc:
            if aws.is_not_found(exc):
                return _error(404, "not_found", "the file is no longer kept")
            raise
        return Response(
            status_code=200,
            content_type=kind.content_type,
            body=body.decode("utf-8", errors="replace"),
            headers={
                "Content-Disposition": links_mod.content_disposition(
                    links_mod.download_name(record.filename, kind)
                ),
                "Cache-Control": "no-store",
            },
        )

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> Response[Any]:
        return _ok(openapi_schema(app))

    return app


def openapi_schema(app: APIGatewayHttpResolver) -> dict[str, Any]:
    schema: dict[str, Any] = app.get_openapi_schema(
        title=TITLE,
        version=VERSION,
        security_schemes={"bearer": HTTPBearer(description="A document's access token")},
    ).model_dump(mode="json", by_alias=True, exclude_none=True)
    return schema


def _ok(body: dict[str, Any]) -> Response[Any]:
    return Response(
        status_code=200,
        content_type="application/json",
        body=body,
        headers={"Cache-Control": "no-store"},
    )


def _error(status: int, error: str, message: str = "") -> Response[Any]:
    body: dict[str, str] = {"error": error}
    if message:
        body["message"] = message
    return Response(
        status_code=status,
        content_type="application/json",
        body=body,
        headers={"Cache-Control": "no-store"},
    )
