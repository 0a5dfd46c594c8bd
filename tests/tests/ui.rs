//! The web UI: server-rendered pages checked over HTTP, and driven in a real headless browser
//! (Debian's `chromium` through `chromedriver`, spoken to over the W3C WebDriver protocol): sign in,
//! open a repository, open a tag, read the history table. Screenshots go to
//! `target/test-artifacts/`. The browser test prints `skipped: …` when chromedriver is missing.

mod client_util;
mod common;

use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use client_util::tar;
use common::{client_with, digest, TestServer, ADMIN_PASSWORD};
use serde_json::{json, Value};

async fn blob(srv: &TestServer, c: &reqwest::Client, repo: &str, data: &[u8]) -> String {
    let d = digest(data);
    let r = c
        .post(srv.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
        .body(data.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201);
    d
}

/// Pushes a two-layer image (plus an empty history entry) as `repo:tag`.
async fn push(srv: &TestServer, c: &reqwest::Client, repo: &str, tag: &str) {
    let l0 = tar(&[("bin/tool", &[5u8; 3000])], &[]);
    let l1 = tar(&[("etc/motd", b"welcome\n")], &[]);
    let d0 = blob(srv, c, repo, &l0).await;
    let d1 = blob(srv, c, repo, &l1).await;
    let config = json!({"architecture": "amd64", "os": "linux", "created": "2024-01-02T03:04:06Z",
        "rootfs": {"type": "layers", "diff_ids": [d0, d1]},
        "history": [{"created": "2024-01-02T03:04:05Z", "created_by": "COPY tool /bin/tool"},
                    {"created": "2024-01-02T03:04:05Z", "created_by": "RUN echo welcome > /etc/motd"},
                    {"created": "2024-01-02T03:04:06Z", "created_by": "CMD [\"/bin/tool\"]", "empty_layer": true}]});
    let cb = serde_json::to_vec(&config).expect("json");
    let cd = blob(srv, c, repo, &cb).await;
    let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cb.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d0, "size": l0.len()},
                   {"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d1, "size": l1.len()}]});
    let r = c
        .put(srv.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(serde_json::to_vec(&m).expect("json"))
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 201);
}

fn no_redirects() -> reqwest::Client {
    client_with(None)
}

#[tokio::test]
async fn pages_show_only_what_the_viewer_may_read() {
    let srv = TestServer::start().await;
    push(&srv, &srv.client, "admin/private-app", "1.0").await;
    push(&srv, &srv.client, "admin/public-app", "2.0").await;
    let r = srv
        .client
        .patch(srv.url("/api/v1/repositories/admin/public-app"))
        .json(&json!({"visibility": "public", "description": "<b>escaped</b>"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200);

    let anon = no_redirects();
    let r = anon.get(srv.url("/")).send().await.expect("get");
    assert_eq!(r.status(), 303);
    let home = anon.get(srv.url("/ui/")).send().await.expect("home");
    assert_eq!(home.status(), 200);
    assert!(home
        .headers()
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/html")));
    let home = home.text().await.expect("text");
    assert!(home.contains("admin/public-app"), "{home}");
    assert!(!home.contains("admin/private-app"), "{home}");
    assert!(home.contains("&lt;b&gt;escaped&lt;/b&gt;"));
    assert!(home.contains("name=\"viewport\""));
    let r = anon.get(srv.url("/ui/r/admin/private-app")).send().await.expect("get");
    assert_eq!(r.status(), 404);
    let missing = anon.get(srv.url("/ui/r/admin/nothing")).send().await.expect("get");
    assert_eq!(missing.status(), 404);
    let css = anon.get(srv.url("/ui/style.css")).send().await.expect("css");
    assert_eq!(css.status(), 200);

    // Sign in with a form post; the cookie opens the private repository.
    let r = anon
        .post(srv.url("/ui/login"))
        .form(&[("username", "admin"), ("password", "wrong"), ("next", "")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 401);
    let r = anon
        .post(srv.url("/ui/login"))
        .form(&[
            ("username", "admin"),
            ("password", ADMIN_PASSWORD),
            ("next", "/ui/r/admin/private-app"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/ui/r/admin/private-app");
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie").to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let page = anon
        .get(srv.url("/ui/r/admin/private-app"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("get");
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("text");
    assert!(page.contains("/ui/r/admin/private-app/-/tags/1.0"), "{page}");
    assert!(page.contains(&format!("docker pull {}/admin/private-app", srv.addr)));
    let tag = anon
        .get(srv.url("/ui/r/admin/private-app/-/tags/1.0"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(tag.contains("RUN echo welcome &gt; /etc/motd"), "{tag}");
    assert!(tag.contains(&format!("docker pull {}/admin/private-app:1.0", srv.addr)));
    let layers = anon
        .get(srv.url("/ui/r/admin/private-app/-/layers/1.0"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("get")
        .text()
        .await
        .expect("text");
    assert!(layers.contains("100.00 %"), "{layers}");
    // Another user does not see it.
    let r = srv
        .client
        .post(srv.url("/api/v1/users"))
        .json(&json!({"name": "eve", "password": "eve-password-1"}))
        .send()
        .await
        .expect("user");
    assert_eq!(r.status(), 201);
    let r = anon
        .post(srv.url("/ui/login"))
        .form(&[
            ("username", "eve"),
            ("password", "eve-password-1"),
            ("next", "https://evil.example/"),
        ])
        .send()
        .await
        .expect("login");
    assert_eq!(r.headers()["location"], "/ui/");
    let eve = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let r = anon
        .get(srv.url("/ui/r/admin/private-app"))
        .header("cookie", &eve)
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
}

// ------------------------------------------------------------------------------------------------
// A minimal W3C WebDriver client over reqwest
// ------------------------------------------------------------------------------------------------

struct Driver {
    http: reqwest::Client,
    base: String,
    session: String,
    child: tokio::process::Child,
    _profile: tempfile::TempDir,
}

impl Driver {
    async fn start() -> Option<Driver> {
        let driver = ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())?;
        let browser = ["/usr/bin/chromium", "/usr/lib/chromium/chromium"]
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())?;
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let child = tokio::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .ok()?;
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        for _ in 0..100 {
            if http.get(format!("{base}/status")).send().await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let profile = tempfile::tempdir().expect("tempdir");
        let args = [
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1200,900".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome",
            "goog:chromeOptions": {"binary": browser, "args": args}}}});
        let r: Value = http
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .ok()?
            .json()
            .await
            .ok()?;
        let session = r["value"]["sessionId"].as_str()?.to_owned();
        Some(Driver {
            http,
            base,
            session,
            child,
            _profile: profile,
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/session/{}{}", self.base, self.session, path);
        let mut rb = self.http.request(method, url);
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let v: Value = rb.send().await.expect("webdriver").json().await.expect("json");
        assert!(v["value"]["error"].is_null(), "webdriver {path}: {v}");
        v["value"].clone()
    }

    async fn goto(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v.as_object()
            .and_then(|o| o.values().next())
            .and_then(|v| v.as_str())
            .expect("element id")
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::POST, &format!("/element/{e}/click"), Some(json!({})))
            .await;
    }

    async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    async fn current_url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Waits (up to 15 s) for a navigation started by a click to land on a URL ending with `suffix`:
    /// a click returns before the page it leads to has loaded.
    async fn wait_for_url(&self, suffix: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let url = self.current_url().await;
            if url.ends_with(suffix) || std::time::Instant::now() > deadline {
                return url;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn screenshot(&self, name: &str) {
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or(""))
            .expect("png");
        let dir = artifacts();
        std::fs::create_dir_all(&dir).expect("mkdir");
        std::fs::write(dir.join(name), bytes).expect("write screenshot");
    }

    async fn quit(mut self) {
        let _ = self
            .http
            .delete(format!("{}/session/{}", self.base, self.session))
            .send()
            .await;
        let _ = self.child.kill().await;
    }
}

fn artifacts() -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
        .join("test-artifacts")
}

#[tokio::test]
async fn browser_signs_in_opens_a_repository_and_reads_the_history() {
    let srv = TestServer::start().await;
    push(&srv, &srv.client, "admin/webapp", "1.0").await;
    let Some(d) = Driver::start().await else {
        println!("skipped: chromium/chromedriver not installed");
        return;
    };
    d.goto(&srv.url("/ui/r/admin/webapp")).await;
    // Private: an anonymous visitor is offered to sign in.
    assert!(d.text("main").await.contains("sign in"), "{}", d.text("main").await);
    d.screenshot("ui-1-not-found.png").await;
    d.click("main a").await;
    d.type_into("#username", "admin").await;
    d.type_into("#password", ADMIN_PASSWORD).await;
    d.screenshot("ui-2-sign-in.png").await;
    d.click("#sign-in").await;
    // Back on the repository, signed in.
    let url = d.wait_for_url("/ui/r/admin/webapp").await;
    assert!(url.ends_with("/ui/r/admin/webapp"), "{url}");
    assert_eq!(d.text("header .who").await, "admin");
    let tags = d.text("#tags").await;
    assert!(
        tags.contains("1.0") && tags.contains("linux/amd64") && tags.contains("admin"),
        "{tags}"
    );
    d.screenshot("ui-3-repository.png").await;
    d.click("#tags a").await;
    let url = d.wait_for_url("/ui/r/admin/webapp/-/tags/1.0").await;
    assert!(url.ends_with("/ui/r/admin/webapp/-/tags/1.0"), "{url}");
    let history = d.text("table.history").await;
    let lines: Vec<&str> = history.lines().collect();
    assert!(lines.iter().any(|l| l.contains("CMD [\"/bin/tool\"]")), "{history}");
    assert!(
        lines.iter().any(|l| l.contains("RUN echo welcome > /etc/motd")),
        "{history}"
    );
    assert!(lines.iter().any(|l| l.contains("COPY tool /bin/tool")), "{history}");
    assert!(d.text("#pull-command").await.ends_with("/admin/webapp:1.0"));
    d.screenshot("ui-4-tag.png").await;
    // The home page lists it; on a phone-sized window the tables still read.
    d.goto(&srv.url("/ui/")).await;
    assert!(d.text("main").await.contains("admin/webapp"));
    d.cmd(
        reqwest::Method::POST,
        "/window/rect",
        Some(json!({"width": 390, "height": 844})),
    )
    .await;
    d.goto(&srv.url("/ui/r/admin/webapp/-/tags/1.0")).await;
    d.screenshot("ui-5-phone.png").await;
    d.quit().await;
    assert!(artifacts().join("ui-4-tag.png").exists());
}
