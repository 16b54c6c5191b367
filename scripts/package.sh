#!/usr/bin/env bash
# Packages every ocrpipe stack offline and checks the CloudFormation it produces.
#
#   scripts/package.sh                 # stage "ci", region us-east-1
#   OCRPIPE_PACKAGE_STAGE=prod scripts/package.sh
#
# Steps: npm ci (pinned Serverless v3 + plugins) -> wheel of the shared package ->
# `serverless package` for the bus and every service (dummy credentials: nothing talks to AWS)
# -> the ocr stack once more with the Tesseract container-image variant -> templates copied to
# build/cfn/<stack>.json (+ manifest.json) -> cfn-lint -> checkov -> zip contents checked.
# Needs node >= 18, npm, and the project venv (.venv; scripts/bootstrap.sh makes it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
START=$(date +%s)

STAGE="${OCRPIPE_PACKAGE_STAGE:-ci}"
REGION="${OCRPIPE_PACKAGE_REGION:-us-east-1}"
PY="$ROOT/.venv/bin/python"
OUT="$ROOT/build/cfn"
LOGS="$ROOT/build/package-logs"
CHECKOV_VENV="$ROOT/build/tools/checkov-venv"
# Stacks in deploy order; path relative to the repo root. Service folders without a
# serverless.yml are skipped (and reported).
STACKS=(bus:shared/bus ingest:services/ingest ocr:services/ocr wordcount:services/wordcount notify:services/notify status:services/status)
# The Tesseract variant needs an image URI only to be packaged; nothing is pulled.
DUMMY_IMAGE="123456789012.dkr.ecr.${REGION}.amazonaws.com/ocrpipe-ocr@sha256:$(printf '0%.0s' $(seq 64))"

log() { printf '\033[1m[package]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[package] %s\033[0m\n' "$*" >&2; exit 1; }

[ -x "$PY" ] || die ".venv is missing: run scripts/bootstrap.sh first"
command -v npm >/dev/null || die "npm is missing (node >= 18 and npm are needed to package)"

# Dummy credentials: `serverless package` never calls AWS, but the SDK wants credentials.
export AWS_ACCESS_KEY_ID=packaging-only AWS_SECRET_ACCESS_KEY=packaging-only AWS_SESSION_TOKEN=packaging-only
export AWS_REGION="$REGION" AWS_DEFAULT_REGION="$REGION"
export SLS_TELEMETRY_DISABLED=1 SLS_NOTIFICATIONS_MODE=off
# serverless-python-requirements: run pip from the project venv (shared/python-requirements.yml).
export OCRPIPE_PACKAGING_PYTHON="$PY"

mkdir -p "$OUT" "$LOGS"
rm -f "$OUT"/*.json

# 1. Tools: the npm tools (package-lock.json), cfn-lint (.venv) and checkov (its own venv) are
#    installed by `scripts/bootstrap.sh test`, from the project's locks; nothing is installed here.
SLS="$ROOT/node_modules/.bin/serverless"
CFN_LINT="$ROOT/.venv/bin/cfn-lint"
[ -x "$SLS" ] || die "node_modules is missing: run scripts/bootstrap.sh test first"
[ -x "$CFN_LINT" ] || die "cfn-lint is missing from .venv: run scripts/bootstrap.sh test first"
[ -x "$CHECKOV_VENV/bin/checkov" ] || die "checkov is missing: run scripts/bootstrap.sh test first"

# 2. The pins: requirements.lock, without hashes, as pip constraints for every Lambda zip
#    (shared/python-requirements.yml), so a function runs the versions the tests ran.
mkdir -p build
grep -Ev '^\s*(#|--hash|-e |$)' requirements.lock | sed -E 's/[[:space:]]*\\$//' >build/constraints.txt

# 3. Wheels of the shared package and of each service, found through --find-links
#    build/wheels: each service's requirements.txt names only its own distribution, whose
#    dependencies are declared once, in its pyproject.toml. Built from copies so that the source
#    tree gets no build/ or egg-info litter.
log "building the ocrpipe wheels"
rm -rf build/wheels && mkdir -p build/wheels
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for src in shared services/*/; do
  src=${src%/}
  [ -f "$src/pyproject.toml" ] || continue
  pkg=$(basename "$src"); [ "$src" = shared ] && pkg=ocrpipe
  mkdir -p "$tmp/src/$src"
  cp -r "$src/pyproject.toml" "$src/$pkg" "$tmp/src/$src/"
  "$PY" -m pip wheel --no-deps --no-build-isolation -q -w build/wheels "$tmp/src/$src" >>"$LOGS/wheel.log" 2>&1 ||
    { cat "$LOGS/wheel.log"; die "wheel build failed ($src)"; }
done

# 4. serverless package, two stacks at a time (2 cores; pip downloads overlap with zipping).
package_one() { # name dir [extra args...]
  local name=$1 dir=$2; shift 2
  local t0=$(date +%s)
  if (cd "$dir" && "$SLS" package --stage "$STAGE" --region "$REGION" "$@") >"$LOGS/$name.log" 2>&1; then
    echo "$name ok $(( $(date +%s) - t0 ))s"
  else
    echo "$name FAILED $(( $(date +%s) - t0 ))s (log: build/package-logs/$name.log)"
    return 1
  fi
}
export -f package_one
export SLS STAGE REGION LOGS

