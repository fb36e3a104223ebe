//! Reading form posts and query strings into `Params`.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::HttpRequest;

use crate::oauth::{OAuthError, Params};

/// Whether the body is declared `application/x-www-form-urlencoded`.
pub fn is_form(request: &HttpRequest) -> bool {
    let content_type = request
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

/// A form body, refused unless it is `application/x-www-form-urlencoded`.
pub fn form(request: &HttpRequest, body: &[u8]) -> Result<Params, OAuthError> {
    if !is_form(request) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body)
}

pub fn query(request: &HttpRequest) -> Result<Params, OAuthError> {
    Params::parse(request.query_string().as_bytes())
}
