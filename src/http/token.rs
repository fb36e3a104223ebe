//! POST /oauth2/token: extract, call the token service, render JSON (RFC 6749 §5).

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::respond::{json_bytes, oauth_error};
use super::AppState;
use super::{cors, forms};
use crate::clock;
use crate::oauth::client_auth::AuthError;
use crate::oauth::token::TokenResponse;
use crate::oauth::{OAuthError, Params};

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
    let counted = match state.admit_address(&request) {
        Ok(counted) => counted,
        Err(error) => return oauth_error(&error, basic),
    };
    if credentials_in_url(&request) {
        return oauth_error(
            &OAuthError::invalid_request("credentials must be sent in the body, never in the URL"),
            basic,
        );
    }
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => return oauth_error(&error, basic),
    };
    let shared = match cors::client_request(&state, &request, authorization, &params) {
        Ok(shared) => shared,
        Err(error) => return oauth_error(&error, basic),
    };
    let mut response = match state
        .tokens
        .token(authorization, params, clock::now(), counted)
        .await
    {
        Ok(response) => token_response(&response),
        Err(AuthError { error, basic }) => oauth_error(&error, basic),
    };
    cors::share(&mut response, shared);
    response
}

/// RFC 9700 §2.5 / RFC 6749 §2.3.1: credentials never in a URL, where logs keep them.
fn credentials_in_url(request: &HttpRequest) -> bool {
    let query = Params::parse(request.query_string().as_bytes()).unwrap_or_default();
    ["client_secret", "code", "refresh_token"]
        .iter()
        .any(|name| query.contains(name))
}

fn token_response(response: &TokenResponse) -> HttpResponse {
    let body = TokenBody {
        access_token: &response.access_token,
        token_type: "Bearer",
        expires_in: response.expires_in,
        scope: response.scope.to_string(),
        refresh_token: response.refresh_token.as_deref(),
        id_token: response.id_token.as_deref(),
    };
    json_bytes(
        StatusCode::OK,
        serde_json::to_vec(&body).expect("a token response serializes"),
    )
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
    #[serde(skip_serializing_if = "Option::is_none")]
    id_token: Option<&'a str>,
}
