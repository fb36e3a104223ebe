//! Sign-in and sign-out pages.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::pages::{html, see_other};
use super::AppState;
use crate::clock;
use crate::model::{random_secret, SecretHash, Username};
use crate::password;
use crate::store::Session;
use crate::ui::LoginView;

const GENERIC_FAILURE: &str = "The username or password is incorrect.";
const THROTTLED: &str = "Too many failed sign-in attempts. Wait a few minutes, then try again.";

/// Where a successful sign-in may go: only our own authorization endpoint or account
/// page, never an absolute URL, so the login form is no open redirector.
pub fn safe_return_to(requested: Option<&str>) -> String {
    match requested {
        Some(path)
            if path.len() <= 8192
                && (path.starts_with("/oauth2/authorize?") || path == "/account")
                && !path.contains(['\\', '\r', '\n']) =>
        {
            path.to_owned()
        }
        _ => "/account".to_owned(),
    }
}

pub(super) fn login_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    return_to: &str,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let (csrf_secret, new_cookie) = state.cookies.csrf_secret(request);
    let body = state.pages.login(&LoginView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        return_to: return_to.to_owned(),
        username: username.to_owned(),
        error: error.map(str::to_owned),
    });
    let mut response = html(status, body);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let params = forms::query(&request).unwrap_or_default();
    let return_to = safe_return_to(params.get("return_to").ok().flatten());
    login_page(&state, &request, StatusCode::OK, &return_to, "", None)
}

pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => {
            return state.error_page(
                StatusCode::BAD_REQUEST,
                "Sign-in failed",
                error.description(),
            )
        }
    };
    let field = |name: &str| params.get(name).ok().flatten().unwrap_or("");
    let return_to = safe_return_to(Some(field("return_to")));
    let username_text = field("username");
    if !state
        .cookies
        .csrf_valid(&request, params.get("csrf_token").ok().flatten())
    {
        return login_page(
            &state,
            &request,
            StatusCode::FORBIDDEN,
            &return_to,
            username_text,
            Some("This form has expired. Please sign in again."),
        );
    }
    let now = clock::now();
    let address_key = format!(
        "address:{}",
        request
            .peer_addr()
            .map(|peer| peer.ip().to_string())
            .unwrap_or_default()
    );
    let account_key = format!("account:{}", username_text.to_ascii_lowercase());
    if state.throttle.blocked(&account_key, now)
        || state.address_throttle.blocked(&address_key, now)
    {
        return login_page(
            &state,
            &request,
            StatusCode::TOO_MANY_REQUESTS,
            &return_to,
            username_text,
            Some(THROTTLED),
        );
    }
    let user = match Username::parse(username_text) {
        Ok(username) => match state.store.user_by_username(&username) {
            Ok(user) => user,
            Err(_) => return state.unavailable_page(),
        },
        Err(_) => None,
    };
    let password_text = field("password").to_owned();
    // An unknown user costs the same argon2 verification as a known one, so neither the
    // page nor its timing tells whether the account exists.
    let (stored_hash, user) = match user {
        Some(user) => (user.password_hash.clone(), Some(user)),
        None => (state.dummy_password_hash.clone(), None),
    };
    let verified = password::verify(stored_hash, password_text).await && user.is_some();
    let Some(user) = user.filter(|_| verified) else {
        state.throttle.record_failure(&account_key, now);
        state.address_throttle.record_failure(&address_key, now);
        return login_page(
            &state,
            &request,
            StatusCode::UNAUTHORIZED,
            &return_to,
            username_text,
            Some(GENERIC_FAILURE),
        );
    };
    state.throttle.clear(&account_key);
    // A fresh session id at every sign-in: a session id planted before sign-in (session
    // fixation) is never the one that becomes authenticated.
    if let Some(old) = state.cookies.session_hash(&request) {
        let _ = state.store.delete_session(old).await;
    }
    let cookie_value = random_secret();
    let session = Session {
        user_id: user.id,
        auth_time: now,
        expires_at: now + state.session_ttl.as_secs(),
    };
    if state
        .store
        .insert_session(SecretHash::of(&cookie_value), session)
        .await
        .is_err()
    {
        return state.unavailable_page();
    }
    see_other(&return_to)
        .cookie(state.cookies.session_cookie(cookie_value))
        .finish()
}

pub async fn logout(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let params = forms::form(&request, &body).unwrap_or_default();
    if !state
        .cookies
        .csrf_valid(&request, params.get("csrf_token").ok().flatten())
    {
        return state.error_page(
            StatusCode::FORBIDDEN,
            "Sign-out failed",
            "This form has expired. Go back, reload the page and try again.",
        );
    }
    if let Some(hash) = state.cookies.session_hash(&request) {
        if state.store.delete_session(hash).await.is_err() {
            return state.unavailable_page();
        }
    }
    see_other("/logout")
        .cookie(state.cookies.expired_session_cookie())
        .finish()
}

pub async fn signed_out(state: web::Data<AppState>) -> HttpResponse {
    html(StatusCode::OK, state.pages.signed_out())
}
