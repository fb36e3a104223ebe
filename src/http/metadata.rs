//! RFC 8414 authorization-server metadata and OpenID Connect Discovery 1.0, one document
//! built once for both (the same issuer, the same endpoints), and the JWKS: what exists, and
//! nothing that does not.

use actix_web::http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::respond::{json, oauth_error};
use super::AppState;
use crate::model::SigningAlg;
use crate::oauth::OAuthError;

/// Every claim keyward may put in an ID token or a userinfo answer.
const CLAIMS_SUPPORTED: [&str; 15] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "nonce",
    "at_hash",
    "azp",
    "sid",
    "name",
    "preferred_username",
    "updated_at",
    "email",
    "email_verified",
];

fn metadata(state: &AppState) -> Result<serde_json::Value, OAuthError> {
    let issuer = &state.issuer;
    let mut document = serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth2/authorize"),
        "token_endpoint": format!("{issuer}/oauth2/token"),
        "revocation_endpoint": format!("{issuer}/oauth2/revoke"),
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint": format!("{issuer}/oauth2/introspect"),
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "userinfo_endpoint": format!("{issuer}/oauth2/userinfo"),
        "jwks_uri": format!("{issuer}/oauth2/jwks"),
        "end_session_endpoint": format!("{issuer}/oauth2/logout"),
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "scopes_supported": state.scopes_supported()?,
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": SigningAlg::ALL.map(SigningAlg::as_str),
        "claims_supported": CLAIMS_SUPPORTED,
        "prompt_values_supported": ["none", "login", "consent"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    // RFC 8414 §2 / RFC 7591 §3: named only where programs may register.
    if state.registration != crate::config::Registration::Off {
        document["registration_endpoint"] = format!("{issuer}/oauth2/register").into();
    }
    // draft-ietf-oauth-client-id-metadata-document: a URL may be the client_id ("none"
    // is listed above already, the method such clients use).
    if state.documents.enabled() {
        document["client_id_metadata_document_supported"] = true.into();
    }
    Ok(document)
}

fn public_json(body: Vec<u8>, content_type: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        // Public and rarely changing; a relying party that meets an unknown `kid` fetches
        // the JWKS again.
        .insert_header((
            CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=300"),
        ))
        .insert_header((CONTENT_TYPE, HeaderValue::from_static(content_type)))
        .body(body)
}

/// RFC 8414 §3.
pub async fn authorization_server(state: web::Data<AppState>) -> HttpResponse {
    discovery(&state)
}

/// OpenID Connect Discovery 1.0 §4.
pub async fn openid_configuration(state: web::Data<AppState>) -> HttpResponse {
    discovery(&state)
}

fn discovery(state: &AppState) -> HttpResponse {
    match metadata(state) {
        Ok(body) => {
            let mut response = json(StatusCode::OK, &body);
            response.headers_mut().insert(
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            );
            response
        }
        Err(error) => oauth_error(&error, false),
    }
}

/// RFC 7517 §5: every published key, the active ones and the retired ones whose tokens may
/// still be about.
pub async fn jwks(state: web::Data<AppState>) -> HttpResponse {
    match state.tokens.id_tokens().key_ring().keys() {
        Ok(keys) => public_json(keys.jwks().to_vec(), "application/jwk-set+json"),
        Err(error) => {
            tracing::error!(%error, "signing keys unavailable");
            oauth_error(&OAuthError::unavailable(), false)
        }
    }
}
