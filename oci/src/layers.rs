//! What an image's layers hold and how well they use their space: a layer's file list read from its
//! (uncompressed) tar stream, the per-layer changes against the layers below, and the wasted bytes
//! and efficiency score exactly as Dive (`wagoodman/dive`, `filetree/efficiency.go` and
//! `image/docker/image_archive.go`) computes them. Shared by rreg-server (which computes a layer's
//! file list once and stores it) and the `rreg layers` command. The caller decompresses; nothing
//! here opens files or sockets.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Read;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

/// The kind of a layer entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link.
    Symlink,
    /// A hard link to another entry of the layer.
    Hardlink,
    /// A character device.
    Char,
    /// A block device.
    Block,
    /// A named pipe.
    Fifo,
    /// A whiteout: the path is deleted from the layers below.
    Whiteout,
    /// An opaque-directory marker: the directory's contents below are hidden.
    Opaque,
}

impl FileKind {
    /// The lowercase name used on the wire (`file`, `dir`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::File => "file",
            FileKind::Dir => "dir",
            FileKind::Symlink => "symlink",
            FileKind::Hardlink => "hardlink",
            FileKind::Char => "char",
            FileKind::Block => "block",
            FileKind::Fifo => "fifo",
            FileKind::Whiteout => "whiteout",
            FileKind::Opaque => "opaque",
        }
    }
}

/// One entry of a layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// The path without a leading `/` (for whiteouts: the deleted path; for opaque markers: the
    /// directory).
    #[serde(rename = "p")]
    pub path: String,
    /// What it is.
    #[serde(rename = "k")]
    pub kind: FileKind,
    /// The size recorded in the tar header (0 for directories, links and whiteouts).
    #[serde(rename = "s")]
    pub size: u64,
    /// Permission bits and special bits (`0o755`).
    #[serde(rename = "m")]
    pub mode: u32,
    /// Owner.
    #[serde(rename = "u", default)]
    pub uid: u64,
    /// Group.
    #[serde(rename = "g", default)]
    pub gid: u64,
    /// Link target, for symlinks and hard links.
    #[serde(rename = "l", default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// The first 16 hex digits of the SHA-256 of a regular file's content (tells a changed file
    /// from one written again unchanged).
    #[serde(rename = "h", default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// A layer's entries in tar order (a path written twice keeps its last entry, as unpacking does).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerFiles {
    /// The entries.
    pub entries: Vec<FileEntry>,
}

impl LayerFiles {
    /// The layer's size as Dive counts it: the sum of the tar headers' sizes.
    pub fn size(&self) -> u64 {
        self.entries.iter().map(|e| e.size).sum()
    }

    /// The layer's size as `docker history` shows it: regular file bytes (hard links once) plus
    /// the lengths of symlink targets.
    pub fn diff_size(&self) -> u64 {
        self.entries
            .iter()
            .map(|e| match e.kind {
                FileKind::File => e.size,
                FileKind::Symlink => e.link.as_ref().map_or(0, |l| l.len() as u64),
                _ => 0,
            })
            .sum()
    }
}

/// Cleans a tar path as Go's `path.Clean` then strips leading `/`: `./a//b/` → `a/b`. Empty for
/// the root.
pub fn clean_path(p: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

/// Reads an uncompressed layer tar and lists its entries (regular files are hashed as they stream
/// by; nothing is held but the list).
pub fn read_tar(r: impl Read) -> std::io::Result<LayerFiles> {
    let mut archive = tar::Archive::new(r);
    let mut entries: Vec<FileEntry> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    for entry in archive.entries()? {
        let mut entry = entry?;
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let path = clean_path(&raw_path);
        if path.is_empty() {
            continue;
        }
        let h = entry.header();
        let size = entry.size();
        let mode = h.mode().unwrap_or(0);
        let uid = h.uid().unwrap_or(0);
        let gid = h.gid().unwrap_or(0);
        let link = entry
            .link_name_bytes()
            .map(|l| String::from_utf8_lossy(&l).into_owned());
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (d, n),
            None => ("", path.as_str()),
        };
        let (kind, path) = if name == OPAQUE {
            (FileKind::Opaque, dir.to_owned())
        } else if let Some(hidden) = name.strip_prefix(WHITEOUT) {
            let p = if dir.is_empty() {
                hidden.to_owned()
            } else {
                format!("{dir}/{hidden}")
            };
            (FileKind::Whiteout, p)
        } else {
            let kind = match h.entry_type() {
                tar::EntryType::Directory => FileKind::Dir,
                tar::EntryType::Symlink => FileKind::Symlink,
                tar::EntryType::Link => FileKind::Hardlink,
                tar::EntryType::Char => FileKind::Char,
                tar::EntryType::Block => FileKind::Block,
                tar::EntryType::Fifo => FileKind::Fifo,
                _ => FileKind::File,
            };
            (kind, path)
        };
        let hash = if kind == FileKind::File {
            let mut hasher = sha2::Sha256::new();
            loop {
                let n = entry.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                hasher.update(buf.get(..n).unwrap_or_default());
            }
            Some(hex::encode(hasher.finalize().get(..8).unwrap_or_default()))
        } else {
            None
        };
        let e = FileEntry {
            path,
            kind,
            size,
            mode,
            uid,
            gid,
            link: link.filter(|_| matches!(kind, FileKind::Symlink | FileKind::Hardlink)),
            hash,
        };
        // Whiteouts and opaque markers are keyed apart from the entries they name.
        let key = match kind {
            FileKind::Whiteout => format!("\0w{}", e.path),
            FileKind::Opaque => format!("\0o{}", e.path),
            _ => e.path.clone(),
        };
        match index.get(&key).and_then(|&i| entries.get_mut(i)) {
            Some(slot) => *slot = e,
            None => {
                index.insert(key, entries.len());
                entries.push(e);
            }
        }
    }
    Ok(LayerFiles { entries })
}

