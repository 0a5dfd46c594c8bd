//! COPY and ADD: which source files a step takes (globs, `.dockerignore`), the content hash the
//! step's cache key uses, and the copy itself with Docker's rules — a directory's *contents* are
//! copied, several sources need a destination ending in `/`, missing directories are created,
//! files get uid/gid 0 (or `--chown`) and their mode (or `--chmod`), ADD unpacks local tar
//! archives. [`apply`] runs inside the job's mount namespace with the overlay mounted; destination
//! paths are resolved inside the container root, following its symlinks without leaving it.

use std::io::Read as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use rreg_oci::digest::{Algorithm, Hasher};
use serde::{Deserialize, Serialize};

use super::dockerignore::{clean, Ignore};
use super::glob;
use crate::runtime::user;

/// One source of a COPY/ADD.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub enum Source {
    /// A path or glob under the source root.
    Path(String),
    /// A heredoc: a file named `name` with this content.
    Inline {
        /// File name.
        name: String,
        /// Content.
        content: String,
    },
    /// A downloaded URL: the file at `host`, named `name`.
    File {
        /// Where the download is.
        host: PathBuf,
        /// File name in the image.
        name: String,
    },
}

/// What one COPY/ADD does.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    /// Host folder the `Path` sources are relative to (the context, or a stage's mounted root).
    pub root: PathBuf,
    /// Whether `root` is the build context (files become 0:0; otherwise ownership is kept).
    pub from_context: bool,
    /// `.dockerignore` (context only).
    pub ignore: Option<Ignore>,
    /// The sources.
    pub sources: Vec<Source>,
    /// Absolute destination in the container (a trailing `/` means a directory).
    pub dest: String,
    /// `--chown`.
    pub chown: Option<String>,
    /// `--chmod`.
    pub chmod: Option<u32>,
    /// ADD: unpack local tar archives.
    pub extract: bool,
}

