#!/usr/bin/env bash
# bench/load.sh — concurrent pushes and pulls: dozens of virtual clients (bench/loadgen, the Rust
# `rreg-bench load`) against rreg-server and CNCF distribution 2.8.2 (Debian `docker-registry`), the
# systems alternated within each round, medians of N rounds after one warm-up. See bench/README.md.
#
# Usage:
#   bench/load.sh [--runs N] [--clients C] [--iterations I] [--quick]
#     --runs N        rounds after the warm-up (default 3)
#     --clients C     virtual clients at once (default 48)
#     --iterations I  push + pull iterations per client (default 8; the warm-up does 2)
#     --quick         1 round, 16 clients × 3 iterations: a smoke test, not a measurement
#
# Each client loops: GET /token (rreg) → per layer HEAD + monolithic (POST, PUT) or chunked (POST,
# 1 MiB PATCHes with Content-Range, PUT) upload of 2–4 random layers of 1 KiB–4 MiB (log-uniform),
# the config, the manifest PUT under a tag; then a new token and the image pulled back (manifest by
# tag, every blob, SHA-256 checked); with a chance of 0.3 also another client's image. Any unexpected
# status, short body or digest mismatch is an error, and the script fails when there is any.
#
# The systems (BENCH_LOAD_SYSTEMS, default all four, in this order within a round):
#   rreg-token      rreg-server, SQLite + local folder, auth on: a user `loadtest`, Docker's token
#                   flow (GET /token with Basic credentials and the scope, then Bearer)
#   dist-htpasswd   distribution with htpasswd (bcrypt) auth: Basic credentials on every request
#   rreg-noauth     rreg-server with auth.enabled = false
#   dist-noauth     distribution without auth
# Figures per system: requests, errors, wall time, requests/s, MB/s pushed and pulled, p50/p99 per
# request type, the server's peak RSS (VmHWM, reset before the load) and CPU time, the generator's CPU.
# Writes bench/results/load-<date>[-quick].md.
#
# Knobs (environment): RREG_BIN, BENCH_BIN (skip the cargo builds), BENCH_TMPDIR (default /var/tmp;
# a real disk), BENCH_LOAD_SYSTEMS, BENCH_LOAD_MAX_SECS (default 300: no iteration starts later),
# BENCH_KEEP=1 (keep the work dir: server logs, generator JSON).
# Servers listen on 127.0.0.1 only; only the processes started here are stopped, by PID.

set -Eeuo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench

RUNS=3 CLIENTS=48 ITERS=8 QUICK=0
ARGS="$*"
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?}; shift 2 ;;
    --clients) CLIENTS=${2:?}; shift 2 ;;
    --iterations) ITERS=${2:?}; shift 2 ;;
    --quick) QUICK=1; RUNS=1 CLIENTS=16 ITERS=3; shift ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "load.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
for v in "$RUNS" "$CLIENTS" "$ITERS"; do
  [[ $v =~ ^[1-9][0-9]*$ ]] || { echo "load.sh: want positive numbers, got '$v'" >&2; exit 2; }
done
WARM_ITERS=2
((ITERS < WARM_ITERS)) && WARM_ITERS=$ITERS
MAX_SECS=${BENCH_LOAD_MAX_SECS:-300}
read -r -a SYSTEMS <<<"${BENCH_LOAD_SYSTEMS:-rreg-token dist-htpasswd rreg-noauth dist-noauth}"
USER_NAME=loadtest
USER_PW=load-test-password-1
ADMIN_PW=load-admin-password-1

log() { printf '%s\n' "$*" >&2; }
die() {
  log "" "load.sh: FAILED: $*"
  if [[ -n ${SRV_LOG:-} && -s ${SRV_LOG:-/dev/null} ]]; then
    log "--- last lines of the server's log ($SRV_LOG):"
    tail -n 20 "$SRV_LOG" >&2 || true
  fi
  exit 1
}
trap 'die "line $LINENO: \`$BASH_COMMAND\` exited with $?"' ERR

