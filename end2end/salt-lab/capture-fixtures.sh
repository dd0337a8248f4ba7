#!/usr/bin/env bash
# Record real salt-api replies from the running lab as test fixtures.
#
#   end2end/salt-lab/lab.sh start
#   end2end/salt-lab/capture-fixtures.sh [--fleet-only] [OUT_DIR]
#
# OUT_DIR defaults to tests/fixtures/salt/<full salt version>/. Bodies are stored exactly as
# salt-api returned them, except login.json whose token is replaced by REDACTED_TOKEN.
# Needs curl and jq. Runs jobs on the lab (state.apply, a killed test.sleep, ...).
# --fleet-only records only the state-return files of the fleet health view (test mode, render
# error, a stopped minion, state ret events) and leaves the other files as they are.
set -euo pipefail

FLEET_ONLY=0
if [ "${1:-}" = --fleet-only ]; then FLEET_ONLY=1; shift; fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
LAB="$HERE/lab.sh"
eval "$("$LAB" env)"
[ -n "${SALT_LAB_VERSION:-}" ] || { echo "start the lab first: $LAB start" >&2; exit 1; }
"$LAB" status >/dev/null || { echo "the lab is not up: $LAB start" >&2; exit 1; }

OUT="${1:-$REPO/tests/fixtures/salt/$SALT_LAB_VERSION}"
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

say() { printf '[fixtures] %s\n' "$*" >&2; }
JSON=(-H 'Accept: application/json' -H 'Content-Type: application/json')

# --- login -------------------------------------------------------------------------------
curl -sS --max-time 20 "${JSON[@]}" -o "$TMP/login" "$SALT_API_URL/login" \
  -d "$(jq -cn --arg u "$SALT_API_USER" --arg p "$SALT_API_PASSWORD" '{username: $u, password: $p, eauth: "file"}')"
TOKEN="$(jq -r '.return[0].token' "$TMP/login")"
if [ -z "$TOKEN" ] || [ "$TOKEN" = null ]; then echo "login failed: $(cat "$TMP/login")" >&2; exit 1; fi

# POST / with one lowstate; $1 = fixture file (or - for stdout only), $2 = lowstate JSON object
call() {
  local file="$1" low="$2" code
  code="$(curl -sS --max-time 180 "${JSON[@]}" -H "X-Auth-Token: $TOKEN" -o "$TMP/body" -w '%{http_code}' \
    "$SALT_API_URL/" -d "[$low]")"
  if [ "$code" != 200 ]; then
    echo "POST / $low -> HTTP $code: $(head -c 600 "$TMP/body")" >&2
    exit 1
  fi
  jq -e '.return' "$TMP/body" >/dev/null
  if [ "$file" = - ]; then cat "$TMP/body"; else cp "$TMP/body" "$OUT/$file"; say "$file ($(wc -c <"$OUT/$file") bytes)"; fi
}

# newest jid of the jobs running function $1 (jobs.list_jobs search_function)
newest_jid() {
  call - "{\"client\": \"runner\", \"fun\": \"jobs.list_jobs\", \"search_function\": \"$1\"}" |
    jq -r '.return[0] | keys | max'
}

