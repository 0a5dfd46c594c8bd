//! Real clients against the real `rreg-server` binary: the Docker engine (`docker build`, `push`,
//! `pull`, `run`) and `skopeo` (`copy`, `inspect`, `list-tags`), one fresh server per test.
//!
//! Docker tests run only when `RREG_TEST_DOCKER=1` (set by `scripts/test.sh` once a Docker engine
//! answers and `busybox:rreg-test` exists); the CLI is `$DOCKER` (default `docker`). Skopeo tests run
//! whenever a `skopeo` binary is found. A test that cannot run prints `skipped: …` and passes.
//!
//! Every failed assertion shows the command that was run with its exit status, stdout and stderr.
//! Images are built without network (`docker build --network=none`) from `busybox:rreg-test`, and
//! OCI image layouts for skopeo are written by hand here (tarballs from `tar` and `gzip -n`), so
//! nothing is fetched from outside.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::TestServer;
use serde_json::{json, Value};
use sha2::Digest as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// Constants
// ---------------------------------------------------------------------------------------------

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/// Upper bound for one client command (nextest kills a test after 5 minutes).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(180);

// ---------------------------------------------------------------------------------------------
// Running commands
// ---------------------------------------------------------------------------------------------

/// A finished command, kept whole for readable assertion messages.
struct Output {
    cmd: String,
    /// `None` when the command was killed after [`COMMAND_TIMEOUT`].
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl Output {
    fn ok(&self) -> bool {
        self.code == Some(0)
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// Parses stdout as JSON, failing with the whole output.
    fn json(&self) -> Value {
        serde_json::from_slice(&self.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{self}"))
    }
}

/// The last `max` characters of `s`, marked when cut.
fn tail(s: &str, max: usize) -> String {
    let n = s.chars().count();
    if n <= max {
        return s.to_owned();
    }
    let rest: String = s.chars().skip(n - max).collect();
    format!("[… {} characters cut …]{rest}", n - max)
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match self.code {
            Some(c) => format!("exit code {c}"),
            None => format!("killed (signal, or timed out after {COMMAND_TIMEOUT:?})"),
        };
        write!(
            f,
            "$ {}\n  -> {status}\n--- stdout ---\n{}\n--- stderr ---\n{}\n--------------",
            self.cmd,
            tail(&self.stdout(), 6000),
            tail(&self.stderr(), 6000)
        )
    }
}

/// Runs `program args…` (in `cwd` when given) to completion, with a timeout; never panics on a
/// non-zero exit.
async fn run(program: &str, args: &[&str], cwd: Option<&Path>) -> Output {
    let cmd_line = std::iter::once(program)
        .chain(args.iter().copied())
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = tokio::process::Command::new(program);
    if program == docker_bin() {
        cmd.env("DOCKER_CONFIG", common::docker_config_dir());
    }
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let child = cmd.spawn().unwrap_or_else(|e| panic!("cannot start `{cmd_line}`: {e}"));
    match tokio::time::timeout(COMMAND_TIMEOUT, child.wait_with_output()).await {
        Ok(Ok(out)) => Output {
            cmd: cmd_line,
            code: out.status.code(),
            stdout: out.stdout,
            stderr: out.stderr,
        },
        Ok(Err(e)) => panic!("waiting for `{cmd_line}` failed: {e}"),
        // The child is killed when the future holding it is dropped (kill_on_drop).
        Err(_) => Output {
            cmd: cmd_line,
            code: None,
            stdout: Vec::new(),
            stderr: b"(timed out; output lost)".to_vec(),
        },
    }
}

/// Like [`run`], and fails the test (showing stdout and stderr) unless the command exits with 0.
async fn run_ok(program: &str, args: &[&str], cwd: Option<&Path>) -> Output {
    let out = run(program, args, cwd).await;
    assert!(out.ok(), "command failed:\n{out}");
    out
}

/// A short string unique to this test process and moment, for image and repository names.
fn unique() -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let h = sha2::Sha256::digest(format!("{}-{nanos}", std::process::id()).as_bytes());
    hex::encode(&h[..5])
}

fn sha256(data: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(data)))
}

// ---------------------------------------------------------------------------------------------
// Registry HTTP helpers
// ---------------------------------------------------------------------------------------------

/// `GET /v2/<name>/tags/list`, asserting 200 and returning the tags.
async fn tags_list(srv: &TestServer, name: &str) -> Vec<String> {
    let url = srv.url(&format!("/v2/{name}/tags/list"));
    let resp = srv
        .client
        .get(&url)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_else(|e| panic!("GET {url}: body: {e:?}"));
    let text = String::from_utf8_lossy(&body);
    assert_eq!(status.as_u16(), 200, "GET {url}: {text}");
    let v: Value = serde_json::from_slice(&body).unwrap_or_else(|e| panic!("GET {url}: not JSON ({e}): {text}"));
    assert_eq!(v["name"], name, "GET {url}: {text}");
    v["tags"]
        .as_array()
        .unwrap_or_else(|| panic!("GET {url}: no tags array: {text}"))
        .iter()
        .map(|t| {
            t.as_str()
                .unwrap_or_else(|| panic!("GET {url}: non-string tag: {text}"))
                .to_owned()
        })
        .collect()
}

