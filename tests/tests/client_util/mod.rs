//! Helpers for the `rreg` client tests: the built `rreg` binary run with its own `RREG_HOME` and
//! `DOCKER_CONFIG`, images written straight into a local store (an OCI image layout), a byte-counting
//! TCP proxy, a recording (and optionally slow) TCP proxy, and `docker` / `docker-registry` helpers.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};
use sha2::Digest as _;
use tokio::io::AsyncWriteExt as _;

/// Path of the client binary: `RREG_BIN`, else `target/debug/rreg` of this workspace.
pub fn rreg_bin() -> PathBuf {
    if let Ok(p) = std::env::var("RREG_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let bin = target.join("debug").join("rreg");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (the test command does)",
        bin.display()
    );
    bin
}

/// A finished command.
pub struct Out {
    pub cmd: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn ok(&self) -> bool {
        self.code == Some(0)
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "$ {}\n  -> {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.cmd, self.code, self.stdout, self.stderr
        )
    }
}

/// Runs a program with env vars and optional stdin, with a timeout.
pub async fn run_cmd(program: &Path, args: &[&str], env: &[(&str, &OsStrLike)], stdin: Option<&[u8]>) -> Out {
    let cmd_line = std::iter::once(program.display().to_string())
        .chain(args.iter().map(|s| s.to_string()))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for (k, v) in env {
        cmd.env(k, v.0.as_os_str());
    }
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start `{cmd_line}`: {e}"));
    if let Some(input) = stdin {
        let mut si = child.stdin.take().expect("stdin");
        si.write_all(input).await.expect("write stdin");
        drop(si);
    }
    match tokio::time::timeout(Duration::from_secs(240), child.wait_with_output()).await {
        Ok(Ok(o)) => Out {
            cmd: cmd_line,
            code: o.status.code(),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        },
        Ok(Err(e)) => panic!("`{cmd_line}` failed to run: {e}"),
        Err(_) => panic!("`{cmd_line}` timed out"),
    }
}

/// A path-like environment value.
pub struct OsStrLike(pub PathBuf);

/// One user's client environment: its own data folder and Docker config folder.
pub struct Rreg {
    pub home: tempfile::TempDir,
    pub docker_config: PathBuf,
    _docker_config_dir: Option<tempfile::TempDir>,
    pub extra_env: Vec<(String, String)>,
}

impl Rreg {
    /// Fresh data folder and Docker config folder.
    pub fn new() -> Rreg {
        let dc = tempfile::tempdir().expect("tempdir");
        Rreg {
            home: tempfile::tempdir().expect("tempdir"),
            docker_config: dc.path().to_owned(),
            _docker_config_dir: Some(dc),
            extra_env: Vec::new(),
        }
    }

    /// Fresh data folder sharing `other`'s Docker config (so its logins).
    pub fn sharing_config(other: &Rreg) -> Rreg {
        Rreg {
            home: tempfile::tempdir().expect("tempdir"),
            docker_config: other.docker_config.clone(),
            _docker_config_dir: None,
            extra_env: other.extra_env.clone(),
        }
    }

    /// Runs `rreg args…`.
    pub async fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, None).await
    }

    /// Runs `rreg args…` with `stdin`.
    pub async fn run_stdin(&self, args: &[&str], stdin: Option<&[u8]>) -> Out {
        let home = OsStrLike(self.home.path().to_owned());
        let dc = OsStrLike(self.docker_config.clone());
        let extra: Vec<(String, OsStrLike)> = self
            .extra_env
            .iter()
            .map(|(k, v)| (k.clone(), OsStrLike(PathBuf::from(v))))
            .collect();
        let mut env: Vec<(&str, &OsStrLike)> = vec![("RREG_HOME", &home), ("DOCKER_CONFIG", &dc)];
        for (k, v) in &extra {
            env.push((k.as_str(), v));
        }
        run_cmd(&rreg_bin(), args, &env, stdin).await
    }

    /// Runs and asserts success.
    pub async fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args).await;
        assert!(o.ok(), "{o}");
        o
    }

    /// `rreg login SERVER -u USER --password-stdin`.
    pub async fn login(&self, server: &str, user: &str, password: &str) {
        let o = self
            .run_stdin(
                &["login", server, "-u", user, "--password-stdin"],
                Some(format!("{password}\n").as_bytes()),
            )
            .await;
        assert!(o.ok() && o.stdout.contains("Login Succeeded"), "{o}");
    }

    /// Files under blobs/sha256 of the store.
    pub fn blob_count(&self) -> usize {
        std::fs::read_dir(self.home.path().join("blobs/sha256"))
            .map(|d| d.count())
            .unwrap_or(0)
    }
}