/// The context-relative paths a source pattern names (sorted). Empty when nothing matches.
pub fn matches(root: &Path, pattern: &str, ignore: Option<&Ignore>) -> anyhow::Result<Vec<String>> {
    let cleaned = clean(pattern.trim_start_matches('/'));
    if cleaned == ".." || cleaned.starts_with("../") {
        bail!("forbidden path outside the build context: {pattern}");
    }
    let excluded = |rel: &str| ignore.is_some_and(|i| i.excluded(rel));
    if !glob::has_meta(&cleaned) {
        if cleaned == "." {
            return Ok(vec![".".into()]);
        }
        let p = root.join(&cleaned);
        if std::fs::symlink_metadata(&p).is_err() || excluded(&cleaned) {
            // An excluded directory may still hold re-included files.
            if p.is_dir() && ignore.is_some_and(|i| i.may_reinclude_below(&cleaned)) {
                return Ok(vec![cleaned]);
            }
            return Ok(Vec::new());
        }
        return Ok(vec![cleaned]);
    }
    // Walk only as deep as the pattern has segments.
    let depth = cleaned.split('/').count();
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), 0usize)];
    while let Some((dir, d)) = stack.pop() {
        let abs = if dir.is_empty() {
            root.to_owned()
        } else {
            root.join(&dir)
        };
        let Ok(rd) = std::fs::read_dir(&abs) else { continue };
        for e in rd.flatten() {
            let Some(name) = e.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            let rel = if dir.is_empty() { name } else { format!("{dir}/{name}") };
            if d + 1 == depth {
                if glob::matches_path(&cleaned, &rel) && !excluded(&rel) {
                    out.push(rel);
                }
            } else if e.file_type().is_ok_and(|t| t.is_dir()) {
                stack.push((rel, d + 1));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Every file under the matched sources, as `(relative path, absolute path)`, sorted, excluding
/// ignored ones.
pub fn walk(root: &Path, rel: &str, ignore: Option<&Ignore>, out: &mut Vec<(String, PathBuf)>) -> anyhow::Result<()> {
    let abs = if rel == "." { root.to_owned() } else { root.join(rel) };
    let md = std::fs::symlink_metadata(&abs).with_context(|| format!("reading {}", abs.display()))?;
    let included = rel == "." || !ignore.is_some_and(|i| i.excluded(rel));
    if included {
        out.push((rel.to_owned(), abs.clone()));
    }
    if md.is_dir() && (included || ignore.is_some_and(|i| i.may_reinclude_below(rel))) {
        let mut names: Vec<String> = std::fs::read_dir(&abs)
            .with_context(|| format!("reading {}", abs.display()))?
            .filter_map(|e| e.ok().and_then(|e| e.file_name().to_str().map(str::to_owned)))
            .collect();
        names.sort();
        for n in names {
            let child = if rel == "." { n } else { format!("{rel}/{n}") };
            walk(root, &child, ignore, out)?;
        }
    }
    Ok(())
}

/// The content hash of a plan's sources (paths, types, modes, owners, contents — not mtimes),
/// for the step's cache key.
pub fn hash_sources(plan: &Plan) -> anyhow::Result<String> {
    let mut h = Hasher::new(Algorithm::Sha256);
    let mut buf = vec![0u8; 128 << 10];
    for s in &plan.sources {
        match s {
            Source::Path(p) => {
                let found = matches(&plan.root, p, plan.ignore.as_ref())?;
                if found.is_empty() {
                    bail!("{p}: no such file or directory in the build context (or excluded by .dockerignore)");
                }
                h.update(format!("src {p}\0").as_bytes());
                for rel in found {
                    let mut files = Vec::new();
                    walk(&plan.root, &rel, plan.ignore.as_ref(), &mut files)?;
                    for (r, abs) in files {
                        let md = std::fs::symlink_metadata(&abs)?;
                        h.update(format!("{r}\0{:o}\0{}\0{}\0", md.mode(), md.uid(), md.gid()).as_bytes());
                        if md.file_type().is_symlink() {
                            h.update(std::fs::read_link(&abs)?.as_os_str().as_encoded_bytes());
                        } else if md.is_file() {
                            let mut f =
                                std::fs::File::open(&abs).with_context(|| format!("reading {}", abs.display()))?;
                            h.update(format!("{}\0", md.len()).as_bytes());
                            loop {
                                let n = f.read(&mut buf)?;
                                if n == 0 {
                                    break;
                                }
                                h.update(&buf[..n]);
                            }
                        }
                        h.update(b"\n");
                    }
                }
            }
            Source::Inline { name, content } => h.update(format!("inline {name}\0{content}\0").as_bytes()),
            Source::File { host, name } => {
                h.update(format!("file {name}\0").as_bytes());
                h.update(&std::fs::read(host)?);
            }
        }
    }
    Ok(h.finish().hex().to_owned())
}

/// Resolves the container path `path` inside `root`, following symlinks as the container would
/// see them (absolute targets are relative to `root`; `..` never leaves it).
pub fn secure_join(root: &Path, path: &str) -> anyhow::Result<PathBuf> {
    let mut parts: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
    parts.reverse();
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(p) = parts.pop() {
        match p.as_str() {
            "." => continue,
            ".." => {
                cur.pop();
                continue;
            }
            _ => {}
        }
        let candidate = cur.iter().fold(root.to_owned(), |acc, c| acc.join(c)).join(&p);
        match std::fs::symlink_metadata(&candidate) {
            Ok(md) if md.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    bail!("too many levels of symbolic links in {path}");
                }
                let target = std::fs::read_link(&candidate)?;
                let t = target.to_string_lossy().into_owned();
                if t.starts_with('/') {
                    cur.clear();
                }
                for seg in t.split('/').filter(|s| !s.is_empty()).rev() {
                    parts.push(seg.to_owned());
                }
            }
            _ => cur.push(p),
        }
    }
    Ok(cur.iter().fold(root.to_owned(), |acc, c| acc.join(c)))
}

/// Creates `dir` and its missing parents (mode 0755, owned by `owner`).
fn mkdir_p(dir: &Path, owner: (u32, u32)) -> anyhow::Result<()> {
    if dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        mkdir_p(parent, owner)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => return Ok(()),
        Err(e) => return Err(e).with_context(|| format!("creating {}", dir.display())),
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755))?;
    std::os::unix::fs::lchown(dir, Some(owner.0), Some(owner.1))?;
    Ok(())
}

fn set_times(path: &Path, md: &std::fs::Metadata) {
    let ts = rustix::fs::Timespec {
        tv_sec: md.mtime(),
        tv_nsec: md.mtime_nsec(),
    };
    let t = rustix::fs::Timestamps {
        last_access: ts,
        last_modification: ts,
    };
    let _ = rustix::fs::utimensat(rustix::fs::CWD, path, &t, rustix::fs::AtFlags::SYMLINK_NOFOLLOW);
}

struct Copier<'a> {
    plan: &'a Plan,
    owner: Option<(u32, u32)>,
}

