//! Two images compared: which layers they share and which differ (with the instruction that made
//! each), what their configurations change (Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts,
//! Labels, Volumes, …), and how their merged file trees differ (added, removed, modified — by kind,
//! size, mode, owner, link target and content digest), with totals. The same function serves
//! rreg-server's `…/-/compare` API and `rreg diff`, and these types are the JSON contract between
//! them: the server serialises a [`Comparison`], the client reads it back, or computes one itself
//! from any registry or the local store.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::image_config::ImageConfig;
use crate::layers::{FileKind, LayerFiles};

/// One side of a comparison, as the caller found it.
#[derive(Debug, Clone)]
pub struct ImageInput<'a> {
    /// What the user asked for (`app:1.4`, `other/app@sha256:…`).
    pub reference: String,
    /// The image manifest's digest.
    pub digest: String,
    /// `os/arch[/variant]`, when known.
    pub platform: Option<String>,
    /// The image configuration.
    pub config: &'a ImageConfig,
    /// The config blob's digest (the image ID).
    pub config_digest: String,
    /// The layers, base first.
    pub layers: Vec<LayerInput<'a>>,
}

/// One layer of an [`ImageInput`].
#[derive(Debug, Clone)]
pub struct LayerInput<'a> {
    /// The layer blob's digest.
    pub digest: String,
    /// Its compressed size, from the manifest.
    pub size: u64,
    /// Its file list.
    pub files: &'a LayerFiles,
}

/// What one side is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    /// What was asked for.
    pub reference: String,
    /// The image manifest's digest.
    pub digest: String,
    /// The config digest (image ID).
    pub config_digest: String,
    /// `os/arch[/variant]`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform: Option<String>,
    /// When the image was made (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// Number of layers.
    pub layer_count: usize,
}

/// Where a layer is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LayerStatus {
    /// In both images.
    Shared,
    /// Only in `from`.
    Removed,
    /// Only in `to`.
    Added,
}

/// A layer of either image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerDiff {
    /// Shared, removed or added.
    pub status: LayerStatus,
    /// The layer blob's digest.
    pub digest: String,
    /// Compressed size.
    pub size: u64,
    /// Uncompressed size as `docker history` counts it.
    pub diff_size: u64,
    /// The instruction that made it (from the config history of the image it is listed for).
    pub created_by: String,
    /// Position in `from`, base = 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_index: Option<usize>,
    /// Position in `to`, base = 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_index: Option<usize>,
}

/// A change of the image configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigChange {
    /// `Env`, `Cmd`, `Entrypoint`, `WorkingDir`, `User`, `ExposedPorts`, `Labels`, `Volumes`,
    /// `StopSignal`, `Healthcheck`, `Shell`, `OnBuild`, `os`, `architecture`, `variant`, `BaseImage`.
    pub field: String,
    /// For map-like fields (Env, Labels, ExposedPorts, Volumes): the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The value in `from` (JSON for lists), absent when it was not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The value in `to`, absent when it is not set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// How a path differs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FileChangeKind {
    /// Only in `to`.
    Added,
    /// Only in `from`.
    Removed,
    /// In both, different.
    Modified,
}

impl FileChangeKind {
    /// `added`, `removed`, `modified`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileChangeKind::Added => "added",
            FileChangeKind::Removed => "removed",
            FileChangeKind::Modified => "modified",
        }
    }

    /// Parses `added`, `removed` or `modified`.
    pub fn parse(s: &str) -> Option<FileChangeKind> {
        match s {
            "added" => Some(FileChangeKind::Added),
            "removed" => Some(FileChangeKind::Removed),
            "modified" => Some(FileChangeKind::Modified),
            _ => None,
        }
    }
}

/// A path of a merged file tree.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileState {
    /// File, dir, symlink, hardlink, …
    pub kind: FileKind,
    /// Bytes (regular files).
    pub size: u64,
    /// Permission and special bits.
    pub mode: u32,
    /// Owner.
    pub uid: u64,
    /// Group.
    pub gid: u64,
    /// Link target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link: Option<String>,
    /// Content digest (first 16 hex digits of the SHA-256), for regular files.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

/// A path that differs between the two merged trees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileChange {
    /// The path, without a leading `/`.
    pub path: String,
    /// Added, removed or modified.
    pub change: FileChangeKind,
    /// What differs, for modified paths: `kind`, `size`, `mode`, `owner`, `link`, `content`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub differs: Vec<String>,
    /// The path in `from`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<FileState>,
    /// The path in `to`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<FileState>,
}

