//! `POST /api/v1/login`: a username and password for a session token (a JWT whose audience is
//! `<service>-api`, valid 12 hours), sent back as `Authorization: Bearer`. Failed logins count
//! toward the same limit as every other login.

use actix_web::{web, HttpRequest};
use rreg_oci::api::{LoginRequest, Session};

use super::{no_content, ok, ApiResult, RawBody, Who};
use crate::routes::AppState;
use crate::services::orgs::Orgs;
use crate::services::ServiceError;

/// `POST /api/v1/login` {username, password} → {token, expires_in}.
pub(super) async fn login(s: web::Data<AppState>, req: HttpRequest, body: RawBody) -> ApiResult {
    let addr = crate::routes::body::peer_ip(&req);
    s.accounts.check_login_rate(&addr)?;
    let login: LoginRequest = body.json()?;
    // The check: the credentials themselves (rate limited).
    let p = s.accounts.login(&login.username, &login.password, &addr).await?;
    let (token, expires_in) = s.accounts.issue_session(&p)?;
    Orgs::new(&s.accounts)
        .record(&p.name, "login", &p.name, "api", &addr)
        .await;
    ok(Session { token, expires_in })
}

/// `DELETE /api/v1/user/sessions`: signs the caller out everywhere — every session, and every
/// refresh token obtained with the password (those obtained with a personal access token live as
/// long as the token). Needs the password or a session, not a personal access token.
pub(super) async fn end_all(s: web::Data<AppState>, who: Who) -> ApiResult {
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
