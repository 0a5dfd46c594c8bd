#!/usr/bin/env bash
# scripts/test.sh — the rreg test-suite runner (also what CI runs via .ci/run).
#
# Works on a fresh Debian 12 machine as root. In order, it:
#   1. installs the Debian packages the tests need, but only those missing
#      (docker.io, skopeo, busybox-static, docker-registry, wrk, apache2-utils,
#      hyperfine, time, curl, jq, chromium + chromium-driver for the UI test);
#   2. makes sure a Docker engine answers: uses one that already does, or starts
#      a private dockerd (own data/exec root and socket under a temp dir,
#      no bridge, no iptables; storage driver overlay2, falling back to vfs);
#   3. imports a tiny image `busybox:rreg-test` (a rootfs made from the static
#      /bin/busybox; no network needed) and checks a container runs;
#   4. runs cargo fmt --check, clippy -D warnings, builds the binaries and runs
#      the workspace tests (cargo-nextest when available, else cargo test),
#      a short cargo-fuzz run of every target in fuzz/ (nightly; installs
#      cargo-fuzz when missing), then the server suites on PostgreSQL + S3,
#      stopping at the first failure.
# On exit it stops only the dockerd it started (by PID) and removes its temp dirs.
#
# Environment handed to the tests:
#   RREG_TEST_DOCKER=1            docker works (unset: docker tests should skip)
#   RREG_TEST_DOCKER_IMAGE        busybox:rreg-test
#   DOCKER                        path of the docker CLI (/usr/bin/docker)
#   DOCKER_HOST                   socket of the private dockerd, when started here
#   DOCKER_CONFIG                 a throw-away client config dir (docker login)
#   PATH                          /usr/bin first, so `docker` is Debian's client
#
# Usage:
#   scripts/test.sh              full run (what CI does)
#   scripts/test.sh --env-only   set up packages + docker + image, print the
#                                exports, smoke-test a container, tear down, exit
# Knobs: RREG_REQUIRE_DOCKER=1 fails the run when docker cannot be made to work
#        (by default the tests run without it, docker tests skipping);
#        RREG_FUZZ_SECS=20 seconds of fuzzing per target;
#        RREG_DOCKER_DRIVERS="overlay2 vfs" storage drivers to try, in order.

set -euo pipefail

ENV_ONLY=0
case "${1:-}" in
  --env-only) ENV_ONLY=1 ;;
  "") ;;
  -h|--help) sed -n '2,/^$/p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "usage: $0 [--env-only]" >&2; exit 2 ;;
esac

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO_ROOT"

TEST_IMAGE="busybox:rreg-test"
DOCKERD_WAIT_SECS=60
START_TS=$SECONDS

section() { printf '\n==== %s ==== (+%ss)\n' "$*" "$((SECONDS - START_TS))"; }
note()    { printf '  -> %s\n' "$*"; }
warn()    { printf '  !! %s\n' "$*" >&2; }

# /usr/bin first: Debian's docker client (matching the engine) wins over
# /usr/local/bin/docker; /usr/sbin holds dockerd.
export PATH="/usr/bin:/usr/sbin:/bin:/sbin:$PATH"
if [[ -d "$HOME/.cargo/bin" && ":$PATH:" != *":$HOME/.cargo/bin:"* ]]; then
  export PATH="$PATH:$HOME/.cargo/bin"
fi

# ---------------------------------------------------------------------------
# 1. Debian packages
# ---------------------------------------------------------------------------
PACKAGES=(docker.io skopeo busybox-static docker-registry wrk apache2-utils hyperfine time curl jq chromium chromium-driver)

