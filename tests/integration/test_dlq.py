"""``ocrpipe dlq``: list a consumer's dead letters, then move them back to be handled."""

from __future__ import annotations

import io
import secrets
from pathlib import Path

from ocrpipe_local.cli import build_parser, dlq
from ocrpipe_local.stack import OneMachineStack
from tests.lambda_shapes import envelope_body

from .test_replay import uploaded_event


def test_dead_letters_are_listed_then_redriven_and_handled(tmp_path: Path) -> None:
    doc = "dead" + secrets.token_hex(6)
    uploaded = uploaded_event(doc)
    with OneMachineStack(state_dir=tmp_path / "state", stage="dl" + secrets.token_hex(3)) as stack:
        sqs = stack.client("sqs")
        status = stack.resources.consumers["status"]
        # What a message looks like after max_receive_count failed deliveries.
        sqs.send_message(QueueUrl=status.dlq.url, MessageBody=envelope_body(uploaded))

        listed = io.StringIO()
        assert dlq.run(build_parser().parse_args(["dlq", "--to", "status"]), listed) == 0
        assert "status: 1 message(s)" in listed.getvalue()
        assert f"DocumentUploaded     {doc}" in listed.getvalue()
        assert "ocrpipe dlq --redrive" in listed.getvalue()

        moved = io.StringIO()
        args = build_parser().parse_args(["dlq", "--redrive"])
        assert dlq.run(args, moved) == 0
        assert "status: 1 message(s) moved back to its queue" in moved.getvalue()
        assert stack.drain(timeout=30)
        assert stack.queue_depths()[status.dlq.name].total == 0
        assert stack.invocations()["status"] >= 1

        empty = io.StringIO()
        assert dlq.run(build_parser().parse_args(["dlq", "--to", "status"]), empty) == 0
        assert "status: 0 message(s)" in empty.getvalue()
