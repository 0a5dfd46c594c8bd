//! Extracting a layer tar written by a stranger, without ever writing outside its root.
//!
//! The `tar` crate parses the headers (in raw mode, so that GNU long names and PAX records come to us
//! as entries whose size we bound before reading them); everything that touches the file system is
//! done here, with every path checked first:
//!
//! * entry names are relative, with no `..` component, no NUL, components of at most 255 bytes and
//!   at most 4096 bytes in all (a leading `./` is fine; an absolute name is refused);
//! * no entry is written through a symbolic link: every parent directory is checked (and created when
//!   missing) with `lstat`, and files are opened with `O_NOFOLLOW`;
//! * a symbolic link may point anywhere absolute (that is resolved inside the container's root) but a
//!   relative one may not climb above the root;
//! * a hard link must name an entry already extracted from this layer, by a clean path;
//! * device nodes are made only by root and only under `/dev`; FIFOs anywhere;
//! * whiteouts (`.wh.NAME`, `.wh..wh..opq`) go through the same checks and become overlayfs whiteouts
//!   (a `0:0` character device, the `trusted.overlay.opaque` xattr);
//! * PAX and GNU long-name records over 1 MiB, sparse files and unknown entry types are refused.
//!
//! A refused entry is an error naming its path; the caller extracts into a temporary directory and
//! removes it on error, so nothing of a refused layer is left half-applied.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Component, Path, PathBuf};

use anyhow::{anyhow, bail, Context as _};

use super::layer::{OPAQUE_MARKER, OPAQUE_XATTR, WHITEOUT_PREFIX};

/// Largest PAX record block or GNU long name/link accepted for one entry.
const MAX_META_BYTES: u64 = 1 << 20;
/// Largest path accepted (Linux's `PATH_MAX`).
const MAX_PATH_BYTES: usize = 4096;
/// Largest path component accepted (Linux's `NAME_MAX`).
const MAX_NAME_BYTES: usize = 255;

/// Metadata of one entry, from its header and PAX records.
struct Meta {
    path: PathBuf,
    link: Option<Vec<u8>>,
    mode: u32,
    uid: u64,
    gid: u64,
    mtime: i64,
    /// Major and minor numbers of a device node.
    device: (u32, u32),
    xattrs: Vec<(String, Vec<u8>)>,
}

/// A directory whose mode and times are set once everything inside it is written.
struct DirMeta {
    path: PathBuf,
    mode: u32,
    mtime: i64,
}

