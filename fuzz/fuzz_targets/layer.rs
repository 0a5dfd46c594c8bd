//! `build::layer::unpack`, the extractor every layer blob from a registry or an archive goes
//! through, on arbitrary bytes (an uncompressed tar, as it sees them after gunzip). Each input is
//! extracted into a fresh `root` inside a fresh parent temporary directory. Properties: `unpack`
//! returns `Ok` or `Err` and never panics; afterwards the parent holds nothing but `root`, and `root`
//! is still a real directory — nothing was created, removed or replaced outside the extraction
//! directory. Under `fuzz/sandbox.sh` (`RREG_FUZZ_PRIVATE_TMPDIR` set) the private `TMPDIR` must
//! also hold nothing but the parent, which catches escapes of more than one level.
//!
//! As root this creates device nodes, set-id files and `trusted.*` xattrs inside the temporary
//! directory: run it through `fuzz/sandbox.sh` (see README.md).
#![no_main]

use std::ffi::OsString;
use std::path::Path;

use libfuzzer_sys::fuzz_target;

fn names(dir: &Path) -> Vec<OsString> {
    let mut v: Vec<OsString> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("listing {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").file_name())
        .collect();
    v.sort();
    v
}

/// Makes every real directory under `dir` writable (symlinks are not followed), so that a layer's
/// read-only directories do not stop an unprivileged run from cleaning up.
fn writable(dir: &Path) {
    let Ok(md) = std::fs::symlink_metadata(dir) else { return };
    if !md.is_dir() {
        return;
    }
    let _ = std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o700));
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            writable(&e.path());
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let parent = tempfile::Builder::new()
        .prefix("layer-fuzz")
        .tempdir()
        .expect("a temporary directory");
    let dest = parent.path().join("root");
    std::fs::create_dir(&dest).expect("creating the extraction directory");

    // Ok or Err are both fine; a panic is a crash.
    let _ = rreg::build::layer::unpack(data, &dest);

    assert_eq!(
        names(parent.path()),
        [OsString::from("root")],
        "unpack created something next to its destination"
    );
    let md = std::fs::symlink_metadata(&dest).expect("the extraction directory is still there");
    assert!(md.is_dir(), "the extraction directory was replaced");
    if std::env::var_os("RREG_FUZZ_PRIVATE_TMPDIR").is_some() {
        let tmp = std::env::temp_dir();
        let parent_name = parent.path().file_name().expect("a name").to_owned();
        assert_eq!(
            names(&tmp),
            [parent_name],
            "unpack created something in {}",
            tmp.display()
        );
    }
    // Clean up now, and completely: a leftover would fail the checks of the inputs that follow.
    let kept = parent.keep();
    if std::fs::remove_dir_all(&kept).is_err() {
        writable(&kept);
        std::fs::remove_dir_all(&kept).expect("removing the temporary directory");
    }
});