pkg_installed() {
  [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" == "install ok installed" ]]
}

# Another apt/dpkg (e.g. a background install) may hold the lock: wait for it.
wait_for_apt() {
  local waited=0
  while pgrep -x apt-get >/dev/null || pgrep -x apt >/dev/null || pgrep -x dpkg >/dev/null; do
    if (( waited == 0 )); then note "another apt/dpkg is running; waiting for it"; fi
    if (( waited >= 900 )); then warn "apt/dpkg still busy after ${waited}s; trying anyway"; break; fi
    sleep 5; waited=$((waited + 5))
  done
}

install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do pkg_installed "$p" || missing+=("$p"); done
  if (( ${#missing[@]} == 0 )); then note "all present: ${PACKAGES[*]}"; return; fi
  note "installing: ${missing[*]}"
  wait_for_apt
  # Re-check: whoever held the lock may have installed them meanwhile.
  local still=()
  for p in "${missing[@]}"; do pkg_installed "$p" || still+=("$p"); done
  if (( ${#still[@]} == 0 )); then note "installed meanwhile by someone else"; return; fi
  export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${still[@]}" >/dev/null
  for p in "${still[@]}"; do pkg_installed "$p" || { warn "failed to install $p"; exit 1; }; done
}

# ---------------------------------------------------------------------------
# 2. Docker engine
# ---------------------------------------------------------------------------
WORK_TMP="$(mktemp -d /tmp/rreg-test.XXXXXX)"  # short: unix socket paths are limited
DOCKER_TMP="$WORK_TMP/docker"   # data/exec roots, socket, log of a dockerd started here
DOCKERD_PID=""                  # PID of the dockerd this script started, if any

if [[ -x /usr/bin/docker ]]; then DOCKER=/usr/bin/docker; else DOCKER="$(command -v docker || true)"; fi
export DOCKER

docker_ok() { [[ -n "$DOCKER" ]] && timeout 20 "$DOCKER" info >/dev/null 2>&1; }

# Stop the dockerd started here (and its managed containerd), by PID only.
stop_dockerd() {
  [[ -n "$DOCKERD_PID" ]] || return 0
  local pid="$DOCKERD_PID" ctrd_pid="" i
  DOCKERD_PID=""
  if [[ -f "$DOCKER_TMP/exec/containerd/containerd.pid" ]]; then
    ctrd_pid="$(cat "$DOCKER_TMP/exec/containerd/containerd.pid" 2>/dev/null || true)"
  fi
  if kill -0 "$pid" 2>/dev/null; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 150; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$pid" 2>/dev/null; then
      warn "dockerd $pid did not stop in 30s; killing it"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  fi
  # dockerd normally stops its containerd itself; make sure.
  if [[ -n "$ctrd_pid" ]] && kill -0 "$ctrd_pid" 2>/dev/null; then
    kill -TERM "$ctrd_pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do kill -0 "$ctrd_pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$ctrd_pid" 2>/dev/null; then kill -KILL "$ctrd_pid" 2>/dev/null || true; fi
  fi
}

# Unmount whatever is still mounted under a dir (deepest first), then delete it.
remove_tree() {
  local dir="$1" m
  [[ -n "$dir" && -d "$dir" ]] || return 0
  while read -r m; do
    if [[ -n "$m" ]]; then umount -l "$m" 2>/dev/null || true; fi
  done < <(findmnt -rn -o TARGET 2>/dev/null | awk -v d="$dir" 'index($0, d "/") == 1' | sort -r)
  rm -rf "$dir" 2>/dev/null || warn "could not fully remove $dir"
}

# ---------------------------------------------------------------------------
# PostgreSQL: a private cluster as the postgres user, on a free port, in a temp folder
# ---------------------------------------------------------------------------
PG_DIR=""
PG_BIN=""
start_postgres() {
  PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  if [[ -z "$PG_BIN" || ! -x "$PG_BIN/initdb" ]]; then
    note "installing postgresql"
    wait_for_apt
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  fi
  # Its own folder: the postgres user cannot enter the script's private temp folder.
  PG_DIR=$(mktemp -d /tmp/rreg-pg.XXXXXX)
  chown postgres "$PG_DIR"
  local port
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  if ! su postgres -s /bin/sh -c "$PG_BIN/initdb -D $PG_DIR/data -A trust -U postgres" >"$PG_DIR/initdb.log" 2>&1; then
    warn "initdb failed:"; cat "$PG_DIR/initdb.log" >&2; return 1
  fi
  if ! su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PG_DIR/data -l $PG_DIR/log -w start \
      -o '-p $port -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c max_connections=400'" >/dev/null; then
    warn "PostgreSQL did not start:"; tail -n 20 "$PG_DIR/log" >&2; return 1
  fi
  export RREG_TEST_POSTGRES="postgres://postgres@127.0.0.1:$port"
  note "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}

# ---------------------------------------------------------------------------
# S3: a local S3-compatible server (moto) with a test bucket
# ---------------------------------------------------------------------------
MOTO_PID=""
start_s3() {
  if ! command -v moto_server >/dev/null 2>&1; then
    note "installing moto[server] from PyPI"
    python3 -m pip install -q 'moto[server]' >/dev/null 2>&1 || { warn "pip install moto[server] failed"; return 1; }
    hash -r
  fi
  local port i
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  moto_server -H 127.0.0.1 -p "$port" >"$WORK_TMP/moto.log" 2>&1 &
  MOTO_PID=$!
  for i in $(seq 1 60); do
    if curl -fsS -o /dev/null -X PUT "http://127.0.0.1:$port/rreg-test" 2>/dev/null; then
      export RREG_TEST_S3_ENDPOINT="http://127.0.0.1:$port" RREG_TEST_S3_BUCKET=rreg-test
      note "moto S3 on 127.0.0.1:$port (pid $MOTO_PID), bucket rreg-test"
      return 0
    fi
    sleep 0.5
  done
  warn "moto did not answer"; tail -n 20 "$WORK_TMP/moto.log" >&2
  return 1
}

stop_postgres() {
  [[ -n "$PG_DIR" && -f "$PG_DIR/data/postmaster.pid" ]] || return 0
  section "stopping the PostgreSQL cluster started here"
  su postgres -s /bin/sh -c "$PG_BIN/pg_ctl -D $PG_DIR/data -m immediate -w stop" >/dev/null 2>&1
}

cleanup() {
  local rc=$?
  set +e
  stop_postgres
  [[ -n "$PG_DIR" ]] && rm -rf "$PG_DIR"
  if [[ -n "$MOTO_PID" ]]; then kill "$MOTO_PID" 2>/dev/null; wait "$MOTO_PID" 2>/dev/null; fi
  if [[ -n "$DOCKERD_PID" ]]; then
    section "stopping the dockerd started here (pid $DOCKERD_PID)"
    stop_dockerd
  fi
  remove_tree "$WORK_TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Start a private dockerd with the given storage driver; 0 when it answers.
start_dockerd() {
  local driver="$1" i
  remove_tree "$DOCKER_TMP"
  mkdir -p "$DOCKER_TMP/data" "$DOCKER_TMP/exec"
  echo '{}' > "$DOCKER_TMP/daemon.json"   # ignore any /etc/docker/daemon.json
  : > "$DOCKER_TMP/dockerd.log"
  export DOCKER_HOST="unix://$DOCKER_TMP/docker.sock"
  note "starting dockerd (storage driver $driver), log: $DOCKER_TMP/dockerd.log"
  dockerd \
    --config-file "$DOCKER_TMP/daemon.json" \
    --bridge=none --iptables=false --ip6tables=false --ip-masq=false \
    --insecure-registry 127.0.0.0/8 \
    --storage-driver "$driver" \
    --data-root "$DOCKER_TMP/data" \
    --exec-root "$DOCKER_TMP/exec" \
    --pidfile "$DOCKER_TMP/docker.pid" \
    --host "$DOCKER_HOST" \
    >>"$DOCKER_TMP/dockerd.log" 2>&1 </dev/null &
  DOCKERD_PID=$!
  for ((i = 0; i < DOCKERD_WAIT_SECS * 2; i++)); do
    if ! kill -0 "$DOCKERD_PID" 2>/dev/null; then
      warn "dockerd exited early (driver $driver); last log lines:"
      tail -n 15 "$DOCKER_TMP/dockerd.log" >&2 || true
      wait "$DOCKERD_PID" 2>/dev/null || true
      DOCKERD_PID=""
      return 1
    fi
    if timeout 5 "$DOCKER" info >/dev/null 2>&1; then
      note "dockerd up (pid $DOCKERD_PID, driver $("$DOCKER" info -f '{{.Driver}}' 2>/dev/null))"
      return 0
    fi
    sleep 0.5
  done
  warn "dockerd did not answer within ${DOCKERD_WAIT_SECS}s (driver $driver); last log lines:"
  tail -n 15 "$DOCKER_TMP/dockerd.log" >&2 || true
  stop_dockerd
  return 1
}

# Build busybox:rreg-test from the static busybox: a rootfs tarball, docker import.
import_test_image() {
  if "$DOCKER" image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
    note "$TEST_IMAGE already present"; return 0
  fi
  # busybox-static provides /bin/busybox; it must be static to run in scratch.
  local bb=/bin/busybox root="$WORK_TMP/rootfs" tarball="$WORK_TMP/rootfs.tar"
  [[ -x "$bb" ]] || { warn "no $bb (package busybox-static)"; return 1; }
  rm -rf "$root"
  mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,tmp,proc,sys,dev,var}
  chmod 1777 "$root/tmp"
  cp "$bb" "$root/bin/busybox"
  local applet
  while read -r applet; do
    [[ -n "$applet" && "$applet" != "bin/busybox" && ! -e "$root/$applet" ]] || continue
    mkdir -p "$root/$(dirname "$applet")"
    ln -s /bin/busybox "$root/$applet"
  done < <("$root/bin/busybox" --list-full)
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' > "$root/etc/group"
  tar --numeric-owner --owner=0 --group=0 -C "$root" -cf "$tarball" .
  "$DOCKER" import --change 'CMD ["/bin/sh"]' "$tarball" "$TEST_IMAGE" >/dev/null
  rm -rf "$root" "$tarball"
  note "imported $TEST_IMAGE ($("$DOCKER" image inspect -f '{{.Size}}' "$TEST_IMAGE") bytes)"
}

container_runs() {
  [[ "$(timeout 60 "$DOCKER" run --rm --network=none "$TEST_IMAGE" echo ok 2>&1)" == "ok" ]]
}

setup_docker() {
  if [[ -z "$DOCKER" ]]; then warn "no docker CLI found"; return 1; fi
  if docker_ok; then
    note "a docker engine already answers${DOCKER_HOST:+ at $DOCKER_HOST}; using it"
    import_test_image && container_runs && return 0
    warn "existing engine cannot run $TEST_IMAGE"; return 1
  fi
  command -v dockerd >/dev/null || { warn "no dockerd found (package docker.io)"; return 1; }
  local driver
  for driver in ${RREG_DOCKER_DRIVERS:-overlay2 vfs}; do
    if start_dockerd "$driver"; then
      if import_test_image && container_runs; then return 0; fi
      warn "containers do not run with driver $driver; last log lines:"
      tail -n 10 "$DOCKER_TMP/dockerd.log" >&2 || true
      stop_dockerd
    fi
  done
  unset DOCKER_HOST
  return 1
}

# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------
section "Debian packages"
install_packages

section "Docker engine"
if setup_docker; then
  export RREG_TEST_DOCKER=1 RREG_TEST_DOCKER_IMAGE="$TEST_IMAGE"
  # A throw-away client config, so `docker login` in tests leaves ~/.docker alone.
  if [[ -z "${DOCKER_CONFIG:-}" ]]; then
    export DOCKER_CONFIG="$WORK_TMP/docker-client"
    mkdir -p "$DOCKER_CONFIG"
  fi
  note "docker ready: $("$DOCKER" version -f 'client {{.Client.Version}}, server {{.Server.Version}}' 2>/dev/null)"
else
  unset RREG_TEST_DOCKER
  if [[ "$ENV_ONLY" == 1 || "${RREG_REQUIRE_DOCKER:-0}" == 1 ]]; then
    warn "docker is not usable"; exit 1
  fi
  warn "docker is not usable: docker-based tests will be skipped"
fi

section "PostgreSQL"
start_postgres

section "S3 (moto)"
start_s3

section "Test environment"
for v in PATH DOCKER DOCKER_HOST DOCKER_CONFIG RREG_TEST_DOCKER RREG_TEST_DOCKER_IMAGE RREG_TEST_POSTGRES RREG_TEST_S3_ENDPOINT; do
  if [[ -n "${!v:-}" ]]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
done

if [[ "$ENV_ONLY" == 1 ]]; then
  section "Smoke check: docker run --rm --network=none $TEST_IMAGE echo hello"
  "$DOCKER" run --rm --network=none "$TEST_IMAGE" echo hello
  section "env-only: done"
  exit 0
fi

section "cargo fmt --all -- --check"
cargo fmt --all -- --check

section "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo build --workspace --bins"
cargo build --workspace --bins

# The server suites run a second time on PostgreSQL and S3 (RREG_TEST_DB=postgres gives each test
# server its own database on the cluster started above, RREG_TEST_STORAGE=s3 its own prefix in the
# moto bucket).
SERVER_SUITES=(distribution auth api gc ha browse ui crash hostile credentials compare)
if cargo nextest --version >/dev/null 2>&1; then
  section "cargo nextest run --workspace --no-fail-fast (SQLite, local folder)"
  cargo nextest run --workspace --no-fail-fast
else
  section "cargo test --workspace --no-fail-fast"
  cargo test --workspace --no-fail-fast
fi

# A short fuzzing run: every cargo-fuzz target in fuzz/ (see fuzz/README.md) for RREG_FUZZ_SECS
# (default 20) seconds from its seed corpus; a panic, a failed property or a slow input (-timeout)
# fails the run and leaves the input in fuzz/artifacts/<target>/. Built without a sanitizer: the
# AddressSanitizer build of the client's dependencies takes over 5 minutes on 2 cores (the long runs
# in fuzz/README.md use it). Its own target dir, target/fuzz: its flags differ from every other
# build here (CI starts from a clean clone, so nothing stale is reused). Built once, then each
# binary runs directly with a throw-away corpus dir first (libFuzzer writes new inputs there, never
# into fuzz/seeds/); the layer target extracts hostile tars as root, so it runs in fuzz/sandbox.sh.
FUZZ_TARGETS=(reference manifest dockerfile dockerignore layer v2_path)
FUZZ_SECS="${RREG_FUZZ_SECS:-20}"
section "cargo fuzz: ${FUZZ_TARGETS[*]} (${FUZZ_SECS}s each, no sanitizer)"
FUZZ_OK=1
if ! rustup toolchain list 2>/dev/null | grep '^nightly' >/dev/null; then
  note "installing the nightly toolchain (cargo fuzz needs it)"
  if ! rustup toolchain install nightly --profile minimal; then
    # A machine whose rustup cannot reach its distribution server: say so loudly, run the rest.
    warn "no nightly toolchain and none can be installed here: the fuzz section is SKIPPED"
    FUZZ_OK=0
  fi
fi
if (( FUZZ_OK )) && ! cargo fuzz --version >/dev/null 2>&1; then
  note "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
if (( FUZZ_OK )); then
  FUZZ_TARGET_DIR="$REPO_ROOT/target/fuzz"
  cargo +nightly fuzz build -s none --target-dir "$FUZZ_TARGET_DIR"
  fuzz_bin="$FUZZ_TARGET_DIR/$(rustc +nightly -vV | sed -n 's/^host: //p')/release"
  for t in "${FUZZ_TARGETS[@]}"; do
    corpus="$WORK_TMP/fuzz-corpus/$t"
    mkdir -p "$corpus" "fuzz/artifacts/$t"
    run=("$fuzz_bin/$t" -max_total_time="$FUZZ_SECS" -timeout=10 -artifact_prefix="$REPO_ROOT/fuzz/artifacts/$t/"
         "$corpus" "fuzz/seeds/$t")
    if [[ "$t" == layer ]]; then run=(fuzz/sandbox.sh "$corpus" "fuzz/artifacts/$t" -- "${run[@]}"); fi
    if ! "${run[@]}" >"$WORK_TMP/fuzz-$t.log" 2>&1; then
      tail -n 40 "$WORK_TMP/fuzz-$t.log" >&2
      warn "fuzz target $t failed; the input is in fuzz/artifacts/$t/ (replay: $fuzz_bin/$t <file>)"
      exit 1
    fi
    note "$t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$WORK_TMP/fuzz-$t.log" | tail -n 1)"
  done
fi

section "server suites on PostgreSQL + S3: ${SERVER_SUITES[*]}"
if cargo nextest --version >/dev/null 2>&1; then
  filter=$(printf 'binary(%s) | ' "${SERVER_SUITES[@]}"); filter=${filter% | }
  RREG_TEST_DB=postgres RREG_TEST_STORAGE=s3 cargo nextest run -p rreg-tests --no-fail-fast -E "$filter"
else
  for t in "${SERVER_SUITES[@]}"; do RREG_TEST_DB=postgres RREG_TEST_STORAGE=s3 cargo test -p rreg-tests --test "$t"; done
fi

section "all checks passed"
