//! The UI's pages: home (namespaces, repository list and search), a repository with its tags, a
//! tag with its layer history per platform and the pull command, an image's layer analysis. Each
//! page makes the same one check as the API: read access to the repository.

use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rreg_oci::{Platform, Reference, RepoName};
use serde::Deserialize;

use super::{ago, error_page, esc, layout, q, service_error, size, viewer};
use crate::auth::{Access, Principal};
use crate::db::TagOrder;
use crate::routes::AppState;
use crate::services::browse::PlatformInfo;
use crate::services::orgs::Orgs;

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

fn platforms(p: &[PlatformInfo]) -> String {
    p.iter()
        .map(|p| {
            let mut s = format!("{}/{}", p.os, p.architecture);
            if let Some(v) = &p.variant {
                s.push('/');
                s.push_str(v);
            }
            esc(&s)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn short(digest: &str) -> String {
    let hex = digest.split_once(':').map_or(digest, |(_, h)| h);
    esc(&hex.chars().take(12).collect::<String>())
}

/// `GET /ui/?q=&namespace=&last=`.
pub(super) async fn home(State(s): State<AppState>, headers: HeaderMap, Query(lq): Query<ListQuery>) -> Response {
    let who = viewer(&s, &headers).await;
    let orgs = Orgs::new(&s.accounts);
    let mut body = String::new();
    if let Some(p) = &who {
        let mine = match orgs.list(p, "", 100).await {
            Ok(o) => o,
            Err(e) => return service_error(e, who.as_ref()),
        };
        body.push_str("<section class=\"namespaces\"><h2>Namespaces</h2><ul class=\"chips\">");
        body.push_str(&format!(
            "<li><a href=\"/ui/?namespace={}\">{}</a> <small>you</small></li>",
            q(&p.name),
            esc(&p.name)
        ));
        for o in mine {
            body.push_str(&format!(
                "<li><a href=\"/ui/?namespace={}\">{}</a> <small>organization · {}</small></li>",
                q(&o.name),
                esc(&o.name),
                o.role.as_str()
            ));
        }
        body.push_str("</ul></section>");
    }
    let namespace = Some(lq.namespace.as_str()).filter(|n| !n.is_empty());
    let query = Some(lq.q.as_str()).filter(|n| !n.is_empty());
    let title = namespace.map_or("Repositories".to_owned(), |n| format!("Repositories of {n}"));
    body.push_str(&format!(
        "<h1>{}</h1><form class=\"search\" method=\"get\" action=\"/ui/\">\
         <input type=\"hidden\" name=\"namespace\" value=\"{}\">\
         <input type=\"search\" name=\"q\" id=\"q\" placeholder=\"Search repositories\" value=\"{}\">\
         <button>Search</button></form>",
        esc(&title),
        esc(&lq.namespace),
        esc(&lq.q)
    ));
    let rows = match orgs
        .list_repos(who.as_ref(), namespace, query, &lq.last, PAGE + 1)
        .await
    {
        Ok(r) => r,
        Err(e) => return service_error(e, who.as_ref()),
    };
    let more = rows.len() as i64 > PAGE;
    let rows = &rows[..rows.len().min(PAGE as usize)];
    let names: Vec<String> = rows.iter().map(|r| r.name.clone()).collect();
    let stats = match s.registry.repo_stats(&names).await {
        Ok(st) => st,
        Err(e) => return service_error(e, who.as_ref()),
    };
    if rows.is_empty() {
        body.push_str("<p class=\"empty\">No repositories here.</p>");
    } else {
        body.push_str("<table class=\"repos\"><thead><tr><th>Repository</th><th>Tags</th><th>Size</th><th>Pulls</th><th>Last pushed</th></tr></thead><tbody>");
        for r in rows {
            let st = stats.get(&r.name).cloned().unwrap_or_default();
            body.push_str(&format!(
                "<tr><td data-label=\"Repository\"><a href=\"/ui/r/{0}\">{0}</a> <span class=\"badge {1}\">{1}</span><div class=\"desc\">{2}</div></td>\
                 <td data-label=\"Tags\">{3}</td><td data-label=\"Size\">{4}</td><td data-label=\"Pulls\">{5}</td><td data-label=\"Last pushed\">{6}</td></tr>",
                esc(&r.name),
                r.visibility.as_str(),
                esc(&r.description),
                st.tag_count,
                size(st.size),
                st.pull_count,
                ago(st.last_pushed)
            ));
        }
        body.push_str("</tbody></table>");
    }
    if let (true, Some(last)) = (more, rows.last()) {
        body.push_str(&format!(
            "<p class=\"more\"><a rel=\"next\" href=\"/ui/?namespace={}&amp;q={}&amp;last={}\">Next page</a></p>",
            q(&lq.namespace),
            q(&lq.q),
            q(&last.name)
        ));
    }
    layout(&title, who.as_ref(), &body).into_response()
}

/// `GET /ui/r/{name}`, `/ui/r/{name}/-/tags/{tag}`, `/ui/r/{name}/-/layers/{reference}`,
/// `/ui/r/{name}/-/compare?from=&to=`.
pub(super) async fn repository(
    State(s): State<AppState>,
    headers: HeaderMap,
    axum::extract::Path(path): axum::extract::Path<String>,
    Query(lq): Query<ListQuery>,
) -> Response {
    let who = viewer(&s, &headers).await;
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
                let body = format!(
                    "<h1>Not found</h1><p>No repository {} — or you need to <a href=\"/ui/login?next={}\">sign in</a>.</p>",
                    esc(name.as_str()),
                    q(&next)
                );
                return (StatusCode::NOT_FOUND, layout("Not found", None, &body)).into_response();
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

fn pull_box(cmd: &str) -> String {
    format!(
        "<div class=\"pull\"><code id=\"pull-command\">{0}</code>\
         <button type=\"button\" data-copy=\"pull-command\">Copy</button></div>",
        esc(cmd)
    )
}

async fn repo_page(
    s: &AppState,
    who: Option<&Principal>,
    repo: &crate::services::orgs::Repo,
    name: &RepoName,
    lq: &ListQuery,
    host: &str,
) -> Response {
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
    let tags = &tags[..tags.len().min(PAGE as usize)];
    let mut body = format!(
        "<nav class=\"crumbs\"><a href=\"/ui/?namespace={}\">{}</a> /</nav><h1>{} <span class=\"badge {}\">{}</span></h1><p class=\"desc\">{}</p>\
         <dl class=\"stats\"><div><dt>Size</dt><dd>{}</dd></div><div><dt>Tags</dt><dd>{}</dd></div><div><dt>Pulls</dt><dd>{}</dd></div>\
         <div><dt>Last pushed</dt><dd>{}</dd></div><div><dt>Last pulled</dt><dd>{}</dd></div></dl>{}",
        q(&repo.namespace),
        esc(&repo.namespace),
        esc(&repo.name),
        repo.visibility.as_str(),
        repo.visibility.as_str(),
        esc(&repo.description),
        size(stats.size),
        stats.tag_count,
        stats.pull_count,
        ago(stats.last_pushed),
        ago(stats.last_pulled),
        pull_box(&format!("docker pull {host}/{}", repo.name)),
    );
    let base = format!("/ui/r/{}", repo.name);
    body.push_str(&format!(
        "<h2>Tags</h2><p class=\"order\">Sort: <a href=\"{base}\"{}>name</a> · <a href=\"{base}?ordering=last_pushed\"{}>last pushed</a></p>",
        if order == TagOrder::Name { " class=\"on\"" } else { "" },
        if order == TagOrder::LastPushed { " class=\"on\"" } else { "" },
    ));
    if tags.is_empty() {
        body.push_str("<p class=\"empty\">No tags yet.</p>");
    } else {
        body.push_str("<table class=\"tags\" id=\"tags\"><thead><tr><th>Tag</th><th>Digest</th><th>Platforms</th><th>Size</th><th>Last pushed</th><th>Pushed by</th><th>Last pulled</th></tr></thead><tbody>");
        for t in tags {
            body.push_str(&format!(
                "<tr><td data-label=\"Tag\"><a href=\"{base}/-/tags/{0}\">{0}</a></td><td data-label=\"Digest\"><code title=\"{1}\">{2}</code></td>\
                 <td data-label=\"Platforms\">{3}</td><td data-label=\"Size\">{4}</td><td data-label=\"Last pushed\">{5}</td><td data-label=\"Pushed by\">{6}</td><td data-label=\"Last pulled\">{7}</td></tr>",
                esc(&t.name),
                esc(&t.digest),
                short(&t.digest),
                platforms(&t.platforms),
                size(t.size),
                ago(Some(t.last_pushed)),
                esc(&t.pushed_by),
                ago(t.last_pulled),
            ));
        }
        body.push_str("</tbody></table>");
        if tags.len() > 1 {
            let options = |selected: usize| {
                tags.iter()
                    .enumerate()
                    .map(|(i, t)| {
                        format!(
                            "<option value=\"{0}\"{1}>{0}</option>",
                            esc(&t.name),
                            if i == selected { " selected" } else { "" }
                        )
                    })
                    .collect::<String>()
            };
            body.push_str(&format!(
                "<form method=\"get\" action=\"{base}/-/compare\" class=\"compare\" id=\"compare-form\">\
                 <label>Compare <select name=\"from\">{}</select></label> <label>with <select name=\"to\">{}</select></label> \
                 <button>Compare</button></form>",
                options(1),
                options(0),
            ));
        }
    }
    if let (true, Some(last)) = (more, tags.last()) {
        let cursor = match order {
            TagOrder::Name => last.name.clone(),
            TagOrder::LastPushed => format!("{}:{}", last.last_pushed, last.name),
        };
        let ordering = if order == TagOrder::LastPushed {
            "last_pushed"
        } else {
            "name"
        };
        body.push_str(&format!(
            "<p class=\"more\"><a rel=\"next\" href=\"{base}?ordering={ordering}&amp;last={}\">Next page</a></p>",
            q(&cursor)
        ));
    }
    layout(&repo.name, who, &body).into_response()
}

async fn tag_page(s: &AppState, who: Option<&Principal>, name: &RepoName, tag: &str, host: &str) -> Response {
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
    let mut body = format!(
        "<nav class=\"crumbs\"><a href=\"{base}\">{}</a> :</nav><h1>{}</h1>{}\
         <dl class=\"stats\"><div><dt>Digest</dt><dd><code>{}</code></dd></div><div><dt>Size</dt><dd>{}</dd></div>\
         <div><dt>Platforms</dt><dd>{}</dd></div><div><dt>Pushed</dt><dd>{} by {}</dd></div><div><dt>Last pulled</dt><dd>{}</dd></div></dl>",
        esc(name.as_str()),
        esc(&t.name),
        pull_box(&format!("docker pull {host}/{name}:{}", t.name)),
        esc(&t.digest),
        size(t.size),
        platforms(&t.platforms),
        ago(Some(t.last_pushed)),
        if t.pushed_by.is_empty() { "—".to_owned() } else { esc(&t.pushed_by) },
        ago(t.last_pulled),
    );
    for img in &images {
        let plat = img
            .platform
            .as_ref()
            .map(|p| platforms(std::slice::from_ref(p)))
            .unwrap_or_default();
        let query = img
            .platform
            .as_ref()
            .map(|p| format!("?platform={}", q(&platforms(std::slice::from_ref(p)))))
            .unwrap_or_default();
        body.push_str(&format!(
            "<section class=\"image\"><h2>{}</h2><p><code title=\"{}\">{}</code> · <a href=\"{base}/-/layers/{}{query}\">Layer analysis</a></p>\
             <table class=\"history\"><thead><tr><th>#</th><th>Created</th><th>Created by</th><th>Size</th><th>Comment</th></tr></thead><tbody>",
            if plat.is_empty() { "Image".to_owned() } else { plat.clone() },
            esc(&img.digest),
            short(&img.digest),
            q(&t.name),
        ));
        // Newest first, as `docker history` lists them.
        for (i, e) in img.history.iter().enumerate().rev() {
            let sz = match &e.layer {
                Some(l) => match l.diff_size {
                    Some(d) => format!("{} <small>({} compressed)</small>", size(d), size(l.size)),
                    None => format!("{} <small>compressed</small>", size(l.size)),
                },
                None => "0 B".to_owned(),
            };
            body.push_str(&format!(
                "<tr class=\"{}\"><td data-label=\"#\">{}</td><td data-label=\"Created\">{}</td><td data-label=\"Created by\"><code class=\"cmd\">{}</code></td>\
                 <td data-label=\"Size\">{}</td><td data-label=\"Comment\">{}</td></tr>",
                if e.empty_layer { "empty" } else { "layer" },
                i + 1,
                esc(e.created.as_deref().unwrap_or("")),
                esc(&e.created_by),
                sz,
                esc(&e.comment),
            ));
        }
        body.push_str("</tbody></table></section>");
    }
    layout(&format!("{name}:{}", t.name), who, &body).into_response()
}

async fn layers_page(
    s: &AppState,
    who: Option<&Principal>,
    name: &RepoName,
    reference: &str,
    lq: &ListQuery,
) -> Response {
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
    let mut body = format!(
        "<nav class=\"crumbs\"><a href=\"/ui/r/{0}\">{0}</a> {sep}</nav><h1>{1} — layers</h1>",
        esc(name.as_str()),
        esc(reference)
    );
    for img in &images {
        let a = &img.analysis;
        let plat = img
            .platform
            .as_ref()
            .map(|p| platforms(std::slice::from_ref(p)))
            .unwrap_or_default();
        body.push_str(&format!(
            "<section class=\"image\"><h2>{}</h2><dl class=\"stats\"><div><dt>Efficiency</dt><dd id=\"efficiency\">{:.2} %</dd></div>\
             <div><dt>Wasted</dt><dd>{}</dd></div><div><dt>User wasted</dt><dd>{:.2} %</dd></div><div><dt>Files size</dt><dd>{}</dd></div></dl>\
             <table class=\"layers\"><thead><tr><th>#</th><th>Created by</th><th>Size</th><th>Added</th><th>Changed</th><th>Removed</th></tr></thead><tbody>",
            if plat.is_empty() { "Image".to_owned() } else { plat },
            a.efficiency * 100.0,
            size(a.wasted_bytes as i64),
            a.wasted_user_percent * 100.0,
            size(a.size_bytes as i64),
        ));
        for l in &a.layers {
            let created_by = img.layers.get(l.index).map_or("", |(_, c)| c.as_str());
            body.push_str(&format!(
                "<tr><td data-label=\"#\">{}</td><td data-label=\"Created by\"><code class=\"cmd\">{}</code></td><td data-label=\"Size\">{}</td>\
                 <td data-label=\"Added\">{} ({})</td><td data-label=\"Changed\">{} ({})</td><td data-label=\"Removed\">{} ({})</td></tr>",
                l.index + 1,
                esc(created_by),
                size(l.size as i64),
                l.added,
                size(l.added_bytes as i64),
                l.changed,
                size(l.changed_bytes as i64),
                l.removed,
                size(l.removed_bytes as i64),
            ));
        }
        body.push_str("</tbody></table>");
        if !a.inefficiencies.is_empty() {
            body.push_str("<h3>Wasted space</h3><table class=\"waste\"><thead><tr><th>Count</th><th>Total</th><th>Path</th></tr></thead><tbody>");
            for i in a.inefficiencies.iter().take(50) {
                body.push_str(&format!(
                    "<tr><td data-label=\"Count\">{}</td><td data-label=\"Total\">{}</td><td data-label=\"Path\"><code>{}</code></td></tr>",
                    i.count,
                    size(i.cumulative_size as i64),
                    esc(&i.path)
                ));
            }
            body.push_str("</tbody></table>");
        }
        body.push_str("</section>");
    }
    layout(&format!("{name} layers"), who, &body).into_response()
}
