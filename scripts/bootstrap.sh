#!/usr/bin/env bash
# Installs everything ocrpipe needs on a fresh Debian/Ubuntu machine, idempotently:
#   - Tesseract OCR 5 with English data (apt)
#   - a Python virtual environment in .venv with every service, the local runtime and dev tools
# Re-running is cheap: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_packages=()
command -v tesseract >/dev/null 2>&1 || apt_packages+=(tesseract-ocr)
if ! tesseract --list-langs 2>/dev/null | grep -qx eng; then apt_packages+=(tesseract-ocr-eng); fi
if [ "${OCRPIPE_WITH_NODE:-0}" = "1" ] && ! command -v npm >/dev/null 2>&1; then
  apt_packages+=(nodejs npm)
fi
if [ ${#apt_packages[@]} -gt 0 ]; then
  log "installing apt packages: ${apt_packages[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    "${apt_packages[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "ocrpipe needs Python >= 3.11 (found $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi

stamp=.venv/.ocrpipe-installed
inputs=$(cat requirements-dev.txt shared/pyproject.toml services/*/pyproject.toml local/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  log "installing Python packages into .venv"
  pip_log=.venv/pip-install.log
  if ! { .venv/bin/python -m pip install -q --upgrade pip &&
    .venv/bin/python -m pip install -q \
      -e ./shared -e ./services/ingest -e ./services/ocr -e ./services/wordcount \
      -e ./services/notify -e ./services/status -e ./local -r requirements-dev.txt; } \
    >"$pip_log" 2>&1; then
    cat "$pip_log" >&2
    echo "pip install failed (log above, also in $pip_log)" >&2
    exit 1
  fi
  echo "$inputs" > "$stamp"
fi
log "ready: $(tesseract --version 2>&1 | head -1), $(.venv/bin/python --version)"
