//! The shared harness: starts the real `rreg-server` binary on `127.0.0.1:0` with a temporary data
//! folder and hands out a base URL and an HTTP client. Server logs are shown only when `TEST_LOG` is set.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// Path of the server binary: `RREG_SERVER_BIN`, else `target/debug/rreg-server` of this workspace.
pub fn server_bin() -> PathBuf {
    if let Ok(p) = std::env::var("RREG_SERVER_BIN") {
        return PathBuf::from(p);
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"));
    let bin = target.join("debug").join("rreg-server");
    assert!(
        bin.exists(),
        "{} is missing: run `cargo build --workspace --bins` first (the test command does)",
        bin.display()
    );
    bin
}

/// The password of the `admin` user of every test server.
pub const ADMIN_PASSWORD: &str = "admin-test-password";

/// `Authorization` header value for `user:password`.
pub fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

/// A running server with its own data folder; killed on drop.
pub struct TestServer {
    pub child: Child,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub addr: String,
    pub data: tempfile::TempDir,
    /// The database URL when the suite runs on PostgreSQL (`RREG_TEST_DB=postgres`).
    pub database_url: Option<String>,
    /// Environment given to the server process (storage on S3 when `RREG_TEST_STORAGE=s3`, and
    /// whatever a test adds).
    env: Vec<(String, String)>,
    /// Sends the admin's Basic credentials with every request.
    pub client: reqwest::Client,
    /// Sends no credentials.
    pub anon: reqwest::Client,
    extra_args: Vec<String>,
}

impl TestServer {
    /// Starts a server on a fresh data folder.
    pub async fn start() -> TestServer {
        Self::start_with(&[]).await
    }

    /// Starts a server with extra environment variables (e.g. `RREG__AUTH__SIGNUP=true`).
    pub async fn start_with_env(env: &[(&str, &str)]) -> TestServer {
        Self::start_full(&[], env).await
    }

    /// Starts a server with extra `serve` arguments.
    pub async fn start_with(extra: &[&str]) -> TestServer {
        Self::start_full(extra, &[]).await
    }

    /// Starts an instance on the given database and server environment (storage), with a data
    /// folder of its own: several such instances form one registry.
    pub async fn start_shared(database_url: &str, env: &[(String, String)]) -> TestServer {
        let data = tempfile::tempdir().expect("tempdir");
        let extra_args = vec![format!("--database-url={database_url}")];
        let env = env.to_vec();
        let (child, addr) = spawn(data.path(), "127.0.0.1:0", &extra_args, &env).await;
        TestServer {
            child,
            base: format!("http://{addr}"),
            addr,
            data,
            database_url: Some(database_url.to_owned()),
            env,
            client: client_with(Some(&basic("admin", ADMIN_PASSWORD))),
            anon: client_with(None),
            extra_args,
        }
    }

    /// Starts another instance on this server's database (SQLite: the `rreg.db` file in this server's
    /// data folder, which two processes share in WAL mode) and storage environment, with `env` added
    /// and a data folder of its own (so with filesystem storage its blobs are its own).
    pub async fn start_sibling(&self, env: &[(&str, &str)]) -> TestServer {
        let url = self
            .database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data.path().join("rreg.db").display()));
        let mut env_all = self.env.clone();
        env_all.extend(env.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::start_shared(&url, &env_all).await
    }

    /// Whether blobs are stored in the data folder (not on S3).
    pub fn storage_is_local(&self) -> bool {
        !self.env.iter().any(|(k, _)| k == "RREG__STORAGE__BACKEND")
    }

    async fn start_full(extra: &[&str], env: &[(&str, &str)]) -> TestServer {
        let data = tempfile::tempdir().expect("tempdir");
        let mut extra_args: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let database_url = test_database_url();
        if let Some(url) = &database_url {
            extra_args.push(format!("--database-url={url}"));
        }
        let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        env.extend(test_storage_env());
        let (child, addr) = spawn(data.path(), "127.0.0.1:0", &extra_args, &env).await;
        TestServer {
            child,
            base: format!("http://{addr}"),
            addr,
            data,
            database_url,
            env,
            client: client_with(Some(&basic("admin", ADMIN_PASSWORD))),
            anon: client_with(None),
            extra_args,
        }
    }

    /// Kills the server (SIGKILL) and starts it again on the same data folder and port.
    pub async fn restart(&mut self) {
        let _ = self.child.kill().await;
        let _ = self.child.wait().await;
        let (child, addr) = spawn(self.data.path(), &self.addr, &self.extra_args, &self.env).await;
        self.child = child;
        self.addr = addr;
        self.base = format!("http://{}", self.addr);
    }

    /// `rreg-server admin …` on this server's data folder and database.
    pub fn admin_command(&self) -> std::process::Command {
        self.command("admin")
    }

    /// `rreg-server SUBCOMMAND …` on this server's data folder, database and storage.
    pub fn command(&self, subcommand: &str) -> std::process::Command {
        let mut c = std::process::Command::new(server_bin());
        c.arg(subcommand).arg("--data-dir").arg(self.data.path());
        if let Some(url) = &self.database_url {
            c.arg(format!("--database-url={url}"));
        }
        c.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        c
    }

    /// `base + path`
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }
}

