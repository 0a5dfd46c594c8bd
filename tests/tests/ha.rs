//! Several instances sharing PostgreSQL and S3 (the test command starts both): uploads that cross
//! instances chunk by chunk, tokens from one accepted by the others, pushes through one and pulls
//! through another, docker through a round-robin balancer, and an instance killed mid-push while
//! another completes the push. Skipped (with a line saying so) when PostgreSQL or S3 is missing.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::{digest, TestServer};
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";

async fn cluster(n: usize) -> Option<Vec<TestServer>> {
    let (Some(db), Some(env)) = (common::postgres_url(), common::s3_storage_env()) else {
        println!("skipped: RREG_TEST_POSTGRES and RREG_TEST_S3_ENDPOINT are needed (the test command sets them)");
        return None;
    };
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(TestServer::start_shared(&db, &env).await);
    }
    Some(out)
}

fn location(r: &reqwest::Response) -> String {
    r.headers()["location"].to_str().expect("location").to_owned()
}

#[tokio::test]
async fn uploads_cross_instances_and_tokens_are_shared() {
    let Some(nodes) = cluster(3).await else { return };
    let (a, b, c) = (&nodes[0], &nodes[1], &nodes[2]);
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    let (first, rest) = data.split_at(1_000_000);
    let (second, third) = rest.split_at(1_000_000);

    // POST on A, a chunk on B, a chunk on C, the last chunk with the PUT on A.
    let r = a
        .client
        .post(a.url("/v2/ha/app/blobs/uploads/"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), 202);
    let loc = location(&r);
    let r = b
        .client
        .patch(b.url(&loc))
        .header("content-range", format!("0-{}", first.len() - 1))
        .body(first.to_vec())
        .send()
        .await
        .expect("patch b");
    assert_eq!(r.status(), 202);
    let loc = location(&r);
    let end = first.len() + second.len() - 1;
    let r = c
        .client
        .patch(c.url(&loc))
        .header("content-range", format!("{}-{end}", first.len()))
        .body(second.to_vec())
        .send()
        .await
        .expect("patch c");
    assert_eq!(r.status(), 202);
    assert_eq!(r.headers()["range"], format!("0-{end}").as_str());
    let loc = location(&r);
    // A repeated chunk is refused on any instance.
    let r = a
        .client
        .patch(a.url(&loc))
        .header("content-range", format!("0-{}", first.len() - 1))
        .body(first.to_vec())
        .send()
        .await
        .expect("repeat");
    assert_eq!(r.status(), 416);
    let r = a
        .client
        .put(a.url(&format!("{loc}?digest={}", digest(&data))))
        .header("content-range", format!("{}-{}", end + 1, data.len() - 1))
        .body(third.to_vec())
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    for n in &nodes {
        let r = n
            .client
            .get(n.url(&format!("/v2/ha/app/blobs/{}", digest(&data))))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status(), 200);
        assert_eq!(r.bytes().await.expect("body").as_ref(), &data[..]);
    }

    // A manifest pushed through B is read through C with a token issued by A.
    let config = br#"{"architecture":"amd64","os":"linux"}"#.to_vec();
    let r = b
        .client
        .post(b.url(&format!("/v2/ha/app/blobs/uploads/?digest={}", digest(&config))))
        .body(config.clone())
        .send()
        .await
        .expect("config");
    assert_eq!(r.status(), 201);
    let manifest = json!({
        "schemaVersion": 2, "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": digest(&config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest(&data), "size": data.len()}],
    })
    .to_string();
    let r = b
        .client
        .put(b.url("/v2/ha/app/manifests/v1"))
        .header("content-type", OCI_MANIFEST)
        .body(manifest.clone())
        .send()
        .await
        .expect("manifest");
    assert_eq!(r.status(), 201);
    let t: Value = a
        .client
        .get(a.url("/token?service=rreg&scope=repository:ha/app:pull"))
        .send()
        .await
        .expect("token")
        .json()
        .await
        .expect("json");
    let bearer = common::client_with(Some(&format!("Bearer {}", t["token"].as_str().expect("token"))));
    let r = bearer.get(c.url("/v2/ha/app/manifests/v1")).send().await.expect("pull");
    assert_eq!(r.status(), 200);
    assert_eq!(r.text().await.expect("text"), manifest);
}