/// `GET /v2/<name>/manifests/<reference>` with `accept`; asserts 200 and returns the
/// `Docker-Content-Digest`, the `Content-Type` and the body.
async fn get_manifest(srv: &TestServer, name: &str, reference: &str, accept: &str) -> (String, String, Vec<u8>) {
    let url = srv.url(&format!("/v2/{name}/manifests/{reference}"));
    let resp = srv
        .client
        .get(&url)
        .header("Accept", accept)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e:?}"));
    let status = resp.status();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .map(|v| v.to_str().unwrap_or_default().to_owned())
            .unwrap_or_default()
    };
    let digest = header("docker-content-digest");
    let ctype = header("content-type");
    let body = resp
        .bytes()
        .await
        .unwrap_or_else(|e| panic!("GET {url}: body: {e:?}"))
        .to_vec();
    assert_eq!(status.as_u16(), 200, "GET {url}: {}", String::from_utf8_lossy(&body));
    (digest, ctype, body)
}

// ---------------------------------------------------------------------------------------------
// Docker
// ---------------------------------------------------------------------------------------------

fn docker_bin() -> String {
    std::env::var("DOCKER")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "docker".into())
}

fn base_image() -> String {
    std::env::var("RREG_TEST_DOCKER_IMAGE")
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "busybox:rreg-test".into())
}

/// True when docker tests should run; prints the skip line otherwise.
fn docker_enabled() -> bool {
    if std::env::var("RREG_TEST_DOCKER").as_deref() == Ok("1") {
        true
    } else {
        println!("skipped: RREG_TEST_DOCKER not set");
        false
    }
}

async fn docker(args: &[&str]) -> Output {
    run(&docker_bin(), args, None).await
}

async fn docker_ok(args: &[&str]) -> Output {
    run_ok(&docker_bin(), args, None).await
}

/// Local image references to remove (best effort) when the test ends, pass or fail.
struct LocalImages(Vec<String>);

impl LocalImages {
    fn add(&mut self, reference: &str) {
        self.0.push(reference.to_owned());
    }
}

impl Drop for LocalImages {
    fn drop(&mut self) {
        if self.0.is_empty() {
            return;
        }
        let _ = std::process::Command::new(docker_bin())
            .arg("rmi")
            .arg("-f")
            .args(&self.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A built test image: its local build tag, image id (= config digest) and expected `docker run`
/// output. The build context lives in `_ctx` until the test ends.
struct BuiltImage {
    tag: String,
    id: String,
    expected_output: String,
    _ctx: tempfile::TempDir,
}

/// Builds a four-layer image (base + RUN + COPY + RUN) whose layers are unique to this call, so no
/// build cache or other test shares them.
async fn build_test_image(images: &mut LocalImages) -> BuiltImage {
    let id = unique();
    let ctx = tempfile::tempdir().expect("tempdir");
    let file_text = format!("copied file {id}\n");
    std::fs::write(ctx.path().join("file.txt"), &file_text).expect("write file.txt");
    let dockerfile = format!(
        "FROM {base}\n\
         RUN echo one-{id} > /one\n\
         COPY file.txt /copied.txt\n\
         RUN echo two-{id} > /two\n\
         CMD [\"cat\", \"/one\", \"/copied.txt\", \"/two\"]\n",
        base = base_image()
    );
    std::fs::write(ctx.path().join("Dockerfile"), dockerfile).expect("write Dockerfile");
    let tag = format!("rreg-real-clients-build:{id}");
    images.add(&tag);
    let ctx_path = ctx.path().to_str().expect("utf-8 temp path").to_owned();
    docker_ok(&["build", "--network=none", "-t", &tag, &ctx_path]).await;
    let inspect = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &tag]).await;
    let image_id = inspect.stdout().trim().to_owned();
    assert!(image_id.starts_with("sha256:"), "unexpected image id:\n{inspect}");
    BuiltImage {
        tag,
        id: image_id,
        expected_output: format!("one-{id}\n{file_text}two-{id}\n"),
        _ctx: ctx,
    }
}

/// Final status of each layer in `docker push`/`docker pull` output (`<12 hex>: <status>` lines).
fn layer_statuses(out: &Output) -> BTreeMap<String, String> {
    let mut m = BTreeMap::new();
    for line in out.stdout().lines() {
        let Some((id, status)) = line.split_once(": ") else {
            continue;
        };
        if id.len() == 12 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
            m.insert(id.to_owned(), status.trim().to_owned());
        }
    }
    m
}

/// The manifest digest from `docker push` output (`<tag>: digest: sha256:… size: N`).
fn pushed_digest(out: &Output, tag: &str) -> String {
    let prefix = format!("{tag}: digest: ");
    out.stdout()
        .lines()
        .find_map(|l| {
            l.strip_prefix(&prefix)
                .and_then(|r| r.split_whitespace().next())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| panic!("no `{prefix}…` line in the push output:\n{out}"))
}

/// Pushes `reference`; asserts success.
async fn docker_push(reference: &str) -> Output {
    docker_ok(&["push", reference]).await
}

// ---------------------------------------------------------------------------------------------
// A request-logging TCP proxy (to see exactly which requests a client sends)
// ---------------------------------------------------------------------------------------------

/// Forwards `127.0.0.1:<port>` to the server and records each HTTP/1.1 request line
/// (`METHOD target`) before forwarding it. Stops when dropped.
struct LoggingProxy {
    addr: String,
    log: Arc<Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for LoggingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LoggingProxy {
    async fn start(upstream: &str) -> LoggingProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr").to_string();
        let log = Arc::new(Mutex::new(Vec::new()));
        let upstream = upstream.to_owned();
        let task_log = log.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                tokio::spawn(proxy_connection(client, upstream.clone(), task_log.clone()));
            }
        });
        LoggingProxy { addr, log, task }
    }

    /// Number of requests seen so far.
    fn mark(&self) -> usize {
        self.log.lock().expect("proxy log").len()
    }

    /// Requests seen since `mark`.
    fn since(&self, mark: usize) -> Vec<String> {
        self.log.lock().expect("proxy log")[mark..].to_vec()
    }
}

