//! The UI's pages: home (namespaces, repository list and search), a repository with its tags, a
//! tag with its layer history per platform and the pull command, an image's layer analysis. Each
//! page makes the same one check as the API: read access to the repository. Pages are built with
//! `maud::html!`; helpers return `Markup` pieces or plain text for the templates to escape.

use actix_web::http::header;
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use std::collections::HashMap;

use maud::{html, Markup};
use rreg_oci::{Platform, Reference, RepoName};
use serde::Deserialize;

use super::{ago, error_page, layout, q, service_error, size, viewer};
use crate::auth::{Access, Principal};
use crate::db::TagOrder;
use crate::routes::AppState;
use crate::services::browse::{PlatformInfo, RepoStats};
use crate::services::orgs::{Org, Orgs, Repo};

const PAGE: i64 = 50;

#[derive(Deserialize, Default)]
pub(super) struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    namespace: String,
    #[serde(default)]
    last: String,
    #[serde(default)]
    ordering: String,
    #[serde(default)]
    platform: String,
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default)]
    change: String,
    #[serde(default)]
    prefix: String,
}

/// Platforms as text: `linux/amd64, linux/arm64/v8`.
fn platforms(p: &[PlatformInfo]) -> String {
    p.iter()
        .map(|p| {
            let mut s = format!("{}/{}", p.os, p.architecture);
            if let Some(v) = &p.variant {
                s.push('/');
                s.push_str(v);
            }
            s
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The first 12 hex digits of a digest.
fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    hex.chars().take(12).collect()
}

/// A ratio as a percentage with two decimals.
fn percent(ratio: f64) -> String {
    format!("{:.2} %", ratio * 100.0)
}

/// `GET /ui/?q=&namespace=&last=`.
pub(super) async fn home(s: web::Data<AppState>, req: HttpRequest, lq: web::Query<ListQuery>) -> HttpResponse {
    let headers = req.headers();
    let who = viewer(&s, headers).await;
    let orgs = Orgs::new(&s.accounts);
    let mine = match &who {
        Some(p) => match orgs.list(p, "", 100).await {
            Ok(o) => o,
            Err(e) => return service_error(e, who.as_ref()),
        },
        None => Vec::new(),
    };
    let namespace = Some(lq.namespace.as_str()).filter(|n| !n.is_empty());
    let query = Some(lq.q.as_str()).filter(|n| !n.is_empty());
    let title = namespace.map_or("Repositories".to_owned(), |n| format!("Repositories of {n}"));
    let rows = match orgs
        .list_repos(who.as_ref(), namespace, query, &lq.last, PAGE + 1)
        .await
    {
        Ok(r) => r,
        Err(e) => return service_error(e, who.as_ref()),
    };
    let more = rows.len() as i64 > PAGE;
    let rows = rows.get(..PAGE as usize).unwrap_or(rows.as_slice());
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let stats = match s.registry.repo_stats(&names).await {
        Ok(st) => st,
        Err(e) => return service_error(e, who.as_ref()),
    };
    let body = html! {
        @if let Some(p) = &who {
            (namespaces(p, &mine))
        }
        h1 { (title) }
        form.search method="get" action="/ui/" {
            input type="hidden" name="namespace" value=(lq.namespace);
            input #q type="search" name="q" placeholder="Search repositories" value=(lq.q);
            button { "Search" }
        }
        @if rows.is_empty() {
            p.empty { "No repositories here." }
        } @else {
            (repo_rows(rows, &stats))
        }
        @if let (true, Some(last)) = (more, rows.last()) {
            p.more {
                a rel="next" href={
                    "/ui/?namespace=" (q(&lq.namespace)) "&q=" (q(&lq.q)) "&last=" (q(&last.name))
                } { "Next page" }
            }
        }
    };
    layout(&title, who.as_ref(), body).into_response()
}

/// The viewer's namespaces: their own and their organizations'.
fn namespaces(p: &Principal, orgs: &[Org]) -> Markup {
    html! {
        section.namespaces {
            h2 { "Namespaces" }
            ul.chips {
                li {
                    a href={ "/ui/?namespace=" (q(&p.name)) } { (p.name) }
                    " "
                    small { "you" }
                }
                @for o in orgs {
                    li {
                        a href={ "/ui/?namespace=" (q(&o.name)) } { (o.name) }
                        " "
                        small { "organization · " (o.role.as_str()) }
                    }
                }
            }
        }
    }
}

/// The repository list, with each repository's statistics.
pub(super) fn repo_rows(rows: &[Repo], stats: &HashMap<String, RepoStats>) -> Markup {
    html! {
        table.repos {
            thead {
                tr { th { "Repository" } th { "Tags" } th { "Size" } th { "Pulls" } th { "Last pushed" } }
            }
            tbody {
                @for r in rows {
                    @let st = stats.get(&r.name).cloned().unwrap_or_default();
                    @let visibility = r.visibility.as_str();
                    tr {
                        td data-label="Repository" {
                            a href={ "/ui/r/" (r.name) } { (r.name) }
                            " "
                            span.badge.(visibility) { (visibility) }
                            div.desc { (r.description) }
                        }
                        td data-label="Tags" { (st.tag_count) }
                        td data-label="Size" { (size(st.size)) }
                        td data-label="Pulls" { (st.pull_count) }
                        td data-label="Last pushed" { (ago(st.last_pushed)) }
                    }
                }
            }
        }
    }
}

/// `GET /ui/r/{name}`, `/ui/r/{name}/-/tags/{tag}`, `/ui/r/{name}/-/layers/{reference}`,
/// `/ui/r/{name}/-/compare?from=&to=`.
pub(super) async fn repository(
    s: web::Data<AppState>,
    req: HttpRequest,
    path: web::Path<String>,
    lq: web::Query<ListQuery>,
) -> HttpResponse {
    let headers = req.headers();
    let path = path.into_inner();
    let who = viewer(&s, headers).await;
    let (name, rest) = match path.split_once("/-/") {
        Some((n, r)) => (n, Some(r)),
        None => (path.trim_end_matches('/'), None),
    };
    let Ok(name) = RepoName::parse(name) else {
        return error_page(StatusCode::NOT_FOUND, who.as_ref(), "no such repository");
    };
    // The check.
    let repo = match Orgs::new(&s.accounts).repo(who.as_ref(), &name, Access::Read).await {
        Ok(r) => r,
        Err(e) => {
            // Anonymous visitors are offered to sign in; the page says nothing more.
            if who.is_none() {
                let next = format!("/ui/r/{path}");
                let body = html! {
                    h1 { "Not found" }
                    p {
                        "No repository " (name.as_str()) " — or you need to "
                        a href={ "/ui/login?next=" (q(&next)) } { "sign in" }
                        "."
                    }
                };
                return layout("Not found", None, body).status(StatusCode::NOT_FOUND);
            }
            return service_error(e, who.as_ref());
        }
    };
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost:5000")
        .to_owned();
    let segs: Option<Vec<&str>> = rest.map(|r| r.split('/').collect());
    match segs.as_deref() {
        None => repo_page(&s, who.as_ref(), &repo, &name, &lq, &host).await,
        Some(["tags", tag]) => tag_page(&s, who.as_ref(), &name, tag, &host).await,
        Some(["layers", reference]) => layers_page(&s, who.as_ref(), &name, reference, &lq).await,
        Some(["compare"]) => {
            let p = super::compare::CompareParams {
                from: &lq.from,
                to: &lq.to,
                change: &lq.change,
                prefix: &lq.prefix,
                last: &lq.last,
                platform: &lq.platform,
            };
            super::compare::compare_page(&s, who.as_ref(), &name, &p).await
        }
        _ => error_page(StatusCode::NOT_FOUND, who.as_ref(), "no such page"),
    }
}

/// The pull command with a copy button (`/ui/app.js`).
fn pull_box(cmd: &str) -> Markup {
    html! {
        div.pull {
            code #pull-command { (cmd) }
            button type="button" data-copy="pull-command" { "Copy" }
        }
    }
}

async fn repo_page(
    s: &AppState,
    who: Option<&Principal>,
    repo: &Repo,
    name: &RepoName,
    lq: &ListQuery,
    host: &str,
) -> HttpResponse {
    let stats = s
        .registry
        .repo_stats(std::slice::from_ref(&repo.name))
        .await
        .ok()
        .and_then(|m| m.get(&repo.name).cloned())
        .unwrap_or_default();
    let order = if lq.ordering == "last_pushed" {
        TagOrder::LastPushed
    } else {
        TagOrder::Name
    };
    let after = match (order, lq.last.as_str()) {
        (_, "") => None,
        (TagOrder::Name, l) => Some((0, l)),
        (TagOrder::LastPushed, l) => l
            .split_once(':')
            .and_then(|(t, n)| t.parse::<i64>().ok().map(|t| (t, n))),
    };
    let tags = match s.registry.tags_page(name, order, after, PAGE + 1).await {
        Ok(t) => t,
        Err(crate::services::ServiceError::NameUnknown) => Vec::new(),
        Err(e) => return service_error(e, who),
    };
    let more = tags.len() as i64 > PAGE;
    let tags = tags.get(..PAGE as usize).unwrap_or(tags.as_slice());
    let base = format!("/ui/r/{}", repo.name);
    let visibility = repo.visibility.as_str();
    // The tags as a select's options, one of them selected.
    let options = |selected: usize| {
        html! {
            @for (i, t) in tags.iter().enumerate() {
                option value=(t.name) selected[i == selected] { (t.name) }
            }
        }
    };
    // The next page: the ordering and the cursor after this page's last tag.
    let next = match (more, tags.last()) {
        (true, Some(last)) => Some(match order {
            TagOrder::Name => ("name", last.name.clone()),
            TagOrder::LastPushed => ("last_pushed", format!("{}:{}", last.last_pushed, last.name)),
        }),
        _ => None,
    };
    let body = html! {
        nav.crumbs {
            a href={ "/ui/?namespace=" (q(&repo.namespace)) } { (repo.namespace) }
            " /"
        }
        h1 {
            (repo.name)
            " "
            span.badge.(visibility) { (visibility) }
        }
        p.desc { (repo.description) }
        dl.stats {
            div { dt { "Size" } dd { (size(stats.size)) } }
            div { dt { "Tags" } dd { (stats.tag_count) } }
            div { dt { "Pulls" } dd { (stats.pull_count) } }
            div { dt { "Last pushed" } dd { (ago(stats.last_pushed)) } }
            div { dt { "Last pulled" } dd { (ago(stats.last_pulled)) } }
        }
        (pull_box(&format!("docker pull {host}/{}", repo.name)))
        h2 { "Tags" }
        p.order {
            "Sort: "
            a href=(base) class=[(order == TagOrder::Name).then_some("on")] { "name" }
            " · "
            a href={ (base) "?ordering=last_pushed" } class=[(order == TagOrder::LastPushed).then_some("on")] {
                "last pushed"
            }
        }
        @if tags.is_empty() {
            p.empty { "No tags yet." }
        } @else {
            table.tags #tags {
                thead {
                    tr {
                        th { "Tag" } th { "Digest" } th { "Platforms" } th { "Size" } th { "Last pushed" }
                        th { "Pushed by" } th { "Last pulled" }
                    }
                }
                tbody {
                    @for t in tags {
                        tr {
                            td data-label="Tag" { a href={ (base) "/-/tags/" (t.name) } { (t.name) } }
                            td data-label="Digest" { code title=(t.digest) { (short(&t.digest)) } }
                            td data-label="Platforms" { (platforms(&t.platforms)) }
                            td data-label="Size" { (size(t.size)) }
                            td data-label="Last pushed" { (ago(Some(t.last_pushed))) }
                            td data-label="Pushed by" { (t.pushed_by) }
                            td data-label="Last pulled" { (ago(t.last_pulled)) }
                        }
                    }
                }
            }
            @if tags.len() > 1 {
                form.compare #compare-form method="get" action={ (base) "/-/compare" } {
                    label { "Compare " select name="from" { (options(1)) } }
                    " "
                    label { "with " select name="to" { (options(0)) } }
                    " "
                    button { "Compare" }
                }
            }
        }
        @if let Some((ordering, cursor)) = next {
            p.more {
                a rel="next" href={ (base) "?ordering=" (ordering) "&last=" (q(&cursor)) } { "Next page" }
            }
        }
    };
    layout(&repo.name, who, body).into_response()
}

