#!/usr/bin/env bash
# `make test`: lint, unit + integration tests (some against the real Salt lab), then the
# Playwright end-to-end tests in Chromium. Starts the Salt lab and always stops it again.
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

step "starting the Salt lab (salt-master, salt-api, minions on 127.0.0.1)"
trap '"$LAB" stop >/dev/null 2>&1 || true' EXIT
"$LAB" start
eval "$("$LAB" env)"

step "unit and integration tests (the lab ones too)"
cargo test --features ssr,lab
cargo test -p salt-sim

# Every integration suite (the lab ones too) and the HTTP fuzzer again on Postgres: a throwaway
# cluster (scripts/with-postgres.sh), each test app on a database of its own.
step "integration tests and the fuzzer on Postgres (throwaway cluster)"
"$LAB" reset-keys >/dev/null
scripts/with-postgres.sh cargo test --features ssr,lab --test it --test security_fuzz

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
