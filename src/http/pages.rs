//! HTML responses. Every page carries the same protective headers: no framing, no
//! referrer leaking codes or state, nothing cached, scripts only from us (one file, the copy button's).

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, HttpResponseBuilder};

pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub fn protect(builder: &mut HttpResponseBuilder) -> &mut HttpResponseBuilder {
    builder
        .insert_header(("Content-Security-Policy", CONTENT_SECURITY_POLICY))
        .insert_header(("X-Frame-Options", "DENY"))
        .insert_header(("Referrer-Policy", "no-referrer"))
        .insert_header(("Cache-Control", "no-store"))
        .insert_header(("X-Content-Type-Options", "nosniff"))
}

pub fn html(status: StatusCode, body: String) -> HttpResponse {
    protect(&mut HttpResponse::build(status))
        .content_type("text/html; charset=utf-8")
        .body(body)
}

/// After a form POST, or to move the browser on: always 303, so the browser follows with
/// a GET and never re-sends the form body to the next address (RFC 9700 §4.12).
pub fn see_other(location: &str) -> HttpResponseBuilder {
    let mut builder = HttpResponse::SeeOther();
    protect(&mut builder).insert_header(("Location", location.to_owned()));
    builder
}
