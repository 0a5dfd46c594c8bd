//! The UI's compare view: two tags (or digests) of a repository side by side — layers shared and
//! differing, configuration changes, and the file-tree diff with filters (added / removed /
//! modified, path prefix) and pages. Reached from the tag list's "Compare" form; the same one
//! check as every repository page (read access) has been made by the caller.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use rreg_oci::compare::{FileChangeKind, FileFilter, LayerStatus};
use rreg_oci::{Platform, Reference, RepoName};

use super::{error_page, esc, layout, q, service_error, size};
use crate::auth::Principal;
use crate::routes::AppState;
use crate::services::CompareSide;

/// File changes per page.
const FILES_PAGE: usize = 200;

/// What the compare form and links carry.
pub(super) struct CompareParams<'a> {
    pub from: &'a str,
    pub to: &'a str,
    pub change: &'a str,
    pub prefix: &'a str,
    pub last: &'a str,
    pub platform: &'a str,
}

fn side(name: &RepoName, v: &str) -> Option<CompareSide> {
    Some(CompareSide {
        name: name.clone(),
        reference: Reference::parse(v).ok()?,
        label: v.to_owned(),
    })
}

pub(super) async fn compare_page(
    s: &AppState,
    who: Option<&Principal>,
    name: &RepoName,
    p: &CompareParams<'_>,
) -> Response {
    let (Some(from), Some(to)) = (side(name, p.from), side(name, p.to)) else {
        return error_page(StatusCode::BAD_REQUEST, who, "pick two tags to compare");
    };
    let platform = Platform::parse(p.platform);
    let change = FileChangeKind::parse(p.change);
    let filter = FileFilter {
        changes: change.into_iter().collect(),
        prefix: (!p.prefix.is_empty()).then(|| p.prefix.to_owned()),
    };
    let last = (!p.last.is_empty()).then_some(p.last);
    let c = match s.registry.compare(&from, &to, platform.as_ref()).await {
        Ok(c) => c.page(&filter, last, FILES_PAGE),
        Err(e) => return service_error(e, who),
    };
    let t = &c.totals;
    let base = format!("/ui/r/{}", name);
    let mut body = format!(
        "<nav class=\"crumbs\"><a href=\"{0}\">{1}</a> /</nav><h1>{2} → {3}</h1>\
         <dl class=\"stats\"><div><dt>Layers shared</dt><dd id=\"layers-shared\">{4}</dd></div>\
         <div><dt>Layers added</dt><dd>{5} ({6})</dd></div><div><dt>Layers removed</dt><dd>{7} ({8})</dd></div>\
         <div><dt>Files</dt><dd id=\"file-counts\">+{9} −{10} ~{11}</dd></div></dl>",
        esc(&base),
        esc(name.as_str()),
        esc(p.from),
        esc(p.to),
        t.layers_shared,
        t.layers_added,
        size(t.compressed_added as i64),
        t.layers_removed,
        size(t.compressed_removed as i64),
        t.files_added,
        t.files_removed,
        t.files_modified,
    );
    body.push_str("<h2>Layers</h2><table class=\"layers\" id=\"compare-layers\"><thead><tr><th>In</th><th>From #</th><th>To #</th><th>Created by</th><th>Size</th></tr></thead><tbody>");
    for l in &c.layers {
        let status = match l.status {
            LayerStatus::Shared => "both",
            LayerStatus::Added => "to only",
            LayerStatus::Removed => "from only",
        };
        body.push_str(&format!(
            "<tr class=\"{}\"><td data-label=\"In\">{}</td><td data-label=\"From #\">{}</td><td data-label=\"To #\">{}</td>\
             <td data-label=\"Created by\"><code class=\"cmd\" title=\"{}\">{}</code></td><td data-label=\"Size\">{}</td></tr>",
            esc(status.replace(' ', "-").as_str()),
            status,
            l.from_index.map(|i| (i + 1).to_string()).unwrap_or_default(),
            l.to_index.map(|i| (i + 1).to_string()).unwrap_or_default(),
            esc(&l.digest),
            esc(&l.created_by),
            size(l.diff_size as i64),
        ));
    }
    body.push_str("</tbody></table>");
    body.push_str("<h2>Configuration</h2>");
    if c.config.is_empty() {
        body.push_str("<p class=\"empty\">No configuration changes.</p>");
    } else {
        body.push_str("<table class=\"config\" id=\"compare-config\"><thead><tr><th>Field</th><th>Key</th><th>From</th><th>To</th></tr></thead><tbody>");
        for x in &c.config {
            body.push_str(&format!(
                "<tr><td data-label=\"Field\">{}</td><td data-label=\"Key\">{}</td><td data-label=\"From\"><code>{}</code></td><td data-label=\"To\"><code>{}</code></td></tr>",
                esc(&x.field),
                esc(x.key.as_deref().unwrap_or("")),
                esc(x.from.as_deref().unwrap_or("—")),
                esc(x.to.as_deref().unwrap_or("—")),
            ));
        }
        body.push_str("</tbody></table>");
    }
    // The file filter: a plain GET form, no script.
    let opt = |v: &str, label: &str| {
        format!(
            "<option value=\"{v}\"{}>{label}</option>",
            if p.change == v { " selected" } else { "" }
        )
    };
    body.push_str(&format!(
        "<h2>Files</h2><form method=\"get\" action=\"{}/-/compare\" class=\"filter\">\
         <input type=\"hidden\" name=\"from\" value=\"{}\"><input type=\"hidden\" name=\"to\" value=\"{}\">\
         <input type=\"hidden\" name=\"platform\" value=\"{}\">\
         <label>Show <select name=\"change\">{}{}{}{}</select></label> \
         <label>under <input name=\"prefix\" value=\"{}\" placeholder=\"/usr/lib\"></label> <button>Filter</button></form>\
         <p>{} matching changes.</p>",
        esc(&base),
        esc(p.from),
        esc(p.to),
        esc(p.platform),
        opt("", "all changes"),
        opt("added", "added"),
        opt("removed", "removed"),
        opt("modified", "modified"),
        esc(p.prefix),
        c.files_matching,
    ));
    if !c.files.is_empty() {
        body.push_str("<table class=\"files\" id=\"compare-files\"><thead><tr><th>Change</th><th>Path</th><th>What</th><th>Size</th></tr></thead><tbody>");
        for f in &c.files {
            let sz = f.to.as_ref().or(f.from.as_ref()).map_or(0, |s| s.size);
            body.push_str(&format!(
                "<tr class=\"{0}\"><td data-label=\"Change\">{0}</td><td data-label=\"Path\"><code>/{1}</code></td><td data-label=\"What\">{2}</td><td data-label=\"Size\">{3}</td></tr>",
                f.change.as_str(),
                esc(&f.path),
                esc(&f.differs.join(", ")),
                size(sz as i64),
            ));
        }
        body.push_str("</tbody></table>");
    }
    if let Some(next) = &c.next {
        body.push_str(&format!(
            "<p class=\"more\"><a rel=\"next\" href=\"{}/-/compare?from={}&amp;to={}&amp;platform={}&amp;change={}&amp;prefix={}&amp;last={}\">Next page</a></p>",
            esc(&base),
            q(p.from),
            q(p.to),
            q(p.platform),
            q(p.change),
            q(p.prefix),
            q(next)
        ));
    }
    layout(&format!("{name}: {} → {}", p.from, p.to), who, &body).into_response()
}