# --- fleet health: state returns of every kind ------------------------------------------------
capture_fleet() {
  # test mode: states that would change come back with result null
  call state_apply_test.json '{"client": "local", "tgt": "*", "fun": "state.apply", "kwarg": {"test": true}}'
  jq -e '.return[0]["web-01"] | to_entries | any(.value.result == null)' "$OUT/state_apply_test.json" >/dev/null ||
    { echo "state_apply_test.json: no result null state on web-01" >&2; exit 1; }

  # render error: the minion's return is a list of strings
  call state_sls_render_error.json '{"client": "local", "tgt": "web-01", "fun": "state.sls", "arg": ["lab.render_error"]}'
  jq -e '.return[0]["web-01"] | type == "array"' "$OUT/state_sls_render_error.json" >/dev/null ||
    { echo "state_sls_render_error.json: web-01's return is not a list" >&2; exit 1; }
  local jid
  jid="$(newest_jid state.sls)"
  call list_job_render_error.json "{\"client\": \"runner\", \"fun\": \"jobs.list_job\", \"jid\": \"$jid\"}"

  # a targeted minion that is down: web-02 stopped during a sync state.apply
  "$LAB" stop-minion web-02 >/dev/null 2>&1 || { echo "lab.sh stop-minion web-02 failed" >&2; exit 1; }
  WEB02_STOPPED=1
  call local_state_not_returned.json '{"client": "local", "tgt": ["web-01", "web-02"], "tgt_type": "list", "fun": "state.apply"}'
  jid="$(newest_jid state.apply)"
  call list_job_not_returned.json "{\"client\": \"runner\", \"fun\": \"jobs.list_job\", \"jid\": \"$jid\"}"
  "$LAB" start-minion web-02 >/dev/null 2>&1 || { echo "lab.sh start-minion web-02 failed" >&2; exit 1; }
  WEB02_STOPPED=0

  # the event stream while a state job runs on web-01, trimmed to its ret event
  ret_event events_state_ret.txt state.apply '{"client": "local_async", "tgt": "web-01", "fun": "state.apply"}'
  ret_event events_state_render_error.txt state.sls \
    '{"client": "local_async", "tgt": "web-01", "fun": "state.sls", "arg": ["lab.render_error"]}'
}

# $1 = fixture file, $2 = function, $3 = local_async lowstate on web-01: records GET /events
# while that job runs, trimmed to the job's /new event through its salt/job/<jid>/ret/web-01 event
ret_event() {
  local file="$1" fun="$2" low="$3" jid i
  : >"$TMP/sevents"
  curl -sS -N --max-time 120 -H "X-Auth-Token: $TOKEN" -H 'Accept: text/event-stream' \
    "$SALT_API_URL/events" >"$TMP/sevents" 2>/dev/null &
  local curl_pid=$!
  for i in $(seq 1 100); do [ -s "$TMP/sevents" ] && break; sleep 0.1; done
  call - "$low" >"$TMP/sapply"
  jid="$(jq -r '.return[0].jid' "$TMP/sapply")"
  for i in $(seq 1 600); do
    grep -q "^tag: salt/job/$jid/ret/web-01" "$TMP/sevents" && break
    sleep 0.1
  done
  sleep 0.5 # let the next event, if any, be written whole
  kill "$curl_pid" 2>/dev/null || true
  wait "$curl_pid" 2>/dev/null || true
  local r n first last
  r="$(grep -n "^tag: salt/job/$jid/ret/web-01" "$TMP/sevents" | head -n1 | cut -d: -f1)"
  [ -n "$r" ] || { echo "no salt/job/$jid/ret/web-01 event within 60 s" >&2; exit 1; }
  n="$(grep -n "^tag: salt/job/$jid/new" "$TMP/sevents" | head -n1 | cut -d: -f1)"
  # from the job's /new event (or the two events before the ret) to the event after the ret
  if [ -n "$n" ] && [ $((r - n)) -le 30 ]; then first="$n"; else first=$((r > 6 ? r - 6 : 1)); fi
  last=$((r + 2))
  [ "$(sed -n "$((r + 5))p" "$TMP/sevents")" = "" ] && [ "$(wc -l <"$TMP/sevents")" -ge $((r + 5)) ] && last=$((r + 5))
  sed -n "${first},${last}p" "$TMP/sevents" >"$OUT/$file"
  grep -q "\"fun\": \"$fun\"" "$OUT/$file" || { echo "$file: no $fun ret" >&2; exit 1; }
  say "$file ($(wc -l <"$OUT/$file") lines)"
}

WEB02_STOPPED=0
trap 'if [ "$WEB02_STOPPED" = 1 ]; then "$LAB" start-minion web-02 >/dev/null 2>&1 || true; fi; rm -rf "$TMP"' EXIT

if [ "$FLEET_ONLY" = 1 ]; then
  capture_fleet
  say "done (fleet only): $OUT"
  exit 0
fi

sed "s/$TOKEN/REDACTED_TOKEN/g" "$TMP/login" >"$OUT/login.json"
say "login.json"