/// The numbers of a comparison.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Layers in both images.
    pub layers_shared: usize,
    /// Layers only in `to`.
    pub layers_added: usize,
    /// Layers only in `from`.
    pub layers_removed: usize,
    /// How many layers, from the base up, the two images have in common (their shared base).
    pub base_layers_shared: usize,
    /// Compressed bytes of the layers only in `to` (what a pull of `to` over `from` downloads).
    pub compressed_added: u64,
    /// Compressed bytes of the layers only in `from`.
    pub compressed_removed: u64,
    /// Uncompressed bytes of the layers only in `to`.
    pub uncompressed_added: u64,
    /// Uncompressed bytes of the layers only in `from`.
    pub uncompressed_removed: u64,
    /// Paths only in `to`.
    pub files_added: u64,
    /// Paths only in `from`.
    pub files_removed: u64,
    /// Paths in both that differ.
    pub files_modified: u64,
    /// File bytes the merged tree gains: added files, and the growth of modified ones.
    pub file_bytes_added: u64,
    /// File bytes the merged tree loses: removed files, and the shrinking of modified ones.
    pub file_bytes_removed: u64,
}

/// Two images compared. `files` may be one page of the changes (see [`Comparison::page`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Comparison {
    /// The older side.
    pub from: Side,
    /// The newer side.
    pub to: Side,
    /// Every layer of either image: `from`'s in order (shared or removed), then those only `to` has.
    pub layers: Vec<LayerDiff>,
    /// Configuration changes.
    pub config: Vec<ConfigChange>,
    /// The numbers (of the whole comparison, not of a page).
    pub totals: Totals,
    /// File changes, by path (after the filter, one page).
    pub files: Vec<FileChange>,
    /// How many file changes pass the filter (all pages).
    pub files_matching: u64,
    /// The cursor of the next page (`last=`), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Which file changes a page lists.
#[derive(Debug, Clone, Default)]
pub struct FileFilter {
    /// Only these kinds of change (all when empty).
    pub changes: Vec<FileChangeKind>,
    /// Only paths under this prefix (without a leading `/`).
    pub prefix: Option<String>,
}

impl FileFilter {
    fn admits(&self, c: &FileChange) -> bool {
        (self.changes.is_empty() || self.changes.contains(&c.change))
            && self
                .prefix
                .as_deref()
                .is_none_or(|p| c.path.starts_with(p.trim_start_matches('/')))
    }
}

impl Comparison {
    /// Keeps the file changes the filter admits after path `last`, at most `n` of them, and sets
    /// `files_matching` and `next`.
    pub fn page(mut self, filter: &FileFilter, last: Option<&str>, n: usize) -> Comparison {
        let matching: Vec<FileChange> = std::mem::take(&mut self.files)
            .into_iter()
            .filter(|c| filter.admits(c))
            .collect();
        self.files_matching = matching.len() as u64;
        let mut rest: Vec<FileChange> = matching
            .into_iter()
            .filter(|c| last.is_none_or(|l| c.path.as_str() > l))
            .collect();
        if rest.len() > n {
            rest.truncate(n);
            self.next = rest.last().map(|c| c.path.clone());
        } else {
            self.next = None;
        }
        self.files = rest;
        self
    }
}

/// The instructions that made each layer, in order (history entries that made no layer skipped).
fn instructions(config: &ImageConfig) -> Vec<String> {
    config
        .history
        .iter()
        .filter(|h| !h.is_empty_layer())
        .map(|h| h.created_by.clone().unwrap_or_default())
        .collect()
}

