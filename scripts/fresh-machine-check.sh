#!/usr/bin/env bash
# Rehearses the README on a fresh machine: builds a minimal Debian root filesystem of the
# release this machine runs (mmdebstrap, from the Debian archive), puts a clean clone of the
# current commit in it, and runs the README's two commands there as a new user would -- only
# the README's prerequisites (make, git) installed first. Prints how long each took; exits
# non-zero if either fails.
#
#   scripts/fresh-machine-check.sh            # `make run`, then `make test`
#   scripts/fresh-machine-check.sh --keep     # keep the root afterwards (path printed)
#   FRESH_ONLY=run scripts/fresh-machine-check.sh   # only `make run`
#
# Needs root (chroot, mounts) and mmdebstrap (`scripts/bootstrap.sh fresh-check`). The chroot
# shares this machine's network (apt, PyPI and npm are reached from inside, loopback ports too)
# and its network trust -- the local CA certificates and the variables that point TLS clients
# at them (a machine here gets those from the workplace, not from the project) -- but nothing
# else: no packages, no caches, no venv. Mounts live in a private namespace and vanish with it.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)

KEEP=0
[ "${1:-}" = "--keep" ] && KEEP=1
ONLY="${FRESH_ONLY:-all}"

log() { printf '\033[1m[fresh]\033[0m %s\n' "$*"; }
die() { printf '\033[31m[fresh] %s\033[0m\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (chroot and mounts): run it with sudo"
command -v mmdebstrap >/dev/null || die "needs mmdebstrap: scripts/bootstrap.sh fresh-check"
. /etc/os-release
SUITE="${FRESH_SUITE:-${VERSION_CODENAME:?cannot tell the Debian release from /etc/os-release}}"
COMMIT=$(git rev-parse HEAD)
[ -z "$(git status --porcelain --untracked-files=no)" ] ||
  log "note: the work tree has uncommitted changes; the rehearsal uses commit ${COMMIT:0:10} only"

WORK=$(mktemp -d "${TMPDIR:-/var/tmp}/ocrpipe-fresh.XXXXXX")
ROOT="$WORK/root"
LOGS="$WORK/logs"
mkdir -p "$LOGS"
cleanup() {
  if [ "$KEEP" = 1 ]; then
    log "kept: root $ROOT, logs $LOGS"
    return
  fi
  # The mounts were made in a private namespace that is gone; refuse to delete through one.
  if findmnt -rn -o TARGET | grep -q "^$ROOT"; then
    log "something is still mounted under $ROOT; not deleting it"
    return
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

t0=$(date +%s)
log "building a fresh Debian $SUITE root (mmdebstrap --variant=apt) with the README's prerequisites: make git"
mmdebstrap --quiet --variant=apt --include=make,git "$SUITE" "$ROOT" >"$LOGS/mmdebstrap.log" 2>&1 ||
  { cat "$LOGS/mmdebstrap.log"; die "mmdebstrap failed"; }
cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
# Every installed or container Debian has an /etc/hosts naming localhost (the installer writes
# it, container runtimes mount one); mmdebstrap leaves none, and without it "localhost" does
# not resolve (chromedriver's clients connect to localhost). Write the installer's.
[ -e "$ROOT/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\t\tlocalhost ip6-localhost ip6-loopback\n' >"$ROOT/etc/hosts"
# The machine's network trust: its own CA certificates (kept by update-ca-certificates when the
# bootstrap installs ca-certificates), the bundle the TLS variables name, and those variables.
if compgen -G "/usr/local/share/ca-certificates/*" >/dev/null; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp -L /usr/local/share/ca-certificates/* "$ROOT/usr/local/share/ca-certificates/"
fi
TRUST_ENV=()
for var in SSL_CERT_FILE SSL_CERT_DIR REQUESTS_CA_BUNDLE CURL_CA_BUNDLE PIP_CERT NODE_EXTRA_CA_CERTS \
  GIT_SSL_CAINFO AWS_CA_BUNDLE http_proxy https_proxy no_proxy HTTP_PROXY HTTPS_PROXY NO_PROXY; do
  value="${!var:-}"
  [ -n "$value" ] || continue
  TRUST_ENV+=("$var=$value")
  if [ -f "$value" ] && [ ! -e "$ROOT$value" ]; then
    mkdir -p "$ROOT$(dirname "$value")"
    cp -L "$value" "$ROOT$value"
  fi
done
log "root ready in $(($(date +%s) - t0)) s"

# A clean clone of this commit, as `git clone` gives a new user (no build/, .venv, node_modules).
git clone --quiet --no-hardlinks "$REPO" "$ROOT/root/ocrpipe"
git -C "$ROOT/root/ocrpipe" checkout --quiet "$COMMIT"

# Runs one README command inside the root, in a private mount namespace, with a clean login
# environment; prints its duration and returns its exit code.
run_in_root() { # name command...
  local name=$1; shift
  local start=$(date +%s) rc=0
  unshare --mount --propagation private -- bash -c '
    set -e
    root=$1; shift
    n_env=$1; shift
    trust=("${@:1:$n_env}"); shift "$n_env"
    mount -t proc proc "$root/proc"
    mount -t sysfs sys "$root/sys"
    mount --bind /dev "$root/dev"
    mount -t devpts -o newinstance,ptmxmode=0666 devpts "$root/dev/pts"
    mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
    mount -t tmpfs -o mode=1777 tmpfs "$root/tmp"
    exec chroot "$root" /usr/bin/env -i HOME=/root USER=root LANG=C.UTF-8 TERM=dumb \
      PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "${trust[@]}" \
      bash -lc "cd /root/ocrpipe && $*"
  ' _ "$ROOT" "${#TRUST_ENV[@]}" "${TRUST_ENV[@]}" "$@" >"$LOGS/$name.log" 2>&1 </dev/null || rc=$?
  local secs=$(($(date +%s) - start))
  if [ "$rc" -eq 0 ]; then
    log "$name: passed in ${secs} s ($(tail -1 "$LOGS/$name.log" | cut -c1-120))"
  else
    tail -40 "$LOGS/$name.log"
    log "$name: FAILED (exit $rc) after ${secs} s; log: $LOGS/$name.log"
    KEEP=1
  fi
  echo "$name $rc $secs" >>"$WORK/results"
  return "$rc"
}

status=0
run_in_root "make-run" make run || status=1
if [ "$ONLY" != run ]; then
  run_in_root "make-test" make test || status=1
fi

echo
log "summary (Debian $SUITE, commit ${COMMIT:0:10}, $(($(date +%s) - t0)) s in all)"
while read -r name rc secs; do
  printf '  %-10s %s in %s s\n' "$name" "$([ "$rc" -eq 0 ] && echo passed || echo "FAILED (exit $rc)")" "$secs"
done <"$WORK/results"
exit "$status"
