"""The ocr stage on Amazon Textract, as plain domain code (no Lambda, no publishing).

Reading one :class:`~ocrpipe.events.DocumentUploaded` (:meth:`TextractService.read`):

1. the content-hash cache, exactly as the Tesseract path (the fingerprint carries the engine
   name, so text of one engine is never served for the other);
2. Textract's fixed limits, from the event alone (type, size, pages): an over-limit document
   is refused with ``OcrFailed(too_large)`` before anything is called or billed;
3. JPEG/PNG: the upload is fetched (at most 10 MB) to check its hash and pixel size, then
   ``DetectDocumentText`` reads it from S3; the text is stored and cached like Tesseract's;
4. PDF/TIFF: ``StartDocumentTextDetection`` with the completion topic, ``JobTag`` = the
   document id and a ``ClientRequestToken`` derived from document id + sha256 (a repeated
   start returns the same job instead of a second one). The job is recorded in the ocr
   table (``pk = "job#<JobId>"``) with what the completion needs to publish, and
   :class:`JobStarted` is returned: nothing is published yet.

Completing a job (:meth:`TextractService.finish`), from Textract's SNS notification:
``SUCCEEDED`` → all blocks are paged through, the text stored and cached →
:class:`JobCompleted`; ``FAILED``/``ERROR`` → :class:`JobFailed` with Textract's
``StatusMessage``. A job id without a record (:meth:`TextractService.pending` is None) is
the handler's to decide.

Throttling never sleeps in a handler: :func:`redelivery_delay_s` and :func:`queue_url_from_arn`
let the handler push the SQS record back with an exponential, jittered visibility timeout.
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ocr.engines.textract import (
    NotificationChannel,
    TextractEngine,
    TextractThrottledError,
    check_image_size,
    check_limits,
)
from ocr.errors import EngineError, OcrError, UnreadableDocumentError
from ocr.pages import check_content_type
from ocrpipe.content_types import PIL_FORMATS
from ocrpipe.events import DocumentUploaded, OcrFailureReason, Recipient
from ocrpipe.storage import S3Location

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from ocr.service import ObjectStore, OcrOutcome, OcrService

#: Textract keeps a job's results for 7 days; a job record is useless after that.
JOB_TTL_S = 7 * 24 * 3600
#: Statuses of a finished job whose blocks can be read.
SUCCESS_STATUSES = frozenset({"SUCCEEDED", "PARTIAL_SUCCESS"})

#: Backoff of a throttled record: ``BASE * 2**(receives-1)``, at most ``CAP`` (the
#: completion queue's visibility must stay far below SQS's 12 h limit; 15 min is plenty
#: for a per-second quota to recover).
BACKOFF_BASE_S = 30
BACKOFF_CAP_S = 900


# --- identities of a job ----------------------------------------------------------------
def client_request_token(document_id: str, sha256: str, *, rerun: str = "") -> str:
    """Idempotency token of StartDocumentTextDetection: 64 hex chars (its limit and
    alphabet), the same for the same document and bytes, so a retried delivery gets the job
    already started instead of a second one. ``rerun`` tells deliberate re-reads apart (a
    ``reocr`` event passes its ``occurred_at``): Textract would otherwise answer a new
    request with the old, finished job, and no completion would ever be announced again."""
    seed = f"ocrpipe:{document_id}:{sha256}" + (f":rerun:{rerun}" if rerun else "")
    return hashlib.sha256(seed.encode()).hexdigest()


def job_tag(document_id: str) -> str:
    """``JobTag`` (``[a-zA-Z0-9_.\\-:]{1,64}``): the document id, which always fits."""
    return document_id


def job_key(job_id: str) -> str:
    return f"job#{job_id}"


# --- the pending-job record ---------------------------------------------------------------
@dataclass(frozen=True)
class PendingJob:
    """What the completion handler needs to publish for a document whose job is running.
    ``recipient`` is the KMS ciphertext from the event, never the address."""

    job_id: str
    document_id: str
    sha256: str
    filename: str
    recipient: Recipient | None
    source_uri: str
    page_count: int
    keep_source: bool
    fingerprint: str
    started_at: int
    expires_at: int


class JobStore(Protocol):
    def put(self, job: PendingJob) -> None: ...

    def get(self, job_id: str) -> PendingJob | None: ...

    def delete(self, job_id: str) -> None: ...


class DynamoJobStore:
    """Pending jobs in the ocr table (``pk = "job#<JobId>"``, TTL ``expires_at``)."""

    def __init__(self, dynamodb: DynamoDBClient, table: str) -> None:
        self._dynamodb = dynamodb
        self._table = table

    def put(self, job: PendingJob) -> None:
        item: dict[str, Any] = {
            "pk": {"S": job_key(job.job_id)},
            "job_id": {"S": job.job_id},
            "document_id": {"S": job.document_id},
            "sha256": {"S": job.sha256},
            "filename": {"S": job.filename},
            "source_uri": {"S": job.source_uri},
            "page_count": {"N": str(job.page_count)},
            "keep_source": {"BOOL": job.keep_source},
            "fingerprint": {"S": job.fingerprint},
            "started_at": {"N": str(job.started_at)},
            "expires_at": {"N": str(job.expires_at)},
        }
        if job.recipient is not None:
            item["recipient"] = {"S": job.recipient.model_dump_json()}
        self._dynamodb.put_item(TableName=self._table, Item=item)

    def get(self, job_id: str) -> PendingJob | None:
        item = self._dynamodb.get_item(
            TableName=self._table, Key={"pk": {"S": job_key(job_id)}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        recipient = item.get("recipient", {}).get("S")
        return PendingJob(
            job_id=item["job_id"]["S"],
            document_id=item["document_id"]["S"],
            sha256=item["sha256"]["S"],
            filename=item.get("filename", {}).get("S", ""),
            recipient=Recipient.model_validate_json(recipient) if recipient else None,
            source_uri=item["source_uri"]["S"],
            page_count=int(item["page_count"]["N"]),
            keep_source=bool(item.get("keep_source", {}).get("BOOL", False)),
            fingerprint=item["fingerprint"]["S"],
            started_at=int(item["started_at"]["N"]),
            expires_at=int(item["expires_at"]["N"]),
        )

    def delete(self, job_id: str) -> None:
        self._dynamodb.delete_item(TableName=self._table, Key={"pk": {"S": job_key(job_id)}})


class InMemoryJobStore:
    def __init__(self) -> None:
        self.jobs: dict[str, PendingJob] = {}

    def put(self, job: PendingJob) -> None:
        self.jobs[job.job_id] = job

    def get(self, job_id: str) -> PendingJob | None:
        return self.jobs.get(job_id)

    def delete(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)


# --- Textract's completion notification ---------------------------------------------------
class CompletionNotice(BaseModel):
    """The message Textract publishes to the completion topic."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True, frozen=True)

    job_id: str = Field(alias="JobId", min_length=1)
    status: str = Field(alias="Status", min_length=1)
    api: str = Field(default="", alias="API")
    job_tag: str = Field(default="", alias="JobTag")


