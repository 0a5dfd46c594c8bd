//! Garbage collection against the real server: what a collection frees (and a dry run only
//! reports), and a collector running in a loop beside concurrent pushes, re-tags and deletes that
//! must never remove anything a remaining tag needs.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use common::{digest, TestServer};
use serde_json::json;

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

async fn upload(srv: &TestServer, c: &reqwest::Client, repo: &str, blob: &[u8]) {
    let r = c
        .post(srv.url(&format!("/v2/{repo}/blobs/uploads/?digest={}", digest(blob))))
        .body(blob.to_vec())
        .send()
        .await
        .expect("upload");
    assert_eq!(r.status(), 201, "upload to {repo}");
}

/// Pushes an image whose layers are `layers`; returns the manifest digest.
async fn push(
    srv: &TestServer,
    c: &reqwest::Client,
    repo: &str,
    tag: &str,
    layers: &[Vec<u8>],
) -> Result<String, String> {
    let config = format!(r#"{{"architecture":"amd64","os":"linux","tag":"{repo}:{tag}"}}"#).into_bytes();
    upload(srv, c, repo, &config).await;
    for l in layers {
        upload(srv, c, repo, l).await;
    }
    let descriptors: Vec<serde_json::Value> = layers
        .iter()
        .map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(l), "size": l.len()}))
        .collect();
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": descriptors,
    })
    .to_string();
    let r = c
        .put(srv.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .expect("put manifest");
    if r.status() != 201 {
        return Err(format!("{}: {}", r.status(), r.text().await.unwrap_or_default()));
    }
    Ok(digest(manifest.as_bytes()))
}

/// Pulls `repo:tag` completely, checking every blob's digest; returns the blob digests.
async fn pull(srv: &TestServer, c: &reqwest::Client, repo: &str, tag: &str) -> Vec<String> {
    let r = c
        .get(srv.url(&format!("/v2/{repo}/manifests/{tag}")))
        .header("accept", OCI_MANIFEST)
        .send()
        .await
        .expect("manifest");
    assert_eq!(r.status(), 200, "{repo}:{tag} manifest");
    let m: serde_json::Value = r.json().await.expect("json");
    let mut digests = vec![m["config"]["digest"].as_str().expect("config").to_owned()];
    for l in m["layers"].as_array().expect("layers") {
        digests.push(l["digest"].as_str().expect("digest").to_owned());
    }
    for d in &digests {
        let r = c
            .get(srv.url(&format!("/v2/{repo}/blobs/{d}")))
            .send()
            .await
            .expect("blob");
        assert_eq!(r.status(), 200, "{repo}:{tag} blob {d}");
        let body = r.bytes().await.expect("bytes");
        assert_eq!(&digest(&body), d, "{repo}:{tag} blob content");
    }
    digests
}