// ---------------------------------------------------------------------------------------------
// Images written straight into a store
// ---------------------------------------------------------------------------------------------

pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

/// One ustar header block, written byte for byte: any name (`..`, absolute, …), any type, with
/// device numbers for block and character devices.
pub fn tar_header(path: &[u8], size: usize, kind: u8, link: &[u8], mode: u32, device: (u32, u32)) -> [u8; 512] {
    assert!(
        path.len() <= 100 && link.len() <= 100,
        "ustar names and link names hold 100 bytes"
    );
    let mut h = [0u8; 512];
    h[..path.len()].copy_from_slice(path);
    let octal = |v: u64, width: usize| format!("{:0w$o}\0", v, w = width - 1);
    h[100..108].copy_from_slice(octal(mode as u64, 8).as_bytes());
    h[108..116].copy_from_slice(octal(0, 8).as_bytes());
    h[116..124].copy_from_slice(octal(0, 8).as_bytes());
    h[124..136].copy_from_slice(octal(size as u64, 12).as_bytes());
    h[136..148].copy_from_slice(octal(1_700_000_000, 12).as_bytes());
    h[148..156].copy_from_slice(b"        ");
    h[156] = kind;
    h[157..157 + link.len()].copy_from_slice(link);
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    h[329..337].copy_from_slice(octal(device.0 as u64, 8).as_bytes());
    h[337..345].copy_from_slice(octal(device.1 as u64, 8).as_bytes());
    let sum: u32 = h.iter().map(|&b| b as u32).sum();
    h[148..156].copy_from_slice(format!("{:06o}\0 ", sum).as_bytes());
    h
}

