//! actix handlers: parse the request, call `oauth/` or `store/`, render. Thin by rule.

use actix_web::{web, HttpResponse};

use crate::config::Lifetimes;
use crate::store::Store;

/// What every handler may reach. Built once by `app.rs`.
pub struct AppState {
    pub store: Store,
    pub issuer: String,
    pub lifetimes: Lifetimes,
}

pub fn configure(config: &mut web::ServiceConfig) {
    config.route("/healthz", web::get().to(healthz));
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .content_type("application/json")
        .body(r#"{"status":"ok"}"#)
}
