#!/usr/bin/env bash
# bench/browse.sh — browsing a big repository (issue 6): 10,000 tags of an image whose config
# history has 50 layers. wrk measures rreg-server's web UI tag list, the browsing API's tags and
# history endpoints, the UI tag page (the 50-layer history table) and /v2 tags/list, beside CNCF
# distribution 2.8.2's /v2/<name>/tags/list of the same 10,000 tags — distribution has no UI or
# browsing API, so its tag list is the closest peer. Both servers run at once; the endpoints are
# measured in turn within each round (rreg's, then distribution's), medians of N rounds after one
# warm-up round. See bench/README.md.
#
# Usage: bench/browse.sh [--runs N] [--quick]
#   --runs N   rounds after the warm-up (default 3)
#   --quick    1 round of 3 s per endpoint: a smoke test, not a measurement
#
# rreg runs with auth on, the repository private: the UI is read with a signed-in session cookie,
# the API with a session Bearer token (POST /api/v1/login), /v2 with a registry token (GET /token).
# distribution runs without auth. Figures per endpoint: requests/s, p50/p99 latency
# (wrk -t2 -c8 --latency), the server's peak RSS while it ran (VmHWM, reset before each endpoint),
# and the response size. Seeding (one push, 10,000 manifest PUTs 16 at once with `rreg-bench seed`)
# is timed too. Writes bench/results/browse-<date>[-quick].md.
#
# Knobs (environment): RREG_BIN, BENCH_BIN (skip the cargo builds), BENCH_TMPDIR (default /var/tmp),
# BENCH_WRK_SECS (default 10), BENCH_TAGS (default 10000), BENCH_LAYERS (default 50), BENCH_KEEP=1.
# Servers listen on 127.0.0.1 only; only the processes started here are stopped, by PID.

set -Eeuo pipefail
export LC_ALL=C
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH=$ROOT/bench

RUNS=3 QUICK=0
ARGS="$*"
SECS=${BENCH_WRK_SECS:-10}
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?}; shift 2 ;;
    --quick) QUICK=1; RUNS=1; SECS=3; shift ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "browse.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "browse.sh: --runs wants a positive number" >&2; exit 2; }
TAGS=${BENCH_TAGS:-10000}
LAYERS=${BENCH_LAYERS:-50}
REPO=browse/app
MID_TAG=$(printf 't%05d' $((TAGS / 2)))
USER_NAME=browse
USER_PW=browse-password-1
ADMIN_PW=browse-admin-password-1

log() { printf '%s\n' "$*" >&2; }
die() {
  log "" "browse.sh: FAILED: $*"
  for l in "${RREG_LOG:-}" "${DIST_LOG:-}"; do
    [[ -n $l && -s $l ]] && { log "--- last lines of $l:"; tail -n 15 "$l" >&2; }
  done
  exit 1
}
trap 'die "line $LINENO: \`$BASH_COMMAND\` exited with $?"' ERR

for tool in docker-registry wrk curl jq python3; do
  command -v "$tool" >/dev/null || die "$tool is missing (apt-get install docker-registry wrk curl jq python3)"
done

if [[ -z ${RREG_BIN:-} || -z ${BENCH_BIN:-} ]]; then
  log "building rreg-server and rreg-bench (cargo build --release)…"
  (cd "$ROOT" && cargo build --release -q -p rreg-server -p rreg-bench) || die "cargo build failed"
  TARGET=$(cd "$ROOT" && cargo metadata --no-deps --format-version 1 | jq -r .target_directory)
  RREG_BIN=${RREG_BIN:-$TARGET/release/rreg-server}
  BENCH_BIN=${BENCH_BIN:-$TARGET/release/rreg-bench}
fi
[[ -x $RREG_BIN && -x $BENCH_BIN ]] || die "no rreg-server ($RREG_BIN) or rreg-bench ($BENCH_BIN)"

WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/rreg-bench-browse.XXXXXX")
RREG_PID='' DIST_PID='' RREG_LOG=$WORK/rreg.log DIST_LOG=$WORK/dist.log
cleanup() {
  local rc=$? p
  trap - ERR
  for p in "$RREG_PID" "$DIST_PID"; do
    if [[ -n $p ]]; then
      kill "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then log "work dir kept: $WORK"; else rm -rf "$WORK"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM
RESULTS=$WORK/results.tsv
: >"$RESULTS"
rec() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RESULTS"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_http() { # $1 = URL, $2 = PID
  local i
  for i in $(seq 1 300); do
    kill -0 "$2" 2>/dev/null || die "the server ($1) exited while starting"
    curl -s -o /dev/null "$1" && return 0
    sleep 0.1
  done
  die "$1 did not answer within 30 s"
}