fn run_gc(srv: &TestServer, args: &[&str]) -> String {
    let out = srv.command("gc").args(args).output().expect("rreg-server gc");
    assert!(
        out.status.success(),
        "gc failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

async fn blob_status(srv: &TestServer, repo: &str, d: &str) -> u16 {
    srv.client
        .head(srv.url(&format!("/v2/{repo}/blobs/{d}")))
        .send()
        .await
        .expect("head")
        .status()
        .as_u16()
}

#[tokio::test]
async fn collection_frees_only_what_nothing_needs() {
    let srv = TestServer::start_with_env(&[("RREG__GC__INTERVAL_SECS", "0")]).await;
    let c = &srv.client;
    let shared = b"shared layer".to_vec();
    let keep_only = b"only in keep".to_vec();
    let drop_only = b"only in drop".to_vec();
    push(&srv, c, "team/app", "keep", &[shared.clone(), keep_only.clone()])
        .await
        .expect("keep");
    let dropped = push(&srv, c, "team/app", "drop", &[shared.clone(), drop_only.clone()])
        .await
        .expect("drop");
    // A layer uploaded but never referenced by a manifest.
    let stray = b"stray upload".to_vec();
    upload(&srv, c, "team/app", &stray).await;
    // The "drop" image loses its tag.
    let r = c
        .delete(srv.url("/v2/team/app/manifests/drop"))
        .send()
        .await
        .expect("delete tag");
    assert_eq!(r.status(), 202);

    // Within the grace period nothing goes.
    let out = run_gc(&srv, &["--untagged"]);
    assert!(out.contains("0 blobs"), "{out}");
    assert_eq!(blob_status(&srv, "team/app", &digest(&stray)).await, 200);

    // A dry run reports without removing.
    let out = run_gc(&srv, &["--dry-run", "--untagged", "--grace-secs", "0"]);
    assert!(out.starts_with("would free: 1 untagged manifests"), "{out}");
    let r = c
        .get(srv.url(&format!("/v2/team/app/manifests/{dropped}")))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 200, "dry run removed the untagged manifest");

    let out = run_gc(&srv, &["--untagged", "--grace-secs", "0"]);
    assert!(out.starts_with("freed: 1 untagged manifests"), "{out}");
    assert!(
        out.contains("3 blobs"),
        "the untagged image's config and own layer, and the stray: {out}"
    );
    let r = c
        .get(srv.url(&format!("/v2/team/app/manifests/{dropped}")))
        .send()
        .await
        .expect("get");
    assert_eq!(r.status(), 404);
    for gone in [&drop_only, &stray] {
        assert_eq!(blob_status(&srv, "team/app", &digest(gone)).await, 404);
    }
    pull(&srv, c, "team/app", "keep").await;
    if srv.storage_is_local() {
        let hex = digest(&drop_only).trim_start_matches("sha256:").to_owned();
        assert!(!srv.data.path().join("blobs/sha256").join(&hex[..2]).join(&hex).exists());
        let hex = digest(&shared).trim_start_matches("sha256:").to_owned();
        assert!(srv.data.path().join("blobs/sha256").join(&hex[..2]).join(&hex).exists());
    }
    // Pushing the collected layer again works (the blob comes back).
    push(&srv, c, "team/app", "again", std::slice::from_ref(&drop_only))
        .await
        .expect("push again");
    pull(&srv, c, "team/app", "again").await;
}

#[tokio::test]
async fn collector_in_a_loop_beside_concurrent_pushes_retags_and_deletes() {
    let srv = TestServer::start_with_env(&[("RREG__GC__INTERVAL_SECS", "0")]).await;
    let grace = "2";
    let grace_secs: u64 = 2;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // Collections completed so far: the writers go on until the collector has run beside them a few
    // times (progress, not a clock, decides how long the test runs).
    let gc_runs = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // The collector: a loop of `rreg-server gc` processes.
    let gc_loop = {
        let stop = stop.clone();
        let gc_runs = gc_runs.clone();
        let mut cmd_args: Vec<std::process::Command> = Vec::new();
        for _ in 0..200 {
            let mut c = srv.command("gc");
            c.args(["--untagged", "--grace-secs", grace]);
            cmd_args.push(c);
        }
        tokio::task::spawn_blocking(move || {
            let mut runs = 0;
            for mut c in cmd_args {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
                let out = c.output().expect("gc");
                assert!(out.status.success(), "gc: {}", String::from_utf8_lossy(&out.stderr));
                runs += 1;
                gc_runs.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(50));
            }
            runs
        })
    };
    // Writers: each pushes images (one layer shared by all), re-tags some, deletes some.
    let shared = b"layer shared by every image".to_vec();
    let mut writers = Vec::new();
    for w in 0..4 {
        let c = srv.client.clone();
        let base = srv.base.clone();
        let shared = shared.clone();
        let srv_url = move |p: &str| format!("{base}{p}");
        let gc_runs = gc_runs.clone();
        writers.push(tokio::spawn(async move {
            let repo = format!("load/w{w}");
            let mut tags: BTreeMap<String, String> = BTreeMap::new();
            // At least 9 images each (28 remaining tags in all), and on until the collector has
            // completed 3 runs beside them; a collector that never completes stops them at 2,000.
            let mut i = 0;
            while (i < 9 || gc_runs.load(std::sync::atomic::Ordering::Relaxed) < 3) && i < 2000 {
                i += 1;
                let own = format!("worker {w} image {i}").into_bytes();
                let config = format!(r#"{{"w":{w},"i":{i}}}"#).into_bytes();
                let layers: Vec<serde_json::Value> = [&own, &shared]
                    .iter()
                    .map(|l| json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(l), "size": l.len()}))
                    .collect();
                let manifest = json!({
                    "schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
                    "layers": layers,
                })
                .to_string();
                let tag = format!("t{i}");
                let mut attempt = 0;
                loop {
                    attempt += 1;
                    // Taken before the first upload is sent: the server's age of each blob is at
                    // most this long when the manifest PUT is answered.
                    let sent = Instant::now();
                    for blob in [&config, &own, &shared] {
                        let r = c
                            .post(srv_url(&format!("/v2/{repo}/blobs/uploads/?digest={}", digest(blob))))
                            .body(blob.to_vec())
                            .send()
                            .await
                            .expect("upload");
                        assert_eq!(r.status(), 201);
                    }
                    let r = c
                        .put(srv_url(&format!("/v2/{repo}/manifests/{tag}")))
                        .header("content-type", OCI_MANIFEST)
                        .body(manifest.clone())
                        .send()
                        .await
                        .expect("put");
                    let status = r.status().as_u16();
                    if status == 201 {
                        break;
                    }
                    // Blobs no manifest references are the collector's once older than the grace
                    // period: a push slower than that (a loaded machine) is refused, as a client
                    // would see it, and pushed again. Refused, never acknowledged and then lost;
                    // and never within the grace period.
                    let text = r.text().await.unwrap_or_default();
                    let waited = sent.elapsed();
                    assert!(
                        status == 400 && text.contains("MANIFEST_BLOB_UNKNOWN"),
                        "push {repo}:{tag}: {status} {text}"
                    );
                    assert!(
                        waited >= Duration::from_secs(grace_secs),
                        "push {repo}:{tag}: a blob was collected {waited:?} after its upload, within the grace period: {text}"
                    );
                    assert!(attempt < 20, "push {repo}:{tag} refused {attempt} times");
                    eprintln!("push {repo}:{tag} took {waited:?}, longer than the grace period; pushing again");
                }
                tags.insert(tag.clone(), manifest.clone());
                // Re-tag: point "latest" at the new image (a manifest PUT of the same bytes).
                let r = c
                    .put(srv_url(&format!("/v2/{repo}/manifests/latest")))
                    .header("content-type", OCI_MANIFEST)
                    .body(manifest)
                    .send()
                    .await
                    .expect("retag");
                assert_eq!(r.status(), 201);
                // Delete every third tag.
                if i % 3 == 0 {
                    let victim = format!("t{}", i - 1);
                    let r = c.delete(srv_url(&format!("/v2/{repo}/manifests/{victim}"))).send().await.expect("del");
                    assert_eq!(r.status(), 202);
                    tags.remove(&victim);
                }
            }
            (repo, tags.into_keys().chain(["latest".to_owned()]).collect::<Vec<_>>())
        }));
    }
    let mut remaining = Vec::new();
    for w in writers {
        remaining.push(w.await.expect("writer"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let runs = gc_loop.await.expect("gc loop");
    assert!(runs >= 3, "the collector ran only {runs} times");

    // Every remaining tag pulls completely.
    let mut needed = BTreeSet::new();
    let mut count = 0;
    for (repo, tags) in &remaining {
        for t in tags {
            needed.extend(pull(&srv, &srv.client, repo, t).await);
            count += 1;
        }
    }
    assert!(count > 20, "only {count} tags were pushed");

    // After the grace period a last collection leaves exactly the blobs remaining tags need.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let out = run_gc(&srv, &["--untagged", "--grace-secs", grace]);
    assert!(out.starts_with("freed:"), "{out}");
    for (repo, tags) in &remaining {
        for t in tags {
            pull(&srv, &srv.client, repo, t).await;
        }
    }
    if srv.storage_is_local() {
        let mut stored = BTreeSet::new();
        for entry in walk(&srv.data.path().join("blobs")) {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
            stored.insert(format!("sha256:{name}"));
        }
        assert_eq!(stored, needed, "stored blobs differ from those the remaining tags need");
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

#[tokio::test]
async fn storage_usage_per_repository_and_namespace() {
    let srv = TestServer::start_with_env(&[("RREG__GC__INTERVAL_SECS", "0")]).await;
    let c = &srv.client;
    let shared = vec![1u8; 1000];
    let only_a = vec![2u8; 300];
    let only_b = vec![3u8; 50];
    let ma = push(&srv, c, "team/a", "v1", &[shared.clone(), only_a.clone()])
        .await
        .expect("a");
    let mb = push(&srv, c, "team/b", "v1", &[shared.clone(), only_b.clone()])
        .await
        .expect("b");
    let manifest_size = |repo: &str, d: &str| {
        let (c, url) = (c.clone(), srv.url(&format!("/v2/{repo}/manifests/{d}")));
        async move {
            c.get(url)
                .send()
                .await
                .expect("get")
                .bytes()
                .await
                .expect("bytes")
                .len() as i64
        }
    };
    let (size_ma, size_mb) = (manifest_size("team/a", &ma).await, manifest_size("team/b", &mb).await);
    let config_len =
        |repo: &str, tag: &str| format!(r#"{{"architecture":"amd64","os":"linux","tag":"{repo}:{tag}"}}"#).len() as i64;
    let (ca, cb) = (config_len("team/a", "v1"), config_len("team/b", "v1"));

    let v: serde_json::Value = c
        .get(srv.url("/api/v1/usage/team/a"))
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    assert_eq!(v["total_bytes"], ca + 1000 + 300 + size_ma, "{v}");
    assert_eq!(v["exclusive_bytes"], ca + 300, "{v}");
    let v: serde_json::Value = c
        .get(srv.url("/api/v1/usage/team"))
        .send()
        .await
        .expect("usage")
        .json()
        .await
        .expect("json");
    let total = (ca + 1300 + size_ma) + (cb + 1050 + size_mb);
    assert_eq!(v["total_bytes"], total, "{v}");
    assert_eq!(
        v["deduplicated_bytes"],
        total - 1000,
        "the shared layer counts once: {v}"
    );
    assert_eq!(v["repositories"].as_array().map(Vec::len), Some(2));
    // Private repositories are not shown to callers who may not read them.
    let r = srv
        .anon
        .get(srv.url("/api/v1/usage/team/a"))
        .send()
        .await
        .expect("anon");
    assert_eq!(r.status(), 404);
    let v: serde_json::Value = srv
        .anon
        .get(srv.url("/api/v1/usage/team"))
        .send()
        .await
        .expect("anon")
        .json()
        .await
        .expect("json");
    assert_eq!(v["repositories"], json!([]));
    assert_eq!(v["deduplicated_bytes"], 0);
}
