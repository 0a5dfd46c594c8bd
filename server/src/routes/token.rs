//! `GET /token` and `POST /token`: Docker's token-auth endpoint and its OAuth2 form (`password` and
//! `refresh_token` grants), issuing registry tokens for the scopes asked, limited to what is allowed.

use std::collections::HashMap;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use rreg_oci::ErrorCode;

use super::auth::basic_credentials;
use super::body::peer_ip;
use super::errors::ApiError;
use super::AppState;
use crate::auth::Scope;
use crate::services::ServiceError;

fn token_error(e: ServiceError) -> HttpResponse {
    let mut err = ApiError::from(e);
    if err.code == ErrorCode::Unauthorized {
        err = err.status(StatusCode::UNAUTHORIZED);
    }
    err.into_response()
}

/// An OAuth2 error answer (RFC 6749 §5.2).
fn oauth_error(status: StatusCode, error: &str, description: String) -> HttpResponse {
    HttpResponse::build(status).json(rreg_oci::api::OAuthError {
        error: error.to_owned(),
        error_description: description,
    })
}

/// `GET /token?service=…&scope=…&offline_token=true` with Basic credentials or none.
pub async fn get_token(state: web::Data<AppState>, req: HttpRequest) -> HttpResponse {
    let accounts = &state.accounts;
    let addr = peer_ip(&req);
    let headers = req.headers();
    let params: Vec<(String, String)> = form_urlencoded::parse(req.query_string().as_bytes())
        .into_owned()
        .collect();
    if let Err(e) = accounts.check_login_rate(&addr) {
        return token_error(e);
    }
    let who = match basic_credentials(headers) {
        Some((u, p)) => match accounts.login(&u, &p, &addr).await {
            Ok(p) => Some(p),
            Err(e) => return token_error(e),
        },
        None => None,
    };
    let scopes = Scope::parse_all(params.iter().filter(|(k, _)| k == "scope").map(|(_, v)| v.as_str()));
    let offline = params.iter().any(|(k, v)| k == "offline_token" && v == "true");
    let refresh = match (&who, offline) {
        (Some(p), true) => match accounts.new_refresh_token(p).await {
            Ok(t) => Some(t),
            Err(e) => return token_error(e),
        },
        _ => None,
    };
    if let Some(p) = &who {
        let _ = accounts.db.audit(&p.name, "login", &p.name, "token", &addr).await;
    }
    match accounts.issue(who.as_ref(), &scopes, refresh).await {
        Ok(t) => HttpResponse::Ok().json(t),
        Err(e) => token_error(e),
    }
}

/// `POST /token`: `grant_type=password` (username, password) or `grant_type=refresh_token`.
pub async fn post_token(
    state: web::Data<AppState>,
    req: HttpRequest,
    form: Result<web::Form<HashMap<String, String>>, actix_web::Error>,
) -> HttpResponse {
    let accounts = &state.accounts;
    let addr = peer_ip(&req);
    if let Err(e) = accounts.check_login_rate(&addr) {
        return token_error(e);
    }
    let form = match form {
        Ok(f) => f.into_inner(),
        Err(e) => {
            let status = e.as_response_error().status_code();
            return oauth_error(status, "invalid_request", e.to_string());
        }
    };
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let scopes = Scope::parse_all([field("scope")]);
    let who = match field("grant_type") {
        "password" => match accounts.login(field("username"), field("password"), &addr).await {
            Ok(p) => p,
            Err(e) => return token_error(e),
        },
        "refresh_token" => match accounts.redeem_refresh_token(field("refresh_token")).await {
            Ok(p) => p,
            Err(e) => return token_error(e),
        },
        other => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                format!("grant_type {other:?} is not supported; use password or refresh_token"),
            )
        }
    };
    let refresh = if field("grant_type") == "refresh_token" {
        Some(field("refresh_token").to_owned())
    } else if field("access_type") == "offline" {
        match accounts.new_refresh_token(&who).await {
            Ok(t) => Some(t),
            Err(e) => return token_error(e),
        }
    } else {
        None
    };
    if field("grant_type") == "password" {
        let _ = accounts.db.audit(&who.name, "login", &who.name, "oauth2", &addr).await;
    }
    match accounts.issue(Some(&who), &scopes, refresh).await {
        Ok(mut t) => {
            t.scope = Some(field("scope").to_owned());
            HttpResponse::Ok().json(t)
        }
        Err(e) => token_error(e),
    }
}