# ---------------------------------------------------------------- servers
port=$(free_port)
RUST_LOG=warn RREG_ADMIN_PASSWORD=$ADMIN_PW RREG__GC__INTERVAL_SECS=0 \
  "$RREG_BIN" serve --listen "127.0.0.1:$port" --data-dir "$WORK/rreg-data" >"$WORK/rreg.out" 2>"$RREG_LOG" &
RREG_PID=$!
RREG=http://127.0.0.1:$port
wait_http "$RREG/healthz" "$RREG_PID"
code=$(curl -sS -o "$WORK/user.json" -w '%{http_code}' -u "admin:$ADMIN_PW" -H 'Content-Type: application/json' \
  --data "{\"name\":\"$USER_NAME\",\"password\":\"$USER_PW\"}" "$RREG/api/v1/users")
[[ $code == 201 ]] || die "creating the user answered $code: $(cat "$WORK/user.json")"

port=$(free_port)
mkdir -p "$WORK/dist-data"
cat >"$WORK/dist.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $WORK/dist-data
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
EOF
docker-registry serve "$WORK/dist.yml" >"$DIST_LOG" 2>&1 &
DIST_PID=$!
DIST=http://127.0.0.1:$port
wait_http "$DIST/v2/" "$DIST_PID"
for p in "$RREG_PID" "$DIST_PID"; do
  exe=$(readlink "/proc/$p/exe")
  [[ $exe == "$RREG_BIN" || $exe == *docker-registry ]] || die "PID $p is $exe, not a server"
done

# ---------------------------------------------------------------- seeding
seed() { # $1 = system, $2 = URL, auth args…
  local sys=$1 url=$2 out=$WORK/seed-$1.json
  shift 2
  "$BENCH_BIN" seed --url "$url" --repo "$REPO" --tags "$TAGS" --layers "$LAYERS" --concurrency 16 "$@" >"$out" ||
    die "$sys: seeding failed"
  rec "$sys" seed_tags_per_s 0 "$(jq .tags_per_s "$out")"
  log "  $sys: $TAGS tags in $(jq '.seconds * 10 | round / 10' "$out") s ($(jq '.tags_per_s | round' "$out")/s)"
}
log "seeding $REPO: one image of $LAYERS layers, $TAGS tags, on both servers…"
seed rreg "$RREG" --auth token --user "$USER_NAME" --password "$USER_PW"
seed distribution "$DIST" --auth none
[[ $(jq -r .manifest_digest "$WORK/seed-rreg.json") == $(jq -r .manifest_digest "$WORK/seed-distribution.json") ]] ||
  die "the two servers were seeded with different images"

# Credentials: the UI's session cookie, the API's session token, a registry token (renewed before
# each use: it lives 5 minutes).
curl -sS -o /dev/null -D "$WORK/login.hdr" --data-urlencode "username=$USER_NAME" --data-urlencode "password=$USER_PW" \
  --data-urlencode 'next=/ui/' "$RREG/ui/login"
COOKIE=$(tr -d '\r' <"$WORK/login.hdr" | sed -n 's/^[Ss]et-[Cc]ookie: \(rreg_session=[^;]*\).*/\1/p')
[[ -n $COOKIE ]] || die "signing in to the UI gave no session cookie: $(cat "$WORK/login.hdr")"
API_TOKEN=$(curl -fsS -H 'Content-Type: application/json' --data "{\"username\":\"$USER_NAME\",\"password\":\"$USER_PW\"}" \
  "$RREG/api/v1/login" | jq -r .token)
registry_token() {
  curl -fsS -u "$USER_NAME:$USER_PW" "$RREG/token?service=rreg&scope=repository:$REPO:pull" | jq -r .token
}

