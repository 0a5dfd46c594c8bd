#!/usr/bin/env bash
# bench/client.sh — the `rreg` client against skopeo (Debian 12's 1.9), both talking to the same
# release rreg-server (auth on, admin credentials) in the same run, alternated (A B, then B A), medians
# of N runs after one warm-up. See bench/README.md.
#
# Usage:
#   bench/client.sh [--runs N] [--quick]
#     --runs N   runs after the warm-up (default 3)
#     --quick    a 64 MiB image (4 × 8 MiB + 32 MiB) and 1 run: a smoke test, not a measurement
#
# Figures, per client and run:
#   1. push of the 512 MiB image (bench/registry.sh's layout: 4 × 64 MiB + 256 MiB random, uncompressed
#      tar layers), every blob new (a fresh server on an empty data dir):
#        rreg push   vs   skopeo copy --preserve-digests oci:LAYOUT:bench docker://…
#   2. pull of it into a fresh local store / directory from that server:
#        rreg pull   vs   skopeo copy docker://… dir:FRESH
#   3. a no-op re-push of a 10-layer image (10 × 1 MiB random) that the registry already holds
#      under the same tag, 10 times per client and run (median): wall time, and the HTTP requests the
#      server answered (counted from its access log), tokens included.
#   For each: wall time, the client's CPU time and peak RSS (/usr/bin/time), the server's requests.
# Prints a table and writes it to bench/results/client-<date>[-quick].md.
#
# Knobs (environment):
#   RREG_SERVER_BIN=PATH, RREG_BIN=PATH   use these binaries (server, client), skip `cargo build`
#   BENCH_TARGET_DIR      cargo target dir of the release build (default: ../bench-target beside the
#                         repository, so the build never waits for the debug builds' lock)
#   BENCH_CACHE_DIR       where the OCI layouts are kept (default ${XDG_CACHE_HOME:-~/.cache}/rreg-bench)
#   BENCH_TMPDIR          where data, stores and pull dirs go (default /var/tmp); a real disk, not tmpfs
#   BENCH_REPUSH_N=10     no-op re-pushes per client and run (the run's figure is their median)
#   BENCH_KEEP=1          keep the work dir (server logs, client outputs) after the run
#
# Exits non-zero, loudly, when a client fails or the registry does not hold what was pushed.
# Stops only the server it started (by PID) and removes only its own work dir.

set -Eeuo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench

RUNS=3 RUNS_GIVEN=0 QUICK=0
ARGS="$*"
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; RUNS_GIVEN=1; shift 2 ;;
    --runs=*) RUNS=${1#*=}; RUNS_GIVEN=1; shift ;;
    --quick) QUICK=1; shift ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "client.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "client.sh: --runs wants a positive number, got '$RUNS'" >&2; exit 2; }
if ((QUICK)); then
  ((RUNS_GIVEN)) || RUNS=1
  SMALL_MIB=8 BIG_MIB=32
else
  SMALL_MIB=64 BIG_MIB=256
fi
IMAGE_MIB=$((4 * SMALL_MIB + BIG_MIB))
TEN_LAYERS=10 TEN_MIB=1
REPUSH_N=${BENCH_REPUSH_N:-10}
PW=bench-admin-password-1
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json

log() { printf '%s\n' "$*" >&2; }
die() {
  log "" "client.sh: FAILED: $*"
  if [[ -n ${SRV_LOG:-} && -s ${SRV_LOG:-/dev/null} ]]; then
    log "--- last lines of the server's log ($SRV_LOG):"
    tail -n 20 "$SRV_LOG" >&2 || true
  fi
  exit 1
}
trap 'die "line $LINENO: \`$BASH_COMMAND\` exited with $?"' ERR