/// Unpacks a layer tar into `dest` (an empty directory) in overlayfs form.
pub fn unpack(r: impl Read, dest: &Path) -> anyhow::Result<()> {
    let mut u = Unpacker {
        dest,
        root: rustix::process::geteuid().is_root(),
        dirs_ok: HashSet::new(),
        dirs: Vec::new(),
    };
    let mut archive = tar::Archive::new(r);
    let mut long_name: Option<Vec<u8>> = None;
    let mut long_link: Option<Vec<u8>> = None;
    let mut pax: Option<Vec<u8>> = None;
    for entry in archive.entries().context("reading the layer")?.raw(true) {
        let mut entry = entry.context("reading a tar header")?;
        let kind = entry.header().entry_type();
        let size = entry.header().entry_size().context("reading a tar header's size")?;
        if kind.is_gnu_longname() || kind.is_gnu_longlink() || kind.is_pax_local_extensions() {
            if size > MAX_META_BYTES {
                bail!("a tar header record of {size} bytes (at most {MAX_META_BYTES} are accepted)");
            }
            let mut buf = Vec::with_capacity(size as usize);
            entry.read_to_end(&mut buf).context("reading a tar header record")?;
            let slot = if kind.is_gnu_longname() {
                &mut long_name
            } else if kind.is_gnu_longlink() {
                &mut long_link
            } else {
                &mut pax
            };
            if slot.is_some() {
                bail!("two tar header records of the same kind for one entry");
            }
            if !kind.is_pax_local_extensions() {
                while buf.last() == Some(&0) {
                    buf.pop();
                }
            }
            *slot = Some(buf);
            continue;
        }
        if kind.is_pax_global_extensions() {
            // Global records carry nothing a layer needs; skip their data (bounded all the same).
            if size > MAX_META_BYTES {
                bail!("a global tar header record of {size} bytes (at most {MAX_META_BYTES} are accepted)");
            }
            std::io::copy(&mut entry, &mut std::io::sink())?;
            continue;
        }
        let raw_path = pax_value(pax.as_deref(), "path")
            .map(|v| v.to_vec())
            .or_else(|| long_name.take())
            .unwrap_or_else(|| entry.header().path_bytes().into_owned());
        let shown = String::from_utf8_lossy(&raw_path).into_owned();
        let meta = (|| {
            let path = clean(&raw_path)?;
            let link = pax_value(pax.as_deref(), "linkpath")
                .map(|v| v.to_vec())
                .or_else(|| long_link.take())
                .or_else(|| entry.header().link_name_bytes().map(|b| b.into_owned()));
            let h = entry.header();
            let mut m = Meta {
                path,
                link,
                mode: h.mode().map_err(|e| anyhow!("bad mode field: {e}"))?,
                uid: h.uid().map_err(|e| anyhow!("bad uid field: {e}"))?,
                gid: h.gid().map_err(|e| anyhow!("bad gid field: {e}"))?,
                mtime: h.mtime().map_err(|e| anyhow!("bad mtime field: {e}"))? as i64,
                device: (
                    h.device_major().ok().flatten().unwrap_or(0),
                    h.device_minor().ok().flatten().unwrap_or(0),
                ),
                xattrs: Vec::new(),
            };
            if let Some(p) = pax.as_deref() {
                for rec in tar::PaxExtensions::new(p) {
                    let rec = rec.map_err(|e| anyhow!("malformed PAX record: {e}"))?;
                    let key = rec.key().map_err(|_| anyhow!("a PAX record key is not UTF-8"))?;
                    let num = || -> anyhow::Result<u64> {
                        let v = rec.value().map_err(|_| anyhow!("PAX {key} is not UTF-8"))?;
                        let whole = v.split('.').next().unwrap_or("");
                        whole.parse().map_err(|_| anyhow!("PAX {key}={v} is not a number"))
                    };
                    match key {
                        "size" if num()? != size => {
                            bail!("its PAX size differs from its header's size (sizes over 8 GiB are not supported)")
                        }
                        "uid" => m.uid = num()?,
                        "gid" => m.gid = num()?,
                        "mtime" => m.mtime = num()? as i64,
                        _ => {
                            if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
                                m.xattrs.push((name.to_owned(), rec.value_bytes().to_vec()));
                            }
                        }
                    }
                }
            }
            anyhow::Ok(m)
        })();
        pax = None;
        long_link = None;
        let meta = meta.with_context(|| format!("refused entry {shown:?}"))?;
        u.entry(&mut entry, kind, meta, &shown)
            .with_context(|| format!("refused entry {shown:?}"))?;
    }
    if long_name.is_some() || long_link.is_some() || pax.is_some() {
        bail!("the layer ends with a header record that describes no entry");
    }
    u.finish_dirs();
    Ok(())
}

/// The value of `key` in a PAX record block, if present and well formed.
fn pax_value<'a>(pax: Option<&'a [u8]>, key: &str) -> Option<&'a [u8]> {
    let mut found = None;
    for rec in tar::PaxExtensions::new(pax?).flatten() {
        if rec.key().ok() == Some(key) {
            found = Some(rec.value_bytes());
        }
    }
    found
}

/// An entry name as a clean relative path (empty for the root itself), or why it is refused.
fn clean(raw: &[u8]) -> anyhow::Result<PathBuf> {
    if raw.is_empty() {
        bail!("empty name");
    }
    if raw.contains(&0) {
        bail!("NUL byte in name");
    }
    if raw.len() > MAX_PATH_BYTES {
        bail!("name longer than {MAX_PATH_BYTES} bytes");
    }
    if raw[0] == b'/' {
        bail!("absolute path");
    }
    let mut out = PathBuf::new();
    for part in raw.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => bail!("`..` component leaves the layer"),
            p if p.len() > MAX_NAME_BYTES => bail!("name component longer than {MAX_NAME_BYTES} bytes"),
            p => out.push(std::ffi::OsStr::from_bytes(p)),
        }
    }
    Ok(out)
}

