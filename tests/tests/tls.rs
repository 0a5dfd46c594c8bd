//! HTTPS through rustls: a CA and a server certificate made with the `openssl` CLI, the server
//! started with `server.tls_cert`/`server.tls_key` and a plain-HTTP redirect listener; `curl`
//! checks the certificate chain and the redirect; with `RREG_TEST_DOCKER=1` the real Docker engine
//! logs in and pushes with the CA installed the Docker way (`/etc/docker/certs.d/HOST:PORT/ca.crt`,
//! removed afterwards).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{server_bin, ADMIN_PASSWORD};
use tokio::io::{AsyncBufReadExt, BufReader};

fn run(program: &str, args: &[&str]) -> (bool, String) {
    match Command::new(program).args(args).stdin(Stdio::null()).output() {
        Ok(o) => (
            o.status.success(),
            format!(
                "$ {program} {}\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ),
        Err(e) => (false, format!("{program}: {e}")),
    }
}

fn have(program: &str) -> bool {
    Command::new(program)
        .arg("version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok()
}

/// Makes `ca.crt`, and `server.crt`/`server.key` for 127.0.0.1 signed by it, in `dir`.
fn make_certs(dir: &Path) -> PathBuf {
    let p = |f: &str| dir.join(f).display().to_string();
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    for args in [
        vec![
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=rreg test CA",
            "-keyout",
            &p("ca.key"),
            "-out",
            &p("ca.crt"),
        ],
        vec![
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
        ],
        vec![
            "x509",
            "-req",
            "-in",
            &p("server.csr"),
            "-CA",
            &p("ca.crt"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &p("ext.cnf"),
            "-out",
            &p("server.crt"),
        ],
    ] {
        let (ok, out) = run("openssl", &args);
        assert!(ok, "{out}");
    }
    dir.join("ca.crt")
}

/// A TLS server on a fresh data folder: `(child, https port, redirect port)`.
async fn start_tls(data: &Path, certs: &Path) -> (tokio::process::Child, u16, u16) {
    let mut child = tokio::process::Command::new(server_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data)
        .env("RREG_ADMIN_PASSWORD", ADMIN_PASSWORD)
        .env("RREG__SERVER__TLS_CERT", certs.join("server.crt"))
        .env("RREG__SERVER__TLS_KEY", certs.join("server.key"))
        .env("RREG__SERVER__HTTP_REDIRECT_LISTEN", "127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(if std::env::var_os("TEST_LOG").is_some() {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut https, mut http) = (0, 0);
    tokio::time::timeout(Duration::from_secs(30), async {
        while let Ok(Some(l)) = lines.next_line().await {
            let port = |s: &str| {
                s.rsplit(':')
                    .next()
                    .and_then(|p| p.split_whitespace().next()?.parse().ok())
            };
            if let Some(rest) = l.strip_prefix("listening on https://") {
                https = port(rest).expect("port");
            } else if let Some(rest) = l.strip_prefix("redirecting http://") {
                http = port(rest).expect("port");
            }
            if https != 0 && http != 0 {
                break;
            }
        }
    })
    .await
    .expect("TLS server did not start");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, https, http)
}

#[tokio::test]
async fn https_with_a_private_ca_and_a_redirect() {
    if !have("openssl") || !have("curl") {
        println!("skipped: needs the openssl and curl commands");
        return;
    }
    let certs = tempfile::tempdir().expect("tempdir");
    let ca = make_certs(certs.path());
    let data = tempfile::tempdir().expect("tempdir");
    let (_child, https, http) = start_tls(data.path(), certs.path()).await;
    let ca = ca.display().to_string();
    // The chain verifies against the CA; the registry answers with its challenge.
    let url = format!("https://127.0.0.1:{https}/v2/");
    let (ok, out) = run(
        "curl",
        &["-sS", "--cacert", &ca, "-o", "/dev/null", "-w", "%{http_code}", &url],
    );
    assert!(ok && out.ends_with("401"), "{out}");
    let creds = format!("admin:{ADMIN_PASSWORD}");
    let (ok, out) = run(
        "curl",
        &[
            "-sS",
            "--cacert",
            &ca,
            "-u",
            &creds,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &url,
        ],
    );
    assert!(ok && out.ends_with("200"), "{out}");
    // Over TLS: HSTS everywhere, and the UI's session cookie is Secure.
    let (ok, out) = run("curl", &["-sS", "--cacert", &ca, "-D", "-", "-o", "/dev/null", &url]);
    assert!(
        ok && out.to_ascii_lowercase().contains("strict-transport-security: max-age="),
        "{out}"
    );
    let login = format!("https://127.0.0.1:{https}/ui/login");
    let form = format!("username=admin&password={ADMIN_PASSWORD}&next=/ui/");
    let (ok, out) = run(
        "curl",
        &[
            "-sS",
            "--cacert",
            &ca,
            "-D",
            "-",
            "-o",
            "/dev/null",
            "--data",
            &form,
            &login,
        ],
    );
    let cookie = out
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie: rreg_session="))
        .unwrap_or_default();
    assert!(
        ok && cookie.contains("; Secure") && cookie.contains("HttpOnly"),
        "{out}"
    );
    // Without the CA the certificate is refused.
    let (ok, out) = run("curl", &["-sS", "-o", "/dev/null", &url]);
    assert!(!ok, "an unknown CA must fail: {out}");
    // Plain HTTP on the TLS port is not served.
    let plain = format!("http://127.0.0.1:{https}/v2/");
    let (ok, out) = run(
        "curl",
        &["-sS", "-m", "10", "-o", "/dev/null", "-w", "%{http_code}", &plain],
    );
    assert!(!ok || !out.ends_with("200"), "{out}");
    // The redirect listener sends plain HTTP to HTTPS, path and query kept.
    let redirect = format!("http://127.0.0.1:{http}/v2/_catalog?n=1");
    let (ok, out) = run(
        "curl",
        &[
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
            &redirect,
        ],
    );
    assert!(ok, "{out}");
    assert!(
        out.ends_with(&format!("308 https://127.0.0.1:{https}/v2/_catalog?n=1")),
        "{out}"
    );
}

#[tokio::test]
async fn docker_login_and_push_over_https() {
    if std::env::var("RREG_TEST_DOCKER").as_deref() != Ok("1") {
        println!("skipped: RREG_TEST_DOCKER not set");
        return;
    }
    if !have("openssl") {
        println!("skipped: needs the openssl command");
        return;
    }
    let docker = std::env::var("DOCKER").unwrap_or_else(|_| "docker".into());
    let image = std::env::var("RREG_TEST_DOCKER_IMAGE").unwrap_or_else(|_| "busybox:rreg-test".into());
    let certs = tempfile::tempdir().expect("tempdir");
    let ca = make_certs(certs.path());
    let data = tempfile::tempdir().expect("tempdir");
    let (_child, https, _) = start_tls(data.path(), certs.path()).await;
    let host = format!("127.0.0.1:{https}");
    // The Docker way: the engine reads /etc/docker/certs.d/<host:port>/ca.crt for each request.
    let certs_d = PathBuf::from("/etc/docker/certs.d").join(&host);
    std::fs::create_dir_all(&certs_d).expect("certs.d");
    std::fs::copy(&ca, certs_d.join("ca.crt")).expect("install CA");
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(certs_d);
    let config = tempfile::tempdir().expect("docker config");
    let cfg = config.path().display().to_string();
    let target = format!("{host}/admin/tls:1");
    let steps: Vec<Vec<&str>> = vec![
        vec!["--config", &cfg, "login", "-u", "admin", "-p", ADMIN_PASSWORD, &host],
        vec!["tag", &image, &target],
        vec!["--config", &cfg, "push", &target],
        vec!["rmi", &target],
        vec!["--config", &cfg, "pull", &target],
    ];
    for args in steps {
        let (ok, out) = run(&docker, &args);
        assert!(ok, "{out}");
    }
    let _ = run(&docker, &["rmi", &target]);
}