for tool in docker-registry htpasswd curl jq python3 /usr/bin/time; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install docker-registry apache2-utils curl jq python3 time)"
done

# ---------------------------------------------------------------- binaries
if [[ -z ${RREG_BIN:-} || -z ${BENCH_BIN:-} ]]; then
  log "building rreg-server and rreg-bench (cargo build --release)…"
  (cd "$ROOT" && cargo build --release -q -p rreg-server -p rreg-bench) || die "cargo build failed"
  TARGET=$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 | jq -r .target_directory)
  RREG_BIN=${RREG_BIN:-$TARGET/release/rreg-server}
  BENCH_BIN=${BENCH_BIN:-$TARGET/release/rreg-bench}
fi
[[ -x $RREG_BIN ]] || die "no rreg-server at $RREG_BIN"
[[ -x $BENCH_BIN ]] || die "no rreg-bench at $BENCH_BIN"

# ---------------------------------------------------------------- work dir, cleanup
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
WORK=$(mktemp -d "$TMPBASE/rreg-bench-load.XXXXXX")
SRV_PID='' SRV_LOG=''
cleanup() {
  local rc=$?
  trap - ERR
  if [[ -n $SRV_PID ]] && kill -0 "$SRV_PID" 2>/dev/null; then
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
  fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$WORK/results.tsv
: >"$RESULTS"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hwm_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SRV_PID/status"; }
cpu_ticks() { sed 's/.*) //' "/proc/$SRV_PID/stat" | awk '{ print $12 + $13 }'; }
CLK_TCK=$(getconf CLK_TCK)

wait_http() { # $1 = URL; waits until it answers at all while the server lives
  local i
  for i in $(seq 1 300); do
    kill -0 "$SRV_PID" 2>/dev/null || die "the server exited while starting"
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  die "$1 did not answer within 30 s"
}

start_rreg() { # $1 = data dir, $2 = token | noauth; sets SRV_PID, BASE, AUTH_ARGS, NS
  local port
  port=$(free_port)
  SRV_LOG=$WORK/$SYS.$RUN.log
  local env=(RUST_LOG=warn RREG__GC__INTERVAL_SECS=0)
  if [[ $2 == token ]]; then
    # Every virtual client comes from 127.0.0.1: the per-address /token rate limit (600 a minute)
    # would answer them 429 where 48 real clients would have 48 addresses.
    env+=(RREG_ADMIN_PASSWORD=$ADMIN_PW RREG__AUTH__LOGIN_RATE_PER_MINUTE=0)
  else
    env+=(RREG__AUTH__ENABLED=false)
  fi
  env "${env[@]}" "$RREG_BIN" serve --listen "127.0.0.1:$port" --data-dir "$1" >"$WORK/$SYS.$RUN.out" 2>"$SRV_LOG" &
  SRV_PID=$!
  BASE=http://127.0.0.1:$port
  wait_http "$BASE/healthz"
  if [[ $2 == token ]]; then
    local code
    code=$(curl -sS -o "$WORK/user.json" -w '%{http_code}' -u "admin:$ADMIN_PW" -H 'Content-Type: application/json' \
      --data "{\"name\":\"$USER_NAME\",\"password\":\"$USER_PW\"}" "$BASE/api/v1/users")
    [[ $code == 201 ]] || die "creating the user $USER_NAME answered $code: $(cat "$WORK/user.json")"
    AUTH_ARGS=(--auth token --user "$USER_NAME" --password "$USER_PW")
    NS=$USER_NAME
  else
    AUTH_ARGS=(--auth none)
    NS=load
  fi
}

start_dist() { # $1 = data dir, $2 = htpasswd | noauth
  local port auth=''
  port=$(free_port)
  SRV_LOG=$WORK/$SYS.$RUN.log
  if [[ $2 == htpasswd ]]; then
    htpasswd -Bbn "$USER_NAME" "$USER_PW" >"$WORK/htpasswd" 2>/dev/null
    auth=$'auth:\n  htpasswd:\n    realm: bench\n    path: '"$WORK/htpasswd"
    AUTH_ARGS=(--auth basic --user "$USER_NAME" --password "$USER_PW")
  else
    AUTH_ARGS=(--auth none)
  fi
  NS=load
  cat >"$WORK/dist.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: rreg-bench-not-a-secret
$auth
EOF
  docker-registry serve "$WORK/dist.yml" >"$SRV_LOG" 2>&1 &
  SRV_PID=$!
  BASE=http://127.0.0.1:$port
  wait_http "$BASE/v2/"
}

stop_server() {
  local i
  kill "$SRV_PID" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SRV_PID" 2>/dev/null && kill -KILL "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=''
}

run_one() { # $1 = system, $2 = run (0 = warm-up)
  SYS=$1 RUN=$2
  local data=$WORK/data-$SYS-$RUN iters=$ITERS out=$WORK/$SYS.$RUN.json c0 c1
  ((RUN == 0)) && iters=$WARM_ITERS
  mkdir -p "$data"
  case $SYS in
    rreg-token) start_rreg "$data" token ;;
    rreg-noauth) start_rreg "$data" noauth ;;
    dist-htpasswd) start_dist "$data" htpasswd ;;
    dist-noauth) start_dist "$data" noauth ;;
    *) die "unknown system $SYS" ;;
  esac
  local exe
  exe=$(readlink "/proc/$SRV_PID/exe")
  [[ $exe == "$RREG_BIN" || $exe == *docker-registry ]] || die "PID $SRV_PID is $exe, not the server"
  echo 5 >"/proc/$SRV_PID/clear_refs"
  c0=$(cpu_ticks)
  /usr/bin/time -f '%U %S %M' -o "$WORK/time.out" "$BENCH_BIN" load --url "$BASE" "${AUTH_ARGS[@]}" \
    --namespace "$NS" --clients "$CLIENTS" --iterations "$iters" --max-secs "$MAX_SECS" \
    --seed "$((RUN + 1))" >"$out" 2>"$WORK/gen.err" || {
    log "$(head -c 3000 "$out")"
    die "$SYS run $RUN: the generator reported errors: $(tail -n 5 "$WORK/gen.err")"
  }
  c1=$(cpu_ticks)
  kill -0 "$SRV_PID" 2>/dev/null || die "$SYS: the server died during the load"
  local hwm cpu gcpu gmax
  hwm=$(hwm_mib)
  cpu=$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')
  read -r gu gs gmax <"$WORK/time.out"
  gcpu=$(awk -v u="$gu" -v s="$gs" 'BEGIN { printf "%.2f", u + s }')
  python3 - "$out" "$SYS" "$RUN" "$hwm" "$cpu" "$gcpu" "$gmax" >>"$RESULTS" <<'PY'
