//! `POST /api/v1/login`: a username and password for a session token (a JWT whose audience is
//! `<service>-api`, valid 12 hours), sent back as `Authorization: Bearer`. Failed logins count
//! toward the same limit as every other login.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, State};
use serde::Deserialize;
use serde_json::json;

use super::{no_content, ok, ApiResult, RawBody, Who};
use crate::routes::AppState;
use crate::services::orgs::Orgs;
use crate::services::ServiceError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

/// `POST /api/v1/login` {username, password} → {token, expires_in}.
pub(super) async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    body: RawBody,
) -> ApiResult {
    let addr = peer.ip().to_string();
    s.accounts.check_login_rate(&addr)?;
    let req: Login = body.json()?;
    // The check: the credentials themselves (rate limited).
    let p = s.accounts.login(&req.username, &req.password, &addr).await?;
    let (token, expires_in) = s.accounts.issue_session(&p)?;
    Orgs::new(&s.accounts)
        .record(&p.name, "login", &p.name, "api", &addr)
        .await;
    ok(json!({ "token": token, "expires_in": expires_in }))
}

/// `DELETE /api/v1/user/sessions`: signs the caller out everywhere — every session, and every
/// refresh token obtained with the password (those obtained with a personal access token live as
/// long as the token). Needs the password or a session, not a personal access token.
pub(super) async fn end_all(State(s): State<AppState>, who: Who) -> ApiResult {
    // The check: the caller's own full credentials.
    let p = who.user()?;
    if p.cap.is_some() {
        return Err(ServiceError::Denied("a personal access token cannot end its owner's sessions".into()).into());
    }
    s.accounts.end_all_sessions(p).await?;
    who.audit(&Orgs::new(&s.accounts), "logout.everywhere", &p.name, "")
        .await;
    no_content()
}
