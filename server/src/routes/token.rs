//! `GET /token` and `POST /token`: Docker's token-auth endpoint and its OAuth2 form (`password` and
//! `refresh_token` grants), issuing registry tokens for the scopes asked, limited to what is allowed.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Form;
use rreg_oci::ErrorCode;

use super::auth::basic_credentials;
use super::errors::ApiError;
use super::AppState;
use crate::auth::Scope;
use crate::services::ServiceError;

fn token_error(e: ServiceError) -> Response {
    let mut err = ApiError::from(e);
    if err.code == ErrorCode::Unauthorized {
        err = err.status(StatusCode::UNAUTHORIZED);
    }
    err.into_response()
}

/// `GET /token?service=…&scope=…&offline_token=true` with Basic credentials or none.
pub async fn get_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let accounts = &state.accounts;
    let addr = peer.ip().to_string();
    if let Err(e) = accounts.check_login_rate(&addr) {
        return token_error(e);
    }
    let who = match basic_credentials(&headers) {
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
        Ok(t) => (StatusCode::OK, axum::Json(t)).into_response(),
        Err(e) => token_error(e),
    }
}

/// `POST /token`: `grant_type=password` (username, password) or `grant_type=refresh_token`.
pub async fn post_token(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    form: Result<Form<HashMap<String, String>>, FormRejection>,
) -> Response {
    let accounts = &state.accounts;
    let addr = peer.ip().to_string();
    if let Err(e) = accounts.check_login_rate(&addr) {
        return token_error(e);
    }
    let form = match form {
        Ok(Form(f)) => f,
        Err(e) => {
            return (
                e.status(),
                axum::Json(serde_json::json!({
                    "error": "invalid_request",
                    "error_description": e.body_text(),
                })),
            )
                .into_response()
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
        other => return (
            StatusCode::BAD_REQUEST,
            axum::Json(serde_json::json!({
                "error": "unsupported_grant_type",
                "error_description": format!("grant_type {other:?} is not supported; use password or refresh_token"),
            })),
        )
            .into_response(),
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
        Ok(t) => {
            let mut body = serde_json::to_value(&t).unwrap_or_default();
            body["scope"] = serde_json::Value::String(field("scope").to_owned());
            (StatusCode::OK, axum::Json(body)).into_response()
        }
        Err(e) => token_error(e),
    }
}