async fn proxy_connection(client: TcpStream, upstream: String, log: Arc<Mutex<Vec<String>>>) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let (mut client_r, mut client_w) = client.into_split();
    let (mut server_r, mut server_w) = server.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_r, &mut client_w).await;
        let _ = client_w.shutdown().await;
    });
    let mut buf = vec![0u8; 64 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        let n = match client_r.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        scan_request_lines(&buf[..n], &mut pending, &log);
        if server_w.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = server_w.shutdown().await;
    let _ = back.await;
}

/// Finds request lines in the client→server byte stream. A request line ends in ` HTTP/1.x` and
/// CRLF; it may directly follow a body's last byte (Content-Length bodies have no separator), so
/// the method is searched within the line rather than only at its start.
fn scan_request_lines(chunk: &[u8], pending: &mut Vec<u8>, log: &Mutex<Vec<String>>) {
    const METHODS: [&str; 6] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"];
    pending.extend_from_slice(chunk);
    let mut start = 0;
    while let Some(pos) = pending[start..].windows(2).position(|w| w == b"\r\n") {
        let line = &pending[start..start + pos];
        start += pos + 2;
        let Some(head) = line
            .strip_suffix(b" HTTP/1.1")
            .or_else(|| line.strip_suffix(b" HTTP/1.0"))
        else {
            continue;
        };
        let found = METHODS
            .iter()
            .filter_map(|m| {
                let needle = format!("{m} /");
                head.windows(needle.len())
                    .rposition(|w| w == needle.as_bytes())
                    .map(|at| (at, m))
            })
            .max_by_key(|(at, _)| *at);
        if let Some((at, m)) = found {
            let target = &head[at + m.len() + 1..];
            if !target.contains(&b' ') {
                let entry = format!("{m} {}", String::from_utf8_lossy(target));
                log.lock().expect("proxy log").push(entry);
            }
        }
    }
    pending.drain(..start);
    // Without a line end this is body data: keep only what a request line could need.
    if pending.len() > 8192 {
        pending.drain(..pending.len() - 8192);
    }
}

/// Percent-decodes a URL query value (enough for `sha256%3A…` and `org%2Fteam`).
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
            if let Ok(b) = u8::from_str_radix(hex, 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The value of query parameter `key` in a request target.
fn query_param(target: &str, key: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| percent_decode(v))
}

/// `METHOD target` log lines that touch blob uploads.
fn upload_requests(log: &[String]) -> Vec<&String> {
    log.iter().filter(|l| l.contains("/blobs/uploads")).collect()
}

// ---------------------------------------------------------------------------------------------
// Skopeo and OCI image layouts
// ---------------------------------------------------------------------------------------------

/// True when a working `skopeo` is on PATH; prints the skip line otherwise.
async fn skopeo_available() -> bool {
    let found = match tokio::process::Command::new("skopeo")
        .arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await
    {
        Ok(s) => s.success(),
        Err(_) => false,
    };
    if !found {
        println!("skipped: skopeo not found");
    }
    found
}

/// `skopeo --insecure-policy ARGS…` (no signature policy file needed), asserting success.
/// Registry access goes in as the test server's admin (auth is on).
async fn skopeo_ok(args: &[&str]) -> Output {
    let creds = format!("admin:{}", common::ADMIN_PASSWORD);
    let mut all = vec!["--insecure-policy"];
    for a in args {
        all.push(a);
        match *a {
            "copy" => all.extend(["--src-creds", &creds, "--dest-creds", &creds]),
            "inspect" | "list-tags" => all.extend(["--creds", &creds]),
            _ => {}
        }
    }
    run_ok("skopeo", &all, None).await
}

/// `docker login` to a test server as its admin.
async fn docker_login(addr: &str) {
    if std::env::var("RREG_TEST_DOCKER").as_deref() != Ok("1") {
        return;
    }
    let out = run_ok(
        &docker_bin(),
        &["login", "-u", "admin", "-p", common::ADMIN_PASSWORD, addr],
        None,
    )
    .await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("Login Succeeded"));
}

/// A descriptor as written into manifests and indexes.
#[derive(Clone, Debug)]
struct Desc {
    media_type: String,
    digest: String,
    size: usize,
}

impl Desc {
    fn json(&self) -> Value {
        json!({"mediaType": self.media_type, "digest": self.digest, "size": self.size})
    }
}

/// An OCI image layout being written by hand.
struct Layout {
    dir: PathBuf,
    /// Every blob written, by digest.
    blobs: BTreeMap<String, Vec<u8>>,
}

/// One image written into a layout.
struct LayoutImage {
    manifest: Desc,
    manifest_bytes: Vec<u8>,
    config: Desc,
    layers: Vec<Desc>,
}

impl Layout {
    fn new(dir: &Path) -> Layout {
        std::fs::create_dir_all(dir.join("blobs/sha256")).expect("mkdir blobs");
        std::fs::write(dir.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).expect("write oci-layout");
        Layout {
            dir: dir.to_owned(),
            blobs: BTreeMap::new(),
        }
    }

    fn path(&self) -> &str {
        self.dir.to_str().expect("utf-8 temp path")
    }

    fn put_blob(&mut self, media_type: &str, data: Vec<u8>) -> Desc {
        let digest = sha256(&data);
        let hex = digest.trim_start_matches("sha256:");
        std::fs::write(self.dir.join("blobs/sha256").join(hex), &data).expect("write blob");
        let d = Desc {
            media_type: media_type.to_owned(),
            digest: digest.clone(),
            size: data.len(),
        };
        self.blobs.insert(digest, data);
        d
    }