jobs_file="$tmp/jobs"
: >"$jobs_file"
SKIPPED=()
for entry in "${STACKS[@]}"; do
  name=${entry%%:*}; dir=${entry#*:}
  if [ -f "$dir/serverless.yml" ]; then
    echo "$name $dir" >>"$jobs_file"
  else
    SKIPPED+=("$name")
  fi
done
log "serverless package --stage $STAGE (${REGION}): $(cut -d' ' -f1 "$jobs_file" | tr '\n' ' ')"
set +e
xargs -P 2 -L 1 bash -c 'package_one "$0" "$1"' <"$jobs_file" | tee "$tmp/results"
set -e
if grep -q FAILED "$tmp/results"; then
  for f in $(grep FAILED "$tmp/results" | cut -d' ' -f1); do tail -30 "$LOGS/$f.log"; done
  die "packaging failed"
fi
while read -r name dir; do
  cp "$dir/.serverless/cloudformation-template-update-stack.json" "$OUT/$name.json"
done <"$jobs_file"

# The zips hold the service package and the shared package (checked before the ocr
# variant below repackages services/ocr/.serverless).
zip_status=ok
while read -r name dir; do
  [ "$name" = bus ] && continue
  zip="$dir/.serverless/ocrpipe-$name.zip"
  listing=$(unzip -Z1 "$zip")
  grep -q "^$name/handlers.py" <<<"$listing" || echo "  WARNING: $name zip has no $name/handlers.py yet (the handler module is not written)"
  for pkg in "$name/__init__.py" "ocrpipe-service.json" "ocrpipe/events.py" "ocrpipe/names.json" "pydantic/" "aws_lambda_powertools/"; do
    grep -q "^$pkg" <<<"$listing" || { echo "  $zip lacks $pkg"; zip_status=FAILED; }
  done
  echo "  $name zip: $(du -h "$zip" | cut -f1) ($(wc -l <<<"$listing") files)"
done <"$jobs_file"
[ "$zip_status" = ok ] || die "a Lambda zip is missing code"

# The Tesseract (container image) variant of ocr, packaged into its own directory.
if [ -f services/ocr/serverless.yml ]; then
  package_one ocr-tesseract services/ocr --package "$ROOT/build/ocr-tesseract" \
    --param="ocrEngine=tesseract" --param="ocrImageUri=$DUMMY_IMAGE" | tee -a "$tmp/results"
  grep -q "ocr-tesseract ok" "$tmp/results" || { tail -30 "$LOGS/ocr-tesseract.log"; die "packaging failed"; }
  cp build/ocr-tesseract/cloudformation-template-update-stack.json "$OUT/ocr-tesseract.json"
fi

# The web stack (no code: a bucket, CloudFront, the page's routes to the two APIs), with
# placeholder API URLs; serverless-compose.yml or scripts/deploy-web.py give the real ones.
if [ -f web/serverless.yml ]; then
  package_one web web --param="ingestApiUrl=https://ingest0000.execute-api.${REGION}.amazonaws.com" \
    --param="statusApiUrl=https://status0000.execute-api.${REGION}.amazonaws.com" | tee -a "$tmp/results"
  grep -q "web ok" "$tmp/results" || { tail -30 "$LOGS/web.log"; die "packaging failed"; }
  cp web/.serverless/cloudformation-template-update-stack.json "$OUT/web.json"
fi

"$PY" - "$OUT" "$STAGE" "$REGION" <<'EOF'
import json, pathlib, sys
out, stage, region = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3]
stacks = sorted(p.stem for p in out.glob("*.json") if p.stem != "manifest")
(out / "manifest.json").write_text(json.dumps({"stage": stage, "region": region, "stacks": stacks}, indent=2) + "\n")
EOF

# 5. cfn-lint. W3005 (DependsOn already implied by a Ref/GetAtt) is emitted for resources
#    Serverless Framework generates itself; nothing in our YAML can change it.
log "cfn-lint"
set +e
templates=()
for f in "$OUT"/*.json; do [ "$(basename "$f")" = manifest.json ] || templates+=("$f"); done
"$CFN_LINT" --ignore-checks W3005 -- "${templates[@]}" 2>&1 | tee "$LOGS/cfn-lint.log"
lint_rc=${PIPESTATUS[0]}
set -e
[ "$lint_rc" -eq 0 ] && lint_status=ok || lint_status="FAILED (rc $lint_rc)"

# 6. checkov. Suppressions are in the templates themselves (Metadata.checkov.skip, each with
#    a comment saying why): see shared/checkov.js, shared/topology.js and the serverless.yml files.
log "checkov"
set +e
"$CHECKOV_VENV/bin/checkov" -d "$OUT" --framework cloudformation --skip-download --compact \
  >"$LOGS/checkov.log" 2>&1
checkov_rc=$?
set -e
checkov_counts=$(grep -E "^Passed checks" "$LOGS/checkov.log" | head -1)
if [ "$checkov_rc" -eq 0 ]; then
  checkov_status="ok ($checkov_counts)"
else
  grep -E -A3 "^Check: " "$LOGS/checkov.log" | grep -E "^Check:|FAILED|File:" || tail -30 "$LOGS/checkov.log"
  checkov_status="FAILED (rc $checkov_rc; $checkov_counts)"
fi

END=$(date +%s)
echo
log "summary (stage $STAGE, region $REGION, $(( END - START ))s)"
sed 's/^/  package  /' "$tmp/results"
[ ${#SKIPPED[@]} -eq 0 ] || echo "  skipped  ${SKIPPED[*]} (no serverless.yml)"
echo "  zips     $zip_status"
echo "  cfn-lint $lint_status"
echo "  checkov  $checkov_status"
echo "  templates build/cfn/*.json (manifest.json); logs build/package-logs/"
[ "$lint_status" = ok ] && [ "$checkov_rc" -eq 0 ]
