#!/usr/bin/env bash
# bench/build.sh — `rreg build` beside `docker build` (the engine's own builder, DOCKER_BUILDKIT=0:
# Debian has no buildx) and `buildah bud --isolation chroot --storage-driver vfs --layers`, on the
# same Dockerfile and context, in the same run, the systems alternated within each round.
#
# Usage:
#   bench/build.sh [--runs N]      rounds (default 3); the median of each figure is reported
#
# Workload: a multi-stage Dockerfile on a busybox base served by a local registry (CNCF
# `docker-registry`), a context of 2,000 files / 50 MB (random, fixed seed), a COPY of it, a RUN that
# reads it and writes 100 MB, and a final stage that copies the results out of the first:
#
#   FROM $BASE AS build
#   COPY src/ /src/
#   RUN cat /src/*/* | md5sum > /src.md5 && head -c 104857600 /dev/urandom > /big
#   FROM $BASE
#   COPY --from=build /src.md5 /big /out/
#   CMD ["cat", "/out/src.md5"]
#
# Figures per system and round: cold (no build cache; the base image already local), warm (nothing
# changed), one file changed (one context file rewritten: the COPY and everything after re-run).
# Prints a table (ours / theirs / ratio) and writes it to bench/results/build-<date>.md.
#
# Needs root, overlayfs, docker (uses a running engine, else starts a private dockerd and stops it),
# buildah (apt-get install buildah), docker-registry, busybox-static, python3.
# Knobs: RREG_CLI_BIN=PATH (skip `cargo build --release -p rreg`), BENCH_TMPDIR (default /var/tmp),
# BENCH_KEEP=1 keeps the work folder. Stops only what it started (by PID).

set -Eeuo pipefail
export LC_ALL=C

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUNS=3
while (($#)); do
  case $1 in
    --runs) RUNS=${2:?--runs needs a number}; shift 2 ;;
    --runs=*) RUNS=${1#*=}; shift ;;
    -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build.sh: unknown argument: $1 (try --help)" >&2; exit 2 ;;
  esac
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "build.sh: --runs wants a positive number" >&2; exit 2; }

for tool in buildah docker-registry python3 busybox; do
  command -v "$tool" >/dev/null || { echo "build.sh: $tool is missing" >&2; exit 1; }
done
DOCKER=${DOCKER:-$(command -v /usr/bin/docker || command -v docker)}

WORK=$(mktemp -d "${BENCH_TMPDIR:-/var/tmp}/rreg-bench-build.XXXXXX")
REG_PID="" DOCKERD_PID=""
cleanup() {
  set +e
  [[ -n $REG_PID ]] && kill "$REG_PID" 2>/dev/null && wait "$REG_PID" 2>/dev/null
  if [[ -n $DOCKERD_PID ]]; then
    kill "$DOCKERD_PID" 2>/dev/null
    for _ in $(seq 1 150); do kill -0 "$DOCKERD_PID" 2>/dev/null || break; sleep 0.2; done
  fi
  findmnt -rn -o TARGET | awk -v d="$WORK" 'index($0, d "/") == 1' | sort -r | while read -r m; do umount -l "$m"; done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then echo "work folder kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

note() { printf '  -> %s\n' "$*" >&2; }

# --- rreg ---------------------------------------------------------------------------------------
if [[ -n ${RREG_CLI_BIN:-} ]]; then RREG=$RREG_CLI_BIN; else
  note "cargo build --release -p rreg"
  (cd "$ROOT" && cargo build --release -q -p rreg)
  RREG=$ROOT/target/release/rreg
fi

# --- docker -------------------------------------------------------------------------------------
if ! timeout 20 "$DOCKER" info >/dev/null 2>&1; then
  note "starting a private dockerd"
  mkdir -p "$WORK/docker/data" "$WORK/docker/exec"
  echo '{}' > "$WORK/docker/daemon.json"
  export DOCKER_HOST="unix://$WORK/docker/docker.sock"
  dockerd --config-file "$WORK/docker/daemon.json" --bridge=none --iptables=false --ip6tables=false \
    --ip-masq=false --insecure-registry 127.0.0.0/8 --storage-driver overlay2 \
    --data-root "$WORK/docker/data" --exec-root "$WORK/docker/exec" --pidfile "$WORK/docker/pid" \
    --host "$DOCKER_HOST" >"$WORK/docker/log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  for _ in $(seq 1 120); do timeout 5 "$DOCKER" info >/dev/null 2>&1 && break; sleep 0.5; done
  timeout 5 "$DOCKER" info >/dev/null 2>&1 || { tail "$WORK/docker/log" >&2; exit 1; }
fi
export DOCKER_CONFIG="$WORK/docker-client"; mkdir -p "$DOCKER_CONFIG"; echo "{}" > "$DOCKER_CONFIG/config.json"

# --- registry and base image --------------------------------------------------------------------
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat > "$WORK/registry.yml" <<EOF
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $WORK/registry}}
http: {addr: 127.0.0.1:$PORT}
EOF
docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
REG_PID=$!
for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$PORT/v2/" >/dev/null && break; sleep 0.1; done
BASE=127.0.0.1:$PORT/bench/busybox:1
mkdir -p "$WORK/rootfs"/{bin,etc,tmp,root}
cp "$(command -v busybox)" "$WORK/rootfs/bin/busybox"
for a in $("$WORK/rootfs/bin/busybox" --list); do [[ $a == busybox ]] || ln -s busybox "$WORK/rootfs/bin/$a"; done
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$WORK/rootfs/etc/passwd"
tar --numeric-owner --owner=0 --group=0 -C "$WORK/rootfs" -cf "$WORK/rootfs.tar" .
"$DOCKER" import --change 'ENV PATH=/bin' --change 'CMD ["sh"]' "$WORK/rootfs.tar" "$BASE" >/dev/null
"$DOCKER" push -q "$BASE" >/dev/null
note "base image $BASE pushed"

