#!/usr/bin/env bash
# Start compose.yml (Halite + Postgres) or compose.sqlite.yml for real with podman-compose (or
# docker compose) and check each the way the image smoke test does: healthy, sign in, the lab
# saved as the Salt connection, Settings -> Test connection passes, /readyz says Salt is ok.
#   scripts/compose-smoke.sh compose.yml | compose.sqlite.yml     (image: make image first)
# Where no registry can be reached, the Postgres service uses a local stand-in built from
# Debian's postgresql-15 (scripts/compose-pg).
set -euo pipefail
cd "$(dirname "$0")/.."
FILE=${1:-compose.sqlite.yml}
if command -v podman-compose >/dev/null; then COMPOSE=(podman-compose); ENGINE=podman
else COMPOSE=(docker compose); ENGINE=docker; fi
export HALITE_IMAGE=${HALITE_IMAGE:-halite:latest} HALITE_PORT=${HALITE_PORT:-18081} COOKIE_SECURE=false
export COOKIE_SECRET="compose-cookie-secret-$(date +%s)-0123456789abcdef"
export POSTGRES_PASSWORD="pg-$(date +%s)-secret"
if [[ $FILE == compose.yml ]] && ! "$ENGINE" image exists docker.io/library/postgres:15 2>/dev/null \
   && ! "$ENGINE" pull -q docker.io/library/postgres:15 >/dev/null 2>&1; then
  echo "no registry: building a local Postgres 15 stand-in (scripts/compose-pg)"
  "$ENGINE" build -q -t localhost/halite-compose-pg:15 scripts/compose-pg >/dev/null
  export POSTGRES_IMAGE=localhost/halite-compose-pg:15
fi
end2end/salt-lab/lab.sh start >/dev/null
eval "$(end2end/salt-lab/lab.sh env)"
P="halite-smoke-$(basename "$FILE" .yml | tr . -)"
# The lab's salt-api listens on the host's loopback only: for this test Halite joins the host's
# network (its port from HALITE_PORT) and reaches Postgres on a loopback port; everything else is
# the compose file as shipped.
OVR=$(mktemp --suffix=.yml)
PGPORT=${PGPORT:-55432}
{
  echo "services:"
  echo "  halite:"
  echo "    network_mode: host"
  echo "    ports: !reset []"
  echo "    environment:"
  echo "      LISTEN_PORT: \"$HALITE_PORT\""
  if [[ $FILE == compose.yml ]]; then
    echo "      DATABASE_URL: postgres://halite:$POSTGRES_PASSWORD@127.0.0.1:$PGPORT/halite"
    echo "  postgres:"
    echo "    ports: [\"127.0.0.1:$PGPORT:5432\"]"
  fi
} >"$OVR"
F=(-p "$P" -f "$FILE" -f "$OVR")
down() { "${COMPOSE[@]}" "${F[@]}" down -v >/dev/null 2>&1 || true; }
down
trap 'echo "--- logs"; "${COMPOSE[@]}" "${F[@]}" logs 2>/dev/null | tail -40 || true; down; rm -f "$OVR"' EXIT
"${COMPOSE[@]}" "${F[@]}" up -d
B="http://127.0.0.1:$HALITE_PORT"
for _ in $(seq 1 120); do curl -fsS "$B/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fsS "$B/readyz"; echo
C=$("$ENGINE" ps --filter "label=com.docker.compose.project=$P" --filter "label=com.docker.compose.service=halite" --format '{{.Names}}' | head -1)
[[ -n $C ]] || C=$("$ENGINE" ps --format '{{.Names}}' | grep -m1 "${P}.*halite")
"$ENGINE" exec "$C" /app/halite healthcheck
printf 'compose-password-1\n' | "$ENGINE" exec -i "$C" /app/halite admin create-user --username ops \
  --role admin --password-stdin --no-force-change
JAR=$(mktemp)
curl -fsS -c "$JAR" -H "Origin: $B" -d 'username=ops&password=compose-password-1' "$B/api/auth/login" >/dev/null
# Salt through the Settings page's server functions, as an operator would.
curl -fsS -b "$JAR" -H "Origin: $B" --data-urlencode "url=$SALT_API_URL" --data-urlencode "username=$SALT_API_USER" \
  --data-urlencode "password=$SALT_API_PASSWORD" --data-urlencode "eauth=$SALT_API_EAUTH" "$B/api/settings/salt" >/dev/null
TEST=$(curl -fsS -b "$JAR" -H "Origin: $B" -d "" "$B/api/settings/test-salt-saved")
echo "Test connection: $TEST"
echo "$TEST" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["ok"], r'
for _ in $(seq 1 60); do
  curl -fsS "$B/readyz" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["salt"]=="ok" else 1)' && break
  sleep 0.5
done
R=$(curl -fsS "$B/readyz"); echo "$R"
echo "$R" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["salt"]=="ok" and r["db"]=="ok", r'
if [[ $FILE == compose.yml ]]; then
  echo "$R" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["replicas"], "a Postgres replica lists itself"'
fi
echo "compose smoke test passed: $FILE"
