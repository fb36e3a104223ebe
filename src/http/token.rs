//! POST /oauth2/token: extract, call the token service, render JSON (RFC 6749 §5).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::AppState;
use crate::clock;
use crate::oauth::client_auth::AuthError;
use crate::oauth::{ErrorCode, OAuthError, Params};

pub async fn token(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let authorization = request
        .headers()
        .get("Authorization")
        .map(|value| value.to_str().unwrap_or("\u{0}"));
    let basic = authorization.is_some();
    // RFC 9700 §2.5 / RFC 6749 §2.3.1: credentials never in a URL, where logs keep them.
    let query = Params::parse(request.query_string().as_bytes()).unwrap_or_default();
    if query.contains("client_secret") || query.contains("code") || query.contains("refresh_token")
    {
        return error_json(
            &OAuthError::invalid_request("credentials must be sent in the body, never in the URL"),
            basic,
        );
    }
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => return error_json(&error, basic),
    };
    match state
        .tokens
        .token(authorization, params, clock::now())
        .await
    {
        Ok(response) => {
            let body = TokenBody {
                access_token: &response.access_token,
                token_type: "Bearer",
                expires_in: response.expires_in,
                scope: response.scope.to_string(),
                refresh_token: response.refresh_token.as_deref(),
            };
            json_bytes(
                StatusCode::OK,
                serde_json::to_vec(&body).expect("a token response serializes"),
            )
        }
        Err(AuthError { error, basic }) => error_json(&error, basic),
    }
}

/// RFC 6749 §5.1, serialized straight from borrowed parts.
#[derive(serde::Serialize)]
struct TokenBody<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u64,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_token: Option<&'a str>,
}

pub fn json(status: StatusCode, body: &serde_json::Value) -> HttpResponse {
    json_bytes(status, body.to_string().into_bytes())
}

/// A JSON answer that no cache may keep (RFC 6749 §5.1). The headers are prebuilt values:
/// these answers are the hot path, and parsing header names per response shows in profiles.
pub fn json_bytes(status: StatusCode, body: Vec<u8>) -> HttpResponse {
    use actix_web::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE, PRAGMA};
    HttpResponse::build(status)
        .insert_header((CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .insert_header((PRAGMA, HeaderValue::from_static("no-cache")))
        .insert_header((CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(body)
}

/// RFC 6749 §5.2. `invalid_client` is 401, with `WWW-Authenticate: Basic` when the client
/// tried Basic; a storage failure is 503, so nobody mistakes it for a verdict.
pub fn error_json(error: &OAuthError, basic: bool) -> HttpResponse {
    let status = match error.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        _ => StatusCode::BAD_REQUEST,
    };
    let body = serde_json::json!({
        "error": error.code.as_str(),
        "error_description": error.description(),
    });
    let mut response = json(status, &body);
    if error.code == ErrorCode::InvalidClient {
        let challenge = if basic {
            r#"Basic realm="keyward", charset="UTF-8""#
        } else {
            r#"Basic realm="keyward""#
        };
        response.headers_mut().insert(
            actix_web::http::header::WWW_AUTHENTICATE,
            actix_web::http::header::HeaderValue::from_static(challenge),
        );
    }
    response
}
