#!/usr/bin/env python3
"""Writes two OCI image layouts for bench/compare.sh: `v1` with LAYERS layers of FILES files each,
and `v2` sharing all but the last CHANGED layers (whose files change content, some are removed and
some added). Uncompressed tar layers, reproducible (no timestamps, fixed content).

Usage: compare_layout.py DIR LAYERS FILES_PER_LAYER CHANGED
"""
import hashlib, io, json, os, sys, tarfile

out, layers, per, changed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])


def blob(layout, data):
    d = hashlib.sha256(data).hexdigest()
    p = os.path.join(layout, "blobs", "sha256", d)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    if not os.path.exists(p):
        with open(p, "wb") as f:
            f.write(data)
    return "sha256:" + d, len(data)


def layer(i, version):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as t:
        d = tarfile.TarInfo(f"layer{i:02d}")
        d.type, d.mode, d.mtime = tarfile.DIRTYPE, 0o755, 0
        t.addfile(d)
        for j in range(per):
            if version == 2 and j % 10 == 0:
                continue  # removed in v2
            data = f"layer {i} file {j} version {version if j % 3 == 0 else 1}\n".encode() * 8
            f = tarfile.TarInfo(f"layer{i:02d}/f{j:04d}")
            f.size, f.mode, f.mtime = len(data), 0o644, 0
            t.addfile(f, io.BytesIO(data))
        if version == 2:
            for j in range(per // 10):
                data = f"new {i} {j}\n".encode()
                f = tarfile.TarInfo(f"layer{i:02d}/new{j:04d}")
                f.size, f.mode, f.mtime = len(data), 0o644, 0
                t.addfile(f, io.BytesIO(data))
    return buf.getvalue()


def image(version):
    layout = os.path.join(out, f"v{version}")
    descs, diff_ids, history = [], [], []
    for i in range(layers):
        v = version if i >= layers - changed else 1
        d, n = blob(layout, layer(i, v))
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": n})
        diff_ids.append(d)
        history.append({"created": "2024-01-01T00:00:00Z", "created_by": f"COPY layer{i:02d} /layer{i:02d} # v{v}"})
    config = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
              "config": {"Env": [f"VERSION={version}"], "Cmd": ["sh"]},
              "rootfs": {"type": "layers", "diff_ids": diff_ids}, "history": history}
    cd, cn = blob(layout, json.dumps(config).encode())
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cn},
                "layers": descs}
    md, mn = blob(layout, json.dumps(manifest).encode())
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": md, "size": mn, "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')


image(1)
image(2)
