//! Revocation, introspection and userinfo: extract, call the token service, render.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::respond::{bearer_error, json, json_bytes, oauth_error, BearerError};
use super::AppState;
use super::{cors, forms};
use crate::clock;
use crate::oauth::client_auth::AuthError;
use crate::oauth::lifecycle::userinfo_body;

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
    let counted = match state.admit_address(&request) {
        Ok(counted) => counted,
        Err(error) => return oauth_error(&error, authorization.is_some()),
    };
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => return oauth_error(&error, authorization.is_some()),
    };
    let shared = match cors::client_request(&state, &request, authorization, &params) {
        Ok(shared) => shared,
        Err(error) => return oauth_error(&error, authorization.is_some()),
    };
    let mut response = match state
        .tokens
        .revocation(authorization, &params, clock::now(), counted)
        .await
    {
        Ok(()) => json(StatusCode::OK, &serde_json::json!({})),
        Err(AuthError { error, basic }) => oauth_error(&error, basic),
    };
    cors::share(&mut response, shared);
    response
}

/// POST /oauth2/introspect (RFC 7662), for resource servers authenticating as clients.
pub async fn introspect(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = authorization(&request);
    let counted = match state.admit_address(&request) {
        Ok(counted) => counted,
        Err(error) => return oauth_error(&error, authorization.is_some()),
    };
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => return oauth_error(&error, authorization.is_some()),
    };
    let now = clock::now();
    match state
        .tokens
        .introspection(authorization, &params, &state.issuer, now, counted)
    {
        Ok(Some(active)) => json_bytes(
            StatusCode::OK,
            serde_json::to_vec(&active).expect("introspection serializes"),
        ),
        Ok(None) => json(StatusCode::OK, &serde_json::json!({ "active": false })),
        Err(AuthError { error, basic }) => oauth_error(&error, basic),
    }
}

/// The Bearer token of a request: from the `Authorization` header (RFC 6750 §2.1) or a
/// form-encoded POST body (§2.2), never both.
fn bearer_token(request: &HttpRequest, body: &[u8]) -> Result<String, BearerError> {
    let from_header = match authorization(request) {
        Some(header) => match header.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => {
                Some(token.trim().to_owned())
            }
            // RFC 6750 §3.1: a request with another authentication method carries no
            // token: challenge it, without an error code.
            _ => return Err(BearerError::Missing),
        },
        None => None,
    };
    // RFC 6750 §2.2: only a form-encoded body can carry the token; any other body is the
    // application's business and does not stop a header token from counting.
    let from_body = if request.method() == actix_web::http::Method::POST
        && forms::is_form(request)
        && !body.is_empty()
    {
        forms::form(request, body)
            .and_then(|params| {
                params
                    .get("access_token")
                    .map(|token| token.map(str::to_owned))
            })
            .map_err(|_| BearerError::InvalidRequest)?
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(BearerError::Missing),
    }
}

/// GET or POST /oauth2/userinfo with a Bearer access token (RFC 6750 §2.1, §2.2).
pub async fn userinfo(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let token = match bearer_token(&request, &body) {
        Ok(token) => token,
        Err(error) => return bearer_error(error),
    };
    match state.tokens.verify_access(&token, clock::now()) {
        // RFC 8707, RFC 9068 §4: a token for other resources is not one for userinfo.
        Ok(Some(active))
            if !active.claims.audience.is_empty()
                && !active
                    .claims
                    .audience
                    .iter()
                    .any(|aud| *aud == state.issuer) =>
        {
            bearer_error(BearerError::InvalidToken)
        }
        Ok(Some(active)) => match active.user {
            Some(user) => json_bytes(StatusCode::OK, userinfo_body(&user, &active.claims.scope)),
            // A client-credentials token acts for no user: there is no one to describe.
            None => bearer_error(BearerError::InvalidToken),
        },
        Ok(None) => bearer_error(BearerError::InvalidToken),
        Err(error) => oauth_error(&error, false),
    }
}