/// Whether a relative symlink target, seen from the directory `parent` (relative to the root),
/// stays inside the root.
fn link_stays_inside(parent: &Path, target: &[u8]) -> bool {
    if target.first() == Some(&b'/') {
        return true;
    }
    let mut depth = parent.components().count() as i64;
    for part in target.split(|b| *b == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => depth += 1,
        }
    }
    true
}

struct Unpacker<'a> {
    dest: &'a Path,
    root: bool,
    /// Directories (relative) known to be real directories, not symlinks, in this extraction.
    dirs_ok: HashSet<PathBuf>,
    dirs: Vec<DirMeta>,
}

impl Unpacker<'_> {
    /// Makes sure every component of `dir` (relative) is a real directory, creating missing ones;
    /// refuses to go through a symbolic link or a non-directory.
    fn ensure_dir(&mut self, dir: &Path) -> anyhow::Result<()> {
        let mut at = PathBuf::new();
        for c in dir.components() {
            at.push(c);
            if self.dirs_ok.contains(&at) {
                continue;
            }
            let full = self.dest.join(&at);
            match std::fs::symlink_metadata(&full) {
                Ok(md) if md.file_type().is_symlink() => {
                    bail!("it would be written through the symbolic link {}", at.display())
                }
                Ok(md) if md.is_dir() => {}
                Ok(_) => bail!("{} is not a directory", at.display()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&full).with_context(|| format!("creating {}", at.display()))?;
                }
                Err(e) => return Err(e).with_context(|| format!("reading {}", at.display())),
            }
            self.dirs_ok.insert(at.clone());
        }
        Ok(())
    }

    /// Removes whatever is at `rel` (never following a symlink), so that a new entry can take its place.
    fn clear(&mut self, rel: &Path) -> anyhow::Result<()> {
        let full = self.dest.join(rel);
        match std::fs::symlink_metadata(&full) {
            Ok(md) if md.is_dir() => {
                std::fs::remove_dir_all(&full).with_context(|| format!("replacing {}", rel.display()))?;
                self.dirs_ok.retain(|d| !d.starts_with(rel));
                self.dirs.retain(|d| !d.path.starts_with(rel));
            }
            Ok(_) => std::fs::remove_file(&full).with_context(|| format!("replacing {}", rel.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("reading {}", rel.display())),
        }
        Ok(())
    }

    fn entry(&mut self, data: &mut impl Read, kind: tar::EntryType, m: Meta, shown: &str) -> anyhow::Result<()> {
        let name = m.path.file_name().map(|n| n.as_bytes().to_vec()).unwrap_or_default();
        let parent = m.path.parent().unwrap_or(Path::new("")).to_path_buf();
        if name == OPAQUE_MARKER.as_bytes() {
            self.ensure_dir(&parent)?;
            let d = self.dest.join(&parent);
            rustix::fs::lsetxattr(&d, OPAQUE_XATTR, b"y", rustix::fs::XattrFlags::empty())
                .with_context(|| format!("marking {} opaque", parent.display()))?;
            return Ok(());
        }
        if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX.as_bytes()) {
            if hidden.is_empty() || hidden == b"." || hidden == b".." {
                bail!("a whiteout must name an entry");
            }
            self.ensure_dir(&parent)?;
            let target = parent.join(std::ffi::OsStr::from_bytes(hidden));
            self.clear(&target)?;
            rustix::fs::mknodat(
                rustix::fs::CWD,
                self.dest.join(&target),
                rustix::fs::FileType::CharacterDevice,
                rustix::fs::Mode::empty(),
                0,
            )
            .with_context(|| format!("creating the whiteout for {}", target.display()))?;
            return Ok(());
        }
        if m.path.as_os_str().is_empty() {
            // The root itself (`./`): only its metadata matters.
            if kind == tar::EntryType::Directory {
                self.dirs.push(DirMeta {
                    path: m.path,
                    mode: m.mode,
                    mtime: m.mtime,
                });
            }
            return Ok(());
        }
        self.ensure_dir(&parent)?;
        let full = self.dest.join(&m.path);
        match kind {
            tar::EntryType::Directory => {
                match std::fs::symlink_metadata(&full) {
                    Ok(md) if md.is_dir() => {}
                    Ok(_) => {
                        self.clear(&m.path)?;
                        std::fs::create_dir(&full)?;
                    }
                    Err(_) => std::fs::create_dir(&full)?,
                }
                self.dirs_ok.insert(m.path.clone());
                self.owner_and_xattrs(&full, &m)?;
                self.dirs.push(DirMeta {
                    path: m.path,
                    mode: m.mode,
                    mtime: m.mtime,
                });
                return Ok(());
            }
            tar::EntryType::Regular | tar::EntryType::Continuous => {
                self.clear(&m.path)?;
                let mut f = OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(&full)
                    .with_context(|| format!("creating {shown}"))?;
                std::io::copy(data, &mut f).with_context(|| format!("writing {shown}"))?;
                self.finish_file(&f, &m)?;
                return Ok(());
            }
            tar::EntryType::Symlink => {
                let target = m.link.clone().unwrap_or_default();
                if target.is_empty() || target.contains(&0) {
                    bail!("a symbolic link with an empty or invalid target");
                }
                if !link_stays_inside(&parent, &target) {
                    bail!(
                        "symbolic link to {:?} points outside the layer",
                        String::from_utf8_lossy(&target)
                    );
                }
                self.clear(&m.path)?;
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&target), &full)?;
            }
            tar::EntryType::Link => {
                let raw = m.link.clone().unwrap_or_default();
                let trimmed: &[u8] = {
                    let mut t = &raw[..];
                    while t.first() == Some(&b'/') {
                        t = &t[1..];
                    }
                    t
                };
                let target =
                    clean(trimmed).map_err(|e| anyhow!("hard link to {:?}: {e}", String::from_utf8_lossy(&raw)))?;
                let tparent = target.parent().unwrap_or(Path::new(""));
                let inside = !target.as_os_str().is_empty()
                    && tparent
                        .components()
                        .scan(PathBuf::new(), |at, c| {
                            at.push(c);
                            Some(at.clone())
                        })
                        .all(|at| self.dirs_ok.contains(&at))
                    && std::fs::symlink_metadata(self.dest.join(&target)).is_ok_and(|md| !md.is_dir());
                if !inside {
                    bail!(
                        "hard link to {:?}, which is not a file of this layer",
                        String::from_utf8_lossy(&raw)
                    );
                }
                if target == m.path {
                    return Ok(());
                }
                self.clear(&m.path)?;
                std::fs::hard_link(self.dest.join(&target), &full)?;
                // A hard link shares the target's inode: its metadata is the target's.
                return Ok(());
            }
            tar::EntryType::Char | tar::EntryType::Block => {
                let under_dev = m.path.components().next() == Some(Component::Normal("dev".as_ref()));
                if !(self.root && under_dev) {
                    bail!("device nodes are made only under /dev, and only when rreg runs as root");
                }
                let ft = if kind == tar::EntryType::Char {
                    rustix::fs::FileType::CharacterDevice
                } else {
                    rustix::fs::FileType::BlockDevice
                };
                self.clear(&m.path)?;
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &full,
                    ft,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    rustix::fs::makedev(m.device.0, m.device.1),
                )?;
            }
            tar::EntryType::Fifo => {
                self.clear(&m.path)?;
                rustix::fs::mknodat(
                    rustix::fs::CWD,
                    &full,
                    rustix::fs::FileType::Fifo,
                    rustix::fs::Mode::from_raw_mode(0o600),
                    0,
                )?;
            }
            tar::EntryType::GNUSparse => bail!("sparse files are not supported"),
            other => bail!("unsupported tar entry type {:?}", other.as_byte() as char),
        }
        self.owner_and_xattrs(&full, &m)?;
        if kind != tar::EntryType::Symlink {
            std::fs::set_permissions(&full, std::fs::Permissions::from_mode(m.mode & 0o7777))?;
        }
        set_times(&full, m.mtime);
        Ok(())
    }

    fn owner_and_xattrs(&self, full: &Path, m: &Meta) -> anyhow::Result<()> {
        if self.root {
            let uid = u32::try_from(m.uid).map_err(|_| anyhow!("uid {} out of range", m.uid))?;
            let gid = u32::try_from(m.gid).map_err(|_| anyhow!("gid {} out of range", m.gid))?;
            std::os::unix::fs::lchown(full, Some(uid), Some(gid))?;
        }
        for (name, value) in &m.xattrs {
            // Best effort, as tar does: a file system without user xattrs, or a symlink, may refuse.
            let _ = rustix::fs::lsetxattr(full, name.as_str(), value, rustix::fs::XattrFlags::empty());
        }
        Ok(())
    }

    fn finish_file(&self, f: &File, m: &Meta) -> anyhow::Result<()> {
        if self.root {
            let uid = u32::try_from(m.uid).map_err(|_| anyhow!("uid {} out of range", m.uid))?;
            let gid = u32::try_from(m.gid).map_err(|_| anyhow!("gid {} out of range", m.gid))?;
            std::os::unix::fs::fchown(f, Some(uid), Some(gid))?;
        }
        for (name, value) in &m.xattrs {
            let _ = rustix::fs::fsetxattr(f, name.as_str(), value, rustix::fs::XattrFlags::empty());
        }
        // After chown, which clears set-id bits.
        f.set_permissions(std::fs::Permissions::from_mode(m.mode & 0o7777))?;
        let _ = rustix::fs::futimens(f, &timestamps(m.mtime));
        Ok(())
    }

    /// Directory modes and times last: files written into a directory change its mtime, and a
    /// read-only directory mode would stop the writes.
    fn finish_dirs(&mut self) {
        for d in self.dirs.drain(..).rev() {
            let full = self.dest.join(&d.path);
            let _ = std::fs::set_permissions(&full, std::fs::Permissions::from_mode(d.mode & 0o7777));
            set_times(&full, d.mtime);
        }
    }
}