/// A fresh database on the test PostgreSQL cluster when `RREG_TEST_DB=postgres` (the test command
/// starts the cluster and sets `RREG_TEST_POSTGRES` to its base URL); `None` means SQLite.
pub fn test_database_url() -> Option<String> {
    if std::env::var("RREG_TEST_DB").as_deref() != Ok("postgres") {
        return None;
    }
    Some(postgres_url().expect("RREG_TEST_DB=postgres needs RREG_TEST_POSTGRES"))
}

/// Server environment putting blobs on the test S3 server when `RREG_TEST_STORAGE=s3` (the test
/// command starts one and sets `RREG_TEST_S3_ENDPOINT`), under a prefix of their own.
pub fn test_storage_env() -> Vec<(String, String)> {
    if std::env::var("RREG_TEST_STORAGE").as_deref() != Ok("s3") {
        return Vec::new();
    }
    s3_storage_env().expect("RREG_TEST_STORAGE=s3 needs RREG_TEST_S3_ENDPOINT")
}

/// Server environment for blobs under a fresh prefix of the test S3 bucket, if one is running.
pub fn s3_storage_env() -> Option<Vec<(String, String)>> {
    let endpoint = std::env::var("RREG_TEST_S3_ENDPOINT").ok()?;
    Some(s3_env(endpoint))
}

/// A fresh PostgreSQL database URL on the test cluster, if one is running.
pub fn postgres_url() -> Option<String> {
    let base = std::env::var("RREG_TEST_POSTGRES").ok()?;
    Some(format!("{base}/rreg_test_{}", test_database_url_suffix()))
}

/// Storage environment for a bucket of this test's own on the test S3 server. A bucket, not a
/// prefix in a shared one: moto lists a bucket by walking all of its keys, and a delete by another
/// test meanwhile made the listing fail (`500` after every retry) — tests must not share it.
fn s3_env(endpoint: String) -> Vec<(String, String)> {
    let bucket = format!("rreg-{}", test_database_url_suffix().replace('_', "-"));
    create_bucket(&endpoint, &bucket);
    [
        ("RREG__STORAGE__BACKEND", "url".to_owned()),
        ("RREG__STORAGE__URL", format!("s3://{bucket}/data")),
        ("RREG__STORAGE__OPTIONS__AWS_ENDPOINT", endpoint),
        ("RREG__STORAGE__OPTIONS__AWS_ALLOW_HTTP", "true".into()),
        ("RREG__STORAGE__OPTIONS__AWS_REGION", "us-east-1".into()),
        ("RREG__STORAGE__OPTIONS__AWS_ACCESS_KEY_ID", "test".into()),
        ("RREG__STORAGE__OPTIONS__AWS_SECRET_ACCESS_KEY", "test".into()),
        (
            "RREG__STORAGE__OPTIONS__AWS_VIRTUAL_HOSTED_STYLE_REQUEST",
            "false".into(),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Creates `bucket` on the S3 server at `endpoint` (`http://host:port`; the test server takes
/// unsigned requests), with one plain HTTP/1.1 request.
fn create_bucket(endpoint: &str, bucket: &str) {
    use std::io::{Read, Write};
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut tcp = std::net::TcpStream::connect(host).unwrap_or_else(|e| panic!("S3 server {host}: {e}"));
    write!(
        tcp,
        "PUT /{bucket} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("create bucket");
    let mut answer = String::new();
    let _ = tcp.read_to_string(&mut answer);
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "creating bucket {bucket}: {}",
        answer.lines().next().unwrap_or("")
    );
}

fn test_database_url_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("t{}_{}_{n}", std::process::id(), nanos % 1_000_000_000)
}

/// A client that sends `authorization` (if any) with every request and follows no redirects.
pub fn client_with(authorization: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(a) = authorization {
        headers.insert(reqwest::header::AUTHORIZATION, a.parse().expect("header value"));
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .default_headers(headers)
        .build()
        .expect("client")
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

async fn spawn(data: &Path, listen: &str, extra: &[String], env: &[(String, String)]) -> (Child, String) {
    let show_logs = std::env::var_os("TEST_LOG").is_some();
    let mut cmd = Command::new(server_bin());
    cmd.arg("serve")
        .arg("--listen")
        .arg(listen)
        .arg("--data-dir")
        .arg(data)
        .args(extra)
        .env("RUST_LOG", std::env::var("RUST_LOG").unwrap_or_else(|_| "info".into()))
        .env("RREG_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(if show_logs { Stdio::inherit() } else { Stdio::null() })
        .kill_on_drop(true);
    let mut child = cmd.spawn().expect("spawn rreg-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if let Some(rest) = line.trim().strip_prefix("listening on http://") {
                return rest.to_owned();
            }
        }
        panic!("rreg-server exited before it was listening")
    })
    .await
    .expect("rreg-server did not start within 30 s");
    // Keep draining stdout so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, addr)
}

/// A docker client configuration folder of this test process's own: tests that `docker login`
/// concurrently must not rewrite one shared `config.json` (docker's writes race and lose entries).
pub fn docker_config_dir() -> PathBuf {
    static DIR: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("rreg-test-docker-config-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&d);
        d
    })
    .clone()
}

/// SHA-256 digest string of `data`.
pub fn digest(data: &[u8]) -> String {
    rreg_oci::Digest::sha256(data).to_string()
}
