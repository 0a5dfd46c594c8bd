#!/usr/bin/env bash
# bench/registry.sh — rreg-server against CNCF distribution 2.8.2 (Debian `docker-registry`), on the
# same machine in the same run, the two systems alternated (A B A B), medians of N runs after one
# warm-up. See bench/README.md.
#
# Usage:
#   bench/registry.sh [--runs N] [--quick]
#     --runs N   runs per system after the warm-up (default 5; 7+ before trusting a difference < 20%)
#     --quick    a 64 MiB image (4 × 8 MiB + 32 MiB) and 1 run: a smoke test, not a measurement
#
# Figures, per system and run, each server started fresh on an empty data dir (127.0.0.1 only):
#   push (skopeo copy oci: → docker://, blobs new), re-push (all present), pull (→ dir:), curl GET of
#   the five blobs, manifest GET (wrk -t2 -c8 -d10s), manifest HEAD and blob HEAD (ab -k -i -c8
#   -n20000), 10,000 tag PUTs 8 in parallel, tags/list of the 10,001-tag repository (median of 20),
#   peak RSS (VmHWM) during the push and during the request load, server CPU time of the push.
#   The floor: sha256sum (and openssl sha256) of the image's layers on one core.
# Prints a table and writes it to bench/results/registry-<date>[-quick].md.
#
# Knobs (environment):
#   RREG_BIN=PATH        use this rreg-server binary, skip `cargo build`
#   BENCH_CACHE_DIR      where the OCI layout is kept (default ${XDG_CACHE_HOME:-~/.cache}/rreg-bench)
#   BENCH_TMPDIR         where data/pull dirs go (default /var/tmp); must be a real disk, not tmpfs
#   BENCH_WRK_SECS=10    BENCH_AB_N=20000    BENCH_TAGS=10000    BENCH_TAGLIST_N=20
#   BENCH_KEEP=1         keep the work dir (server logs, raw outputs) after the run
#
# Exits non-zero, loudly, when a server answers a request with anything but the expected status.
# Stops only the servers it started (by PID) and removes only its own work dir.

set -Eeuo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench

RUNS=5 RUNS_GIVEN=0 QUICK=0
ARGS="$*"
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; RUNS_GIVEN=1; shift 2 ;;
    --runs=*) RUNS=${1#*=}; RUNS_GIVEN=1; shift ;;
    --quick) QUICK=1; shift ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "registry.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "registry.sh: --runs wants a positive number, got '$RUNS'" >&2; exit 2; }
if ((QUICK)); then
  ((RUNS_GIVEN)) || RUNS=1
  SMALL_MIB=8 BIG_MIB=32
else
  SMALL_MIB=64 BIG_MIB=256
fi
IMAGE_MIB=$((4 * SMALL_MIB + BIG_MIB))

WRK_SECS=${BENCH_WRK_SECS:-10}
AB_N=${BENCH_AB_N:-20000}
TAGS=${BENCH_TAGS:-10000}
TAGLIST_N=${BENCH_TAGLIST_N:-20}
CONC=8
REPO=bench/img
MT_MANIFEST=application/vnd.oci.image.manifest.v1+json

log() { printf '%s\n' "$*" >&2; }
die() {
  log "" "registry.sh: FAILED: $*"
  if [[ -n ${SRV_LOG:-} && -s ${SRV_LOG:-/dev/null} ]]; then
    log "--- last lines of the server's log ($SRV_LOG):"
    tail -n 20 "$SRV_LOG" >&2 || true
  fi
  exit 1
}
trap 'die "line $LINENO: \`$BASH_COMMAND\` exited with $?"' ERR

# ---------------------------------------------------------------- tools
declare -A PKG=([docker-registry]=docker-registry [skopeo]=skopeo [wrk]=wrk [ab]=apache2-utils
  [curl]=curl [jq]=jq [taskset]=util-linux [openssl]=openssl [tar]=tar [python3]=python3)
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
command -v cargo >/dev/null || [[ -n ${RREG_BIN:-} ]] || die "cargo not found (or set RREG_BIN)"

