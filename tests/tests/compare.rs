//! Comparing two images: rreg-server's `…/-/compare` API, its UI view, and `rreg diff` on local
//! images, on rreg-server (through the API) and on CNCF distribution (layers read directly) — all
//! on a pair built for the purpose: a file added, one removed (whiteout), one changed in content
//! only, one in mode only, a symlink retargeted, an opaque directory, config changes and a shared
//! base layer. The API's answer equals `rreg diff`'s; a tag the caller may not read is a 404.

mod client_util;
mod common;

use client_util::{tar_header, write_image_with, Distribution, Rreg};
use common::{basic, client_with, TestServer, ADMIN_PASSWORD};
use serde_json::{json, Value};

/// One tar entry with a mode of its own.
fn entry(path: &str, kind: u8, link: &str, data: &[u8], mode: u32) -> Vec<u8> {
    let mut out = tar_header(path.as_bytes(), data.len(), kind, link.as_bytes(), mode, (0, 0)).to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}

fn archive(entries: Vec<Vec<u8>>) -> Vec<u8> {
    let mut out: Vec<u8> = entries.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

fn base_layer() -> Vec<u8> {
    archive(vec![
        entry("etc/", b'5', "", b"", 0o755),
        entry("etc/keep", b'0', "", b"keep\n", 0o644),
        entry("etc/gone", b'0', "", b"gone\n", 0o644),
        entry("etc/content", b'0', "", b"version 1\n", 0o644),
        entry("etc/mode", b'0', "", b"#!/bin/sh\n", 0o644),
        entry("etc/link", b'2', "keep", b"", 0o777),
        entry("opt/", b'5', "", b"", 0o755),
        entry("opt/a", b'0', "", b"a\n", 0o644),
        entry("opt/b", b'0', "", b"b\n", 0o644),
    ])
}

/// Writes `v1` and `v2` of `repo` (a full name without tag) into `r`'s store.
fn write_pair(r: &Rreg, repo: &str) {
    let old_top = archive(vec![entry("etc/old-only", b'0', "", b"old\n", 0o644)]);
    let new_top = archive(vec![
        entry("etc/.wh.gone", b'0', "", b"", 0o644),
        entry("etc/content", b'0', "", b"version 2\n", 0o644),
        entry("etc/mode", b'0', "", b"#!/bin/sh\n", 0o755),
        entry("etc/link", b'2', "content", b"", 0o777),
        entry("opt/.wh..wh..opq", b'0', "", b"", 0o644),
        entry("opt/c", b'0', "", b"c\n", 0o644),
        entry("etc/new", b'0', "", b"brand new\n", 0o644),
    ]);
    write_image_with(
        r.home.path(),
        &format!("{repo}:v1"),
        &[base_layer(), old_top],
        "amd64",
        json!({"Env": ["PATH=/usr/bin:/bin", "MODE=old"], "Cmd": ["sh"], "Labels": {"version": "1"}, "WorkingDir": "/"}),
        &["ADD base.tar /", "RUN echo old > /etc/old-only"],
    );
    write_image_with(
        r.home.path(),
        &format!("{repo}:v2"),
        &[base_layer(), new_top],
        "amd64",
        json!({"Env": ["PATH=/usr/bin:/bin", "FEATURE=on"], "Cmd": ["sh", "-c", "serve"], "Labels": {"version": "2"},
               "WorkingDir": "/srv", "ExposedPorts": {"8080/tcp": {}}}),
        &["ADD base.tar /", "RUN ./update.sh"],
    );
}

/// The comparison without the two references (which name the images as each caller wrote them).
fn unlabelled(mut v: Value) -> Value {
    v["from"]["reference"] = Value::Null;
    v["to"]["reference"] = Value::Null;
    v
}

fn change_of<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    v["files"].as_array()?.iter().find(|f| f["path"] == path)
}