/// How a layer changes a path of the layers below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// New in this layer.
    Added,
    /// There below, and different here.
    Changed,
    /// Deleted by this layer (a whiteout, or the contents an opaque directory hides).
    Removed,
}

/// One change a layer makes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// The path, without a leading `/`.
    pub path: String,
    /// Added, changed or removed.
    pub change: ChangeKind,
    /// The kind of the entry (for removals: of what was removed).
    pub kind: FileKind,
    /// Bytes: the entry's size, or for a removal the size of what it removed.
    pub size: u64,
}

/// What one layer does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerReport {
    /// Position in the image, 0 = base.
    pub index: usize,
    /// Size as Dive counts it (tar header sizes).
    pub size: u64,
    /// Entries in the layer.
    pub file_count: u64,
    /// Entries added / changed / removed, and the bytes they carry.
    pub added: u64,
    /// See `added`.
    pub changed: u64,
    /// See `added`.
    pub removed: u64,
    /// Bytes of the added entries.
    pub added_bytes: u64,
    /// Bytes of the changed entries.
    pub changed_bytes: u64,
    /// Bytes removed.
    pub removed_bytes: u64,
    /// The changes, by path.
    pub changes: Vec<Change>,
}

/// A path seen in more than one layer, as Dive lists "inefficiencies".
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inefficiency {
    /// The path, with a leading `/` as Dive prints it.
    pub path: String,
    /// In how many layers it appears (whiteouts included).
    pub count: u64,
    /// The sum of its sizes over those layers.
    pub cumulative_size: u64,
}

/// An image's layers analysed as Dive does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ImageAnalysis {
    /// Sum of the layers' sizes.
    pub size_bytes: u64,
    /// Sum of the sizes of every layer but the first (the "user" layers).
    pub user_size_bytes: u64,
    /// Sum of the cumulative sizes of every path found in more than one layer.
    pub wasted_bytes: u64,
    /// `wasted_bytes / user_size_bytes` (a ratio: 0.1 is 10 %); 0 without user layers.
    pub wasted_user_percent: f64,
    /// Sum over paths of their smallest size / sum over paths of all their sizes; 1 when empty.
    pub efficiency: f64,
    /// Per layer.
    pub layers: Vec<LayerReport>,
    /// The paths found in more than one layer, largest cumulative size first.
    pub inefficiencies: Vec<Inefficiency>,
}

/// What the stacked layers below hold at a path.
#[derive(Debug, Clone)]
struct Node {
    /// Explicitly present as an entry (not only as a parent of one).
    explicit: bool,
    kind: FileKind,
    size: u64,
    mode: u32,
    uid: u64,
    gid: u64,
    link: Option<String>,
    hash: Option<String>,
}

impl Node {
    fn of(e: &FileEntry) -> Node {
        Node {
            explicit: true,
            kind: e.kind,
            size: e.size,
            mode: e.mode,
            uid: e.uid,
            gid: e.gid,
            link: e.link.clone(),
            hash: e.hash.clone(),
        }
    }

    fn implicit() -> Node {
        Node {
            explicit: false,
            kind: FileKind::Dir,
            size: 0,
            mode: 0,
            uid: 0,
            gid: 0,
            link: None,
            hash: None,
        }
    }

