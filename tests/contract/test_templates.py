"""Contract tests on the packaged CloudFormation: what AWS would deploy matches the topology.

``scripts/package.sh`` packages every stack offline (``serverless package`` with dummy
credentials) into ``build/cfn/<stack>.json`` plus ``manifest.json`` (stage, region). These
tests read those templates. Without them the tests skip, unless ``OCRPIPE_REQUIRE_PACKAGING``
is set (CI sets it), in which case they fail.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ocrpipe import topology
from ocrpipe.events import EVENT_TYPES
from ocrpipe_local.discovery import discover

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]
CFN_DIR = ROOT / "build" / "cfn"
MANIFEST = CFN_DIR / "manifest.json"
# Account/region used to evaluate Fn::Sub strings; any values work, they only need to agree
# with the topology Place the expectations are computed for.
ACCOUNT, REGION, PARTITION = "210987654321", "eu-west-1", "aws"
SERVICES = ("ingest", "ocr", "wordcount", "notify", "status")
#: What the services declare (services/*/ocrpipe-service.json), as the local runtime finds it.
TOPOLOGY = discover()
DATA_PLANE_PREFIXES = ("s3:", "dynamodb:", "sqs:", "kms:", "ses:")


def _manifest() -> dict[str, Any]:
    if not MANIFEST.exists():
        if os.environ.get("OCRPIPE_REQUIRE_PACKAGING"):
            pytest.fail(f"{MANIFEST} is missing: scripts/package.sh must run before these tests")
        pytest.skip("packaged templates not found: run scripts/package.sh (needs node/npm)")
    data: dict[str, Any] = json.loads(MANIFEST.read_text())
    return data


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return _manifest()


@pytest.fixture(scope="module")
def place(manifest: dict[str, Any]) -> topology.Place:
    return topology.Place(stage=manifest["stage"], account=ACCOUNT, region=REGION)


def _load(stack: str) -> dict[str, Any]:
    path = CFN_DIR / f"{stack}.json"
    if not path.exists():
        pytest.fail(f"{path} missing although {stack} has a serverless.yml")
    template: dict[str, Any] = json.loads(path.read_text())
    return template


def _template_for(service: str) -> dict[str, Any]:
    _manifest()
    if not (ROOT / "services" / service / "serverless.yml").exists():
        pytest.skip(f"services/{service}/serverless.yml does not exist yet")
    return _load(service)


def _resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _render(value: Any) -> Any:
    """Evaluate the Fn::Sub strings that only need pseudo parameters; leave the rest as is."""
    if isinstance(value, dict):
        if set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str):
            text = value["Fn::Sub"]
            for name, sub in (
                ("AWS::AccountId", ACCOUNT),
                ("AWS::Region", REGION),
                ("AWS::Partition", PARTITION),
            ):
                text = text.replace("${" + name + "}", sub)
            return text
        return {k: _render(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_render(v) for v in value]
    return value


def _statements(template: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every statement of every identity policy (roles' inline policies, AWS::IAM::Policy)."""
    for rid, res in template["Resources"].items():
        if res["Type"] == "AWS::IAM::Role":
            for policy in res["Properties"].get("Policies", []):
                for st in policy["PolicyDocument"]["Statement"]:
                    yield rid, st
        elif res["Type"] == "AWS::IAM::Policy":
            for st in res["Properties"]["PolicyDocument"]["Statement"]:
                for role in res["Properties"]["Roles"]:
                    yield role["Ref"], st


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _consumers_of(service: str) -> dict[str, topology.Consumer]:
    return {k: c for k, c in TOPOLOGY.consumers.items() if c.service == service}


def _queue_ids(template: dict[str, Any]) -> dict[str, str]:
    """QueueName -> logical id."""
    return {
        r["Properties"]["QueueName"]: rid
        for rid, r in _resources(template, "AWS::SQS::Queue").items()
    }


def _function_for_queue(template: dict[str, Any], queue_id: str) -> dict[str, Any]:
    for esm in _resources(template, "AWS::Lambda::EventSourceMapping").values():
        if esm["Properties"]["EventSourceArn"] == {"Fn::GetAtt": [queue_id, "Arn"]}:
            fn_id = esm["Properties"]["FunctionName"]["Fn::GetAtt"][0]
            fn: dict[str, Any] = template["Resources"][fn_id]
            return {"esm": esm["Properties"], "function": fn["Properties"], "id": fn_id}
    pytest.fail(f"no event source mapping reads {queue_id}")


