//! Accounts and token login against the real server: Docker's token flow step by step, token
//! contents and intersection, refresh tokens, failed-login limits, the admin CLI, and a permission
//! matrix (anonymous / outsider / reader / writer / repo admin / owner / read-only token ×
//! pull / push / delete / mount / catalog × public / private) including the non-leak rule.

mod common;

use common::{basic, client_with, digest, TestServer, ADMIN_PASSWORD};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const PW: &str = "password-1234";
const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

/// Creates a user with the admin CLI, as an operator would.
fn create_user(srv: &TestServer, name: &str) {
    use std::io::Write;
    let mut child = srv
        .admin_command()
        .args(["create-user", name, "--password-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn admin");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{PW}\n").as_bytes())
        .expect("write password");
    let out = child.wait_with_output().expect("admin create-user");
    assert!(
        out.status.success(),
        "create-user {name}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_user(name: &str) -> reqwest::Client {
    client_with(Some(&basic(name, PW)))
}

async fn api(c: &reqwest::Client, srv: &TestServer, method: Method, path: &str, body: Value) -> (StatusCode, Value) {
    let r = c
        .request(method, srv.url(path))
        .json(&body)
        .send()
        .await
        .expect("api request");
    let status = r.status();
    let v = r.json::<Value>().await.unwrap_or(Value::Null);
    (status, v)
}

/// Pushes a one-layer image as `c`; returns (config digest, layer digest, manifest digest).
async fn push_image(c: &reqwest::Client, srv: &TestServer, repo: &str, tag: &str) -> (String, String, String) {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","repo":"{repo}"}}"#).into_bytes();
    let layer = format!("layer of {repo}").into_bytes();
    for blob in [&config, &layer] {
        let r = c
            .post(srv.url(&format!("/v2/{repo}/blobs/uploads/?digest={}", digest(blob))))
            .body(blob.clone())
            .send()
            .await
            .expect("upload");
        assert_eq!(r.status(), StatusCode::CREATED, "upload to {repo}");
    }
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&layer), "size": layer.len()}],
    })
    .to_string();
    let r = c
        .put(srv.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .expect("put manifest");
    assert_eq!(r.status(), StatusCode::CREATED, "manifest to {repo}");
    (digest(&config), digest(&layer), digest(manifest.as_bytes()))
}