/// Compares `from` with `to`; every file change is listed (page it with [`Comparison::page`]).
pub fn compare(from: &ImageInput<'_>, to: &ImageInput<'_>) -> Comparison {
    let mut totals = Totals::default();
    let (from_made, to_made) = (instructions(from.config), instructions(to.config));
    let to_digests: BTreeSet<&str> = to.layers.iter().map(|l| l.digest.as_str()).collect();
    let from_digests: BTreeSet<&str> = from.layers.iter().map(|l| l.digest.as_str()).collect();
    let mut layers = Vec::new();
    for (i, l) in from.layers.iter().enumerate() {
        let to_index = to.layers.iter().position(|t| t.digest == l.digest);
        let status = if to_digests.contains(l.digest.as_str()) {
            totals.layers_shared += 1;
            LayerStatus::Shared
        } else {
            totals.layers_removed += 1;
            totals.compressed_removed += l.size;
            totals.uncompressed_removed += l.files.diff_size();
            LayerStatus::Removed
        };
        layers.push(LayerDiff {
            status,
            digest: l.digest.clone(),
            size: l.size,
            diff_size: l.files.diff_size(),
            created_by: from_made.get(i).cloned().unwrap_or_default(),
            from_index: Some(i),
            to_index,
        });
    }
    for (i, l) in to.layers.iter().enumerate() {
        if from_digests.contains(l.digest.as_str()) {
            continue;
        }
        totals.layers_added += 1;
        totals.compressed_added += l.size;
        totals.uncompressed_added += l.files.diff_size();
        layers.push(LayerDiff {
            status: LayerStatus::Added,
            digest: l.digest.clone(),
            size: l.size,
            diff_size: l.files.diff_size(),
            created_by: to_made.get(i).cloned().unwrap_or_default(),
            from_index: None,
            to_index: Some(i),
        });
    }
    totals.base_layers_shared = from
        .layers
        .iter()
        .zip(&to.layers)
        .take_while(|(a, b)| a.digest == b.digest)
        .count();

    let files = diff_trees(&merge(&from.layers), &merge(&to.layers));
    for c in &files {
        match c.change {
            FileChangeKind::Added => {
                totals.files_added += 1;
                totals.file_bytes_added += c.to.as_ref().map_or(0, |s| s.size);
            }
            FileChangeKind::Removed => {
                totals.files_removed += 1;
                totals.file_bytes_removed += c.from.as_ref().map_or(0, |s| s.size);
            }
            FileChangeKind::Modified => {
                totals.files_modified += 1;
                let a = c.from.as_ref().map_or(0, |s| s.size);
                let b = c.to.as_ref().map_or(0, |s| s.size);
                totals.file_bytes_added += b.saturating_sub(a);
                totals.file_bytes_removed += a.saturating_sub(b);
            }
        }
    }
    Comparison {
        from: side(from),
        to: side(to),
        layers,
        config: config_changes(from.config, to.config),
        totals,
        files_matching: files.len() as u64,
        files,
        next: None,
    }
}

fn side(i: &ImageInput<'_>) -> Side {
    Side {
        reference: i.reference.clone(),
        digest: i.digest.clone(),
        config_digest: i.config_digest.clone(),
        platform: i.platform.clone(),
        created: i.config.created.clone(),
        layer_count: i.layers.len(),
    }
}