def _documented_required_vars(service: str) -> set[str]:
    """OCRPIPE_* variables docs/configuration.md lists for the service with no default."""
    required = set()
    for line in (ROOT / "docs" / "configuration.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 4 or not cells[0].startswith("`OCRPIPE_"):
            continue
        names = re.findall(r"`(OCRPIPE_[A-Z0-9_]+)`", cells[0])
        services = {s.strip() for s in cells[1].split(",")}
        if cells[2] == "—" and (service in services or "all" in services):
            required.update(names)
    return required


# --- bus ----------------------------------------------------------------------------------


def test_bus_stack(manifest: dict[str, Any], place: topology.Place) -> None:
    bus = _load("bus")
    (event_bus,) = _resources(bus, "AWS::Events::EventBus").values()
    assert event_bus["Properties"]["Name"] == place.name("bus") == f"ocrpipe-{manifest['stage']}"

    (archive,) = _resources(bus, "AWS::Events::Archive").values()
    assert archive["Properties"]["ArchiveName"] == place.name("archive")
    assert archive["Properties"]["EventPattern"] == {"source": [{"prefix": "ocrpipe."}]}
    assert archive["Properties"]["RetentionDays"] == 30

    schemas = {
        s["Properties"]["SchemaName"]: s["Properties"]
        for s in _resources(bus, "AWS::EventSchemas::Schema").values()
    }
    for event in EVENT_TYPES:
        schema = schemas[f"ocrpipe@{event.DETAIL_TYPE}"]
        assert schema["Type"] == "JSONSchemaDraft4"
        assert json.loads(schema["Content"])["$schema"].startswith(
            "http://json-schema.org/draft-04"
        )

    (alias,) = _resources(bus, "AWS::KMS::Alias").values()
    assert alias["Properties"]["AliasName"] == place.name("notify_key_alias")
    assert _resources(bus, "AWS::SNS::Topic"), "the alarm topic lives in the bus stack"
    _assert_only_framework_exports(bus)


def test_notify_key_policy_grants_encrypt_to_ingest_and_decrypt_to_notify(
    place: topology.Place,
) -> None:
    (key,) = _resources(_load("bus"), "AWS::KMS::Key").values()
    crypto = {}
    for st in _render(key["Properties"]["KeyPolicy"]["Statement"]):
        actions = set(_as_list(st["Action"]))
        data_actions = {a for a in actions if a in {"kms:Encrypt", "kms:Decrypt", "kms:*"}}
        data_actions |= {a for a in actions if a.startswith("kms:GenerateDataKey")}
        if data_actions:
            crypto[tuple(sorted(data_actions))] = st["Condition"]["ArnLike"]["aws:PrincipalArn"]
    assert crypto == {
        ("kms:Encrypt",): f"arn:aws:iam::{ACCOUNT}:role/ocrpipe/{place.stage}/ingest/*",
        ("kms:Decrypt",): f"arn:aws:iam::{ACCOUNT}:role/ocrpipe/{place.stage}/notify/*",
    }


# --- consumers: rule -> queue (+DLQ) -> function -----------------------------------------


@pytest.mark.parametrize("consumer", sorted(TOPOLOGY.consumers))
def test_consumer_rule_matches_topology(consumer: str, place: topology.Place) -> None:
    c = TOPOLOGY.consumers[consumer]
    template = _template_for(c.service)
    rules = {
        r["Properties"]["Name"]: r["Properties"]
        for r in _resources(template, "AWS::Events::Rule").values()
    }
    rule = rules[place.name("rule", consumer=consumer)]
    expected_bus = "default" if c.bus == "default" else place.name("bus")
    assert rule["EventBusName"] == expected_bus
    assert _render(rule["EventPattern"]) == place.pattern(consumer, topology=TOPOLOGY)
    queue_id = _queue_ids(template)[place.name("queue", consumer=consumer)]
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [queue_id, "Arn"]}]

    # The queue policy lets exactly this rule send.
    policies = [
        p["Properties"]
        for p in _resources(template, "AWS::SQS::QueuePolicy").values()
        if {"Ref": queue_id} in p["Properties"]["Queues"]
    ]
    (policy,) = policies
    allows = [
        st
        for st in policy["PolicyDocument"]["Statement"]
        if st["Effect"] == "Allow" and st["Resource"] == {"Fn::GetAtt": [queue_id, "Arn"]}
    ]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "events.amazonaws.com"}
    rule_id = next(
        rid
        for rid, r in _resources(template, "AWS::Events::Rule").items()
        if r["Properties"]["Name"] == place.name("rule", consumer=consumer)
    )
    assert allow["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]}


@pytest.mark.parametrize("consumer", sorted(TOPOLOGY.consumers))
def test_consumer_queue_dlq_and_event_source_mapping(consumer: str, place: topology.Place) -> None:
    c = TOPOLOGY.consumers[consumer]
    template = _template_for(c.service)
    queues = _queue_ids(template)
    queue_id = queues[place.name("queue", consumer=consumer)]
    dlq_id = queues[place.name("dlq", consumer=consumer)]
    queue = template["Resources"][queue_id]["Properties"]
    assert queue["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": c.max_receive_count,
    }
    assert queue["VisibilityTimeout"] == c.visibility_timeout_s

    wired = _function_for_queue(template, queue_id)
    esm, fn = wired["esm"], wired["function"]
    assert esm["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert esm["BatchSize"] == c.batch_size
    assert esm["ScalingConfig"] == {"MaximumConcurrency": c.max_concurrency}
    assert fn["Timeout"] <= c.visibility_timeout_s
    module, _, func = c.handler.rpartition(".")
    assert fn["Handler"] == f"{module.replace('.', '/')}.{func}"

    alarms = [
        a["Properties"]
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["Dimensions"]
        == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}}]
    ]
    (alarm,) = alarms
    assert alarm["MetricName"] == "ApproximateNumberOfMessagesVisible"
    assert (alarm["ComparisonOperator"], alarm["Threshold"]) == ("GreaterThanThreshold", 0)
    assert _render(alarm["AlarmActions"]) == [
        f"arn:aws:sns:{REGION}:{ACCOUNT}:ocrpipe-{place.stage}-alarms"
    ]


def test_every_event_source_mapping_reports_batch_item_failures() -> None:
    _manifest()
    for stack in _packaged_services():
        for esm in _resources(_load(stack), "AWS::Lambda::EventSourceMapping").values():
            assert esm["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
            assert esm["Properties"]["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_http_api_handlers_and_routes() -> None:
    for api in TOPOLOGY.http.values():
        template = _template_for(api.service)
        routes = {
            r["Properties"]["RouteKey"]
            for r in _resources(template, "AWS::ApiGatewayV2::Route").values()
        }
        assert set(api.routes) <= routes
        if api.openapi is not None:  # each API describes itself (locally: merged)
            assert "GET /openapi.json" in routes
        module, _, func = api.handler.rpartition(".")
        handlers = {f["Properties"].get("Handler") for f in _functions(template).values()}
        assert f"{module.replace('.', '/')}.{func}" in handlers


# --- every service stack -------------------------------------------------------------------


def _packaged_services() -> list[str]:
    stacks: list[str] = _manifest()["stacks"]
    return [s for s in stacks if s in SERVICES or s == "ocr-tesseract"]


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return _resources(template, "AWS::Lambda::Function")


def _stacks() -> list[str]:
    if not MANIFEST.exists():
        return ["bus", *SERVICES[:4], "ocr-tesseract"]  # the skip happens inside the test
    stacks: list[str] = json.loads(MANIFEST.read_text())["stacks"]
    return stacks


@pytest.mark.parametrize("stack", _stacks())
def test_one_role_per_function(stack: str) -> None:
    _manifest()
    template = _load(stack)
    functions = _functions(template)
    roles = [f["Properties"]["Role"]["Fn::GetAtt"][0] for f in functions.values()]
    assert len(roles) == len(set(roles)), f"functions share a role: {roles}"
    for role in roles:
        assert template["Resources"][role]["Type"] == "AWS::IAM::Role"
    lambda_roles = {
        rid
        for rid, r in _resources(template, "AWS::IAM::Role").items()
        if "lambda.amazonaws.com" in json.dumps(r["Properties"]["AssumeRolePolicyDocument"])
    }
    assert lambda_roles == set(roles), "no unused (e.g. framework default) Lambda role"


@pytest.mark.parametrize("stack", _stacks())
def test_no_wildcard_resource_on_data_plane_actions(stack: str) -> None:
    _manifest()
    for role, st in _statements(_load(stack)):
        if st["Effect"] != "Allow":
            continue
        actions = _as_list(st["Action"])
        assert "*" not in actions, f"{role}: Action '*'"
        data_plane = [a for a in actions if a.startswith(DATA_PLANE_PREFIXES)]
        assert not [a for a in data_plane if a.endswith(":*")], f"{role}: service wildcard"
        if data_plane:
            resources = [r for r in _as_list(st["Resource"]) if isinstance(r, str)]
            assert "*" not in resources, f"{role}: {data_plane} on Resource '*'"
            rendered = [_render(r) for r in _as_list(st["Resource"])]
            assert not [r for r in rendered if isinstance(r, str) and r.endswith(":*:*")]


@pytest.mark.parametrize("stack", _stacks())
def test_buckets_block_public_access_and_deny_plain_http(stack: str) -> None:
    _manifest()
    template = _load(stack)
    policies = {
        p["Properties"]["Bucket"]["Ref"]: p["Properties"]["PolicyDocument"]["Statement"]
        for p in _resources(template, "AWS::S3::BucketPolicy").values()
    }
    for bid, bucket in _resources(template, "AWS::S3::Bucket").items():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }, bid
        assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"], bid
        denies = [
            st
            for st in policies[bid]
            if st["Effect"] == "Deny"
            and st["Condition"].get("Bool", {}).get("aws:SecureTransport") in ("false", False)
        ]
        assert denies, f"{bid} does not deny plain HTTP"


def _assert_only_framework_exports(template: dict[str, Any]) -> None:
    """Serverless v3 gives every output an export named sls-<service>-<stage>-<key> (it has no
    switch to turn that off). Nothing imports them; we add no exports of our own."""
    for key, output in template.get("Outputs", {}).items():
        if "Export" in output:
            name = output["Export"]["Name"]
            assert re.fullmatch(rf"sls-ocrpipe-[a-z]+-[a-z0-9]+-{key}", name), name


@pytest.mark.parametrize("stack", _stacks())
def test_stack_stands_alone(stack: str) -> None:
    _manifest()
    template = _load(stack)
    assert "Fn::ImportValue" not in json.dumps(template), "services find each other by name"
    _assert_only_framework_exports(template)
    # Every Ref/GetAtt names a resource or parameter of this very template.
    known = set(template["Resources"]) | set(template.get("Parameters", {}))

    def walk(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if "Ref" in node and not str(node["Ref"]).startswith("AWS::"):
                yield node["Ref"]
            if "Fn::GetAtt" in node:
                target = node["Fn::GetAtt"]
                yield target[0] if isinstance(target, list) else target.split(".")[0]
            for value in node.values():
                yield from walk(value)
        elif isinstance(node, list):
            for value in node:
                yield from walk(value)

    assert set(walk(template)) <= known


@pytest.mark.parametrize("service", SERVICES)
def test_environment_follows_configuration_contract(service: str, place: topology.Place) -> None:
    template = _template_for(service)
    required = _documented_required_vars(service)
    for fid, fn in _functions(template).items():
        env = fn["Properties"]["Environment"]["Variables"]
        missing = required - set(env)
        assert not missing, f"{fid} lacks {sorted(missing)} (docs/configuration.md)"
        assert env["OCRPIPE_STAGE"] == place.stage
        assert env["OCRPIPE_BUS_NAME"] == place.name("bus")
        assert env["POWERTOOLS_SERVICE_NAME"] == service
        assert env["POWERTOOLS_METRICS_NAMESPACE"] == "ocrpipe"
        assert fn["Properties"]["Architectures"] == ["x86_64"]
        if fn["Properties"].get("PackageType") != "Image":
            assert fn["Properties"]["Runtime"] == "python3.11"
    storage = TOPOLOGY.owned_storage().get(service)
    if storage is not None:
        tables = {
            t["Properties"]["TableName"]: t["Properties"]
            for t in _resources(template, "AWS::DynamoDB::Table").values()
        }
        if storage.table:
            t = tables[place.name("table", service=service)]
            assert t["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"}]
            assert t["TimeToLiveSpecification"]["AttributeName"] == "expires_at"
        if storage.idempotency_table:
            t = tables[place.name("idempotency_table", service=service)]
            assert t["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
            assert t["TimeToLiveSpecification"]["AttributeName"] == "expiration"
        buckets = [
            _render(b["Properties"]["BucketName"])
            for b in _resources(template, "AWS::S3::Bucket").values()
            if b["Properties"].get("BucketName")
        ]
        assert (place.name("bucket", service=service) in buckets) == storage.bucket


@pytest.mark.parametrize("service", SERVICES)
def test_every_function_has_an_errors_alarm(service: str) -> None:
    template = _template_for(service)
    alarmed = {
        a["Properties"]["Dimensions"][0]["Value"]["Ref"]
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "Errors"
    }
    assert alarmed == set(_functions(template))


def test_only_ingest_encrypts_and_only_notify_decrypts() -> None:
    _manifest()
    for stack in _packaged_services():
        kms = {
            a
            for _, st in _statements(_load(stack))
            for a in _as_list(st["Action"])
            if a.startswith("kms:")
        }
        expected = {"ingest": {"kms:Encrypt"}, "notify": {"kms:Decrypt"}}.get(stack, set())
        assert kms == expected, stack


def test_ingest_uploads_bucket() -> None:
    template = _template_for("ingest")
    buckets = _resources(template, "AWS::S3::Bucket")
    buckets.pop("ServerlessDeploymentBucket")
    (bucket,) = buckets.values()
    props = bucket["Properties"]
    assert props["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    (rule,) = props["LifecycleConfiguration"]["Rules"]
    assert rule["ExpirationInDays"] == 1
    assert props["CorsConfiguration"]["CorsRules"][0]["AllowedMethods"] == ["POST"]


def test_ocr_reads_only_ingest_uploads_and_writes_only_its_text() -> None:
    template = _template_for("ocr")
    s3 = {
        (a, _render(r) if isinstance(_render(r), str) else json.dumps(r))
        for _, st in _statements(template)
        for a in _as_list(st["Action"])
        if a.startswith("s3:")
        for r in _as_list(st["Resource"])
    }
    uploads = f"arn:aws:s3:::ocrpipe-{_manifest()['stage']}-ingest-{ACCOUNT}-{REGION}/uploads/*"
    assert ("s3:GetObject", uploads) in s3
    assert ("s3:DeleteObject", uploads) in s3
    assert {a for a, r in s3 if "-ingest-" in r} == {"s3:GetObject", "s3:DeleteObject"}
    assert {a for a, r in s3 if "TextBucket" in r} == {"s3:GetObject", "s3:PutObject"}


def test_tesseract_variant_runs_the_container_image() -> None:
    _manifest()
    template = _load("ocr-tesseract")
    consumer = TOPOLOGY.consumers["ocr"]
    images = [
        f["Properties"]
        for f in _functions(template).values()
        if f["Properties"].get("PackageType") == "Image"
    ]
    (image,) = images
    assert image["ImageConfig"]["Command"] == [consumer.handler]
    assert image["MemorySize"] >= 2048
    assert image["Environment"]["Variables"]["OCRPIPE_OCR_ENGINE"] == "tesseract"
    actions = {a for _, st in _statements(template) for a in _as_list(st["Action"])}
    assert "textract:DetectDocumentText" not in actions


def test_textract_variant_grants_textract_with_justified_wildcard() -> None:
    template = _template_for("ocr")
    textract = [
        st
        for _, st in _statements(template)
        if any(a.startswith("textract:") for a in _as_list(st["Action"]))
    ]
    assert {a for st in textract for a in _as_list(st["Action"])} == {
        "textract:DetectDocumentText",
        "textract:StartDocumentTextDetection",
        "textract:GetDocumentTextDetection",
    }
    fns = {f["Properties"]["Handler"] for f in _functions(template).values()}
    assert "ocr/handlers.on_textract_completed" in fns
