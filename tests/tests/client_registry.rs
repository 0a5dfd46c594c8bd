//! The `rreg` client against a real rreg-server with auth on: login, push, pull into a fresh store,
//! re-push that sends nothing, cross-repository mounts, remote retag, tags, rmi, save/load, and
//! one-line errors.

mod client_util;
mod common;

use client_util::{assert_one_line_error, noise, tar, write_image, Proxy, Rreg};
use common::{TestServer, ADMIN_PASSWORD};

/// A two-layer image of about 2 MiB under `name` in `r`'s store.
fn sample_image(r: &Rreg, name: &str, seed: u64) -> client_util::WrittenImage {
    let big = noise(2 << 20, seed);
    let l1 = tar(&[("bin/tool", &big)], &[("bin/alias", "/bin/tool")]);
    let l2 = tar(&[("etc/motd", format!("hello {seed}\n").as_bytes())], &[]);
    write_image(r.home.path(), name, &[l1, l2])
}

#[tokio::test]
async fn login_push_pull_same_digest() {
    let srv = TestServer::start().await;
    let a = Rreg::new();
    let name = format!("{}/admin/app:1", srv.addr);
    let img = sample_image(&a, &name, 1);
    a.login(&srv.addr, "admin", ADMIN_PASSWORD).await;
    let config = std::fs::read_to_string(a.docker_config.join("config.json")).expect("config.json");
    assert!(config.contains(&srv.addr), "{config}");

    let push = a.ok(&["push", &name]).await;
    assert!(push.stdout.contains("Pushed"), "{push}");
    assert!(
        push.stdout.contains(&format!("1: digest: {}", img.manifest_digest)),
        "{push}"
    );

    // A fresh store with the same logins pulls the same image.
    let b = Rreg::sharing_config(&a);
    let pull = b.ok(&["pull", &name]).await;
    assert!(
        pull.stdout.contains(&format!("Digest: {}", img.manifest_digest)),
        "{pull}"
    );
    assert!(pull.stdout.contains("Pull complete"), "{pull}");
    assert!(pull.stdout.trim_end().ends_with(&name), "{pull}");
    for l in &img.layers {
        let p = |r: &Rreg| r.home.path().join("blobs/sha256").join(&l[7..]);
        assert_eq!(std::fs::read(p(&a)).expect("a"), std::fs::read(p(&b)).expect("b"));
    }
    let inspect = b.ok(&["inspect", &name]).await;
    let v: serde_json::Value = serde_json::from_str(&inspect.stdout).expect("json");
    assert_eq!(v[0]["Descriptor"]["digest"], img.manifest_digest.as_str());
    assert_eq!(v[0]["Id"], img.config_digest.as_str());
    assert_eq!(v[0]["RepoTags"][0], name.as_str());

    // Pulling again downloads nothing.
    let again = b.ok(&["pull", &name]).await;
    assert!(again.stdout.contains("Status: Image is up to date"), "{again}");
    assert!(again.stdout.contains("Already exists"), "{again}");

    // By digest, too.
    let by_digest = format!("{}/admin/app@{}", srv.addr, img.manifest_digest);
    let c = Rreg::sharing_config(&a);
    c.ok(&["pull", "-q", &by_digest]).await;
    let images = c.ok(&["images"]).await;
    assert!(images.stdout.contains(&format!("{}/admin/app", srv.addr)), "{images}");
    assert!(images.stdout.contains(&img.config_digest[7..19]), "{images}");
}