import json, sys
out, system, run, hwm, cpu, gcpu, gmax = sys.argv[1:8]
v = json.load(open(out))
rows = {
    "requests": v["requests"], "errors": v["errors"], "wall_s": v["wall_s"],
    "requests_per_s": v["requests_per_s"], "mb_per_s_up": v["mb_per_s_up"],
    "mb_per_s_down": v["mb_per_s_down"], "images_pushed": v["images_pushed"],
    "images_pulled": v["images_pulled"], "iterations": v["iterations"],
    "stopped_by_time": int(v["run"]["stopped_by_time"]),
    "images_per_s": v["images_pushed"] / v["wall_s"],
    "hwm_mib": float(hwm), "server_cpu_s": float(cpu), "client_cpu_s": float(gcpu),
    "client_maxrss_mib": int(gmax) / 1024,
}
for kind, k in v["kinds"].items():
    for p in ("n", "p50_ms", "p99_ms"):
        rows[f"{kind}|{p}"] = k[p]
for key, value in rows.items():
    print(f"{system}\t{key}\t{run}\t{value}")
PY
  log "  $SYS: $(jq -r '"\(.requests) requests in \(.wall_s * 100 | round / 100) s (\(.requests_per_s | round)/s), \(.errors) errors"' "$out"), peak RSS ${hwm} MiB, server CPU ${cpu} s, generator CPU ${gcpu} s"
  stop_server
  rm -rf "$data"
}

