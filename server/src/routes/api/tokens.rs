//! `/api/v1/tokens`: the caller's personal access tokens. A token's secret is shown once, when it is
//! created; it is then used as the password of Basic credentials, on `/v2`, `/token` and here.

use actix_web::web;
use rreg_oci::api::{AccessToken, Items, NewAccessToken};

use super::{created, no_content, ok, time, ApiResult, JsonError, RawBody, Segments, Who};
use crate::auth::Access;
use crate::routes::AppState;
use crate::services::orgs::{Orgs, TokenInfo};

fn view(t: &TokenInfo) -> AccessToken {
    AccessToken {
        id: t.id,
        name: t.name.clone(),
        scope: t.scope.clone(),
        created_at: time(t.created_at),
        last_used_at: t.last_used_at.map(time),
        revoked: t.revoked,
        secret: None,
    }
}

/// `GET /api/v1/tokens`: the caller's tokens, revoked ones included.
pub(super) async fn list(s: web::Data<AppState>, who: Who) -> ApiResult {
    let me = who.user()?;
    let items = Orgs::new(&s.accounts).tokens(me).await?.iter().map(view).collect();
    ok(Items { items })
}

/// `POST /api/v1/tokens` {name, scope}: a new token for the caller; the secret is in the answer only.
pub(super) async fn create(s: web::Data<AppState>, who: Who, body: RawBody) -> ApiResult {
    let me = who.user()?;
    let req: NewAccessToken = body.json()?;
    let scope = match req.scope.as_str() {
        "repo:read" | "repo:write" | "repo:admin" => Access::parse(&req.scope),
        _ => None,
    }
    .ok_or_else(|| {
        JsonError::bad_request(format!(
            "scope must be repo:read, repo:write or repo:admin, not {:?}",
            req.scope
        ))
    })?;
    let orgs = Orgs::new(&s.accounts);
    let (token, secret) = orgs.create_token(me, &req.name, scope).await?;
    who.audit(
        &orgs,
        "token.create",
        &me.name,
        &format!("{} {} {}", token.id, token.name, token.scope),
    )
    .await;
    created(AccessToken {
        secret: Some(secret),
        ..view(&token)
    })
}

/// `DELETE /api/v1/tokens/{id}`: revokes one of the caller's tokens.
pub(super) async fn revoke(s: web::Data<AppState>, who: Who, Segments(id): Segments<String>) -> ApiResult {
    let me = who.user()?;
    let id: i64 = id
        .parse()
        .map_err(|_| JsonError::bad_request(format!("token id must be a number, not {id:?}")))?;
    let orgs = Orgs::new(&s.accounts);
    orgs.revoke_token(me, id).await?;
    who.audit(&orgs, "token.revoke", &me.name, &id.to_string()).await;
    no_content()
}