#[tokio::test]
async fn an_instance_killed_mid_push_another_completes_it() {
    let Some(mut nodes) = cluster(2).await else { return };
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i * 7 % 253) as u8).collect();
    let (first, second) = data.split_at(1_200_000);
    let r = nodes[0]
        .client
        .post(nodes[0].url("/v2/ha/kill/blobs/uploads/"))
        .send()
        .await
        .expect("post");
    let loc = location(&r);
    let r = nodes[0]
        .client
        .patch(nodes[0].url(&loc))
        .header("content-range", format!("0-{}", first.len() - 1))
        .body(first.to_vec())
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 202);
    let loc = location(&r);
    // A dies (SIGKILL); the client carries on with B from the offset B reports.
    let mut dead = nodes.remove(0);
    dead.child.kill().await.expect("kill");
    let b = &nodes[0];
    let r = b.client.get(b.url(&loc)).send().await.expect("status");
    assert_eq!(r.status(), 204);
    assert_eq!(r.headers()["range"], format!("0-{}", first.len() - 1).as_str());
    let r = b
        .client
        .put(b.url(&format!("{loc}?digest={}", digest(&data))))
        .header("content-range", format!("{}-{}", first.len(), data.len() - 1))
        .body(second.to_vec())
        .send()
        .await
        .expect("put");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let r = b
        .client
        .get(b.url(&format!("/v2/ha/kill/blobs/{}", digest(&data))))
        .send()
        .await
        .expect("get");
    assert_eq!(r.bytes().await.expect("body").as_ref(), &data[..]);
}

/// A TCP balancer that sends each new connection to the next instance in turn.
async fn round_robin(upstreams: Vec<String>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut client, _)) = listener.accept().await {
            let i = next.fetch_add(1, Ordering::Relaxed) % upstreams.len();
            let up = upstreams[i].clone();
            tokio::spawn(async move {
                if let Ok(mut server) = TcpStream::connect(&up).await {
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                }
            });
        }
    });
    addr
}

fn docker(args: &[&str]) -> std::process::Output {
    let bin = std::env::var("DOCKER").unwrap_or_else(|_| "docker".into());
    std::process::Command::new(bin)
        .env("DOCKER_CONFIG", common::docker_config_dir())
        .args(args)
        .output()
        .expect("docker")
}

fn ok(args: &[&str]) -> String {
    let out = docker(args);
    assert!(
        out.status.success(),
        "docker {}: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn docker_push_and_pull_through_a_balancer() {
    if std::env::var("RREG_TEST_DOCKER").as_deref() != Ok("1") {
        println!("skipped: RREG_TEST_DOCKER not set");
        return;
    }
    let Some(nodes) = cluster(3).await else { return };
    let lb = round_robin(nodes.iter().map(|n| n.addr.clone()).collect()).await;
    let base = std::env::var("RREG_TEST_DOCKER_IMAGE").unwrap_or_else(|_| "busybox:rreg-test".into());
    let tag = format!("{lb}/ha/busybox:v1");
    let tasks = tokio::task::spawn_blocking(move || {
        ok(&["login", "-u", "admin", "-p", common::ADMIN_PASSWORD, &lb]);
        ok(&["tag", &base, &tag]);
        ok(&["push", &tag]);
        ok(&["rmi", &tag]);
        ok(&["pull", &tag]);
        let out = ok(&["run", "--rm", "--network=none", &tag, "echo", "through the balancer"]);
        let _ = docker(&["rmi", &tag]);
        out
    });
    let out = tasks.await.expect("docker");
    assert_eq!(out.trim(), "through the balancer");
}
