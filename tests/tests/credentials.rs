//! Every credential dies with what it came from (docs/security.md): revoking a personal access
//! token ends the refresh tokens obtained with it; a password change ends the sessions and refresh
//! tokens obtained with the old password; "sign out everywhere" ends every session; deleting an
//! account ends everything it held, and an account later made with the same name is another one;
//! signing out of the web UI ends that session on the server; an administrator's token below
//! `repo:admin` is not an administrator. Over real HTTP.

mod common;

use std::time::Duration;

use common::{basic, client_with, TestServer};
use reqwest::StatusCode;
use serde_json::{json, Value};

const PW: &str = "alice-password-1";

async fn new_user(s: &TestServer, name: &str, pw: &str) {
    let r = s
        .client
        .post(s.url("/api/v1/users"))
        .json(&json!({"name": name, "password": pw}))
        .send()
        .await
        .expect("create user");
    assert_eq!(
        r.status(),
        StatusCode::CREATED,
        "{}",
        r.text().await.unwrap_or_default()
    );
}

/// A refresh token from `POST /token` with a password or personal access token.
async fn refresh_token(s: &TestServer, user: &str, secret: &str) -> String {
    let form = [
        ("grant_type", "password"),
        ("username", user),
        ("password", secret),
        ("service", "rreg"),
        ("client_id", "test"),
        ("access_type", "offline"),
    ];
    let r = s.anon.post(s.url("/token")).form(&form).send().await.expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    v["refresh_token"].as_str().expect("refresh token").to_owned()
}

/// What redeeming a refresh token answers.
async fn redeem(s: &TestServer, refresh: &str) -> StatusCode {
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh),
        ("service", "rreg"),
        ("client_id", "test"),
    ];
    s.anon
        .post(s.url("/token"))
        .form(&form)
        .send()
        .await
        .expect("refresh")
        .status()
}

/// A management API session token.
async fn session(s: &TestServer, user: &str, pw: &str) -> String {
    let r = s
        .anon
        .post(s.url("/api/v1/login"))
        .json(&json!({"username": user, "password": pw}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), StatusCode::OK);
    let v: Value = r.json().await.expect("json");
    v["token"].as_str().expect("token").to_owned()
}

/// What `GET /api/v1/user` answers with a session token.
async fn with_session(s: &TestServer, token: &str) -> StatusCode {
    client_with(Some(&format!("Bearer {token}")))
        .get(s.url("/api/v1/user"))
        .send()
        .await
        .expect("user")
        .status()
}

/// A personal access token of `user`: (id, secret).
async fn pat(s: &TestServer, user: &str, pw: &str) -> (i64, String) {
    let r = client_with(Some(&basic(user, pw)))
        .post(s.url("/api/v1/tokens"))
        .json(&json!({"name": "ci", "scope": "repo:write"}))
        .send()
        .await
        .expect("pat");
    assert_eq!(r.status(), StatusCode::CREATED);
    let v: Value = r.json().await.expect("json");
    (
        v["id"].as_i64().expect("id"),
        v["secret"].as_str().expect("secret").to_owned(),
    )
}

#[tokio::test]
async fn revoking_a_token_ends_the_refresh_tokens_obtained_with_it() {
    let s = TestServer::start().await;
    new_user(&s, "alice", PW).await;
    let (id, secret) = pat(&s, "alice", PW).await;
    let from_pat = refresh_token(&s, "alice", &secret).await;
    let from_password = refresh_token(&s, "alice", PW).await;
    assert_eq!(redeem(&s, &from_pat).await, StatusCode::OK);
    let r = client_with(Some(&basic("alice", PW)))
        .delete(s.url(&format!("/api/v1/tokens/{id}")))
        .send()
        .await
        .expect("revoke");
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(redeem(&s, &from_pat).await, StatusCode::UNAUTHORIZED);
    // The token itself is refused too; what came from the password is untouched.
    let r = client_with(Some(&basic("alice", &secret)))
        .get(s.url("/api/v1/user"))
        .send()
        .await
        .expect("user");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(redeem(&s, &from_password).await, StatusCode::OK);
}