fn timestamps(mtime: i64) -> rustix::fs::Timestamps {
    let t = rustix::fs::Timespec {
        tv_sec: mtime,
        tv_nsec: 0,
    };
    rustix::fs::Timestamps {
        last_access: t,
        last_modification: t,
    }
}

fn set_times(full: &Path, mtime: i64) {
    let _ = rustix::fs::utimensat(
        rustix::fs::CWD,
        full,
        &timestamps(mtime),
        rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One tar entry with a name and link name written byte for byte (the `tar` builder refuses the
    /// hostile ones these tests need).
    fn raw(name: &[u8], kind: tar::EntryType, link: &[u8], data: &[u8]) -> Vec<u8> {
        let mut h = tar::Header::new_old();
        h.as_old_mut().name[..name.len()].copy_from_slice(name);
        h.as_old_mut().linkname[..link.len()].copy_from_slice(link);
        h.set_entry_type(kind);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        h.set_cksum();
        let mut out = h.as_bytes().to_vec();
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
        out
    }

    fn tar(entries: &[Vec<u8>]) -> Vec<u8> {
        let mut out: Vec<u8> = entries.concat();
        out.extend_from_slice(&[0; 1024]);
        out
    }

    /// Unpacks into `<tmp>/root` and returns the error text and whether anything appeared beside it.
    fn try_unpack(t: &[u8]) -> (Result<(), String>, tempfile::TempDir) {
        let top = tempfile::tempdir().expect("tempdir");
        let root = top.path().join("root");
        std::fs::create_dir(&root).expect("mkdir");
        let r = unpack(t, &root).map_err(|e| format!("{e:#}"));
        let beside: Vec<_> = std::fs::read_dir(top.path())
            .expect("readdir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(
            beside,
            vec![std::ffi::OsString::from("root")],
            "nothing written outside"
        );
        (r, top)
    }

    fn refused(t: &[u8], why: &str) {
        let (r, _top) = try_unpack(t);
        let e = r.expect_err("refused");
        assert!(e.contains(why), "{e}");
    }

    #[test]
    fn ordinary_entries_unpack() {
        let t = tar(&[
            raw(b"./", tar::EntryType::Directory, b"", b""),
            raw(b"./etc/", tar::EntryType::Directory, b"", b""),
            raw(b"./etc/motd", tar::EntryType::Regular, b"", b"hello"),
            raw(b"etc/link", tar::EntryType::Link, b"etc/motd", b""),
            raw(b"etc/abs", tar::EntryType::Symlink, b"/etc/motd", b""),
            raw(b"etc/rel", tar::EntryType::Symlink, b"../etc/motd", b""),
            raw(b"etc/.wh.gone", tar::EntryType::Regular, b"", b""),
            raw(b"var/.wh..wh..opq", tar::EntryType::Regular, b"", b""),
        ]);
        let (r, top) = try_unpack(&t);
        r.expect("unpacks");
        let root = top.path().join("root");
        assert_eq!(std::fs::read(root.join("etc/link")).expect("read"), b"hello");
        assert_eq!(
            std::fs::read_link(root.join("etc/rel")).expect("link"),
            Path::new("../etc/motd")
        );
        let wh = std::fs::symlink_metadata(root.join("etc/gone")).expect("whiteout");
        use std::os::unix::fs::FileTypeExt as _;
        assert!(wh.file_type().is_char_device());
    }

    #[test]
    fn escapes_are_refused() {
        let dots = tar(&[raw(b"../evil", tar::EntryType::Regular, b"", b"x")]);
        refused(&dots, "`..` component");
        let deep = tar(&[raw(b"a/b/../../../evil", tar::EntryType::Regular, b"", b"x")]);
        refused(&deep, "`..` component");
        let abs = tar(&[raw(b"/tmp/evil", tar::EntryType::Regular, b"", b"x")]);
        refused(&abs, "absolute path");
        let through = tar(&[
            raw(b"up", tar::EntryType::Symlink, b"/", b""),
            raw(b"up/evil", tar::EntryType::Regular, b"", b"x"),
        ]);
        refused(&through, "through the symbolic link up");
        let rel_out = tar(&[raw(b"a/out", tar::EntryType::Symlink, b"../../x", b"")]);
        refused(&rel_out, "points outside the layer");
        let hard_out = tar(&[raw(b"h", tar::EntryType::Link, b"../outside", b"")]);
        refused(&hard_out, "`..` component");
        let hard_missing = tar(&[raw(b"h", tar::EntryType::Link, b"etc/shadow", b"")]);
        refused(&hard_missing, "not a file of this layer");
        let hard_via_link = tar(&[
            raw(b"l", tar::EntryType::Symlink, b"/etc", b""),
            raw(b"h", tar::EntryType::Link, b"l/passwd", b""),
        ]);
        refused(&hard_via_link, "not a file of this layer");
        let wh_out = tar(&[raw(b"../.wh.victim", tar::EntryType::Regular, b"", b"")]);
        refused(&wh_out, "`..` component");
        let wh_through = tar(&[
            raw(b"l", tar::EntryType::Symlink, b"/", b""),
            raw(b"l/.wh.victim", tar::EntryType::Regular, b"", b""),
        ]);
        refused(&wh_through, "through the symbolic link l");
        let dev = tar(&[raw(b"disk", tar::EntryType::Block, b"", b"")]);
        refused(&dev, "device nodes");
    }

    #[test]
    fn huge_and_malformed_headers_are_refused() {
        let mut big = tar::Header::new_old();
        big.as_old_mut().name[..14].copy_from_slice(b"././@PaxHeader");
        big.set_entry_type(tar::EntryType::XHeader);
        big.set_size(64 << 20);
        big.set_cksum();
        let mut t = big.as_bytes().to_vec();
        t.extend_from_slice(&[0; 4096]);
        refused(&t, "tar header record of 67108864 bytes");
        let mut bad = tar(&[raw(b"f", tar::EntryType::Regular, b"", b"x")]);
        bad[0] ^= 0xff;
        refused(&bad, "checksum");
        let pax_size = {
            let rec = b"12 size=999\n";
            let mut p = raw(b"pax", tar::EntryType::XHeader, b"", rec);
            p.extend(raw(b"f", tar::EntryType::Regular, b"", b"x"));
            tar(&[p])
        };
        refused(&pax_size, "PAX size differs");
    }

    #[test]
    fn pax_long_names_are_followed() {
        let long = "d/".repeat(100) + "file";
        let rec = format!("{} path={long}\n", long.len() + 7 + 3);
        let t = tar(&[
            raw(b"pax", tar::EntryType::XHeader, b"", rec.as_bytes()),
            raw(b"short", tar::EntryType::Regular, b"", b"x"),
        ]);
        let (r, top) = try_unpack(&t);
        r.expect("unpacks");
        assert_eq!(std::fs::read(top.path().join("root").join(&long)).expect("read"), b"x");
    }
}