    /// A directory written again with the same owner and mode is no change.
    fn same_dir(&self, e: &FileEntry) -> bool {
        self.kind == FileKind::Dir
            && e.kind == FileKind::Dir
            && self.mode == e.mode
            && self.uid == e.uid
            && self.gid == e.gid
    }

    fn same_as(&self, e: &FileEntry) -> bool {
        self.explicit
            && self.kind == e.kind
            && self.size == e.size
            && self.mode == e.mode
            && self.uid == e.uid
            && self.gid == e.gid
            && self.link == e.link
            && self.hash == e.hash
    }
}

/// The stacked file system of the layers seen so far.
#[derive(Default)]
struct Stack {
    nodes: BTreeMap<String, Node>,
}

impl Stack {
    /// Paths strictly below `dir`.
    fn below<'a>(&'a self, dir: &str) -> impl Iterator<Item = (&'a String, &'a Node)> + 'a {
        let start = format!("{dir}/");
        // '0' is the character after '/'.
        let end = format!("{dir}0");
        self.nodes.range(start..end)
    }

    /// Bytes under `dir` and `dir` itself.
    fn tree_size(&self, dir: &str) -> u64 {
        self.nodes.get(dir).map_or(0, |n| n.size) + self.below(dir).map(|(_, n)| n.size).sum::<u64>()
    }

    fn remove_tree(&mut self, dir: &str) {
        let doomed: Vec<String> = self.below(dir).map(|(k, _)| k.clone()).collect();
        for k in doomed {
            self.nodes.remove(&k);
        }
        self.nodes.remove(dir);
    }

    /// Applies a layer as Dive's `FileTree.Stack` does: whiteouts remove, everything else
    /// (including the parents a layer implies without listing) is written over what was there.
    fn apply(&mut self, layer: &LayerFiles) {
        let listed: HashSet<&str> = layer
            .entries
            .iter()
            .filter(|e| !matches!(e.kind, FileKind::Whiteout | FileKind::Opaque))
            .map(|e| e.path.as_str())
            .collect();
        for e in &layer.entries {
            match e.kind {
                FileKind::Whiteout => self.remove_tree(&e.path),
                // Dive drops opaque markers; so do its numbers.
                FileKind::Opaque => {}
                _ => {
                    let mut p = e.path.as_str();
                    while let Some((parent, _)) = p.rsplit_once('/') {
                        if !listed.contains(parent) {
                            self.nodes.insert(parent.to_owned(), Node::implicit());
                        }
                        p = parent;
                    }
                    self.nodes.insert(e.path.clone(), Node::of(e));
                }
            }
        }
    }
}

#[derive(Default)]
struct PathData {
    count: u64,
    cumulative: u64,
    min: Option<u64>,
}

