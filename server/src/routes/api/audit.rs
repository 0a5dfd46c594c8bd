//! `GET /api/v1/audit`: the audit log, newest first, for administrators.

use axum::extract::State;
use serde_json::{json, Value};

use super::{page, time, ApiResult, JsonError, Params, Who};
use crate::routes::AppState;
use crate::services::orgs::{require_admin, AuditEntry, Orgs};

fn view(a: &AuditEntry) -> Value {
    json!({
        "id": a.id,
        "at": time(a.at),
        "actor": a.actor,
        "action": a.action,
        "target": a.target,
        "detail": a.detail,
        "address": a.address,
    })
}

/// `GET /api/v1/audit?before=&n=`: entries with ids below `before`.
pub(super) async fn list(State(s): State<AppState>, who: Who, params: Params) -> ApiResult {
    let me = who.user()?;
    require_admin(me)?;
    let n = params.page_size()?;
    let before = match params.get("before") {
        None | Some("") => i64::MAX,
        Some(b) => b
            .parse::<i64>()
            .map_err(|_| JsonError::bad_request(format!("before must be an entry id, not {b:?}")))?,
    };
    let rows = Orgs::new(&s.accounts).audit(before, n + 1).await?;
    page(
        "/audit",
        &[],
        ("before", |a: &AuditEntry| a.id.to_string()),
        n,
        rows,
        view,
    )
}
