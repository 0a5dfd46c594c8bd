//! The JSON management API (`/api/v1`) against the real server: sessions, sign-up, users,
//! organizations and members, teams and permissions, repository settings (and the non-leak rule),
//! personal access tokens on `/v2` and `/token`, the audit log, paging with `Link`, and the error
//! envelope for every kind of bad request. Every error case asserts the status and the envelope's
//! code; every write is checked again through a read.

mod common;

use common::{basic, client_with, TestServer, ADMIN_PASSWORD};
use reqwest::header::HeaderMap;
use reqwest::{Client, Method};
use serde_json::{json, Value};

const PW: &str = "password-1234";

/// A response read in full.
struct Resp {
    what: String,
    status: u16,
    headers: HeaderMap,
    body: Value,
}

impl Resp {
    /// The error envelope's code (`""` when there is none).
    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts a success status.
    fn ok(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "{}: {}", self.what, self.body);
        &self.body
    }

    /// Asserts an error status and code, and that the message is there.
    fn err(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "{}: {}", self.what, self.body);
        assert_eq!(self.code(), code, "{}: {}", self.what, self.body);
        assert!(
            self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{}: no message in {}",
            self.what,
            self.body
        );
    }

    /// The `rel="next"` target of the `Link` header, if any.
    fn next(&self) -> Option<String> {
        let link = self.headers.get("link")?.to_str().ok()?;
        assert!(link.ends_with("; rel=\"next\""), "{link}");
        Some(link.strip_prefix('<')?.split_once('>')?.0.to_owned())
    }

    /// The names (or another field) of a list body's items.
    fn items(&self, field: &str) -> Vec<String> {
        self.body["items"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no items in {}", self.what, self.body))
            .iter()
            .map(|i| match &i[field] {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect()
    }
}

async fn send(c: &Client, srv: &TestServer, method: Method, path: &str, body: Option<Value>) -> Resp {
    let what = format!("{method} {path}");
    let mut rb = c.request(method, srv.url(path));
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    let r = rb.send().await.expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text}"))
    };
    Resp {
        what,
        status,
        headers,
        body,
    }
}

async fn get(c: &Client, srv: &TestServer, path: &str) -> Resp {
    send(c, srv, Method::GET, path, None).await
}

async fn post(c: &Client, srv: &TestServer, path: &str, body: Value) -> Resp {
    send(c, srv, Method::POST, path, Some(body)).await
}

async fn put(c: &Client, srv: &TestServer, path: &str, body: Value) -> Resp {
    send(c, srv, Method::PUT, path, Some(body)).await
}

async fn patch(c: &Client, srv: &TestServer, path: &str, body: Value) -> Resp {
    send(c, srv, Method::PATCH, path, Some(body)).await
}

async fn delete(c: &Client, srv: &TestServer, path: &str) -> Resp {
    send(c, srv, Method::DELETE, path, None).await
}

/// Sends a raw body with a JSON content type.
async fn send_raw(c: &Client, srv: &TestServer, method: Method, path: &str, body: &str) -> Resp {
    let what = format!("{method} {path} {body:?}");
    let r = c
        .request(method, srv.url(path))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("request");
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let text = r.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{what}: body is not JSON ({e}): {text}"));
    Resp {
        what,
        status,
        headers,
        body,
    }
}

/// Creates a user through the API as the admin; returns a client with their Basic credentials.
async fn user(srv: &TestServer, name: &str) -> Client {
    post(&srv.client, srv, "/api/v1/users", json!({"name": name, "password": PW}))
        .await
        .ok(201);
    client_with(Some(&basic(name, PW)))
}

fn bearer(token: &str) -> Client {
    client_with(Some(&format!("Bearer {token}")))
}

/// The admin's audit log actions, newest first (one page).
async fn audit_actions(srv: &TestServer) -> Vec<(String, String, String)> {
    let r = get(&srv.client, srv, "/api/v1/audit?n=1000").await;
    r.ok(200);
    r.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap_or("").to_owned(),
                e["target"].as_str().unwrap_or("").to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Pushes a tiny image so the repository exists through `/v2`.
async fn push(c: &Client, srv: &TestServer, repo: &str) {
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let r = c
        .post(srv.url(&format!("/v2/{repo}/blobs/uploads/?digest={}", common::digest(&config))))
        .body(config.clone())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status().as_u16(), 201, "upload to {repo}");
    let manifest = json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": common::digest(&config), "size": config.len()},
        "layers": [],
    })
    .to_string();
    let r = c
        .put(srv.url(&format!("/v2/{repo}/manifests/v1")))
        .header("content-type", "application/vnd.oci.image.manifest.v1+json")
        .body(manifest)
        .send()
        .await
        .expect("manifest");
    assert_eq!(r.status().as_u16(), 201, "manifest to {repo}");
}

// ------------------------------------------------------------------------------------------------
// Sessions and logins
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn login_session_tokens_work_on_the_api_only() {
    let srv = TestServer::start().await;
    let r = post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await;
    let body = r.ok(200);
    assert_eq!(body["expires_in"], 12 * 3600);
    let session = body["token"].as_str().expect("token").to_owned();

    // The session works on the API…
    let me = get(&bearer(&session), &srv, "/api/v1/user").await;
    assert_eq!(me.ok(200)["name"], "admin");
    assert_eq!(me.body["is_admin"], true);
    // … but not on /v2, which wants registry tokens.
    let r = bearer(&session).get(srv.url("/v2/")).send().await.expect("v2");
    assert_eq!(r.status().as_u16(), 401);
    // And a registry token is not a session.
    let t: Value = srv
        .client
        .get(srv.url("/token?service=rreg&scope=repository:admin/app:pull"))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let registry_token = t["token"].as_str().expect("registry token");
    let r = bearer(registry_token).get(srv.url("/v2/")).send().await.expect("v2");
    assert_eq!(r.status().as_u16(), 200, "the registry token itself is fine on /v2");
    get(&bearer(registry_token), &srv, "/api/v1/user")
        .await
        .err(401, "UNAUTHORIZED");
    // Garbage and tampered sessions are refused.
    get(&bearer("not-a-jwt"), &srv, "/api/v1/user")
        .await
        .err(401, "UNAUTHORIZED");
    let tampered = format!("{}x", &session[..session.len() - 1]);
    get(&bearer(&tampered), &srv, "/api/v1/user")
        .await
        .err(401, "UNAUTHORIZED");

    // Wrong password, unknown user, malformed requests.
    post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "admin", "password": "nope"}),
    )
    .await
    .err(401, "UNAUTHORIZED");
    post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "ghost", "password": "nope"}),
    )
    .await
    .err(401, "UNAUTHORIZED");
    post(&srv.anon, &srv, "/api/v1/login", json!({"username": "admin"}))
        .await
        .err(400, "BAD_REQUEST");
    post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "admin", "password": ADMIN_PASSWORD, "otp": "1"}),
    )
    .await
    .err(400, "BAD_REQUEST");
    send_raw(&srv.anon, &srv, Method::POST, "/api/v1/login", "{not json")
        .await
        .err(400, "BAD_REQUEST");

    // A personal access token cannot open a session.
    let pat = post(
        &srv.client,
        &srv,
        "/api/v1/tokens",
        json!({"name": "ci", "scope": "repo:admin"}),
    )
    .await;
    let secret = pat.ok(201)["secret"].as_str().expect("secret").to_owned();
    post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "admin", "password": secret}),
    )
    .await
    .err(401, "UNAUTHORIZED");

    // The session's account going away ends the session.
    let bob = user(&srv, "bob").await;
    let _ = bob;
    let r = post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "bob", "password": PW}),
    )
    .await;
    let bob_session = r.ok(200)["token"].as_str().expect("token").to_owned();
    get(&bearer(&bob_session), &srv, "/api/v1/user").await.ok(200);
    delete(&srv.client, &srv, "/api/v1/users/bob").await.ok(204);
    get(&bearer(&bob_session), &srv, "/api/v1/user")
        .await
        .err(401, "UNAUTHORIZED");

    assert!(audit_actions(&srv)
        .await
        .iter()
        .any(|(a, t, d)| a == "login" && t == "admin" && d == "api"));
}