# ---------------------------------------------------------------- work dir, cleanup
TMPBASE=${BENCH_TMPDIR:-/var/tmp}
mkdir -p "$TMPBASE"
WORK=$(mktemp -d "$TMPBASE/rreg-bench.XXXXXX")
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
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }

# ---------------------------------------------------------------- build rreg-server
if [[ -n ${RREG_BIN:-} ]]; then
  BIN=$RREG_BIN
else
  log "building rreg-server (cargo build --release -p rreg-server)…"
  (cd "$ROOT" && cargo build --release -p rreg-server) || die "cargo build --release -p rreg-server failed"
  TARGET=$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 | jq -r .target_directory)
  BIN=$TARGET/release/rreg-server
fi
[[ -x $BIN ]] || die "no rreg-server binary at $BIN"

# ---------------------------------------------------------------- the OCI layout (made once, cached)
CACHE=${BENCH_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/rreg-bench}
LAYOUT=$CACHE/oci-${IMAGE_MIB}MiB
make_layout() {
  mkdir -p "$CACHE"
  rm -rf "$LAYOUT"
  local tmp
  tmp=$(mktemp -d "$CACHE/.layout.XXXXXX")
  mkdir -p "$tmp/blobs/sha256" "$tmp/src"
  local sizes=("$SMALL_MIB" "$SMALL_MIB" "$SMALL_MIB" "$SMALL_MIB" "$BIG_MIB")
  local i hex size layers='' diffids='' history='' digests=() lsizes=()
  for i in "${!sizes[@]}"; do
    log "  layer $((i + 1))/5: ${sizes[i]} MiB from /dev/urandom"
    head -c $((sizes[i] * 1048576)) /dev/urandom >"$tmp/src/layer$i.bin"
    tar --format=gnu --owner=0 --group=0 --numeric-owner --mtime=@0 \
      -C "$tmp/src" -cf "$tmp/layer.tar" "layer$i.bin"
    rm "$tmp/src/layer$i.bin"
    hex=$(sha256sum <"$tmp/layer.tar" | cut -d' ' -f1)
    size=$(stat -c %s "$tmp/layer.tar")
    mv "$tmp/layer.tar" "$tmp/blobs/sha256/$hex"
    digests+=("sha256:$hex") lsizes+=("$size")
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$hex\",\"size\":$size}"
    diffids+="${diffids:+,}\"sha256:$hex\""
    history+="${history:+,}{\"created\":\"1970-01-01T00:00:00Z\",\"created_by\":\"rreg bench layer $((i + 1)): ${sizes[i]} MiB random\"}"
  done
  rmdir "$tmp/src"
  local config manifest chex csize mhex msize
  config="{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"1970-01-01T00:00:00Z\",\"config\":{},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[$diffids]},\"history\":[$history]}"
  printf '%s' "$config" >"$tmp/config.json"
  chex=$(sha256sum <"$tmp/config.json" | cut -d' ' -f1)
  csize=$(stat -c %s "$tmp/config.json")
  mv "$tmp/config.json" "$tmp/blobs/sha256/$chex"
  manifest="{\"schemaVersion\":2,\"mediaType\":\"$MT_MANIFEST\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$chex\",\"size\":$csize},\"layers\":[$layers]}"
  printf '%s' "$manifest" >"$tmp/manifest.json"
  mhex=$(sha256sum <"$tmp/manifest.json" | cut -d' ' -f1)
  msize=$(stat -c %s "$tmp/manifest.json")
  mv "$tmp/manifest.json" "$tmp/blobs/sha256/$mhex"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"bench"}}]}' \
    "$MT_MANIFEST" "$mhex" "$msize" >"$tmp/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$tmp/oci-layout"
  {
    echo "LAYER_DIGESTS=(${digests[*]})"
    echo "LAYER_SIZES=(${lsizes[*]})"
    echo "CONFIG_DIGEST=sha256:$chex"
    echo "MANIFEST_DIGEST=sha256:$mhex"
  } >"$tmp/bench.env"
  touch "$tmp/.complete"
  mv "$tmp" "$LAYOUT"
}
if [[ ! -f $LAYOUT/.complete ]]; then
  log "creating the OCI layout $LAYOUT (once)…"
  make_layout
