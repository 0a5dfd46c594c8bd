//! Hostile layers: one image per way a layer tar can try to write outside its root, built here byte
//! for byte, pushed to rreg-server with `rreg push`, then pulled, built FROM and run with rreg. The
//! pull stores the (digest-verified) blobs and extracts nothing; the first extraction (build, run)
//! refuses the layer with an error naming the layer and the entry, writes nothing outside, leaves
//! no half-extracted layer behind and does not panic. A benign image goes through the same steps and
//! runs, so the harness can tell refusal from breakage. Skipped (printing `skipped: …`) where
//! containers cannot run (not root).

mod build_util;
mod client_util;
mod common;

use std::path::{Path, PathBuf};

use build_util::{busybox, skip, Ctx};
use client_util::{sha256, tar_entry, tar_header, write_image, Out, Rreg};
use common::{TestServer, ADMIN_PASSWORD};

/// A fixture: its name, its one layer tar, and what the refusal must say.
struct Fixture {
    name: &'static str,
    layer: Vec<u8>,
    says: &'static str,
}

fn end(mut entries: Vec<u8>) -> Vec<u8> {
    entries.extend_from_slice(&[0; 1024]);
    entries
}

/// `../` enough times to climb out of the store (a temporary folder a few levels deep), then `outside`.
fn climb(outside: &Path) -> Vec<u8> {
    let rel = outside.strip_prefix("/").expect("absolute");
    format!("{}{}", "../".repeat(12), rel.display()).into_bytes()
}

fn fixtures(outside: &Path) -> Vec<Fixture> {
    let o = |rel: &str| outside.join(rel).to_str().expect("utf8").as_bytes().to_vec();
    let mut huge_pax = tar_header(b"PaxHeaders/f", 512 << 20, b'x', b"", 0o644, (0, 0)).to_vec();
    huge_pax.extend_from_slice(&[b'9'; 4096]);
    let mut bad_sum = tar_entry(b"etc/motd", b'0', b"", b"hi");
    bad_sum[148] = b'7';
    vec![
        Fixture {
            name: "dotdot",
            layer: end(tar_entry(&climb(&outside.join("dotdot")), b'0', b"", b"pwned")),
            says: "`..` component leaves the layer",
        },
        Fixture {
            name: "absolute",
            layer: end(tar_entry(&o("absolute"), b'0', b"", b"pwned")),
            says: "absolute path",
        },
        Fixture {
            name: "symlink-dir",
            layer: end([
                tar_entry(b"up", b'2', &o(""), b""),
                tar_entry(b"up/symlink-dir", b'0', b"", b"pwned"),
            ]
            .concat()),
            says: "written through the symbolic link up",
        },
        Fixture {
            name: "relative-symlink",
            layer: end(tar_entry(b"a/b", b'2', &climb(outside), b"")),
            says: "points outside the layer",
        },
        Fixture {
            name: "hardlink",
            layer: end([
                tar_entry(b"h", b'1', &climb(&outside.join("victim")), b""),
                tar_entry(b"h", b'0', b"", b"pwned"),
            ]
            .concat()),
            says: "hard link to",
        },
        Fixture {
            name: "hardlink-absolute",
            layer: end(tar_entry(b"h", b'1', &o("victim"), b"")),
            says: "not a file of this layer",
        },
        Fixture {
            name: "device",
            layer: end(tar_header(b"disk", 0, b'4', b"", 0o666, (8, 0)).to_vec()),
            says: "device nodes are made only under /dev",
        },
        Fixture {
            name: "whiteout-outside",
            layer: end(tar_entry(&climb(&outside.join(".wh.victim")), b'0', b"", b"")),
            says: "`..` component leaves the layer",
        },
        Fixture {
            name: "whiteout-through-symlink",
            layer: end([
                tar_entry(b"l", b'2', &o(""), b""),
                tar_entry(b"l/.wh.victim", b'0', b"", b""),
            ]
            .concat()),
            says: "written through the symbolic link l",
        },
        Fixture {
            name: "huge-header",
            layer: end(huge_pax),
            says: "tar header record of 536870912 bytes",
        },
        Fixture {
            name: "bad-checksum",
            layer: end(bad_sum),
            says: "checksum",
        },
    ]
}

