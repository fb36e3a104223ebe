//! `/reset`, where a one-time link from `keyward user reset-link` lets its holder choose a
//! new password: parse, ask `oauth::reset`, render. The token is in the URL the operator
//! sent, so these pages, like every page, send `Referrer-Policy: no-referrer` (`pages.rs`),
//! and nothing here logs it.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::pages::{html, see_other};
use super::respond::Problem;
use super::AppState;
use crate::clock;
use crate::model::Password;
use crate::oauth::reset::{ResetOutcome, ValidLink};
use crate::ui::ResetView;

/// GET /reset?token=…: the form, if the link works; else a page that says why.
pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let params = forms::query(&request).unwrap_or_default();
    let token = params.get("token").ok().flatten().unwrap_or("");
    match state.reset.check(token, clock::now()) {
        Ok(Ok(link)) => reset_page(&state, &request, StatusCode::OK, token, &link, None),
        Ok(Err(refused)) => state.problem(Problem::ResetLink(refused)),
        Err(_) => state.unavailable_page(),
    }
}

/// POST /reset: the CSRF check, then `ResetLinks::reset`; on success, 303 to `/reset/done`.
pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => {
            return state.problem(Problem::Unreadable {
                title: "The password was not changed",
                message: error.description(),
            })
        }
    };
    let field = |name: &str| params.get(name).ok().flatten().unwrap_or("");
    if !state
        .cookies
        .csrf_valid(&request, Some(field("csrf_token")))
    {
        return state.problem(Problem::FormRejected {
            title: "The password was not changed",
            message: "This form has expired. Open the reset link again and retry.",
        });
    }
    let token = field("token");
    let now = clock::now();
    match state.reset.reset(token, field("password"), now).await {
        Ok(ResetOutcome::Changed) => see_other("/reset/done").finish(),
        Ok(ResetOutcome::Refused(refused)) => state.problem(Problem::ResetLink(refused)),
        // The form again, with the rule that was broken; the link still works.
        Ok(ResetOutcome::BadPassword(message)) => match state.reset.check(token, now) {
            Ok(Ok(link)) => reset_page(
                &state,
                &request,
                StatusCode::BAD_REQUEST,
                token,
                &link,
                Some(capitalized(&message)),
            ),
            Ok(Err(refused)) => state.problem(Problem::ResetLink(refused)),
            Err(_) => state.unavailable_page(),
        },
        Err(_) => state.unavailable_page(),
    }
}

/// GET /reset/done: where a successful reset lands.
pub async fn done(state: web::Data<AppState>) -> HttpResponse {
    html(StatusCode::OK, state.pages.reset_done())
}

fn reset_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    token: &str,
    link: &ValidLink,
    error: Option<String>,
) -> HttpResponse {
    let (csrf_secret, new_cookie) = state.cookies.csrf_secret(request);
    let body = state.pages.reset(&ResetView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        token: token.to_owned(),
        username: link.user.username.as_str().to_owned(),
        min_chars: Password::MIN_CHARS,
        error: error.map(|message| format!("{message}. Nothing was changed.")),
    });
    let mut response = html(status, body);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// "password must be …" as the start of a sentence.
pub(super) fn capitalized(message: &str) -> String {
    let mut chars = message.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