/// Analyses an image's layers, base first.
pub fn analyze(layers: &[&LayerFiles]) -> ImageAnalysis {
    let mut stack = Stack::default();
    let mut paths: HashMap<String, PathData> = HashMap::new();
    let mut reports = Vec::with_capacity(layers.len());
    for (index, layer) in layers.iter().enumerate() {
        // Dive visits the leaves of each layer's tree: entries no other entry of the layer sits under.
        let mut parents: HashSet<&str> = HashSet::new();
        for e in &layer.entries {
            let mut p = match e.kind {
                // A whiteout's own tree node is `dir/.wh.name`: its parents are the deleted path's.
                FileKind::Whiteout | FileKind::Opaque => {
                    if e.kind == FileKind::Opaque {
                        continue;
                    }
                    e.path.as_str()
                }
                _ => e.path.as_str(),
            };
            while let Some((parent, _)) = p.rsplit_once('/') {
                if !parents.insert(parent) {
                    break;
                }
                p = parent;
            }
        }
        let mut report = LayerReport {
            index,
            size: layer.size(),
            file_count: layer.entries.len() as u64,
            added: 0,
            changed: 0,
            removed: 0,
            added_bytes: 0,
            changed_bytes: 0,
            removed_bytes: 0,
            changes: Vec::new(),
        };
        for e in &layer.entries {
            // The changes, against the stack below.
            let below = stack.nodes.get(&e.path);
            match e.kind {
                FileKind::Whiteout => {
                    let size = if below.is_some() { stack.tree_size(&e.path) } else { 0 };
                    report.removed += 1;
                    report.removed_bytes += size;
                    report.changes.push(Change {
                        path: e.path.clone(),
                        change: ChangeKind::Removed,
                        kind: below.map_or(FileKind::File, |n| n.kind),
                        size,
                    });
                }
                FileKind::Opaque => {
                    let hidden = stack.below(&e.path).count();
                    if hidden > 0 {
                        let size = stack.below(&e.path).map(|(_, n)| n.size).sum::<u64>();
                        report.removed += 1;
                        report.removed_bytes += size;
                        report.changes.push(Change {
                            path: format!("{}/*", e.path),
                            change: ChangeKind::Removed,
                            kind: FileKind::Dir,
                            size,
                        });
                    }
                }
                _ => match below {
                    None => {
                        report.added += 1;
                        report.added_bytes += e.size;
                        report.changes.push(Change {
                            path: e.path.clone(),
                            change: ChangeKind::Added,
                            kind: e.kind,
                            size: e.size,
                        });
                    }
                    Some(n) if !n.same_as(e) && !n.same_dir(e) => {
                        report.changed += 1;
                        report.changed_bytes += e.size;
                        report.changes.push(Change {
                            path: e.path.clone(),
                            change: ChangeKind::Changed,
                            kind: e.kind,
                            size: e.size,
                        });
                    }
                    Some(_) => {}
                },
            }
            // Dive's efficiency: leaves only (opaque markers are dropped).
            if e.kind == FileKind::Opaque || (e.kind != FileKind::Whiteout && parents.contains(e.path.as_str())) {
                continue;
            }
            let size = if e.kind == FileKind::Whiteout {
                // A whited-out directory counts everything it held; a file counts 0.
                match below {
                    Some(n) if n.explicit && n.kind == FileKind::Dir => stack.tree_size(&e.path),
                    _ => 0,
                }
            } else {
                e.size
            };
            let d = paths.entry(format!("/{}", e.path)).or_default();
            d.count += 1;
            d.cumulative += size;
            d.min = Some(d.min.map_or(size, |m| m.min(size)));
        }
        report.changes.sort_by(|a, b| a.path.cmp(&b.path));
        stack.apply(layer);
        reports.push(report);
    }
    let size_bytes: u64 = reports.iter().map(|r| r.size).sum();
    let user_size_bytes: u64 = reports.iter().skip(1).map(|r| r.size).sum();
    let (mut min_sum, mut cum_sum) = (0u64, 0u64);
    let mut inefficiencies = Vec::new();
    for (path, d) in &paths {
        min_sum += d.min.unwrap_or(0);
        cum_sum += d.cumulative;
        if d.count >= 2 {
            inefficiencies.push(Inefficiency {
                path: path.clone(),
                count: d.count,
                cumulative_size: d.cumulative,
            });
        }
    }
    inefficiencies.sort_by(|a, b| b.cumulative_size.cmp(&a.cumulative_size).then(a.path.cmp(&b.path)));
    let wasted_bytes: u64 = inefficiencies.iter().map(|i| i.cumulative_size).sum();
    ImageAnalysis {
        size_bytes,
        user_size_bytes,
        wasted_bytes,
        wasted_user_percent: if user_size_bytes == 0 {
            0.0
        } else {
            wasted_bytes as f64 / user_size_bytes as f64
        },
        efficiency: if cum_sum == 0 {
            1.0
        } else {
            min_sum as f64 / cum_sum as f64
        },
        layers: reports,
        inefficiencies,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(path: &str, size: u64) -> FileEntry {
        FileEntry {
            path: path.into(),
            kind: FileKind::File,
            size,
            mode: 0o644,
            uid: 0,
            gid: 0,
            link: None,
            hash: Some(format!("{size:016x}")),
        }
    }

    fn d(path: &str) -> FileEntry {
        FileEntry {
            kind: FileKind::Dir,
            size: 0,
            hash: None,
            mode: 0o755,
            ..f(path, 0)
        }
    }

    fn wh(path: &str) -> FileEntry {
        FileEntry {
            kind: FileKind::Whiteout,
            size: 0,
            hash: None,
            ..f(path, 0)
        }
    }

    #[test]
    fn cleans_paths() {
        assert_eq!(clean_path("./a//b/"), "a/b");
        assert_eq!(clean_path("/"), "");
        assert_eq!(clean_path("./"), "");
        assert_eq!(clean_path("a/../b"), "b");
    }

    /// The hand-computed example of docs/api.md:
    /// layer 0: /etc (dir), /etc/os (100), /bin/sh (1000)
    /// layer 1: /data/big (5000), /etc/os (120)
    /// layer 2: whiteout /data/big, /app (dir), /app/x (300)
    /// layer 3: whiteout /app (a directory holding 300 bytes)
    ///
    /// Paths and sizes per layer (leaves only):
    ///   /etc/os   100, 120        → cumulative 220, min 100
    ///   /bin/sh   1000            → 1000, 1000
    ///   /data/big 5000, 0 (file)  → 5000, 0
    ///   /app/x    300             → 300, 300
    ///   /app      300 (dir whiteout; /app is no leaf in layer 2) → 300, 300
    /// wasted = 220 + 5000 = 5220; efficiency = (100+1000+0+300+300)/(220+1000+5000+300+300)
    /// = 1700/6820; user size = 5120 + 300 + 0 = 5420; wasted / user = 5220/5420.
    #[test]
    fn wasted_bytes_and_efficiency_as_dive() {
        let l0 = LayerFiles {
            entries: vec![d("etc"), f("etc/os", 100), d("bin"), f("bin/sh", 1000)],
        };
        let l1 = LayerFiles {
            entries: vec![d("data"), f("data/big", 5000), d("etc"), f("etc/os", 120)],
        };
        let l2 = LayerFiles {
            entries: vec![d("data"), wh("data/big"), d("app"), f("app/x", 300)],
        };
        let l3 = LayerFiles {
            entries: vec![wh("app")],
        };
        let a = analyze(&[&l0, &l1, &l2, &l3]);
        assert_eq!(a.size_bytes, 1100 + 5120 + 300);
        assert_eq!(a.user_size_bytes, 5420);
        assert_eq!(a.wasted_bytes, 5220);
        assert!((a.efficiency - 1700.0 / 6820.0).abs() < 1e-12, "{}", a.efficiency);
        assert!((a.wasted_user_percent - 5220.0 / 5420.0).abs() < 1e-12);
        assert_eq!(a.inefficiencies[0].path, "/data/big");
        assert_eq!(a.inefficiencies[0].cumulative_size, 5000);
        assert_eq!(a.inefficiencies[1].path, "/etc/os");
        assert_eq!(a.inefficiencies[1].count, 2);

        // Changes.
        assert_eq!(a.layers[0].added, 4);
        let l1r = &a.layers[1];
        assert_eq!((l1r.added, l1r.changed, l1r.removed), (2, 1, 0));
        assert_eq!(l1r.changed_bytes, 120);
        let l2r = &a.layers[2];
        assert_eq!((l2r.added, l2r.removed, l2r.removed_bytes), (2, 1, 5000));
        let l3r = &a.layers[3];
        assert_eq!(l3r.changes[0].kind, FileKind::Dir);
        assert_eq!(l3r.removed_bytes, 300);
    }

    #[test]
    fn no_layers_is_fully_efficient() {
        let a = analyze(&[]);
        assert_eq!(a.efficiency, 1.0);
        assert_eq!(a.wasted_bytes, 0);
    }

    #[test]
    fn unchanged_rewrite_is_not_a_change_but_is_wasted() {
        let l0 = LayerFiles {
            entries: vec![f("a", 10)],
        };
        let l1 = LayerFiles {
            entries: vec![f("a", 10)],
        };
        let a = analyze(&[&l0, &l1]);
        assert_eq!(a.layers[1].changes.len(), 0);
        assert_eq!(a.wasted_bytes, 20);
        assert!((a.efficiency - 0.5).abs() < 1e-12);
    }

    #[test]
    fn reads_a_tar_with_whiteouts() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_size(3);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        h.set_cksum();
        b.append_data(&mut h.clone(), "./etc/x", &b"abc"[..]).expect("append");
        let mut w = tar::Header::new_ustar();
        w.set_size(0);
        w.set_entry_type(tar::EntryType::Regular);
        w.set_cksum();
        b.append_data(&mut w.clone(), "etc/.wh.y", &b""[..]).expect("append");
        b.append_data(&mut w, "etc/.wh..wh..opq", &b""[..]).expect("append");
        let mut s = tar::Header::new_ustar();
        s.set_entry_type(tar::EntryType::Symlink);
        s.set_size(0);
        b.append_link(&mut s, "bin/sh", "busybox").expect("link");
        let bytes = b.into_inner().expect("tar");
        let files = read_tar(&bytes[..]).expect("read");
        let kinds: Vec<(&str, FileKind)> = files.entries.iter().map(|e| (e.path.as_str(), e.kind)).collect();
        assert_eq!(
            kinds,
            vec![
                ("etc/x", FileKind::File),
                ("etc/y", FileKind::Whiteout),
                ("etc", FileKind::Opaque),
                ("bin/sh", FileKind::Symlink)
            ]
        );
        assert_eq!(files.size(), 3);
        assert_eq!(files.diff_size(), 3 + 7);
        assert_eq!(files.entries[3].link.as_deref(), Some("busybox"));
    }
}