async fn api(s: &TestServer, client: &reqwest::Client, path: &str) -> (u16, Value) {
    let r = client.get(s.url(&format!("/api/v1/{path}"))).send().await.expect("api");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_api_ui_and_rreg_diff_agree() {
    let s = TestServer::start().await;
    let a = Rreg::new();
    let repo = format!("{}/admin/cmp", s.addr);
    write_pair(&a, &repo);
    a.login(&s.addr, "admin", ADMIN_PASSWORD).await;
    a.ok(&["push", &format!("{repo}:v1")]).await;
    a.ok(&["push", &format!("{repo}:v2")]).await;

    // The API.
    let (status, full) = api(&s, &s.client, "repositories/admin/cmp/-/compare?from=v1&to=v2&n=1000").await;
    assert_eq!(status, 200, "{full}");
    let t = &full["totals"];
    assert_eq!(
        (
            t["layers_shared"].as_u64(),
            t["layers_added"].as_u64(),
            t["layers_removed"].as_u64()
        ),
        (Some(1), Some(1), Some(1)),
        "{full}"
    );
    assert_eq!(t["base_layers_shared"], 1);
    let kinds: Vec<(String, String)> = full["layers"]
        .as_array()
        .expect("layers")
        .iter()
        .map(|l| {
            (
                l["status"].as_str().unwrap_or("").to_owned(),
                l["created_by"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("shared".to_owned(), "ADD base.tar /".to_owned()),
            ("removed".to_owned(), "RUN echo old > /etc/old-only".to_owned()),
            ("added".to_owned(), "RUN ./update.sh".to_owned()),
        ]
    );
    let expect = [
        ("etc/new", "added", json!([])),
        ("opt/c", "added", json!([])),
        ("etc/gone", "removed", json!([])),
        ("etc/old-only", "removed", json!([])),
        ("opt/a", "removed", json!([])),
        ("opt/b", "removed", json!([])),
        ("etc/content", "modified", json!(["content"])),
        ("etc/mode", "modified", json!(["mode"])),
        ("etc/link", "modified", json!(["link"])),
    ];
    for (path, change, differs) in &expect {
        let c = change_of(&full, path).unwrap_or_else(|| panic!("{path} missing: {full}"));
        assert_eq!(c["change"], *change, "{path}: {c}");
        assert_eq!(c.get("differs").cloned().unwrap_or(json!([])), *differs, "{path}: {c}");
    }
    assert!(change_of(&full, "etc/keep").is_none(), "unchanged files are not listed");
    assert_eq!(full["files"].as_array().map(Vec::len), Some(expect.len()), "{full}");
    assert_eq!(change_of(&full, "etc/link").expect("link")["to"]["link"], "content");
    let config: Vec<(String, Value, Value, Value)> = full["config"]
        .as_array()
        .expect("config")
        .iter()
        .map(|c| {
            (
                c["field"].as_str().unwrap_or("").to_owned(),
                c["key"].clone(),
                c["from"].clone(),
                c["to"].clone(),
            )
        })
        .collect();
    for want in [
        ("Env".to_owned(), json!("MODE"), json!("old"), Value::Null),
        ("Env".to_owned(), json!("FEATURE"), Value::Null, json!("on")),
        (
            "Cmd".to_owned(),
            Value::Null,
            json!(r#"["sh"]"#),
            json!(r#"["sh","-c","serve"]"#),
        ),
        ("WorkingDir".to_owned(), Value::Null, json!("/"), json!("/srv")),
        ("Labels".to_owned(), json!("version"), json!("1"), json!("2")),
        ("ExposedPorts".to_owned(), json!("8080/tcp"), Value::Null, json!("")),
    ] {
        assert!(config.contains(&want), "{want:?} not in {config:?}");
    }
    assert_eq!(config.len(), 6, "{config:?}");

    // Filters and pages: one change a page walks them all, in path order.
    let (_, removed) = api(
        &s,
        &s.client,
        "repositories/admin/cmp/-/compare?from=v1&to=v2&change=removed&prefix=/opt",
    )
    .await;
    assert_eq!(removed["files_matching"], 2, "{removed}");
    let mut walked = Vec::new();
    let mut last = String::new();
    loop {
        let (st, page) = api(
            &s,
            &s.client,
            &format!("repositories/admin/cmp/-/compare?from=v1&to=v2&n=1&last={last}"),
        )
        .await;
        assert_eq!(st, 200);
        walked.extend(page["files"].as_array().expect("files").iter().cloned());
        match page["next"].as_str() {
            Some(n) => last = n.to_owned(),
            None => break,
        }
    }
    assert_eq!(Value::Array(walked), full["files"]);
    // By digest, and against another repository's tag.
    let v1_digest = full["from"]["digest"].as_str().expect("digest").to_owned();
    let (st, by_digest) = api(
        &s,
        &s.client,
        &format!("repositories/admin/cmp/-/compare?from={v1_digest}&to=admin/cmp:v2&n=1000"),
    )
    .await;
    assert_eq!(st, 200, "{by_digest}");
    assert_eq!(unlabelled(by_digest), unlabelled(full.clone()));

    // rreg diff through the API, on local images, and one of each: the same answer.
    let through_api = a
        .ok(&[
            "diff",
            "--remote",
            "--format",
            "json",
            &format!("{repo}:v1"),
            &format!("{repo}:v2"),
        ])
        .await;
    let through_api: Value = serde_json::from_str(&through_api.stdout).expect("json");
    assert_eq!(unlabelled(through_api), unlabelled(full.clone()));
    let local = a
        .ok(&["diff", "--format", "json", &format!("{repo}:v1"), &format!("{repo}:v2")])
        .await;
    let local: Value = serde_json::from_str(&local.stdout).expect("json");
    assert_eq!(unlabelled(local), unlabelled(full.clone()));
    let b = Rreg::sharing_config(&a);
    b.ok(&["pull", &format!("{repo}:v1")]).await;
    let mixed = b
        .ok(&["diff", "--format", "json", &format!("{repo}:v1"), &format!("{repo}:v2")])
        .await;
    let mixed: Value = serde_json::from_str(&mixed.stdout).expect("json");
    assert_eq!(unlabelled(mixed), unlabelled(full.clone()));

    // The table, and --exit-code.
    let table = a
        .run(&["diff", "--exit-code", &format!("{repo}:v1"), &format!("{repo}:v2")])
        .await;
    assert_eq!(table.code, Some(1), "{table}");
    assert!(table.stderr.is_empty(), "{table}");
    for line in [
        "A /etc/new",
        "D /etc/gone",
        "M /etc/content  content",
        "M /etc/mode  mode",
        "Env",
    ] {
        assert!(table.stdout.contains(line), "{line:?} missing:\n{table}");
    }
    let same = a
        .run(&["diff", "--exit-code", &format!("{repo}:v1"), &format!("{repo}:v1")])
        .await;
    assert_eq!(same.code, Some(0), "{same}");

    // Any other registry: the same pair on CNCF distribution, read layer by layer.
    if let Some(dist) = Distribution::start(None).await {
        let drepo = format!("{}/cmp", dist.addr);
        for tag in ["v1", "v2"] {
            a.ok(&["tag", &format!("{repo}:{tag}"), &format!("{drepo}:{tag}")])
                .await;
            a.ok(&["push", &format!("{drepo}:{tag}")]).await;
        }
        let o = a
            .ok(&[
                "diff",
                "--remote",
                "--format",
                "json",
                &format!("{drepo}:v1"),
                &format!("{drepo}:v2"),
            ])
            .await;
        let d: Value = serde_json::from_str(&o.stdout).expect("json");
        assert_eq!(unlabelled(d), unlabelled(full.clone()));
    } else {
        println!("skipped the distribution part: docker-registry is not installed");
    }

    // The UI: a compare form on the repository page, and the view (the repository made public).
    let r = s
        .client
        .patch(s.url("/api/v1/repositories/admin/cmp"))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .expect("patch");
    assert!(r.status().is_success(), "{}", r.status());
    let page = s
        .anon
        .get(s.url("/ui/r/admin/cmp"))
        .send()
        .await
        .expect("ui")
        .text()
        .await
        .expect("html");
    assert!(page.contains("id=\"compare-form\""), "{page}");
    let view = s
        .anon
        .get(s.url("/ui/r/admin/cmp/-/compare?from=v1&to=v2&change=removed"))
        .send()
        .await
        .expect("ui");
    assert_eq!(view.status(), 200);
    let view = view.text().await.expect("html");
    assert!(
        view.contains("<code>/etc/gone</code>") && view.contains("<code>/opt/a</code>"),
        "{view}"
    );
    assert!(
        !view.contains("<code>/etc/new</code>"),
        "the filter keeps only removals"
    );
    assert!(view.contains("RUN ./update.sh") && view.contains("FEATURE"), "{view}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compare_needs_read_access_to_both_sides() {
    let s = TestServer::start().await;
    let a = Rreg::new();
    let repo = format!("{}/admin/secret", s.addr);
    write_pair(&a, &repo);
    a.login(&s.addr, "admin", ADMIN_PASSWORD).await;
    a.ok(&["push", &format!("{repo}:v1")]).await;
    a.ok(&["push", &format!("{repo}:v2")]).await;
    // bob, with a public repository of his own.
    let r = s
        .client
        .post(s.url("/api/v1/users"))
        .json(&json!({"name": "bob", "password": "bob-password-1"}))
        .send()
        .await
        .expect("user");
    assert!(r.status().is_success(), "{}", r.status());
    let bob = client_with(Some(&basic("bob", "bob-password-1")));
    let bob_repo = format!("{}/bob/open", s.addr);
    let b = Rreg::new();
    write_pair(&b, &bob_repo);
    b.login(&s.addr, "bob", "bob-password-1").await;
    b.ok(&["push", &format!("{bob_repo}:v1")]).await;
    let r = bob
        .patch(s.url("/api/v1/repositories/bob/open"))
        .json(&json!({"visibility": "public"}))
        .send()
        .await
        .expect("patch");
    assert!(r.status().is_success());

    for (who, client) in [("anonymous", &s.anon), ("bob", &bob)] {
        let (st, _) = api(&s, client, "repositories/admin/secret/-/compare?from=v1&to=v2").await;
        assert_eq!(st, 404, "{who} on a private repository");
        let (st, _) = api(&s, client, "repositories/bob/open/-/compare?from=v1&to=admin/secret:v2").await;
        assert_eq!(st, 404, "{who} naming a private repository as the other side");
        let (st, _) = api(
            &s,
            client,
            "repositories/bob/open/-/compare?from=v1&to=admin/nothing-here:v2",
        )
        .await;
        assert_eq!(st, 404, "{who}: a missing repository looks the same");
    }
    // A missing tag is a 404; a missing or invalid parameter a 400.
    let (st, _) = api(&s, &s.client, "repositories/admin/secret/-/compare?from=v1&to=nope").await;
    assert_eq!(st, 404);
    let (st, _) = api(&s, &s.client, "repositories/admin/secret/-/compare?from=v1").await;
    assert_eq!(st, 400);
    let (st, _) = api(
        &s,
        &s.client,
        "repositories/admin/secret/-/compare?from=v1&to=v2&change=renamed",
    )
    .await;
    assert_eq!(st, 400);
    // The owner can compare against bob's public repository.
    let (st, v) = api(
        &s,
        &s.client,
        "repositories/admin/secret/-/compare?from=v1&to=bob/open:v1",
    )
    .await;
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["totals"]["files_added"], 0);
}