class NotCompletionNoticeError(ValueError):
    """The message is not a Textract completion notification (a wiring bug: raised, so it
    ends in the DLQ where an operator sees it)."""


def parse_completion(body: str) -> CompletionNotice:
    """The notice in an SQS body: an SNS envelope (``{"Type": "Notification", "Message":
    "<json>"}``) or, with raw message delivery on, the message itself."""
    try:
        payload = json.loads(body)
        if isinstance(payload, dict) and payload.get("Type") == "Notification":
            message = payload.get("Message")
            payload = json.loads(message) if isinstance(message, str) else message
        return CompletionNotice.model_validate(payload)
    except (ValueError, TypeError, ValidationError) as exc:
        raise NotCompletionNoticeError(f"not a Textract completion notice: {exc}") from exc


# --- backoff through the queue ------------------------------------------------------------
def redelivery_delay_s(
    receive_count: int,
    *,
    base_s: int = BACKOFF_BASE_S,
    cap_s: int = BACKOFF_CAP_S,
    rng: Callable[[], float] = random.random,
) -> int:
    """Visibility timeout for a throttled record on its ``receive_count``-th delivery:
    exponential in the deliveries so far, capped, with "equal jitter" (between half and all
    of the step) so records throttled together do not come back together."""
    step = min(cap_s, base_s * 2 ** max(0, receive_count - 1))
    return max(1, min(cap_s, int(step / 2 + rng() * step / 2)))


def queue_url_from_arn(arn: str, endpoint_url: str) -> str:
    """``arn:aws:sqs:<region>:<account>:<name>`` → ``<endpoint>/<account>/<name>`` (the SQS
    client's endpoint, so AWS, other partitions and a local emulator all work)."""
    parts = arn.split(":")
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "sqs":
        raise ValueError(f"not an SQS queue ARN: {arn!r}")
    account, name = parts[4], parts[5]
    return f"{endpoint_url.rstrip('/')}/{account}/{name}"


# --- outcomes -------------------------------------------------------------------------------
@dataclass(frozen=True)
class JobStarted:
    """An asynchronous job is running; its completion will publish the outcome."""

    job_id: str
    page_count: int


@dataclass(frozen=True)
class JobCompleted:
    job: PendingJob
    outcome: OcrOutcome


@dataclass(frozen=True)
class JobFailed:
    job: PendingJob
    reason_code: OcrFailureReason
    reason: str


JobCompletion = JobCompleted | JobFailed