    /// A gzip layer holding `files` (path, contents), made with `tar` and `gzip -n`; returns its
    /// descriptor and diff id.
    async fn put_layer(&mut self, files: &[(&str, &str)]) -> (Desc, String) {
        let work = tempfile::tempdir().expect("tempdir");
        let root = work.path().join("root");
        for (path, contents) in files {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir layer dir");
            std::fs::write(&p, contents).expect("write layer file");
        }
        let tar_path = work.path().join("layer.tar");
        let (root_s, tar_s) = (root.to_str().expect("utf-8"), tar_path.to_str().expect("utf-8"));
        run_ok(
            "tar",
            &[
                "--numeric-owner",
                "--owner=0",
                "--group=0",
                "--mtime=@1700000000",
                "--sort=name",
                "-C",
                root_s,
                "-cf",
                tar_s,
                ".",
            ],
            None,
        )
        .await;
        let tar_bytes = std::fs::read(&tar_path).expect("read layer.tar");
        let gz = run_ok("gzip", &["-n", "-c", tar_s], None).await.stdout;
        let desc = self.put_blob(OCI_LAYER_GZIP, gz);
        (desc, sha256(&tar_bytes))
    }

    /// Writes config, layers and an OCI image manifest for `arch`.
    async fn put_image(&mut self, arch: &str, files: &[&[(&str, &str)]]) -> LayoutImage {
        let mut layers = Vec::new();
        let mut diff_ids = Vec::new();
        for f in files {
            let (d, diff_id) = self.put_layer(f).await;
            layers.push(d);
            diff_ids.push(diff_id);
        }
        let config_json = json!({
            "created": "2023-11-14T22:13:20Z",
            "architecture": arch,
            "os": "linux",
            "config": {"Cmd": ["/bin/sh"], "Env": ["PATH=/bin"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": files.iter().map(|_| json!({"created_by": "real_clients.rs"})).collect::<Vec<_>>(),
        });
        let config = self.put_blob(OCI_CONFIG, serde_json::to_vec(&config_json).expect("config json"));
        let manifest_json = json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": config.json(),
            "layers": layers.iter().map(Desc::json).collect::<Vec<_>>(),
            "annotations": {"org.example.test": format!("real-clients {arch}")},
        });
        let manifest_bytes = serde_json::to_vec_pretty(&manifest_json).expect("manifest json");
        let manifest = self.put_blob(OCI_MANIFEST, manifest_bytes.clone());
        LayoutImage {
            manifest,
            manifest_bytes,
            config,
            layers,
        }
    }

    /// Writes `index.json` naming each `(descriptor, ref name, platform)`.
    fn write_index_json(&self, entries: &[(&Desc, &str, Option<Value>)]) {
        let manifests: Vec<Value> = entries
            .iter()
            .map(|(d, name, platform)| {
                let mut v = d.json();
                v["annotations"] = json!({"org.opencontainers.image.ref.name": name});
                if let Some(p) = platform {
                    v["platform"] = p.clone();
                }
                v
            })
            .collect();
        let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests});
        std::fs::write(
            self.dir.join("index.json"),
            serde_json::to_vec(&index).expect("index json"),
        )
        .expect("write index.json");
    }
}

/// Every blob under `dir/blobs/sha256`, by digest.
fn read_layout_blobs(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut m = BTreeMap::new();
    let blobs = dir.join("blobs/sha256");
    for entry in std::fs::read_dir(&blobs).unwrap_or_else(|e| panic!("read {}: {e}", blobs.display())) {
        let entry = entry.expect("dir entry");
        let name = entry.file_name().to_string_lossy().into_owned();
        let data = std::fs::read(entry.path()).expect("read blob");
        m.insert(format!("sha256:{name}"), data);
    }
    m
}

