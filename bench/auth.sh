#!/usr/bin/env bash
# bench/auth.sh — the cost of authentication: rreg-server's /token issuance rate and its manifest
# GET rate anonymous (public repository) vs with a Bearer token vs with Basic credentials, beside CNCF
# distribution 2.8.2 (Debian `docker-registry`) without auth and with htpasswd (bcrypt) Basic auth.
# The systems alternate (rreg, distribution, rreg, …); medians of N rounds; wrk -t2 -c8 per figure.
#
# Usage: bench/auth.sh [--runs N]      (default 3)
# Knobs: RREG_BIN=PATH (skip cargo build), BENCH_WRK_SECS=8
# Servers listen on 127.0.0.1 only; only the processes started here are stopped, by PID.

set -Eeuo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=3
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "auth.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
SECS=${BENCH_WRK_SECS:-8}
for tool in wrk curl htpasswd docker-registry python3; do
  command -v "$tool" >/dev/null || { echo "auth.sh: $tool is missing (apt-get install wrk curl apache2-utils docker-registry)" >&2; exit 1; }
done
if [[ -z "${RREG_BIN:-}" ]]; then
  (cd "$ROOT" && cargo build --release -q -p rreg-server)
  RREG_BIN=$ROOT/target/release/rreg-server
fi
WORK=$(mktemp -d /var/tmp/rreg-bench-auth.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
MT=application/vnd.oci.image.manifest.v1+json
PW=bench-password-1
BASIC="Authorization: Basic $(printf 'admin:%s' "$PW" | base64 -w0)"

# Pushes a one-layer image to $1 (base URL) as bench/img:v1 with curl; extra curl args after.
push_image() {
  local base=$1; shift
  local cfg='{"architecture":"amd64","os":"linux"}' layer="$WORK/layer"
  head -c 4096 /dev/urandom >"$layer"
  local cd ld
  cd="sha256:$(printf '%s' "$cfg" | sha256sum | cut -d' ' -f1)"
  ld="sha256:$(sha256sum "$layer" | cut -d' ' -f1)"
  for spec in "cfg:$cd" "layer:$ld"; do
    local kind=${spec%%:*} d=${spec#*:} loc
    loc=$(curl -fsS -D - -o /dev/null -X POST "$@" "$base/v2/bench/img/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
    [[ $loc == http* ]] || loc="$base$loc"
    local sep='?'; [[ $loc == *\?* ]] && sep='&'
    if [[ $kind == cfg ]]; then
      curl -fsS -o /dev/null -X PUT "$@" -H 'Content-Type: application/octet-stream' --data-binary "$cfg" "$loc${sep}digest=$d"
    else
      curl -fsS -o /dev/null -X PUT "$@" -H 'Content-Type: application/octet-stream' --data-binary "@$layer" "$loc${sep}digest=$d"
    fi
  done
  local m
  m=$(printf '{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":4096}]}' "$MT" "$cd" "${#cfg}" "$ld")
  curl -fsS -o /dev/null -X PUT "$@" -H "Content-Type: $MT" --data-binary "$m" "$base/v2/bench/img/manifests/v1"
}

# wrk requests/s for URL with extra headers; fails on any non-2xx or socket error.
rate() {
  local url=$1; shift
  local hdr=() out
  for h in "$@"; do hdr+=(-H "$h"); done
  out=$(wrk -t2 -c8 -d"${SECS}s" "${hdr[@]}" "$url")
  if grep -qE 'Non-2xx|Socket errors' <<<"$out"; then echo "auth.sh: errors from $url:" >&2; echo "$out" >&2; exit 1; fi
  awk '/Requests\/sec/{printf "%.0f", $2}' <<<"$out"
}

start_rreg() {
  local port data; port=$(free_port); data="$WORK/rreg-$RANDOM"
  # The per-address login rate limit would turn the token benchmark into a 429 benchmark.
  RUST_LOG=warn RREG_ADMIN_PASSWORD=$PW RREG__GC__INTERVAL_SECS=0 RREG__AUTH__LOGIN_RATE_PER_MINUTE=100000000 "$RREG_BIN" serve --listen "127.0.0.1:$port" --data-dir "$data" >"$WORK/rreg.out" 2>"$WORK/rreg.err" &
  PIDS+=($!); RREG_PID=$!
  for _ in $(seq 100); do curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null && break; sleep 0.1; done
  RREG_URL="http://127.0.0.1:$port"
}

start_distribution() { # $1 = "htpasswd" or "none"
  local port dir; port=$(free_port); dir="$WORK/dist-$RANDOM"; mkdir -p "$dir/data"
  local auth=""
  if [[ $1 == htpasswd ]]; then
    htpasswd -Bbn admin "$PW" >"$dir/htpasswd"
    auth=$'auth:\n  htpasswd:\n    realm: bench\n    path: '"$dir/htpasswd"
  fi
  cat >"$dir/config.yml" <<YML
version: 0.1
log: {level: warn, accesslog: {disabled: true}}
storage: {filesystem: {rootdirectory: $dir/data}, delete: {enabled: true}}
http: {addr: 127.0.0.1:$port}
$auth
YML
  docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
  PIDS+=($!)
  for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/v2/" && break; sleep 0.1; done
  DIST_URL="http://127.0.0.1:$port"
}

declare -A R
add() { R[$1]="${R[$1]:-} $2"; }
for round in $(seq 0 "$RUNS"); do   # round 0 is the warm-up
  start_rreg
  push_image "$RREG_URL" -H "$BASIC"
  curl -fsS -o /dev/null -X PATCH -H "$BASIC" -H 'Content-Type: application/json' \
    --data '{"visibility":"public"}' "$RREG_URL/api/v1/repositories/bench/img"
  TOKEN=$(curl -fsS -H "$BASIC" "$RREG_URL/token?service=rreg&scope=repository:bench/img:pull" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  t=$(rate "$RREG_URL/token?service=rreg&scope=repository:bench/img:pull" "$BASIC")
  a=$(rate "$RREG_URL/v2/bench/img/manifests/v1" "Accept: $MT")
  b=$(rate "$RREG_URL/v2/bench/img/manifests/v1" "Accept: $MT" "Authorization: Bearer $TOKEN")
  c=$(rate "$RREG_URL/v2/bench/img/manifests/v1" "Accept: $MT" "$BASIC")
  kill "$RREG_PID"; wait "$RREG_PID" 2>/dev/null || true
  start_distribution none
  push_image "$DIST_URL"
  d=$(rate "$DIST_URL/v2/bench/img/manifests/v1" "Accept: $MT")
  start_distribution htpasswd
  push_image "$DIST_URL" -H "$BASIC"
  e=$(rate "$DIST_URL/v2/bench/img/manifests/v1" "Accept: $MT" "$BASIC")
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; PIDS=()
  echo "round $round: token/s $t | rreg GET anon $a bearer $b basic $c | distribution GET anon $d htpasswd $e"
  ((round == 0)) && continue
  add token "$t"; add anon "$a"; add bearer "$b"; add basic "$c"; add danon "$d"; add dbasic "$e"
done
med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -n | awk '{a[NR]=$1} END{print (NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2}'; }
printf '\n| figure (req/s, median of %d) | rreg | distribution 2.8.2 | ratio |\n|---|---|---|---|\n' "$RUNS"
printf '| token issuance, GET /token with Basic | %s | (no token service) | |\n' "$(med "${R[token]}")"
printf '| manifest GET, anonymous | %s | %s | %.1f× |\n' "$(med "${R[anon]}")" "$(med "${R[danon]}")" "$(echo "$(med "${R[anon]}") / $(med "${R[danon]}")" | bc -l)"
printf '| manifest GET, Bearer token | %s | | |\n' "$(med "${R[bearer]}")"
printf '| manifest GET, Basic (rreg: argon2id, cached; distribution: htpasswd bcrypt) | %s | %s | %.1f× |\n' "$(med "${R[basic]}")" "$(med "${R[dbasic]}")" "$(echo "$(med "${R[basic]}") / $(med "${R[dbasic]}")" | bc -l)"
printf '| rreg Bearer GET / anonymous GET | %.2f | | |\n' "$(echo "$(med "${R[bearer]}") / $(med "${R[anon]}")" | bc -l)"
