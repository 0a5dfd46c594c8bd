#!/usr/bin/env bash
# fuzz/sandbox.sh — runs a command (a fuzz target binary) so that a bug in the code it fuzzes cannot
# touch the machine. The `layer` target extracts hostile tars as root: if the extractor ever wrote
# outside its directory, it must not be able to overwrite or delete real files, or make a device
# node it can then open.
#
# In a private mount namespace:
#   * TMPDIR is a fresh tmpfs mounted nodev,nosuid (device nodes made there cannot be opened, set-id
#     files do not work), of RREG_FUZZ_TMPFS_SIZE (default 512m);
#   * the directories named before `--` (corpus, artifacts) stay writable;
#   * every other mount is remounted read-only.
# RREG_FUZZ_PRIVATE_TMPDIR=1 tells the layer target its TMPDIR is private (it then also checks that
# nothing appeared there). Needs root (CAP_SYS_ADMIN) and unshare(1); without them the command runs
# unsandboxed, with a warning, which is safe only as an unprivileged user.
#
# Usage: fuzz/sandbox.sh <writable dir>... -- <command> [args...]
set -euo pipefail

writable=()
while (($#)) && [[ "$1" != "--" ]]; do
  mkdir -p "$1"
  writable+=("$(cd "$1" && pwd -P)")
  shift
done
[[ "${1:-}" == "--" ]] || { echo "usage: $0 <writable dir>... -- <command> [args...]" >&2; exit 2; }
shift
(($#)) || { echo "usage: $0 <writable dir>... -- <command> [args...]" >&2; exit 2; }

if [[ "$(id -u)" != 0 ]] || ! command -v unshare >/dev/null; then
  echo "sandbox.sh: not root or no unshare(1): running unsandboxed" >&2
  exec "$@"
fi

tmp="$(mktemp -d "${TMPDIR:-/tmp}/rreg-fuzz-sandbox.XXXXXX")"
trap 'rmdir "$tmp" 2>/dev/null || true' EXIT

# shellcheck disable=SC2016 # expanded by the inner shell
inner='
set -euo pipefail
tmp="$1"; shift
nw="$1"; shift
writable=("${@:1:nw}"); shift "$nw"
mount -t tmpfs -o "nodev,nosuid,mode=0700,size=${RREG_FUZZ_TMPFS_SIZE:-512m}" rreg-fuzz-tmp "$tmp"
for d in "${writable[@]}"; do mount --bind "$d" "$d"; done
keep=("$tmp" "${writable[@]}")
# Every mount point (field 5 of mountinfo, octal escapes decoded) is remounted read-only, keeping
# its nosuid/nodev/noexec (field 6: a bind remount replaces the per-mount flags).
while read -r mp flags; do
  mp="$(printf "%b" "$mp")"
  skip=0
  for k in "${keep[@]}"; do [[ "$mp" == "$k" ]] && skip=1; done
  ((skip)) && continue
  opts=remount,bind,ro
  for f in nosuid nodev noexec; do [[ ",$flags," == *",$f,"* ]] && opts+=",$f"; done
  mount -o "$opts" "$mp" 2>/dev/null || echo "sandbox.sh: could not make $mp read-only" >&2
done < <(awk "{print \$5, \$6}" /proc/self/mountinfo)
export TMPDIR="$tmp" RREG_FUZZ_PRIVATE_TMPDIR=1
exec "$@"
'
unshare --mount --propagation private bash -c "$inner" sandbox "$tmp" "${#writable[@]}" "${writable[@]}" "$@"