# bad password: status line, blank line, body
code="$(curl -sS --max-time 20 "${JSON[@]}" -o "$TMP/401" -w '%{http_code}' "$SALT_API_URL/login" \
  -d '{"username": "halite", "password": "wrong-password", "eauth": "file"}')"
{ printf 'HTTP/1.1 %s Unauthorized\n\n' "$code"; cat "$TMP/401"; } >"$OUT/error_401.txt"
say "error_401.txt ($code)"

# --- keys, presence, grains ----------------------------------------------------------------
call key_list_all.json '{"client": "wheel", "fun": "key.list_all"}'
call key_finger.json '{"client": "wheel", "fun": "key.finger", "match": "new-01"}'
call manage_present.json '{"client": "runner", "fun": "manage.present"}'
call manage_present_show_ip.json '{"client": "runner", "fun": "manage.present", "show_ip": true}'
call cache_grains.json '{"client": "runner", "fun": "cache.grains", "tgt": "*"}'

# --- local calls -----------------------------------------------------------------------------
call local_test_ping.json '{"client": "local", "tgt": "*", "fun": "test.ping"}'
call local_async.json '{"client": "local_async", "tgt": "*", "fun": "test.ping"}'
PING_JID="$(jq -r '.return[0].jid' "$OUT/local_async.json")"
sleep 4
call list_job_ping.json "{\"client\": \"runner\", \"fun\": \"jobs.list_job\", \"jid\": \"$PING_JID\"}"
call sys_list_functions.json '{"client": "local", "tgt": "web-01", "fun": "sys.list_functions"}'
call local_full_return.json '{"client": "local", "tgt": "web-*", "fun": "grains.get", "arg": ["os_family"], "full_return": true}'
call local_no_match.json '{"client": "local", "tgt": "nomatch-*", "fun": "test.ping"}'
call local_list_pending.json '{"client": "local", "tgt": ["web-01", "new-01"], "tgt_type": "list", "fun": "test.ping"}'

# --- states ----------------------------------------------------------------------------------
call state_apply.json '{"client": "local", "tgt": "*", "fun": "state.apply"}'
call - '{"client": "runner", "fun": "jobs.list_jobs", "search_function": "state.apply"}' >"$TMP/sjobs"
STATE_JID="$(jq -r '.return[0] | keys | max' "$TMP/sjobs")"
call list_job_highstate.json "{\"client\": \"runner\", \"fun\": \"jobs.list_job\", \"jid\": \"$STATE_JID\"}"
jq -e '.return[0].Result["broken-01"].return | to_entries | any(.value.result == false)' \
  "$OUT/list_job_highstate.json" >/dev/null || { echo "list_job_highstate.json lacks broken-01's failure" >&2; exit 1; }
capture_fleet

# --- packages (only web-01: the list is big) ----------------------------------------------
call pkg_list_pkgs.json '{"client": "local", "tgt": "web-01", "fun": "pkg.list_pkgs"}'
# the form Halite's package inventory asks for: every version a list of strings
call pkg_list_pkgs_as_list.json '{"client": "local", "tgt": "web-01", "fun": "pkg.list_pkgs", "kwarg": {"versions_as_list": true}}'

# --- a running job: jobs.active, then kill it ------------------------------------------------
call - '{"client": "local_async", "tgt": "web-*", "fun": "test.sleep", "arg": [30]}' >"$TMP/sleep"
SLEEP_JID="$(jq -r '.return[0].jid' "$TMP/sleep")"
sleep 3
call jobs_active.json '{"client": "runner", "fun": "jobs.active"}'
jq -e --arg j "$SLEEP_JID" '.return[0] | has($j)' "$OUT/jobs_active.json" >/dev/null ||
  { echo "jobs.active does not show the test.sleep job $SLEEP_JID" >&2; exit 1; }
call kill_job.json "{\"client\": \"local\", \"tgt\": \"web-*\", \"fun\": \"saltutil.kill_job\", \"arg\": [\"$SLEEP_JID\"]}"

