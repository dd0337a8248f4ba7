#!/usr/bin/env bash
# `make test`: lint, unit + integration tests (some against the real Salt lab), then the
# Playwright end-to-end tests in Chromium. Starts the Salt labs and always stops them again.
# CI (.ci/run) sets CARGO_INCREMENTAL=0: a clean clone compiles each crate once.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/node_modules/.bin:$HOME/.cargo/bin:$PATH"
LAB=end2end/salt-lab/lab.sh
t0=$(date +%s)
step() { printf '\n\033[1;33m==> %s\033[0m (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

step "formatting and lints"
cargo fmt --all -- --check
cargo clippy --all-targets --features ssr,lab -- -D warnings
cargo clippy -p salt-sim --all-targets -- -D warnings
cargo clippy --lib --target wasm32-unknown-unknown --features hydrate -- -D warnings

# Examples are left out here: clippy above checks they compile, `make bench` runs them.
FEATURES=(--no-default-features --features ssr,lab)
step "building the tests"
cargo test "${FEATURES[@]}" --lib --bins --tests --no-run
cargo test -p salt-sim --no-run

# Two labs, one per database pass, so the passes can run side by side: the lab tests spend
# their time waiting on Salt, one after another (tests/it/common/lab.rs `LAB`), not on the CPU.
LAB2_VARS=(LAB_DIR=/tmp/halite-salt-lab-2 LAB_PUBLISH_PORT=14515 LAB_RET_PORT=14516 LAB_API_PORT=18010)
LAB2=(env "${LAB2_VARS[@]}")
step "starting two Salt labs (salt-master, salt-api, minions on 127.0.0.1)"
trap '"$LAB" stop >/dev/null 2>&1 || true; "${LAB2[@]}" "$LAB" stop >/dev/null 2>&1 || true' EXIT
"$LAB" start
"${LAB2[@]}" "$LAB" start
# The first lab's connection (SALT_API_URL...) for everything from here on: the SQLite pass,
# the e2e suite, the failover test. The Postgres pass sets the second lab's in its subshell.
eval "$("$LAB" env)"

# Every integration suite (the lab ones too) and the HTTP fuzzer run twice at once: on SQLite
# against the first lab, and on a throwaway Postgres cluster (scripts/with-postgres.sh, each
# test app on a database of its own) against the second. Each pass writes its own log, printed
# in full when both are done.
step "unit and integration tests: on SQLite and on Postgres, side by side"
LOGS=target/test-logs
mkdir -p "$LOGS"
(
  cargo test "${FEATURES[@]}" --lib --bins --tests && cargo test -p salt-sim
) >"$LOGS/sqlite.log" 2>&1 &
sqlite_pid=$!
(
  # lab.sh, when a test calls it (reset-keys, stop-api...), must act on the second lab too.
  export "${LAB2_VARS[@]}"
  eval "$("$LAB" env)"
  scripts/with-postgres.sh cargo test "${FEATURES[@]}" --test it --test security_fuzz
) >"$LOGS/postgres.log" 2>&1 &
postgres_pid=$!
sqlite_rc=0 postgres_rc=0
wait $sqlite_pid || sqlite_rc=$?
wait $postgres_pid || postgres_rc=$?
printf '\n\033[1m--- tests on SQLite (exit %s) ---\033[0m\n' "$sqlite_rc"
cat "$LOGS/sqlite.log"
printf '\n\033[1m--- tests on Postgres (exit %s) ---\033[0m\n' "$postgres_rc"
cat "$LOGS/postgres.log"
if [[ $sqlite_rc != 0 || $postgres_rc != 0 ]]; then
  echo "tests failed: SQLite pass exit $sqlite_rc, Postgres pass exit $postgres_rc" >&2
  exit 1
fi
"${LAB2[@]}" "$LAB" stop >/dev/null 2>&1 || true

step "building the app (server + WASM)"
"$LAB" reset-keys >/dev/null
cargo leptos build
cargo build -p salt-sim

step "end-to-end tests in Chromium"
end2end/run.sh

# Two replicas on a throwaway Postgres, the lab and Chromium: live on the follower, kill -9 of
# the leader, takeover (end2end/failover.sh starts its own cluster).
step "failover end-to-end test (two replicas on Postgres)"
"$LAB" reset-keys >/dev/null
end2end/failover.sh

step "all tests passed"