/// Asserts that layout `out` holds exactly the blobs `expected` (digest → bytes), byte for byte, and
/// that `out/index.json` names `ref_name` at `digest`.
fn assert_layout_matches(out: &Path, expected: &BTreeMap<String, Vec<u8>>, ref_name: &str, digest: &str) {
    let got = read_layout_blobs(out);
    let got_keys: BTreeSet<&String> = got.keys().collect();
    let want_keys: BTreeSet<&String> = expected.keys().collect();
    assert_eq!(got_keys, want_keys, "blobs copied back differ from the originals");
    for (d, data) in expected {
        assert!(got[d] == *data, "blob {d} copied back is not byte-identical");
        assert_eq!(sha256(&got[d]), *d, "blob {d} copied back does not match its digest");
    }
    let index_path = out.join("index.json");
    let index: Value =
        serde_json::from_slice(&std::fs::read(&index_path).expect("read index.json")).expect("index.json is JSON");
    let entry = index["manifests"]
        .as_array()
        .expect("index.json manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == ref_name)
        .unwrap_or_else(|| panic!("no {ref_name} in the copied index.json: {index}"));
    assert_eq!(entry["digest"], digest, "copied index.json: {index}");
}

fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")).to_owned())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Docker tests
// ---------------------------------------------------------------------------------------------

/// Build → push (multi-component name) → rmi → server restart → pull → run, and the registry's view
/// of it.
#[tokio::test]
async fn docker_push_pull_run_roundtrip() {
    if !docker_enabled() {
        return;
    }
    let mut srv = TestServer::start().await;
    docker_login(&srv.addr).await;
    let mut images = LocalImages(Vec::new());
    let img = build_test_image(&mut images).await;

    let repo = format!("org/team/app-{}", unique());
    let remote = format!("{}/{repo}:v1", srv.addr);
    images.add(&remote);
    docker_ok(&["tag", &img.tag, &remote]).await;

    let push = docker_push(&remote).await;
    let statuses = layer_statuses(&push);
    assert_eq!(
        statuses.len(),
        4,
        "expected 4 layers (base, RUN, COPY, RUN) in:\n{push}"
    );
    assert!(
        statuses.values().all(|s| s == "Pushed"),
        "every layer of a first push to an empty registry should be Pushed:\n{push}"
    );
    let digest = pushed_digest(&push, "v1");

    // The registry's view: the tag, the manifest and its config.
    let tags = tags_list(&srv, &repo).await;
    assert!(tags.contains(&"v1".to_owned()), "tags/list of {repo}: {tags:?}");
    let (got_digest, ctype, body) = get_manifest(&srv, &repo, "v1", DOCKER_MANIFEST).await;
    assert_eq!(
        got_digest, digest,
        "Docker-Content-Digest of {repo}:v1 differs from docker push's"
    );
    assert_eq!(sha256(&body), digest, "manifest body does not hash to its digest");
    assert_eq!(ctype, DOCKER_MANIFEST);
    let manifest: Value = serde_json::from_slice(&body).expect("manifest JSON");
    assert_eq!(manifest["mediaType"], DOCKER_MANIFEST, "{manifest}");
    assert_eq!(manifest["config"]["mediaType"], DOCKER_CONFIG, "{manifest}");
    assert_eq!(
        manifest["config"]["digest"],
        img.id.as_str(),
        "config digest is not the image id: {manifest}"
    );
    let layers = manifest["layers"].as_array().expect("layers");
    assert_eq!(layers.len(), 4, "{manifest}");
    assert!(layers.iter().all(|l| l["mediaType"] == DOCKER_LAYER_GZIP), "{manifest}");

    // Forget it locally, then pull it back, from a server that was killed (SIGKILL) and restarted
    // in between: what a push acknowledged must have been durable.
    docker_ok(&["rmi", &remote, &img.tag]).await;
    let gone = docker(&["image", "inspect", &remote]).await;
    assert!(!gone.ok(), "image still present after rmi:\n{gone}");
    srv.restart().await;

    let pull = docker_ok(&["pull", &remote]).await;
    let pulled = layer_statuses(&pull);
    let completed = pulled.values().filter(|s| *s == "Pull complete").count();
    assert_eq!(
        completed, 3,
        "the three built layers should be downloaded (only the base exists):\n{pull}"
    );
    assert!(
        pull.stdout().contains(&format!("Digest: {digest}")),
        "pull digest differs from push:\n{pull}"
    );
    let inspect = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &remote]).await;
    assert_eq!(
        inspect.stdout().trim(),
        img.id,
        "pulled image id differs from the built one:\n{inspect}"
    );

    let run = docker_ok(&["run", "--rm", "--network=none", &remote]).await;
    assert_eq!(run.stdout(), img.expected_output, "container output differs:\n{run}");
}

