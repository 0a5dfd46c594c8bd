//! `/api/v1/orgs`: organizations (any user may create one and becomes its owner) and their members
//! (owners manage them; the last owner stays).

use actix_web::web;
use rreg_oci::api::{self, Items, MemberChange, Membership, NewOrg, OrgChange};

use super::{created, no_content, ok, page, time, ApiResult, JsonError, Params, RawBody, Segments, Who};
use crate::routes::AppState;
use crate::services::orgs::{Member, Org, OrgRole, Orgs, Visibility};

fn view(o: &Org) -> api::Org {
    api::Org {
        name: o.name.clone(),
        default_visibility: o.default_visibility.as_str().to_owned(),
        created_at: time(o.created_at),
        role: o.role.as_str().to_owned(),
    }
}

fn member_view(m: &Member) -> Membership {
    Membership {
        name: m.name.clone(),
        role: m.role.as_str().to_owned(),
    }
}

/// `POST /api/v1/orgs` {name}: any user; the creator becomes the owner.
pub(super) async fn create(s: web::Data<AppState>, who: Who, body: RawBody) -> ApiResult {
    let me = who.user()?;
    let req: NewOrg = body.json()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.create(me, &req.name).await?;
    who.audit(&orgs, "org.create", &org.name, "").await;
    created(view(&org))
}

/// `GET /api/v1/orgs?last=&n=`: the caller's organizations (every one for administrators).
pub(super) async fn list(s: web::Data<AppState>, who: Who, params: Params) -> ApiResult {
    let me = who.user()?;
    let n = params.page_size()?;
    let rows = Orgs::new(&s.accounts)
        .list(me, params.get("last").unwrap_or(""), n.saturating_add(1))
        .await?;
    page("/orgs", &[], ("last", |o: &Org| o.name.clone()), n, rows, view)
}

/// `GET /api/v1/orgs/{org}`: members only.
pub(super) async fn get(s: web::Data<AppState>, who: Who, Segments(org): Segments<String>) -> ApiResult {
    let me = who.user()?;
    let org = Orgs::new(&s.accounts).org(me, &org, OrgRole::Member).await?;
    ok(view(&org))
}

/// `PATCH /api/v1/orgs/{org}` {default_visibility}: owners only.
pub(super) async fn update(
    s: web::Data<AppState>,
    who: Who,
    Segments(org): Segments<String>,
    body: RawBody,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let mut org = orgs.org(me, &org, OrgRole::Owner).await?;
    let req: OrgChange = body.json()?;
    let Some(v) = req.default_visibility else {
        return Err(JsonError::bad_request("nothing to change: give default_visibility"));
    };
    let v = Visibility::parse(&v)
        .ok_or_else(|| JsonError::bad_request(format!("default_visibility must be public or private, not {v:?}")))?;
    orgs.set_default_visibility(&org, v).await?;
    org.default_visibility = v;
    who.audit(
        &orgs,
        "org.update",
        &org.name,
        &format!("default_visibility={}", v.as_str()),
    )
    .await;
    ok(view(&org))
}

/// `DELETE /api/v1/orgs/{org}`: owners only; refused while it has repositories.
pub(super) async fn delete(s: web::Data<AppState>, who: Who, Segments(org): Segments<String>) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    orgs.delete(&org).await?;
    who.audit(&orgs, "org.delete", &org.name, "").await;
    no_content()
}

/// `GET /api/v1/orgs/{org}/members`: owners only.
pub(super) async fn members(s: web::Data<AppState>, who: Who, Segments(org): Segments<String>) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    let items = orgs.members(&org).await?.iter().map(member_view).collect();
    ok(Items { items })
}

/// `PUT /api/v1/orgs/{org}/members/{user}` {role}: owners add members or change roles.
pub(super) async fn set_member(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, user)): Segments<(String, String)>,
    body: RawBody,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let org = orgs.org(me, &org, OrgRole::Owner).await?;
    let req: MemberChange = body.json()?;
    let role = OrgRole::parse(&req.role)
        .ok_or_else(|| JsonError::bad_request(format!("role must be owner or member, not {:?}", req.role)))?;
    let before = orgs.set_member(&org, &user, role).await?;
    let target = format!("{}/{user}", org.name);
    let body = member_view(&Member { name: user, role });
    if before == OrgRole::None {
        who.audit(&orgs, "member.add", &target, role.as_str()).await;
        created(body)
    } else {
        if before != role {
            who.audit(&orgs, "member.role", &target, role.as_str()).await;
        }
        ok(body)
    }
}

/// `DELETE /api/v1/orgs/{org}/members/{user}`: owners remove anyone, members themselves.
pub(super) async fn remove_member(
    s: web::Data<AppState>,
    who: Who,
    Segments((org, user)): Segments<(String, String)>,
) -> ApiResult {
    let me = who.user()?;
    let orgs = Orgs::new(&s.accounts);
    let need = if user == me.name {
        OrgRole::Member
    } else {
        OrgRole::Owner
    };
    let org = orgs.org(me, &org, need).await?;
    orgs.remove_member(&org, &user).await?;
    who.audit(&orgs, "member.remove", &format!("{}/{user}", org.name), "")
        .await;
    no_content()
}