# ---------------------------------------------------------------- tools
declare -A PKG=([skopeo]=skopeo [curl]=curl [jq]=jq [python3]=python3 [tar]=tar [/usr/bin/time]=time)
missing=()
for cmd in "${!PKG[@]}"; do command -v "$cmd" >/dev/null || missing+=("${PKG[$cmd]}"); done
if ((${#missing[@]})); then
  log "installing missing packages: ${missing[*]}"
  ((EUID == 0)) || die "missing ${missing[*]}; run as root or install them"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -qq && apt-get install -y --no-install-recommends "${missing[@]}" >/dev/null; } ||
    die "apt-get could not install ${missing[*]}"
fi

# ---------------------------------------------------------------- work dir, cleanup
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
mkdir -p "$TMPBASE"
WORK=$(mktemp -d "$TMPBASE/rreg-bench-client.XXXXXX")
SRV_PID='' SRV_LOG=''
cleanup() {
  local rc=$?
  trap - ERR
  if [[ -n $SRV_PID ]] && kill -0 "$SRV_PID" 2>/dev/null; then
    kill "$SRV_PID" 2>/dev/null || true
    wait "$SRV_PID" 2>/dev/null || true
  fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then
    log "work dir kept: $WORK"
  else
    rm -rf "$WORK"
  fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$WORK/results.tsv
: >"$RESULTS"
REC_FILE=$RESULTS
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$REC_FILE"; }

# ---------------------------------------------------------------- build rreg-server and rreg
if [[ -n ${RREG_SERVER_BIN:-} && -n ${RREG_BIN:-} ]]; then
  SERVER_BIN=$RREG_SERVER_BIN CLIENT_BIN=$RREG_BIN
else
  command -v cargo >/dev/null || die "cargo not found (or set RREG_SERVER_BIN and RREG_BIN)"
  export CARGO_TARGET_DIR=${BENCH_TARGET_DIR:-$(dirname "$ROOT")/bench-target}
  log "building rreg-server and rreg (cargo build --release, target dir $CARGO_TARGET_DIR)…"
  (cd "$ROOT" && cargo build --release -p rreg-server -p rreg) || die "cargo build --release failed"
  SERVER_BIN=$CARGO_TARGET_DIR/release/rreg-server CLIENT_BIN=$CARGO_TARGET_DIR/release/rreg
fi
[[ -x $SERVER_BIN ]] || die "no rreg-server binary at $SERVER_BIN"
[[ -x $CLIENT_BIN ]] || die "no rreg binary at $CLIENT_BIN"

# ---------------------------------------------------------------- the OCI layouts (made once, cached)
# shellcheck source=bench/lib/layout.sh
source "$BENCH/lib/layout.sh"
CACHE=${BENCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rreg-bench}
BIG=$CACHE/oci-${IMAGE_MIB}MiB # the same layout (and cache) as bench/registry.sh
TEN=$CACHE/oci-${TEN_LAYERS}x${TEN_MIB}MiB
if [[ ! -f $BIG/.complete ]]; then
  log "creating the OCI layout $BIG (once)…"
  make_layout "$BIG" bench "$SMALL_MIB" "$SMALL_MIB" "$SMALL_MIB" "$SMALL_MIB" "$BIG_MIB"
fi
if [[ ! -f $TEN/.complete ]]; then
  log "creating the OCI layout $TEN (once)…"
  ten=()
  for ((i = 0; i < TEN_LAYERS; i++)); do ten+=("$TEN_MIB"); done
  make_layout "$TEN" bench "${ten[@]}"
fi

load_layout() { # $1 = dir: sources its bench.env (LAYER_DIGESTS, LAYER_SIZES, MANIFEST_DIGEST, …), checks the blobs
  local i f
  # shellcheck source=/dev/null
  source "$1/bench.env"
  # shellcheck disable=SC2153
  for i in "${!LAYER_DIGESTS[@]}"; do
    f=$1/blobs/sha256/${LAYER_DIGESTS[i]#sha256:}
    [[ $(stat -c %s "$f" 2>/dev/null) == "${LAYER_SIZES[i]}" ]] || die "cached layout $1 is damaged; delete it"
  done
}
load_layout "$BIG"
BIG_DIGESTS=("${LAYER_DIGESTS[@]}") BIG_SIZES=("${LAYER_SIZES[@]}") BIG_MANIFEST=$MANIFEST_DIGEST
load_layout "$TEN"
TEN_MANIFEST=$MANIFEST_DIGEST
IMAGE_BYTES=0
for s in "${BIG_SIZES[@]}"; do IMAGE_BYTES=$((IMAGE_BYTES + s)); done

# rreg's local store is an OCI image layout too, naming images by full reference in the ref.name
# annotation: make one for LAYOUT whose blobs are hard links to the layout's (the same files, so the
# same page cache, that skopeo reads), the image named NAME.
make_store() { # $1 = store dir, $2 = layout, $3 = name
  local store=$1 layout=$2 name=$3
  if [[ ! -f $store/oci-layout ]]; then
    mkdir -p "$store/blobs/sha256"
    cp -l "$layout"/blobs/sha256/* "$store/blobs/sha256/" 2>/dev/null ||
      cp "$layout"/blobs/sha256/* "$store/blobs/sha256/"
    cp "$layout/oci-layout" "$store/oci-layout"
  fi
  jq -c --arg n "$name" '.manifests[0].annotations["org.opencontainers.image.ref.name"] = $n | .manifests |= [.[0]]' \
    "$layout/index.json" >"$store/index.json"
}

# ---------------------------------------------------------------- helpers
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
ELAPSED=0
timed() { # runs "$@"; sets ELAPSED to the wall time in seconds
  local t0=$EPOCHREALTIME rc=0
  "$@" || rc=$?
  local t1=$EPOCHREALTIME
  ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  return $rc
}

CLIENT_LOG=$WORK/clients.log
# client SYS FIGURE RUN CMD…: runs CMD under /usr/bin/time, timed; records FIGURE_s, the client's
# CPU time (FIGURE_cpu_s), its peak RSS (FIGURE_rss_mib) and the requests the server answered
# meanwhile (FIGURE_requests, FIGURE_token_requests).
client() {
  local sys=$1 fig=$2 run=$3 tf=$WORK/time.out before after
  shift 3
  before=$(access_lines)
  printf '\n$ %s\n' "$*" >>"$CLIENT_LOG"
  timed timeout 900 /usr/bin/time -o "$tf" -f '%U %S %M' "$@" >>"$CLIENT_LOG" 2>&1 ||
    { tail -n 20 "$CLIENT_LOG" >&2; die "$sys: $fig failed: $*"; }
  after=$(access_lines)
  rec "$sys" "${fig}_s" "$run" "$ELAPSED"
  read -r u s m <"$tf"
  rec "$sys" "${fig}_cpu_s" "$run" "$(awk -v u="$u" -v s="$s" 'BEGIN { printf "%.2f", u + s }')"
  rec "$sys" "${fig}_rss_mib" "$run" "$(awk -v m="$m" 'BEGIN { printf "%.1f", m / 1024 }')"
  rec "$sys" "${fig}_requests" "$run" "$((after - before))"
  grep 'rreg::http' "$SRV_LOG" | tail -n +$((before + 1)) >"$WORK/access.out" || true
  rec "$sys" "${fig}_token_requests" "$run" "$(grep -c 'path="/token"' "$WORK/access.out" || true)"
  rec "$sys" "${fig}_401" "$run" "$(grep -c 'status=401' "$WORK/access.out" || true)"
  S+=("$fig ${ELAPSED}s/$((after - before))req")
}
# Access-log lines so far: the server logs one `rreg::http` line per request it answered.
access_lines() { grep -c 'rreg::http' "$SRV_LOG" || true; }

wait_ready() { # $1 = base URL; waits for GET /v2/ → 401 (auth on) while the server lives
  local i code=''
  for i in $(seq 1 300); do
    kill -0 "$SRV_PID" 2>/dev/null || die "the server exited while starting"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1/v2/" || true)
    [[ $code == 401 ]] && return 0
    sleep 0.1
  done
  die "$1/v2/ did not answer 401 within 30 s (last answer: HTTP $code)"
}

start_server() { # $1 = data dir; sets SRV_PID, BASE, HOSTPORT
  local out=$WORK/server.$RUN.$PHASE.out i addr=''
  SRV_LOG=$WORK/server.$RUN.$PHASE.log
  # Auth on, the admin's password given; the access log (target rreg::http) at info counts requests.
  RUST_LOG=warn,rreg::http=info RREG_ADMIN_PASSWORD=$PW RREG__GC__INTERVAL_SECS=0 \
    "$SERVER_BIN" serve --listen 127.0.0.1:0 --data-dir "$1" >"$out" 2>"$SRV_LOG" &
  SRV_PID=$!
  for i in $(seq 1 300); do
    addr=$(sed -n 's#.*listening on http://##p' "$out" | head -n 1)
    [[ -n $addr ]] && break
    kill -0 "$SRV_PID" 2>/dev/null || die "rreg-server exited while starting"
    sleep 0.1
  done
  [[ -n $addr ]] || die "rreg-server printed no 'listening on http://ADDR' within 30 s"
  [[ $addr == 127.0.0.1:* ]] || die "rreg-server listens on $addr, not 127.0.0.1"
  HOSTPORT=$addr BASE=http://$addr
  wait_ready "$BASE"
  [[ $(readlink "/proc/$SRV_PID/exe") == *rreg-server ]] || die "PID $SRV_PID is not rreg-server"
}

stop_server() {
  local i
  kill "$SRV_PID" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SRV_PID" 2>/dev/null && kill -KILL "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=''
}

# rreg with a data folder (RREG_HOME) given first and the Docker config the login is kept in; a
# command line, so /usr/bin/time can run it.
DOCKER_CFG=$WORK/docker-config
rreg_cmd() { # $1 = RREG_HOME; sets CMD
  CMD=(env "RREG_HOME=$1" "DOCKER_CONFIG=$DOCKER_CFG" "$CLIENT_BIN")
}
rreg_login() {
  rreg_cmd "$WORK/login-home"
  printf '%s\n' "$PW" | "${CMD[@]}" login "$HOSTPORT" -u admin --password-stdin >>"$CLIENT_LOG" 2>&1 ||
    die "rreg login $HOSTPORT failed"
}

check_manifest() { # $1 = repository:tag, $2 = digest: GET by tag answers 200 with that digest
  local hdr code digest
  hdr=$(curl -sS -o /dev/null -D - -u "admin:$PW" -H "Accept: $MT_MANIFEST" "$BASE/v2/${1%:*}/manifests/${1##*:}" | tr -d '\r')
  code=$(awk 'NR == 1 { print $2 }' <<<"$hdr")
  digest=$(awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }' <<<"$hdr")
  [[ $code == 200 ]] || die "$SYS: GET manifest $1 answered $code"
  [[ $digest == "$2" ]] || die "$SYS: manifest $1 has digest '$digest', expected $2 (did the client rewrite it?)"
}

check_files() { # $1 = dir holding blobs by hex name: every layer of the big image with its size
  local i f
  for i in "${!BIG_DIGESTS[@]}"; do
    f=$1/${BIG_DIGESTS[i]#sha256:}
    [[ $(stat -c %s "$f" 2>/dev/null) == "${BIG_SIZES[i]}" ]] ||
      die "$SYS: the pull lacks layer ${BIG_DIGESTS[i]} of ${BIG_SIZES[i]} bytes in $1"
  done
}

SKOPEO=(skopeo --insecure-policy)

# ---------------------------------------------------------------- one run of one client
push_pull() { # $1 = rreg | skopeo, $2 = run: push the big image to a fresh server, pull it back
  SYS=$1 RUN=$2 PHASE=big-$1
  local data=$WORK/data pull=$WORK/pull ref
  rm -rf "$data" "$pull"
  mkdir -p "$data"
  start_server "$data"
  ref=bench/img:r$RUN
  if [[ $SYS == rreg ]]; then
    rreg_login
    make_store "$WORK/store-big" "$BIG" "$HOSTPORT/$ref"
    rreg_cmd "$WORK/store-big"
    client rreg push "$RUN" "${CMD[@]}" push -q "$HOSTPORT/$ref"
    check_manifest "$ref" "$BIG_MANIFEST"
    rreg_cmd "$pull"
    client rreg pull "$RUN" "${CMD[@]}" pull -q "$HOSTPORT/$ref"
    check_files "$pull/blobs/sha256"
  else
    client skopeo push "$RUN" "${SKOPEO[@]}" copy -q --preserve-digests --dest-tls-verify=false \
      --dest-creds "admin:$PW" "oci:$BIG:bench" "docker://$HOSTPORT/$ref"
    check_manifest "$ref" "$BIG_MANIFEST"
    client skopeo pull "$RUN" "${SKOPEO[@]}" copy -q --src-tls-verify=false \
      --src-creds "admin:$PW" "docker://$HOSTPORT/$ref" "dir:$pull"
    check_files "$pull"
  fi
  kill -0 "$SRV_PID" 2>/dev/null || die "$SYS: the server died during the run"
  stop_server
  rm -rf "$data" "$pull"
}

repush() { # $1 = run: the 10-layer image pushed once, then re-pushed REPUSH_N times by each client
  RUN=$1 PHASE=ten
  local data=$WORK/data ref=bench/ten:1 order=(rreg skopeo) i sys fig vals
  ((RUN % 2)) || order=(skopeo rreg)
  rm -rf "$data"
  mkdir -p "$data"
  start_server "$data"
  rreg_login
  make_store "$WORK/store-ten" "$TEN" "$HOSTPORT/$ref"
  rreg_cmd "$WORK/store-ten"
  "${CMD[@]}" push -q "$HOSTPORT/$ref" >>"$CLIENT_LOG" 2>&1 || die "the first push of $ref failed"
  SYS=first check_manifest "$ref" "$TEN_MANIFEST"
  # Each re-push takes tens of milliseconds: REPUSH_N of them per client (alternated), the run's
  # figure is their median.
  REC_FILE=$WORK/repush.tsv
  : >"$REC_FILE"
  for ((i = 0; i < REPUSH_N; i++)); do
    for SYS in "${order[@]}"; do
      if [[ $SYS == rreg ]]; then
        client rreg repush "$RUN" "${CMD[@]}" push -q "$HOSTPORT/$ref"
      else
        client skopeo repush "$RUN" "${SKOPEO[@]}" copy -q --preserve-digests --dest-tls-verify=false \
          --dest-creds "admin:$PW" "oci:$TEN:bench" "docker://$HOSTPORT/$ref"
      fi
      check_manifest "$ref" "$TEN_MANIFEST"
    done
  done
  REC_FILE=$RESULTS
  S=()
  while IFS=$'\t' read -r sys fig; do
    vals=$(awk -F'\t' -v s="$sys" -v f="$fig" '$1 == s && $2 == f { print $4 }' "$WORK/repush.tsv" | median)
    rec "$sys" "$fig" "$RUN" "$vals"
    [[ $fig == repush_s || $fig == repush_requests ]] && S+=("$sys $fig $vals")
  done < <(cut -f1,2 "$WORK/repush.tsv" | sort -u)
  stop_server
  rm -rf "$data"
}

# ---------------------------------------------------------------- the run
META=$WORK/meta.env
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "args=$ARGS"
  echo "runs=$RUNS"
  echo "image_mib=$IMAGE_MIB"
  echo "image_bytes=$IMAGE_BYTES"
  echo "layers_desc=4 × $SMALL_MIB MiB + 1 × $BIG_MIB MiB random, uncompressed tar layers"
  echo "ten_desc=$TEN_LAYERS × $TEN_MIB MiB random, uncompressed tar layers"
  echo "host=$(hostname)"
  echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "nproc=$(nproc)"
  echo "mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "rreg_commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- client server oci 2>/dev/null || echo ' + uncommitted changes in client/, server/ or oci/')"
  echo "rreg_bin=$CLIENT_BIN ($(date -u -r "$CLIENT_BIN" '+built %Y-%m-%d %H:%M UTC'))"
  echo "rreg_server_bin=$SERVER_BIN ($(date -u -r "$SERVER_BIN" '+built %Y-%m-%d %H:%M UTC'))"
  echo "skopeo_version=$(skopeo --version | awk '{ print $3 }')"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$META"

log "rreg vs skopeo: ${IMAGE_MIB} MiB push/pull, ${TEN_LAYERS}-layer no-op re-push; $RUNS run(s) after 1 warm-up"
for ((r = 0; r <= RUNS; r++)); do
  if ((r == 0)); then log "warm-up:"; else log "run $r/$RUNS:"; fi
  order=(rreg skopeo)
  ((r % 2)) || order=(skopeo rreg)
  for sys in "${order[@]}"; do
    S=()
    push_pull "$sys" "$r"
    log "  $sys: ${S[*]}"
  done
  repush "$r"
  log "  re-push (median of $REPUSH_N): ${S[*]}"
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

notes=(
  "Both clients talk to the same release rreg-server on 127.0.0.1 (filesystem storage under $TMPBASE), auth on, as admin: rreg after \`rreg login\` (not timed), skopeo with --dest-creds/--src-creds. Both get Bearer tokens from the server's /token."
  "Push and pull: a fresh server on an empty data dir for each client and run, so every blob is new to the push; the pull fetches what that client just pushed. The clients alternate: rreg first in odd runs, skopeo first in even ones (run 0 is the warm-up)."
  "rreg pushes from its local store, an OCI layout whose blobs are hard links to the layout skopeo reads (the same files, the same page cache); it pulls into a fresh store (verifying digests, writing blobs/sha256). skopeo pulls into a fresh \`dir:\`."
  "skopeo copy --preserve-digests: without it skopeo 1.9 gzips the uncompressed layers on the way to docker://. The script checks the pushed manifest keeps the layout's digest, for both clients."
  "skopeo runs with --insecure-policy and --dest-tls-verify=false / --src-tls-verify=false (it tries HTTPS, then HTTP); rreg speaks plain HTTP to loopback registries directly."
  "Requests are counted from the server's access log (RUST_LOG=warn,rreg::http=info: one line per answered request, 401s and /token included) between the client's start and its exit."
  "No-op re-push: one server per run; the ${TEN_LAYERS}-layer image is pushed once by rreg (not measured), then re-pushed to the same tag $REPUSH_N times by each client, alternated; the run's figure is the median of the $REPUSH_N. rreg HEADs each blob and the manifest and sends nothing else; skopeo HEADs each blob and PUTs the manifest again."
  "rreg push sends blobs from its store without hashing them again (the store verified them when they were written) and uploads blobs larger than 64 MiB in 64 MiB chunks (POST, PATCH…, PUT; each 64 MiB + 10 KiB tar takes two PATCHes, the 256 MiB one five), hence more push requests; skopeo hashes what it copies and streams each blob in one PATCH."
  "Client CPU time (user + sys) and peak RSS come from /usr/bin/time; every time includes the client's process start."
  "docker push is not measured (it needs a Docker engine, and the image in it)."
)
load_start=$(sed -n 's/^loadavg_start=//p' "$META")
if awk -v l="${load_start%% *}" 'BEGIN { exit !(l >= 1) }'; then
  notes+=("The machine was not idle: load average $load_start at the start, $(cut -d' ' -f1-3 /proc/loadavg) at the end, on $(nproc) cores. Other jobs competed for the CPU, so single runs vary widely (see Every run); trust the ratios more than the absolute times, and rerun on an idle machine before quoting them.")
fi
if ((QUICK)); then notes+=("--quick: a 64 MiB image and $RUNS run — a smoke test, not a measurement."); fi
printf 'notes=%s\n' "$(printf '%s\\n' "${notes[@]}")" >>"$META"

mkdir -p "$BENCH/results"
suffix=''
((QUICK)) && suffix=-quick
OUT=$BENCH/results/client-$(date +%Y-%m-%d)$suffix.md
[[ -e $OUT ]] && OUT=${OUT%.md}-$(date +%H%M%S).md
echo
python3 "$BENCH/lib/client_report.py" "$RESULTS" "$META" "$OUT"
echo
echo "written to ${OUT#"$ROOT"/}"