/// Pushing the same image again sends no blob, and pushing it to another repository mounts every
/// layer instead of uploading it. The requests are observed through a logging proxy.
#[tokio::test]
async fn docker_repush_uploads_nothing_and_cross_repo_push_mounts() {
    if !docker_enabled() {
        return;
    }
    let srv = TestServer::start().await;
    let proxy = LoggingProxy::start(&srv.addr).await;
    docker_login(&proxy.addr).await;
    let mut images = LocalImages(Vec::new());
    let img = build_test_image(&mut images).await;

    let id = unique();
    let repo_a = format!("org/team/a-{id}");
    let repo_b = format!("org/b-{id}");
    let remote_a = format!("{}/{repo_a}:v1", proxy.addr);
    let remote_b = format!("{}/{repo_b}:v1", proxy.addr);
    images.add(&remote_a);
    images.add(&remote_b);
    docker_ok(&["tag", &img.tag, &remote_a]).await;
    docker_ok(&["tag", &img.tag, &remote_b]).await;

    // First push: everything is uploaded.
    let mark = proxy.mark();
    let first = docker_push(&remote_a).await;
    let first_log = proxy.since(mark);
    let first_digest = pushed_digest(&first, "v1");
    assert_eq!(layer_statuses(&first).len(), 4, "expected 4 layers:\n{first}");
    assert!(
        first_log
            .iter()
            .any(|l| (l.starts_with("PATCH ") || l.starts_with("PUT ")) && l.contains("/blobs/uploads/")),
        "the proxy saw no blob upload during the first push (is it in the path?): {first_log:#?}\n{first}"
    );

    // Same image, same repository: every layer exists, no upload at all.
    let mark = proxy.mark();
    let again = docker_push(&remote_a).await;
    let again_log = proxy.since(mark);
    let statuses = layer_statuses(&again);
    assert_eq!(statuses.len(), 4, "expected 4 layers:\n{again}");
    assert!(
        statuses.values().all(|s| s == "Layer already exists"),
        "re-push should find every layer in place:\n{again}"
    );
    assert_eq!(
        pushed_digest(&again, "v1"),
        first_digest,
        "re-push changed the manifest digest:\n{again}"
    );
    let uploads = upload_requests(&again_log);
    assert!(
        uploads.is_empty(),
        "re-push sent blob upload requests: {uploads:#?}\nall requests: {again_log:#?}"
    );
    let manifest_puts = again_log
        .iter()
        .filter(|l| l.starts_with("PUT ") && l.contains("/manifests/"))
        .count();
    assert_eq!(manifest_puts, 1, "re-push should PUT the manifest once: {again_log:#?}");

    // Same image, another repository: every layer is mounted from the first one.
    let mark = proxy.mark();
    let cross = docker_push(&remote_b).await;
    let cross_log = proxy.since(mark);
    let statuses = layer_statuses(&cross);
    assert_eq!(statuses.len(), 4, "expected 4 layers:\n{cross}");
    let mounted = format!("Mounted from {repo_a}");
    assert!(
        statuses.values().all(|s| *s == mounted),
        "every layer should be `{mounted}`:\n{cross}\nrequests: {cross_log:#?}"
    );
    assert_eq!(
        pushed_digest(&cross, "v1"),
        first_digest,
        "digest differs in the second repository:\n{cross}"
    );

    let uploads = upload_requests(&cross_log);
    let mounts: Vec<&&String> = uploads
        .iter()
        .filter(|l| l.starts_with("POST ") && query_param(l, "mount").is_some())
        .collect();
    for m in &mounts {
        assert_eq!(
            query_param(m, "from").as_deref(),
            Some(repo_a.as_str()),
            "mount source: {m}"
        );
    }
    let (_, _, body) = get_manifest(&srv, &repo_a, "v1", DOCKER_MANIFEST).await;
    let manifest: Value = serde_json::from_slice(&body).expect("manifest JSON");
    let layer_digests: BTreeSet<String> = manifest["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("no layers: {manifest}"))
        .iter()
        .map(|l| l["digest"].as_str().unwrap_or_default().to_owned())
        .collect();
    let mounted_digests: BTreeSet<String> = mounts.iter().filter_map(|m| query_param(m, "mount")).collect();
    assert_eq!(
        mounted_digests, layer_digests,
        "expected exactly one mount POST per layer of {manifest}: {cross_log:#?}"
    );
    assert_eq!(
        mounts.len(),
        4,
        "expected exactly one mount POST per layer: {cross_log:#?}"
    );
    // The only blob docker may upload here is the image config (its manifest builder checks the
    // config in the target repository and uploads it when missing; it never mounts it).
    let plain_posts = uploads
        .iter()
        .filter(|l| l.starts_with("POST ") && query_param(l, "mount").is_none())
        .count();
    let patches = uploads.iter().filter(|l| l.starts_with("PATCH ")).count();
    let finished: Vec<String> = uploads
        .iter()
        .filter(|l| l.starts_with("PUT "))
        .map(|l| query_param(l, "digest").unwrap_or_else(|| panic!("upload PUT without digest: {l}")))
        .collect();
    assert!(
        plain_posts <= 1 && patches <= 1 && finished.iter().all(|d| *d == img.id),
        "cross-repository push uploaded more than the config {}: {cross_log:#?}",
        img.id
    );

    assert_eq!(tags_list(&srv, &repo_a).await, vec!["v1".to_owned()]);
    assert_eq!(tags_list(&srv, &repo_b).await, vec!["v1".to_owned()]);
}

// ---------------------------------------------------------------------------------------------
// Skopeo tests
// ---------------------------------------------------------------------------------------------

/// An OCI layout written by hand: copy to the registry, inspect, list tags, copy within the
/// registry, copy back (byte-identical), and a conversion to Docker schema 2.
#[tokio::test]
async fn skopeo_copy_inspect_list_tags_roundtrip() {
    if !skopeo_available().await {
        return;
    }
    let srv = TestServer::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut layout = Layout::new(&tmp.path().join("src"));
    let img = layout
        .put_image(
            "amd64",
            &[
                &[
                    ("etc/hello.txt", "hello from layer one\n"),
                    ("bin/tool", "#!/bin/sh\necho tool\n"),
                ],
                &[("srv/data/values.txt", "1\n2\n3\n")],
            ],
        )
        .await;
    layout.write_index_json(&[(&img.manifest, "latest", None)]);

    let repo = "skopeo/test";
    let dest = format!("docker://{}/{repo}:latest", srv.addr);
    skopeo_ok(&[
        "copy",
        "--dest-tls-verify=false",
        &format!("oci:{}:latest", layout.path()),
        &dest,
    ])
    .await;

    // The server stored exactly the manifest that was written.
    let (digest, ctype, body) = get_manifest(&srv, repo, "latest", OCI_MANIFEST).await;
    assert_eq!(ctype, OCI_MANIFEST);
    assert_eq!(digest, img.manifest.digest);
    assert!(
        body == img.manifest_bytes,
        "stored manifest bytes differ from the ones written"
    );

    let inspect = skopeo_ok(&["inspect", "--tls-verify=false", &dest]).await;
    let v = inspect.json();
    assert_eq!(v["Digest"], img.manifest.digest.as_str(), "{inspect}");
    let want_layers: Vec<String> = img.layers.iter().map(|l| l.digest.clone()).collect();
    assert_eq!(str_list(&v["Layers"]), want_layers, "{inspect}");
    assert_eq!(v["Architecture"], "amd64", "{inspect}");
    assert_eq!(v["Os"], "linux", "{inspect}");

    let raw = skopeo_ok(&["inspect", "--raw", "--tls-verify=false", &dest]).await;
    assert!(
        raw.stdout == img.manifest_bytes,
        "inspect --raw differs from the manifest written:\n{raw}"
    );
    let raw_config = skopeo_ok(&["inspect", "--raw", "--config", "--tls-verify=false", &dest]).await;
    assert!(
        raw_config.stdout == layout.blobs[&img.config.digest],
        "inspect --raw --config differs from the config written:\n{raw_config}"
    );

    // Registry-to-registry copy within the repository adds a tag.
    let dest_v2 = format!("docker://{}/{repo}:v2", srv.addr);
    skopeo_ok(&[
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        &dest,
        &dest_v2,
    ])
    .await;
    let tags = skopeo_ok(&[
        "list-tags",
        "--tls-verify=false",
        &format!("docker://{}/{repo}", srv.addr),
    ])
    .await;
    let t = tags.json();
    assert_eq!(t["Repository"], format!("{}/{repo}", srv.addr), "{tags}");
    let mut got_tags = str_list(&t["Tags"]);
    got_tags.sort();
    assert_eq!(got_tags, vec!["latest".to_owned(), "v2".to_owned()], "{tags}");
    assert_eq!(tags_list(&srv, repo).await, vec!["latest".to_owned(), "v2".to_owned()]);

    // Copy back: byte-identical blobs.
    let out = tmp.path().join("out");
    skopeo_ok(&[
        "copy",
        "--src-tls-verify=false",
        &dest_v2,
        &format!("oci:{}:latest", out.display()),
    ])
    .await;
    assert_layout_matches(&out, &layout.blobs, "latest", &img.manifest.digest);

    // Conversion to Docker schema 2 on the way in: same layers, Docker media types.
    let dest_s2 = format!("docker://{}/skopeo/v2s2:latest", srv.addr);
    skopeo_ok(&[
        "copy",
        "--dest-tls-verify=false",
        "--format",
        "v2s2",
        &format!("oci:{}:latest", layout.path()),
        &dest_s2,
    ])
    .await;
    let raw = skopeo_ok(&["inspect", "--raw", "--tls-verify=false", &dest_s2]).await;
    let m = raw.json();
    assert_eq!(m["mediaType"], DOCKER_MANIFEST, "{raw}");
    assert_eq!(m["config"]["mediaType"], DOCKER_CONFIG, "{raw}");
    let layer_digests: Vec<String> = m["layers"]
        .as_array()
        .unwrap_or_else(|| panic!("no layers:\n{raw}"))
        .iter()
        .map(|l| {
            assert_eq!(l["mediaType"], DOCKER_LAYER_GZIP, "{raw}");
            l["digest"].as_str().unwrap_or_default().to_owned()
        })
        .collect();
    assert_eq!(layer_digests, want_layers, "{raw}");
    let (digest, ctype, body) = get_manifest(&srv, "skopeo/v2s2", "latest", DOCKER_MANIFEST).await;
    assert_eq!(ctype, DOCKER_MANIFEST);
    assert!(body == raw.stdout, "GET manifest differs from skopeo inspect --raw");
    assert_eq!(digest, sha256(&raw.stdout));
    let inspect = skopeo_ok(&["inspect", "--tls-verify=false", &dest_s2]).await;
    assert_eq!(inspect.json()["Digest"], digest.as_str(), "{inspect}");
    assert_eq!(str_list(&inspect.json()["Layers"]), want_layers, "{inspect}");
}

/// A two-platform OCI index copied with `--all`: the index comes back byte for byte, each platform
/// resolves to its own image, and copying back gives identical blobs.
#[tokio::test]
async fn skopeo_multi_arch_index_copy_all() {
    if !skopeo_available().await {
        return;
    }
    let srv = TestServer::start().await;
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut layout = Layout::new(&tmp.path().join("src"));
    let amd = layout
        .put_image(
            "amd64",
            &[&[("arch.txt", "amd64\n")], &[("shared/readme", "same content\n")]],
        )
        .await;
    let arm = layout
        .put_image(
            "arm64",
            &[&[("arch.txt", "arm64\n")], &[("shared/readme", "same content\n")]],
        )
        .await;
    // The second layer is the same in both images: one blob, referenced twice.
    assert_eq!(amd.layers[1].digest, arm.layers[1].digest);
    let platform = |arch: &str| json!({"architecture": arch, "os": "linux"});
    let index_json = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {"mediaType": OCI_MANIFEST, "digest": amd.manifest.digest, "size": amd.manifest.size,
             "platform": platform("amd64")},
            {"mediaType": OCI_MANIFEST, "digest": arm.manifest.digest, "size": arm.manifest.size,
             "platform": platform("arm64")},
        ],
        "annotations": {"org.example.test": "real-clients multi-arch"},
    });
    let index_bytes = serde_json::to_vec_pretty(&index_json).expect("index json");
    let index = layout.put_blob(OCI_INDEX, index_bytes.clone());
    layout.write_index_json(&[(&index, "multi", None)]);

    let repo = "skopeo/multi";
    let dest = format!("docker://{}/{repo}:latest", srv.addr);
    skopeo_ok(&[
        "copy",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:multi", layout.path()),
        &dest,
    ])
    .await;

    let raw = skopeo_ok(&["inspect", "--raw", "--tls-verify=false", &dest]).await;
    assert!(
        raw.stdout == index_bytes,
        "inspect --raw of the index differs from the index written:\n{raw}"
    );
    let (digest, ctype, body) = get_manifest(&srv, repo, "latest", OCI_INDEX).await;
    assert_eq!(ctype, OCI_INDEX);
    assert_eq!(digest, index.digest);
    assert!(body == index_bytes);

    for img in [&amd, &arm] {
        let by_digest = format!("docker://{}/{repo}@{}", srv.addr, img.manifest.digest);
        let raw = skopeo_ok(&["inspect", "--raw", "--tls-verify=false", &by_digest]).await;
        assert!(raw.stdout == img.manifest_bytes, "child manifest differs:\n{raw}");
    }

    // Platform selection resolves to the right child image.
    for (arch, img) in [("amd64", &amd), ("arm64", &arm)] {
        let inspect = skopeo_ok(&[
            "--override-arch",
            arch,
            "--override-os",
            "linux",
            "inspect",
            "--tls-verify=false",
            &dest,
        ])
        .await;
        let v = inspect.json();
        assert_eq!(v["Architecture"], arch, "{inspect}");
        let want: Vec<String> = img.layers.iter().map(|l| l.digest.clone()).collect();
        assert_eq!(str_list(&v["Layers"]), want, "{inspect}");
    }

    assert_eq!(tags_list(&srv, repo).await, vec!["latest".to_owned()]);

    // Copy everything back: identical blobs (both images, the shared layer once, the index).
    let out = tmp.path().join("out");
    skopeo_ok(&[
        "copy",
        "--all",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{}:multi", out.display()),
    ])
    .await;
    assert_layout_matches(&out, &layout.blobs, "multi", &index.digest);
}