#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let srv = TestServer::start().await;
    for i in 0..10 {
        post(
            &srv.anon,
            &srv,
            "/api/v1/login",
            json!({"username": "mallory", "password": format!("guess-{i}")}),
        )
        .await
        .err(401, "UNAUTHORIZED");
    }
    let r = post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "mallory", "password": "guess-10"}),
    )
    .await;
    r.err(429, "TOO_MANY_REQUESTS");
    let retry: u64 = r
        .headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After");
    assert!((1..=300).contains(&retry), "{retry}");
    // The address is limited too, whatever the credentials and however they come.
    post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "admin", "password": ADMIN_PASSWORD}),
    )
    .await
    .err(429, "TOO_MANY_REQUESTS");
    get(&srv.client, &srv, "/api/v1/user")
        .await
        .err(429, "TOO_MANY_REQUESTS");
}

// ------------------------------------------------------------------------------------------------
// Users
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn signup_is_closed_by_default() {
    let srv = TestServer::start().await;
    let new = json!({"name": "eve", "password": PW});
    post(&srv.anon, &srv, "/api/v1/users", new.clone())
        .await
        .err(401, "UNAUTHORIZED");
    let bob = user(&srv, "bob").await;
    post(&bob, &srv, "/api/v1/users", new.clone())
        .await
        .err(403, "FORBIDDEN");

    // Administrators create users, also administrators.
    let r = post(&srv.client, &srv, "/api/v1/users", new.clone()).await;
    assert_eq!(r.ok(201)["name"], "eve");
    assert_eq!(r.body["is_admin"], false);
    assert!(r.body["created_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    post(&srv.client, &srv, "/api/v1/users", new.clone())
        .await
        .err(409, "CONFLICT");
    let r = post(
        &srv.client,
        &srv,
        "/api/v1/users",
        json!({"name": "root2", "password": PW, "is_admin": true}),
    )
    .await;
    assert_eq!(r.ok(201)["is_admin"], true);
    let root2 = client_with(Some(&basic("root2", PW)));
    get(&root2, &srv, "/api/v1/users").await.ok(200);

    // Bad input.
    for body in [
        json!({"name": "Eve", "password": PW}),
        json!({"name": "a", "password": PW}),
        json!({"name": "a/b", "password": PW}),
        json!({"name": "frank", "password": "short"}),
        json!({"name": "frank"}),
        json!({"name": "frank", "password": PW, "email": "x@y"}),
        json!({"name": 7, "password": PW}),
        json!(["frank"]),
    ] {
        post(&srv.client, &srv, "/api/v1/users", body)
            .await
            .err(400, "BAD_REQUEST");
    }
    send_raw(&srv.client, &srv, Method::POST, "/api/v1/users", "")
        .await
        .err(400, "BAD_REQUEST");
    // The name of an organization is taken.
    post(&bob, &srv, "/api/v1/orgs", json!({"name": "acme"})).await.ok(201);
    post(
        &srv.client,
        &srv,
        "/api/v1/users",
        json!({"name": "acme", "password": PW}),
    )
    .await
    .err(409, "CONFLICT");
    get(&srv.client, &srv, "/api/v1/users?n=1000").await.ok(200);
    let names = get(&srv.client, &srv, "/api/v1/users").await.items("name");
    assert_eq!(names, ["admin", "bob", "eve", "root2"]);
}

#[tokio::test]
async fn signup_when_enabled() {
    let srv = TestServer::start_with_env(&[("RREG__AUTH__SIGNUP", "true")]).await;

    let r = post(&srv.anon, &srv, "/api/v1/users", json!({"name": "eve", "password": PW})).await;
    assert_eq!(r.ok(201)["name"], "eve");
    let eve = client_with(Some(&basic("eve", PW)));
    let me = get(&eve, &srv, "/api/v1/user").await;
    assert_eq!(me.ok(200)["is_admin"], false);
    // Nobody signs up as an administrator, and names stay unique.
    post(
        &srv.anon,
        &srv,
        "/api/v1/users",
        json!({"name": "mallory", "password": PW, "is_admin": true}),
    )
    .await
    .err(403, "FORBIDDEN");
    post(
        &eve,
        &srv,
        "/api/v1/users",
        json!({"name": "mallory", "password": PW, "is_admin": true}),
    )
    .await
    .err(403, "FORBIDDEN");
    post(&srv.anon, &srv, "/api/v1/users", json!({"name": "eve", "password": PW}))
        .await
        .err(409, "CONFLICT");
    post(
        &srv.anon,
        &srv,
        "/api/v1/users",
        json!({"name": "admin", "password": PW}),
    )
    .await
    .err(409, "CONFLICT");
    post(&srv.anon, &srv, "/api/v1/users", json!({"name": "x", "password": PW}))
        .await
        .err(400, "BAD_REQUEST");
    get(&srv.client, &srv, "/api/v1/users?n=1").await.ok(200);
    assert!(audit_actions(&srv)
        .await
        .iter()
        .any(|(a, t, d)| a == "user.create" && t == "eve" && d == "signup"));
}

#[tokio::test]
async fn users_me_list_change_and_delete() {
    let srv = TestServer::start().await;
    get(&srv.anon, &srv, "/api/v1/user").await.err(401, "UNAUTHORIZED");
    let bob = user(&srv, "bob").await;
    for name in ["carol", "dave", "erin"] {
        user(&srv, name).await;
    }

    // Me, with my organizations.
    post(&bob, &srv, "/api/v1/orgs", json!({"name": "acme"})).await.ok(201);
    let me = get(&bob, &srv, "/api/v1/user").await;
    assert_eq!(me.ok(200)["name"], "bob");
    assert_eq!(me.body["is_admin"], false);
    assert_eq!(me.body["orgs"], json!([{"name": "acme", "role": "owner"}]));

    // The list is for administrators, in pages.
    get(&bob, &srv, "/api/v1/users").await.err(403, "FORBIDDEN");
    get(&srv.anon, &srv, "/api/v1/users").await.err(401, "UNAUTHORIZED");
    let p1 = get(&srv.client, &srv, "/api/v1/users?n=2").await;
    assert_eq!(p1.items("name"), ["admin", "bob"]);
    let next = p1.next().expect("Link to page 2");
    assert_eq!(next, "/api/v1/users?n=2&last=bob");
    let p2 = get(&srv.client, &srv, &next).await;
    assert_eq!(p2.items("name"), ["carol", "dave"]);
    let p3 = get(&srv.client, &srv, &p2.next().expect("Link to page 3")).await;
    assert_eq!(p3.items("name"), ["erin"]);
    assert!(p3.next().is_none(), "no Link after the last page");
    let all = get(&srv.client, &srv, "/api/v1/users?n=5000").await;
    assert_eq!(all.items("name").len(), 5);
    assert!(all.next().is_none());
    for bad in ["n=0", "n=-1", "n=abc"] {
        get(&srv.client, &srv, &format!("/api/v1/users?{bad}"))
            .await
            .err(400, "BAD_REQUEST");
    }

    // Own password: yes; someone else's or administration: no.
    let r = patch(&bob, &srv, "/api/v1/users/bob", json!({"password": "new-password-1"})).await;
    assert_eq!(r.ok(200)["name"], "bob");
    get(&bob, &srv, "/api/v1/user").await.err(401, "UNAUTHORIZED");
    let bob = client_with(Some(&basic("bob", "new-password-1")));
    get(&bob, &srv, "/api/v1/user").await.ok(200);
    patch(&bob, &srv, "/api/v1/users/carol", json!({"password": "hijacked-123"}))
        .await
        .err(403, "FORBIDDEN");
    patch(&bob, &srv, "/api/v1/users/bob", json!({"is_admin": true}))
        .await
        .err(403, "FORBIDDEN");
    patch(&bob, &srv, "/api/v1/users/bob", json!({"password": "short"}))
        .await
        .err(400, "BAD_REQUEST");
    patch(&bob, &srv, "/api/v1/users/bob", json!({}))
        .await
        .err(400, "BAD_REQUEST");
    patch(
        &bob,
        &srv,
        "/api/v1/users/bob",
        json!({"password": "x", "shell": "/bin/sh"}),
    )
    .await
    .err(400, "BAD_REQUEST");
    patch(
        &srv.anon,
        &srv,
        "/api/v1/users/bob",
        json!({"password": "new-password-2"}),
    )
    .await
    .err(401, "UNAUTHORIZED");

    // Administrators change anything.
    patch(
        &srv.client,
        &srv,
        "/api/v1/users/carol",
        json!({"password": "reset-by-admin"}),
    )
    .await
    .ok(200);
    get(
        &client_with(Some(&basic("carol", "reset-by-admin"))),
        &srv,
        "/api/v1/user",
    )
    .await
    .ok(200);
    let r = patch(&srv.client, &srv, "/api/v1/users/dave", json!({"is_admin": true})).await;
    assert_eq!(r.ok(200)["is_admin"], true);
    let dave = client_with(Some(&basic("dave", PW)));
    get(&dave, &srv, "/api/v1/users").await.ok(200);
    patch(
        &srv.client,
        &srv,
        "/api/v1/users/ghost",
        json!({"password": "whatever-123"}),
    )
    .await
    .err(404, "NOT_FOUND");
    patch(&srv.client, &srv, "/api/v1/users/dave", json!({"is_admin": "yes"}))
        .await
        .err(400, "BAD_REQUEST");

    // The last administrator stays one.
    patch(&srv.client, &srv, "/api/v1/users/dave", json!({"is_admin": false}))
        .await
        .ok(200);
    patch(&srv.client, &srv, "/api/v1/users/admin", json!({"is_admin": false}))
        .await
        .err(409, "CONFLICT");
    delete(&srv.client, &srv, "/api/v1/users/admin")
        .await
        .err(409, "CONFLICT");

    // Deleting: administrators only; not the only owner of an organization.
    delete(&bob, &srv, "/api/v1/users/erin").await.err(403, "FORBIDDEN");
    delete(&srv.anon, &srv, "/api/v1/users/erin")
        .await
        .err(401, "UNAUTHORIZED");
    delete(&srv.client, &srv, "/api/v1/users/ghost")
        .await
        .err(404, "NOT_FOUND");
    delete(&srv.client, &srv, "/api/v1/users/bob")
        .await
        .err(409, "CONFLICT");
    delete(&srv.client, &srv, "/api/v1/users/erin").await.ok(204);
    get(&client_with(Some(&basic("erin", PW))), &srv, "/api/v1/user")
        .await
        .err(401, "UNAUTHORIZED");
    delete(&srv.client, &srv, "/api/v1/users/erin")
        .await
        .err(404, "NOT_FOUND");
    assert_eq!(
        get(&srv.client, &srv, "/api/v1/users").await.items("name"),
        ["admin", "bob", "carol", "dave"]
    );
    // Not while their namespace has repositories.
    post(&srv.client, &srv, "/api/v1/repositories", json!({"name": "carol/app"}))
        .await
        .ok(201);
    delete(&srv.client, &srv, "/api/v1/users/carol")
        .await
        .err(409, "CONFLICT");

    let actions = audit_actions(&srv).await;
    for (action, target) in [
        ("user.create", "bob"),
        ("user.password", "bob"),
        ("user.password", "carol"),
        ("user.admin", "dave"),
        ("user.delete", "erin"),
    ] {
        assert!(
            actions.iter().any(|(a, t, _)| a == action && t == target),
            "{action} {target} missing from {actions:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Organizations and members
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn organizations_and_members() {
    let srv = TestServer::start().await;
    let alice = user(&srv, "alice").await;
    let bob = user(&srv, "bob").await;
    let carol = user(&srv, "carol").await;

    post(&srv.anon, &srv, "/api/v1/orgs", json!({"name": "acme"}))
        .await
        .err(401, "UNAUTHORIZED");
    let r = post(&alice, &srv, "/api/v1/orgs", json!({"name": "acme"})).await;
    assert_eq!(r.ok(201)["name"], "acme");
    assert_eq!(r.body["role"], "owner");
    assert_eq!(r.body["default_visibility"], "private");
    post(&bob, &srv, "/api/v1/orgs", json!({"name": "acme"}))
        .await
        .err(409, "CONFLICT");
    post(&bob, &srv, "/api/v1/orgs", json!({"name": "alice"}))
        .await
        .err(409, "CONFLICT");
    for bad in [
        json!({"name": "Acme"}),
        json!({"name": "a"}),
        json!({"org": "x"}),
        json!({}),
    ] {
        post(&bob, &srv, "/api/v1/orgs", bad).await.err(400, "BAD_REQUEST");
    }
    post(&bob, &srv, "/api/v1/orgs", json!({"name": "bobco"})).await.ok(201);

    // Visible to members (and administrators) only; others cannot tell it exists.
    assert_eq!(get(&alice, &srv, "/api/v1/orgs/acme").await.ok(200)["role"], "owner");
    get(&bob, &srv, "/api/v1/orgs/acme").await.err(404, "NOT_FOUND");
    get(&bob, &srv, "/api/v1/orgs/nope").await.err(404, "NOT_FOUND");
    get(&srv.anon, &srv, "/api/v1/orgs/acme").await.err(401, "UNAUTHORIZED");
    get(&srv.client, &srv, "/api/v1/orgs/acme").await.ok(200);
    assert_eq!(get(&alice, &srv, "/api/v1/orgs").await.items("name"), ["acme"]);
    assert_eq!(get(&bob, &srv, "/api/v1/orgs").await.items("name"), ["bobco"]);
    let all = get(&srv.client, &srv, "/api/v1/orgs?n=1").await;
    assert_eq!(all.items("name"), ["acme"]);
    let next = all.next().expect("Link");
    assert_eq!(get(&srv.client, &srv, &next).await.items("name"), ["bobco"]);

    // Members: owners manage.
    get(&bob, &srv, "/api/v1/orgs/acme/members").await.err(404, "NOT_FOUND");
    let r = put(&alice, &srv, "/api/v1/orgs/acme/members/bob", json!({"role": "member"})).await;
    assert_eq!(r.ok(201)["role"], "member");
    put(&alice, &srv, "/api/v1/orgs/acme/members/bob", json!({"role": "member"}))
        .await
        .ok(200);
    assert_eq!(get(&bob, &srv, "/api/v1/orgs/acme").await.ok(200)["role"], "member");
    get(&bob, &srv, "/api/v1/orgs/acme/members").await.err(403, "FORBIDDEN");
    put(&bob, &srv, "/api/v1/orgs/acme/members/carol", json!({"role": "member"}))
        .await
        .err(403, "FORBIDDEN");
    put(
        &alice,
        &srv,
        "/api/v1/orgs/acme/members/ghost",
        json!({"role": "member"}),
    )
    .await
    .err(404, "NOT_FOUND");
    put(&alice, &srv, "/api/v1/orgs/acme/members/carol", json!({"role": "boss"}))
        .await
        .err(400, "BAD_REQUEST");
    put(&alice, &srv, "/api/v1/orgs/acme/members/carol", json!({}))
        .await
        .err(400, "BAD_REQUEST");
    put(
        &alice,
        &srv,
        "/api/v1/orgs/nope/members/carol",
        json!({"role": "member"}),
    )
    .await
    .err(404, "NOT_FOUND");
    let m = get(&alice, &srv, "/api/v1/orgs/acme/members").await;
    assert_eq!(
        m.ok(200)["items"],
        json!([{"name": "alice", "role": "owner"}, {"name": "bob", "role": "member"}])
    );

    // The last owner can be neither demoted nor removed.
    put(
        &alice,
        &srv,
        "/api/v1/orgs/acme/members/alice",
        json!({"role": "member"}),
    )
    .await
    .err(409, "CONFLICT");
    delete(&alice, &srv, "/api/v1/orgs/acme/members/alice")
        .await
        .err(409, "CONFLICT");
    put(&alice, &srv, "/api/v1/orgs/acme/members/bob", json!({"role": "owner"}))
        .await
        .ok(200);
    put(&bob, &srv, "/api/v1/orgs/acme/members/alice", json!({"role": "member"}))
        .await
        .ok(200);
    get(&alice, &srv, "/api/v1/orgs/acme/members")
        .await
        .err(403, "FORBIDDEN");
    delete(&bob, &srv, "/api/v1/orgs/acme/members/bob")
        .await
        .err(409, "CONFLICT");

    // Members leave on their own; owners remove anyone.
    put(&bob, &srv, "/api/v1/orgs/acme/members/carol", json!({"role": "member"}))
        .await
        .ok(201);
    delete(&carol, &srv, "/api/v1/orgs/acme/members/carol").await.ok(204);
    get(&carol, &srv, "/api/v1/orgs/acme").await.err(404, "NOT_FOUND");
    delete(&alice, &srv, "/api/v1/orgs/acme/members/bob")
        .await
        .err(403, "FORBIDDEN");
    delete(&bob, &srv, "/api/v1/orgs/acme/members/carol")
        .await
        .err(404, "NOT_FOUND");
    delete(&bob, &srv, "/api/v1/orgs/acme/members/ghost")
        .await
        .err(404, "NOT_FOUND");
    delete(&bob, &srv, "/api/v1/orgs/acme/members/alice").await.ok(204);
    get(&alice, &srv, "/api/v1/orgs/acme").await.err(404, "NOT_FOUND");

    // Settings: owners.
    patch(
        &carol,
        &srv,
        "/api/v1/orgs/acme",
        json!({"default_visibility": "public"}),
    )
    .await
    .err(404, "NOT_FOUND");
    put(&bob, &srv, "/api/v1/orgs/acme/members/carol", json!({"role": "member"}))
        .await
        .ok(201);
    patch(
        &carol,
        &srv,
        "/api/v1/orgs/acme",
        json!({"default_visibility": "public"}),
    )
    .await
    .err(403, "FORBIDDEN");
    patch(&bob, &srv, "/api/v1/orgs/acme", json!({"default_visibility": "open"}))
        .await
        .err(400, "BAD_REQUEST");
    patch(&bob, &srv, "/api/v1/orgs/acme", json!({}))
        .await
        .err(400, "BAD_REQUEST");
    let r = patch(&bob, &srv, "/api/v1/orgs/acme", json!({"default_visibility": "public"})).await;
    assert_eq!(r.ok(200)["default_visibility"], "public");
    assert_eq!(
        get(&bob, &srv, "/api/v1/orgs/acme").await.body["default_visibility"],
        "public"
    );
    // New repositories take the default; so anonymous callers can pull them.
    let r = post(&bob, &srv, "/api/v1/repositories", json!({"name": "acme/site"})).await;
    assert_eq!(r.ok(201)["visibility"], "public");
    get(&srv.anon, &srv, "/api/v1/repositories/acme/site").await.ok(200);

    // Deleting: owners, and not while repositories remain.
    delete(&carol, &srv, "/api/v1/orgs/acme").await.err(403, "FORBIDDEN");
    delete(&alice, &srv, "/api/v1/orgs/acme").await.err(404, "NOT_FOUND");
    delete(&bob, &srv, "/api/v1/orgs/acme").await.err(409, "CONFLICT");
    delete(&bob, &srv, "/api/v1/repositories/acme/site").await.ok(204);
    delete(&bob, &srv, "/api/v1/orgs/acme").await.ok(204);
    get(&bob, &srv, "/api/v1/orgs/acme").await.err(404, "NOT_FOUND");
    delete(&bob, &srv, "/api/v1/orgs/acme").await.err(404, "NOT_FOUND");
    // The name is free again.
    post(&carol, &srv, "/api/v1/orgs", json!({"name": "acme"}))
        .await
        .ok(201);

    let actions = audit_actions(&srv).await;
    for (action, target) in [
        ("org.create", "acme"),
        ("org.update", "acme"),
        ("org.delete", "acme"),
        ("member.add", "acme/bob"),
        ("member.role", "acme/bob"),
        ("member.role", "acme/alice"),
        ("member.remove", "acme/carol"),
        ("member.remove", "acme/alice"),
    ] {
        assert!(
            actions.iter().any(|(a, t, _)| a == action && t == target),
            "{action} {target} missing from {actions:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Teams and permissions
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn teams_members_and_permissions() {
    let srv = TestServer::start().await;
    let owner = user(&srv, "owner").await;
    let dev = user(&srv, "dev").await;
    user(&srv, "outsider").await;
    post(&owner, &srv, "/api/v1/orgs", json!({"name": "acme"}))
        .await
        .ok(201);
    put(&owner, &srv, "/api/v1/orgs/acme/members/dev", json!({"role": "member"}))
        .await
        .ok(201);
    post(
        &owner,
        &srv,
        "/api/v1/repositories",
        json!({"name": "acme/app", "visibility": "private"}),
    )
    .await
    .ok(201);
    post(&owner, &srv, "/api/v1/repositories", json!({"name": "acme/other"}))
        .await
        .ok(201);

    // Creating: owners; names are unique in the organization.
    let r = post(
        &owner,
        &srv,
        "/api/v1/orgs/acme/teams",
        json!({"name": "devs", "description": "The developers"}),
    )
    .await;
    assert_eq!(r.ok(201), &json!({"name": "devs", "description": "The developers"}));
    post(&owner, &srv, "/api/v1/orgs/acme/teams", json!({"name": "devs"}))
        .await
        .err(409, "CONFLICT");
    post(&dev, &srv, "/api/v1/orgs/acme/teams", json!({"name": "rogue"}))
        .await
        .err(403, "FORBIDDEN");
    post(&srv.anon, &srv, "/api/v1/orgs/acme/teams", json!({"name": "rogue"}))
        .await
        .err(401, "UNAUTHORIZED");
    for bad in [
        json!({"name": "Devs"}),
        json!({"description": "x"}),
        json!({"name": "ops", "members": []}),
    ] {
        post(&owner, &srv, "/api/v1/orgs/acme/teams", bad)
            .await
            .err(400, "BAD_REQUEST");
    }
    post(&owner, &srv, "/api/v1/orgs/nope/teams", json!({"name": "ops"}))
        .await
        .err(404, "NOT_FOUND");

    // Members of the organization see the teams; others do not.
    assert_eq!(get(&dev, &srv, "/api/v1/orgs/acme/teams").await.items("name"), ["devs"]);
    let outsider = client_with(Some(&basic("outsider", PW)));
    get(&outsider, &srv, "/api/v1/orgs/acme/teams")
        .await
        .err(404, "NOT_FOUND");
    get(&dev, &srv, "/api/v1/orgs/acme/teams/nope")
        .await
        .err(404, "NOT_FOUND");

    // Team members must belong to the organization.
    put(&owner, &srv, "/api/v1/orgs/acme/teams/devs/members/outsider", json!({}))
        .await
        .err(400, "BAD_REQUEST");
    put(&owner, &srv, "/api/v1/orgs/acme/teams/devs/members/ghost", json!({}))
        .await
        .err(404, "NOT_FOUND");
    put(&owner, &srv, "/api/v1/orgs/acme/teams/nope/members/dev", json!({}))
        .await
        .err(404, "NOT_FOUND");
    put(&dev, &srv, "/api/v1/orgs/acme/teams/devs/members/dev", json!({}))
        .await
        .err(403, "FORBIDDEN");
    send(
        &owner,
        &srv,
        Method::PUT,
        "/api/v1/orgs/acme/teams/devs/members/dev",
        None,
    )
    .await
    .ok(204);

    // Without a permission the team member cannot see the private repository.
    get(&dev, &srv, "/api/v1/repositories/acme/app")
        .await
        .err(404, "NOT_FOUND");

    // Permissions: on one repository of the organization, or on all of them.
    let set = |repository: &str, permission: &str| json!({"repository": repository, "permission": permission});
    put(
        &owner,
        &srv,
        "/api/v1/orgs/acme/teams/devs/permissions",
        set("acme/app", "write"),
    )
    .await
    .ok(200);
    for bad in [
        set("other/app", "read"),
        set("acme/App", "read"),
        set("acme/app", "owner"),
        set("acme/app", "repo:read"),
        json!({"repository": "acme/app"}),
        json!({"repository": "acme/app", "permission": "read", "x": 1}),
    ] {
        put(&owner, &srv, "/api/v1/orgs/acme/teams/devs/permissions", bad)
            .await
            .err(400, "BAD_REQUEST");
    }
    put(&dev, &srv, "/api/v1/orgs/acme/teams/devs/permissions", set("", "admin"))
        .await
        .err(403, "FORBIDDEN");
    let r = get(&dev, &srv, "/api/v1/repositories/acme/app").await;
    assert_eq!(r.ok(200)["access"], "write");
    get(&dev, &srv, "/api/v1/repositories/acme/other")
        .await
        .err(404, "NOT_FOUND");
    patch(&dev, &srv, "/api/v1/repositories/acme/app", json!({"description": "x"}))
        .await
        .err(403, "FORBIDDEN");
    put(
        &owner,
        &srv,
        "/api/v1/orgs/acme/teams/devs/permissions",
        set("", "read"),
    )
    .await
    .ok(200);
    assert_eq!(
        get(&dev, &srv, "/api/v1/repositories/acme/other").await.ok(200)["access"],
        "read"
    );
    let perms = get(&dev, &srv, "/api/v1/orgs/acme/teams/devs/permissions").await;
    assert_eq!(
        perms.ok(200)["items"],
        json!([{"repository": "", "permission": "read"}, {"repository": "acme/app", "permission": "write"}])
    );
    let team = get(&dev, &srv, "/api/v1/orgs/acme/teams/devs").await;
    assert_eq!(team.ok(200)["members"], json!(["dev"]));
    assert_eq!(team.body["description"], "The developers");
    assert_eq!(team.body["permissions"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        get(&dev, &srv, "/api/v1/repositories?namespace=acme")
            .await
            .items("name"),
        ["acme/app", "acme/other"]
    );
    // The team's write access is push access on /v2.
    push(&dev, &srv, "acme/app").await;

    // Removing permissions.
    delete(&owner, &srv, "/api/v1/orgs/acme/teams/devs/permissions")
        .await
        .err(400, "BAD_REQUEST");
    delete(&dev, &srv, "/api/v1/orgs/acme/teams/devs/permissions?repository=")
        .await
        .err(403, "FORBIDDEN");
    delete(&owner, &srv, "/api/v1/orgs/acme/teams/devs/permissions?repository=")
        .await
        .ok(204);
    delete(&owner, &srv, "/api/v1/orgs/acme/teams/devs/permissions?repository=")
        .await
        .err(404, "NOT_FOUND");
    delete(
        &owner,
        &srv,
        "/api/v1/orgs/acme/teams/devs/permissions?repository=elsewhere/x",
    )
    .await
    .err(400, "BAD_REQUEST");
    get(&dev, &srv, "/api/v1/repositories/acme/other")
        .await
        .err(404, "NOT_FOUND");
    delete(
        &owner,
        &srv,
        "/api/v1/orgs/acme/teams/devs/permissions?repository=acme%2Fapp",
    )
    .await
    .ok(204);
    get(&dev, &srv, "/api/v1/repositories/acme/app")
        .await
        .err(404, "NOT_FOUND");
    assert_eq!(
        get(&dev, &srv, "/api/v1/orgs/acme/teams/devs/permissions")
            .await
            .items("repository"),
        Vec::<String>::new()
    );

    // Removing members and teams.
    delete(&dev, &srv, "/api/v1/orgs/acme/teams/devs/members/dev")
        .await
        .err(403, "FORBIDDEN");
    delete(&owner, &srv, "/api/v1/orgs/acme/teams/devs/members/dev")
        .await
        .ok(204);
    delete(&owner, &srv, "/api/v1/orgs/acme/teams/devs/members/dev")
        .await
        .err(404, "NOT_FOUND");
    delete(&owner, &srv, "/api/v1/orgs/acme/teams/devs/members/ghost")
        .await
        .err(404, "NOT_FOUND");
    assert_eq!(
        get(&owner, &srv, "/api/v1/orgs/acme/teams/devs").await.ok(200)["members"],
        json!([])
    );
    delete(&dev, &srv, "/api/v1/orgs/acme/teams/devs")
        .await
        .err(403, "FORBIDDEN");
    delete(&owner, &srv, "/api/v1/orgs/acme/teams/devs").await.ok(204);
    get(&owner, &srv, "/api/v1/orgs/acme/teams/devs")
        .await
        .err(404, "NOT_FOUND");
    delete(&owner, &srv, "/api/v1/orgs/acme/teams/devs")
        .await
        .err(404, "NOT_FOUND");

    // Leaving the organization leaves its teams.
    post(&owner, &srv, "/api/v1/orgs/acme/teams", json!({"name": "ops"}))
        .await
        .ok(201);
    put(&owner, &srv, "/api/v1/orgs/acme/teams/ops/members/dev", json!({}))
        .await
        .ok(204);
    delete(&owner, &srv, "/api/v1/orgs/acme/members/dev").await.ok(204);
    assert_eq!(
        get(&owner, &srv, "/api/v1/orgs/acme/teams/ops").await.ok(200)["members"],
        json!([])
    );

    let actions = audit_actions(&srv).await;
    for (action, target, detail) in [
        ("team.create", "acme/devs", ""),
        ("team.member.add", "acme/devs", "dev"),
        ("team.permission.set", "acme/devs", "acme/app=write"),
        ("team.permission.set", "acme/devs", "=read"),
        ("team.permission.remove", "acme/devs", ""),
        ("team.permission.remove", "acme/devs", "acme/app"),
        ("team.member.remove", "acme/devs", "dev"),
        ("team.delete", "acme/devs", ""),
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, t, d)| a == action && t == target && d == detail),
            "{action} {target} {detail} missing from {actions:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Repositories
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn repositories_settings_and_the_non_leak_rule() {
    let srv = TestServer::start().await;
    let alice = user(&srv, "alice").await;
    let bob = user(&srv, "bob").await;

    // Creating: needs push access to the name.
    let r = post(
        &alice,
        &srv,
        "/api/v1/repositories",
        json!({"name": "alice/app", "visibility": "private", "description": "The app"}),
    )
    .await;
    let created = r.ok(201).clone();
    assert_eq!(created["name"], "alice/app");
    assert_eq!(created["namespace"], "alice");
    assert_eq!(created["visibility"], "private");
    assert_eq!(created["description"], "The app");
    post(&alice, &srv, "/api/v1/repositories", json!({"name": "alice/app"}))
        .await
        .err(409, "CONFLICT");
    post(&bob, &srv, "/api/v1/repositories", json!({"name": "alice/intruder"}))
        .await
        .err(403, "FORBIDDEN");
    post(&srv.anon, &srv, "/api/v1/repositories", json!({"name": "alice/x"}))
        .await
        .err(401, "UNAUTHORIZED");
    for bad in [
        json!({"name": "alice/App"}),
        json!({"name": "alice//x"}),
        json!({"name": ""}),
        json!({"name": "alice/x", "visibility": "hidden"}),
        json!({"name": "alice/x", "tags": []}),
        json!({"visibility": "public"}),
    ] {
        post(&alice, &srv, "/api/v1/repositories", bad)
            .await
            .err(400, "BAD_REQUEST");
    }
    // Names of several components.
    let r = post(
        &alice,
        &srv,
        "/api/v1/repositories",
        json!({"name": "alice/tools/build-kit"}),
    )
    .await;
    assert_eq!(r.ok(201)["visibility"], "private");
    let r = get(&alice, &srv, "/api/v1/repositories/alice/tools/build-kit").await;
    assert_eq!(r.ok(200)["name"], "alice/tools/build-kit");
    assert_eq!(r.body["access"], "admin");

    // A private repository is as missing as a missing one to those who may not read it.
    let hidden = get(&bob, &srv, "/api/v1/repositories/alice/app").await;
    hidden.err(404, "NOT_FOUND");
    let missing = get(&bob, &srv, "/api/v1/repositories/alice/nope").await;
    missing.err(404, "NOT_FOUND");
    assert_eq!(
        hidden.body["error"]["message"]
            .as_str()
            .map(|m| m.replace("alice/app", "NAME")),
        missing.body["error"]["message"]
            .as_str()
            .map(|m| m.replace("alice/nope", "NAME"))
    );
    get(&srv.anon, &srv, "/api/v1/repositories/alice/app")
        .await
        .err(404, "NOT_FOUND");
    patch(
        &bob,
        &srv,
        "/api/v1/repositories/alice/app",
        json!({"visibility": "public"}),
    )
    .await
    .err(404, "NOT_FOUND");
    delete(&bob, &srv, "/api/v1/repositories/alice/app")
        .await
        .err(404, "NOT_FOUND");
    get(&alice, &srv, "/api/v1/repositories/alice/nope")
        .await
        .err(404, "NOT_FOUND");
    get(&alice, &srv, "/api/v1/repositories/Alice/app")
        .await
        .err(400, "BAD_REQUEST");
    let r = get(&alice, &srv, "/api/v1/repositories/alice/app").await;
    assert_eq!(r.ok(200)["access"], "admin");
    // Administrators see everything.
    assert_eq!(
        get(&srv.client, &srv, "/api/v1/repositories/alice/app").await.ok(200)["access"],
        "admin"
    );

    // Changing settings: repository admins.
    patch(
        &srv.anon,
        &srv,
        "/api/v1/repositories/alice/app",
        json!({"visibility": "public"}),
    )
    .await
    .err(401, "UNAUTHORIZED");
    patch(
        &alice,
        &srv,
        "/api/v1/repositories/alice/app",
        json!({"visibility": "shown"}),
    )
    .await
    .err(400, "BAD_REQUEST");
    patch(&alice, &srv, "/api/v1/repositories/alice/app", json!({}))
        .await
        .err(400, "BAD_REQUEST");
    patch(
        &alice,
        &srv,
        "/api/v1/repositories/alice/app",
        json!({"name": "alice/b"}),
    )
    .await
    .err(400, "BAD_REQUEST");
    let r = patch(
        &alice,
        &srv,
        "/api/v1/repositories/alice/app",
        json!({"visibility": "public"}),
    )
    .await;
    assert_eq!(r.ok(200)["visibility"], "public");
    assert_eq!(r.body["description"], "The app");
    let r = get(&bob, &srv, "/api/v1/repositories/alice/app").await;
    assert_eq!(r.ok(200)["visibility"], "public");
    assert_eq!(r.body["access"], "read");
    assert_eq!(
        get(&srv.anon, &srv, "/api/v1/repositories/alice/app").await.ok(200)["access"],
        "read"
    );
    patch(
        &bob,
        &srv,
        "/api/v1/repositories/alice/app",
        json!({"description": "mine now"}),
    )
    .await
    .err(403, "FORBIDDEN");
    delete(&bob, &srv, "/api/v1/repositories/alice/app")
        .await
        .err(403, "FORBIDDEN");
    let r = patch(
        &alice,
        &srv,
        "/api/v1/repositories/alice/app",
        json!({"description": "Updated"}),
    )
    .await;
    assert_eq!(r.ok(200)["description"], "Updated");
    assert_eq!(
        get(&alice, &srv, "/api/v1/repositories/alice/app").await.body["description"],
        "Updated"
    );
    // Visibility applies to /v2 as well.
    push(&alice, &srv, "alice/app").await;
    let r = srv
        .anon
        .get(srv.url("/token?service=rreg&scope=repository:alice/app:pull"))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status().as_u16(), 200);

    // Listing: what the caller may read, in pages, by namespace and substring.
    post(&bob, &srv, "/api/v1/repositories", json!({"name": "bob/secret"}))
        .await
        .ok(201);
    post(
        &bob,
        &srv,
        "/api/v1/repositories",
        json!({"name": "bob/public-app", "visibility": "public"}),
    )
    .await
    .ok(201);
    let anon = get(&srv.anon, &srv, "/api/v1/repositories").await;
    assert_eq!(anon.items("name"), ["alice/app", "bob/public-app"]);
    assert_eq!(
        get(&bob, &srv, "/api/v1/repositories").await.items("name"),
        ["alice/app", "bob/public-app", "bob/secret"]
    );
    assert_eq!(
        get(&alice, &srv, "/api/v1/repositories").await.items("name"),
        ["alice/app", "alice/tools/build-kit", "bob/public-app"]
    );
    assert_eq!(
        get(&srv.client, &srv, "/api/v1/repositories").await.items("name"),
        ["alice/app", "alice/tools/build-kit", "bob/public-app", "bob/secret"]
    );
    assert_eq!(
        get(&bob, &srv, "/api/v1/repositories?namespace=bob")
            .await
            .items("name"),
        ["bob/public-app", "bob/secret"]
    );
    assert_eq!(
        get(&bob, &srv, "/api/v1/repositories?q=app").await.items("name"),
        ["alice/app", "bob/public-app"]
    );
    assert_eq!(
        get(&bob, &srv, "/api/v1/repositories?q=%25").await.items("name"),
        Vec::<String>::new(),
        "LIKE wildcards in q are literal"
    );
    let p1 = get(&srv.client, &srv, "/api/v1/repositories?q=a&n=2").await;
    assert_eq!(p1.items("name"), ["alice/app", "alice/tools/build-kit"]);
    let next = p1.next().expect("Link");
    assert_eq!(next, "/api/v1/repositories?q=a&n=2&last=alice%2Ftools%2Fbuild-kit");
    let p2 = get(&srv.client, &srv, &next).await;
    assert_eq!(p2.items("name"), ["bob/public-app"]);
    assert!(p2.next().is_none());
    let one = get(&bob, &srv, "/api/v1/repositories?n=1").await;
    assert_eq!(one.items("visibility"), ["public"]);
    get(&bob, &srv, "/api/v1/repositories?n=x")
        .await
        .err(400, "BAD_REQUEST");

    // Deleting: repository admins; the repository is gone from /v2 too.
    delete(&srv.anon, &srv, "/api/v1/repositories/alice/app")
        .await
        .err(401, "UNAUTHORIZED");
    delete(&alice, &srv, "/api/v1/repositories/alice/app").await.ok(204);
    get(&alice, &srv, "/api/v1/repositories/alice/app")
        .await
        .err(404, "NOT_FOUND");
    delete(&alice, &srv, "/api/v1/repositories/alice/app")
        .await
        .err(404, "NOT_FOUND");
    let r = alice
        .get(srv.url("/v2/alice/app/manifests/v1"))
        .send()
        .await
        .expect("pull");
    assert_eq!(r.status().as_u16(), 404);

    let actions = audit_actions(&srv).await;
    for (action, target, detail) in [
        ("repo.create", "alice/app", "private"),
        ("repo.visibility", "alice/app", "public"),
        ("repo.update", "alice/app", "description"),
        ("repo.delete", "alice/app", ""),
    ] {
        assert!(
            actions
                .iter()
                .any(|(a, t, d)| a == action && t == target && d == detail),
            "{action} {target} {detail} missing from {actions:?}"
        );
    }
}

// ------------------------------------------------------------------------------------------------
// Personal access tokens
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn personal_access_tokens_on_v2_and_token_then_revoked() {
    let srv = TestServer::start().await;
    let alice = user(&srv, "alice").await;
    let bob = user(&srv, "bob").await;
    get(&srv.anon, &srv, "/api/v1/tokens").await.err(401, "UNAUTHORIZED");

    let r = post(
        &alice,
        &srv,
        "/api/v1/tokens",
        json!({"name": "laptop", "scope": "repo:write"}),
    )
    .await;
    let t = r.ok(201).clone();
    let secret = t["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("rreg_pat_"), "{secret}");
    assert_eq!(t["name"], "laptop");
    assert_eq!(t["scope"], "repo:write");
    assert_eq!(t["revoked"], false);
    assert_eq!(t["last_used_at"], Value::Null);
    let id = t["id"].as_i64().expect("id");
    for bad in [
        json!({"name": "x", "scope": "repo:owner"}),
        json!({"name": "x", "scope": "write"}),
        json!({"name": "", "scope": "repo:read"}),
        json!({"name": "x".repeat(101), "scope": "repo:read"}),
        json!({"name": "x"}),
        json!({"name": "x", "scope": "repo:read", "expires": 3}),
    ] {
        post(&alice, &srv, "/api/v1/tokens", bad).await.err(400, "BAD_REQUEST");
    }

    // The secret is a password for Basic credentials: on /v2 …
    let pat = client_with(Some(&basic("alice", &secret)));
    let r = pat.get(srv.url("/v2/")).send().await.expect("v2");
    assert_eq!(r.status().as_u16(), 200);
    push(&pat, &srv, "alice/app").await;
    // … on /token, where it grants no more than its scope …
    let r = pat
        .get(srv.url("/token?service=rreg&scope=repository:alice/app:pull,push,delete"))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status().as_u16(), 200);
    let body: Value = r.json().await.expect("json");
    let token = body["token"].as_str().expect("token");
    let claims: Value = {
        use base64::Engine as _;
        let part = token.split('.').nth(1).expect("claims");
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .expect("base64"),
        )
        .expect("claims json")
    };
    assert_eq!(claims["access"][0]["actions"], json!(["pull", "push"]));
    // … and on the API, but only for what its scope allows.
    get(&pat, &srv, "/api/v1/user").await.ok(200);
    post(&pat, &srv, "/api/v1/orgs", json!({"name": "patco"}))
        .await
        .err(403, "FORBIDDEN");
    patch(
        &pat,
        &srv,
        "/api/v1/users/alice",
        json!({"password": "stolen-password"}),
    )
    .await
    .err(403, "FORBIDDEN");
    // Only an admin-scoped token may make tokens (and never stronger ones).
    post(
        &pat,
        &srv,
        "/api/v1/tokens",
        json!({"name": "x", "scope": "repo:admin"}),
    )
    .await
    .err(403, "FORBIDDEN");

    // The owner lists them (never the secret), with the last use.
    let list = get(&alice, &srv, "/api/v1/tokens").await;
    let items = list.ok(200)["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id);
    assert!(items[0].get("secret").is_none());
    assert!(items[0]["last_used_at"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_eq!(get(&bob, &srv, "/api/v1/tokens").await.ok(200)["items"], json!([]));

    // Revoking: only one's own.
    delete(&bob, &srv, &format!("/api/v1/tokens/{id}"))
        .await
        .err(404, "NOT_FOUND");
    delete(&alice, &srv, "/api/v1/tokens/abc").await.err(400, "BAD_REQUEST");
    delete(&alice, &srv, "/api/v1/tokens/999999")
        .await
        .err(404, "NOT_FOUND");
    delete(&srv.anon, &srv, &format!("/api/v1/tokens/{id}"))
        .await
        .err(401, "UNAUTHORIZED");
    delete(&alice, &srv, &format!("/api/v1/tokens/{id}")).await.ok(204);
    delete(&alice, &srv, &format!("/api/v1/tokens/{id}"))
        .await
        .err(404, "NOT_FOUND");
    // Refused everywhere from now on.
    let r = pat.get(srv.url("/v2/")).send().await.expect("v2");
    assert_eq!(r.status().as_u16(), 401);
    let r = pat
        .get(srv.url("/token?service=rreg&scope=repository:alice/app:pull"))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status().as_u16(), 401);
    get(&pat, &srv, "/api/v1/user").await.err(401, "UNAUTHORIZED");
    let list = get(&alice, &srv, "/api/v1/tokens").await;
    assert_eq!(list.ok(200)["items"][0]["revoked"], true);

    let actions = audit_actions(&srv).await;
    assert!(actions.iter().any(|(a, t, _)| a == "token.create" && t == "alice"));
    assert!(actions
        .iter()
        .any(|(a, t, d)| a == "token.revoke" && t == "alice" && *d == id.to_string()));
}

// ------------------------------------------------------------------------------------------------
// Audit log
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn audit_log_is_for_administrators_in_pages() {
    let srv = TestServer::start().await;
    let bob = user(&srv, "bob").await;
    for name in ["o1", "o2", "o3"] {
        post(&bob, &srv, "/api/v1/orgs", json!({"name": name})).await.ok(201);
    }
    get(&srv.anon, &srv, "/api/v1/audit").await.err(401, "UNAUTHORIZED");
    get(&bob, &srv, "/api/v1/audit").await.err(403, "FORBIDDEN");
    get(&srv.client, &srv, "/api/v1/audit?before=x")
        .await
        .err(400, "BAD_REQUEST");

    let p1 = get(&srv.client, &srv, "/api/v1/audit?n=2").await;
    let items = p1.ok(200)["items"].as_array().expect("items").clone();
    assert_eq!(items.len(), 2);
    assert_eq!(items[0]["action"], "org.create");
    assert_eq!(items[0]["target"], "o3");
    assert_eq!(items[0]["actor"], "bob");
    assert_eq!(items[0]["address"], "127.0.0.1");
    assert_eq!(items[1]["target"], "o2");
    let at = items[0]["at"].as_str().expect("at");
    assert!(at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T', "{at}");
    let id1 = items[1]["id"].as_i64().expect("id");
    assert!(items[0]["id"].as_i64().expect("id") > id1);
    let next = p1.next().expect("Link");
    assert_eq!(next, format!("/api/v1/audit?n=2&before={id1}"));
    let p2 = get(&srv.client, &srv, &next).await;
    assert_eq!(p2.items("target"), ["o1", "bob"]);
    assert_eq!(p2.items("action"), ["org.create", "user.create"]);
    assert!(p2.next().is_none(), "nothing before the first entry");
    let id_bob = p2.body["items"][1]["id"].as_i64().expect("id");
    let empty = get(&srv.client, &srv, &format!("/api/v1/audit?before={id_bob}")).await;
    assert_eq!(empty.ok(200)["items"], json!([]));
}

// ------------------------------------------------------------------------------------------------
// The error envelope
// ------------------------------------------------------------------------------------------------

#[tokio::test]
async fn errors_are_json_and_never_500() {
    let srv = TestServer::start().await;
    get(&srv.client, &srv, "/api/v1/nope").await.err(404, "NOT_FOUND");
    get(&srv.client, &srv, "/api/v1").await.err(404, "NOT_FOUND");
    get(&srv.client, &srv, "/api/v1/orgs/a/b/c/d")
        .await
        .err(404, "NOT_FOUND");
    send(&srv.client, &srv, Method::DELETE, "/api/v1/user", None)
        .await
        .err(405, "METHOD_NOT_ALLOWED");
    send(&srv.client, &srv, Method::PUT, "/api/v1/tokens", None)
        .await
        .err(405, "METHOD_NOT_ALLOWED");
    for raw in [
        "",
        "{",
        "null",
        "[]",
        "[\"ok-name\"]",
        "\"x\"",
        "{\"name\": 1}",
        "{\"name\": \"ok-name\", \"name\": \"x\"}",
    ] {
        send_raw(&srv.client, &srv, Method::POST, "/api/v1/orgs", raw)
            .await
            .err(400, "BAD_REQUEST");
    }
    // Credentials that are there but wrong are refused, never taken as anonymous.
    for auth in [
        "Basic !!!",
        "Basic YWxpY2U=",
        "Digest x",
        "Bearer",
        &basic("admin", "wrong-password"),
    ] {
        let c = client_with(Some(auth));
        get(&c, &srv, "/api/v1/repositories").await.err(401, "UNAUTHORIZED");
    }
    let r = get(&client_with(Some("Basic !!!")), &srv, "/api/v1/user").await;
    assert!(r.headers.get("www-authenticate").is_some());
    // Odd names and ids are 400 or 404, not 500.
    get(&srv.client, &srv, "/api/v1/repositories/%FF")
        .await
        .err(400, "BAD_REQUEST");
    get(&srv.client, &srv, "/api/v1/orgs/a%20b").await.err(404, "NOT_FOUND");
    // NUL characters anywhere (PostgreSQL refuses them in text) are bad input.
    get(&srv.client, &srv, "/api/v1/orgs/a%00b")
        .await
        .err(400, "BAD_REQUEST");
    patch(&srv.client, &srv, "/api/v1/users/x%00", json!({"password": PW}))
        .await
        .err(400, "BAD_REQUEST");
    get(&srv.client, &srv, "/api/v1/repositories?q=%00")
        .await
        .err(400, "BAD_REQUEST");
    get(&srv.client, &srv, "/api/v1/users?last=a%00")
        .await
        .err(400, "BAD_REQUEST");
    post(&srv.client, &srv, "/api/v1/orgs", json!({"name": "a\u{0}b"}))
        .await
        .err(400, "BAD_REQUEST");
    post(
        &srv.anon,
        &srv,
        "/api/v1/login",
        json!({"username": "ad\u{0}min", "password": "x"}),
    )
    .await
    .err(400, "BAD_REQUEST");
    get(&client_with(Some(&basic("ad\u{0}min", "x"))), &srv, "/api/v1/user")
        .await
        .err(401, "UNAUTHORIZED");
    delete(&srv.client, &srv, "/api/v1/tokens/99999999999999999999")
        .await
        .err(400, "BAD_REQUEST");
    get(
        &srv.client,
        &srv,
        &format!("/api/v1/repositories/{}", "a/".repeat(200) + "a"),
    )
    .await
    .err(400, "BAD_REQUEST");
}
