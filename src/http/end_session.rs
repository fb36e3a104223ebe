//! The end-session endpoint (RP-initiated logout), GET and POST: parse, ask
//! `oidc::logout`, end the session, render. A confirmation form posts back here with the
//! same parameters and a CSRF token.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::pages::{html, see_other};
use super::respond::Problem;
use super::AppState;
use crate::clock;
use crate::oauth::{OAuthError, Params};
use crate::oidc::idtoken::sid_claim;
use crate::oidc::logout::{Logout, LogoutRefused, PARAMETERS};
use crate::ui::{HiddenField, SignOutView};

pub async fn get(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    end_session(&state, &request, forms::query(&request), false).await
}

pub async fn post(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = forms::form(&request, &body);
    // The application may send its request as a form too (§2); only our own confirmation
    // form carries a CSRF token.
    let confirmed = params
        .as_ref()
        .is_ok_and(|params| params.contains("csrf_token"));
    end_session(&state, &request, params, confirmed).await
}

async fn end_session(
    state: &AppState,
    request: &HttpRequest,
    params: Result<Params, OAuthError>,
    confirmed: bool,
) -> HttpResponse {
    let unreadable = |message: &str| {
        state.problem(Problem::Unreadable {
            title: "This sign-out link is not valid",
            message,
        })
    };
    let params = match params {
        Ok(params) => params,
        Err(error) => return unreadable(error.description()),
    };
    let logout = match state.end_session.validate(&params) {
        Ok(logout) => logout,
        Err(LogoutRefused::Invalid(message)) => return unreadable(&message),
        Err(LogoutRefused::Storage(_)) => return state.unavailable_page(),
    };
    if confirmed
        && !state
            .cookies
            .csrf_valid(request, params.get("csrf_token").ok().flatten())
    {
        return state.problem(Problem::FormRejected {
            title: "Sign-out failed",
            message: "This form has expired. Go back, reload the page and try again.",
        });
    }
    let hash = state.cookies.session_hash(request);
    let session = match &hash {
        Some(hash) => match state.store.session(hash, clock::now()) {
            Ok(session) => session,
            Err(_) => return state.unavailable_page(),
        },
        None => None,
    };
    let Some(session) = session else {
        return finish(state, &logout);
    };
    // A hint naming the signed-in user shows the application had their sign-in; anything
    // else could be a link on any site, and a GET must not end a session on its own.
    let own_session = logout.hinted_user == Some(session.user_id)
        && hash.as_ref().is_some_and(|hash| {
            logout.hinted_sid.as_deref() == Some(sid_claim(hash.as_bytes()).as_str())
        });
    if !confirmed && !own_session {
        return confirm(state, request, &params, &logout);
    }
    if let Some(hash) = hash {
        if state.store.delete_session(hash).await.is_err() {
            return state.unavailable_page();
        }
    }
    finish(state, &logout)
}

/// The session is gone: back to the application, or the signed-out page.
fn finish(state: &AppState, logout: &Logout) -> HttpResponse {
    let mut response = match &logout.redirect {
        Some(uri) => see_other(uri).finish(),
        None => html(StatusCode::OK, state.pages.signed_out()),
    };
    let _ = response.add_cookie(&state.cookies.expired_session_cookie());
    response
}

fn confirm(
    state: &AppState,
    request: &HttpRequest,
    params: &Params,
    logout: &Logout,
) -> HttpResponse {
    let (csrf_secret, new_cookie) = state.cookies.csrf_secret(request);
    let fields = PARAMETERS
        .iter()
        .filter_map(|name| {
            params.get(name).ok().flatten().map(|value| HiddenField {
                name: (*name).to_owned(),
                value: value.to_owned(),
            })
        })
        .collect();
    let body = state.pages.sign_out(&SignOutView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        end_session: true,
        fields,
        app_name: logout.client_name.clone(),
    });
    let mut response = html(StatusCode::OK, body);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}