# ---------------------------------------------------------------- the endpoints
# name | system | URL | header (one; may be empty) | check
declare -a EP_NAME EP_SYS EP_URL EP_HDR
ep() { EP_NAME+=("$1"); EP_SYS+=("$2"); EP_URL+=("$3"); EP_HDR+=("$4"); }
ep ui_tags rreg "$RREG/ui/r/$REPO" "Cookie: $COOKIE"
ep ui_tags_last_pushed rreg "$RREG/ui/r/$REPO?ordering=last_pushed" "Cookie: $COOKIE"
ep ui_tags_deep rreg "$RREG/ui/r/$REPO?ordering=name&last=t09000" "Cookie: $COOKIE"
ep api_tags rreg "$RREG/api/v1/repositories/$REPO/-/tags" "Authorization: Bearer $API_TOKEN"
ep api_tags_n1000 rreg "$RREG/api/v1/repositories/$REPO/-/tags?n=1000" "Authorization: Bearer $API_TOKEN"
ep api_history rreg "$RREG/api/v1/repositories/$REPO/-/history/$MID_TAG" "Authorization: Bearer $API_TOKEN"
ep ui_tag rreg "$RREG/ui/r/$REPO/-/tags/$MID_TAG" "Cookie: $COOKIE"
ep v2_tags_list rreg "$RREG/v2/$REPO/tags/list" "REGISTRY_TOKEN"
ep v2_tags_list distribution "$DIST/v2/$REPO/tags/list" ""

header_for() { # $1 = index; the header to send
  if [[ ${EP_HDR[$1]} == REGISTRY_TOKEN ]]; then echo "Authorization: Bearer $(registry_token)"; else echo "${EP_HDR[$1]}"; fi
}

# What each endpoint must answer (checked once before the rounds).
check() { # $1 = index
  local i=$1 h body=$WORK/check.body code n
  h=$(header_for "$i")
  code=$(curl -sS -o "$body" -w '%{http_code}' ${h:+-H "$h"} "${EP_URL[i]}")
  [[ $code == 200 ]] || die "${EP_NAME[i]} (${EP_SYS[i]}) answered $code: $(head -c 300 "$body")"
  rec "${EP_SYS[i]}" "${EP_NAME[i]}|bytes" 0 "$(stat -c %s "$body")"
  case ${EP_NAME[i]} in
    ui_tags | ui_tags_last_pushed) n=$(grep -o '<td data-label="Tag">' "$body" | wc -l); ((n == 50)) || die "${EP_NAME[i]}: $n rows, expected 50"
      grep -q 'rel="next"' "$body" || die "${EP_NAME[i]}: no next page link" ;;
    ui_tags_deep) n=$(grep -o '<td data-label="Tag">' "$body" | wc -l); ((n == 50)) || die "${EP_NAME[i]}: $n rows, expected 50" ;;
    api_tags) n=$(jq '.items | length' "$body"); ((n == 100)) || die "api_tags: $n items, expected 100" ;;
    api_tags_n1000) n=$(jq '.items | length' "$body"); ((n == 1000)) || die "api_tags_n1000: $n items, expected 1000" ;;
    api_history) n=$(jq '[.items[0].history[] | select(.layer != null)] | length' "$body")
      ((n == LAYERS)) || die "api_history: $n layers, expected $LAYERS" ;;
    ui_tag) n=$(grep -o '<tr class="layer">' "$body" | wc -l); ((n == LAYERS)) || die "ui_tag: $n layer rows, expected $LAYERS" ;;
    v2_tags_list) n=$(jq '.tags | length' "$body"); ((n == TAGS)) || die "${EP_SYS[i]} tags/list: $n tags, expected $TAGS" ;;
  esac
}
for i in "${!EP_NAME[@]}"; do check "$i"; done

to_ms() { # wrk's "1.23ms" / "456.00us" / "1.02s" → ms
  awk -v v="$1" 'BEGIN { u = v; sub(/^[0-9.]+/, "", u); n = v + 0;
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000; printf "%.3f", n }'
}

measure() { # $1 = index, $2 = round
  local i=$1 r=$2 pid out=$WORK/wrk.out h rps p50 p99
  [[ ${EP_SYS[i]} == rreg ]] && pid=$RREG_PID || pid=$DIST_PID
  h=$(header_for "$i")
  echo 5 >"/proc/$pid/clear_refs"
  timeout $((SECS + 60)) wrk -t2 -c8 -d"${SECS}s" --timeout 10s --latency ${h:+-H "$h"} "${EP_URL[i]}" >"$out" 2>&1 ||
    die "wrk ${EP_NAME[i]} failed: $(tail -n 5 "$out")"
  ! grep -qE 'Non-2xx or 3xx responses|Socket errors' "$out" ||
    die "${EP_SYS[i]} ${EP_NAME[i]}: $(grep -E 'Non-2xx|Socket errors' "$out")"
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  [[ -n $rps && -n $p50 && -n $p99 ]] || die "unreadable wrk output: $(cat "$out")"
  rec "${EP_SYS[i]}" "${EP_NAME[i]}|rps" "$r" "$rps"
  rec "${EP_SYS[i]}" "${EP_NAME[i]}|p50_ms" "$r" "$p50"
  rec "${EP_SYS[i]}" "${EP_NAME[i]}|p99_ms" "$r" "$p99"
  rec "${EP_SYS[i]}" "${EP_NAME[i]}|hwm_mib" "$r" "$(awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status")"
  printf '%s %s/s p50 %sms p99 %sms; ' "${EP_NAME[i]}@${EP_SYS[i]}" "${rps%.*}" "$p50" "$p99"
}

