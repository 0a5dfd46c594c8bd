//! `/api/v1` browsing: repositories with their statistics, and under `/repositories/{name}/-/` a
//! repository's tags, a tag's (or digest's) layer history per platform, an image's layers analysed
//! as Dive does, and a layer's file list. Repository names hold slashes and no name component can be
//! `-`, so `/-/` separates the name from what is asked of it (as GitLab does). Every handler makes
//! one check, read access to the repository; a repository the caller may not read is `404`.

use actix_web::web;
use rreg_oci::api::{self, Counted, FileInfo, Items, LayerAnalysis, Repository, RepositoryStats};
use rreg_oci::compare::{FileChangeKind, FileFilter};
use rreg_oci::layers::{FileEntry, FileKind};
use rreg_oci::{Digest, Platform, Reference, RepoName};

use super::{ok, page, time, ApiResult, JsonError, Params, Segments, Who};
use crate::auth::Access;
use crate::db::TagOrder;
use crate::routes::AppState;
use crate::services::browse::{ImageLayers, RepoStats, TagInfo};
use crate::services::orgs::{Orgs, Repo};
use crate::services::CompareSide;

/// Default and largest number of changes (and inefficiencies) listed per layer.
const DEFAULT_CHANGES: usize = 1000;
const MAX_CHANGES: usize = 1_000_000;

fn parse_name(name: &str) -> Result<RepoName, JsonError> {
    RepoName::parse(name).map_err(|e| JsonError::bad_request(e.to_string()))
}

/// A repository with its statistics.
fn repo_view(r: &Repo, stats: Option<&RepoStats>) -> Repository {
    let s = stats.cloned().unwrap_or_default();
    Repository {
        stats: Some(RepositoryStats {
            size: s.size,
            tag_count: s.tag_count,
            pull_count: s.pull_count,
            last_pushed: s.last_pushed.map(time),
            last_pulled: s.last_pulled.map(time),
        }),
        ..super::repos::view(r)
    }
}

/// `GET /api/v1/repositories?namespace=&q=&last=&n=`: the repositories the caller may read, with
/// their statistics.
pub(super) async fn list_repositories(s: web::Data<AppState>, who: Who, params: Params) -> ApiResult {
    let n = params.page_size()?;
    let namespace = params.get("namespace").filter(|v| !v.is_empty());
    let q = params.get("q").filter(|v| !v.is_empty());
    // The check is the listing's own filter: only what the caller may read is returned.
    let rows = Orgs::new(&s.accounts)
        .list_repos(
            who.principal(),
            namespace,
            q,
            params.get("last").unwrap_or(""),
            n.saturating_add(1),
        )
        .await?;
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let stats = s.registry.repo_stats(&names).await?;
    let items: Vec<(Repo, Option<RepoStats>)> = rows
        .into_iter()
        .map(|r| {
            let st = stats.get(&r.name).cloned();
            (r, st)
        })
        .collect();
    page(
        "/repositories",
        &[("namespace", namespace), ("q", q)],
        ("last", |r: &(Repo, Option<RepoStats>)| r.0.name.clone()),
        n,
        items,
        |r| repo_view(&r.0, r.1.as_ref()),
    )
}

/// `GET /api/v1/repositories/{name}` and everything under `/repositories/{name}/-/`.
pub(super) async fn dispatch(
    s: web::Data<AppState>,
    who: Who,
    Segments(path): Segments<String>,
    params: Params,
) -> ApiResult {
    let (name, rest) = match path.split_once("/-/") {
        Some((n, r)) => (n, Some(r)),
        None => (path.as_str(), None),
    };
    let name = parse_name(name)?;
    let repo = Orgs::new(&s.accounts)
        .repo(who.principal(), &name, Access::Read)
        .await?;
    let Some(rest) = rest else {
        let stats = s.registry.repo_stats(std::slice::from_ref(&repo.name)).await?;
        return ok(repo_view(&repo, stats.get(&repo.name)));
    };
    let reg = &s.registry;
    let segs: Vec<&str> = rest.split('/').collect();
    match segs.as_slice() {
        ["tags"] => tags(&s, &name, &params).await,
        ["tags", tag] => ok(tag_view(&reg.tag(&name, tag).await?)),
        ["history", reference] => {
            let reference = parse_reference(reference)?;
            let platform = parse_platform(&params)?;
            let sizes = matches!(params.get("sizes"), Some("1" | "true"));
            let h = reg.history(&name, &reference, platform.as_ref(), sizes).await?;
            ok(Items { items: h })
        }
        ["layers", reference] => {
            let reference = parse_reference(reference)?;
            let platform = parse_platform(&params)?;
            let max = match params.get("max_changes") {
                None | Some("") => DEFAULT_CHANGES,
                Some(v) => v
                    .parse::<usize>()
                    .map_err(|_| JsonError::bad_request(format!("max_changes must be a number, not {v:?}")))?
                    .min(MAX_CHANGES),
            };
            let a = reg.analyze(&name, &reference, platform.as_ref()).await?;
            ok(Items {
                items: a.iter().map(|i| layers_view(i, max)).collect(),
            })
        }
        ["compare"] => compare(&s, &who, &name, &params).await,
        ["files", digest] => {
            let digest = Digest::parse(digest).map_err(|e| JsonError::bad_request(e.to_string()))?;
            files(&s, &name, &digest, &params, &path).await
        }
        _ => Err(JsonError::not_found("no such endpoint")),
    }
}