fi
# shellcheck source=/dev/null
source "$LAYOUT/bench.env" # sets LAYER_DIGESTS, LAYER_SIZES, CONFIG_DIGEST, MANIFEST_DIGEST
LAYER_FILES=()
IMAGE_BYTES=0
# shellcheck disable=SC2153
for i in "${!LAYER_DIGESTS[@]}"; do
  f=$LAYOUT/blobs/sha256/${LAYER_DIGESTS[i]#sha256:}
  [[ $(stat -c %s "$f" 2>/dev/null) == "${LAYER_SIZES[i]}" ]] || die "cached layout $LAYOUT is damaged; delete it"
  LAYER_FILES+=("$f")
  IMAGE_BYTES=$((IMAGE_BYTES + LAYER_SIZES[i]))
done
BIG_DIGEST=${LAYER_DIGESTS[4]}

# ---------------------------------------------------------------- helpers
ELAPSED=0
timed() { # runs "$@"; sets ELAPSED to the wall time in seconds
  local t0=$EPOCHREALTIME rc=0
  "$@" || rc=$?
  local t1=$EPOCHREALTIME
  ELAPSED=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
  return $rc
}
median() { sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) exit 1; if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
hwm_reset() { echo 5 >"/proc/$SRV_PID/clear_refs"; }
hwm_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$SRV_PID/status"; }
cpu_ticks() { sed 's/.*) //' "/proc/$SRV_PID/stat" | awk '{ print $12 + $13 }'; }
CLK_TCK=$(getconf CLK_TCK)
http_code() { curl -sS -o /dev/null -w '%{http_code}' "$@"; }

wait_ready() { # $1 = base URL; waits for GET /v2/ → 200 while the server lives
  local i code=''
  for i in $(seq 1 300); do
    kill -0 "$SRV_PID" 2>/dev/null || die "the server exited while starting"
    code=$(curl -s -o /dev/null -w '%{http_code}' "$1/v2/" || true)
    [[ $code == 200 ]] && return 0
    sleep 0.1
  done
  die "$1/v2/ did not answer 200 within 30 s (last answer: HTTP $code)"
}

start_rreg() { # $1 = data dir; sets SRV_PID, PORT
  local out=$WORK/rreg.$RUN.out i addr=''
  SRV_LOG=$WORK/rreg.$RUN.log
  # auth off: distribution runs without auth too. max_page_size: tags/list answers all 10,001 tags
  # in one page, as distribution 2.8 does.
  RUST_LOG=warn RREG__AUTH__ENABLED=false RREG__REGISTRY__MAX_PAGE_SIZE=1000000 \
    "$BIN" serve --listen 127.0.0.1:0 --data-dir "$1" >"$out" 2>"$SRV_LOG" &
  SRV_PID=$!
  for i in $(seq 1 300); do
    addr=$(sed -n 's#.*listening on http://##p' "$out" | head -n 1)
    [[ -n $addr ]] && break
    kill -0 "$SRV_PID" 2>/dev/null || die "rreg-server exited while starting"
    sleep 0.1
  done
  [[ -n $addr ]] || die "rreg-server printed no 'listening on http://ADDR' within 30 s"
  [[ $addr == 127.0.0.1:* ]] || die "rreg-server listens on $addr, not 127.0.0.1"
  PORT=${addr##*:}
}

start_distribution() { # $1 = data dir; sets SRV_PID, PORT
  PORT=$(free_port)
  SRV_LOG=$WORK/distribution.$RUN.log
  local cfg=$WORK/distribution.$RUN.yml
  cat >"$cfg" <<EOF
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
  addr: 127.0.0.1:$PORT
  secret: rreg-bench-not-a-secret
EOF
  docker-registry serve "$cfg" >"$SRV_LOG" 2>&1 &
  SRV_PID=$!
}

stop_server() {
  local i
  kill "$SRV_PID" 2>/dev/null || true
  for i in $(seq 1 100); do kill -0 "$SRV_PID" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$SRV_PID" 2>/dev/null && kill -KILL "$SRV_PID" 2>/dev/null
  wait "$SRV_PID" 2>/dev/null || true
  SRV_PID=''
}

SKOPEO_LOG=$WORK/skopeo.log
skopeo_q() { timeout 900 skopeo --insecure-policy "$@" >>"$SKOPEO_LOG" 2>&1 || { tail -n 20 "$SKOPEO_LOG" >&2; return 1; }; }

check_manifest() { # GET by tag: 200, the layout's digest, the OCI media type
  local hdr code digest ctype
  hdr=$(curl -sS -o /dev/null -D - -H "Accept: $MT_MANIFEST" "$BASE/v2/$REPO/manifests/$TAG" | tr -d '\r')
  code=$(awk 'NR == 1 { print $2 }' <<<"$hdr")
  digest=$(awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }' <<<"$hdr")
  ctype=$(awk -F': ' 'tolower($1) == "content-type" { print $2 }' <<<"$hdr")
  [[ $code == 200 ]] || die "$SYS: GET manifest $TAG answered $code"
  [[ $digest == "$MANIFEST_DIGEST" ]] ||
    die "$SYS: manifest $TAG has digest '$digest', the layout's is $MANIFEST_DIGEST (did skopeo rewrite it?)"
  [[ $ctype == "$MT_MANIFEST"* ]] || die "$SYS: manifest $TAG served as '$ctype'"
}

check_ab() { # $1 = ab output, $2 = what; prints req/s
  local f=$1 complete failed
  complete=$(awk '/^Complete requests:/ { print $3 }' "$f")
  failed=$(awk '/^Failed requests:/ { print $3 }' "$f")
  [[ $complete == "$AB_N" ]] || die "$SYS: $2: ab completed ${complete:-no} of $AB_N requests: $(tail -n 3 "$f")"
  [[ $failed == 0 ]] || die "$SYS: $2: ab counted $failed failed requests"
  ! grep -q '^Non-2xx responses:' "$f" || die "$SYS: $2: $(grep '^Non-2xx responses:' "$f")"
  awk '/^Keep-Alive requests:/ { print $3 }' "$f" >"$f.keepalive"
  awk '/^Requests per second:/ { print $4 }' "$f"
}

# ---------------------------------------------------------------- one run of one system
run_suite() { # $1 = rreg | distribution, $2 = run number (0 = warm-up)
  SYS=$1 RUN=$2
  local data=$WORK/data-$SYS-$RUN pull=$WORK/pull-$SYS-$RUN c0 c1 v out line
  local -a S=()
  mkdir -p "$data"
  "start_$SYS" "$data"
  BASE=http://127.0.0.1:$PORT
  wait_ready "$BASE"
  # VmHWM and CPU time are read from /proc/$SRV_PID: make sure it is the server, not a wrapper.
  [[ $(readlink "/proc/$SRV_PID/exe") == *"$( [[ $SYS == rreg ]] && echo rreg-server || echo docker-registry)" ]] ||
    die "$SYS: PID $SRV_PID is $(readlink "/proc/$SRV_PID/exe"), not the server"
  TAG=r$RUN

  # 1. push, blobs new (fresh data dir); peak memory and CPU time of the server during it.
  #    --preserve-digests: without it skopeo gzips uncompressed layers on their way to docker://
  #    (and the push would time skopeo's gzip); check_manifest below fails if the digest changed.
  hwm_reset
  c0=$(cpu_ticks)
  timed skopeo_q copy -q --preserve-digests --dest-tls-verify=false --dest-no-creds \
    "oci:$LAYOUT:bench" "docker://127.0.0.1:$PORT/$REPO:$TAG" || die "$SYS: push failed"
  c1=$(cpu_ticks)
  rec "$SYS" push_s "$RUN" "$ELAPSED"; S+=("push ${ELAPSED}s")
  rec "$SYS" hwm_push_mib "$RUN" "$(hwm_mib)"
  rec "$SYS" push_cpu_s "$RUN" "$(awk -v a="$c0" -v b="$c1" -v t="$CLK_TCK" 'BEGIN { printf "%.2f", (b - a) / t }')"
  check_manifest
  for v in "$CONFIG_DIGEST" "${LAYER_DIGESTS[@]}"; do
    [[ $(http_code -I "$BASE/v2/$REPO/blobs/$v") == 200 ]] || die "$SYS: HEAD blob $v after the push is not 200"
  done

  # 2. re-push, everything present.
  timed skopeo_q copy -q --preserve-digests --dest-tls-verify=false --dest-no-creds \
    "oci:$LAYOUT:bench" "docker://127.0.0.1:$PORT/$REPO:$TAG" || die "$SYS: re-push failed"
  rec "$SYS" repush_s "$RUN" "$ELAPSED"; S+=("re-push ${ELAPSED}s")

  # 3. pull into a fresh dir:.
  timed skopeo_q copy -q --src-tls-verify=false --src-no-creds \
    "docker://127.0.0.1:$PORT/$REPO:$TAG" "dir:$pull" || die "$SYS: pull failed"
  rec "$SYS" pull_s "$RUN" "$ELAPSED"; S+=("pull ${ELAPSED}s")
  for v in "${!LAYER_DIGESTS[@]}"; do
    [[ $(stat -c %s "$pull/${LAYER_DIGESTS[v]#sha256:}" 2>/dev/null) == "${LAYER_SIZES[v]}" ]] ||
      die "$SYS: the pulled dir: lacks layer ${LAYER_DIGESTS[v]} of ${LAYER_SIZES[v]} bytes"
  done
  rm -rf "$pull"

  # 4. curl GET of the five blobs, one after the other on one connection, to /dev/null.
  local -a urls=()
  for v in "${LAYER_DIGESTS[@]}"; do urls+=(-o /dev/null "$BASE/v2/$REPO/blobs/$v"); done
  out=$WORK/get.out
  timed curl -sS -w '%{http_code} %{size_download}\n' "${urls[@]}" >"$out" || die "$SYS: curl GET of the blobs failed"
  rec "$SYS" get_s "$RUN" "$ELAPSED"; S+=("blob-GETs ${ELAPSED}s")
  v=0
  while read -r line; do
    [[ $line == "200 ${LAYER_SIZES[v]}" ]] || die "$SYS: GET blob ${LAYER_DIGESTS[v]}: '$line', expected '200 ${LAYER_SIZES[v]}'"
    v=$((v + 1))
  done <"$out"
  ((v == 5)) || die "$SYS: curl reported $v blob GETs, expected 5"

  # 5.–6. the request load; peak memory over all of it.
  hwm_reset
  out=$WORK/wrk.out
  timeout $((WRK_SECS + 60)) wrk -t2 -c$CONC -d"${WRK_SECS}s" --timeout 10s -H "Accept: $MT_MANIFEST" \
    "$BASE/v2/$REPO/manifests/$TAG" >"$out" 2>&1 || die "$SYS: wrk failed: $(tail -n 5 "$out")"
  ! grep -q 'Non-2xx or 3xx responses' "$out" || die "$SYS: wrk manifest GET: $(grep 'Non-2xx or 3xx' "$out")"
  ! grep -q 'Socket errors' "$out" || die "$SYS: wrk manifest GET: $(grep 'Socket errors' "$out")"
  v=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  [[ -n $v ]] || die "$SYS: no Requests/sec in wrk's output: $(cat "$out")"
  awk '/requests in/ { print $1 }' "$out" | grep -qv '^0$' || die "$SYS: wrk made no requests"
  rec "$SYS" wrk_get_rps "$RUN" "$v"; S+=("manifest-GET ${v}/s")

  out=$WORK/ab-mhead.out
  timeout 900 ab -k -i -c$CONC -n"$AB_N" -s 30 -H "Accept: $MT_MANIFEST" \
    "$BASE/v2/$REPO/manifests/$TAG" >"$out" 2>&1 || die "$SYS: ab manifest HEAD failed: $(tail -n 3 "$out")"
  v=$(check_ab "$out" "manifest HEAD")
  rec "$SYS" ab_mhead_rps "$RUN" "$v"; S+=("manifest-HEAD ${v}/s")
  rec "$SYS" ab_mhead_keepalive "$RUN" "$(cat "$out.keepalive")"

  out=$WORK/ab-bhead.out
  timeout 900 ab -k -i -c$CONC -n"$AB_N" -s 30 "$BASE/v2/$REPO/blobs/$BIG_DIGEST" >"$out" 2>&1 ||
    die "$SYS: ab blob HEAD failed: $(tail -n 3 "$out")"
  v=$(check_ab "$out" "blob HEAD")
  rec "$SYS" ab_bhead_rps "$RUN" "$v"; S+=("blob-HEAD ${v}/s")
  rec "$SYS" ab_bhead_keepalive "$RUN" "$(cat "$out.keepalive")"

  out=$WORK/tagput.out
  python3 "$BENCH/lib/tag_put.py" 127.0.0.1 "$PORT" "$REPO" "$TAGS" "$CONC" >"$out" 2>&1 ||
    die "$SYS: tag PUTs failed: $(tail -n 25 "$out")"
  v=$(sed -n 's/.*tags_per_s=\([0-9.]*\).*/\1/p' "$out")
  rec "$SYS" tagput_tps "$RUN" "$v"; S+=("tag-PUTs ${v}/s")
  rec "$SYS" tagput_client_cpu_s "$RUN" "$(sed -n 's/.*client_cpu_s=\([0-9.]*\).*/\1/p' "$out")"

  out=$WORK/taglist.out
  : >"$out"
  for v in $(seq 1 "$TAGLIST_N"); do
    curl -sS -o "$WORK/tags.json" -w '%{http_code} %{time_total}\n' "$BASE/v2/$REPO/tags/list" >>"$out" ||
      die "$SYS: curl tags/list failed"
  done
  ! grep -qv '^200 ' "$out" || die "$SYS: tags/list answered $(grep -v '^200 ' "$out" | head -n 1)"
  v=$(jq '.tags | length' "$WORK/tags.json")
  ((v == TAGS + 1)) || die "$SYS: tags/list listed $v tags, expected $((TAGS + 1))"
  v=$(awk '{ print $2 * 1000 }' "$out" | median)
  rec "$SYS" taglist_ms "$RUN" "$v"; S+=("tags/list ${v}ms")
  rec "$SYS" hwm_load_mib "$RUN" "$(hwm_mib)"

  kill -0 "$SRV_PID" 2>/dev/null || die "$SYS: the server died during the run"
  stop_server
  rm -rf "$data"
  log "  $SYS: ${S[*]}"
}

floor() { # $1 = run; sha256sum and openssl of the layers on one core (page cache warm)
  cat "${LAYER_FILES[@]}" >/dev/null
  timed taskset -c 0 sha256sum "${LAYER_FILES[@]}" >/dev/null
  rec floor sha256sum_s "$1" "$ELAPSED"
  local s=$ELAPSED
  timed taskset -c 0 openssl dgst -sha256 "${LAYER_FILES[@]}" >/dev/null
  rec floor openssl_s "$1" "$ELAPSED"
  log "  floor: sha256sum ${s}s, openssl ${ELAPSED}s"
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
  echo "tags=$TAGS"
  echo "host=$(hostname)"
  echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "nproc=$(nproc)"
  echo "mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel=$(uname -r)"
  echo "rreg_commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- server oci 2>/dev/null || echo ' + uncommitted changes in server/ or oci/')"
  echo "rreg_bin=$BIN ($(date -u -r "$BIN" '+built %Y-%m-%d %H:%M UTC'))"
  echo "distribution_version=$(docker-registry --version | awk '{ print $3 }' | sed 's/+.*//')"
  echo "skopeo_version=$(skopeo --version | awk '{ print $3 }')"
  echo "wrk_version=$( (wrk --version 2>&1 || true) | awk 'NR == 1 { print $2 }')"
  echo "ab_version=$(ab -V | awk 'NR == 1 { print $4, $5 }')"
  echo "python_version=$(python3 -c 'import platform; print(platform.python_version())')"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$META"

log "rreg-server vs distribution: ${IMAGE_MIB} MiB image, $RUNS run(s) after 1 warm-up, A B A B"
for ((r = 0; r <= RUNS; r++)); do
  if ((r == 0)); then log "warm-up:"; else log "run $r/$RUNS:"; fi
  floor "$r"
  run_suite rreg "$r"
  run_suite distribution "$r"
done
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"

notes=(
  "Each system runs on a fresh server process and an empty data dir (filesystem storage under $TMPBASE) for every run; both listen on 127.0.0.1 only."
  "rreg-server: RUST_LOG=warn; RREG__AUTH__ENABLED=false (distribution runs without auth, so neither checks credentials); RREG__REGISTRY__MAX_PAGE_SIZE=1000000 so tags/list answers all tags in one page as distribution 2.8 does (rreg's default page is 10,000)."
  "distribution: \`docker-registry serve\` with log level warn, access log off, in-memory blob descriptor cache, upload purging off."
  "Push and re-push use \`skopeo copy --preserve-digests\`: without it skopeo 1.9 gzips uncompressed layers on the way to docker:// and the push times skopeo's gzip. The script checks that the pushed manifest keeps the layout's digest."
  "skopeo runs with --insecure-policy and --dest-no-creds/--src-no-creds (no auth); HTTPS is tried first, then HTTP, for both servers alike."
  "Peak memory is VmHWM of the server, reset with \`echo 5 > /proc/PID/clear_refs\` before the push and before the request load."
  "The floor is the wall time to hash the $IMAGE_BYTES bytes of layers on core 0 (taskset -c 0) from the page cache. Debian 12's coreutils sha256sum does not use the CPU's SHA instructions; openssl (like the sha2 crate) does — it is the floor that matters for a server in Rust."
  "Tag PUTs: bench/lib/tag_put.py, raw keep-alive sockets, 8 threads, the manifest of a tiny image (≈ 400 bytes); its CPU time is in the per-run table (tagput_client_cpu_s)."
  "ab -k speaks HTTP/1.0 keep-alive; the per-run table shows how many requests were kept alive (ab_*_keepalive)."
)
if ((QUICK)); then notes+=("--quick: a 64 MiB image and $RUNS run — a smoke test, not a measurement."); fi
printf 'notes=%s\n' "$(printf '%s\\n' "${notes[@]}")" >>"$META"

mkdir -p "$BENCH/results"
suffix=''
((QUICK)) && suffix=-quick
OUT=$BENCH/results/registry-$(date +%Y-%m-%d)$suffix.md
[[ -e $OUT ]] && OUT=${OUT%.md}-$(date +%H%M%S).md
echo
python3 "$BENCH/lib/report.py" "$RESULTS" "$META" "$OUT"
echo
echo "written to ${OUT#"$ROOT"/}"
