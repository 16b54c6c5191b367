"""Starting and stopping a stack: the environment is restored, function output is routed."""

from __future__ import annotations

import os
import secrets
import sys

import pytest
import requests

from ocrpipe_local.stack import OneMachineStack

from .test_runtime import make_topology

pytestmark = pytest.mark.integration


def test_stop_restores_the_environment_and_a_stage_can_be_provisioned_again(tmp_path, monkeypatch):
    monkeypatch.setenv("AWS_PROFILE", "someone-real")
    monkeypatch.delenv("OCRPIPE_BUS_NAME", raising=False)
    stage = "t" + secrets.token_hex(3)
    for _ in range(2):  # the second start finds every resource already there
        with OneMachineStack(state_dir=tmp_path, stage=stage, topology=make_topology()) as stack:
            assert "AWS_PROFILE" not in os.environ
            assert os.environ["OCRPIPE_BUS_NAME"] == f"ocrpipe-{stage}"
            assert stack.drain(timeout=10)
        assert os.environ["AWS_PROFILE"] == "someone-real"
        assert "OCRPIPE_BUS_NAME" not in os.environ
        assert os.environ.get("AWS_ENDPOINT_URL") != stack.endpoint_url


def test_function_output_goes_to_the_log_file_not_the_terminal(tmp_path, capsys):
    terminal = sys.stdout
    stage = "t" + secrets.token_hex(3)
    with OneMachineStack(state_dir=tmp_path, stage=stage, topology=make_topology()) as stack:
        print("the CLI's own line")
        response = requests.post(f"{stack.api_url}/echo", json={}, timeout=10)
        assert response.status_code == 201
    assert sys.stdout is terminal
    captured = capsys.readouterr().out
    assert "the CLI's own line" in captured
    assert "must go to the functions log" not in captured
    log = (tmp_path / "logs" / "functions.jsonl").read_text(encoding="utf-8")
    assert "must go to the functions log" in log
