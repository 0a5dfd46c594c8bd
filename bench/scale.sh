#!/usr/bin/env bash
# bench/scale.sh — rreg-server on SQLite + local folder (1 instance) beside PostgreSQL + S3 (moto,
# a local S3-compatible server) with 1 and with 3 instances sharing them: push and pull throughput
# (skopeo, one client per instance, in parallel) and manifest GETs per second (one wrk per instance,
# summed). Medians of N rounds; the configurations alternate within each round.
#
# Usage: bench/scale.sh [--runs N] [--mib M]     (defaults: 3 rounds, a 128 MiB image: 4 × M/8 + M/2)
# Knobs: RREG_BIN=PATH (skip cargo build), BENCH_WRK_SECS=8
# Starts (and stops, by PID) its own PostgreSQL cluster (as the postgres user) and moto server, on
# 127.0.0.1 only. moto is a Python test server, not a production object store: S3 figures here show
# how rreg scales across instances, not what a real S3 would do.

set -Eeuo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=3 MIB=128
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?}; shift 2 ;;
    --mib) MIB=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "scale.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
SECS=${BENCH_WRK_SECS:-8}
for tool in wrk skopeo curl python3 moto_server; do
  command -v "$tool" >/dev/null || { echo "scale.sh: $tool is missing (apt: wrk skopeo curl; pip: moto[server])" >&2; exit 1; }
done
if [[ -z "${RREG_BIN:-}" ]]; then (cd "$ROOT" && cargo build --release -q -p rreg-server); RREG_BIN=$ROOT/target/release/rreg-server; fi
WORK=$(mktemp -d /var/tmp/rreg-bench-scale.XXXXXX)
PGDIR=$(mktemp -d /tmp/rreg-bench-pg.XXXXXX); chown postgres "$PGDIR"
PIDS=()
PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
  su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PGDIR/data -m immediate -w stop" >/dev/null 2>&1 || true
  rm -rf "$WORK" "$PGDIR"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

PGPORT=$(free_port)
su postgres -s /bin/sh -c "$PG_BIN/initdb -D $PGDIR/data -A trust -U postgres" >/dev/null
su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PGDIR/data -l $PGDIR/log -w start -o '-p $PGPORT -k $PGDIR -c listen_addresses=127.0.0.1 -c max_connections=200'" >/dev/null
S3PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$S3PORT" >"$WORK/moto.log" 2>&1 & PIDS+=($!)
for _ in $(seq 60); do curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$S3PORT/bench" 2>/dev/null && break; sleep 0.5; done

# The image: an OCI layout of uncompressed random layers, made once.
LAYOUT=$WORK/layout; mkdir -p "$LAYOUT/blobs/sha256"
small=$((MIB / 8)) big=$((MIB / 2)) layers=""
for i in 1 2 3 4 5; do
  n=$small; ((i == 5)) && n=$big
  head -c $((n * 1024 * 1024)) /dev/urandom >"$WORK/l$i"
  d=$(sha256sum "$WORK/l$i" | cut -d' ' -f1); mv "$WORK/l$i" "$LAYOUT/blobs/sha256/$d"
  layers+="${layers:+,}{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"sha256:$d\",\"size\":$((n * 1024 * 1024))}"
done
cfg='{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
printf '%s' "$cfg" >"$WORK/cfg"; cd_=$(sha256sum "$WORK/cfg" | cut -d' ' -f1); mv "$WORK/cfg" "$LAYOUT/blobs/sha256/$cd_"
man="{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$cd_\",\"size\":${#cfg}},\"layers\":[$layers]}"
printf '%s' "$man" >"$WORK/man"; md=$(sha256sum "$WORK/man" | cut -d' ' -f1); mv "$WORK/man" "$LAYOUT/blobs/sha256/$md"
echo '{"imageLayoutVersion":"1.0.0"}' >"$LAYOUT/oci-layout"
echo "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"sha256:$md\",\"size\":${#man},\"annotations\":{\"org.opencontainers.image.ref.name\":\"bench\"}}]}" >"$LAYOUT/index.json"

