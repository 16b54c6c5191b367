"""Powertools idempotency (DynamoDB), configured one way for every stage.

A stage handles a document once: the key is built from the event detail (document id plus
what makes the work different, e.g. the text URI) under a fixed per-stage prefix — never
from the event id, because S3 and replayed events repeat or change ids. A deliberate
reprocessing (``ocrpipe replay --reocr`` / ``--renotify``) gets a fresh key through
:func:`processing_round`, which is empty for ordinary deliveries and the replay's name (or
the event id) when the event asks to be processed again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    IdempotentHookFunction,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.serialization.pydantic import PydanticSerializer
from pydantic import BaseModel

from ocrpipe import aws
from ocrpipe.envelope import Envelope

if TYPE_CHECKING:
    from aws_lambda_powertools import Metrics
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext

F = TypeVar("F", bound=Callable[..., Any])

#: The metric a duplicate call adds (:class:`OncePerKey` given ``metrics``).
DUPLICATES_SKIPPED = "DuplicatesSkipped"


class CompletingPersistenceLayer(DynamoDBPersistenceLayer):
    """Powertools' DynamoDB layer, retrying the writes that end an attempt.

    A record is written ``INPROGRESS`` before the work and ``COMPLETED`` (or deleted, when the
    work failed) after it. If that second write fails, the record stays ``INPROGRESS`` until
    its in-progress expiry (the function's timeout), and the first delivery after that does the
    work again: for notify, a second e-mail or webhook call. Both writes are unconditional, so
    asking again is safe; found by the soak benchmark (``benchmarks/soak.py``), where one
    failed ``UpdateItem`` after a sent webhook was a second webhook two minutes later."""

    @aws.retry_transient()
    def _update_record(self, data_record: DataRecord) -> None:
        super()._update_record(data_record)

    @aws.retry_transient()
    def _delete_record(self, data_record: DataRecord) -> None:
        super()._delete_record(data_record)


class OncePerKey:
    """Run a function once per key (its stored result is returned after), configured once
    per container: ``step = OncePerKey(...)``, ``@step`` on the function, and
    ``step.register(context)`` on each invocation (:class:`ocrpipe.container.Consumer`
    does), so an in-progress record expires with the invocation's remaining time. A
    function returning a pydantic model names it as ``result_model``: a duplicate call
    gets the model back. Given ``metrics``, each duplicate call counts as
    :data:`DUPLICATES_SKIPPED` there."""

    def __init__(
        self,
        *,
        table_name: str,
        key_prefix: str,
        key_jmespath: str,
        data_keyword_argument: str,
        expires_after_seconds: int,
        metrics: Metrics | None = None,
        result_model: type[BaseModel] | None = None,
    ) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath=key_jmespath,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=expires_after_seconds,
            response_hook=_counting_duplicates(metrics) if metrics is not None else None,
        )
        self._decorator = idempotent_function(
            data_keyword_argument=data_keyword_argument,
            persistence_store=CompletingPersistenceLayer(
                table_name=table_name, boto3_client=aws.client("dynamodb")
            ),
            config=self.config,
            key_prefix=key_prefix,
            output_serializer=PydanticSerializer(result_model) if result_model else None,
        )

    def __call__(self, function: F) -> F:
        decorated: F = self._decorator(function)
        return decorated

    def register(self, context: LambdaContext | None) -> None:
        if context is not None:
            self.config.register_lambda_context(context)


def _counting_duplicates(metrics: Metrics) -> IdempotentHookFunction:
    def count(response: Any, idempotent_data: DataRecord) -> Any:
        metrics.add_metric(name=DUPLICATES_SKIPPED, unit=MetricUnit.Count, value=1)
        return response

    return count


def processing_round(envelope: Envelope, *, again: bool) -> str:
    """``""`` normally; a value unique to this replay when the event asks for a redo."""
    if not again:
        return ""
    return envelope.replay_name or envelope.id or "again"