# --- context --------------------------------------------------------------------------------------
CTX=$WORK/ctx
python3 - "$CTX" <<'EOF'
import os, random, sys
root = sys.argv[1]
rnd = random.Random(42)
for d in range(40):
    os.makedirs(f"{root}/src/d{d:02}", exist_ok=True)
    for f in range(50):
        with open(f"{root}/src/d{d:02}/f{f:02}", "wb") as fh:
            fh.write(rnd.randbytes(25000))
EOF
cat > "$CTX/Dockerfile" <<EOF
FROM $BASE AS build
COPY src/ /src/
RUN cat /src/*/* | md5sum > /src.md5 && head -c 104857600 /dev/urandom > /big
FROM $BASE
COPY --from=build /src.md5 /big /out/
CMD ["cat", "/out/src.md5"]
EOF
note "context: $(find "$CTX/src" -type f | wc -l) files, $(du -sm "$CTX/src" | cut -f1) MB"

# --- the three builders ---------------------------------------------------------------------------
export RREG_HOME=$WORK/rreg-home RREG_INSECURE_REGISTRIES=127.0.0.1:$PORT
"$RREG" pull -q "$BASE" >/dev/null
BH=(buildah --root "$WORK/buildah/root" --runroot "$WORK/buildah/run" --storage-driver vfs)
"${BH[@]}" pull -q --tls-verify=false "$BASE" >/dev/null
cp -a "$WORK/buildah/root" "$WORK/buildah/root-template"

now() { date +%s.%N; }
run_rreg() { "$RREG" build -q -t bench:rreg "$CTX" >/dev/null; }
run_docker() { DOCKER_BUILDKIT=0 "$DOCKER" build -q -t bench:docker "$CTX" >/dev/null; }
run_buildah() { "${BH[@]}" bud --isolation chroot --layers --tls-verify=false -q -t bench:buildah "$CTX" >/dev/null; }
cold_rreg() { rm -rf "$RREG_HOME/build/cache"; }
cold_docker() { "$DOCKER" rmi -f bench:docker >/dev/null 2>&1 || true; "$DOCKER" image prune -f >/dev/null; }
cold_buildah() { rm -rf "$WORK/buildah/root"; cp -a "$WORK/buildah/root-template" "$WORK/buildah/root"; }

declare -A T
timed() { # system figure round
  local s=$1 f=$2 r=$3 t0 t1
  sync
  t0=$(now); "run_$s"; t1=$(now)
  T[$s,$f,$r]=$(python3 -c "print(f'{$t1-$t0:.2f}')")
  printf '  round %s  %-7s %-8s %6ss\n' "$r" "$f" "$s" "${T[$s,$f,$r]}" >&2
}

SYSTEMS=(rreg docker buildah)
note "warm-up (one build each)"
for s in "${SYSTEMS[@]}"; do "run_$s"; done
for r in $(seq 1 "$RUNS"); do
  for s in "${SYSTEMS[@]}"; do "cold_$s"; timed "$s" cold "$r"; done
  for s in "${SYSTEMS[@]}"; do timed "$s" warm "$r"; done
  printf 'changed in round %s\n' "$r" >> "$CTX/src/d07/f13"
  for s in "${SYSTEMS[@]}"; do timed "$s" changed "$r"; done
done

# The three images hold the same files.
test "$("$RREG" run --rm bench:rreg)" = "$("$DOCKER" run --rm --network=none bench:docker)" \
  || { echo "build.sh: rreg's and docker's images differ" >&2; exit 1; }

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
OUT=$ROOT/bench/results/build-$(date +%Y-%m-%d).md
mkdir -p "$(dirname "$OUT")"
{
  echo "# rreg build vs docker build vs buildah bud — $(date -u +%Y-%m-%dT%H:%MZ), medians of $RUNS"
  echo
  echo "Multi-stage, COPY of 2,000 files / 50 MB, RUN writing 100 MB (see bench/build.sh); $(nproc) cores."
  echo "docker $("$DOCKER" version -f '{{.Server.Version}}'), buildah $("${BH[@]}" --version | awk '{print $3}')."
  echo
  echo "| figure | rreg | docker build | buildah bud | rreg/docker | rreg/buildah |"
  echo "|---|---|---|---|---|---|"
  for f in cold warm changed; do
    declare -A M=()
    for s in "${SYSTEMS[@]}"; do
      vals=(); for r in $(seq 1 "$RUNS"); do vals+=("${T[$s,$f,$r]}"); done
      M[$s]=$(median "${vals[@]}")
    done
    python3 -c "r,d,b=${M[rreg]},${M[docker]},${M[buildah]}; print(f'| $f | {r:.2f} s | {d:.2f} s | {b:.2f} s | {r/d:.2f} | {r/b:.2f} |')"
  done
} | tee "$OUT"
echo "written to $OUT" >&2