# start CONFIG N: starts N instances; CONFIG = local | pgs3. Sets URLS.
start() {
  local config=$1 n=$2 i port data db prefix
  URLS=(); INST=()
  db="postgres://postgres@127.0.0.1:$PGPORT/rreg_$RANDOM$RANDOM"; prefix="p$RANDOM$RANDOM"
  for i in $(seq "$n"); do
    port=$(free_port); data="$WORK/data-$RANDOM$RANDOM"
    local env=(RUST_LOG=warn RREG__AUTH__ENABLED=false RREG__GC__INTERVAL_SECS=0)
    if [[ $config == pgs3 ]]; then
      env+=(RREG__DATABASE__URL="$db" RREG__STORAGE__BACKEND=url RREG__STORAGE__URL="s3://bench/$prefix"
        RREG__STORAGE__OPTIONS__AWS_ENDPOINT="http://127.0.0.1:$S3PORT" RREG__STORAGE__OPTIONS__AWS_ALLOW_HTTP=true
        RREG__STORAGE__OPTIONS__AWS_REGION=us-east-1 RREG__STORAGE__OPTIONS__AWS_ACCESS_KEY_ID=x
        RREG__STORAGE__OPTIONS__AWS_SECRET_ACCESS_KEY=x RREG__STORAGE__OPTIONS__AWS_VIRTUAL_HOSTED_STYLE_REQUEST=false)
    fi
    env "${env[@]}" "$RREG_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" >/dev/null 2>"$WORK/srv-$port.log" &
    PIDS+=($!); INST+=($!)
    for _ in $(seq 200); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
    URLS+=("127.0.0.1:$port")
    if [[ $config == pgs3 && $i == 1 ]]; then sleep 0.5; fi   # the first instance runs the migrations
  done
}
stop() { local q; for q in "${INST[@]}"; do kill "$q" 2>/dev/null || true; wait "$q" 2>/dev/null || true; done; }

now() { date +%s.%N; }
# One skopeo per instance in parallel; prints aggregate MB/s.
par_push() {
  local t0 t1 i pids=()
  t0=$(now)
  for i in "${!URLS[@]}"; do
    skopeo copy -q --insecure-policy --preserve-digests --dest-tls-verify=false "oci:$LAYOUT:bench" "docker://${URLS[$i]}/bench/img$i:v1" & pids+=($!)
  done
  local q; for q in "${pids[@]}"; do wait "$q" || { echo "scale.sh: skopeo failed" >&2; exit 1; }; done
  t1=$(now)
  RESULT=$(echo "${#URLS[@]} * $MIB * 1.048576 / ($t1 - $t0)" | bc -l)
}
par_pull() {
  local t0 t1 i pids=()
  t0=$(now)
  for i in "${!URLS[@]}"; do
    local j=$(((i + 1) % ${#URLS[@]}))   # pull through another instance than the one pushed to
    rm -rf "$WORK/pull$i"
    skopeo copy -q --insecure-policy --src-tls-verify=false "docker://${URLS[$j]}/bench/img$i:v1" "dir:$WORK/pull$i" & pids+=($!)
  done
  local q; for q in "${pids[@]}"; do wait "$q" || { echo "scale.sh: skopeo failed" >&2; exit 1; }; done
  t1=$(now)
  RESULT=$(echo "${#URLS[@]} * $MIB * 1.048576 / ($t1 - $t0)" | bc -l)
}
par_get() {
  local i pids=() total=0
  for i in "${!URLS[@]}"; do
    wrk -t1 -c4 -d"${SECS}s" -H 'Accept: application/vnd.oci.image.manifest.v1+json' "http://${URLS[$i]}/v2/bench/img0/manifests/v1" >"$WORK/wrk$i" & pids+=($!)
  done
  local q; for q in "${pids[@]}"; do wait "$q"; done
  for i in "${!URLS[@]}"; do
    if grep -qE 'Non-2xx|Socket errors' "$WORK/wrk$i"; then echo "scale.sh: errors:" >&2; cat "$WORK/wrk$i" >&2; exit 1; fi
    total=$(echo "$total + $(awk '/Requests\/sec/{print $2}' "$WORK/wrk$i")" | bc -l)
  done
  RESULT=$(printf '%.0f' "$total")
}

declare -A R
for round in $(seq 0 "$RUNS"); do
  for cfg in "local 1" "pgs3 1" "pgs3 3"; do
    read -r kind n <<<"$cfg"
    start "$kind" "$n"
    par_push; p=$RESULT; par_pull; l=$RESULT; par_get; g=$RESULT
    stop
    printf 'round %d %-6s x%d: push %.0f MB/s, pull %.0f MB/s, manifest GET %s req/s\n' "$round" "$kind" "$n" "$p" "$l" "$g"
    ((round == 0)) && continue
    R["$kind$n push"]+=" $p"; R["$kind$n pull"]+=" $l"; R["$kind$n get"]+=" $g"
  done
done
med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
printf '\n| figure (median of %d, %d MiB image) | SQLite + local, 1 instance | PostgreSQL + S3 (moto), 1 instance | PostgreSQL + S3 (moto), 3 instances |\n|---|---|---|---|\n' "$RUNS" "$MIB"
for f in push pull get; do
  unit="MB/s, aggregate"; [[ $f == get ]] && unit="req/s, aggregate"
  printf '| %s (%s) | %.0f | %.0f | %.0f |\n' "$f" "$unit" "$(med "${R[local1 $f]}")" "$(med "${R[pgs31 $f]}")" "$(med "${R[pgs33 $f]}")"
done