class TextractService:
    """Textract's two paths around the shared cache and text store of :class:`OcrService`."""

    def __init__(
        self,
        *,
        base: OcrService,
        engine: TextractEngine,
        store: ObjectStore,
        jobs: JobStore,
        channel: NotificationChannel | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._base = base
        self._engine = engine
        self._store = store
        self._jobs = jobs
        self._channel = channel
        self._clock = clock

    @property
    def engine(self) -> TextractEngine:
        return self._engine

    def discard_upload(self, uri: str) -> None:
        """Delete an original once its outcome is published (a job's, once it finished:
        Textract read it from S3 until then)."""
        self._store.delete(uri)

    def read(self, uploaded: DocumentUploaded) -> OcrOutcome | JobStarted:
        if not uploaded.reocr:
            hit = self._base.cached(uploaded)
            if hit is not None:
                return hit
        if uploaded.reocr and not self._store.exists(uploaded.source_uri):
            # A re-read of an original that is gone keeps the earlier reading: no failure
            # is told for a document that was read.
            kept = self._base.kept_reading(uploaded)
            if kept is not None:
                return kept
        mode = check_limits(uploaded.content_type, uploaded.size_bytes, uploaded.page_count)
        location = S3Location.parse(uploaded.source_uri)
        if mode == "sync":
            self._check_image(uploaded)
            started = time.perf_counter()
            result = self._engine.detect_s3(location.bucket, location.key)
            return self._base.remember(uploaded.sha256, result, time.perf_counter() - started)
        if self._channel is None:
            raise EngineError(
                "Textract jobs for PDF/TIFF need OCRPIPE_TEXTRACT_SNS_TOPIC_ARN and "
                "OCRPIPE_TEXTRACT_ROLE_ARN"
            )
        job_id = self._engine.start(
            location.bucket,
            location.key,
            client_request_token=client_request_token(
                uploaded.document_id,
                uploaded.sha256,
                rerun=uploaded.occurred_at.isoformat() if uploaded.reocr else "",
            ),
            job_tag=job_tag(uploaded.document_id),
            channel=self._channel,
        )
        now = int(self._clock())
        self._jobs.put(
            PendingJob(
                job_id=job_id,
                document_id=uploaded.document_id,
                sha256=uploaded.sha256,
                filename=uploaded.filename,
                recipient=uploaded.recipient,
                source_uri=uploaded.source_uri,
                page_count=uploaded.page_count,
                keep_source=uploaded.keep_source,
                fingerprint=self._engine.fingerprint,
                started_at=now,
                expires_at=now + JOB_TTL_S,
            )
        )
        return JobStarted(job_id=job_id, page_count=uploaded.page_count)

    def _check_image(self, uploaded: DocumentUploaded) -> None:
        """The image's bytes are what ingest checked (same hash, same type), and within
        Textract's pixel limit."""
        data = self._store.get(uploaded.source_uri)
        if hashlib.sha256(data).hexdigest() != uploaded.sha256:
            raise UnreadableDocumentError(
                "The uploaded file changed after it was checked; please upload it again."
            )
        check_content_type(data, uploaded.content_type)
        try:
            formats = [PIL_FORMATS[uploaded.content_type]]
            with Image.open(io.BytesIO(data), formats=formats) as image:
                width, height = image.size
        except (OSError, ValueError, SyntaxError) as exc:
            raise UnreadableDocumentError("The image could not be decoded.") from exc
        check_image_size(width, height)

    def pending(self, job_id: str) -> PendingJob | None:
        """The record of a job this service started, or None (expired, already completed,
        or not ours)."""
        return self._jobs.get(job_id)

    def finish(self, job: PendingJob, notice: CompletionNotice) -> JobCompletion:
        """The outcome of a finished job. Raises :class:`TextractThrottledError` (retry
        later) and :class:`EngineError` (Textract misbehaved; retried by the queue)."""
        if notice.status not in SUCCESS_STATUSES:
            return JobFailed(job, OcrFailureReason.ENGINE_ERROR, self._failure_reason(job))
        started = time.perf_counter()
        collected = self._engine.collect(job.job_id, expected_pages=job.page_count)
        if collected.result is None:
            if collected.status == "IN_PROGRESS":
                # cannot happen after a SUCCEEDED notice; retried by the queue if it does
                raise EngineError(f"Textract job {job.job_id} is still in progress")
            return JobFailed(job, OcrFailureReason.ENGINE_ERROR, _reason(collected.status_message))
        try:
            outcome = self._base.remember(
                job.sha256, collected.result, time.perf_counter() - started
            )
        except OcrError as exc:  # no text found
            return JobFailed(job, exc.reason_code, exc.reason)
        return JobCompleted(job, outcome)

    def _failure_reason(self, job: PendingJob) -> str:
        """Textract's ``StatusMessage`` of a failed job (the notice carries only the status)."""
        try:
            collected = self._engine.collect(job.job_id, expected_pages=job.page_count)
        except TextractThrottledError:
            raise
        except EngineError:  # e.g. the job's results are gone: the status alone must do
            return _reason("")
        return _reason(collected.status_message)

    def forget(self, job_id: str) -> None:
        self._jobs.delete(job_id)


def _reason(status_message: str) -> str:
    detail = status_message.strip() or "no reason given"
    return f"Amazon Textract could not read the document: {detail}."