/// The merged file tree of stacked layers (whiteouts and opaque directories applied).
pub fn merge(layers: &[LayerInput<'_>]) -> BTreeMap<String, FileState> {
    let mut tree: BTreeMap<String, FileState> = BTreeMap::new();
    for l in layers {
        for e in &l.files.entries {
            match e.kind {
                FileKind::Whiteout => {
                    tree.remove(&e.path);
                    remove_below(&mut tree, &e.path);
                }
                FileKind::Opaque => remove_below(&mut tree, &e.path),
                kind => {
                    if kind != FileKind::Dir && tree.get(&e.path).is_some_and(|s| s.kind == FileKind::Dir) {
                        remove_below(&mut tree, &e.path);
                    }
                    // A hard link has its target's content.
                    let (size, hash) = match (kind, e.link.as_deref().and_then(|t| tree.get(t))) {
                        (FileKind::Hardlink, Some(t)) => (t.size, t.hash.clone()),
                        _ => (e.size, e.hash.clone()),
                    };
                    tree.insert(
                        e.path.clone(),
                        FileState {
                            kind,
                            size,
                            mode: e.mode,
                            uid: e.uid,
                            gid: e.gid,
                            link: e.link.clone(),
                            hash,
                        },
                    );
                }
            }
        }
    }
    tree.remove("");
    tree
}

fn remove_below(tree: &mut BTreeMap<String, FileState>, dir: &str) {
    let prefix = if dir.is_empty() {
        String::new()
    } else {
        format!("{dir}/")
    };
    let doomed: Vec<String> = tree
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .map(|(k, _)| k.clone())
        .collect();
    for k in doomed {
        tree.remove(&k);
    }
}

/// The differences between two merged trees, by path.
pub fn diff_trees(a: &BTreeMap<String, FileState>, b: &BTreeMap<String, FileState>) -> Vec<FileChange> {
    let mut out = Vec::new();
    let mut ia = a.iter().peekable();
    let mut ib = b.iter().peekable();
    loop {
        let order = match (ia.peek(), ib.peek()) {
            (None, None) => break,
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (Some((pa, _)), Some((pb, _))) => pa.cmp(pb),
        };
        match order {
            std::cmp::Ordering::Less => {
                if let Some((p, s)) = ia.next() {
                    out.push(FileChange {
                        path: p.clone(),
                        change: FileChangeKind::Removed,
                        differs: Vec::new(),
                        from: Some(s.clone()),
                        to: None,
                    });
                }
            }
            std::cmp::Ordering::Greater => {
                if let Some((p, s)) = ib.next() {
                    out.push(FileChange {
                        path: p.clone(),
                        change: FileChangeKind::Added,
                        differs: Vec::new(),
                        from: None,
                        to: Some(s.clone()),
                    });
                }
            }
            std::cmp::Ordering::Equal => {
                if let (Some((p, x)), Some((_, y))) = (ia.next(), ib.next()) {
                    let differs = differences(x, y);
                    if !differs.is_empty() {
                        out.push(FileChange {
                            path: p.clone(),
                            change: FileChangeKind::Modified,
                            differs,
                            from: Some(x.clone()),
                            to: Some(y.clone()),
                        });
                    }
                }
            }
        }
    }
    out
}

fn differences(x: &FileState, y: &FileState) -> Vec<String> {
    let mut d = Vec::new();
    if x.kind != y.kind {
        d.push("kind".to_owned());
    }
    if x.size != y.size {
        d.push("size".to_owned());
    }
    if x.mode != y.mode {
        d.push("mode".to_owned());
    }
    if (x.uid, x.gid) != (y.uid, y.gid) {
        d.push("owner".to_owned());
    }
    if x.link != y.link {
        d.push("link".to_owned());
    }
    if let (Some(a), Some(b)) = (&x.hash, &y.hash) {
        if a != b {
            d.push("content".to_owned());
        }
    }
    d
}

/// The container-config fields compared, in the order listed.
const SCALARS: [&str; 4] = ["WorkingDir", "User", "StopSignal", "Shell"];
const LISTS: [&str; 4] = ["Cmd", "Entrypoint", "OnBuild", "Healthcheck"];
const MAPS: [&str; 3] = ["Labels", "ExposedPorts", "Volumes"];
/// Labels naming the image an image was built from (OCI annotations, also set as labels).
const BASE_LABELS: [&str; 2] = [
    "org.opencontainers.image.base.name",
    "org.opencontainers.image.base.digest",
];

fn text(v: Option<&Value>) -> Option<String> {
    match v {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(v) => Some(v.to_string()),
    }
}

fn change(out: &mut Vec<ConfigChange>, field: &str, key: Option<&str>, from: Option<String>, to: Option<String>) {
    if from != to {
        out.push(ConfigChange {
            field: field.to_owned(),
            key: key.map(str::to_owned),
            from,
            to,
        });
    }
}

/// The `Env` list as a map from name to value.
fn env(c: &Value) -> BTreeMap<String, String> {
    c.get("Env")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (e.to_owned(), String::new()),
        })
        .collect()
}

/// An object-valued field as a map from key to its value as text (`{}` values give "").
fn map(c: &Value, field: &str) -> BTreeMap<String, String> {
    c.get(field)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            let t = match v {
                Value::String(s) => s.clone(),
                Value::Object(o) if o.is_empty() => String::new(),
                v => v.to_string(),
            };
            (k.clone(), t)
        })
        .collect()
}

fn map_changes(out: &mut Vec<ConfigChange>, field: &str, a: &BTreeMap<String, String>, b: &BTreeMap<String, String>) {
    let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    for k in keys {
        change(out, field, Some(k), a.get(k).cloned(), b.get(k).cloned());
    }
}

