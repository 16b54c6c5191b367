"""scripts/deploy_web.py's upload of the page, against moto's S3."""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from moto import mock_aws

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("deploy_web", ROOT / "scripts" / "deploy_web.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


deploy_web = _script()


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="site")
        yield client


def test_the_repository_page_is_uploaded_with_its_content_types(s3: Any) -> None:
    s3.put_object(Bucket="site", Key="old-bundle.js", Body=b"stale")
    uploaded, deleted = deploy_web.sync_site(s3, "site")
    assert {"index.html", "app.js", "app.css"} <= set(uploaded)
    assert deleted == ["old-bundle.js"]
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="site")["Contents"]}
    assert keys == set(uploaded)
    page = s3.get_object(Bucket="site", Key="index.html")
    assert page["ContentType"] == "text/html; charset=utf-8"
    assert page["CacheControl"] == "no-cache"
    assert page["Body"].read() == (ROOT / "web" / "public" / "index.html").read_bytes()
    assert s3.head_object(Bucket="site", Key="app.js")["ContentType"].endswith(
        "javascript; charset=utf-8"
    )


def test_a_folder_without_a_page_is_refused_and_nothing_is_deleted(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket="site", Key="index.html", Body=b"live page")
    (tmp_path / "notes.txt").write_text("not a site")
    with pytest.raises(SystemExit, match=r"no index\.html"):
        deploy_web.sync_site(s3, "site", tmp_path)
    assert s3.get_object(Bucket="site", Key="index.html")["Body"].read() == b"live page"