/// `…/-/compare?from=REF&to=REF[&platform=][&change=added,removed,modified][&prefix=][&n=][&last=]`:
/// two images compared (layers, config, merged file trees), the file changes filtered and paged by
/// path (`next` is the `last=` of the next page). A REF is a tag or digest of this repository, or
/// `REPO:TAG` / `REPO@DIGEST` of another one the caller may read (else `404`, as for any read).
async fn compare(s: &AppState, who: &Who, name: &RepoName, params: &Params) -> ApiResult {
    let from = compare_side(s, who, name, params.get("from"), "from").await?;
    let to = compare_side(s, who, name, params.get("to"), "to").await?;
    let platform = parse_platform(params)?;
    let mut changes = Vec::new();
    for c in params
        .get("change")
        .unwrap_or("")
        .split(',')
        .filter(|c| !c.trim().is_empty())
    {
        changes.push(
            FileChangeKind::parse(c.trim()).ok_or_else(|| {
                JsonError::bad_request(format!("change must be added, removed or modified, not {c:?}"))
            })?,
        );
    }
    let filter = FileFilter {
        changes,
        prefix: params.get("prefix").filter(|p| !p.is_empty()).map(str::to_owned),
    };
    let n = usize::try_from(params.page_size()?).unwrap_or(1);
    let last = params.get("last").filter(|l| !l.is_empty());
    let c = s
        .registry
        .compare(&from, &to, platform.as_ref())
        .await?
        .page(&filter, last, n);
    ok(c)
}

async fn compare_side(
    s: &AppState,
    who: &Who,
    name: &RepoName,
    value: Option<&str>,
    what: &str,
) -> Result<CompareSide, JsonError> {
    let v = value.filter(|v| !v.is_empty()).ok_or_else(|| {
        JsonError::bad_request(format!(
            "{what} is required: a tag or digest, or REPO:TAG or REPO@DIGEST"
        ))
    })?;
    let (repo, reference) = split_compare_ref(name, v)?;
    if repo != *name {
        // The one check for the other repository: read access, or it does not exist for the caller.
        Orgs::new(&s.accounts)
            .repo(who.principal(), &repo, Access::Read)
            .await?;
    }
    Ok(CompareSide {
        name: repo,
        reference,
        label: v.to_owned(),
    })
}

/// `TAG` or `DIGEST` (this repository), `REPO:TAG`, `REPO@DIGEST`, or `REPO` (its `latest`).
fn split_compare_ref(name: &RepoName, v: &str) -> Result<(RepoName, Reference), JsonError> {
    if !v.contains('/') && !v.contains('@') {
        if let Ok(r) = Reference::parse(v) {
            return Ok((name.clone(), r));
        }
    }
    let (repo, r) = match v.split_once('@') {
        Some((repo, d)) => (repo, d),
        None => match v.rsplit_once(':') {
            Some((repo, tag)) if !tag.contains('/') => (repo, tag),
            _ => (v, "latest"),
        },
    };
    Ok((parse_name(repo)?, parse_reference(r)?))
}

fn parse_reference(s: &str) -> Result<Reference, JsonError> {
    Reference::parse(s).map_err(|e| JsonError::bad_request(e.to_string()))
}

fn parse_platform(params: &Params) -> Result<Option<Platform>, JsonError> {
    match params.get("platform").filter(|p| !p.is_empty()) {
        None => Ok(None),
        Some(p) => Platform::parse(p)
            .map(Some)
            .ok_or_else(|| JsonError::bad_request(format!("platform must be os/arch[/variant], not {p:?}"))),
    }
}

fn tag_view(t: &TagInfo) -> api::Tag {
    api::Tag {
        name: t.name.clone(),
        digest: t.digest.clone(),
        media_type: t.media_type.clone(),
        size: t.size,
        platforms: t.platforms.clone(),
        last_pushed: time(t.last_pushed),
        pushed_by: t.pushed_by.clone(),
        last_pulled: t.last_pulled.map(time),
    }
}

