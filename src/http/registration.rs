//! `/oauth2/register` (RFC 7591) and `/oauth2/register/{client_id}` (RFC 7592): parse,
//! ask `oauth::registration`, answer JSON. Off unless `serve --registration` says so.

use actix_web::http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::respond::json;
use super::AppState;
use crate::clock;
use crate::config::Registration;
use crate::oauth::registration::{parse_metadata, ClientMetadata, RegistrationError};

/// A JSON error answer. 401s carry `WWW-Authenticate: Bearer` (RFC 6750 §3).
fn error(error: RegistrationError) -> HttpResponse {
    let (status, code, description) = match error {
        RegistrationError::InvalidToken(text) => (StatusCode::UNAUTHORIZED, "invalid_token", text),
        RegistrationError::InvalidRedirectUri(text) => {
            (StatusCode::BAD_REQUEST, "invalid_redirect_uri", text)
        }
        RegistrationError::InvalidMetadata(text) => {
            (StatusCode::BAD_REQUEST, "invalid_client_metadata", text)
        }
        RegistrationError::Storage(error) => {
            tracing::error!(%error, "a registration could not be stored");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "temporarily_unavailable",
                "the registration could not be completed; try again in a moment".to_owned(),
            )
        }
    };
    let mut response = json(
        status,
        &serde_json::json!({ "error": code, "error_description": description }),
    );
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer error=\"invalid_token\""),
        );
    }
    response
}

/// The Bearer token of the `Authorization` header; `Err` for a header that is not one.
fn bearer(request: &HttpRequest) -> Result<Option<String>, RegistrationError> {
    let mut headers = request.headers().get_all(AUTHORIZATION);
    let Some(header) = headers.next() else {
        return Ok(None);
    };
    let malformed = || {
        RegistrationError::InvalidToken(
            "the Authorization header must be one \"Bearer <token>\"".into(),
        )
    };
    if headers.next().is_some() {
        return Err(malformed());
    }
    let text = header.to_str().map_err(|_| malformed())?;
    let (scheme, token) = text.split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(malformed());
    }
    Ok(Some(token.trim().to_owned()))
}

/// The request body as client metadata: JSON, by its content type too.
fn metadata(request: &HttpRequest, body: &[u8]) -> Result<ClientMetadata, RegistrationError> {
    let json_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("application/json"));
    if !json_type {
        return Err(RegistrationError::InvalidMetadata(
            "the client metadata must be sent as application/json".into(),
        ));
    }
    parse_metadata(body)
}

/// What every registration request starts with: 404 while registration is off, then the
/// Bearer token (`None` without an `Authorization` header), or the answer to give.
fn opened(state: &AppState, request: &HttpRequest) -> Result<Option<String>, Box<HttpResponse>> {
    if state.registration == Registration::Off {
        return Err(Box::new(state.problem(super::respond::Problem::NotFound)));
    }
    bearer(request).map_err(|refused| Box::new(error(refused)))
}

/// POST /oauth2/register.
pub async fn register(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let token = match opened(&state, &request) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let metadata = match metadata(&request, &body) {
        Ok(metadata) => metadata,
        Err(refused) => return error(refused),
    };
    let now = clock::now();
    // Open registration costs nothing but a request: one address may make only a few.
    if state.registration == Registration::Open && token.is_none() {
        let address = state.forwarding.client_address(&request);
        if let Err(blocked) = state
            .registrations
            .reserve(&crate::oauth::signin::address_key(address), now)
        {
            tracing::warn!(%address, "open registration throttled");
            let mut response = json(
                StatusCode::TOO_MANY_REQUESTS,
                &serde_json::json!({
                    "error": "slow_down",
                    "error_description": "too many registrations from this address; try again later",
                }),
            );
            if let Ok(value) = HeaderValue::from_str(&blocked.retry_after.to_string()) {
                response
                    .headers_mut()
                    .insert(actix_web::http::header::RETRY_AFTER, value);
            }
            return response;
        }
    }
    let required = state.registration == Registration::Token;
    match state
        .registrar
        .register(metadata, token.as_deref(), required, now)
        .await
    {
        Ok(answer) => json(StatusCode::CREATED, &answer),
        Err(refused) => error(refused),
    }
}

/// GET /oauth2/register/{client_id} (RFC 7592 §2.1).
pub async fn read(
    state: web::Data<AppState>,
    request: HttpRequest,
    client_id: web::Path<String>,
) -> HttpResponse {
    let token = match opened(&state, &request) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    match state.registrar.read(&client_id, token.as_deref()).await {
        Ok(answer) => json(StatusCode::OK, &answer),
        Err(refused) => error(refused),
    }
}

/// PUT /oauth2/register/{client_id} (RFC 7592 §2.2).
pub async fn update(
    state: web::Data<AppState>,
    request: HttpRequest,
    client_id: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let token = match opened(&state, &request) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    let metadata = match metadata(&request, &body) {
        Ok(metadata) => metadata,
        Err(refused) => return error(refused),
    };
    match state
        .registrar
        .update(&client_id, token.as_deref(), metadata)
        .await
    {
        Ok(answer) => json(StatusCode::OK, &answer),
        Err(refused) => error(refused),
    }
}

/// DELETE /oauth2/register/{client_id} (RFC 7592 §2.3): 204 once gone.
pub async fn delete(
    state: web::Data<AppState>,
    request: HttpRequest,
    client_id: web::Path<String>,
) -> HttpResponse {
    let token = match opened(&state, &request) {
        Ok(token) => token,
        Err(response) => return *response,
    };
    match state.registrar.delete(&client_id, token.as_deref()).await {
        Ok(()) => HttpResponse::NoContent()
            .insert_header(("Cache-Control", "no-store"))
            .finish(),
        Err(refused) => error(refused),
    }
}
