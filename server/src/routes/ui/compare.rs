//! The UI's compare view: two tags (or digests) of a repository side by side — layers shared and
//! differing, configuration changes, and the file-tree diff with filters (added / removed /
//! modified, path prefix) and pages. Reached from the tag list's "Compare" form; the same one
//! check as every repository page (read access) has been made by the caller.

use actix_web::http::StatusCode;
use actix_web::HttpResponse;
use maud::{html, Markup};
use rreg_oci::compare::{FileChangeKind, FileFilter, LayerStatus};
use rreg_oci::{Platform, Reference, RepoName};

use super::{error_page, layout, q, service_error, size};
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
) -> HttpResponse {
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
    let base = format!("/ui/r/{name}");
    // The file filter's choices, the current one selected.
    let option = |value: &str, label: &str| -> Markup {
        html! { option value=(value) selected[p.change == value] { (label) } }
    };
    let body = html! {
        nav.crumbs {
            a href=(base) { (name.as_str()) }
            " /"
        }
        h1 { (p.from) " → " (p.to) }
        dl.stats {
            div { dt { "Layers shared" } dd #layers-shared { (t.layers_shared) } }
            div { dt { "Layers added" } dd { (t.layers_added) " (" (size(t.compressed_added as i64)) ")" } }
            div { dt { "Layers removed" } dd { (t.layers_removed) " (" (size(t.compressed_removed as i64)) ")" } }
            div {
                dt { "Files" }
                dd #file-counts { "+" (t.files_added) " −" (t.files_removed) " ~" (t.files_modified) }
            }
        }
        h2 { "Layers" }
        table.layers #compare-layers {
            thead {
                tr { th { "In" } th { "From #" } th { "To #" } th { "Created by" } th { "Size" } }
            }
            tbody {
                @for l in &c.layers {
                    @let status = match l.status {
                        LayerStatus::Shared => "both",
                        LayerStatus::Added => "to only",
                        LayerStatus::Removed => "from only",
                    };
                    tr class=(status.replace(' ', "-")) {
                        td data-label="In" { (status) }
                        td data-label="From #" { @if let Some(i) = l.from_index { (i + 1) } }
                        td data-label="To #" { @if let Some(i) = l.to_index { (i + 1) } }
                        td data-label="Created by" { code.cmd title=(l.digest) { (l.created_by) } }
                        td data-label="Size" { (size(l.diff_size as i64)) }
                    }
                }
            }
        }
        h2 { "Configuration" }
        @if c.config.is_empty() {
            p.empty { "No configuration changes." }
        } @else {
            table.config #compare-config {
                thead {
                    tr { th { "Field" } th { "Key" } th { "From" } th { "To" } }
                }
                tbody {
                    @for x in &c.config {
                        tr {
                            td data-label="Field" { (x.field) }
                            td data-label="Key" { (x.key.as_deref().unwrap_or("")) }
                            td data-label="From" { code { (x.from.as_deref().unwrap_or("—")) } }
                            td data-label="To" { code { (x.to.as_deref().unwrap_or("—")) } }
                        }
                    }
                }
            }
        }
        h2 { "Files" }
        // The file filter: a plain GET form, no script.
        form.filter method="get" action={ (base) "/-/compare" } {
            input type="hidden" name="from" value=(p.from);
            input type="hidden" name="to" value=(p.to);
            input type="hidden" name="platform" value=(p.platform);
            label {
                "Show "
                select name="change" {
                    (option("", "all changes"))
                    (option("added", "added"))
                    (option("removed", "removed"))
                    (option("modified", "modified"))
                }
            }
            " "
            label { "under " input name="prefix" value=(p.prefix) placeholder="/usr/lib"; }
            " "
            button { "Filter" }
        }
        p { (c.files_matching) " matching changes." }
        @if !c.files.is_empty() {
            table.files #compare-files {
                thead {
                    tr { th { "Change" } th { "Path" } th { "What" } th { "Size" } }
                }
                tbody {
                    @for f in &c.files {
                        @let sz = f.to.as_ref().or(f.from.as_ref()).map_or(0, |s| s.size);
                        tr class=(f.change.as_str()) {
                            td data-label="Change" { (f.change.as_str()) }
                            td data-label="Path" { code { "/" (f.path) } }
                            td data-label="What" { (f.differs.join(", ")) }
                            td data-label="Size" { (size(sz as i64)) }
                        }
                    }
                }
            }
        }
        @if let Some(next) = &c.next {
            p.more {
                a rel="next" href={
                    (base) "/-/compare?from=" (q(p.from)) "&to=" (q(p.to)) "&platform=" (q(p.platform))
                    "&change=" (q(p.change)) "&prefix=" (q(p.prefix)) "&last=" (q(next))
                } { "Next page" }
            }
        }
    };
    layout(&format!("{name}: {} → {}", p.from, p.to), who, body).into_response()
}
