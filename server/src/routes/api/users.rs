//! `/api/v1/user` and `/api/v1/users`: sign-up and account creation, the caller's own account, the
//! list of users, password and administrator changes, deletion.

use actix_web::web;
use rreg_oci::api::{Me, Membership, NewUser, User, UserChange};

use super::{created, no_content, ok, page, time, ApiResult, Params, RawBody, Segments, Who};
use crate::routes::AppState;
use crate::services::orgs::{check_password, require_admin, Orgs, UserInfo};

fn view(u: &UserInfo) -> User {
    User {
        name: u.name.clone(),
        is_admin: u.is_admin,
        created_at: time(u.created_at),
    }
}

/// `POST /api/v1/users` {name, password, is_admin?}: sign-up (when open) or an administrator's.
pub(super) async fn create(s: web::Data<AppState>, who: Who, body: RawBody) -> ApiResult {
    let orgs = Orgs::new(&s.accounts);
    // Anonymous callers learn nothing about validation while sign-up is closed.
    orgs.may_create_user(who.principal(), false)?;
    let req: NewUser = body.json()?;
    orgs.may_create_user(who.principal(), req.is_admin)?;
    let u = orgs.create_user(&req.name, &req.password, req.is_admin).await?;
    let how = match (who.principal(), req.is_admin) {
        (None, _) => "signup",
        (Some(_), true) => "admin",
        (Some(_), false) => "user",
    };
    who.audit(&orgs, "user.create", &u.name, how).await;
    created(view(&u))
}

/// `GET /api/v1/user`: the caller's account and organizations.
pub(super) async fn me(s: web::Data<AppState>, who: Who) -> ApiResult {
    let me = who.user()?;
    let u = Orgs::new(&s.accounts).me(me).await?;
    ok(Me {
        name: u.name.clone(),
        is_admin: u.is_admin,
        created_at: time(u.created_at),
        orgs: u
            .orgs
            .iter()
            .map(|(name, role)| Membership {
                name: name.clone(),
                role: role.as_str().to_owned(),
            })
            .collect(),
    })
}

/// `GET /api/v1/users?last=&n=`: every user, for administrators.
pub(super) async fn list(s: web::Data<AppState>, who: Who, params: Params) -> ApiResult {
    let me = who.user()?;
    require_admin(me)?;
    let n = params.page_size()?;
    let rows = Orgs::new(&s.accounts)
        .list_users(params.get("last").unwrap_or(""), n.saturating_add(1))
        .await?;
    page("/users", &[], ("last", |u: &UserInfo| u.name.clone()), n, rows, view)
}

/// `PATCH /api/v1/users/{name}` {password?, is_admin?}: one's own password, or anything for
/// administrators.
pub(super) async fn update(
    s: web::Data<AppState>,
    who: Who,
    Segments(name): Segments<String>,
    body: RawBody,
) -> ApiResult {
    let me = who.user()?;
    let req: UserChange = body.json()?;
    let orgs = Orgs::new(&s.accounts);
    orgs.may_update_user(me, &name, req.is_admin.is_some())?;
    if req.password.is_none() && req.is_admin.is_none() {
        return Err(super::JsonError::bad_request(
            "nothing to change: give password or is_admin",
        ));
    }
    let _ = orgs.user(&name).await?;
    if let Some(pw) = &req.password {
        // Checked before anything changes, so a bad password does not leave half a change.
        check_password(pw)?;
    }
    if let Some(admin) = req.is_admin {
        orgs.set_admin(&name, admin).await?;
        who.audit(&orgs, "user.admin", &name, if admin { "granted" } else { "removed" })
            .await;
    }
    if let Some(pw) = &req.password {
        orgs.set_password(&name, pw).await?;
        who.audit(&orgs, "user.password", &name, "").await;
    }
    ok(view(&orgs.user(&name).await?))
}

/// `DELETE /api/v1/users/{name}`: administrators only.
pub(super) async fn delete(s: web::Data<AppState>, who: Who, Segments(name): Segments<String>) -> ApiResult {
    let me = who.user()?;
    require_admin(me)?;
    let orgs = Orgs::new(&s.accounts);
    orgs.delete_user(&name).await?;
    who.audit(&orgs, "user.delete", &name, "").await;
    no_content()
}