# --- event stream while a test.ping job runs ---------------------------------------------------
curl -sS -N --max-time 8 -H "X-Auth-Token: $TOKEN" -H 'Accept: text/event-stream' \
  "$SALT_API_URL/events" >"$TMP/events" 2>/dev/null &
CURL_PID=$!
sleep 1.5
call - '{"client": "local_async", "tgt": "*", "fun": "test.ping"}' >/dev/null
wait "$CURL_PID" || true
head -n 30 "$TMP/events" >"$OUT/events_sample.txt"
say "events_sample.txt ($(wc -l <"$OUT/events_sample.txt") lines)"

# /events with a query string (3008 refuses it; older releases took ?token=)
code="$(curl -sS --max-time 3 -o "$TMP/evq" -w '%{http_code}' "$SALT_API_URL/events?token=$TOKEN" 2>/dev/null || true)"
{ printf 'HTTP/1.1 %s\n\n' "$code"; head -c 2000 "$TMP/evq" | sed "s/$TOKEN/REDACTED_TOKEN/g"; } >"$OUT/events_query_token.txt"
say "events_query_token.txt ($code)"

# --- a runner exception comes back as 200 with a string ------------------------------------
call runner_error.json '{"client": "runner", "fun": "jobs.list_job"}'

# --- job history last, so it holds all of the above ----------------------------------------
call list_jobs.json '{"client": "runner", "fun": "jobs.list_jobs"}'

# --- 400 for a disabled client: a second salt-api on the same master without wheel ----------
LAB_DIR_="$SALT_LAB_DIR"
NW="$LAB_DIR_/master/conf-nowheel"
NW_PORT="${LAB_NOWHEEL_PORT:-18001}"
mkdir -p "$NW"
sed -e "/^  - wheel/d" -e "s/^  port: .*/  port: $NW_PORT/" "$LAB_DIR_/master/conf/master" >"$NW/master"
printf 'api_pidfile: %s\napi_logfile: %s\n' "$LAB_DIR_/master/var/run/salt-api-nowheel.pid" \
  "$LAB_DIR_/master/var/log/salt/api-nowheel" >>"$NW/master"
VENV="$(sed -n 's/^VENV=//p' "$LAB_DIR_/lab.env")"
"$VENV/bin/salt-api" -c "$NW" -d
for _ in $(seq 1 60); do
  code="$(curl -s -o /dev/null -w '%{http_code}' "${JSON[@]}" "http://127.0.0.1:$NW_PORT/login" \
    -d "{\"username\": \"$SALT_API_USER\", \"password\": \"$SALT_API_PASSWORD\", \"eauth\": \"file\"}" || true)"
  [ "$code" = 200 ] && break
  sleep 0.5
done
NW_TOKEN="$(curl -sS "${JSON[@]}" "http://127.0.0.1:$NW_PORT/login" \
  -d "{\"username\": \"$SALT_API_USER\", \"password\": \"$SALT_API_PASSWORD\", \"eauth\": \"file\"}" | jq -r '.return[0].token')"
code="$(curl -sS "${JSON[@]}" -H "X-Auth-Token: $NW_TOKEN" -o "$OUT/error_disabled_client.html" -w '%{http_code}' \
  "http://127.0.0.1:$NW_PORT/" -d '[{"client": "wheel", "fun": "key.list_all"}]')"
say "error_disabled_client.html ($code)"
NW_PID="$(tr -dc '0-9' <"$LAB_DIR_/master/var/run/salt-api-nowheel.pid")"
kill -TERM "$NW_PID"
for _ in $(seq 1 50); do kill -0 "$NW_PID" 2>/dev/null || break; sleep 0.2; done
[ "$code" = 400 ] || { echo "expected 400 from the wheel-less salt-api, got $code" >&2; exit 1; }

# --- accept the pending key, then put the lab back (new-01 pending) -----------------------------
call key_accept.json '{"client": "wheel", "fun": "key.accept", "match": "new-01"}'
"$LAB" reset-keys >/dev/null 2>&1 || { echo "lab.sh reset-keys failed" >&2; exit 1; }

say "done: $OUT"
