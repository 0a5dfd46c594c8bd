//! The Docker Hub flow with the `rreg` client, against a registry set up like Docker Hub: the token
//! service on another host name and port than the registry (a second rreg-server on the same
//! database, announced as `auth.realm = http://localhost:PORT/token` while images are named
//! `127.0.0.1:PORT/…`, as `auth.docker.io` serves `registry-1.docker.io`), a public `library/`
//! repository pulled anonymously, then login, push, refresh tokens and token renewal. A recording
//! proxy in front of each host shows which requests, and which credentials, reached which.
//!
//! Anonymous tokens: rreg-server serves a public repository to anonymous callers without any token,
//! while Docker Hub's registry answers every request without a token with a `401` challenge (so
//! anonymous pulls fetch an anonymous token first). The proxy in front of the registry does what
//! Hub does for requests without `Authorization` (see `Recorder::start_requiring_token`); the first
//! test also pulls through a plain proxy to show rreg-server's own behaviour.
//!
//! Names: rreg follows Docker's rule that only docker.io adds `library/` to one-component names. On
//! this registry `HOST/busybox` (and `busybox` with the default registry set to HOST) is the
//! repository `busybox`, not `library/busybox`: the tests pull `library/busybox` by its full name
//! and check that the short name asks the registry for `/v2/busybox/…`.

mod client_util;
mod common;

use std::time::{Duration, Instant};

use base64::Engine as _;
use client_util::{assert_one_line_error, noise, tar, write_image, Recorder, Rreg};
use common::{basic, TestServer, ADMIN_PASSWORD};
use serde_json::{json, Value};

const ALICE_PW: &str = "alice-password-1";

/// A registry and its token service on another host, each behind a recording proxy.
struct Hub {
    /// The token service: issues tokens, serves no image (kept running).
    _token: TestServer,
    /// The registry, on the token service's database (so on its signing key too).
    registry: TestServer,
    /// `127.0.0.1:PORT` in front of the token service, reached as `localhost:PORT` (the realm).
    token_proxy: Recorder,
    /// `127.0.0.1:PORT` in front of the registry, challenging requests without a token as Docker
    /// Hub does: the host in image references.
    reg_proxy: Recorder,
    /// `http://localhost:PORT/token`
    realm: String,
}

impl Hub {
    /// Registry tokens live `token_ttl_secs`; with `rate`, the registry's proxy forwards at most
    /// that many bytes per second per connection.
    async fn start(token_ttl_secs: u32, rate: Option<u64>) -> Hub {
        let ttl = token_ttl_secs.to_string();
        let token =
            TestServer::start_with_env(&[("RREG__GC__INTERVAL_SECS", "0"), ("RREG__AUTH__TOKEN_TTL_SECS", &ttl)]).await;
        let token_proxy = Recorder::start(&token.addr, None).await;
        let (_, port) = token_proxy.addr.rsplit_once(':').expect("port");
        let realm = format!("http://localhost:{port}/token");
        let registry = token.start_sibling(&[("RREG__AUTH__REALM", &realm)]).await;
        let reg_proxy = Recorder::start_full(&registry.addr, rate, Some(realm.clone())).await;
        Hub {
            _token: token,
            registry,
            token_proxy,
            reg_proxy,
            realm,
        }
    }

    /// The registry host as images name it.
    fn host(&self) -> String {
        self.reg_proxy.addr.clone()
    }

    fn reset(&self) {
        self.token_proxy.reset();
        self.reg_proxy.reset();
    }

