#!/usr/bin/env bash
# bench/compare.sh — comparing two tags of a 50-layer, 20,000-file image (issue 20): the first
# request to rreg-server's compare API (every layer read and its file list stored), the next ones
# (the stored lists reused), and the server's peak RSS (VmHWM) while comparing; beside it, the only
# way to get the same answer from CNCF distribution 2.8.2 — `rreg diff --remote`, which downloads
# and reads every layer of both images — timed in the same run. The two images share 45 layers;
# the last 5 differ (content changed, files removed and added). Medians of N runs (the first API
# request is measured once per fresh server, so N servers).
#
# Usage: bench/compare.sh [--runs N]    (default 3)
# Knobs: RREG_BIN, RREG_CLIENT (skip the cargo build), BENCH_TMPDIR (default /var/tmp),
#        BENCH_LAYERS (50), BENCH_FILES (400 per layer), BENCH_CHANGED (5), BENCH_KEEP=1.
# Servers listen on 127.0.0.1 only; only the processes started here are stopped, by PID.

set -Eeuo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=3
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "compare.sh: unknown argument: $1" >&2; exit 2 ;;
  esac
done
LAYERS=${BENCH_LAYERS:-50} FILES=${BENCH_FILES:-400} CHANGED=${BENCH_CHANGED:-5}
ADMIN_PW=compare-admin-password-1
log() { printf '%s\n' "$*" >&2; }
die() { log "compare.sh: FAILED: $*"; exit 1; }
for tool in docker-registry skopeo curl jq python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install docker-registry skopeo curl jq python3)"
done
if [[ -z ${RREG_BIN:-} || -z ${RREG_CLIENT:-} ]]; then
  log "building rreg-server and rreg (cargo build --release)…"
  (cd "$ROOT" && cargo build --release -q -p rreg-server -p rreg) || die "cargo build failed"
  TARGET=$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 | jq -r .target_directory)
  RREG_BIN=${RREG_BIN:-$TARGET/release/rreg-server}
  RREG_CLIENT=${RREG_CLIENT:-$TARGET/release/rreg}
fi
WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/rreg-bench-compare.XXXXXX")
SRV_PID='' DIST_PID=''
stop() { local p=$1; [[ -n $p ]] && { kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; }; }
cleanup() {
  local rc=$?
  stop "$SRV_PID"; stop "$DIST_PID"
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { local i; for i in $(seq 1 300); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; die "$1 did not answer"; }
now() { date +%s.%N; }
median() { sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

log "writing the two images ($LAYERS layers × $FILES files, $CHANGED layers differ)…"
python3 "$ROOT/bench/lib/compare_layout.py" "$WORK/layout" "$LAYERS" "$FILES" "$CHANGED"

# distribution, once: rreg diff against it is the peer path.
dport=$(free_port)
mkdir -p "$WORK/dist-data"
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
  "$WORK/dist-data" "$dport" >"$WORK/dist.yml"
docker-registry serve "$WORK/dist.yml" >"$WORK/dist.log" 2>&1 &
DIST_PID=$!
wait_http "http://127.0.0.1:$dport/v2/"
for v in v1 v2; do
  skopeo copy -q --dest-tls-verify=false "oci:$WORK/layout/$v:bench" "docker://127.0.0.1:$dport/big/app:$v" >/dev/null
done
export RREG_HOME=$WORK/client DOCKER_CONFIG=$WORK/docker-config
mkdir -p "$DOCKER_CONFIG"

cold=() warm=() hwm=() peer=() files=''
for run in $(seq 1 "$RUNS"); do
  port=$(free_port)
  rm -rf "$WORK/rreg-data"
  RUST_LOG=warn RREG_ADMIN_PASSWORD=$ADMIN_PW RREG__GC__INTERVAL_SECS=0 \
    "$RREG_BIN" serve --listen "127.0.0.1:$port" --data-dir "$WORK/rreg-data" >"$WORK/rreg.out" 2>"$WORK/rreg.log" &
  SRV_PID=$!
  wait_http "http://127.0.0.1:$port/healthz"
  for v in v1 v2; do
    skopeo copy -q --dest-tls-verify=false --dest-creds "admin:$ADMIN_PW" "oci:$WORK/layout/$v:bench" \
      "docker://127.0.0.1:$port/admin/big:$v" >/dev/null
  done
  url="http://127.0.0.1:$port/api/v1/repositories/admin/big/-/compare?from=v1&to=v2&n=1000"
  base_hwm=$(awk '/VmHWM/ {print $2}' "/proc/$SRV_PID/status")
  t0=$(now); curl -fsS -u "admin:$ADMIN_PW" -o "$WORK/cold.json" "$url"; t1=$(now)
  cold+=("$(echo "$t1 - $t0" | bc)")
  for i in 1 2 3; do
    t0=$(now); curl -fsS -u "admin:$ADMIN_PW" -o "$WORK/warm.json" "$url"; t1=$(now)
    warm+=("$(echo "$t1 - $t0" | bc)")
  done
  hwm+=("$(awk '/VmHWM/ {print $2}' "/proc/$SRV_PID/status")")
  cmp -s <(jq -S 'del(.from.reference,.to.reference)' "$WORK/cold.json") <(jq -S 'del(.from.reference,.to.reference)' "$WORK/warm.json") ||
    die "the second answer differs from the first"
  files=$(jq '.totals | "\(.files_added) added, \(.files_removed) removed, \(.files_modified) modified"' "$WORK/cold.json")
  stop "$SRV_PID"; SRV_PID=''
  t0=$(now)
  "$RREG_CLIENT" diff --remote --format json "127.0.0.1:$dport/big/app:v1" "127.0.0.1:$dport/big/app:v2" >"$WORK/peer.json"
  t1=$(now)
  peer+=("$(echo "$t1 - $t0" | bc)")
  cmp -s <(jq -S 'del(.from.reference,.to.reference,.next,.files_matching,.files)' "$WORK/cold.json") \
         <(jq -S 'del(.from.reference,.to.reference,.next,.files_matching,.files)' "$WORK/peer.json") ||
    die "rreg diff against distribution gives another comparison than the API"
  log "run $run: first ${cold[-1]} s, then ${warm[-1]} s; peak RSS $((${hwm[-1]} / 1024)) MiB (at start $((base_hwm / 1024)) MiB); via distribution ${peer[-1]} s"
done
c=$(printf '%s\n' "${cold[@]}" | median) w=$(printf '%s\n' "${warm[@]}" | median)
h=$(printf '%s\n' "${hwm[@]}" | median) p=$(printf '%s\n' "${peer[@]}" | median)
printf '\ncompare v1→v2 (%s layers, %s files per layer; %s)\n' "$LAYERS" "$FILES" "$files"
printf '%-46s %10s\n' "rreg API, first request (layers read, kept)" "${c} s"
printf '%-46s %10s\n' "rreg API, next requests (lists reused)" "${w} s"
printf '%-46s %10s\n' "rreg-server peak RSS" "$((${h%.*} / 1024)) MiB"
printf '%-46s %10s\n' "rreg diff via distribution 2.8.2 (peer path)" "${p} s"
printf '%-46s %10s\n' "ratio peer / rreg first" "$(echo "scale=2; $p / $c" | bc)"
printf '%-46s %10s\n' "ratio peer / rreg next" "$(echo "scale=2; $p / $w" | bc)"
