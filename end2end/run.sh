#!/usr/bin/env bash
# End-to-end tests: start the built Halite on a free port with a fresh SQLite file, then run the
# Playwright tests (node's test runner) in Debian's Chromium. Expects `cargo leptos build` done.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$PATH"

BIN=${HALITE_BIN:-target/debug/halite}
[[ -x $BIN ]] || { echo "no $BIN: run 'cargo leptos build' first" >&2; exit 1; }
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
WORK=$(mktemp -d /tmp/halite-e2e.XXXXXX)
ART=end2end/.artifacts
mkdir -p "$ART"

export HALITE_DATA_DIR="$WORK/data" LEPTOS_SITE_ROOT=${HALITE_SITE:-target/site} LISTEN_HOST=127.0.0.1 LISTEN_PORT=$PORT \
  COOKIE_SECURE=false LOG_FORMAT=json LOG_LEVEL=info \
  COOKIE_SECRET="e2e-cookie-secret-$(date +%s)-0123456789abcdef"

"$BIN" >"$ART/server.log" 2>&1 &
SERVER=$!
cleanup() { kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true; rm -rf "$WORK"; }
trap cleanup EXIT

for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER" 2>/dev/null || { echo "server exited:"; cat "$ART/server.log"; exit 1; }
  sleep 0.2
done

# A viewer account, made the way an operator would: with the admin CLI (after the first start,
# which creates the bootstrap admin only while no user exists).
printf 'viewer-password-1\n' | "$BIN" admin create-user --username viewer1 --display-name "Vic Viewer" \
  --role viewer --password-stdin --no-force-change

printf 'admin2-password-1\n' | "$BIN" admin create-user --username admin2 --display-name "Ada Admin" \
  --role admin --password-stdin --no-force-change

# A custom role that may only run test.* functions on the web minions (and view jobs), for the
# Run permission test (Run reaches only minions the caller may view).
"$BIN" admin create-role --name testers --perm 'execute:salt:test.*' --perm 'view:job:*' \
  --perm 'view:minion:web-*' >/dev/null
printf 'tester-password-1\n' | "$BIN" admin create-user --username tester --display-name "Tess Tester" \
  --role testers --password-stdin --no-force-change

SIM=${HALITE_SIM:-target/debug/salt-sim}
[[ -x $SIM ]] || cargo build -p salt-sim
export HALITE_URL="http://127.0.0.1:$PORT" HALITE_ARTIFACTS="$PWD/$ART" HALITE_BIN_PATH="$PWD/$BIN" HALITE_SIM_BIN="$PWD/$SIM"
node --test --test-concurrency=1 ${E2E_TESTS:-end2end/tests/} || { echo "--- server log (tail) ---"; tail -50 "$ART/server.log"; exit 1; }

# The whole run's log: JSON lines only, and never a secret (the lab's salt-api password, the
# cookie secret, the test accounts' passwords).
python3 - "$ART/server.log" <<'PY'
import json, os, sys
log = open(sys.argv[1], encoding="utf-8", errors="replace").read()
bad = [l for l in log.splitlines() if l.strip() and not l.startswith("{")]
assert not bad, f"non-JSON log lines: {bad[:3]}"
for l in log.splitlines():
    if l.strip():
        json.loads(l)
secrets = {
    "SALT_API_PASSWORD": os.environ.get("SALT_API_PASSWORD", ""),
    "COOKIE_SECRET": os.environ["COOKIE_SECRET"],
    "a test password": "viewer-password-1",
    "the admin password": "admin2-password-1",
}
assert secrets["SALT_API_PASSWORD"], "SALT_API_PASSWORD is not set (run with the Salt lab's env)"
for name, value in secrets.items():
    assert value not in log, f"{name} appears in the server log"
n = log.count('"message":"request answered"')
assert n > 100, f"only {n} request lines"
print(f"server log: {len(log.splitlines())} JSON lines ({n} requests), no secret in it")
PY