/// The configuration changes from `a` to `b`.
pub fn config_changes(a: &ImageConfig, b: &ImageConfig) -> Vec<ConfigChange> {
    let mut out = Vec::new();
    let null = Value::Null;
    let (ca, cb) = (a.config.as_ref().unwrap_or(&null), b.config.as_ref().unwrap_or(&null));
    change(&mut out, "os", None, Some(a.os.clone()), Some(b.os.clone()));
    change(
        &mut out,
        "architecture",
        None,
        Some(a.architecture.clone()),
        Some(b.architecture.clone()),
    );
    change(&mut out, "variant", None, a.variant.clone(), b.variant.clone());
    map_changes(&mut out, "Env", &env(ca), &env(cb));
    for f in LISTS {
        change(&mut out, f, None, text(ca.get(f)), text(cb.get(f)));
    }
    for f in SCALARS {
        change(
            &mut out,
            f,
            None,
            text(ca.get(f)).filter(|s| !s.is_empty()),
            text(cb.get(f)).filter(|s| !s.is_empty()),
        );
    }
    for f in MAPS {
        map_changes(&mut out, f, &map(ca, f), &map(cb, f));
    }
    let (la, lb) = (map(ca, "Labels"), map(cb, "Labels"));
    for l in BASE_LABELS {
        change(&mut out, "BaseImage", Some(l), la.get(l).cloned(), lb.get(l).cloned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::layers::FileEntry;

    fn entry(path: &str, kind: FileKind, size: u64, mode: u32, hash: Option<&str>, link: Option<&str>) -> FileEntry {
        FileEntry {
            path: path.into(),
            kind,
            size,
            mode,
            uid: 0,
            gid: 0,
            link: link.map(Into::into),
            hash: hash.map(Into::into),
        }
    }

    fn file(path: &str, size: u64, hash: &str) -> FileEntry {
        entry(path, FileKind::File, size, 0o644, Some(hash), None)
    }

    fn dir(path: &str) -> FileEntry {
        entry(path, FileKind::Dir, 0, 0o755, None, None)
    }

    fn input<'a>(cfg: &'a ImageConfig, layers: &'a [(String, LayerFiles)]) -> ImageInput<'a> {
        ImageInput {
            reference: "x".into(),
            digest: "sha256:m".into(),
            platform: None,
            config: cfg,
            config_digest: "sha256:c".into(),
            layers: layers
                .iter()
                .map(|(d, f)| LayerInput {
                    digest: d.clone(),
                    size: 100,
                    files: f,
                })
                .collect(),
        }
    }

    #[test]
    fn every_kind_of_change() {
        let base = LayerFiles {
            entries: vec![
                dir("etc"),
                file("etc/keep", 3, "k"),
                file("etc/gone", 4, "g"),
                file("etc/content", 5, "c1"),
                file("etc/mode", 6, "m"),
                entry("etc/link", FileKind::Symlink, 0, 0o777, None, Some("keep")),
                dir("opt"),
                file("opt/a", 1, "a"),
                file("opt/b", 1, "b"),
            ],
        };
        let old_top = LayerFiles {
            entries: vec![file("etc/old-only", 2, "o")],
        };
        let new_top = LayerFiles {
            entries: vec![
                entry("etc/gone", FileKind::Whiteout, 0, 0, None, None),
                file("etc/content", 5, "c2"),
                entry("etc/mode", FileKind::File, 6, 0o755, Some("m"), None),
                entry("etc/link", FileKind::Symlink, 0, 0o777, None, Some("content")),
                entry("opt", FileKind::Opaque, 0, 0, None, None),
                file("opt/c", 7, "c"),
                file("etc/new", 8, "n"),
            ],
        };
        let cfg_a: ImageConfig = serde_json::from_str(
            r#"{"os":"linux","architecture":"amd64","config":{"Env":["PATH=/bin","A=1"],"Cmd":["sh"],"Labels":{"v":"1"}},
                "history":[{"created_by":"ADD base /"},{"created_by":"CMD","empty_layer":true},{"created_by":"RUN old"}]}"#,
        )
        .expect("config");
        let cfg_b: ImageConfig = serde_json::from_str(
            r#"{"os":"linux","architecture":"amd64","config":{"Env":["PATH=/bin","B=2"],"Cmd":["sh","-c","x"],"Labels":{"v":"2"},"ExposedPorts":{"80/tcp":{}}},
                "history":[{"created_by":"ADD base /"},{"created_by":"RUN new"}]}"#,
        )
        .expect("config");
        let a_layers = vec![
            ("sha256:base".to_owned(), base.clone()),
            ("sha256:old".to_owned(), old_top),
        ];
        let b_layers = vec![("sha256:base".to_owned(), base), ("sha256:new".to_owned(), new_top)];
        let c = compare(&input(&cfg_a, &a_layers), &input(&cfg_b, &b_layers));

        assert_eq!(c.totals.layers_shared, 1);
        assert_eq!(c.totals.base_layers_shared, 1);
        assert_eq!((c.totals.layers_added, c.totals.layers_removed), (1, 1));
        assert_eq!(c.layers[1].created_by, "RUN old");
        assert_eq!(c.layers[2].created_by, "RUN new");
        assert_eq!(c.layers[2].status, LayerStatus::Added);

        let by_path: BTreeMap<&str, &FileChange> = c.files.iter().map(|f| (f.path.as_str(), f)).collect();
        let kind = |p: &str| by_path.get(p).map(|f| (f.change, f.differs.clone()));
        assert_eq!(kind("etc/keep"), None);
        assert_eq!(kind("etc/gone"), Some((FileChangeKind::Removed, vec![])));
        assert_eq!(kind("etc/old-only"), Some((FileChangeKind::Removed, vec![])));
        assert_eq!(kind("etc/new"), Some((FileChangeKind::Added, vec![])));
        assert_eq!(
            kind("etc/content"),
            Some((FileChangeKind::Modified, vec!["content".into()]))
        );
        assert_eq!(kind("etc/mode"), Some((FileChangeKind::Modified, vec!["mode".into()])));
        assert_eq!(kind("etc/link"), Some((FileChangeKind::Modified, vec!["link".into()])));
        assert_eq!(kind("opt/a"), Some((FileChangeKind::Removed, vec![])));
        assert_eq!(kind("opt/c"), Some((FileChangeKind::Added, vec![])));
        assert_eq!(kind("opt"), None, "an opaque directory itself stays");
        assert_eq!(c.totals.files_added, 2);
        assert_eq!(c.totals.files_removed, 4);
        assert_eq!(c.totals.files_modified, 3);

        type Row = (String, Option<String>, Option<String>, Option<String>);
        let cfg: Vec<Row> = c
            .config
            .iter()
            .map(|x| (x.field.clone(), x.key.clone(), x.from.clone(), x.to.clone()))
            .collect();
        assert!(cfg.contains(&("Env".into(), Some("A".into()), Some("1".into()), None)));
        assert!(cfg.contains(&("Env".into(), Some("B".into()), None, Some("2".into()))));
        assert!(cfg.contains(&(
            "Cmd".into(),
            None,
            Some(r#"["sh"]"#.into()),
            Some(r#"["sh","-c","x"]"#.into())
        )));
        assert!(cfg.contains(&("Labels".into(), Some("v".into()), Some("1".into()), Some("2".into()))));
        assert!(cfg.contains(&("ExposedPorts".into(), Some("80/tcp".into()), None, Some(String::new()))));
        assert!(!cfg.iter().any(|c| c.1.as_deref() == Some("PATH")));

        // Pages and filters.
        let removed = c.clone().page(
            &FileFilter {
                changes: vec![FileChangeKind::Removed],
                prefix: Some("/etc".into()),
            },
            None,
            1,
        );
        assert_eq!(removed.files_matching, 2);
        assert_eq!(removed.files.len(), 1);
        assert_eq!(removed.next.as_deref(), Some("etc/gone"));
        let second = c.page(
            &FileFilter {
                changes: vec![FileChangeKind::Removed],
                prefix: Some("etc".into()),
            },
            Some("etc/gone"),
            1,
        );
        assert_eq!(second.files[0].path, "etc/old-only");
        assert_eq!(second.next, None);
    }

    #[test]
    fn a_file_replacing_a_directory_hides_its_contents() {
        let a = LayerFiles {
            entries: vec![dir("d"), file("d/x", 1, "x")],
        };
        let b = LayerFiles {
            entries: vec![file("d", 2, "d")],
        };
        let layers = [("1".to_owned(), a), ("2".to_owned(), b)];
        let inputs: Vec<LayerInput<'_>> = layers
            .iter()
            .map(|(d, f)| LayerInput {
                digest: d.clone(),
                size: 0,
                files: f,
            })
            .collect();
        let tree = merge(&inputs);
        assert_eq!(tree.keys().collect::<Vec<_>>(), vec!["d"]);
    }
}