fn challenge_of(r: &reqwest::Response) -> String {
    r.headers()
        .get("www-authenticate")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

async fn error_code(r: reqwest::Response) -> String {
    let v: Value = r.json().await.unwrap_or(Value::Null);
    v["errors"][0]["code"].as_str().unwrap_or("").to_owned()
}

/// Decodes a JWT's claims without checking it (the server checks; the test looks).
fn claims(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').nth(1).expect("claims part");
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .expect("base64url");
    serde_json::from_slice(&raw).expect("claims json")
}

#[tokio::test]
async fn docker_token_flow_step_by_step() {
    let srv = TestServer::start().await;
    push_image(&srv.client, &srv, "admin/app", "v1").await;

    // 1. The client probes /v2/ and is challenged.
    let r = srv.anon.get(srv.url("/v2/")).send().await.expect("probe");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let ch = challenge_of(&r);
    assert_eq!(
        ch,
        format!("Bearer realm=\"http://{}/token\",service=\"rreg\"", srv.addr)
    );

    // 2. A pull without a token is challenged with the scope it needs.
    let r = srv
        .anon
        .get(srv.url("/v2/admin/app/manifests/v1"))
        .send()
        .await
        .expect("pull");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert!(
        challenge_of(&r).ends_with(",scope=\"repository:admin/app:pull\""),
        "{}",
        challenge_of(&r)
    );
    assert_eq!(error_code(r).await, "UNAUTHORIZED");

    // 3. GET /token with Basic credentials, as docker sends it.
    let r = srv
        .anon
        .get(srv.url("/token?service=rreg&scope=repository:admin/app:pull,push&scope=registry:catalog:*"))
        .header("authorization", basic("admin", ADMIN_PASSWORD))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.expect("token json");
    let token = t["token"].as_str().expect("token").to_owned();
    assert_eq!(t["access_token"], t["token"]);
    assert_eq!(t["expires_in"], 300);
    assert!(t["issued_at"].as_str().is_some_and(|s| s.ends_with('Z')));
    let c = claims(&token);
    assert_eq!(c["sub"], "admin");
    assert_eq!(c["aud"], "rreg");
    assert_eq!(c["iss"], "rreg");
    assert_eq!(
        c["access"][0],
        json!({"type": "repository", "name": "admin/app", "actions": ["pull", "push"]})
    );
    assert_eq!(
        c["access"][1],
        json!({"type": "registry", "name": "catalog", "actions": ["*"]})
    );
    let header: Value = {
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').next().expect("header"))
            .expect("b64");
        serde_json::from_slice(&raw).expect("header json")
    };
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"].as_str().map(str::len), Some(43));

    // 4. The retry with the Bearer token succeeds; the token is scoped to its repository.
    let bearer = client_with(Some(&format!("Bearer {token}")));
    let r = bearer
        .get(srv.url("/v2/admin/app/manifests/v1"))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .expect("pull");
    assert_eq!(r.status(), StatusCode::OK);
    let r = bearer
        .get(srv.url("/v2/admin/other/tags/list"))
        .send()
        .await
        .expect("other");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let r = bearer.get(srv.url("/v2/_catalog")).send().await.expect("catalog");
    assert_eq!(r.status(), StatusCode::OK);

    // A tampered token is refused.
    let mut forged = token.clone();
    forged.pop();
    forged.push(if token.ends_with('A') { 'B' } else { 'A' });
    let r = client_with(Some(&format!("Bearer {forged}")))
        .get(srv.url("/v2/admin/app/manifests/v1"))
        .send()
        .await
        .expect("forged");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

    // Wrong password: /token answers 401 (this is what `docker login` reports).
    let r = srv
        .anon
        .get(srv.url("/token?service=rreg"))
        .header("authorization", basic("admin", "wrong-password"))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // And Basic directly on /v2 works for clients that skip the token step.
    let r = srv.client.get(srv.url("/v2/")).send().await.expect("basic");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn tokens_grant_the_intersection_and_anonymous_tokens_only_public() {
    let srv = TestServer::start().await;
    create_user(&srv, "alice");
    push_image(&srv.client, &srv, "admin/private", "v1").await;
    push_image(&as_user("alice"), &srv, "alice/app", "v1").await;

    // Alice asks for push on admin's repository and pull+push on hers: she gets only hers.
    let r = srv
        .anon
        .get(srv.url(
            "/token?service=rreg&scope=repository:admin/private:pull,push&scope=repository:alice/app:pull,push,delete",
        ))
        .header("authorization", basic("alice", PW))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK, "asking for too much is not an error");
    let t: Value = r.json().await.expect("json");
    let c = claims(t["token"].as_str().expect("token"));
    assert_eq!(c["access"][0]["actions"], json!([]));
    assert_eq!(c["access"][1]["actions"], json!(["delete", "pull", "push"]));

    // Anonymous token: nothing on a private repository…
    let r = srv
        .anon
        .get(srv.url("/token?service=rreg&scope=repository:alice/app:pull"))
        .send()
        .await
        .expect("anon token");
    let t: Value = r.json().await.expect("json");
    let c = claims(t["token"].as_str().expect("token"));
    assert_eq!(c["sub"], "");
    assert_eq!(c["access"][0]["actions"], json!([]));
    // … and pull once the repository is public.
    let (st, _) = api(
        &as_user("alice"),
        &srv,
        Method::PATCH,
        "/api/v1/repositories/alice/app",
        json!({"visibility": "public"}),
    )
    .await;
    assert_eq!(st, StatusCode::OK);
    let r = srv
        .anon
        .get(srv.url("/token?service=rreg&scope=repository:alice/app:pull,push"))
        .send()
        .await
        .expect("anon token");
    let t: Value = r.json().await.expect("json");
    let token = t["token"].as_str().expect("token").to_owned();
    assert_eq!(claims(&token)["access"][0]["actions"], json!(["pull"]));
    let r = client_with(Some(&format!("Bearer {token}")))
        .get(srv.url("/v2/alice/app/manifests/v1"))
        .send()
        .await
        .expect("anon pull");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn oauth2_password_and_refresh_grants() {
    let srv = TestServer::start().await;
    let form = [
        ("grant_type", "password"),
        ("username", "admin"),
        ("password", ADMIN_PASSWORD),
        ("service", "rreg"),
        ("client_id", "test"),
        ("access_type", "offline"),
        ("scope", "repository:admin/x:pull,push"),
    ];
    let r = srv.anon.post(srv.url("/token")).form(&form).send().await.expect("post");
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.expect("json");
    let refresh = t["refresh_token"].as_str().expect("refresh token").to_owned();
    assert_eq!(
        claims(t["access_token"].as_str().expect("at"))["access"][0]["actions"],
        json!(["pull", "push"])
    );

    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
        ("service", "rreg"),
        ("client_id", "test"),
        ("scope", "repository:admin/y:pull"),
    ];
    let r = srv
        .anon
        .post(srv.url("/token"))
        .form(&form)
        .send()
        .await
        .expect("refresh");
    assert_eq!(r.status(), StatusCode::OK);
    let t: Value = r.json().await.expect("json");
    let c = claims(t["access_token"].as_str().expect("at"));
    assert_eq!(
        (c["sub"].as_str(), c["access"][0]["name"].as_str()),
        (Some("admin"), Some("admin/y"))
    );

    // GET with offline_token=true also returns a refresh token (docker login does this).
    let r = srv
        .anon
        .get(srv.url("/token?service=rreg&offline_token=true&client_id=docker"))
        .header("authorization", basic("admin", ADMIN_PASSWORD))
        .send()
        .await
        .expect("get");
    let t: Value = r.json().await.expect("json");
    assert!(t["refresh_token"].as_str().is_some_and(|s| !s.is_empty()));

    for (form, want) in [
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "bogus")],
            StatusCode::UNAUTHORIZED,
        ),
        (
            vec![("grant_type", "password"), ("username", "admin"), ("password", "nope")],
            StatusCode::UNAUTHORIZED,
        ),
        (vec![("grant_type", "client_credentials")], StatusCode::BAD_REQUEST),
    ] {
        let r = srv.anon.post(srv.url("/token")).form(&form).send().await.expect("post");
        assert_eq!(r.status(), want, "{form:?}");
    }
}