#[tokio::test]
async fn repush_sends_no_layer_bytes_and_mounts_across_repositories() {
    let srv = TestServer::start().await;
    let proxy = Proxy::start(&srv.addr).await;
    let a = Rreg::new();
    let name = format!("{}/admin/app:1", proxy.addr);
    sample_image(&a, &name, 2);
    a.login(&proxy.addr, "admin", ADMIN_PASSWORD).await;

    proxy.reset();
    a.ok(&["push", &name]).await;
    let first = proxy.sent();
    assert!(first > 2 << 20, "the first push sent only {first} bytes");

    proxy.reset();
    let again = a.ok(&["push", &name]).await;
    let second = proxy.sent();
    assert!(second < 32 << 10, "a re-push sent {second} bytes:\n{again}");
    assert!(again.stdout.contains("Layer already exists"), "{again}");
    assert!(!again.stdout.contains("Pushed"), "{again}");

    // The same layers into another repository are mounted, not sent.
    let other = format!("{}/admin/other:1", proxy.addr);
    a.ok(&["tag", &name, &other]).await;
    proxy.reset();
    let mounted = a.ok(&["push", &other]).await;
    let third = proxy.sent();
    assert!(mounted.stdout.contains("Mounted from admin/app"), "{mounted}");
    assert!(third < 32 << 10, "a push with mounts sent {third} bytes:\n{mounted}");

    // And the mounted image pulls back whole.
    let b = Rreg::sharing_config(&a);
    b.ok(&["pull", &other]).await;
}

#[tokio::test]
async fn default_registry_tags_and_remote_retag() {
    let srv = TestServer::start().await;
    let a = Rreg::new();
    let full = format!("{}/admin/app:1", srv.addr);
    let img = sample_image(&a, &full, 3);
    a.login(&srv.addr, "admin", ADMIN_PASSWORD).await;
    // After login, names without a host go to that registry.
    let push = a.ok(&["push", "-q", "admin/app:1"]).await;
    assert_eq!(push.stdout.trim(), img.manifest_digest);

    a.ok(&["tag", "--remote", "admin/app:1", "admin/app:2"]).await;
    a.ok(&["tag", "--remote", "admin/app:1", "admin/copy:9"]).await;
    let tags = a.ok(&["tags", "admin/app"]).await;
    let lines: Vec<&str> = tags.stdout.lines().collect();
    assert!(lines[0].starts_with("TAG"), "{tags}");
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("1 ") && l.contains(&img.manifest_digest)),
        "{tags}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("2 ") && l.contains(&img.manifest_digest)),
        "{tags}"
    );
    let copy = a.ok(&["tags", "-q", "admin/copy"]).await;
    assert_eq!(copy.stdout.trim(), "9");
    let b = Rreg::sharing_config(&a);
    // The default registry belongs to a's data folder; b names the host.
    let pulled = b.ok(&["pull", &format!("{}/admin/copy:9", srv.addr)]).await;
    assert!(pulled.stdout.contains(&img.manifest_digest), "{pulled}");

    // Logging out forgets the credentials and the default registry.
    let out = a.ok(&["logout", &srv.addr]).await;
    assert!(out.stdout.contains("Removing login credentials"), "{out}");
    let config = std::fs::read_to_string(a.docker_config.join("config.json")).expect("config.json");
    assert!(!config.contains(&srv.addr), "{config}");
}