impl Copier<'_> {
    fn ids(&self, md: &std::fs::Metadata) -> (u32, u32) {
        match self.owner {
            Some(o) => o,
            None if self.plan.from_context => (0, 0),
            None => (md.uid(), md.gid()),
        }
    }

    fn remove_existing(&self, target: &Path, src_is_dir: bool) -> anyhow::Result<()> {
        match std::fs::symlink_metadata(target) {
            Ok(md) if md.is_dir() && src_is_dir => Ok(()),
            Ok(md) if md.is_dir() => {
                std::fs::remove_dir_all(target).with_context(|| format!("replacing {}", target.display()))
            }
            Ok(_) => std::fs::remove_file(target).with_context(|| format!("replacing {}", target.display())),
            Err(_) => Ok(()),
        }
    }

    /// Copies one entry (not recursing) from `src` to `target`.
    fn entry(&self, src: &Path, target: &Path) -> anyhow::Result<()> {
        let md = std::fs::symlink_metadata(src).with_context(|| format!("reading {}", src.display()))?;
        let (uid, gid) = self.ids(&md);
        let ft = md.file_type();
        self.remove_existing(target, ft.is_dir())?;
        if ft.is_dir() {
            if !target.is_dir() {
                std::fs::create_dir(target).with_context(|| format!("creating {}", target.display()))?;
            }
        } else if ft.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(src)?, target)
                .with_context(|| format!("creating {}", target.display()))?;
            std::os::unix::fs::lchown(target, Some(uid), Some(gid))?;
            set_times(target, &md);
            return Ok(());
        } else if ft.is_file() {
            std::fs::copy(src, target).with_context(|| format!("copying {} to {}", src.display(), target.display()))?;
        } else {
            // Devices, fifos and sockets are not copied by COPY.
            return Ok(());
        }
        std::os::unix::fs::lchown(target, Some(uid), Some(gid))?;
        let mode = self.plan.chmod.unwrap_or(md.mode() & 0o7777);
        std::fs::set_permissions(target, std::fs::Permissions::from_mode(mode))?;
        set_times(target, &md);
        Ok(())
    }

    /// Copies the contents of source directory `rel` (under the plan root) into `dest`.
    fn tree(&self, rel: &str, dest: &Path) -> anyhow::Result<()> {
        let mut files = Vec::new();
        walk(&self.plan.root, rel, self.plan.ignore.as_ref(), &mut files)?;
        let mut dirs = Vec::new();
        for (r, abs) in files {
            let sub = if rel == "." {
                r.as_str()
            } else {
                r.strip_prefix(rel).map(|s| s.trim_start_matches('/')).unwrap_or(&r)
            };
            if sub.is_empty() || sub == "." {
                continue;
            }
            let target = dest.join(sub);
            if let Some(parent) = target.parent() {
                mkdir_p(parent, self.owner.unwrap_or((0, 0)))?;
            }
            self.entry(&abs, &target)?;
            if abs.is_dir() {
                dirs.push((abs, target));
            }
        }
        // Directory times last: copying into them changed them.
        for (abs, target) in dirs.into_iter().rev() {
            if let Ok(md) = std::fs::symlink_metadata(&abs) {
                set_times(&target, &md);
            }
        }
        Ok(())
    }
}

fn is_tar_archive(path: &Path) -> anyhow::Result<Option<bool>> {
    let mut f = std::fs::File::open(path)?;
    let mut head = [0u8; 512];
    let mut n = 0;
    while n < head.len() {
        let r = f.read(&mut head[n..])?;
        if r == 0 {
            break;
        }
        n += r;
    }
    if n >= 2 && head[0] == 0x1f && head[1] == 0x8b {
        // gzip: a tar inside?
        let mut gz = flate2::read::GzDecoder::new(std::fs::File::open(path)?);
        let mut inner = [0u8; 512];
        let mut m = 0;
        while m < inner.len() {
            match gz.read(&mut inner[m..]) {
                Ok(0) | Err(_) => break,
                Ok(r) => m += r,
            }
        }
        return Ok((m == 512 && &inner[257..262] == b"ustar").then_some(true));
    }
    Ok((n == 512 && &head[257..262] == b"ustar").then_some(false))
}

