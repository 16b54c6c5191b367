#!/usr/bin/env bash
# Re-resolves the Python locks from their declarations (`make lock`):
#   requirements.in (+ every pyproject.toml it names, + requirements-dev.txt) -> requirements.lock
#   scripts/requirements-checkov.txt                                          -> scripts/requirements-checkov.lock
# Resolved for the Lambda target -- CPython 3.11, x86_64 Linux with glibc 2.17 (manylinux2014;
# the python3.11 runtime is Amazon Linux 2, glibc 2.26), binary wheels only -- so the versions
# the tests run are versions the Lambda zips can hold: a release that dropped those wheels
# (pillow 13, numpy 2.3) is not taken. Every file's hash of each pinned release is recorded, so
# the same pins install on other Linux machines too. Run it when a declaration changes, or with
# UPGRADE=1 to take newer releases; commit the locks with the change.
set -euo pipefail
cd "$(dirname "$0")/.."
UV=.venv/bin/uv
[ -x "$UV" ] || { echo "no .venv/bin/uv: run scripts/bootstrap.sh first" >&2; exit 1; }
args=(--python-platform x86_64-manylinux2014 --python-version 3.11 --only-binary :all: --generate-hashes --quiet)
[ "${UPGRADE:-0}" = 1 ] && args+=(--upgrade)
export UV_CUSTOM_COMPILE_COMMAND="make lock"
"$UV" pip compile "${args[@]}" requirements.in -o requirements.lock
"$UV" pip compile "${args[@]}" scripts/requirements-checkov.txt -o scripts/requirements-checkov.lock
echo "locked: requirements.lock ($(grep -c '==' requirements.lock) pins), scripts/requirements-checkov.lock ($(grep -c '==' scripts/requirements-checkov.lock) pins)"