#[tokio::test]
async fn history_rmi_and_save_load() {
    let srv = TestServer::start().await;
    let a = Rreg::new();
    let name = format!("{}/admin/app:1", srv.addr);
    let img = sample_image(&a, &name, 4);
    let hist = a.ok(&["history", &name]).await;
    let lines: Vec<&str> = hist.stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{hist}");
    assert!(lines[0].starts_with("IMAGE          CREATED"), "{hist}");
    assert!(lines[1].starts_with(&img.config_digest[7..19]), "{hist}");
    assert!(
        lines[1].contains("CMD [\"/bin/sh\"]") && lines[1].contains("0B"),
        "{hist}"
    );
    // 2 MiB file + a 9-byte symlink target, as Docker measures a layer.
    assert!(
        lines[3].starts_with("<missing>") && lines[3].contains("2.1MB"),
        "{hist}"
    );
    let json = a
        .ok(&["history", "--format", "json", "--no-trunc", "-H=false", &name])
        .await;
    let rows: Vec<serde_json::Value> = json
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(rows[0]["ID"], img.config_digest.as_str());
    assert_eq!(rows[2]["Size"], "2097161");

    // save (OCI) → load into a fresh store → same image.
    let archive = a.home.path().join("../archive.tar");
    let archive = archive.to_str().expect("utf8").to_owned();
    a.ok(&["save", "--format", "oci", "-o", &archive, &name]).await;
    let b = Rreg::new();
    let loaded = b.ok(&["load", "-i", &archive]).await;
    assert!(loaded.stdout.contains(&format!("Loaded image: {name}")), "{loaded}");
    let inspect = b.ok(&["inspect", &name]).await;
    assert!(inspect.stdout.contains(&img.manifest_digest), "{inspect}");
    let _ = std::fs::remove_file(&archive);

    // rmi removes the name and the blobs nothing else uses.
    let other = format!("{}/admin/app:2", srv.addr);
    a.ok(&["tag", &name, &other]).await;
    let before = a.blob_count();
    a.ok(&["rmi", &name]).await;
    assert_eq!(a.blob_count(), before, "blobs still used by :2 were removed");
    a.ok(&["rmi", &other]).await;
    assert_eq!(a.blob_count(), 0);
    let gone = a.run(&["inspect", &other]).await;
    assert!(!gone.ok());
}

#[tokio::test]
async fn errors_are_one_readable_line() {
    let srv = TestServer::start().await;
    let a = Rreg::new();
    // Private repository, no login.
    let name = format!("{}/admin/app:1", srv.addr);
    sample_image(&a, &name, 5);
    let o = a.run(&["push", &name]).await;
    assert_one_line_error(&o);
    assert!(o.stderr.contains("unauthorized"), "{o}");
    // Wrong password.
    let o = a
        .run_stdin(
            &["login", &srv.addr, "-u", "admin", "--password-stdin"],
            Some(b"wrong\n"),
        )
        .await;
    assert_one_line_error(&o);
    assert!(
        o.stderr.contains("login to") && o.stderr.contains("unauthorized"),
        "{o}"
    );
    // Unknown image.
    a.login(&srv.addr, "admin", ADMIN_PASSWORD).await;
    let o = a.run(&["pull", &format!("{}/admin/nope:1", srv.addr)]).await;
    assert_one_line_error(&o);
    assert!(o.stderr.contains("not found"), "{o}");
    // Nothing listening.
    let o = a.run(&["pull", "127.0.0.1:1/x/y:1"]).await;
    assert_one_line_error(&o);
    assert!(o.stderr.contains("cannot reach 127.0.0.1:1"), "{o}");
    // Bad reference, missing local image.
    let o = a.run(&["pull", "Bad/Name"]).await;
    assert_one_line_error(&o);
    let o = a.run(&["push", "127.0.0.1:1/not/here:1"]).await;
    assert_one_line_error(&o);
    assert!(o.stderr.contains("does not exist locally"), "{o}");
    // A failed pull leaves no image behind.
    assert!(!a.run(&["inspect", &format!("{}/admin/nope:1", srv.addr)]).await.ok());
}

