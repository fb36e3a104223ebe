//! RFC 8414 authorization-server metadata: what exists, and nothing that does not.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::respond::{json, oauth_error};
use super::AppState;

pub async fn authorization_server(state: web::Data<AppState>) -> HttpResponse {
    let issuer = &state.issuer;
    let scopes_supported = match state.scopes_supported() {
        Ok(scopes) => scopes,
        Err(error) => return oauth_error(&error.into(), false),
    };
    let body = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": scopes_supported,
    });
    let mut response = json(StatusCode::OK, &body);
    // Metadata is public and changes rarely; caching it is fine.
    response.headers_mut().insert(
        actix_web::http::header::CACHE_CONTROL,
        actix_web::http::header::HeaderValue::from_static("public, max-age=300"),
    );
    response
}