#[tokio::test]
async fn a_password_change_ends_what_the_old_password_obtained() {
    let s = TestServer::start().await;
    new_user(&s, "alice", PW).await;
    let old_session = session(&s, "alice", PW).await;
    let old_refresh = refresh_token(&s, "alice", PW).await;
    let (_, secret) = pat(&s, "alice", PW).await;
    let pat_refresh = refresh_token(&s, "alice", &secret).await;
    assert_eq!(with_session(&s, &old_session).await, StatusCode::OK);
    let r = client_with(Some(&format!("Bearer {old_session}")))
        .patch(s.url("/api/v1/users/alice"))
        .json(&json!({"password": "alice-password-2"}))
        .send()
        .await
        .expect("change");
    assert!(r.status().is_success(), "{}", r.status());
    assert_eq!(with_session(&s, &old_session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(redeem(&s, &old_refresh).await, StatusCode::UNAUTHORIZED);
    // What the personal access token obtained lives as long as the token.
    assert_eq!(redeem(&s, &pat_refresh).await, StatusCode::OK);
    // The new password works at once, for sessions and refresh tokens.
    let new_session = session(&s, "alice", "alice-password-2").await;
    assert_eq!(with_session(&s, &new_session).await, StatusCode::OK);
    let new_refresh = refresh_token(&s, "alice", "alice-password-2").await;
    assert_eq!(redeem(&s, &new_refresh).await, StatusCode::OK);
}

#[tokio::test]
async fn signing_out_everywhere() {
    let s = TestServer::start().await;
    new_user(&s, "alice", PW).await;
    let one = session(&s, "alice", PW).await;
    let two = session(&s, "alice", PW).await;
    let refresh = refresh_token(&s, "alice", PW).await;
    let (_, secret) = pat(&s, "alice", PW).await;
    // Not with a personal access token.
    let r = client_with(Some(&basic("alice", &secret)))
        .delete(s.url("/api/v1/user/sessions"))
        .send()
        .await
        .expect("end");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(with_session(&s, &two).await, StatusCode::OK);
    let r = client_with(Some(&format!("Bearer {one}")))
        .delete(s.url("/api/v1/user/sessions"))
        .send()
        .await
        .expect("end");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    for t in [&one, &two] {
        assert_eq!(with_session(&s, t).await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(redeem(&s, &refresh).await, StatusCode::UNAUTHORIZED);
    let fresh = session(&s, "alice", PW).await;
    assert_eq!(with_session(&s, &fresh).await, StatusCode::OK);
}

#[tokio::test]
async fn a_deleted_account_leaves_nothing_a_new_one_of_the_same_name_can_use() {
    let s = TestServer::start().await;
    new_user(&s, "alice", PW).await;
    let old_session = session(&s, "alice", PW).await;
    let old_refresh = refresh_token(&s, "alice", PW).await;
    let (_, secret) = pat(&s, "alice", PW).await;
    let r = s
        .client
        .delete(s.url("/api/v1/users/alice"))
        .send()
        .await
        .expect("delete");
    assert!(r.status().is_success(), "{}", r.status());
    new_user(&s, "alice", "another-password-1").await;
    assert_eq!(with_session(&s, &old_session).await, StatusCode::UNAUTHORIZED);
    assert_eq!(redeem(&s, &old_refresh).await, StatusCode::UNAUTHORIZED);
    let r = client_with(Some(&basic("alice", &secret)))
        .get(s.url("/api/v1/user"))
        .send()
        .await
        .expect("user");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn signing_out_of_the_ui_ends_the_session_on_the_server() {
    let s = TestServer::start().await;
    new_user(&s, "alice", PW).await;
    let origin = format!("http://{}", s.addr);
    let r = s
        .anon
        .post(s.url("/ui/login"))
        .header("origin", &origin)
        .form(&[("username", "alice"), ("password", PW), ("next", "/ui/")])
        .send()
        .await
        .expect("login");
    assert_eq!(r.status().as_u16(), 303);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let page = |c: String| {
        let s = &s;
        async move {
            s.anon
                .get(s.url("/ui/"))
                .header("cookie", c)
                .send()
                .await
                .expect("page")
                .text()
                .await
                .expect("html")
        }
    };
    assert!(page(cookie.clone()).await.contains("class=\"who\">alice<"), "signed in");
    let r = s
        .anon
        .post(s.url("/ui/logout"))
        .header("origin", &origin)
        .header("cookie", &cookie)
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status().as_u16(), 303);
    // The same cookie, kept by someone who copied it, no longer signs anyone in.
    let after = page(cookie).await;
    assert!(!after.contains("class=\"who\">alice<"), "{after}");
}

#[tokio::test]
async fn an_administrators_token_below_repo_admin_is_not_an_administrator() {
    let s = TestServer::start().await;
    new_user(&s, "alice", PW).await;
    let alice = client_with(Some(&basic("alice", PW)));
    let data = b"private bytes";
    let d = format!("sha256:{}", hex::encode(<sha2::Sha256 as sha2::Digest>::digest(data)));
    let r = alice
        .post(s.url(&format!("/v2/alice/secret/blobs/uploads/?digest={d}")))
        .body(data.to_vec())
        .send()
        .await
        .expect("push");
    assert_eq!(r.status(), StatusCode::CREATED);
    let (_, write_token) = pat(&s, "admin", common::ADMIN_PASSWORD).await;
    let capped = client_with(Some(&basic("admin", &write_token)));
    let catalog = |c: reqwest::Client| {
        let url = s.url("/v2/_catalog");
        async move { c.get(url).send().await.expect("catalog").text().await.expect("body") }
    };
    // With the password the administrator sees everything; with a repo:write token, what any
    // user other than alice sees.
    assert!(catalog(s.client.clone()).await.contains("alice/secret"));
    assert!(!catalog(capped.clone()).await.contains("alice/secret"));
    let r = capped
        .get(s.url(&format!("/v2/alice/secret/blobs/{d}")))
        .send()
        .await
        .expect("blob");
    assert!(
        r.status() == StatusCode::UNAUTHORIZED
            || r.status() == StatusCode::FORBIDDEN
            || r.status() == StatusCode::NOT_FOUND,
        "{}",
        r.status()
    );
    let r = capped
        .get(s.url("/api/v1/repositories/alice/secret"))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = s
        .client
        .get(s.url("/api/v1/repositories/alice/secret"))
        .send()
        .await
        .expect("api");
    assert_eq!(r.status(), StatusCode::OK);
    // Through the token flow too: a registry token obtained with the capped token keeps the cap.
    let r = capped
        .get(s.url("/token?service=rreg&scope=registry:catalog:*&scope=repository:alice/secret:pull"))
        .send()
        .await
        .expect("token");
    let t: Value = r.json().await.expect("json");
    let bearer = client_with(Some(&format!("Bearer {}", t["token"].as_str().expect("token"))));
    assert!(!catalog(bearer.clone()).await.contains("alice/secret"));
    let r = bearer
        .get(s.url(&format!("/v2/alice/secret/blobs/{d}")))
        .send()
        .await
        .expect("blob");
    assert_ne!(r.status(), StatusCode::OK);
}

/// A client whose connections come from `ip` (127.0.0.2, …: one loopback address per party).
fn from(ip: &str, auth: Option<&str>) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    if let Some(a) = auth {
        headers.insert(reqwest::header::AUTHORIZATION, a.parse().expect("header"));
    }
    reqwest::Client::builder()
        .local_address(ip.parse::<std::net::IpAddr>().expect("ip"))
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

#[tokio::test]
async fn wrong_guesses_from_one_address_do_not_lock_the_user_out_elsewhere() {
    let s = TestServer::start().await;
    new_user(&s, "alice", PW).await;
    let attacker = from("127.0.0.2", Some(&basic("alice", "wrong-guess")));
    for _ in 0..10 {
        let r = attacker.get(s.url("/v2/")).send().await.expect("guess");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    // The attacker's address is stopped, even with the right password…
    let r = attacker.get(s.url("/v2/")).send().await.expect("guess");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let r = from("127.0.0.2", Some(&basic("alice", PW)))
        .get(s.url("/v2/"))
        .send()
        .await
        .expect("right");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    // …while alice, from her own address, signs in, and so does her CI's token.
    let r = from("127.0.0.3", Some(&basic("alice", PW)))
        .get(s.url("/v2/"))
        .send()
        .await
        .expect("alice");
    assert_eq!(r.status(), StatusCode::OK);
    let (_, token) = pat(&s, "alice", PW).await;
    let r = from("127.0.0.4", Some(&basic("alice", &token)))
        .get(s.url("/v2/"))
        .send()
        .await
        .expect("ci");
    assert_eq!(r.status(), StatusCode::OK);
    // Guesses for another account from a fresh address count against that address only.
    let other = from("127.0.0.5", Some(&basic("bob", "wrong-guess")));
    for _ in 0..10 {
        assert_eq!(
            other.get(s.url("/v2/")).send().await.expect("guess").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = from("127.0.0.5", Some(&basic("alice", PW)))
        .get(s.url("/v2/"))
        .send()
        .await
        .expect("alice");
    assert_eq!(
        r.status(),
        StatusCode::TOO_MANY_REQUESTS,
        "the address is limited whatever the account"
    );
}

#[tokio::test]
async fn repeated_lockouts_last_longer_and_a_success_starts_over() {
    let s = TestServer::start_with_env(&[
        ("RREG__AUTH__MAX_FAILED_LOGINS", "2"),
        ("RREG__AUTH__FAILED_LOGIN_WINDOW_SECS", "5"),
    ])
    .await;
    new_user(&s, "alice", PW).await;
    let retry_after = |r: &reqwest::Response| -> u64 {
        r.headers()["retry-after"]
            .to_str()
            .expect("ascii")
            .parse()
            .expect("seconds")
    };
    let attacker = from("127.0.0.6", Some(&basic("alice", "wrong-guess")));
    for _ in 0..2 {
        assert_eq!(
            attacker.get(s.url("/v2/")).send().await.expect("guess").status(),
            StatusCode::UNAUTHORIZED
        );
    }
    let r = attacker.get(s.url("/v2/")).send().await.expect("locked");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let first = retry_after(&r);
    assert!((1..=5).contains(&first), "first lockout: {first} s");
    // Requests while locked out do not count; wait for the end of the lockout.
    let r = loop {
        let r = attacker.get(s.url("/v2/")).send().await.expect("poll");
        if r.status() != StatusCode::TOO_MANY_REQUESTS {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "that poll was the first failure after the lockout"
    );
    assert_eq!(
        attacker.get(s.url("/v2/")).send().await.expect("guess").status(),
        StatusCode::UNAUTHORIZED
    );
    let r = attacker.get(s.url("/v2/")).send().await.expect("locked again");
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let second = retry_after(&r);
    assert!(
        second > 5 && second <= 10,
        "the second lockout lasts twice the window: {second} s"
    );

    // A successful login forgets the failures before it.
    let wrong = from("127.0.0.7", Some(&basic("alice", "wrong-guess")));
    let right = from("127.0.0.7", Some(&basic("alice", PW)));
    for _ in 0..3 {
        assert_eq!(
            wrong.get(s.url("/v2/")).send().await.expect("guess").status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            right.get(s.url("/v2/")).send().await.expect("right").status(),
            StatusCode::OK
        );
    }
}

#[tokio::test]
async fn storage_usage_reveals_nothing_about_unreadable_repositories() {
    let s = TestServer::start().await;
    new_user(&s, "alice", PW).await;
    new_user(&s, "bob", "bob-password-1").await;
    let secret = b"alice's private layer".to_vec();
    let d = format!(
        "sha256:{}",
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&secret))
    );
    // alice's private repository references the layer (a manifest, not just a link).
    let push = |user: &str, pw: &str, repo: &str| {
        let c = client_with(Some(&basic(user, pw)));
        let (s, repo, secret, d) = (&s, repo.to_owned(), secret.clone(), d.clone());
        async move {
            let r = c
                .post(s.url(&format!("/v2/{repo}/blobs/uploads/?digest={d}")))
                .body(secret.clone())
                .send()
                .await
                .expect("blob");
            assert_eq!(r.status(), StatusCode::CREATED);
            let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
            let cd = format!(
                "sha256:{}",
                hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&config))
            );
            let r = c
                .post(s.url(&format!("/v2/{repo}/blobs/uploads/?digest={cd}")))
                .body(config.clone())
                .send()
                .await
                .expect("config");
            assert_eq!(r.status(), StatusCode::CREATED);
            let m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": config.len()},
                "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": d, "size": secret.len()}]});
            let r = c
                .put(s.url(&format!("/v2/{repo}/manifests/v1")))
                .header("content-type", "application/vnd.oci.image.manifest.v1+json")
                .body(serde_json::to_vec(&m).expect("json"))
                .send()
                .await
                .expect("manifest");
            assert_eq!(r.status(), StatusCode::CREATED);
        }
    };
    push("alice", PW, "alice/private").await;
    // bob pushes the same bytes (a guess) into his own repository and reads his usage.
    push("bob", "bob-password-1", "bob/probe").await;
    let bob = client_with(Some(&basic("bob", "bob-password-1")));
    // Both of his blobs (the layer and the config) count as his alone.
    let blobs = (secret.len() + br#"{"architecture":"amd64","os":"linux"}"#.len()) as i64;
    let v: Value = bob
        .get(s.url("/api/v1/usage/bob/probe"))
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    assert_eq!(
        v["exclusive_bytes"], blobs,
        "bob's figures must not show that another repository shares his layer: {v}"
    );
    let v: Value = bob
        .get(s.url("/api/v1/usage/bob"))
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    assert_eq!(v["repositories"][0]["exclusive_bytes"], blobs, "{v}");
    // The administrator sees the sharing.
    let v: Value = s
        .client
        .get(s.url("/api/v1/usage/bob/probe"))
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    assert_eq!(v["exclusive_bytes"], 0, "both blobs are shared with alice/private: {v}");
}
