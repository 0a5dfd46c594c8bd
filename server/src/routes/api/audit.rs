//! `GET /api/v1/audit`: the audit log, newest first, for administrators.

use actix_web::web;
use rreg_oci::api;

use super::{page, time, ApiResult, JsonError, Params, Who};
use crate::routes::AppState;
use crate::services::orgs::{require_admin, AuditEntry, Orgs};

fn view(a: &AuditEntry) -> api::AuditEntry {
    api::AuditEntry {
        id: a.id,
        at: time(a.at),
        actor: a.actor.clone(),
        action: a.action.clone(),
        target: a.target.clone(),
        detail: a.detail.clone(),
        address: a.address.clone(),
    }
}

/// `GET /api/v1/audit?before=&n=`: entries with ids below `before`.
pub(super) async fn list(s: web::Data<AppState>, who: Who, params: Params) -> ApiResult {
    let me = who.user()?;
    require_admin(me)?;
    let n = params.page_size()?;
    let before = match params.get("before") {
        None | Some("") => i64::MAX,
        Some(b) => b
            .parse::<i64>()
            .map_err(|_| JsonError::bad_request(format!("before must be an entry id, not {b:?}")))?,
    };
    let rows = Orgs::new(&s.accounts).audit(before, n.saturating_add(1)).await?;
    page(
        "/audit",
        &[],
        ("before", |a: &AuditEntry| a.id.to_string()),
        n,
        rows,
        view,
    )
}
