//! Helpers for the `rreg build` / `run` / `commit` tests: whether this machine can run containers
//! (root and overlayfs — otherwise the tests print `skipped: …`), build contexts holding the static
//! busybox, a busybox base stage built by rreg itself from `scratch`, and readers for the built
//! image's config and layers straight from the store.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::client_util::{Out, Rreg};

/// The first stage of most test Dockerfiles: busybox on scratch, applets installed.
pub const BASE: &str = "FROM scratch AS base\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENV PATH=/bin\n";

/// Why containers cannot run here, if they cannot (not root, no overlayfs, no busybox).
pub fn cannot_build() -> Option<String> {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_owned))
        })
        .unwrap_or_default();
    if uid != "0" {
        return Some("rreg build needs root (namespaces and overlayfs)".into());
    }
    if !std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .contains("overlay")
    {
        return Some("the kernel has no overlayfs".into());
    }
    if busybox().is_none() {
        return Some("no static busybox (package busybox-static)".into());
    }
    None
}

/// Prints `skipped: …` and returns true when containers cannot run here.
pub fn skip() -> bool {
    match cannot_build() {
        Some(why) => {
            println!("skipped: {why}");
            true
        }
        None => false,
    }
}

/// The static busybox binary.
pub fn busybox() -> Option<PathBuf> {
    ["/bin/busybox", "/usr/bin/busybox"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// A build context in a temporary folder, with `busybox` in it.
pub struct Ctx {
    pub dir: tempfile::TempDir,
}

impl Ctx {
    pub fn new(dockerfile: &str) -> Ctx {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::copy(busybox().expect("busybox"), dir.path().join("busybox")).expect("copy busybox");
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("write Dockerfile");
        Ctx { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn arg(&self) -> &str {
        self.dir.path().to_str().expect("utf8")
    }

    pub fn write(&self, rel: &str, content: impl AsRef<[u8]>) {
        let p = self.dir.path().join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(p, content).expect("write");
    }
}

/// `rreg build -q … CONTEXT`: the image ID, asserting success.
pub async fn build_id(r: &Rreg, ctx: &Ctx, args: &[&str]) -> String {
    let mut a = vec!["build", "-q"];
    a.extend_from_slice(args);
    a.push(ctx.arg());
    let o = r.ok(&a).await;
    o.stdout.trim().to_owned()
}

/// `rreg build … CONTEXT` (not quiet), whatever the outcome.
pub async fn build(r: &Rreg, ctx: &Ctx, args: &[&str]) -> Out {
    let mut a = vec!["build"];
    a.extend_from_slice(args);
    a.push(ctx.arg());
    r.run(&a).await
}

/// A blob of the store, as JSON.
pub fn blob_json(r: &Rreg, digest: &str) -> Value {
    let hex = digest.trim_start_matches("sha256:");
    let bytes = std::fs::read(r.home.path().join("blobs/sha256").join(hex)).expect("blob");
    serde_json::from_slice(&bytes).expect("json")
}

/// `rreg run --rm IMAGE CMD…`, asserting success; stdout.
pub async fn run_in(r: &Rreg, image: &str, cmd: &[&str]) -> String {
    let mut a = vec!["run", "--rm", image];
    a.extend_from_slice(cmd);
    r.ok(&a).await.stdout
}

/// Lines of `#N …` progress output that say CACHED.
pub fn cached_steps(o: &Out) -> usize {
    o.stdout
        .lines()
        .filter(|l| l.starts_with('#') && l.ends_with(" CACHED"))
        .count()
}

/// Whether the build printed `line` as a line of its own (RUN output, not the step header).
pub fn printed(o: &Out, line: &str) -> bool {
    o.stdout.lines().any(|l| l == line)
}
