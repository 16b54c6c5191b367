"""A new consumer changes no producer's CloudFormation, byte for byte.

Every stack with a ``serverless.yml`` (the bus and the services) is packaged twice in a copy
of the repository: as it is, and with the fixture consumer ``wordstats`` added as a service
folder (``services/wordstats/ocrpipe-service.json`` and its package). The templates must be
identical apart from the artifact directory Serverless names after the packaging time.

The copies are packaged without serverless-python-requirements (it only fills the zips, which
are the same code in both runs, and takes minutes per stack); everything ``shared/topology.js``
generates goes through unchanged. Needs node and ``node_modules`` (``scripts/bootstrap.sh
test``); skipped cleanly without them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = [pytest.mark.packaging, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SERVERLESS = ROOT / "node_modules" / ".bin" / "serverless"
FIXTURE = ROOT / "tests" / "fixtures" / "wordstats_consumer"
STAGE, REGION = "ci", "us-east-1"
PLUGIN_LINES = (
    "plugins:\n  - serverless-python-requirements\n",
    "  pythonRequirements: ${file(../../shared/python-requirements.yml)}\n",
)
#: serverless/<service>/<stage>/<epoch ms>-<ISO time>/<artifact>: the packaging time.
ARTIFACT_DIR = re.compile(r"(serverless/[^/\"]+/[^/\"]+/)\d+-[0-9T:.\-]+Z/")

needs_node = pytest.mark.skipif(
    not SERVERLESS.exists() or shutil.which("node") is None,
    reason="node_modules/serverless is missing (scripts/bootstrap.sh test)",
)


def _stacks() -> list[str]:
    found = [f"services/{p.parent.name}" for p in sorted(ROOT.glob("services/*/serverless.yml"))]
    return ["shared/bus", *found]


def _copy_repo(dest: Path) -> None:
    ignore = shutil.ignore_patterns(".serverless", "__pycache__", "*.pyc")
    shutil.copytree(ROOT / "shared", dest / "shared", ignore=ignore)
    shutil.copytree(ROOT / "docs" / "schemas", dest / "docs" / "schemas")
    for stack in _stacks()[1:]:
        shutil.copytree(ROOT / stack, dest / stack, ignore=ignore)
    for yml in dest.glob("**/serverless.yml"):
        text = yml.read_text(encoding="utf-8")
        for line in PLUGIN_LINES:
            text = text.replace(line, "")
        yml.write_text(text, encoding="utf-8")


def _add_wordstats(dest: Path) -> None:
    folder = dest / "services" / "wordstats"
    shutil.copytree(
        FIXTURE, folder / FIXTURE.name, ignore=shutil.ignore_patterns("__pycache__", "*.json")
    )
    shutil.copy(FIXTURE / "ocrpipe-service.json", folder / "ocrpipe-service.json")


def _package_all(tree: Path, out: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": "packaging-only",
        "AWS_SECRET_ACCESS_KEY": "packaging-only",
        "AWS_REGION": REGION,
        "SLS_TELEMETRY_DISABLED": "1",
        "SLS_NOTIFICATIONS_MODE": "off",
    }
    templates = {}
    for stack in _stacks():
        target = out / stack.replace("/", "-")
        done = subprocess.run(
            [str(SERVERLESS), "package", "--stage", STAGE, "--region", REGION, "--package", target],
            cwd=tree / stack,
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, f"{stack}:\n{done.stdout}\n{done.stderr}"
        text = (target / "cloudformation-template-update-stack.json").read_text()
        templates[stack] = ARTIFACT_DIR.sub(r"\1<packaged-at>/", text)
    return templates


@needs_node
def test_adding_a_consumer_changes_no_existing_template(tmp_path: Path) -> None:
    before_tree, after_tree = tmp_path / "before", tmp_path / "after"
    _copy_repo(before_tree)
    _copy_repo(after_tree)
    _add_wordstats(after_tree)
    before = _package_all(before_tree, tmp_path / "out-before")
    after = _package_all(after_tree, tmp_path / "out-after")
    assert set(before) == set(after) == set(_stacks())
    for stack in before:
        assert after[stack] == before[stack], f"{stack} changed when a consumer was added"


@needs_node
def test_the_new_consumer_gets_its_subscription_from_its_own_declaration() -> None:
    script = (
        "const t = require(process.argv[1]);"
        "const d = require(process.argv[2]);"
        "console.log(JSON.stringify(t.build('ci', d)));"
    )
    done = subprocess.run(
        [
            "node",
            "-e",
            script,
            str(ROOT / "shared" / "topology.js"),
            str(FIXTURE / "ocrpipe-service.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    built = json.loads(done.stdout)
    assert set(built["consumers"]) == {"wordstats"}
    resources = built["subscriptions"]["wordstats"]["Resources"]
    rule = resources["WordstatsRule"]["Properties"]
    assert rule["Name"] == "ocrpipe-ci-wordstats"
    assert rule["EventBusName"] == "ocrpipe-ci"
    assert rule["EventPattern"] == {
        "source": ["ocrpipe.wordcount"],
        "detail-type": ["WordsCounted"],
    }
    assert resources["WordstatsQueue"]["Properties"]["VisibilityTimeout"] == 30
    tables = built["tables"]["wordstats"]["Resources"]
    assert tables["ServiceTable"]["Properties"]["TableName"] == "ocrpipe-ci-wordstats"
    assert "IdempotencyTable" not in tables
