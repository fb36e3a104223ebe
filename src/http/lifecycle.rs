//! Revocation, introspection and userinfo: extract, call the token service, render.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::respond::{bearer_error, json, json_bytes, oauth_error, BearerError};
use super::AppState;
use crate::clock;
use crate::oauth::client_auth::AuthError;
use crate::oauth::lifecycle::userinfo as userinfo_claims;
use crate::oauth::{ErrorCode, OAuthError};

fn authorization(request: &HttpRequest) -> Option<&str> {
    request
        .headers()
        .get("Authorization")
        .map(|value| value.to_str().unwrap_or("\u{0}"))
}

/// POST /oauth2/revoke (RFC 7009).
pub async fn revoke(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = authorization(&request);
    let basic = authorization.is_some();
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => return oauth_error(&error, basic),
    };
    let client = match state.tokens.caller(authorization, &params) {
        Ok(client) => client,
        Err(AuthError { error, basic }) => return oauth_error(&error, basic),
    };
    let token = match params.require("token") {
        Ok(token) => token,
        Err(error) => return oauth_error(&error, basic),
    };
    match state.tokens.revoke(&client, token, clock::now()).await {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({})),
        Err(error) => oauth_error(&error, basic),
    }
}

/// POST /oauth2/introspect (RFC 7662), for resource servers authenticating as clients.
pub async fn introspect(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = authorization(&request);
    let basic = authorization.is_some();
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => return oauth_error(&error, basic),
    };
    match state.tokens.caller(authorization, &params) {
        // A public client proves nothing by naming itself; introspection tells who a token
        // belongs to, so only a client with a secret may ask.
        Ok(client) if client.is_public() => {
            return oauth_error(
                &OAuthError::new(ErrorCode::InvalidClient, "client authentication failed"),
                basic,
            )
        }
        Ok(_) => {}
        Err(AuthError { error, basic }) => return oauth_error(&error, basic),
    }
    let token = match params.require("token") {
        Ok(token) => token,
        Err(error) => return oauth_error(&error, basic),
    };
    match state.tokens.introspect(token, &state.issuer, clock::now()) {
        Ok(Some(active)) => json_bytes(
            StatusCode::OK,
            serde_json::to_vec(&active).expect("introspection serializes"),
        ),
        Ok(None) => json(StatusCode::OK, &serde_json::json!({ "active": false })),
        Err(error) => oauth_error(&error, basic),
    }
}

/// GET or POST /oauth2/userinfo with a Bearer access token (RFC 6750 §2.1, §2.2).
pub async fn userinfo(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let from_header = match authorization(&request) {
        Some(header) => match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Some(token.trim().to_owned())
            }
            // RFC 6750 §3.1: a request with another authentication method carries no
            // token: challenge it, without an error code.
            _ => return bearer_error(BearerError::Missing),
        },
        None => None,
    };
    // RFC 6750 §2.2: only a form-encoded body can carry the token; any other body is the
    // application's business and does not stop a header token from counting.
    let form_body = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        });
    let from_body =
        if request.method() == actix_web::http::Method::POST && form_body && !body.is_empty() {
            match forms::form(&request, &body).and_then(|params| {
                params
                    .get("access_token")
                    .map(|token| token.map(str::to_owned))
            }) {
                Ok(token) => token,
                Err(_) => return bearer_error(BearerError::InvalidRequest),
            }
        } else {
            None
        };
    let token = match (from_header, from_body) {
        (Some(_), Some(_)) => return bearer_error(BearerError::InvalidRequest),
        (Some(token), None) | (None, Some(token)) => token,
        (None, None) => return bearer_error(BearerError::Missing),
    };
    match state.tokens.verify_access(&token, clock::now()) {
        Ok(Some(active)) => match active.user {
            Some(user) => json(
                StatusCode::OK,
                &userinfo_claims(&user, &active.claims.scope),
            ),
            // A client-credentials token acts for no user: there is no one to describe.
            None => bearer_error(BearerError::InvalidToken),
        },
        Ok(None) => bearer_error(BearerError::InvalidToken),
        Err(error) => oauth_error(&error, false),
    }
}
