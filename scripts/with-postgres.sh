#!/usr/bin/env bash
# Run a command against a throwaway Postgres cluster, then remove the cluster.
#
#   scripts/with-postgres.sh <command> [args...]
#
# initdb in a fresh temp dir, pg_ctl on a free loopback port (sockets in that dir too), trust
# auth for one superuser `halite`; the command sees HALITE_TEST_PG_URL
# (postgres://halite@127.0.0.1:<port>/postgres), and the test harness makes one database per
# test app in it. Tuned for tests (fsync off) unless HALITE_PG_DURABLE=1 (benchmarks). Depends on no Postgres service being there: only
# on Debian's server binaries, which `scripts/setup.sh --test` installs. As root, the cluster runs
# as the `postgres` system user (Postgres refuses to run as root).
set -euo pipefail

bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [[ -z "$bindir" || ! -x "$bindir/initdb" ]]; then
  echo "with-postgres: Postgres server binaries not found under /usr/lib/postgresql/*/bin;" >&2
  echo "               run scripts/setup.sh --test (it installs Debian's postgresql)" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/halite-pg.XXXXXX)
as_owner=()
if [[ $(id -u) -eq 0 ]]; then
  chown postgres: "$dir"
  as_owner=(runuser -u postgres --)
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

cleanup() {
  "${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

"${as_owner[@]}" "$bindir/initdb" -D "$dir/data" -U halite --auth=trust -E UTF8 --locale=C.UTF-8 \
  >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; exit 1; }
# Tests trade durability for speed; benchmarks (HALITE_PG_DURABLE=1) keep Postgres's defaults.
fast="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
[[ ${HALITE_PG_DURABLE:-0} == 1 ]] && fast=""
"${as_owner[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$dir \
      -c max_connections=400 $fast -c shared_buffers=128MB" start >/dev/null \
  || { cat "$dir/server.log" >&2; exit 1; }

export HALITE_TEST_PG_URL="postgres://halite@127.0.0.1:$port/postgres"
echo "with-postgres: throwaway cluster on 127.0.0.1:$port ($dir)" >&2
set +e
"$@"
rc=$?
set -e
exit $rc
