#!/usr/bin/env bash
# Halite salt lab: a real salt-master + salt-api (rest_cherrypy) + 5 minions on 127.0.0.1,
# all run as the current user from a cached PyPI venv. See README.md beside this file.
#
#   lab.sh install | start | stop | status | stop-api | start-api | env
#   lab.sh start-api-nowheel | stop-api-nowheel   (a second salt-api without wheel, printing its URL)
#          stop-minion ID | start-minion ID
#          reset-keys | clean | salt ARGS | salt-run ARGS | salt-key ARGS | logs
#          pkg-install ID NAME VERSION | pkg-remove ID NAME
#   stop-minion ID: stop one minion, wait until its processes are gone.
#   start-minion ID: start one minion, wait until it answers test.ping (accepted keys only).
#   pkg-install / pkg-remove: install a tiny generated .deb into (or purge a package from) one
#   minion's own dpkg database, which its pkg.list_pkgs reads; the host's / is never touched.
set -euo pipefail

LAB_SRC="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

SALT_VERSION="${SALT_VERSION:-3008}"
HALITE_CACHE="${HALITE_CACHE:-${HOME:-/root}/.cache/halite}"
LAB_DIR="${LAB_DIR:-/tmp/halite-salt-lab}"
LAB_PUBLISH_PORT="${LAB_PUBLISH_PORT:-14505}"
LAB_RET_PORT="${LAB_RET_PORT:-14506}"
LAB_API_PORT="${LAB_API_PORT:-18000}"
LAB_API_USER="halite"
LAB_API_PASSWORD="${LAB_API_PASSWORD:-halite-lab-pw}"
LAB_TIMEOUT="${LAB_TIMEOUT:-120}"
LAB_PYTHON="${LAB_PYTHON:-python3}"

ACCEPTED_MINIONS=(web-01 web-02 db-01 broken-01)
PENDING_MINIONS=(new-01)
ALL_MINIONS=("${ACCEPTED_MINIONS[@]}" "${PENDING_MINIONS[@]}")