    /// `POST`/`PATCH` on the registry's `/api/v1` as the admin; the status and the JSON answer.
    async fn api(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .registry
            .client
            .request(method, self.registry.url(path))
            .json(&body)
            .send()
            .await
            .expect("api request");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    async fn create_alice(&self) {
        let (status, body) = self
            .api(
                reqwest::Method::POST,
                "/api/v1/users",
                json!({"name": "alice", "password": ALICE_PW}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    /// The token requests the token service saw: method and query (GET) or form (POST) pairs.
    fn token_requests(&self) -> Vec<(String, Vec<(String, String)>)> {
        self.token_proxy
            .requests()
            .into_iter()
            .map(|r| {
                let (path, query) = r.path.split_once('?').unwrap_or((&r.path, ""));
                assert_eq!(path, "/token", "the token host was asked {} {}", r.method, r.path);
                let pairs = if r.method == "POST" {
                    form(&String::from_utf8_lossy(&r.body))
                } else {
                    form(query)
                };
                (r.method, pairs)
            })
            .collect()
    }

    /// Asserts the registry host was asked for `/v2/` only, with Bearer tokens only (never Basic
    /// credentials); returns the tokens' claims.
    fn registry_saw_bearer_tokens_only(&self) -> Vec<Value> {
        for r in self.reg_proxy.requests() {
            assert!(
                r.path.starts_with("/v2/"),
                "the registry host was asked {} {}",
                r.method,
                r.path
            );
        }
        self.reg_proxy
            .header_values("authorization")
            .iter()
            .map(|v| {
                let t = v
                    .strip_prefix("Bearer ")
                    .unwrap_or_else(|| panic!("the registry host got `Authorization: {v}`"));
                claims(t)
            })
            .collect()
    }
}

/// The pairs of a query string or form body.
fn form(s: &str) -> Vec<(String, String)> {
    reqwest::Url::parse(&format!("http://x/?{s}"))
        .expect("url")
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The paths the clients of `proxy` asked for.
fn paths(proxy: &Recorder) -> Vec<String> {
    proxy.requests().into_iter().map(|r| r.path).collect()
}

fn get<'a>(pairs: &'a [(String, String)], key: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .collect()
}

/// The claims of a registry token (a JWT), unverified.
fn claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64");
    serde_json::from_slice(&bytes).expect("claims")
}

/// A two-layer image about 1 MiB big under `name` in `r`'s store.
fn sample_image(r: &Rreg, name: &str, seed: u64) -> client_util::WrittenImage {
    let l1 = tar(&[("bin/busybox", &noise(1 << 20, seed))], &[("bin/sh", "busybox")]);
    let l2 = tar(&[("etc/motd", format!("image {seed}\n").as_bytes())], &[]);
    write_image(r.home.path(), name, &[l1, l2])
}

#[tokio::test]
async fn anonymous_pull_of_a_library_image_gets_its_token_from_the_other_host() {
    let hub = Hub::start(300, None).await;
    let host = hub.host();

    // The registry's own challenge sends clients to the token service: another host name and port.
    let r = hub
        .registry
        .anon
        .get(hub.registry.url("/v2/"))
        .send()
        .await
        .expect("GET /v2/");
    assert_eq!(r.status(), 401);
    let challenge = r.headers()["www-authenticate"].to_str().expect("header").to_owned();
    assert!(
        challenge.starts_with(&format!("Bearer realm=\"{}\",service=\"rreg\"", hub.realm)),
        "{challenge}"
    );
    let realm_host = hub.realm.trim_start_matches("http://").trim_end_matches("/token");
    let (realm_name, realm_port) = realm_host.split_once(':').expect("port");
    let (reg_name, reg_port) = host.split_once(':').expect("port");
    assert_ne!(realm_name, reg_name);
    assert_ne!(realm_port, reg_port);

    // The admin publishes library/busybox (tags 1.36 and latest) and makes it public.
    let admin = Rreg::new();
    admin.login(&host, "admin", ADMIN_PASSWORD).await;
    let (status, body) = hub
        .api(reqwest::Method::POST, "/api/v1/orgs", json!({"name": "library"}))
        .await;
    assert_eq!(status, 201, "{body}");
    let v136 = format!("{host}/library/busybox:1.36");
    let latest = format!("{host}/library/busybox:latest");
    let img = sample_image(&admin, &v136, 1);
    admin.ok(&["push", &v136]).await;
    admin.ok(&["tag", &v136, &latest]).await;
    admin.ok(&["push", &latest]).await;
    let (status, body) = hub
        .api(
            reqwest::Method::PATCH,
            "/api/v1/repositories/library/busybox",
            json!({"visibility": "public"}),
        )
        .await;
    assert_eq!((status, &body["visibility"]), (200, &json!("public")), "{body}");
    // The admin's password went to the token host only.
    let admin_basic = basic("admin", ADMIN_PASSWORD);
    let creds = hub.token_proxy.header_values("authorization");
    assert!(
        !creds.is_empty() && creds.iter().all(|v| *v == admin_basic),
        "{creds:?}"
    );
    assert!(hub
        .registry_saw_bearer_tokens_only()
        .iter()
        .all(|c| c["sub"] == "admin"));

    // Anonymous pull with a fresh data folder and Docker config: one anonymous token request to
    // the token host, for pull on library/busybox; the registry host gets only that token.
    hub.reset();
    let anon = Rreg::new();
    let pull = anon.ok(&["pull", &format!("{host}/library/busybox")]).await;
    assert!(
        pull.stdout.contains(&format!("Digest: {}", img.manifest_digest)),
        "{pull}"
    );
    assert!(pull.stdout.trim_end().ends_with(&latest), "{pull}");
    let tokens = hub.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let (method, q) = &tokens[0];
    assert_eq!(method, "GET");
    assert_eq!(get(q, "scope"), ["repository:library/busybox:pull"], "{q:?}");
    assert_eq!(get(q, "service"), ["rreg"], "{q:?}");
    assert!(get(q, "account").is_empty(), "{q:?}");
    assert!(hub.token_proxy.header_values("authorization").is_empty());
    let used = hub.registry_saw_bearer_tokens_only();
    assert!(!used.is_empty());
    for c in &used {
        assert_eq!(c["sub"], "", "{c}");
        assert_eq!(
            c["access"],
            json!([{"type": "repository", "name": "library/busybox", "actions": ["pull"]}]),
            "{c}"
        );
    }
    let reqs = paths(&hub.reg_proxy);
    assert!(reqs.iter().all(|p| p.starts_with("/v2/library/busybox/")), "{reqs:?}");
    let inspect = anon.ok(&["inspect", &latest]).await;
    assert!(inspect.stdout.contains(&img.manifest_digest), "{inspect}");

    // rreg-server itself needs no token for a public repository: through a plain proxy the same
    // anonymous pull asks the token host nothing and sends no credentials.
    let direct = Recorder::start(&hub.registry.addr, None).await;
    hub.reset();
    let plain = Rreg::new();
    let pull = plain
        .ok(&["pull", &format!("{}/library/busybox:1.36", direct.addr)])
        .await;
    assert!(pull.stdout.contains(&img.manifest_digest), "{pull}");
    assert!(hub.token_requests().is_empty());
    assert!(direct.header_values("authorization").is_empty());
    assert!(paths(&direct).iter().all(|p| p.starts_with("/v2/library/busybox/")));

    // Off docker.io no `library/` is added: HOST/busybox is the repository `busybox`, which does
    // not exist, and the anonymous client is told so in one line (as `docker pull` is).
    hub.reset();
    let o = anon.run(&["pull", &format!("{host}/busybox")]).await;
    assert_one_line_error(&o);
    let reqs = paths(&hub.reg_proxy);
    assert!(reqs.iter().any(|p| p == "/v2/busybox/manifests/latest"), "{reqs:?}");
    assert!(reqs.iter().all(|p| !p.contains("library")), "{reqs:?}");
    let tokens = hub.token_requests();
    assert!(
        tokens
            .iter()
            .all(|(_, q)| get(q, "scope") == ["repository:busybox:pull"]),
        "{tokens:?}"
    );

    // With HOST as the default registry, `library/busybox:1.36` needs no host; `busybox` is again
    // the repository `busybox` on HOST (and never docker.io).
    let mut dflt = Rreg::new();
    dflt.extra_env.push(("RREG_DEFAULT_REGISTRY".into(), host.clone()));
    let pull = dflt.ok(&["pull", "library/busybox:1.36"]).await;
    assert!(pull.stdout.trim_end().ends_with(&v136), "{pull}");
    let images = dflt.ok(&["images"]).await;
    assert!(images.stdout.contains(&format!("{host}/library/busybox")), "{images}");
    hub.reset();
    let o = dflt.run(&["pull", "busybox"]).await;
    assert_one_line_error(&o);
    let reqs = paths(&hub.reg_proxy);
    assert!(reqs.iter().any(|p| p == "/v2/busybox/manifests/latest"), "{reqs:?}");
}

#[tokio::test]
async fn login_push_and_refresh_tokens_go_to_the_token_host() {
    let hub = Hub::start(300, None).await;
    let host = hub.host();
    hub.create_alice().await;
    let alice_basic = basic("alice", ALICE_PW);

    // Login: GET /v2/ on the registry, a token for no scope from the token host with the password.
    let alice = Rreg::new();
    alice.login(&host, "alice", ALICE_PW).await;
    let tokens = hub.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    assert_eq!(get(&tokens[0].1, "account"), ["alice"]);
    assert!(get(&tokens[0].1, "scope").is_empty());
    assert_eq!(
        hub.token_proxy.header_values("authorization"),
        std::slice::from_ref(&alice_basic)
    );
    let reqs = hub.reg_proxy.requests();
    assert!(reqs.iter().all(|r| r.method == "GET" && r.path == "/v2/"), "{reqs:?}");
    let used = hub.registry_saw_bearer_tokens_only();
    assert!(used.len() == 1 && used[0]["sub"] == "alice", "{used:?}");
    assert!(!hub.reg_proxy.saw(ALICE_PW.as_bytes()));

    // `rreg login HOST` made HOST the default registry: `alice/app:1` is HOST/alice/app:1.
    let app1 = format!("{host}/alice/app:1");
    let img = sample_image(&alice, &app1, 2);
    hub.reset();
    let push = alice.ok(&["push", "alice/app:1"]).await;
    assert!(push.stdout.contains(&img.manifest_digest), "{push}");
    let tokens = hub.token_requests();
    assert!(!tokens.is_empty());
    for (m, q) in &tokens {
        assert_eq!(m, "GET");
        assert_eq!(get(q, "account"), ["alice"], "{q:?}");
        assert_eq!(get(q, "scope"), ["repository:alice/app:pull,push"], "{q:?}");
    }
    assert!(hub
        .token_proxy
        .header_values("authorization")
        .iter()
        .all(|v| *v == alice_basic));
    let used = hub.registry_saw_bearer_tokens_only();
    assert!(!used.is_empty() && used.iter().all(|c| c["sub"] == "alice"), "{used:?}");
    assert!(hub
        .reg_proxy
        .requests()
        .iter()
        .any(|r| r.method == "PUT" && r.path == "/v2/alice/app/manifests/1"));
    assert!(!hub.reg_proxy.saw(ALICE_PW.as_bytes()));

    // A re-push only checks, blobs in parallel: the first request alone meets the challenge, and
    // one token serves all the checks.
    hub.reset();
    let again = alice.ok(&["push", "alice/app:1"]).await;
    assert!(again.stdout.contains("Layer already exists"), "{again}");
    let reqs = hub.reg_proxy.requests();
    let without_token = reqs.iter().filter(|r| r.headers("authorization").is_empty()).count();
    assert_eq!(without_token, 1, "{:?}", paths(&hub.reg_proxy));
    assert!(reqs.iter().all(|r| r.method == "HEAD"), "{:?}", paths(&hub.reg_proxy));
    assert_eq!(hub.token_requests().len(), 1, "{:?}", hub.token_requests());

    // alice/app is private: an anonymous client is refused in one line; alice may not push to
    // library/ (no such organization, and she is not an administrator).
    let anon = Rreg::new();
    let o = anon.run(&["pull", &app1]).await;
    assert_one_line_error(&o);
    assert!(o.stderr.contains("unauthorized"), "{o}");
    alice.ok(&["tag", "alice/app:1", "library/app:1"]).await;
    let o = alice.run(&["push", "library/app:1"]).await;
    assert_one_line_error(&o);

    // A refresh token, as `docker login` keeps one (OAuth2 password grant, access_type=offline,
    // asked of the token host), stored as the `identitytoken` of HOST with no password.
    let r: Value = reqwest::Client::new()
        .post(&hub.realm)
        .form(&[
            ("grant_type", "password"),
            ("username", "alice"),
            ("password", ALICE_PW),
            ("access_type", "offline"),
            ("service", "rreg"),
            ("client_id", "rreg-test"),
        ])
        .send()
        .await
        .expect("POST /token")
        .json()
        .await
        .expect("json");
    let refresh = r["refresh_token"].as_str().expect("refresh_token").to_owned();
    let d = Rreg::new();
    let config = json!({"auths": {host.as_str(): {
        "auth": base64::engine::general_purpose::STANDARD.encode("alice:"),
        "identitytoken": refresh,
    }}});
    std::fs::write(d.docker_config.join("config.json"), config.to_string()).expect("config.json");
    let app2 = format!("{host}/alice/app:2");
    let img2 = sample_image(&d, &app2, 3);
    hub.reset();
    let push = d.ok(&["push", &app2]).await;
    assert!(push.stdout.contains(&img2.manifest_digest), "{push}");
    let e = Rreg::sharing_config(&d);
    let pull = e.ok(&["pull", &app1]).await;
    assert!(pull.stdout.contains(&img.manifest_digest), "{pull}");
    let tokens = hub.token_requests();
    assert!(tokens.len() >= 2, "{tokens:?}");
    for (m, form) in &tokens {
        assert_eq!(m, "POST", "{tokens:?}");
        assert_eq!(get(form, "grant_type"), ["refresh_token"], "{form:?}");
        assert_eq!(get(form, "refresh_token"), [refresh.as_str()], "{form:?}");
        assert_eq!(get(form, "service"), ["rreg"], "{form:?}");
    }
    assert!(hub.token_proxy.header_values("authorization").is_empty());
    assert!(!hub.token_proxy.saw(ALICE_PW.as_bytes()));
    let used = hub.registry_saw_bearer_tokens_only();
    assert!(!used.is_empty() && used.iter().all(|c| c["sub"] == "alice"), "{used:?}");
}

#[tokio::test]
async fn tokens_are_renewed_from_the_token_host_during_a_long_push() {
    // Tokens live 1 s; rreg keeps a token at most 5 s (it assumes at least 10 s and renews 5 s
    // early); the registry's proxy takes 1 MiB/s, so a 6 MiB layer in 1 MiB chunks takes ≥ 6 s.
    let hub = Hub::start(1, Some(1 << 20)).await;
    let host = hub.host();
    hub.create_alice().await;
    let mut alice = Rreg::new();
    alice
        .extra_env
        .push(("RREG_CHUNK_SIZE".into(), (1u32 << 20).to_string()));
    alice.login(&host, "alice", ALICE_PW).await;
    let name = format!("{host}/alice/slow:1");
    let layer = tar(&[("data", &noise(6 << 20, 4))], &[]);
    let img = write_image(alice.home.path(), &name, &[layer]);
    hub.reset();
    let started = Instant::now();
    let push = alice.ok(&["push", &name]).await;
    assert!(push.stdout.contains(&img.manifest_digest), "{push}");
    assert!(started.elapsed() > Duration::from_secs(6), "{:?}", started.elapsed());

    let tokens = hub.token_requests();
    let renewals = tokens
        .iter()
        .filter(|(_, q)| get(q, "scope") == ["repository:alice/slow:pull,push"])
        .count();
    assert!(
        renewals >= 2,
        "no token renewal during a push of {:?}: {tokens:?}",
        started.elapsed()
    );
    let used = hub.registry_saw_bearer_tokens_only();
    let mut ids: Vec<&str> = used.iter().filter_map(|c| c["jti"].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert!(ids.len() >= 2, "the registry saw one token only");

    // The layer arrived whole: another client pulls it back.
    let b = Rreg::sharing_config(&alice);
    let pull = b.ok(&["pull", &name]).await;
    assert!(pull.stdout.contains(&img.manifest_digest), "{pull}");
}