/// Creates a user with the admin CLI.
fn create_user(srv: &TestServer, name: &str, password: &str) {
    use std::io::Write;
    let mut child = srv
        .admin_command()
        .args(["create-user", name, "--password-stdin"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn admin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{password}\n").as_bytes())
        .expect("password");
    let out = child.wait_with_output().expect("create-user");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

async fn api_call(srv: &TestServer, auth: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let r = common::client_with(Some(auth))
        .request(method, srv.url(path))
        .json(&body)
        .send()
        .await
        .expect("api");
    let status = r.status();
    let v: Value = r.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "{path}: {status} {v}");
    v
}

/// With auth on, as Docker users meet it: `docker login` with a password and with a personal
/// access token, push and pull of a private image as an organization member, a pull refused for a
/// non-member, an anonymous pull once the repository is public, `docker logout`.
#[tokio::test]
async fn docker_login_with_password_and_token_private_and_public_pulls() {
    if !docker_enabled() {
        return;
    }
    let srv = TestServer::start().await;
    let admin = common::basic("admin", common::ADMIN_PASSWORD);
    create_user(&srv, "member", "member-password");
    create_user(&srv, "outsider", "outsider-password");
    let repo = format!("acme/app-{}", unique());
    api_call(
        &srv,
        &admin,
        reqwest::Method::POST,
        "/api/v1/orgs",
        json!({"name": "acme"}),
    )
    .await;
    api_call(
        &srv,
        &admin,
        reqwest::Method::PUT,
        "/api/v1/orgs/acme/members/member",
        json!({"role": "member"}),
    )
    .await;
    api_call(
        &srv,
        &admin,
        reqwest::Method::POST,
        "/api/v1/orgs/acme/teams",
        json!({"name": "devs", "description": ""}),
    )
    .await;
    api_call(
        &srv,
        &admin,
        reqwest::Method::PUT,
        "/api/v1/orgs/acme/teams/devs/members/member",
        json!({}),
    )
    .await;
    api_call(
        &srv,
        &admin,
        reqwest::Method::PUT,
        "/api/v1/orgs/acme/teams/devs/permissions",
        json!({"repository": "", "permission": "write"}),
    )
    .await;
    let member = common::basic("member", "member-password");
    let token = api_call(
        &srv,
        &member,
        reqwest::Method::POST,
        "/api/v1/tokens",
        json!({"name": "laptop", "scope": "repo:write"}),
    )
    .await;
    let pat = token["token"]
        .as_str()
        .or(token["secret"].as_str())
        .expect("token secret")
        .to_owned();

    let reference = format!("{}/{repo}:v1", srv.addr);
    let mut images = LocalImages(Vec::new());
    images.add(&reference);
    // A wrong password is refused by `docker login`.
    let out = docker(&["login", "-u", "member", "-p", "wrong-password", &srv.addr]).await;
    assert!(!out.ok(), "login with a wrong password succeeded:\n{out}");
    // The member logs in with the token and pushes a private image.
    let out = docker_ok(&["login", "-u", "member", "-p", &pat, &srv.addr]).await;
    assert!(String::from_utf8_lossy(&out.stdout).contains("Login Succeeded"));
    docker_ok(&["tag", &base_image(), &reference]).await;
    docker_ok(&["push", &reference]).await;
    docker_ok(&["rmi", &reference]).await;
    docker_ok(&["pull", &reference]).await;
    let out = docker_ok(&["run", "--rm", "--network=none", &reference, "echo", "private ok"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "private ok");
    docker_ok(&["rmi", &reference]).await;
    let out = docker_ok(&["logout", &srv.addr]).await;
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Removing login credentials"),
        "{out}"
    );

    // Anonymous and non-member pulls of the private image are refused.
    let out = docker(&["pull", &reference]).await;
    assert!(!out.ok(), "anonymous pull of a private image succeeded:\n{out}");
    docker_ok(&["login", "-u", "outsider", "-p", "outsider-password", &srv.addr]).await;
    let out = docker(&["pull", &reference]).await;
    assert!(!out.ok(), "non-member pull succeeded:\n{out}");
    let err = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(err.contains("denied") || err.contains("unauthorized"), "{out}");
    docker_ok(&["logout", &srv.addr]).await;

    // Public: anyone may pull, without logging in.
    api_call(
        &srv,
        &admin,
        reqwest::Method::PATCH,
        &format!("/api/v1/repositories/{repo}"),
        json!({"visibility": "public"}),
    )
    .await;
    docker_ok(&["pull", &reference]).await;
    let out = docker_ok(&["run", "--rm", "--network=none", &reference, "echo", "public ok"]).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "public ok");
    // Pushing anonymously is still refused.
    let out = docker(&["push", &reference]).await;
    assert!(!out.ok(), "anonymous push succeeded:\n{out}");
}