/// `…/-/tags?ordering=name|last_pushed&n=&last=`.
async fn tags(s: &AppState, name: &RepoName, params: &Params) -> ApiResult {
    let n = params.page_size()?;
    let ordering = params.get("ordering").filter(|o| !o.is_empty()).unwrap_or("name");
    let order = match ordering {
        "name" => TagOrder::Name,
        "last_pushed" | "-last_pushed" => TagOrder::LastPushed,
        o => {
            return Err(JsonError::bad_request(format!(
                "ordering must be name or last_pushed, not {o:?}"
            )))
        }
    };
    let last = params.get("last").filter(|l| !l.is_empty());
    let after = match (order, last) {
        (_, None) => None,
        (TagOrder::Name, Some(l)) => Some((0, l)),
        (TagOrder::LastPushed, Some(l)) => {
            let parsed = l
                .split_once(':')
                .and_then(|(t, name)| t.parse::<i64>().ok().map(|t| (t, name)));
            Some(parsed.ok_or_else(|| JsonError::bad_request("last: use the cursor of the Link header"))?)
        }
    };
    let rows = s.registry.tags_page(name, order, after, n.saturating_add(1)).await?;
    let path = format!("/repositories/{name}/-/tags");
    let cursor: fn(&TagInfo) -> String = match order {
        TagOrder::Name => |t| t.name.clone(),
        TagOrder::LastPushed => |t| format!("{}:{}", t.last_pushed, t.name),
    };
    page(
        &path,
        &[("ordering", Some(ordering))],
        ("last", cursor),
        n,
        rows,
        tag_view,
    )
}

fn layers_view(i: &ImageLayers, max: usize) -> api::ImageLayers {
    let a = &i.analysis;
    api::ImageLayers {
        digest: i.digest.clone(),
        platform: i.platform.clone(),
        config_digest: i.config_digest.clone(),
        size_bytes: a.size_bytes,
        user_size_bytes: a.user_size_bytes,
        wasted_bytes: a.wasted_bytes,
        wasted_user_percent: a.wasted_user_percent,
        efficiency: a.efficiency,
        layers: a
            .layers
            .iter()
            .map(|r| {
                let (l, created_by) = i.layers.get(r.index).map_or((None, ""), |(l, c)| (Some(l), c.as_str()));
                LayerAnalysis {
                    index: r.index,
                    digest: l.map(|l| l.digest.clone()).unwrap_or_default(),
                    media_type: l.map(|l| l.media_type.clone()).unwrap_or_default(),
                    size: l.map_or(0, |l| l.size),
                    diff_size: l.and_then(|l| l.diff_size),
                    error: l.and_then(|l| l.error.clone()),
                    created_by: created_by.to_owned(),
                    files_size: r.size,
                    file_count: r.file_count,
                    added: Counted {
                        count: r.added,
                        bytes: r.added_bytes,
                    },
                    changed: Counted {
                        count: r.changed,
                        bytes: r.changed_bytes,
                    },
                    removed: Counted {
                        count: r.removed,
                        bytes: r.removed_bytes,
                    },
                    changes: r.changes.iter().take(max).cloned().collect(),
                    changes_truncated: r.changes.len() > max,
                }
            })
            .collect(),
        inefficiencies: a.inefficiencies.iter().take(max).cloned().collect(),
        inefficiencies_truncated: a.inefficiencies.len() > max,
    }
}

fn file_view(e: &FileEntry) -> FileInfo {
    FileInfo {
        path: format!("/{}", e.path),
        kind: e.kind.as_str().to_owned(),
        size: e.size,
        mode: format!("{:04o}", e.mode & 0o7777),
        uid: e.uid,
        gid: e.gid,
        link: e.link.clone(),
    }
}

/// `…/-/files/{digest}?n=&last=`: the layer's entries by path (whiteouts and opaque markers
/// included, with their own types), paged by path.
async fn files(s: &AppState, name: &RepoName, digest: &Digest, params: &Params, path: &str) -> ApiResult {
    let n = params.page_size()?;
    let last = params.get("last").unwrap_or("");
    let files = s.registry.layer_file_list(name, digest).await?;
    let mut entries: Vec<FileEntry> = files.entries;
    for e in &mut entries {
        e.path = format!("/{}", e.path);
        if e.kind == FileKind::Opaque {
            e.path.push_str("/.wh..wh..opq");
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let rows: Vec<FileEntry> = entries
        .into_iter()
        .filter(|e| e.path.as_str() > last)
        .take(usize::try_from(n).unwrap_or(0).saturating_add(1))
        .map(|mut e| {
            e.path.remove(0);
            e
        })
        .collect();
    let link_path = format!("/repositories/{path}");
    page(
        &link_path,
        &[],
        ("last", |e: &FileEntry| format!("/{}", e.path)),
        n,
        rows,
        file_view,
    )
}
