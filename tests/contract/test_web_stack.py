"""The packaged web stack (build/cfn/web.json): a private bucket only its distribution reads,
and a distribution that serves the page and routes the API paths to the two APIs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.contract.test_templates import CFN_DIR, _manifest

pytestmark = pytest.mark.packaging

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def web() -> dict[str, Any]:
    _manifest()  # skips (or fails in CI) without packaged templates
    template: dict[str, Any] = json.loads((CFN_DIR / "web.json").read_text())
    return template["Resources"]


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {k: v for k, v in resources.items() if v["Type"] == kind}


def test_the_page_bucket_is_private_and_read_only_by_the_distribution(web) -> None:
    (bucket,) = of_type(web, "AWS::S3::Bucket").keys() - {"ServerlessDeploymentBucket"}
    props = web[bucket]["Properties"]
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["OwnershipControls"]["Rules"] == [{"ObjectOwnership": "BucketOwnerEnforced"}]
    (policy,) = (
        p
        for p in of_type(web, "AWS::S3::BucketPolicy").values()
        if p["Properties"]["Bucket"] == {"Ref": bucket}
    )
    allows = [
        s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"
    ]
    (allow,) = allows
    assert allow["Principal"] == {"Service": "cloudfront.amazonaws.com"}
    assert allow["Action"] == "s3:GetObject"
    assert "AWS:SourceArn" in allow["Condition"]["StringEquals"]
    (oac,) = of_type(web, "AWS::CloudFront::OriginAccessControl").values()
    config = oac["Properties"]["OriginAccessControlConfig"]
    assert (config["SigningBehavior"], config["SigningProtocol"]) == ("always", "sigv4")


def test_the_distribution_serves_the_page_and_routes_the_apis(web) -> None:
    (distribution,) = of_type(web, "AWS::CloudFront::Distribution").values()
    config = distribution["Properties"]["DistributionConfig"]
    origins = {o["Id"]: o for o in config["Origins"]}
    assert "OriginAccessControlId" in origins["page"]
    assert origins["page"]["S3OriginConfig"] == {"OriginAccessIdentity": ""}
    assert config["DefaultRootObject"] == "index.html"
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == "page"
    assert config["DefaultCacheBehavior"]["ViewerProtocolPolicy"] == "redirect-to-https"
    routes = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert routes["/uploads"]["TargetOriginId"] == "ingest-api"
    assert "POST" in routes["/uploads"]["AllowedMethods"]
    assert routes["/documents*"]["TargetOriginId"] == "status-api"
    for origin in ("ingest-api", "status-api"):
        assert origins[origin]["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    # The tokens reach the status API: Authorization is in the (no-TTL) cache policy.
    (policy,) = of_type(web, "AWS::CloudFront::CachePolicy").values()
    key = policy["Properties"]["CachePolicyConfig"]
    assert key["DefaultTTL"] == 0
    assert key["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]["Headers"] == [
        "Authorization"
    ]
    (headers,) = of_type(web, "AWS::CloudFront::ResponseHeadersPolicy").values()
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert "default-src 'self'" in security["ContentSecurityPolicy"]["ContentSecurityPolicy"]


def test_the_stack_grants_nothing_and_runs_no_code(web) -> None:
    kinds = {r["Type"] for r in web.values()}
    assert not {k for k in kinds if k.startswith(("AWS::IAM::", "AWS::Lambda::"))}


def test_compose_injects_the_api_urls_the_services_output() -> None:
    compose = yaml.safe_load((ROOT / "serverless-compose.yml").read_text())
    params = compose["services"]["web"]["params"]
    assert params == {
        "ingestApiUrl": "${ingest.HttpApiUrl}",
        "statusApiUrl": "${status.HttpApiUrl}",
    }
    _manifest()
    for service in ("ingest", "status"):
        outputs = json.loads((CFN_DIR / f"{service}.json").read_text())["Outputs"]
        assert "HttpApiUrl" in outputs


def test_the_results_bucket_lets_the_page_fetch_counts() -> None:
    _manifest()
    resources = json.loads((CFN_DIR / "wordcount.json").read_text())["Resources"]
    (rule,) = resources["ResultsBucket"]["Properties"]["CorsConfiguration"]["CorsRules"]
    assert set(rule["AllowedMethods"]) == {"GET", "HEAD"}