/// Performs the plan with the container root at `root`.
pub fn apply(plan: &Plan, root: &Path) -> anyhow::Result<()> {
    let owner = match &plan.chown {
        Some(s) => {
            let ids = user::resolve(s, root)?;
            Some((ids.uid, ids.gid))
        }
        None => None,
    };
    let copier = Copier { plan, owner };
    let mut expanded: Vec<(PathBuf, String)> = Vec::new();
    let mut several = plan.sources.len() > 1;
    for s in &plan.sources {
        match s {
            Source::Path(p) => {
                let found = matches(&plan.root, p, plan.ignore.as_ref())?;
                if found.is_empty() {
                    bail!("{p}: no such file or directory (or excluded by .dockerignore)");
                }
                several |= found.len() > 1 || glob::has_meta(p);
                for rel in found {
                    let abs = if rel == "." {
                        plan.root.clone()
                    } else {
                        plan.root.join(&rel)
                    };
                    expanded.push((abs, rel));
                }
            }
            Source::File { host, name } => expanded.push((host.clone(), name.clone())),
            Source::Inline { .. } => {}
        }
    }
    if several && !plan.dest.ends_with('/') {
        bail!("when copying more than one source, the destination must be a directory and end with a /");
    }
    let dest = secure_join(root, &plan.dest)?;
    let dest_is_dir = plan.dest.ends_with('/') || several || dest.is_dir();
    let dir_owner = owner.unwrap_or((0, 0));
    for s in &plan.sources {
        if let Source::Inline { name, content } = s {
            let target = if dest_is_dir { dest.join(name) } else { dest.clone() };
            if let Some(parent) = target.parent() {
                mkdir_p(parent, dir_owner)?;
            }
            copier.remove_existing(&target, false)?;
            std::fs::write(&target, content).with_context(|| format!("writing {}", target.display()))?;
            std::os::unix::fs::lchown(&target, Some(dir_owner.0), Some(dir_owner.1))?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(plan.chmod.unwrap_or(0o644)))?;
        }
    }
    for (abs, rel) in expanded {
        let md = std::fs::symlink_metadata(&abs).with_context(|| format!("reading {}", abs.display()))?;
        if md.is_dir() {
            mkdir_p(&dest, dir_owner)?;
            copier.tree(&rel, &dest)?;
            continue;
        }
        if plan.extract && md.is_file() && plan.from_context {
            if let Some(gz) = is_tar_archive(&abs)? {
                mkdir_p(&dest, dir_owner)?;
                let f = std::fs::File::open(&abs)?;
                let r: Box<dyn std::io::Read> = if gz {
                    Box::new(flate2::read::MultiGzDecoder::new(f))
                } else {
                    Box::new(f)
                };
                let mut a = tar::Archive::new(r);
                a.set_preserve_permissions(true);
                a.set_preserve_ownerships(true);
                a.set_overwrite(true);
                a.unpack(&dest).with_context(|| format!("unpacking {rel}"))?;
                continue;
            }
        }
        let base = Path::new(&rel).file_name().map(|n| n.to_owned()).unwrap_or_default();
        let target = if dest_is_dir { dest.join(base) } else { dest.clone() };
        if let Some(parent) = target.parent() {
            mkdir_p(parent, dir_owner)?;
        }
        copier.entry(&abs, &target)?;
        if plan
            .sources
            .iter()
            .any(|s| matches!(s, Source::File { host, .. } if *host == abs))
        {
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(plan.chmod.unwrap_or(0o600)))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secure_join_stays_inside() {
        let root = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(root.path().join("usr/app")).expect("mkdir");
        std::os::unix::fs::symlink("/usr/app", root.path().join("app")).expect("symlink");
        std::os::unix::fs::symlink("../../../..", root.path().join("up")).expect("symlink");
        assert_eq!(
            secure_join(root.path(), "/app/x").expect("ok"),
            root.path().join("usr/app/x")
        );
        assert_eq!(
            secure_join(root.path(), "/up/etc").expect("ok"),
            root.path().join("etc")
        );
        assert_eq!(secure_join(root.path(), "../../x").expect("ok"), root.path().join("x"));
    }

    #[test]
    fn globs_and_ignore() {
        let ctx = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(ctx.path().join("src/sub")).expect("mkdir");
        for f in ["a.txt", "b.txt", "c.log", "src/x.rs", "src/sub/y.rs"] {
            std::fs::write(ctx.path().join(f), f).expect("write");
        }
        let ig = Ignore::parse("*.log\nsrc/sub\n", ".dockerignore").expect("ignore");
        assert_eq!(
            matches(ctx.path(), "*.txt", Some(&ig)).expect("ok"),
            vec!["a.txt", "b.txt"]
        );
        assert!(matches(ctx.path(), "c.log", Some(&ig)).expect("ok").is_empty());
        assert_eq!(
            matches(ctx.path(), "src/*.rs", Some(&ig)).expect("ok"),
            vec!["src/x.rs"]
        );
        assert!(matches(ctx.path(), "../etc", None).is_err());
        let mut files = Vec::new();
        walk(ctx.path(), "src", Some(&ig), &mut files).expect("walk");
        let rels: Vec<&str> = files.iter().map(|(r, _)| r.as_str()).collect();
        assert_eq!(rels, vec!["src", "src/x.rs"]);
    }
}