#[tokio::test]
async fn chunked_upload_and_resumed_verified_download() {
    let srv = TestServer::start().await;
    let mut a = Rreg::new();
    // 2 MiB layer in 500 kB chunks: PATCH with Content-Range, then the final PUT.
    a.extra_env.push(("RREG_CHUNK_SIZE".into(), "500000".into()));
    let name = format!("{}/admin/chunked:1", srv.addr);
    let img = sample_image(&a, &name, 6);
    a.login(&srv.addr, "admin", ADMIN_PASSWORD).await;
    let push = a.ok(&["push", &name]).await;
    assert!(push.stdout.contains(&img.manifest_digest), "{push}");

    // A download interrupted half-way is resumed from the partial file.
    let big = &img.layers[0];
    let layer = std::fs::read(a.home.path().join("blobs/sha256").join(&big[7..])).expect("layer");
    let b = Rreg::sharing_config(&a);
    let partial = b.home.path().join("tmp").join(format!("sha256-{}.partial", &big[7..]));
    std::fs::create_dir_all(partial.parent().expect("parent")).expect("mkdir");
    std::fs::write(&partial, &layer[..layer.len() / 2]).expect("write partial");
    b.ok(&["pull", &name]).await;
    assert_eq!(
        std::fs::read(b.home.path().join("blobs/sha256").join(&big[7..])).expect("pulled layer"),
        layer
    );
    assert!(!partial.exists());

    // A corrupt partial file fails verification, is discarded, and the next pull succeeds.
    let c = Rreg::sharing_config(&a);
    let partial = c.home.path().join("tmp").join(format!("sha256-{}.partial", &big[7..]));
    std::fs::create_dir_all(partial.parent().expect("parent")).expect("mkdir");
    std::fs::write(&partial, vec![0u8; layer.len() / 2]).expect("write partial");
    let o = c.run(&["pull", &name]).await;
    assert_one_line_error(&o);
    assert!(o.stderr.contains("digest mismatch"), "{o}");
    assert!(!partial.exists());
    assert!(!c.run(&["inspect", &name]).await.ok(), "a failed pull left an image");
    c.ok(&["pull", &name]).await;
}

#[tokio::test]
async fn pull_picks_the_platform_from_an_index() {
    let srv = TestServer::start().await;
    let a = Rreg::new();
    a.login(&srv.addr, "admin", ADMIN_PASSWORD).await;
    let amd = format!("{}/admin/multi:amd64", srv.addr);
    let arm = format!("{}/admin/multi:arm64", srv.addr);
    let i1 = client_util::write_image_for(a.home.path(), &amd, &[tar(&[("a", b"amd64\n")], &[])], "amd64");
    let i2 = client_util::write_image_for(a.home.path(), &arm, &[tar(&[("a", b"arm64\n")], &[])], "arm64");
    a.ok(&["push", &amd]).await;
    a.ok(&["push", &arm]).await;
    let size = |d: &str| {
        std::fs::metadata(a.home.path().join("blobs/sha256").join(&d[7..]))
            .expect("blob")
            .len()
    };
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": i2.manifest_digest, "size": size(&i2.manifest_digest),
             "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": i1.manifest_digest, "size": size(&i1.manifest_digest),
             "platform": {"os": "linux", "architecture": "amd64"}},
        ],
    });
    let bytes = serde_json::to_vec(&index).expect("json");
    let index_digest = common::digest(&bytes);
    let resp = srv
        .client
        .put(srv.url("/v2/admin/multi/manifests/all"))
        .header("content-type", "application/vnd.oci.image.index.v1+json")
        .body(bytes)
        .send()
        .await
        .expect("put index");
    assert_eq!(resp.status(), 201);
    let multi = format!("{}/admin/multi:all", srv.addr);

    let b = Rreg::sharing_config(&a);
    let pull = b.ok(&["pull", "--platform", "linux/arm64", &multi]).await;
    assert!(pull.stdout.contains(&format!("Digest: {index_digest}")), "{pull}");
    let v: serde_json::Value = serde_json::from_str(&b.ok(&["inspect", &multi]).await.stdout).expect("json");
    assert_eq!(v[0]["Architecture"], "arm64");
    assert_eq!(v[0]["Descriptor"]["digest"], i2.manifest_digest.as_str());
    assert_eq!(
        v[0]["RepoDigests"][0],
        format!("{}/admin/multi@{index_digest}", srv.addr).as_str()
    );

    let c = Rreg::sharing_config(&a);
    c.ok(&["pull", "--platform", "linux/amd64", &multi]).await;
    let v: serde_json::Value = serde_json::from_str(&c.ok(&["inspect", &multi]).await.stdout).expect("json");
    assert_eq!(v[0]["Architecture"], "amd64");

    let o = c.run(&["pull", "--platform", "linux/s390x", &multi]).await;
    assert_one_line_error(&o);
    assert!(o.stderr.contains("no matching manifest for linux/s390x"), "{o}");
}