# ---------------------------------------------------------------- the run
META=$WORK/meta.env
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "args=$ARGS"
  echo "runs=$RUNS"
  echo "clients=$CLIENTS"
  echo "iterations=$ITERS"
  echo "warm_iterations=$WARM_ITERS"
  echo "systems=${SYSTEMS[*]}"
  echo "host=$(hostname)"
  echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "nproc=$(nproc)"
  echo "mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "rreg_commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- server oci 2>/dev/null || echo ' + uncommitted changes in server/ or oci/')"
  echo "rreg_bin=$RREG_BIN ($(date -u -r "$RREG_BIN" '+built %Y-%m-%d %H:%M UTC'))"
  echo "distribution_version=$(docker-registry --version | awk '{ print $3 }' | sed 's/+.*//')"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$META"

log "load: ${SYSTEMS[*]}; $CLIENTS clients × $ITERS iterations, $RUNS round(s) after a warm-up of $WARM_ITERS iterations"
for ((r = 0; r <= RUNS; r++)); do
  if ((r == 0)); then log "warm-up:"; else log "round $r/$RUNS:"; fi
  for s in "${SYSTEMS[@]}"; do run_one "$s" "$r"; done
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
notes=(
  "Every system and round runs on a new server process and an empty data dir under $TMPBASE (a real disk), 127.0.0.1 only; the systems alternate within each round, medians over the rounds."
  "rreg-token: rreg-server (SQLite + local folder) with auth on: the user $USER_NAME (created through the API, not an administrator) pushes to and pulls from its own namespace. Each push and each pull gets a new token as docker does (GET /v2/ challenge once per client, then GET /token?service=&scope=repository:NAME:pull,push or :pull with Basic credentials, then Bearer). RREG__AUTH__LOGIN_RATE_PER_MINUTE=0: all clients come from 127.0.0.1, and the per-address limit (600 a minute) would answer them 429 where real clients have their own addresses."
  "dist-htpasswd: distribution with htpasswd auth (bcrypt, htpasswd -B's default cost): Basic credentials on every request, which distribution checks with bcrypt every time (it has no token service of its own)."
  "rreg-noauth / dist-noauth: RREG__AUTH__ENABLED=false / no auth section; the like-for-like comparison without credentials."
  "rreg: RUST_LOG=warn, RREG__GC__INTERVAL_SECS=0 (no collection during the load). distribution: log level warn, access log off, in-memory blob descriptor cache, upload purging off."
  "Generator: bench/loadgen (rreg-bench load), one reqwest client (own keep-alive connection) per virtual client; image layers are random bytes (log-uniform 1 KiB–4 MiB, 2–4 per image, half of them uploaded in 1 MiB PATCHes), the config carries a history entry per layer; tags are i000, i001, … per client repository. Every manifest and blob read back is hashed and compared."
  "Latency is from sending a request to the last byte of its answer, per request type; 'whole blob upload' spans POST … PUT. The generator runs on the same 2 cores as the server: its CPU time is in the table."
  "Peak RSS: VmHWM of the server process, reset (echo 5 > /proc/PID/clear_refs) after start-up and the user's creation, read when the load ends."
)
printf 'notes=%s\n' "$(printf '%s\\n' "${notes[@]}")" >>"$META"

mkdir -p "$BENCH/results"
suffix=''
((QUICK)) && suffix=-quick
OUT=$BENCH/results/load-$(date +%Y-%m-%d)$suffix.md
[[ -e $OUT ]] && OUT=${OUT%.md}-$(date +%H%M%S).md
python3 "$BENCH/lib/load_report.py" "$RESULTS" "$META" "$OUT"
echo
echo "written to ${OUT#"$ROOT"/}"
