//! The `rreg` client against CNCF distribution (`docker-registry`), with htpasswd basic auth and
//! without auth: push, pull into a fresh store with the same digest, re-push that sends nothing,
//! cross-repository mount, remote history and tags. Skipped when `docker-registry` is not installed.

mod client_util;
mod common;

use client_util::{assert_one_line_error, distribution_bin, noise, tar, write_image, Distribution, Proxy, Rreg};

async fn round_trip(reg: &Distribution, login: Option<(&str, &str)>) {
    let proxy = Proxy::start(&reg.addr).await;
    let mut a = Rreg::new();
    if login.is_some() {
        // Exercise chunked uploads (PATCH with Content-Range) against distribution too.
        a.extra_env.push(("RREG_CHUNK_SIZE".into(), "300000".into()));
    }
    let name = format!("{}/team/app:1", proxy.addr);
    let big = noise(1 << 20, 11);
    let img = write_image(
        a.home.path(),
        &name,
        &[
            tar(&[("data/blob", &big)], &[("data/link", "blob")]),
            tar(&[("etc/x", b"x\n")], &[]),
        ],
    );
    if let Some((u, p)) = login {
        // Without credentials the push is refused with one line.
        let o = a.run(&["push", &name]).await;
        assert_one_line_error(&o);
        assert!(o.stderr.contains("unauthorized"), "{o}");
        a.login(&proxy.addr, u, p).await;
    }
    let push = a.ok(&["push", &name]).await;
    assert!(
        push.stdout.contains(&format!("digest: {}", img.manifest_digest)),
        "{push}"
    );

    proxy.reset();
    let again = a.ok(&["push", &name]).await;
    assert!(proxy.sent() < 32 << 10, "re-push sent {} bytes:\n{again}", proxy.sent());

    let other = format!("{}/team/other:1", proxy.addr);
    a.ok(&["tag", &name, &other]).await;
    proxy.reset();
    let mounted = a.ok(&["push", &other]).await;
    assert!(mounted.stdout.contains("Mounted from team/app"), "{mounted}");
    assert!(
        proxy.sent() < 32 << 10,
        "mount push sent {} bytes:\n{mounted}",
        proxy.sent()
    );

    let b = Rreg::sharing_config(&a);
    let pull = b.ok(&["pull", &name]).await;
    assert!(
        pull.stdout.contains(&format!("Digest: {}", img.manifest_digest)),
        "{pull}"
    );
    let local = b.ok(&["history", "--no-trunc", &name]).await;
    let c = Rreg::sharing_config(&a);
    let remote = c.ok(&["history", "--no-trunc", "--remote", &name]).await;
    assert_eq!(local.stdout, remote.stdout);
    assert!(local.stdout.contains("COPY layer0 / # buildkit"), "{local}");
    let tags = c.ok(&["tags", &format!("{}/team/app", proxy.addr)]).await;
    assert!(tags.stdout.contains(&img.manifest_digest), "{tags}");
}

#[tokio::test]
async fn distribution_without_auth() {
    if distribution_bin().is_none() {
        println!("skipped: docker-registry not installed");
        return;
    }
    let reg = Distribution::start(None).await.expect("docker-registry starts");
    round_trip(&reg, None).await;
}

#[tokio::test]
async fn distribution_with_htpasswd() {
    if distribution_bin().is_none() {
        println!("skipped: docker-registry not installed");
        return;
    }
    let Some(reg) = Distribution::start(Some(("alice", "s3cret-pass"))).await else {
        println!("skipped: htpasswd (apache2-utils) not available");
        return;
    };
    round_trip(&reg, Some(("alice", "s3cret-pass"))).await;
}