/// What `outside` holds: the victim file and nothing else, unchanged.
fn assert_untouched(outside: &Path, what: &str) {
    let names: Vec<String> = std::fs::read_dir(outside)
        .expect("read outside")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        vec!["victim".to_owned()],
        "{what}: something was written outside"
    );
    assert_eq!(
        std::fs::read(outside.join("victim")).expect("victim"),
        b"precious",
        "{what}: the victim changed"
    );
}

/// Extracted layers of a store: none may be left for a refused layer, finished or not.
fn extracted(home: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(home.join("build/layers")) {
        Ok(rd) => {
            let mut v: Vec<PathBuf> = rd.map(|e| e.expect("entry").path()).collect();
            v.sort();
            v
        }
        Err(_) => Vec::new(),
    }
}

fn assert_refused(o: &Out, f: &Fixture, layer_digest: &str, step: &str) {
    assert!(!o.ok(), "{step} {}: accepted\n{}{}", f.name, o.stdout, o.stderr);
    assert!(!o.stderr.contains("panicked"), "{step} {}: panic\n{}", f.name, o.stderr);
    assert!(
        o.stderr.contains(f.says) && o.stderr.contains(layer_digest),
        "{step} {}: the error must say {:?} and name layer {layer_digest}:\n{}",
        f.name,
        f.says,
        o.stderr
    );
}

#[tokio::test]
async fn hostile_layers_are_refused_by_build_and_run() {
    if skip() {
        return;
    }
    let srv = TestServer::start().await;
    let host = srv.base.trim_start_matches("http://").to_owned();
    let outside = tempfile::tempdir().expect("tempdir");
    std::fs::write(outside.path().join("victim"), b"precious").expect("victim");

    let pusher = Rreg::new();
    pusher.login(&host, "admin", ADMIN_PASSWORD).await;
    let all = fixtures(outside.path());
    // A benign image beside them: the same path through push, pull, build and run works.
    let bb = std::fs::read(busybox().expect("busybox")).expect("read busybox");
    let benign = end(tar_entry(b"bin/busybox", b'0', b"", &bb));
    let benign_ref = format!("{host}/admin/hostile:benign");
    write_image(pusher.home.path(), &benign_ref, std::slice::from_ref(&benign));
    pusher.ok(&["push", &benign_ref]).await;
    for f in &all {
        let r = format!("{host}/admin/hostile:{}", f.name);
        write_image(pusher.home.path(), &r, std::slice::from_ref(&f.layer));
        pusher.ok(&["push", "-q", &r]).await;
    }

    let user = Rreg::new();
    user.login(&host, "admin", ADMIN_PASSWORD).await;
    user.ok(&["pull", &benign_ref]).await;
    let o = user
        .ok(&["run", "--rm", &benign_ref, "/bin/busybox", "echo", "benign"])
        .await;
    assert_eq!(o.stdout.trim(), "benign");
    let good_layers = extracted(user.home.path());
    let benign_diff = sha256(&benign)[7..].to_owned();
    assert!(
        good_layers.iter().any(|p| p.ends_with(&benign_diff)),
        "the benign layer is extracted: {good_layers:?}"
    );

    for f in &all {
        let r = format!("{host}/admin/hostile:{}", f.name);
        let digest = sha256(&f.layer);
        // Pull stores verified blobs and extracts nothing.
        user.ok(&["pull", "-q", &r]).await;
        assert_untouched(outside.path(), f.name);
        let o = user.run(&["run", "--rm", &r, "/bin/sh"]).await;
        assert_refused(&o, f, &digest, "run");
        println!("run {}: {}", f.name, o.stderr.trim());
        assert_untouched(outside.path(), f.name);
        assert_eq!(
            extracted(user.home.path()),
            good_layers,
            "run {}: a layer was left behind",
            f.name
        );
        let ctx = Ctx::new(&format!("FROM {r}\nRUN [\"/bin/busybox\", \"true\"]\n"));
        let o = user.run(&["build", "-t", "out:1", ctx.arg()]).await;
        assert_refused(&o, f, &digest, "build");
        assert_untouched(outside.path(), f.name);
        assert_eq!(
            extracted(user.home.path()),
            good_layers,
            "build {}: a layer was left behind",
            f.name
        );
        // Looking at the layer is safe: it reads the tar and writes nothing.
        let o = user.run(&["layers", &r]).await;
        assert!(!o.stderr.contains("panicked"), "layers {}: {}", f.name, o.stderr);
        assert_untouched(outside.path(), f.name);
    }
}
