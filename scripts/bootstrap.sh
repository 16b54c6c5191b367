#!/usr/bin/env bash
# Installs what ocrpipe needs on a Debian/Ubuntu machine, idempotently, from the project's own
# declared lists only:
#   scripts/bootstrap.sh run    system packages for `make run` (system-packages.txt), then .venv
#                               exactly as requirements.lock says (hashes checked)
#   scripts/bootstrap.sh test   also what tests and packaging use: fonts, Node.js/npm, the npm
#                               tools from package-lock.json, checkov's own locked venv
#   scripts/bootstrap.sh fresh-check   what scripts/fresh-machine-check.sh needs on the host
# Re-running is cheap: each step is skipped when already satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

TARGET="${1:-run}"
case "$TARGET" in run | test | fresh-check) ;; *)
  echo "usage: scripts/bootstrap.sh run|test|fresh-check" >&2
  exit 2
  ;;
esac

log() { printf '\033[1m[bootstrap]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[bootstrap] %s\033[0m\n' "$*" >&2; exit 1; }
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# 1. System packages: the lines of system-packages.txt for this target that are not present.
missing=()
while read -r pkg cmd targets; do
  case " $targets " in *" $TARGET "*) ;; *) continue ;; esac
  if [ "$cmd" != "-" ] && command -v "$cmd" >/dev/null 2>&1; then continue; fi
  if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then continue; fi
  missing+=("$pkg")
done < <(grep -Ev '^\s*(#|$)' system-packages.txt)
if [ ${#missing[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "needs apt-get (Debian/Ubuntu) to install: ${missing[*]}"
  log "installing system packages (system-packages.txt, $TARGET): ${missing[*]}"
  apt_log=$(mktemp)
  if ! { $SUDO apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
    >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    die "apt-get install failed (log above)"
  fi
  rm -f "$apt_log"
fi
[ "$TARGET" = fresh-check ] && { log "ready for scripts/fresh-machine-check.sh"; exit 0; }

# 2. The Python environment: .venv holds exactly requirements.lock (the workspace's own
#    distributions editable). uv itself comes from the lock too, hash-checked, through pip.
#    Bytecode is compiled at install: machines here set PYTHONDONTWRITEBYTECODE, so without
#    it every process compiles moto, botocore & co. from source again (measured: ~5 s of CPU
#    per `ocrpipe process`, 14% of its wall time on 12 pages).
PYTHON="${PYTHON:-python3}"
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' ||
  die "ocrpipe needs Python >= 3.11 (found $("$PYTHON" --version 2>&1))"
stamp=.venv/.ocrpipe-installed
# What the venv is made from, this script's own way of making it included.
inputs=$(cat scripts/bootstrap.sh requirements.lock shared/pyproject.toml services/*/pyproject.toml local/pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -x .venv/bin/python ]; then
  log "creating .venv"
  "$PYTHON" -m venv .venv
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$inputs" ]; then
  log "installing requirements.lock into .venv"
  pip_log=.venv/install.log
  # One package's pin with its hashes, cut out of the lock.
  lock_entry() { awk -v name="$1==" 'index($0, name) == 1 {p = 1; print; next} p && /^ +--hash/ {print; next} p {exit}' requirements.lock; }
  uv_req=$(mktemp) build_pins=$(mktemp)
  lock_entry uv >"$uv_req"
  lock_entry setuptools >"$build_pins" # the build backend of the editable installs
  if ! { .venv/bin/python -m pip install -q --no-deps --require-hashes -r "$uv_req" &&
    .venv/bin/uv pip sync -q --compile-bytecode --python .venv/bin/python --build-constraints "$build_pins" requirements.lock; } \
    >"$pip_log" 2>&1; then
    cat "$pip_log" >&2
    die "installing the Python packages failed (log above, also in $pip_log)"
  fi
  rm -f "$uv_req" "$build_pins"
  echo "$inputs" >"$stamp"
fi

if [ "$TARGET" = test ]; then
  # 3. Node tooling for packaging, exactly as package-lock.json says.
  if [ ! -x node_modules/.bin/serverless ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    log "npm ci (package-lock.json)"
    npm_log=$(mktemp)
    npm ci --no-audit --no-fund --loglevel=error >"$npm_log" 2>&1 || { cat "$npm_log" >&2; die "npm ci failed"; }
    rm -f "$npm_log"
  fi
  # 4. checkov (IaC scan) in its own venv: it pins boto3/botocore far below what .venv needs.
  CHECKOV_VENV=build/tools/checkov-venv
  cstamp="$CHECKOV_VENV/.ocrpipe-installed"
  chash=$(sha256sum scripts/requirements-checkov.lock | cut -d' ' -f1)
  if [ ! -f "$cstamp" ] || [ "$(cat "$cstamp")" != "$chash" ]; then
    log "installing scripts/requirements-checkov.lock into $CHECKOV_VENV"
    rm -rf "$CHECKOV_VENV"
    mkdir -p build/tools
    .venv/bin/uv venv -q --python "$PYTHON" "$CHECKOV_VENV"
    .venv/bin/uv pip sync -q --compile-bytecode --python "$CHECKOV_VENV/bin/python" scripts/requirements-checkov.lock
    echo "$chash" >"$cstamp"
  fi
fi
log "ready ($TARGET): $(tesseract --version 2>&1 | head -1), $(.venv/bin/python --version)"
