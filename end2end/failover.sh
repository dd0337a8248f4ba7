#!/usr/bin/env bash
# Failover end-to-end test (issue 16): two Halite replicas on one throwaway Postgres, the real
# Salt lab, Chromium. A browser on replica B follows Activity while a job is dispatched through
# the leader A; then A is killed with SIGKILL and B must lead within 10 s, poll, and show a
# second job live, with no duplicate rows and no failed request to B meanwhile.
#
# Expects `cargo leptos build` done and the lab running (its `lab.sh env` exported). Starts its
# own Postgres through scripts/with-postgres.sh unless HALITE_TEST_PG_URL is already set.
set -euo pipefail
cd "$(dirname "$0")/.."
[[ -n ${HALITE_TEST_PG_URL:-} ]] || exec scripts/with-postgres.sh "$0" "$@"
[[ -n ${SALT_API_URL:-} ]] || { echo "failover: the Salt lab's env is not set (eval \"\$(end2end/salt-lab/lab.sh env)\")" >&2; exit 1; }
export PATH="$PWD/node_modules/.bin:$PATH"

BIN=${HALITE_BIN:-target/debug/halite}
[[ -x $BIN ]] || { echo "no $BIN: run 'cargo leptos build' first" >&2; exit 1; }
ART=end2end/.artifacts/failover
mkdir -p "$ART"
WORK=$(mktemp -d /tmp/halite-failover.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Both replicas: one database, one cookie secret (sessions and the stored Salt password work on
# either), their own data dir and port.
# A database of its own in the cluster (the cluster may be shared with other runs).
DB_NAME="failover_$$_$(date +%s)"
psql "$HALITE_TEST_PG_URL" -qAtc "CREATE DATABASE $DB_NAME" >/dev/null
export DATABASE_URL="${HALITE_TEST_PG_URL%/*}/$DB_NAME" LEPTOS_SITE_ROOT=${HALITE_SITE:-target/site} \
  LISTEN_HOST=127.0.0.1 COOKIE_SECURE=false LOG_FORMAT=text LOG_LEVEL=info \
  COOKIE_SECRET="failover-cookie-secret-$(date +%s)-0123456789abcdef"

PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

start_replica() { # name port -> pid in $REPLICA_PID
  mkdir -p "$WORK/$1"
  HALITE_DATA_DIR="$WORK/$1" LISTEN_PORT=$2 "$BIN" >"$ART/replica-$1.log" 2>&1 &
  REPLICA_PID=$!
  PIDS+=("$REPLICA_PID")
  for _ in $(seq 1 150); do
    curl -fsS "http://127.0.0.1:$2/healthz" >/dev/null 2>&1 && return 0
    kill -0 "$REPLICA_PID" 2>/dev/null || { echo "replica $1 exited:"; cat "$ART/replica-$1.log"; exit 1; }
    sleep 0.2
  done
  echo "replica $1 did not answer /healthz"; tail -30 "$ART/replica-$1.log"; exit 1
}

# The Salt connection and an admin, the way an operator sets them up from a shell (the first
# command migrates the empty database).
printf '%s\n' "$SALT_API_PASSWORD" | "$BIN" admin set-salt --url "$SALT_API_URL" \
  --username "$SALT_API_USER" --eauth "$SALT_API_EAUTH" --password-stdin >/dev/null
printf 'failover-admin-pw-1\n' | "$BIN" admin create-user --username ops --display-name "Ops" \
  --role admin --password-stdin --no-force-change >/dev/null

PORT_A=$(free_port)
start_replica a "$PORT_A"
A_PID=$REPLICA_PID
for _ in $(seq 1 100); do
  curl -fsS "http://127.0.0.1:$PORT_A/readyz" 2>/dev/null | grep -q '"role":"leader"' && break
  sleep 0.2
done
PORT_B=$(free_port)
start_replica b "$PORT_B"
B_PID=$REPLICA_PID

export HALITE_A_URL="http://127.0.0.1:$PORT_A" HALITE_B_URL="http://127.0.0.1:$PORT_B" \
  HALITE_A_PID=$A_PID HALITE_ARTIFACTS="$PWD/$ART"
node --test --test-concurrency=1 end2end/failover/ || {
  echo "--- replica a (tail) ---"; tail -40 "$ART/replica-a.log"
  echo "--- replica b (tail) ---"; tail -40 "$ART/replica-b.log"
  exit 1
}
