#!/usr/bin/env bash
# Build the image and try it for real against the Salt lab, in one command:
# the container starts (production mode, non-root, data in a volume), its HEALTHCHECK
# (`halite healthcheck`) passes, the admin CLI works inside it, an operator signs in, saves the
# lab as the Salt connection and Settings -> Test connection passes; /readyz says Salt is ok.
# Not part of `make test` (the cold build takes ~30 min on 2 cores). Needs podman or docker
# and the lab (end2end/salt-lab/lab.sh start).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE=${IMAGE:-halite:smoke}
PORT=${PORT:-18080}
NAME=halite-smoke
ENGINE=$(command -v podman >/dev/null && echo podman || echo docker)
[[ ${SKIP_BUILD:-} == 1 ]] || IMAGE=$IMAGE scripts/image.sh
end2end/salt-lab/lab.sh start >/dev/null
eval "$(end2end/salt-lab/lab.sh env)"
SECRET="smoke-cookie-secret-$(date +%s)-0123456789abcdef"
VOL=halite-smoke-data
"$ENGINE" rm -f "$NAME" >/dev/null 2>&1 || true
"$ENGINE" volume rm -f "$VOL" >/dev/null 2>&1 || true
run() { "$ENGINE" run --rm --network host -v "$VOL:/data" -e COOKIE_SECRET="$SECRET" "$@"; }

# Production mode refuses to start without a cookie secret.
if "$ENGINE" run --rm --network host -v "$VOL:/data" "$IMAGE" >/tmp/halite-smoke-nosecret.log 2>&1; then
  echo "FAIL: started without COOKIE_SECRET in production mode"; exit 1
fi
grep -q "COOKIE_SECRET is required" /tmp/halite-smoke-nosecret.log
echo "ok: no COOKIE_SECRET -> refuses to start"

printf 'smoke-password-1\n' | run -i "$IMAGE" admin create-user --username smoke --role admin --password-stdin --no-force-change
printf '%s\n' "$SALT_API_PASSWORD" | run -i "$IMAGE" admin set-salt --url "$SALT_API_URL" \
  --username "$SALT_API_USER" --eauth "$SALT_API_EAUTH" --password-stdin
"$ENGINE" run -d --name "$NAME" --network host -v "$VOL:/data" -e COOKIE_SECRET="$SECRET" \
  -e LISTEN_PORT="$PORT" -e COOKIE_SECURE=false "$IMAGE" >/dev/null
trap '"$ENGINE" logs "$NAME" > /tmp/halite-smoke.log 2>&1 || true; "$ENGINE" rm -f "$NAME" >/dev/null 2>&1 || true' EXIT
B="http://127.0.0.1:$PORT"
for _ in $(seq 1 100); do curl -fsS "$B/healthz" >/dev/null 2>&1 && break; sleep 0.3; done
"$ENGINE" exec "$NAME" /app/halite healthcheck
[[ $("$ENGINE" exec "$NAME" id -u) != 0 ]] && echo "ok: runs as $("$ENGINE" exec "$NAME" id -un)"
JAR=$(mktemp)
curl -fsS -c "$JAR" -H "Origin: $B" -d 'username=smoke&password=smoke-password-1' "$B/api/auth/login" >/dev/null
TEST=$(curl -fsS -b "$JAR" -H "Origin: $B" -d "" "$B/api/settings/test-salt-saved")
echo "Test connection: $TEST"
echo "$TEST" | python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["ok"], r'
for _ in $(seq 1 60); do
  curl -fsS "$B/readyz" | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["salt"]=="ok" else 1)' && break
  sleep 0.5
done
curl -fsS "$B/readyz"; echo
curl -fsS -b "$JAR" "$B/about" | grep -q "$(git rev-parse --short HEAD 2>/dev/null || echo image)" && echo "ok: About shows the build"
echo "image smoke test passed"