async fn tag_page(s: &AppState, who: Option<&Principal>, name: &RepoName, tag: &str, host: &str) -> HttpResponse {
    let t = match s.registry.tag(name, tag).await {
        Ok(t) => t,
        Err(e) => return service_error(e, who),
    };
    let Ok(reference) = Reference::parse(tag) else {
        return error_page(StatusCode::NOT_FOUND, who, "no such tag");
    };
    let images = match s.registry.history(name, &reference, None, false).await {
        Ok(h) => h,
        Err(e) => return service_error(e, who),
    };
    let base = format!("/ui/r/{name}");
    let body = html! {
        nav.crumbs {
            a href=(base) { (name.as_str()) }
            " :"
        }
        h1 { (t.name) }
        (pull_box(&format!("docker pull {host}/{name}:{}", t.name)))
        dl.stats {
            div { dt { "Digest" } dd { code { (t.digest) } } }
            div { dt { "Size" } dd { (size(t.size)) } }
            div { dt { "Platforms" } dd { (platforms(&t.platforms)) } }
            div {
                dt { "Pushed" }
                dd {
                    (ago(Some(t.last_pushed)))
                    " by "
                    @if t.pushed_by.is_empty() { "—" } @else { (t.pushed_by) }
                }
            }
            div { dt { "Last pulled" } dd { (ago(t.last_pulled)) } }
        }
        @for img in &images {
            @let plat = img.platform.as_ref().map(|p| platforms(std::slice::from_ref(p)));
            section.image {
                h2 { (plat.as_deref().unwrap_or("Image")) }
                p {
                    code title=(img.digest) { (short(&img.digest)) }
                    " · "
                    a href={
                        (base) "/-/layers/" (q(&t.name))
                        @if let Some(p) = &plat { "?platform=" (q(p)) }
                    } { "Layer analysis" }
                }
                table.history {
                    thead {
                        tr { th { "#" } th { "Created" } th { "Created by" } th { "Size" } th { "Comment" } }
                    }
                    tbody {
                        // Newest first, as `docker history` lists them.
                        @for (i, e) in img.history.iter().enumerate().rev() {
                            tr class=(if e.empty_layer { "empty" } else { "layer" }) {
                                td data-label="#" { (i + 1) }
                                td data-label="Created" { (e.created.as_deref().unwrap_or("")) }
                                td data-label="Created by" { code.cmd { (e.created_by) } }
                                td data-label="Size" {
                                    @if let Some(l) = &e.layer {
                                        @if let Some(d) = l.diff_size {
                                            (size(d)) " " small { "(" (size(l.size)) " compressed)" }
                                        } @else {
                                            (size(l.size)) " " small { "compressed" }
                                        }
                                    } @else {
                                        "0 B"
                                    }
                                }
                                td data-label="Comment" { (e.comment) }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(&format!("{name}:{}", t.name), who, body).into_response()
}

async fn layers_page(
    s: &AppState,
    who: Option<&Principal>,
    name: &RepoName,
    reference: &str,
    lq: &ListQuery,
) -> HttpResponse {
    let Ok(r) = Reference::parse(reference) else {
        return error_page(StatusCode::NOT_FOUND, who, "no such image");
    };
    let platform = if lq.platform.is_empty() {
        None
    } else {
        Platform::parse(&lq.platform)
    };
    let images = match s.registry.analyze(name, &r, platform.as_ref()).await {
        Ok(a) => a,
        Err(e) => return service_error(e, who),
    };
    let sep = if matches!(r, Reference::Digest(_)) { "@" } else { ":" };
    let body = html! {
        nav.crumbs {
            a href={ "/ui/r/" (name.as_str()) } { (name.as_str()) }
            " " (sep)
        }
        h1 { (reference) " — layers" }
        @for img in &images {
            @let a = &img.analysis;
            @let plat = img.platform.as_ref().map(|p| platforms(std::slice::from_ref(p)));
            section.image {
                h2 { (plat.as_deref().unwrap_or("Image")) }
                dl.stats {
                    div { dt { "Efficiency" } dd #efficiency { (percent(a.efficiency)) } }
                    div { dt { "Wasted" } dd { (size(a.wasted_bytes as i64)) } }
                    div { dt { "User wasted" } dd { (percent(a.wasted_user_percent)) } }
                    div { dt { "Files size" } dd { (size(a.size_bytes as i64)) } }
                }
                table.layers {
                    thead {
                        tr {
                            th { "#" } th { "Created by" } th { "Size" } th { "Added" } th { "Changed" }
                            th { "Removed" }
                        }
                    }
                    tbody {
                        @for l in &a.layers {
                            @let created_by = img.layers.get(l.index).map_or("", |(_, c)| c.as_str());
                            tr {
                                td data-label="#" { (l.index + 1) }
                                td data-label="Created by" { code.cmd { (created_by) } }
                                td data-label="Size" { (size(l.size as i64)) }
                                td data-label="Added" { (l.added) " (" (size(l.added_bytes as i64)) ")" }
                                td data-label="Changed" { (l.changed) " (" (size(l.changed_bytes as i64)) ")" }
                                td data-label="Removed" { (l.removed) " (" (size(l.removed_bytes as i64)) ")" }
                            }
                        }
                    }
                }
                @if !a.inefficiencies.is_empty() {
                    h3 { "Wasted space" }
                    table.waste {
                        thead {
                            tr { th { "Count" } th { "Total" } th { "Path" } }
                        }
                        tbody {
                            @for i in a.inefficiencies.iter().take(50) {
                                tr {
                                    td data-label="Count" { (i.count) }
                                    td data-label="Total" { (size(i.cumulative_size as i64)) }
                                    td data-label="Path" { code { (i.path) } }
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    layout(&format!("{name} layers"), who, body).into_response()
}
