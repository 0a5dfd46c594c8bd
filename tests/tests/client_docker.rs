//! The `rreg` client beside the real Docker engine: an image pushed by `docker push` is pulled by
//! `rreg pull` and its `rreg history` (local and `--remote`) prints what `docker history` prints;
//! `rreg save` → `docker load` → `docker run` works; `docker save` → `rreg load` → `rreg push` →
//! `docker pull` → `docker run` works. `docker login` serves `rreg` (one `config.json`).
//! Skipped (passing, printing `skipped: …`) unless `RREG_TEST_DOCKER=1`.

mod client_util;
mod common;

use client_util::{docker, docker_ok, docker_run, docker_test_image, Rreg};
use common::{TestServer, ADMIN_PASSWORD};

/// An rreg environment that uses docker's own config.json (so `docker login` serves rreg).
fn rreg_with_docker_config() -> Rreg {
    let mut r = Rreg::new();
    r.docker_config = common::docker_config_dir();
    r
}

/// Builds a small multi-step image from the test image, pushes it with docker, and leaves docker
/// holding only the pulled-back copy (no local parent chain, as on any machine that pulled it).
async fn docker_pushed_image(addr: &str, repo: &str) -> String {
    let ctx = tempfile::tempdir().expect("tempdir");
    let base = docker_test_image();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {base}\nRUN echo hello > /hello && mkdir -p /data && echo x > /data/x\nENV GREETING=hi\nLABEL test=rreg\nRUN ln -s /hello /hello-link\nCMD [\"/bin/sh\", \"-c\", \"cat /hello\"]\n"
        ),
    )
    .expect("write Dockerfile");
    let name = format!("{addr}/{repo}");
    docker_ok(&[
        "build",
        "--network=none",
        "-q",
        "-t",
        &name,
        ctx.path().to_str().expect("utf8"),
    ])
    .await;
    docker_ok(&["login", "-u", "admin", "-p", ADMIN_PASSWORD, addr]).await;
    docker_ok(&["push", &name]).await;
    docker_ok(&["rmi", &name]).await;
    docker_ok(&["pull", "-q", &name]).await;
    name
}

async fn same_output(rreg: &Rreg, rreg_args: &[&str], docker_args: &[&str]) {
    for attempt in 0..3 {
        let ours = rreg.ok(rreg_args).await;
        let theirs = docker_ok(docker_args).await;
        if ours.stdout == theirs.stdout {
            return;
        }
        // Relative times can tick between the two commands; try again before failing.
        if attempt == 2 {
            panic!(
                "rreg and docker disagree\n--- rreg {rreg_args:?} ---\n{}\n--- docker {docker_args:?} ---\n{}",
                ours.stdout, theirs.stdout
            );
        }
    }
}

#[tokio::test]
async fn docker_pushed_image_pulls_and_history_matches_docker() {
    if docker().is_none() {
        println!("skipped: RREG_TEST_DOCKER not set");
        return;
    }
    let srv = TestServer::start().await;
    let name = docker_pushed_image(&srv.addr, "admin/hist:1").await;
    let r = rreg_with_docker_config();
    let pull = r.ok(&["pull", &name]).await;
    assert!(pull.stdout.contains("Pull complete"), "{pull}");
    // The same image ID as docker's.
    let docker_id = docker_ok(&["image", "inspect", "-f", "{{.Id}}", &name]).await;
    let ours = r.ok(&["inspect", &name]).await;
    let v: serde_json::Value = serde_json::from_str(&ours.stdout).expect("json");
    assert_eq!(v[0]["Id"].as_str(), Some(docker_id.stdout.trim()));

    same_output(&r, &["history", &name], &["history", &name]).await;
    same_output(
        &r,
        &["history", "--no-trunc", "-H=false", &name],
        &["history", "--no-trunc", "--human=false", &name],
    )
    .await;
    same_output(&r, &["history", "-q", &name], &["history", "-q", &name]).await;
    // Read from the registry, without the local copy.
    let fresh = rreg_with_docker_config();
    same_output(&fresh, &["history", "--remote", &name], &["history", &name]).await;
    same_output(&fresh, &["history", &name], &["history", &name]).await;
}

#[tokio::test]
async fn rreg_save_docker_load_docker_run() {
    if docker().is_none() {
        println!("skipped: RREG_TEST_DOCKER not set");
        return;
    }
    let srv = TestServer::start().await;
    let name = docker_pushed_image(&srv.addr, "admin/saved:1").await;
    let r = rreg_with_docker_config();
    r.ok(&["pull", "-q", &name]).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("image.tar");
    let archive = archive.to_str().expect("utf8");
    r.ok(&["save", "-o", archive, &name]).await;
    docker_ok(&["rmi", &name]).await;
    let load = docker_ok(&["load", "-i", archive]).await;
    assert!(load.stdout.contains(&name), "{load}");
    let run = docker_ok(&["run", "--rm", "--network=none", &name]).await;
    assert_eq!(run.stdout.trim(), "hello");
}

#[tokio::test]
async fn docker_save_rreg_load_push_docker_pull_run() {
    if docker().is_none() {
        println!("skipped: RREG_TEST_DOCKER not set");
        return;
    }
    let srv = TestServer::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let archive = dir.path().join("base.tar");
    let archive = archive.to_str().expect("utf8");
    let base = docker_test_image();
    docker_ok(&["save", "-o", archive, &base]).await;
    let r = rreg_with_docker_config();
    let load = r.ok(&["load", "-i", archive]).await;
    assert!(load.stdout.contains("Loaded image:"), "{load}");
    let name = format!("{}/admin/loaded:1", srv.addr);
    r.ok(&["tag", &base, &name]).await;
    docker_ok(&["login", "-u", "admin", "-p", ADMIN_PASSWORD, &srv.addr]).await;
    r.ok(&["push", &name]).await;
    let _ = docker_run(&["rmi", &name]).await;
    docker_ok(&["pull", "-q", &name]).await;
    let run = docker_ok(&["run", "--rm", "--network=none", &name, "echo", "ok"]).await;
    assert_eq!(run.stdout.trim(), "ok");
    let _ = docker_run(&["rmi", &name]).await;
}
