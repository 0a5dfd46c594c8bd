#!/usr/bin/env python3
"""bench/lib/tag_put.py — the tag-PUT load of bench/registry.sh.

usage: tag_put.py HOST PORT REPO COUNT THREADS

1. Uploads a tiny image to REPO (an empty 1024-byte tar layer and a small config, each by
   POST + PUT ?digest=), untimed.
2. PUTs that image's manifest (≈ 400 bytes) under COUNT tags `t00000`, `t00001`, … with THREADS
   threads, each holding one keep-alive connection, and times it.

The client is kept cheap: requests are pre-formatted bytes on raw sockets and a response is read as
status line + headers + Content-Length (or chunked) body, no http.client. Prints one line:

    tags_per_s=… seconds=… count=… client_cpu_s=… reconnects=…

and exits non-zero (printing the first failures) when any PUT is not answered 201.
"""

import hashlib
import http.client
import itertools
import json
import os
import socket
import sys
import threading
import time
import urllib.parse

MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_LAYER = "application/vnd.oci.image.layer.v1.tar"


def die(msg: str) -> None:
    print(f"tag_put.py: {msg}", file=sys.stderr)
    sys.exit(1)


def upload_blob(host: str, port: int, repo: str, data: bytes) -> str:
    """POST + PUT ?digest= (two requests); returns the digest."""
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    c = http.client.HTTPConnection(host, port, timeout=30)
    c.request("POST", f"/v2/{repo}/blobs/uploads/", headers={"Content-Length": "0"})
    r = c.getresponse()
    r.read()
    if r.status != 202:
        die(f"POST blobs/uploads/ answered {r.status}, expected 202")
    loc = r.getheader("Location") or die("POST blobs/uploads/ answered no Location")
    u = urllib.parse.urlsplit(loc)
    path = u.path + (f"?{u.query}" if u.query else "")
    sep = "&" if "?" in path else "?"
    path += f"{sep}digest={urllib.parse.quote(digest, safe='')}"
    c.request("PUT", path, body=data, headers={"Content-Type": "application/octet-stream"})
    r = c.getresponse()
    r.read()
    if r.status != 201:
        die(f"PUT {path} answered {r.status}, expected 201")
    c.close()
    return digest


def read_response(f) -> tuple[int, bool]:
    """Reads one response from a buffered socket file; returns (status, server wants close)."""
    line = f.readline()
    if not line:
        raise ConnectionError("connection closed by the server")
    status = int(line.split()[1])
    length, chunked, close = 0, False, line.startswith(b"HTTP/1.0")
    while True:
        h = f.readline()
        if h in (b"\r\n", b"\n"):
            break
        if not h:
            raise ConnectionError("connection closed in the headers")
        k, _, v = h.partition(b":")
        k = k.strip().lower()
        if k == b"content-length":
            length = int(v)
        elif k == b"transfer-encoding" and b"chunked" in v.lower():
            chunked = True
        elif k == b"connection":
            close = b"close" in v.lower()
    if chunked:
        while True:
            size = int(f.readline().split(b";")[0], 16)
            f.read(size + 2)
            if size == 0:
                break
    elif length:
        f.read(length)
    return status, close


def main() -> None:
    if len(sys.argv) != 6:
        die("usage: tag_put.py HOST PORT REPO COUNT THREADS")
    host, port, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    count, threads = int(sys.argv[4]), int(sys.argv[5])

    layer = bytes(1024)  # an empty tar archive: two zero blocks
    layer_digest = upload_blob(host, port, repo, layer)
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
        },
        separators=(",", ":"),
    ).encode()
    config_digest = upload_blob(host, port, repo, config)
    body = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": MT_MANIFEST,
            "config": {"mediaType": MT_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": MT_LAYER, "digest": layer_digest, "size": len(layer)}],
        },
        separators=(",", ":"),
    ).encode()
    head = (
        f"PUT /v2/{repo}/manifests/{{tag}} HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: {MT_MANIFEST}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    requests = [head.replace("{tag}", f"t{i:05d}").encode() + body for i in range(count)]

    counter = itertools.count()  # next() on it is atomic under the GIL
    failures: list[str] = []
    reconnects = [0]
    bad = [0]
    start = threading.Barrier(threads + 1)

    def connect():
        s = socket.create_connection((host, port), timeout=60)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s, s.makefile("rb")

    errors: list[str] = []

    def worker() -> None:
        try:
            conn = connect()
        except OSError as e:
            errors.append(f"connect: {e!r}")
            conn = None
        start.wait()
        if conn is None:
            return
        try:
            work(*conn)
        except Exception as e:  # noqa: BLE001 — reported and turned into a non-zero exit
            errors.append(repr(e))

    def work(s, f) -> None:
        while True:
            i = next(counter)
            if i >= count:
                break
            for attempt in (0, 1):
                try:
                    s.sendall(requests[i])
                    status, close = read_response(f)
                    break
                except (ConnectionError, OSError):
                    if attempt:
                        raise
                    # A keep-alive connection the server dropped: retry once on a new one.
                    s.close()
                    s, f = connect()
                    reconnects[0] += 1
            if status != 201:
                bad[0] += 1
                if len(failures) < 20:
                    failures.append(f"tag t{i:05d}: HTTP {status}")
            if close:
                s.close()
                s, f = connect()
                reconnects[0] += 1
        s.close()

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    cpu0 = os.times()
    start.wait()
    t0 = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    cpu1 = os.times()
    if errors:
        die("client errors:\n  " + "\n  ".join(errors))
    if failures:
        die(f"{bad[0]} non-201 answers to {count} tag PUTs, the first:\n  " + "\n  ".join(failures))
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    print(
        f"tags_per_s={count / elapsed:.1f} seconds={elapsed:.3f} count={count} "
        f"client_cpu_s={cpu:.2f} reconnects={reconnects[0]}"
    )


if __name__ == "__main__":
    main()
