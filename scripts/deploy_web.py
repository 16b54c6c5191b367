"""Deploy the web stack on its own and upload the page.

    .venv/bin/python scripts/deploy_web.py --stage prod [--region eu-west-1]

1. reads the ``HttpApiUrl`` outputs of the deployed ``ocrpipe-<stage>-ingest`` and
   ``ocrpipe-<stage>-status`` stacks (``serverless-compose.yml`` passes the same outputs);
2. ``serverless deploy`` in ``web/`` with them as ``ingestApiUrl`` / ``statusApiUrl``;
3. uploads ``web/public`` to the stack's bucket (each file with its content type, stale
   files removed) and invalidates the distribution, then prints the page's address.

``--sync-only`` skips step 2 (the page changed, the stack did not).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import boto3

from ocrpipe_local.http_api import static_content_type

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

ROOT = Path(__file__).resolve().parents[1]
SITE = ROOT / "web" / "public"
SERVERLESS = ROOT / "node_modules" / ".bin" / "serverless"
#: The page is small and changes with each release: browsers revalidate every file.
CACHE_CONTROL = "no-cache"


def stack_outputs(cloudformation: Any, stack: str) -> dict[str, str]:
    try:
        described = cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
    except cloudformation.exceptions.ClientError as exc:
        raise SystemExit(f"stack {stack} is not deployed ({exc}); deploy it first") from None
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def sync_site(s3: S3Client, bucket: str, site: Path = SITE) -> tuple[list[str], list[str]]:
    """Upload every file of ``site`` (key = its path under it); delete keys no file has.
    Returns (uploaded, deleted) keys."""
    files = {p.relative_to(site).as_posix(): p for p in sorted(site.rglob("*")) if p.is_file()}
    if "index.html" not in files:
        raise SystemExit(f"{site} has no index.html")
    for key, path in files.items():
        s3.put_object(
            Bucket=bucket,
            Key=key,
            Body=path.read_bytes(),
            ContentType=static_content_type(path),
            CacheControl=CACHE_CONTROL,
        )
    stale: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        stale += [o["Key"] for o in page.get("Contents", []) if o["Key"] not in files]
    for start in range(0, len(stale), 1000):
        s3.delete_objects(
            Bucket=bucket,
            Delete={"Objects": [{"Key": k} for k in stale[start : start + 1000]], "Quiet": True},
        )
    return list(files), stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stage", required=True)
    parser.add_argument("--region", default=None)
    parser.add_argument("--sync-only", action="store_true", help="only upload the page")
    args = parser.parse_args(argv)
    session = boto3.Session(region_name=args.region)
    region = session.region_name or "us-east-1"
    cloudformation = session.client("cloudformation")
    if not args.sync_only:
        apis = {
            name: stack_outputs(cloudformation, f"ocrpipe-{args.stage}-{name}")["HttpApiUrl"]
            for name in ("ingest", "status")
        }
        subprocess.run(
            [
                str(SERVERLESS),
                "deploy",
                "--stage",
                args.stage,
                "--region",
                region,
                f"--param=ingestApiUrl={apis['ingest']}",
                f"--param=statusApiUrl={apis['status']}",
            ],
            cwd=ROOT / "web",
            check=True,
        )
    web = stack_outputs(cloudformation, f"ocrpipe-{args.stage}-web")
    uploaded, deleted = sync_site(session.client("s3"), web["SiteBucketName"])
    session.client("cloudfront").create_invalidation(
        DistributionId=web["DistributionId"],
        InvalidationBatch={
            "Paths": {"Quantity": 1, "Items": ["/*"]},
            "CallerReference": f"ocrpipe-{time.time_ns()}",
        },
    )
    print(f"uploaded {len(uploaded)} file(s), removed {len(deleted)}; page: {web['WebUrl']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