LAB_DIR="${LAB_DIR%/}"
case "$LAB_DIR" in /*) ;; *) LAB_DIR="$(pwd)/$LAB_DIR" ;; esac

MASTER_ROOT="$LAB_DIR/master"
MASTER_CONF_DIR="$MASTER_ROOT/conf"
CLI_CONF_DIR="$MASTER_ROOT/conf-cli"
MASTER_PKI="$MASTER_ROOT/etc/salt/pki/master"
MASTER_PID="$MASTER_ROOT/var/run/salt-master.pid"
API_PID="$MASTER_ROOT/var/run/salt-api.pid"
MASTER_LOG="$MASTER_ROOT/var/log/salt/master"
API_LOG="$MASTER_ROOT/var/log/salt/api"
EAUTH_FILE="$MASTER_ROOT/eauth.txt"
STATE_ROOT="$LAB_DIR/srv/salt"
LAB_ENV_FILE="$LAB_DIR/lab.env"
API_URL="http://127.0.0.1:$LAB_API_PORT"

log() { printf '[salt-lab +%ss] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[salt-lab] ERROR: %s\n' "$*" >&2; exit 1; }

# ---------------------------------------------------------------- versions & venv

# pip requirement for $SALT_VERSION: 3008 -> salt~=3008.0, 3006.29 -> salt==3006.29
salt_requirement() {
  if [[ "$SALT_VERSION" =~ ^[0-9]+$ ]]; then
    echo "salt~=${SALT_VERSION}.0"
  elif [[ "$SALT_VERSION" =~ ^[0-9]+\.[0-9]+(\.[0-9]+)?$ ]]; then
    echo "salt==${SALT_VERSION}"
  else
    die "SALT_VERSION must be a major release (3008) or an exact version (3006.29), got '$SALT_VERSION'"
  fi
}

# Extra requirements a release needs to install or run from PyPI, one per line. None are needed
# on Python 3.11 today: 3006.29, 3007.16 and 3008.4 install and run with what pip resolves
# (pip itself skips the newest patches whose pins it cannot satisfy, e.g. 3008.5).
# Add e.g. `3006*) echo 'setuptools<70' ;;` here if a release starts to need one.
extra_pins() {
  case "$SALT_VERSION" in
    *) : ;;
  esac
}

VENV="$HALITE_CACHE/salt-venv-$SALT_VERSION"
STAMP="$VENV/.halite-lab-stamp"

version_matches() { # $1 = installed full version
  local v="$1"
  if [[ "$SALT_VERSION" =~ ^[0-9]+$ ]]; then
    [[ "$v" == "$SALT_VERSION".* || "$v" == "$SALT_VERSION" ]]
  else
    [[ "$v" == "$SALT_VERSION" ]]
  fi
}

venv_salt_version() {
  [ -x "$VENV/bin/python" ] || return 1
  "$VENV/bin/python" -c 'import salt.version, cherrypy; print(salt.version.__version__)' 2>/dev/null
}

venv_ok() {
  [ -f "$STAMP" ] && [ -x "$VENV/bin/salt-master" ] && [ -x "$VENV/bin/salt-api" ] || return 1
  local v
  v="$(venv_salt_version)" || return 1
  version_matches "$v"
}

cmd_install() {
  local req
  req="$(salt_requirement)"
  mkdir -p "$HALITE_CACHE"
  # Several clones may share the cache: serialise installs of one venv.
  exec 9>"$VENV.lock"
  if ! flock -w 900 9; then die "timed out waiting for the lock $VENV.lock"; fi
  if venv_ok; then
    log "venv $VENV already has salt $(venv_salt_version) (nothing to do)"
    exec 9>&-
    return 0
  fi
  local t0=$SECONDS
  log "creating $VENV with '$req' cherrypy (this takes a minute or two)"
  rm -rf "$VENV"
  "$LAB_PYTHON" -m venv "$VENV" || die "could not create a venv with $LAB_PYTHON"
  local pins=() p
  while read -r p; do [ -n "$p" ] && pins+=("$p"); done < <(extra_pins)
  if ! "$VENV/bin/python" -m pip install --disable-pip-version-check \
      "$req" cherrypy "${pins[@]}" >"$VENV.install.log" 2>&1; then
    tail -n 30 "$VENV.install.log" >&2
    rm -rf "$VENV"
    die "pip install of '$req' failed (log: $VENV.install.log)"
  fi
  if ! "$VENV/bin/salt-master" --version >>"$VENV.install.log" 2>&1; then
    tail -n 30 "$VENV.install.log" >&2
    die "salt was installed but 'salt-master --version' fails (log: $VENV.install.log)"
  fi
  local v
  v="$(venv_salt_version)" || die "salt or cherrypy does not import in $VENV"
  version_matches "$v" || die "pip installed salt $v, which does not match SALT_VERSION=$SALT_VERSION"
  printf 'requirement=%s\nversion=%s\n' "$req" "$v" >"$STAMP"
  exec 9>&-
  log "installed salt $v into $VENV in $((SECONDS - t0)) s"
}

# ---------------------------------------------------------------- processes

# pid from a pid file, printed only when that process is alive and belongs to this lab dir
lab_pid() { # $1 = pidfile
  local f="$1" pid
  [ -f "$f" ] || return 1
  pid="$(tr -dc '0-9' <"$f")"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$LAB_DIR/" || return 1
  echo "$pid"
}

minion_root() { echo "$LAB_DIR/minions/$1"; }
minion_pidfile() { echo "$LAB_DIR/minions/$1/var/run/salt-minion.pid"; }
minion_log() { echo "$LAB_DIR/minions/$1/var/log/salt/minion"; }
# each minion's own dpkg database (DPKG_ADMINDIR of its process) and the tree its packages
# unpack into
minion_admindir() { echo "$LAB_DIR/minions/$1/var/lib/dpkg"; }
minion_instdir() { echo "$LAB_DIR/minions/$1/root"; }

# every process whose command line names one of this lab's config dirs
lab_pgrep() {
  local re
  re="$(printf '%s' "$LAB_DIR" | sed 's/[]\/$*.^[()+?{}|]/\\&/g')"
  pgrep -f -- "-c ${re}/(master/conf|minions/[^ ]+/conf)" || true
}

port_open() { # $1 = port
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# stop daemons given as NAME=PIDFILE pairs: SIGTERM to all at once, SIGKILL after 15 s
stop_pid_files() {
  local pair name f pid pids=() names=()
  for pair in "$@"; do
    name="${pair%%=*}"; f="${pair#*=}"
    if pid="$(lab_pid "$f")"; then
      log "stopping $name (pid $pid)"
      kill -TERM "$pid" 2>/dev/null || true
      pids+=("$pid"); names+=("$name")
    fi
    rm -f "$f"
  done
  [ "${#pids[@]}" -gt 0 ] || return 0
  local i alive
  for i in $(seq 1 150); do
    alive=()
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
    [ "${#alive[@]}" -eq 0 ] && return 0
    sleep 0.1
  done
  log "pids ${alive[*]} ignored SIGTERM for 15 s, sending SIGKILL"
  kill -KILL "${alive[@]}" 2>/dev/null || true
}

stop_pid_file() { stop_pid_files "$1=$2"; }

# ---------------------------------------------------------------- config

lab_recorded_version() {
  [ -f "$LAB_ENV_FILE" ] && sed -n 's/^SALT_VERSION=//p' "$LAB_ENV_FILE" | head -n1
}

lab_salt_full_version() {
  [ -f "$LAB_ENV_FILE" ] && sed -n 's/^SALT_FULL_VERSION=//p' "$LAB_ENV_FILE" | head -n1
}

write_configs() {
  local user
  user="$(id -un)"
  mkdir -p "$MASTER_CONF_DIR" "$STATE_ROOT" "$LAB_DIR/minions"
  rm -rf "$STATE_ROOT"
  mkdir -p "$STATE_ROOT"
  cp -R "$LAB_SRC/states/." "$STATE_ROOT/"
  printf '%s:%s\n' "$LAB_API_USER" "$LAB_API_PASSWORD" >"$EAUTH_FILE"
  chmod 600 "$EAUTH_FILE"
  cat >"$MASTER_CONF_DIR/master" <<EOF
# Generated by end2end/salt-lab/lab.sh; rewritten on every start.
user: $user
root_dir: $MASTER_ROOT
interface: 127.0.0.1
publish_port: $LAB_PUBLISH_PORT
ret_port: $LAB_RET_PORT
log_level_logfile: info
# a normal job cache, as on a real master
job_cache: True
keep_jobs_seconds: 86400
# Deleting or rejecting a key makes the master rotate its AES key at its next maintenance
# loop (every 60 s by default). A rotation in the middle of a later test's job breaks that
# job's pillar fetch ("Exception getting pillar.", seen once in CI). Checked every second
# here, and lab.sh waits for it to happen (wait_aes_rotated) before it checks the minions.
loop_interval: 1
file_roots:
  base:
    - $STATE_ROOT
external_auth:
  file:
    ^filename: $EAUTH_FILE
    ^filetype: text
    ^hashtype: plaintext
    $LAB_API_USER:
      - '.*'
      - '@runner'
      - '@wheel'
      - '@jobs'
netapi_enable_clients:
  - local
  - local_async
  - local_batch
  - runner
  - runner_async
  - wheel
  - wheel_async
rest_cherrypy:
  port: $LAB_API_PORT
  host: 127.0.0.1
  disable_ssl: true
EOF
  # the same master config for lab.sh's own salt CLI calls, with a short find_job wait so
  # that a readiness probe against a not yet connected minion gives up quickly
  mkdir -p "$CLI_CONF_DIR"
  { cat "$MASTER_CONF_DIR/master"; echo "gather_job_timeout: 2"; } >"$CLI_CONF_DIR/master"
  local id root role
  for id in "${ALL_MINIONS[@]}"; do
    root="$(minion_root "$id")"
    mkdir -p "$root/conf"
    case "$id" in
      web-*) role=web ;; db-*) role=db ;; broken-*) role=broken ;; *) role=new ;;
    esac
    local wait=2
    # the pending minion retries auth at salt's default pace, to keep the event bus quiet
    [ "$id" = new-01 ] && wait=10
    cat >"$root/conf/minion" <<EOF
# Generated by end2end/salt-lab/lab.sh; rewritten on every start.
id: $id
user: $user
root_dir: $root
master: 127.0.0.1
master_port: $LAB_RET_PORT
publish_port: $LAB_PUBLISH_PORT
acceptance_wait_time: $wait
log_level_logfile: info
grains:
  roles:
    - $role
  halite_lab: true
EOF
  done
}

# A dpkg admin dir per minion: a copy of the host's package status plus the empty dirs dpkg
# needs. Kept across restarts (like the keys), so a package installed by pkg-install stays
# until pkg-remove or clean. Without dpkg on the host the database starts empty.
prepare_dpkg() {
  local id admin
  for id in "${ALL_MINIONS[@]}"; do
    admin="$(minion_admindir "$id")"
    [ -f "$admin/status" ] && continue
    mkdir -p "$admin/info" "$admin/updates" "$admin/triggers" "$admin/parts" "$(minion_instdir "$id")"
    if [ -r /var/lib/dpkg/status ]; then
      cp /var/lib/dpkg/status "$admin/status"
    else
      : >"$admin/status"
    fi
    : >"$admin/available"
  done
}

# ---------------------------------------------------------------- waiting

api_login_code() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
    -H 'Accept: application/json' -H 'Content-Type: application/json' \
    -d "{\"username\": \"$LAB_API_USER\", \"password\": \"$LAB_API_PASSWORD\", \"eauth\": \"file\"}" \
    "$API_URL/login" 2>/dev/null || true
}

# prints the ids among $@ that do not answer test.ping; empty output = all answer
unanswered_pings() {
  local list out
  list="$(IFS=,; echo "$*")"
  out="$("$VENV/bin/salt" -c "$CLI_CONF_DIR" -L "$list" test.ping --out=json --static -t 3 2>/dev/null || true)"
  printf '%s' "$out" | "$VENV/bin/python" -c '
import json, sys
want = sys.argv[1:]
try:
    got = json.loads(sys.stdin.read() or "{}")
except ValueError:
    got = {}
print(" ".join(m for m in want if got.get(m) is not True))
' "$@"
}

show_failure() { # $1 = message
  log "ERROR: $1"
  local f
  for f in "$MASTER_LOG" "$API_LOG" $(for id in "${ALL_MINIONS[@]}"; do minion_log "$id"; done) \
           "$LAB_DIR"/logs/*.launch.log; do
    [ -s "$f" ] || continue
    printf '\n----- tail of %s -----\n' "$f" >&2
    tail -n 15 "$f" >&2
  done
  exit 1
}

deadline_left() { echo $((DEADLINE - SECONDS)); }

key_state() { # prints accepted|pending|rejected|denied|none
  local id="$1"
  if [ -e "$MASTER_PKI/minions/$id" ]; then echo accepted
  elif [ -e "$MASTER_PKI/minions_pre/$id" ]; then echo pending
  elif [ -e "$MASTER_PKI/minions_rejected/$id" ]; then echo rejected
  elif [ -e "$MASTER_PKI/minions_denied/$id" ]; then echo denied
  else echo none
  fi
}

# ---------------------------------------------------------------- daemons

launch() { # $1 = name, rest = command
  local name="$1"; shift
  mkdir -p "$LAB_DIR/logs"
  "$@" >"$LAB_DIR/logs/$name.launch.log" 2>&1 || show_failure "could not launch $name: $*"
}

start_master() {
  if lab_pid "$MASTER_PID" >/dev/null; then return 0; fi
  local p
  for p in "$LAB_PUBLISH_PORT" "$LAB_RET_PORT"; do
    port_open "$p" && die "port $p on 127.0.0.1 is taken by another process (set LAB_PUBLISH_PORT / LAB_RET_PORT)"
  done
  log "starting salt-master (ports $LAB_PUBLISH_PORT/$LAB_RET_PORT)"
  launch master "$VENV/bin/salt-master" -c "$MASTER_CONF_DIR" -d
  while ! { lab_pid "$MASTER_PID" >/dev/null && port_open "$LAB_RET_PORT"; }; do
    [ "$(deadline_left)" -gt 0 ] || show_failure "salt-master did not come up"
    sleep 0.3
  done
}

start_api() {
  if lab_pid "$API_PID" >/dev/null; then return 0; fi
  port_open "$LAB_API_PORT" && die "port $LAB_API_PORT on 127.0.0.1 is taken by another process (set LAB_API_PORT)"
  log "starting salt-api on $API_URL"
  launch api "$VENV/bin/salt-api" -c "$MASTER_CONF_DIR" -d
}

wait_api() {
  local code
  while :; do
    code="$(api_login_code)"
    [ "$code" = 200 ] && return 0
    [ "$(deadline_left)" -gt 0 ] || show_failure "salt-api did not answer POST /login with 200 (last status: ${code:-none})"
    sleep 0.5
  done
}

start_minion() { # $1 = id
  local id="$1"
  if lab_pid "$(minion_pidfile "$id")" >/dev/null; then return 0; fi
  log "starting salt-minion $id"
  # salt's cmd.run hands the minion's environment to dpkg-query (aptpkg's list_pkgs)
  launch "minion-$id" env DPKG_ADMINDIR="$(minion_admindir "$id")" \
    "$VENV/bin/salt-minion" -c "$(minion_root "$id")/conf" -d
}

stop_minion() { stop_pid_file "salt-minion $1" "$(minion_pidfile "$1")"; }

# accept the keys of ACCEPTED_MINIONS, wait until PENDING_MINIONS' keys are pending
settle_keys() {
  local id st
  for id in "${ALL_MINIONS[@]}"; do
    while :; do
      st="$(key_state "$id")"
      if [ "$st" = none ]; then
        [ "$(deadline_left)" -gt 0 ] || show_failure "the key of $id never reached the master"
        sleep 0.3
        continue
      fi
      break
    done
    case " ${ACCEPTED_MINIONS[*]} " in
      *" $id "*)
        if [ "$st" = pending ]; then
          log "accepting key of $id"
          "$VENV/bin/salt-key" -c "$MASTER_CONF_DIR" -a "$id" -y >>"$LAB_DIR/logs/salt-key.log" 2>&1 ||
            show_failure "salt-key -a $id failed"
        elif [ "$st" != accepted ]; then
          show_failure "the key of $id is $st (try: lab.sh reset-keys)"
        fi
        ;;
    esac
  done
}

# Salt 3008 race (seen about once in 20 starts): a minion that re-authenticates while salt-key
# accepts its key can get its pending copy re-written after the accept, leaving the same key in
# both minions/ and minions_pre/. Salt reads minions_pre first, so the minion stays "pending"
# forever. Drop such a stale pending copy when it holds the same key as the accepted one.
repair_key_race() {
  local id
  for id in "${ACCEPTED_MINIONS[@]}"; do
    if [ -f "$MASTER_PKI/minions/$id" ] && [ -f "$MASTER_PKI/minions_pre/$id" ] &&
       cmp -s <(tr -d '[:space:]' <"$MASTER_PKI/minions/$id") <(tr -d '[:space:]' <"$MASTER_PKI/minions_pre/$id"); then
      log "key of $id is both accepted and pending (salt key race): removing the pending copy"
      rm -f "$MASTER_PKI/minions_pre/$id"
    fi
  done
}

# A key deletion leaves a drop file that the master's maintenance loop turns into an AES key
# rotation; wait for it, so the pings below make every minion re-authenticate with the new key
# now instead of in the middle of a later job.
wait_aes_rotated() {
  local dfn="$MASTER_ROOT/var/cache/salt/master/.dfn"
  while [ -e "$dfn" ]; do
    [ "$(deadline_left)" -gt 0 ] || show_failure "the master did not rotate its AES key (${dfn} stays)"
    sleep 0.2
  done
}

wait_pings() {
  local missing last=""
  wait_aes_rotated
  while :; do
    repair_key_race
    missing="$(unanswered_pings "${ACCEPTED_MINIONS[@]}")"
    [ -z "$missing" ] && return 0
    [ "$missing" != "$last" ] && log "waiting for test.ping from: $missing"
    last="$missing"
    [ "$(deadline_left)" -gt 0 ] || show_failure "minions not answering test.ping: $missing"
    sleep 1
  done
}

print_info() {
  local v
  v="$(lab_salt_full_version || true)"
  cat <<EOF
Salt lab is up: salt ${v:-?} in $LAB_DIR
  API:      $API_URL
  user:     $LAB_API_USER
  password: $LAB_API_PASSWORD
  eauth:    file
  minions:  ${ACCEPTED_MINIONS[*]} (accepted), ${PENDING_MINIONS[*]} (pending)
  eval "\$($0 env)"  exports SALT_API_URL / SALT_API_USER / SALT_API_PASSWORD / SALT_API_EAUTH
EOF
}

any_running() {
  lab_pid "$MASTER_PID" >/dev/null && return 0
  lab_pid "$API_PID" >/dev/null && return 0
  local id
  for id in "${ALL_MINIONS[@]}"; do
    lab_pid "$(minion_pidfile "$id")" >/dev/null && return 0
  done
  [ -n "$(lab_pgrep)" ]
}

cmd_start() {
  local t0=$SECONDS
  cmd_install
  local recorded
  recorded="$(lab_recorded_version || true)"
  if [ -n "$recorded" ] && [ "$recorded" != "$SALT_VERSION" ]; then
    if any_running; then
      die "the lab in $LAB_DIR runs SALT_VERSION=$recorded; run 'lab.sh stop' first (or use another LAB_DIR)"
    fi
    log "the lab in $LAB_DIR was made with SALT_VERSION=$recorded: wiping it"
    rm -rf "$LAB_DIR"
  fi
  DEADLINE=$((SECONDS + LAB_TIMEOUT))
  mkdir -p "$LAB_DIR"
  write_configs
  prepare_dpkg
  printf 'SALT_VERSION=%s\nSALT_FULL_VERSION=%s\nVENV=%s\n' \
    "$SALT_VERSION" "$(venv_salt_version)" "$VENV" >"$LAB_ENV_FILE"
  start_master
  local id
  for id in "${ALL_MINIONS[@]}"; do start_minion "$id"; done
  start_api
  settle_keys
  wait_api
  wait_pings
  log "ready in $((SECONDS - t0)) s"
  print_info
}

cmd_stop() {
  # minions first: with their master gone some releases (3007) hang in shutdown until SIGKILL
  local id pairs=("salt-api=$API_PID")
  for id in "${ALL_MINIONS[@]}"; do pairs+=("salt-minion $id=$(minion_pidfile "$id")"); done
  stop_pid_files "${pairs[@]}"
  stop_pid_file salt-master "$MASTER_PID"
  # fall back to any process still naming this lab's config dirs (daemon children, lost pid files)
  local pids i
  for i in $(seq 1 20); do
    mapfile -t pids < <(lab_pgrep)
    [ "${#pids[@]}" -eq 0 ] && break
    [ "$i" = 1 ] && log "stopping leftover lab processes: ${pids[*]}"
    if [ "$i" -lt 15 ]; then kill -TERM "${pids[@]}" 2>/dev/null || true; else kill -KILL "${pids[@]}" 2>/dev/null || true; fi
    sleep 0.5
  done
  mapfile -t pids < <(lab_pgrep)
  [ "${#pids[@]}" -eq 0 ] || die "could not stop: ${pids[*]}"
  log "lab in $LAB_DIR is stopped"
}

cmd_status() {
  local rc=0 pid id code
  if [ -f "$LAB_ENV_FILE" ]; then
    echo "lab dir: $LAB_DIR (salt $(lab_salt_full_version), SALT_VERSION=$(lab_recorded_version))"
  else
    echo "lab dir: $LAB_DIR (never started)"
  fi
  if pid="$(lab_pid "$MASTER_PID")"; then echo "salt-master  running  pid $pid  ports $LAB_PUBLISH_PORT/$LAB_RET_PORT"
  else echo "salt-master  stopped"; rc=1; fi
  if pid="$(lab_pid "$API_PID")"; then
    code="$(api_login_code)"
    echo "salt-api     running  pid $pid  $API_URL  POST /login -> ${code:-no answer}"
    [ "$code" = 200 ] || rc=1
  else echo "salt-api     stopped"; rc=1; fi
  for id in "${ALL_MINIONS[@]}"; do
    if pid="$(lab_pid "$(minion_pidfile "$id")")"; then
      printf 'minion %-10s running  pid %s  key %s\n' "$id" "$pid" "$(key_state "$id")"
    else
      printf 'minion %-10s stopped  key %s\n' "$id" "$(key_state "$id")"
    fi
  done
  return $rc
}

cmd_stop_api() {
  stop_pid_file salt-api "$API_PID"
  # salt-api serves from a child process (RunNetapi); if the parent died it lives on as an
  # orphan holding the port, so stop whatever salt-api runs on this lab's config.
  local i
  pkill -TERM -f "salt-api -c $MASTER_CONF_DIR" 2>/dev/null || true
  for i in $(seq 1 100); do
    pgrep -f "salt-api -c $MASTER_CONF_DIR" >/dev/null || return 0
    sleep 0.1
  done
  pkill -KILL -f "salt-api -c $MASTER_CONF_DIR" 2>/dev/null || true
}

cmd_start_api() {
  venv_ok || die "no venv for SALT_VERSION=$SALT_VERSION: run 'lab.sh start'"
  lab_pid "$MASTER_PID" >/dev/null || die "salt-master is not running: run 'lab.sh start'"
  DEADLINE=$((SECONDS + LAB_TIMEOUT))
  start_api
  wait_api
  log "salt-api answers on $API_URL"
}

# A second salt-api on LAB_API_PORT+1 whose master config leaves wheel out of
# netapi_enable_clients (the Diagnostics tests' misconfigured master); prints its URL.
NOWHEEL_CONF_DIR="$MASTER_ROOT/conf-nowheel"
NOWHEEL_PID="$MASTER_ROOT/var/run/salt-api-nowheel.pid"
cmd_start_api_nowheel() {
  venv_ok || die "no venv for SALT_VERSION=$SALT_VERSION: run 'lab.sh start'"
  lab_pid "$MASTER_PID" >/dev/null || die "salt-master is not running: run 'lab.sh start'"
  local port=$((LAB_API_PORT + 1)) code
  if ! lab_pid "$NOWHEEL_PID" >/dev/null; then
    port_open "$port" && die "port $port on 127.0.0.1 is taken by another process"
    mkdir -p "$NOWHEEL_CONF_DIR"
    sed -e '/^  - wheel/d' -e "s/^  port: $LAB_API_PORT\$/  port: $port/" \
      "$MASTER_CONF_DIR/master" >"$NOWHEEL_CONF_DIR/master"
    printf 'api_pidfile: %s\napi_logfile: %s\n' "$NOWHEEL_PID" \
      "$MASTER_ROOT/var/log/salt/api-nowheel" >>"$NOWHEEL_CONF_DIR/master"
    launch api-nowheel "$VENV/bin/salt-api" -c "$NOWHEEL_CONF_DIR" -d
  fi
  DEADLINE=$((SECONDS + LAB_TIMEOUT))
  while :; do
    code="$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
      -H 'Accept: application/json' -H 'Content-Type: application/json' \
      -d "{\"username\": \"$LAB_API_USER\", \"password\": \"$LAB_API_PASSWORD\", \"eauth\": \"file\"}" \
      "http://127.0.0.1:$port/login" 2>/dev/null || true)"
    [ "$code" = 200 ] && break
    [ "$(deadline_left)" -gt 0 ] || show_failure "the no-wheel salt-api did not answer (last status: ${code:-none})"
    sleep 0.5
  done
  echo "http://127.0.0.1:$port"
}

cmd_stop_api_nowheel() {
  stop_pid_file salt-api-nowheel "$NOWHEEL_PID"
  pkill -TERM -f "salt-api -c $NOWHEEL_CONF_DIR" 2>/dev/null || true
  local i
  for i in $(seq 1 100); do
    pgrep -f "salt-api -c $NOWHEEL_CONF_DIR" >/dev/null || return 0
    sleep 0.1
  done
  pkill -KILL -f "salt-api -c $NOWHEEL_CONF_DIR" 2>/dev/null || true
}

cmd_env() {
  printf 'export SALT_API_URL=%q\n' "$API_URL"
  printf 'export SALT_API_USER=%q\n' "$LAB_API_USER"
  printf 'export SALT_API_PASSWORD=%q\n' "$LAB_API_PASSWORD"
  printf 'export SALT_API_EAUTH=file\n'
  printf 'export SALT_LAB_DIR=%q\n' "$LAB_DIR"
  local v
  v="$(lab_salt_full_version || true)"
  [ -n "$v" ] && printf 'export SALT_LAB_VERSION=%q\n' "$v"
  return 0
}

# put every key back as the lab wants it: new-01 pending, the others accepted
cmd_reset_keys() {
  venv_ok || die "no venv for SALT_VERSION=$SALT_VERSION: run 'lab.sh start'"
  lab_pid "$MASTER_PID" >/dev/null || die "salt-master is not running: run 'lab.sh start'"
  DEADLINE=$((SECONDS + LAB_TIMEOUT))
  local id st want
  for id in "${ALL_MINIONS[@]}"; do
    st="$(key_state "$id")"
    case " ${PENDING_MINIONS[*]} " in *" $id "*) want=pending ;; *) want=accepted ;; esac
    if [ "$st" = "$want" ] || { [ "$want" = accepted ] && [ "$st" = pending ]; }; then
      lab_pid "$(minion_pidfile "$id")" >/dev/null || start_minion "$id"
      continue
    fi
    log "key of $id is $st, want $want: deleting it and restarting the minion"
    mkdir -p "$LAB_DIR/logs"
    "$VENV/bin/salt-key" -c "$MASTER_CONF_DIR" -d "$id" -y --include-rejected --include-denied \
      >>"$LAB_DIR/logs/salt-key.log" 2>&1 ||
      "$VENV/bin/salt-key" -c "$MASTER_CONF_DIR" -d "$id" -y >>"$LAB_DIR/logs/salt-key.log" 2>&1
    stop_minion "$id"
    start_minion "$id"
  done
  settle_keys
  wait_pings
  # A deleted key comes back only when the minion re-authenticates (up to ~10 s for new-01).
  for id in "${PENDING_MINIONS[@]}"; do
    until [ "$(key_state "$id")" = pending ]; do
      [ "$SECONDS" -lt "$DEADLINE" ] || die "key of $id did not come back as pending"
      sleep 0.5
    done
    # manage.present counts every minion with cached grains whose address holds a connection to
    # the publish port, whatever its key. Salt drops a deleted key's cache, but a return still in
    # flight can write it again (seen once in a clean-clone run: 5 minions "connected" with
    # new-01 pending). A pending minion has no cached data: drop any that is left.
    rm -f "$MASTER_ROOT/var/cache/salt/master/grains/$id.p" "$MASTER_ROOT/var/cache/salt/master/pillar/$id.p"
  done
  log "keys reset"
}

# $1 must name one of the lab's minions
check_minion_id() {
  local id="${1:-}"
  [ -n "$id" ] || die "give a minion id: one of ${ALL_MINIONS[*]}"
  case " ${ALL_MINIONS[*]} " in
    *" $id "*) ;;
    *) die "no lab minion '$id': one of ${ALL_MINIONS[*]}" ;;
  esac
}

# processes whose command line names this minion's config dir (the daemon and its job processes)
minion_pgrep() { # $1 = id
  local re
  re="$(printf '%s' "$(minion_root "$1")/conf" | sed 's/[]\/$*.^[()+?{}|]/\\&/g')"
  pgrep -f -- "-c ${re}( |$)" || true
}

# stop one minion; returns once no process of it is left (3007 job processes linger: SIGKILL)
cmd_stop_minion() {
  check_minion_id "${1:-}"
  local id="$1" pids i
  stop_minion "$id"
  for i in $(seq 1 40); do
    mapfile -t pids < <(minion_pgrep "$id")
    [ "${#pids[@]}" -eq 0 ] && break
    [ "$i" = 1 ] && log "stopping leftover processes of $id: ${pids[*]}"
    if [ "$i" -lt 30 ]; then kill -TERM "${pids[@]}" 2>/dev/null || true; else kill -KILL "${pids[@]}" 2>/dev/null || true; fi
    sleep 0.5
  done
  mapfile -t pids < <(minion_pgrep "$id")
  [ "${#pids[@]}" -eq 0 ] || die "could not stop minion $id: ${pids[*]}"
  log "minion $id is stopped"
}

# start one minion; returns once it answers test.ping (a minion whose key is not accepted
# cannot answer: then only once its process runs)
cmd_start_minion() {
  check_minion_id "${1:-}"
  local id="$1" st
  venv_ok || die "no venv for SALT_VERSION=$SALT_VERSION: run 'lab.sh start'"
  lab_pid "$MASTER_PID" >/dev/null || die "salt-master is not running: run 'lab.sh start'"
  DEADLINE=$((SECONDS + LAB_TIMEOUT))
  start_minion "$id"
  until lab_pid "$(minion_pidfile "$id")" >/dev/null; do
    [ "$(deadline_left)" -gt 0 ] || show_failure "salt-minion $id did not come up"
    sleep 0.3
  done
  st="$(key_state "$id")"
  if [ "$st" != accepted ]; then
    log "minion $id runs; its key is $st, so it cannot answer test.ping"
    return 0
  fi
  local missing
  while :; do
    repair_key_race
    missing="$(unanswered_pings "$id")"
    [ -z "$missing" ] && break
    [ "$(deadline_left)" -gt 0 ] || show_failure "minion $id does not answer test.ping"
    sleep 1
  done
  log "minion $id answers test.ping"
}

# dpkg on one minion's database and tree, never the host's (its log goes there too)
minion_dpkg() { # $1 = id, rest = dpkg args
  local id="$1"; shift
  [ -f "$(minion_admindir "$id")/status" ] || die "minion $id has no dpkg database yet: run 'lab.sh start'"
  dpkg --admindir="$(minion_admindir "$id")" --instdir="$(minion_instdir "$id")" \
    --log="$(minion_root "$id")/var/log/dpkg.log" --force-not-root "$@"
}

# build a package with one file (/opt/halite-lab/NAME/VERSION, no maintainer scripts) and
# install it into one minion's database; a fresh pkg.list_pkgs on that minion lists it
cmd_pkg_install() {
  [ $# -eq 3 ] || die "usage: lab.sh pkg-install ID NAME VERSION"
  check_minion_id "$1"
  local id="$1" name="$2" version="$3" tmp
  [[ "$name" =~ ^[a-z0-9][a-z0-9+.-]+$ ]] || die "'$name' is not a valid Debian package name"
  [[ "$version" =~ ^([0-9]+:)?[0-9][A-Za-z0-9.+~:-]*$ ]] || die "'$version' is not a valid Debian version"
  command -v dpkg-deb >/dev/null || die "dpkg-deb is not installed"
  tmp="$(mktemp -d)"
  mkdir -p "$tmp/pkg/DEBIAN" "$tmp/pkg/opt/halite-lab/$name"
  printf '%s\n' "Package: $name" "Version: $version" "Architecture: all" \
    "Maintainer: Halite salt lab <lab@halite.invalid>" "Section: misc" "Priority: optional" \
    "Description: Halite salt lab test package" \
    " Installed by lab.sh pkg-install into one minion's dpkg database." >"$tmp/pkg/DEBIAN/control"
  printf '%s %s\n' "$name" "$version" >"$tmp/pkg/opt/halite-lab/$name/VERSION"
  if ! dpkg-deb --root-owner-group --build "$tmp/pkg" "$tmp/pkg.deb" >"$tmp/build.log" 2>&1 ||
     ! minion_dpkg "$id" -i "$tmp/pkg.deb" >"$tmp/install.log" 2>&1; then
    cat "$tmp/build.log" "$tmp/install.log" >&2 2>/dev/null || true
    rm -rf "$tmp"
    die "could not install $name $version on $id"
  fi
  rm -rf "$tmp"
  log "installed $name $version on $id"
}

# purge a package from one minion's database (a package it does not have is not an error)
cmd_pkg_remove() {
  [ $# -eq 2 ] || die "usage: lab.sh pkg-remove ID NAME"
  check_minion_id "$1"
  local id="$1" name="$2" out
  if ! out="$(minion_dpkg "$id" -P "$name" 2>&1)"; then
    printf '%s\n' "$out" >&2
    die "could not remove $name from $id"
  fi
  log "removed $name from $id"
}

salt_cli() { # $1 = tool, rest = args
  local tool="$1"; shift
  venv_ok || die "no venv for SALT_VERSION=$SALT_VERSION: run 'lab.sh start'"
  exec "$VENV/bin/$tool" -c "$MASTER_CONF_DIR" "$@"
}

cmd_logs() {
  local f
  for f in "$MASTER_LOG" "$API_LOG" $(for id in "${ALL_MINIONS[@]}"; do minion_log "$id"; done); do
    printf '\n----- %s -----\n' "$f"
    tail -n "${LINES_PER_LOG:-20}" "$f" 2>/dev/null || echo "(missing)"
  done
}

usage() {
  sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  stop-api) cmd_stop_api ;;
  start-api) cmd_start_api ;;
  start-api-nowheel) cmd_start_api_nowheel ;;
  stop-api-nowheel) cmd_stop_api_nowheel ;;
  stop-minion) cmd_stop_minion "$@" ;;
  start-minion) cmd_start_minion "$@" ;;
  env) cmd_env ;;
  reset-keys) cmd_reset_keys ;;
  clean) cmd_stop; rm -rf "$LAB_DIR"; log "removed $LAB_DIR" ;;
  salt | salt-run | salt-key) salt_cli "$cmd" "$@" ;;
  logs) cmd_logs ;;
  pkg-install) cmd_pkg_install "$@" ;;
  pkg-remove) cmd_pkg_remove "$@" ;;
  *) usage ;;
esac