META=$WORK/meta.env
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "args=$ARGS"
  echo "runs=$RUNS"
  echo "secs=$SECS"
  echo "tags=$TAGS"
  echo "layers=$LAYERS"
  echo "mid_tag=$MID_TAG"
  echo "host=$(hostname)"
  echo "cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)"
  echo "nproc=$(nproc)"
  echo "kernel=$(uname -r)"
  echo "rreg_commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$ROOT" diff --quiet HEAD -- server oci 2>/dev/null || echo ' + uncommitted changes in server/ or oci/')"
  echo "rreg_bin=$RREG_BIN ($(date -u -r "$RREG_BIN" '+built %Y-%m-%d %H:%M UTC'))"
  echo "distribution_version=$(docker-registry --version | awk '{ print $3 }' | sed 's/+.*//')"
  echo "wrk_version=$( (wrk --version 2>&1 || true) | awk 'NR == 1 { print $2 }')"
  echo "loadavg_start=$(cut -d' ' -f1-3 /proc/loadavg)"
} >"$META"

log "measuring ${#EP_NAME[@]} endpoints, wrk -t2 -c8 -d${SECS}s, $RUNS round(s) after a warm-up round"
for ((r = 0; r <= RUNS; r++)); do
  if ((r == 0)); then log "warm-up:"; else log "round $r/$RUNS:"; fi
  line=''
  for i in "${!EP_NAME[@]}"; do line+=$(measure "$i" "$r"); done
  log "  $line"
done
for p in "$RREG_PID" "$DIST_PID"; do kill -0 "$p" 2>/dev/null || die "a server died during the run"; done
rec rreg rss_end_mib 0 "$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$RREG_PID/status")"
rec distribution rss_end_mib 0 "$(awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$DIST_PID/status")"
echo "loadavg_end=$(cut -d' ' -f1-3 /proc/loadavg)" >>"$META"
notes=(
  "Both servers run at once on empty data dirs under ${BENCH_TMPDIR:-/var/tmp}, 127.0.0.1 only, seeded once; within each round the endpoints are measured one after the other (rreg's, then distribution's)."
  "The repository $REPO holds one image: $LAYERS layers (each a tar of one random 1–256 KiB file), a config whose history has $LAYERS layer entries and $((LAYERS / 10 + 1)) empty ones (ENV, CMD), tagged t00000…t$(printf '%05d' $((TAGS - 1))) by rreg-bench seed (16 manifest PUTs at once)."
  "rreg-server: auth on (RUST_LOG=warn, RREG__GC__INTERVAL_SECS=0), the repository private to the user $USER_NAME. UI requests carry the session cookie of a sign-in (POST /ui/login), API requests a session token (POST /api/v1/login), /v2 requests a registry token (GET /token, renewed before each wrk run)."
  "distribution: no auth, log level warn, access log off, in-memory blob descriptor cache. It has no web UI and no browsing API: its /v2/<name>/tags/list of the same tags (all of them in one answer; 2.8 has no paging) is the closest peer."
  "rreg's /v2 tags/list answers the $TAGS tags in one page (its default page holds 10,000)."
  "wrk -t2 -c8 --latency --timeout 10s; any non-2xx answer or socket error fails the run. p50/p99 are wrk's latency distribution. wrk runs on the same 2 cores as the servers."
  "Peak RSS: VmHWM of the server measured, reset (echo 5 > /proc/PID/clear_refs) before each endpoint's wrk run."
  "Every endpoint's answer is checked once before the rounds: 50 rows in the UI tag lists, 100 / 1000 API items, $LAYERS layers in the history and on the tag page, $TAGS tags in both tags/list answers."
)
printf 'notes=%s\n' "$(printf '%s\\n' "${notes[@]}")" >>"$META"

mkdir -p "$BENCH/results"
suffix=''
((QUICK)) && suffix=-quick
OUT=$BENCH/results/browse-$(date +%Y-%m-%d)$suffix.md
[[ -e $OUT ]] && OUT=${OUT%.md}-$(date +%H%M%S).md
python3 "$BENCH/lib/browse_report.py" "$RESULTS" "$META" "$OUT"
echo
echo "written to ${OUT#"$ROOT"/}"
