# shellcheck shell=bash
# bench/lib/layout.sh — sourced, not run. make_layout DIR NAME MIB… writes an OCI image layout of one
# image (tag NAME) with one uncompressed tar layer per MIB argument, each a file of that many MiB from
# /dev/urandom; config, manifest and index.json written by hand. The same layout bench/registry.sh
# makes (and caches as oci-512MiB), for any number of layers. It also writes DIR/bench.env:
#   LAYER_DIGESTS=(…) LAYER_SIZES=(…) CONFIG_DIGEST=… MANIFEST_DIGEST=…
# and DIR/.complete last, so a half-made layout is never taken for a whole one. Needs log().

make_layout() { # $1 = dir, $2 = tag, $3… = layer sizes in MiB
  local dir=$1 name=$2
  shift 2
  local -a sizes=("$@")
  local mt=application/vnd.oci.image.manifest.v1+json
  mkdir -p "$(dirname "$dir")"
  rm -rf "$dir"
  local tmp
  tmp=$(mktemp -d "$(dirname "$dir")/.layout.XXXXXX")
  mkdir -p "$tmp/blobs/sha256" "$tmp/src"
  local i hex size layers='' diffids='' history='' digests=() lsizes=()
  for i in "${!sizes[@]}"; do
    log "  layer $((i + 1))/${#sizes[@]}: ${sizes[i]} MiB from /dev/urandom"
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
  manifest="{\"schemaVersion\":2,\"mediaType\":\"$mt\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"sha256:$chex\",\"size\":$csize},\"layers\":[$layers]}"
  printf '%s' "$manifest" >"$tmp/manifest.json"
  mhex=$(sha256sum <"$tmp/manifest.json" | cut -d' ' -f1)
  msize=$(stat -c %s "$tmp/manifest.json")
  mv "$tmp/manifest.json" "$tmp/blobs/sha256/$mhex"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"%s","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"%s"}}]}' \
    "$mt" "$mhex" "$msize" "$name" >"$tmp/index.json"
  printf '{"imageLayoutVersion":"1.0.0"}' >"$tmp/oci-layout"
  {
    echo "LAYER_DIGESTS=(${digests[*]})"
    echo "LAYER_SIZES=(${lsizes[*]})"
    echo "CONFIG_DIGEST=sha256:$chex"
    echo "MANIFEST_DIGEST=sha256:$mhex"
  } >"$tmp/bench.env"
  touch "$tmp/.complete"
  mv "$tmp" "$dir"
}