#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let srv = TestServer::start().await;
    create_user(&srv, "mallory");
    // The admin signs in first: once the address is limited, even right passwords wait.
    let (st, session) = api(
        &srv.anon,
        &srv,
        Method::POST,
        "/api/v1/login",
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    assert_eq!(st, StatusCode::OK, "{session}");
    let admin_session = client_with(Some(&format!("Bearer {}", session["token"].as_str().expect("token"))));
    for _ in 0..10 {
        let r = srv
            .anon
            .get(srv.url("/token?service=rreg"))
            .header("authorization", basic("mallory", "wrong-guess"))
            .send()
            .await
            .expect("token");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The 11th attempt is refused without checking, even with the right password.
    let r = srv
        .anon
        .get(srv.url("/token?service=rreg"))
        .header("authorization", basic("mallory", PW))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=300).contains(&retry));
    // Same on /v2 with Basic.
    let r = as_user("mallory").get(srv.url("/v2/")).send().await.expect("v2");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // The failures are in the audit log.
    let r = admin_session.get(srv.url("/api/v1/audit")).send().await.expect("audit");
    let body = r.text().await.expect("body");
    assert!(body.contains("login.failed"), "{body}");
}

#[tokio::test]
async fn admin_cli_manages_users() {
    let srv = TestServer::start().await;
    create_user(&srv, "carol");
    let r = as_user("carol").get(srv.url("/v2/")).send().await.expect("v2");
    assert_eq!(r.status(), StatusCode::OK);
    // Duplicate names are refused with a readable error.
    let out = srv
        .admin_command()
        .args(["create-user", "carol"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"carol\" is taken"), "{err}");
    // Reset prints a new password that works.
    let out = srv
        .admin_command()
        .args(["reset-password", "carol"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let pw = stdout.trim().rsplit(' ').next().expect("password").to_owned();
    let r = client_with(Some(&basic("carol", &pw)))
        .get(srv.url("/v2/"))
        .send()
        .await
        .expect("v2");
    assert_eq!(r.status(), StatusCode::OK);
    let r = as_user("carol").get(srv.url("/v2/")).send().await.expect("v2");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn first_start_prints_and_stores_a_random_admin_password() {
    let data = tempfile::tempdir().expect("tempdir");
    let mut child = tokio::process::Command::new(common::server_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data.path())
        .env_remove("RREG_ADMIN_PASSWORD")
        .env("RUST_LOG", "info")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn");
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(child.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines.next_line().await.expect("line").expect("server exited");
        if let Some(a) = line.strip_prefix("listening on http://") {
            break a.to_owned();
        }
    };
    let file = data.path().join("admin-password");
    let pw = std::fs::read_to_string(&file).expect("admin-password file");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
    let r = client_with(Some(&basic("admin", pw.trim())))
        .get(format!("http://{addr}/v2/"))
        .send()
        .await
        .expect("v2");
    assert_eq!(r.status(), StatusCode::OK);
    child.kill().await.expect("kill");
    let mut stderr = String::new();
    use tokio::io::AsyncReadExt;
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .await
        .expect("read");
    assert!(stderr.contains(pw.trim()), "the password is printed once in the log");
}

/// The roles of the permission matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Role {
    Anonymous,
    Outsider,
    Reader,
    Writer,
    RepoAdmin,
    Owner,
    ReadToken,
}

const ROLES: [Role; 7] = [
    Role::Anonymous,
    Role::Outsider,
    Role::Reader,
    Role::Writer,
    Role::RepoAdmin,
    Role::Owner,
    Role::ReadToken,
];

fn role_user(r: Role) -> &'static str {
    match r {
        Role::Anonymous => "",
        Role::Outsider => "outsider",
        Role::Reader => "reader",
        Role::Writer => "writer",
        Role::RepoAdmin => "repoadmin",
        Role::Owner | Role::ReadToken => "owner",
    }
}

#[tokio::test]
async fn permission_matrix() {
    let srv = TestServer::start().await;
    for u in ["owner", "outsider", "reader", "writer", "repoadmin"] {
        create_user(&srv, u);
    }
    let owner = as_user("owner");
    let (st, body) = api(&owner, &srv, Method::POST, "/api/v1/orgs", json!({"name": "acme"})).await;
    assert_eq!(st, StatusCode::CREATED, "{body}");
    for (team, user, perm) in [
        ("readers", "reader", "read"),
        ("writers", "writer", "write"),
        ("admins", "repoadmin", "admin"),
    ] {
        let (st, body) = api(
            &owner,
            &srv,
            Method::PUT,
            &format!("/api/v1/orgs/acme/members/{user}"),
            json!({"role": "member"}),
        )
        .await;
        assert!(st.is_success(), "{body}");
        let (st, body) = api(
            &owner,
            &srv,
            Method::POST,
            "/api/v1/orgs/acme/teams",
            json!({"name": team, "description": ""}),
        )
        .await;
        assert!(st.is_success(), "{body}");
        let (st, body) = api(
            &owner,
            &srv,
            Method::PUT,
            &format!("/api/v1/orgs/acme/teams/{team}/members/{user}"),
            json!({}),
        )
        .await;
        assert!(st.is_success(), "{body}");
        let (st, body) = api(
            &owner,
            &srv,
            Method::PUT,
            &format!("/api/v1/orgs/acme/teams/{team}/permissions"),
            json!({"repository": "", "permission": perm}),
        )
        .await;
        assert!(st.is_success(), "{body}");
    }
    let (st, body) = api(
        &owner,
        &srv,
        Method::POST,
        "/api/v1/tokens",
        json!({"name": "ci", "scope": "repo:read"}),
    )
    .await;
    assert!(st.is_success(), "{body}");
    let pat = body["token"]
        .as_str()
        .or(body["secret"].as_str())
        .expect("token secret")
        .to_owned();
    assert!(pat.starts_with("rreg_pat_"));

    let mut blobs = std::collections::HashMap::new();
    for (repo, public) in [("acme/pub", true), ("acme/priv", false)] {
        let (_, layer, _) = push_image(&owner, &srv, repo, "v1").await;
        blobs.insert(repo, layer);
        if public {
            let (st, body) = api(
                &owner,
                &srv,
                Method::PATCH,
                &format!("/api/v1/repositories/{repo}"),
                json!({"visibility": "public"}),
            )
            .await;
            assert_eq!(st, StatusCode::OK, "{body}");
        }
    }

    let client_for = |r: Role| match r {
        Role::Anonymous => srv.anon.clone(),
        Role::ReadToken => client_with(Some(&basic("owner", &pat))),
        other => as_user(role_user(other)),
    };
    let mut failures = Vec::new();
    for role in ROLES {
        let c = client_for(role);
        let can_read_priv = !matches!(role, Role::Anonymous | Role::Outsider);
        let can_write = matches!(role, Role::Writer | Role::RepoAdmin | Role::Owner);
        let can_delete = matches!(role, Role::RepoAdmin | Role::Owner);
        for (repo, public) in [("acme/pub", true), ("acme/priv", false)] {
            let visible = public || can_read_priv;
            let denied = |allowed: bool, ok: StatusCode| -> (StatusCode, &'static str) {
                if allowed {
                    (ok, "")
                } else if role == Role::Anonymous || !visible {
                    (StatusCode::UNAUTHORIZED, "UNAUTHORIZED")
                } else {
                    (StatusCode::FORBIDDEN, "DENIED")
                }
            };
            // pull
            let r = c
                .get(srv.url(&format!("/v2/{repo}/manifests/v1")))
                .send()
                .await
                .expect("pull");
            let want = if visible {
                StatusCode::OK
            } else {
                StatusCode::UNAUTHORIZED
            };
            if r.status() != want {
                failures.push(format!("{role:?} pull {repo}: {} want {want}", r.status()));
            }
            // push (start an upload)
            let r = c
                .post(srv.url(&format!("/v2/{repo}/blobs/uploads/")))
                .send()
                .await
                .expect("push");
            let (want, code) = denied(can_write, StatusCode::ACCEPTED);
            let got = r.status();
            let got_code = if got.is_success() {
                String::new()
            } else {
                error_code(r).await
            };
            if got != want || got_code != code {
                failures.push(format!("{role:?} push {repo}: {got} {got_code} want {want} {code}"));
            }
            // delete a tag (made for the purpose, so the others keep theirs)
            if can_delete {
                push_image(&owner, &srv, repo, "doomed").await;
            }
            let r = c
                .delete(srv.url(&format!("/v2/{repo}/manifests/doomed")))
                .send()
                .await
                .expect("delete");
            let (want, code) = denied(can_delete, StatusCode::ACCEPTED);
            let got = r.status();
            let got_code = if got.is_success() {
                String::new()
            } else {
                error_code(r).await
            };
            if got != want || got_code != code {
                failures.push(format!("{role:?} delete {repo}: {got} {got_code} want {want} {code}"));
            }
        }
        // mount from the private repository into the caller's own namespace
        if !matches!(role, Role::Anonymous | Role::ReadToken) {
            let user = role_user(role);
            let r = c
                .post(srv.url(&format!(
                    "/v2/{user}/mounted/blobs/uploads/?mount={}&from=acme/priv",
                    blobs["acme/priv"]
                )))
                .send()
                .await
                .expect("mount");
            let want = if can_read_priv {
                StatusCode::CREATED
            } else {
                StatusCode::ACCEPTED
            };
            if r.status() != want {
                failures.push(format!("{role:?} mount from acme/priv: {} want {want}", r.status()));
            }
        }
        // catalog
        let r = c.get(srv.url("/v2/_catalog")).send().await.expect("catalog");
        if role == Role::Anonymous {
            if r.status() != StatusCode::UNAUTHORIZED {
                failures.push(format!("anonymous catalog: {}", r.status()));
            }
        } else {
            let v: Value = r.json().await.expect("json");
            let repos: Vec<&str> = v["repositories"]
                .as_array()
                .map(|a| a.iter().filter_map(|x| x.as_str()).collect())
                .unwrap_or_default();
            if !repos.contains(&"acme/pub") || repos.contains(&"acme/priv") != can_read_priv {
                failures.push(format!("{role:?} catalog: {repos:?}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission matrix mismatches:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn private_repositories_do_not_leak() {
    let srv = TestServer::start().await;
    create_user(&srv, "eve");
    let (_, layer, manifest) = push_image(&srv.client, &srv, "admin/secret", "v1").await;
    let eve = as_user("eve");
    // For an outsider and for anonymous callers, an existing private repository and a missing one
    // answer the same way on every read path.
    for c in [&eve, &srv.anon] {
        for (existing, missing) in [
            ("/v2/admin/secret/manifests/v1", "/v2/admin/nothing/manifests/v1"),
            (
                &format!("/v2/admin/secret/manifests/{manifest}")[..],
                &format!("/v2/admin/nothing/manifests/{manifest}")[..],
            ),
            (
                &format!("/v2/admin/secret/blobs/{layer}")[..],
                &format!("/v2/admin/nothing/blobs/{layer}")[..],
            ),
            ("/v2/admin/secret/tags/list", "/v2/admin/nothing/tags/list"),
        ] {
            let a = c.get(srv.url(existing)).send().await.expect("a");
            let b = c.get(srv.url(missing)).send().await.expect("b");
            assert_eq!(a.status(), StatusCode::UNAUTHORIZED, "{existing}");
            assert_eq!(a.status(), b.status());
            let (ca, cb) = (challenge_of(&a), challenge_of(&b));
            assert_eq!(ca.replace("admin/secret", "X"), cb.replace("admin/nothing", "X"));
            let (ba, bb) = (a.text().await.expect("a"), b.text().await.expect("b"));
            assert_eq!(ba.replace("admin/secret", "X"), bb.replace("admin/nothing", "X"));
        }
    }
    // Pushing into someone else's namespace is refused the same way whether or not it exists.
    let a = eve
        .post(srv.url("/v2/admin/secret/blobs/uploads/"))
        .send()
        .await
        .expect("a");
    let b = eve
        .post(srv.url("/v2/admin/nothing/blobs/uploads/"))
        .send()
        .await
        .expect("b");
    assert_eq!(
        (a.status(), b.status()),
        (StatusCode::UNAUTHORIZED, StatusCode::UNAUTHORIZED)
    );
    // Eve may push to her own namespace, which creates a private repository.
    push_image(&eve, &srv, "eve/new", "v1").await;
    let r = srv
        .anon
        .get(srv.url("/v2/eve/new/manifests/v1"))
        .send()
        .await
        .expect("anon");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