/// A header and its data, padded to whole blocks.
pub fn tar_entry(path: &[u8], kind: u8, link: &[u8], data: &[u8]) -> Vec<u8> {
    let mut out = tar_header(path, data.len(), kind, link, 0o755, (0, 0)).to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

/// A ustar archive of `(path, content)` regular files and `(path, target)` symlinks.
pub fn tar(files: &[(&str, &[u8])], symlinks: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (p, data) in files {
        out.extend(tar_entry(p.as_bytes(), b'0', b"", data));
    }
    for (p, target) in symlinks {
        out.extend_from_slice(&tar_header(p.as_bytes(), 0, b'2', target.as_bytes(), 0o777, (0, 0)));
    }
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Pseudo-random bytes (xorshift), so layers do not compress and differ per seed.
pub fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// An image written into a store: its manifest digest and layer digests.
pub struct WrittenImage {
    pub manifest_digest: String,
    pub config_digest: String,
    pub layers: Vec<String>,
}

fn put_blob(home: &Path, data: &[u8]) -> String {
    let d = sha256(data);
    let p = home.join("blobs/sha256").join(&d[7..]);
    std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    std::fs::write(p, data).expect("write blob");
    d
}

/// Writes an OCI image with the given uncompressed layer tars into the store at `home`, named `name`
/// (a full reference such as `127.0.0.1:5000/admin/app:1`).
pub fn write_image(home: &Path, name: &str, layers: &[Vec<u8>]) -> WrittenImage {
    write_image_for(home, name, layers, "amd64")
}

/// Like [`write_image`], for another architecture.
pub fn write_image_for(home: &Path, name: &str, layers: &[Vec<u8>], arch: &str) -> WrittenImage {
    write_image_with(home, name, layers, arch, json!({"Cmd": ["/bin/sh"]}), &[])
}

/// Like [`write_image`], with the container config (`Env`, `Cmd`, `Labels`, …) given and the
/// instruction that made each layer (`COPY layerN / # buildkit` for those not given).
pub fn write_image_with(
    home: &Path,
    name: &str,
    layers: &[Vec<u8>],
    arch: &str,
    container_config: Value,
    created_by: &[&str],
) -> WrittenImage {
    let mut descs = Vec::new();
    let mut diff_ids = Vec::new();
    let mut history = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let d = put_blob(home, l);
        descs.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": l.len()}));
        diff_ids.push(d.clone());
        let made = created_by
            .get(i)
            .map_or_else(|| format!("COPY layer{i} / # buildkit"), |c| (*c).to_owned());
        history
            .push(json!({"created": "2024-01-02T03:04:05Z", "created_by": made, "comment": "buildkit.dockerfile.v0"}));
    }
    history.push(json!({"created": "2024-01-02T03:04:06Z", "created_by": "CMD [\"/bin/sh\"]", "empty_layer": true}));
    let config = json!({
        "created": "2024-01-02T03:04:06Z",
        "architecture": arch,
        "os": "linux",
        "config": container_config,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    });
    let config_bytes = serde_json::to_vec(&config).expect("json");
    let config_digest = put_blob(home, &config_bytes);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest, "size": config_bytes.len()},
        "layers": descs,
    });
    let manifest_bytes = serde_json::to_vec(&manifest).expect("json");
    let manifest_digest = put_blob(home, &manifest_bytes);
    let index_path = home.join("index.json");
    let mut index: Value = std::fs::read(&index_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_else(|| json!({"schemaVersion": 2, "manifests": []}));
    index["manifests"].as_array_mut().expect("array").push(json!({
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": manifest_digest,
        "size": manifest_bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": name},
    }));
    std::fs::write(&index_path, serde_json::to_vec(&index).expect("json")).expect("write index");
    std::fs::write(home.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("write");
    WrittenImage {
        manifest_digest,
        config_digest,
        layers: descs
            .iter()
            .map(|d| d["digest"].as_str().expect("digest").to_owned())
            .collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// A byte-counting TCP proxy
// ---------------------------------------------------------------------------------------------

/// Forwards `127.0.0.1:PORT` to `upstream`, counting the bytes clients send.
pub struct Proxy {
    pub addr: String,
    pub sent: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    pub async fn start(upstream: &str) -> Proxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let sent = Arc::new(AtomicU64::new(0));
        let counter = sent.clone();
        let upstream = upstream.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let counter = counter.clone();
                tokio::spawn(async move {
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let (mut ri, mut wi) = inbound.split();
                    let (mut ro, mut wo) = outbound.split();
                    let up = async {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            use tokio::io::AsyncReadExt as _;
                            let n = match ri.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            counter.fetch_add(n as u64, Ordering::SeqCst);
                            if wo.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = wo.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut ro, &mut wi).await;
                        let _ = wi.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Proxy { addr, sent, task }
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    pub fn reset(&self) {
        self.sent.store(0, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a [`Recorder`] keeps: the bytes clients sent, one buffer per connection.
type Connections = Arc<std::sync::Mutex<Vec<Arc<std::sync::Mutex<Vec<u8>>>>>>;

/// Forwards `127.0.0.1:PORT` to `upstream` and keeps, per connection, every byte clients send, so a
/// test can tell which requests (and which `Authorization` headers) reached which host. With `rate`,
/// each read from a client waits its size ÷ `rate` seconds before it goes upstream (to make an
/// operation last).
pub struct Recorder {
    pub addr: String,
    conns: Connections,
    task: tokio::task::JoinHandle<()>,
}

impl Recorder {
    pub async fn start(upstream: &str, rate: Option<u64>) -> Recorder {
        Self::start_full(upstream, rate, None).await
    }

    /// Like [`Recorder::start`], and answers a request that comes without `Authorization` as
    /// Docker Hub's registry does: `401` with a Bearer challenge naming `realm`, service `rreg` and
    /// the pull scope of the repository in the path (rreg-server itself serves public repositories
    /// to anonymous callers without a token). Only the first request of each connection is looked
    /// at (the challenge closes the connection; a client that has a token sends it every time).
    pub async fn start_requiring_token(upstream: &str, realm: &str) -> Recorder {
        Self::start_full(upstream, None, Some(realm.to_owned())).await
    }

    /// [`Recorder::start_requiring_token`] (with `gate`: the realm) and a `rate` limit together.
    pub async fn start_full(upstream: &str, rate: Option<u64>, gate: Option<String>) -> Recorder {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let conns: Connections = Arc::default();
        let all = conns.clone();
        let upstream = upstream.to_owned();
        let task = tokio::spawn(async move {
            while let Ok((mut inbound, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let gate = gate.clone();
                let seen: Arc<std::sync::Mutex<Vec<u8>>> = Arc::default();
                all.lock().expect("lock").push(seen.clone());
                tokio::spawn(async move {
                    use tokio::io::AsyncReadExt as _;
                    let mut first = Vec::new();
                    if let Some(realm) = gate {
                        // Read the first request's head; challenge it when it carries no credentials.
                        let mut buf = vec![0u8; 16 << 10];
                        let head = loop {
                            match inbound.read(&mut buf).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => first.extend_from_slice(&buf[..n]),
                            }
                            if let Some(end) = first.windows(4).position(|w| w == b"\r\n\r\n") {
                                break String::from_utf8_lossy(&first[..end]).into_owned();
                            }
                        };
                        seen.lock().expect("lock").extend_from_slice(&first);
                        if let Some(reply) = hub_challenge(&head, &realm) {
                            let _ = inbound.write_all(reply.as_bytes()).await;
                            let _ = inbound.shutdown().await;
                            return;
                        }
                    }
                    let Ok(mut outbound) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    if outbound.write_all(&first).await.is_err() {
                        return;
                    }
                    let (mut ri, mut wi) = inbound.split();
                    let (mut ro, mut wo) = outbound.split();
                    let up = async {
                        let mut buf = vec![0u8; 64 << 10];
                        loop {
                            let n = match ri.read(&mut buf).await {
                                Ok(0) | Err(_) => break,
                                Ok(n) => n,
                            };
                            seen.lock().expect("lock").extend_from_slice(&buf[..n]);
                            if let Some(rate) = rate {
                                // No credit for idle time: what a connection sends takes its time
                                // whichever connection of the pool it goes on.
                                tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
                            }
                            if wo.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                        let _ = wo.shutdown().await;
                    };
                    let down = async {
                        let _ = tokio::io::copy(&mut ro, &mut wi).await;
                        let _ = wi.shutdown().await;
                    };
                    tokio::join!(up, down);
                });
            }
        });
        Recorder { addr, conns, task }
    }

    /// The requests clients sent since the last reset, connection by connection, in order.
    pub fn requests(&self) -> Vec<SeenRequest> {
        let conns = self.conns.lock().expect("lock");
        conns
            .iter()
            .flat_map(|c| parse_requests(&c.lock().expect("lock")))
            .collect()
    }

    /// The values of the request headers called `name` (case-insensitive) seen.
    pub fn header_values(&self, name: &str) -> Vec<String> {
        self.requests()
            .iter()
            .flat_map(|r| r.headers(name).into_iter().map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }

    /// Whether any client sent `needle` (anywhere: request lines, headers or bodies).
    pub fn saw(&self, needle: &[u8]) -> bool {
        let conns = self.conns.lock().expect("lock");
        conns
            .iter()
            .any(|c| c.lock().expect("lock").windows(needle.len()).any(|w| w == needle))
    }

    /// Forgets what was seen. Connections open at this point are no longer recorded: call it between
    /// client runs (each `rreg` process opens connections of its own).
    pub fn reset(&self) {
        self.conns.lock().expect("lock").clear();
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The `401` Docker Hub's registry gives a request head without `Authorization`, or `None` when it
/// has credentials: a Bearer challenge for the pull scope of the repository in the path (none for
/// `/v2/`), closing the connection.
fn hub_challenge(head: &str, realm: &str) -> Option<String> {
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or("").split(' ');
    let (method, path) = (first.next().unwrap_or(""), first.next().unwrap_or(""));
    if lines.any(|l| l.to_ascii_lowercase().starts_with("authorization:")) {
        return None;
    }
    let path = path.split('?').next().unwrap_or("");
    let repo = path.strip_prefix("/v2/").and_then(|rest| {
        ["/manifests/", "/blobs/", "/tags/"]
            .iter()
            .filter_map(|m| rest.rfind(m).map(|i| &rest[..i]))
            .next()
    });
    let mut challenge = format!("Bearer realm=\"{realm}\",service=\"rreg\"");
    if let Some(r) = repo {
        challenge.push_str(&format!(",scope=\"repository:{r}:pull\""));
    }
    let body = r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#;
    Some(format!(
        "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nWWW-Authenticate: {challenge}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{}",
        body.len(),
        if method == "HEAD" { "" } else { body }
    ))
}

/// One HTTP/1.1 request as a client sent it.
#[derive(Debug, Clone)]
pub struct SeenRequest {
    pub method: String,
    /// Path and query, e.g. `/token?service=rreg`.
    pub path: String,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl SeenRequest {
    /// The values of the headers called `name`.
    pub fn headers(&self, name: &str) -> Vec<&str> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .filter(|(k, _)| *k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Splits what a client sent on one connection into requests (bodies by `Content-Length` or
/// chunked); stops at the first thing that is not a request, or at a request cut short.
fn parse_requests(mut bytes: &[u8]) -> Vec<SeenRequest> {
    fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
        hay.windows(needle.len()).position(|w| w == needle)
    }
    let mut out = Vec::new();
    while let Some(end) = find(bytes, b"\r\n\r\n") {
        let Ok(head) = std::str::from_utf8(&bytes[..end]) else {
            break;
        };
        let mut lines = head.split("\r\n");
        let mut first = lines.next().unwrap_or("").split(' ');
        let (Some(method), Some(path)) = (first.next(), first.next()) else {
            break;
        };
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        let mut rest = &bytes[end + 4..];
        let header = |n: &str| headers.iter().find(|(k, _)| k == n).map(|(_, v)| v.as_str());
        let mut body = Vec::new();
        if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                let Some(eol) = find(rest, b"\r\n") else { return out };
                let size = std::str::from_utf8(&rest[..eol])
                    .ok()
                    .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok());
                let Some(size) = size else { return out };
                rest = &rest[eol + 2..];
                if size == 0 {
                    let Some(trailer_end) = find(rest, b"\r\n") else {
                        return out;
                    };
                    rest = &rest[trailer_end + 2..];
                    break;
                }
                if rest.len() < size + 2 {
                    return out;
                }
                body.extend_from_slice(&rest[..size]);
                rest = &rest[size + 2..];
            }
        } else if let Some(len) = header("content-length").and_then(|v| v.parse::<usize>().ok()) {
            if rest.len() < len {
                return out;
            }
            body.extend_from_slice(&rest[..len]);
            rest = &rest[len..];
        }
        out.push(SeenRequest {
            method: method.to_owned(),
            path: path.to_owned(),
            headers,
            body,
        });
        bytes = rest;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// Docker and CNCF distribution
// ---------------------------------------------------------------------------------------------

/// The docker CLI when `RREG_TEST_DOCKER=1`, else `None` (the caller prints `skipped: …`).
pub fn docker() -> Option<PathBuf> {
    if std::env::var("RREG_TEST_DOCKER").as_deref() != Ok("1") {
        return None;
    }
    Some(PathBuf::from(
        std::env::var("DOCKER").unwrap_or_else(|_| "docker".into()),
    ))
}

/// Runs docker with the test environment (DOCKER_HOST/DOCKER_CONFIG inherited).
pub async fn docker_run(args: &[&str]) -> Out {
    let bin = docker().expect("docker");
    let dc = OsStrLike(crate::common::docker_config_dir());
    run_cmd(&bin, args, &[("DOCKER_CONFIG", &dc)], None).await
}

pub async fn docker_ok(args: &[&str]) -> Out {
    let o = docker_run(args).await;
    assert!(o.ok(), "{o}");
    o
}

/// The test image docker holds (`busybox:rreg-test`).
pub fn docker_test_image() -> String {
    std::env::var("RREG_TEST_DOCKER_IMAGE").unwrap_or_else(|_| "busybox:rreg-test".into())
}

/// A running CNCF distribution (`docker-registry serve`), killed on drop.
pub struct Distribution {
    pub addr: String,
    child: tokio::process::Child,
    _dir: tempfile::TempDir,
}

/// `docker-registry`'s path, if installed.
pub fn distribution_bin() -> Option<PathBuf> {
    ["/usr/bin/docker-registry", "/usr/local/bin/docker-registry"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

impl Distribution {
    /// Starts one on a free port; with `htpasswd` = Some((user, password)), with basic auth (bcrypt).
    pub async fn start(htpasswd: Option<(&str, &str)>) -> Option<Distribution> {
        let bin = distribution_bin()?;
        let dir = tempfile::tempdir().expect("tempdir");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let addr = format!("127.0.0.1:{port}");
        let mut auth = String::new();
        if let Some((user, pw)) = htpasswd {
            let file = dir.path().join("htpasswd");
            let o = std::process::Command::new("htpasswd")
                .args(["-Bbc", file.to_str().expect("utf8"), user, pw])
                .output()
                .ok()?;
            if !o.status.success() {
                return None;
            }
            auth = format!(
                "auth:\n  htpasswd:\n    realm: test-realm\n    path: {}\n",
                file.display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: {addr}\n{auth}",
            dir.path().join("data").display()
        );
        let cfg = dir.path().join("config.yml");
        std::fs::write(&cfg, config).expect("write config");
        let child = tokio::process::Command::new(bin)
            .arg("serve")
            .arg(&cfg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if client.get(format!("http://{addr}/v2/")).send().await.is_ok() {
                return Some(Distribution { addr, child, _dir: dir });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        None
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Asserts an error output is one readable line starting with `rreg: `.
pub fn assert_one_line_error(o: &Out) {
    assert!(!o.ok(), "expected a failure:\n{o}");
    let lines: Vec<&str> = o.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line on stderr:\n{o}");
    assert!(lines[0].starts_with("rreg: "), "{o}");
}
