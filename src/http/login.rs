//! Sign-in and sign-out pages: parse the form, ask `oauth::signin`, render the outcome.

use std::sync::atomic::{AtomicBool, Ordering};

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::pages::{html, see_other};
use super::respond::Problem;
use super::AppState;
use crate::clock;
use crate::oauth::signin::{SignInAttempt, SignInOutcome};
use crate::ui::{LoginView, SignOutView, UpstreamButtonView};

const GENERIC_FAILURE: &str = "The username or password is incorrect.";
const THROTTLED: &str = "Too many failed sign-in attempts. Wait a few minutes, then try again.";
const BUSY: &str = "The server is busy checking other sign-ins. Please try again in a moment.";
const EXPIRED_FORM: &str = "This form has expired. Please sign in again.";
const PASSWORD_OFF: &str = "Password sign-in is turned off here. Use one of the sign-in methods.";
const PASSWORD_OFF_NO_METHOD: &str =
    "Password sign-in is turned off by the operator, and no other way to sign in is set up.";

/// Where a successful sign-in may go: only our own authorization endpoint, the account
/// page or the developer page, never an absolute URL, so the login form is no open
/// redirector. Only visible
/// ASCII: anything else (NUL, VT, DEL, spaces, raw UTF-8) cannot be a `Location` header, and
/// a query the browser sent us arrives percent-encoded anyway.
pub fn safe_return_to(requested: Option<&str>) -> String {
    match requested {
        Some(path)
            if path.len() <= 8192
                && (path.starts_with("/oauth2/authorize?")
                    || path == "/account"
                    || path == "/account/apps")
                && path
                    .bytes()
                    .all(|byte| byte.is_ascii_graphic() && byte != b'\\') =>
        {
            path.to_owned()
        }
        _ => "/account".to_owned(),
    }
}

/// `path`, carrying `return_to` unless it is the default: the links between the sign-in and
/// the sign-up pages keep the authorization request that brought the user.
pub(super) fn with_return_to(path: &str, return_to: &str) -> String {
    if return_to == "/account" {
        return path.to_owned();
    }
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    format!("{path}?{query}")
}

pub(super) fn login_page(
    state: &AppState,
    request: &HttpRequest,
    status: StatusCode,
    return_to: &str,
    username: &str,
    error: Option<&str>,
) -> HttpResponse {
    let Ok(app_name) = state.authorizer.app_name_for_sign_in(return_to) else {
        return state.unavailable_page();
    };
    let Ok(upstreams) = state.store.upstreams() else {
        return state.unavailable_page();
    };
    let password_off = match (state.password_login_on(), upstreams.is_empty()) {
        (true, _) => None,
        (false, true) => Some(PASSWORD_OFF_NO_METHOD.to_owned()),
        (false, false) => Some(PASSWORD_OFF.to_owned()),
    };
    let (csrf_secret, new_cookie) = state.cookies.csrf_secret(request);
    let body = state.pages.login(&LoginView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        return_to: return_to.to_owned(),
        username: username.to_owned(),
        error: error.map(str::to_owned),
        app_name,
        signup_link: state
            .signup_open()
            .then(|| with_return_to("/signup", return_to)),
        password_off,
        upstreams: upstreams
            .iter()
            .map(|upstream| UpstreamButtonView {
                name: upstream.name.as_str().to_owned(),
                display_name: upstream.display_name.as_str().to_owned(),
            })
            .collect(),
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
    // OpenID Connect `login_hint`: prefilled when it could be a username, else ignored.
    let hint = params
        .get("login_hint")
        .ok()
        .flatten()
        .filter(|hint| crate::model::Username::parse(hint).is_ok())
        .unwrap_or("");
    login_page(&state, &request, StatusCode::OK, &return_to, hint, None)
}

pub async fn submit(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if !state.password_login_on() {
        // Before the form is read: no password is checked, nothing is counted or written.
        return state.problem(Problem::FormRejected {
            title: "Password sign-in is turned off",
            message: "This server does not accept passwords. Go back and use one of the sign-in methods.",
        });
    }
    let params = match forms::form(&request, &body) {
        Ok(params) => params,
        Err(error) => {
            return state.problem(Problem::Unreadable {
                title: "Sign-in failed",
                message: error.description(),
            })
        }
    };
    let field = |name: &str| params.get(name).ok().flatten().unwrap_or("");
    let form = LoginForm {
        return_to: safe_return_to(Some(field("return_to"))),
        username: field("username"),
    };
    if !state
        .cookies
        .csrf_valid(&request, Some(field("csrf_token")))
    {
        let message = csrf_failure(&state, &request);
        return form.page(&state, &request, StatusCode::FORBIDDEN, &message);
    }
    let device_cookie = state.cookies.device_value(&request);
    let attempt = SignInAttempt {
        username: form.username,
        password: field("password").to_owned(),
        address: state.forwarding.client_address(&request),
        device_cookie: device_cookie.as_deref(),
        previous_session: state.cookies.session_hash(&request),
    };
    let outcome = state.signin.sign_in(attempt, clock::now()).await;
    form.answer(&state, &request, outcome)
}

/// What a sign-in form posted that its answer shows again.
struct LoginForm<'a> {
    return_to: String,
    username: &'a str,
}

impl LoginForm<'_> {
    fn page(
        &self,
        state: &AppState,
        request: &HttpRequest,
        status: StatusCode,
        message: &str,
    ) -> HttpResponse {
        login_page(
            state,
            request,
            status,
            &self.return_to,
            self.username,
            Some(message),
        )
    }

    /// The outcome of a sign-in as HTTP: on with both cookies, or the form again with the
    /// status the outcome calls for.
    fn answer(
        &self,
        state: &AppState,
        request: &HttpRequest,
        outcome: Result<SignInOutcome, crate::store::StoreError>,
    ) -> HttpResponse {
        let page = |status, message| self.page(state, request, status, message);
        match outcome {
            Ok(SignInOutcome::SignedIn {
                session_cookie,
                device_cookie,
                ..
            }) => see_other(&self.return_to)
                .cookie(state.cookies.session_cookie(session_cookie))
                .cookie(state.cookies.device_cookie(device_cookie))
                .finish(),
            Ok(SignInOutcome::Failed) => page(StatusCode::UNAUTHORIZED, GENERIC_FAILURE),
            Ok(SignInOutcome::Throttled { retry_after }) => {
                with_retry_after(page(StatusCode::TOO_MANY_REQUESTS, THROTTLED), retry_after)
            }
            Ok(SignInOutcome::Busy) => {
                with_retry_after(page(StatusCode::SERVICE_UNAVAILABLE, BUSY), 1)
            }
            Err(_) => state.unavailable_page(),
        }
    }
}

pub(super) fn with_retry_after(mut response: HttpResponse, seconds: u64) -> HttpResponse {
    response.headers_mut().insert(
        actix_web::http::header::RETRY_AFTER,
        actix_web::http::header::HeaderValue::from(seconds),
    );
    response
}

/// Why a sign-in form failed its CSRF check, in words that help. Under an https issuer the
/// CSRF cookie is `Secure`, and a browser never sends it back over plain http: then the
/// form did not expire, the connection is wrong, and the operator hears about it once.
fn csrf_failure(state: &AppState, request: &HttpRequest) -> String {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let over_plain_http = state.cookies.secure
        && !state.cookies.has_csrf_cookie(request)
        && state.forwarding.forwarded_scheme(request).as_deref() != Some("https");
    if !over_plain_http {
        return EXPIRED_FORM.to_owned();
    }
    if !WARNED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            issuer = %state.issuer,
            "a sign-in arrived without its Secure cookie: the browser reached this https issuer \
             over plain http; serve it over https (a TLS-terminating proxy, with \
             --trusted-proxy and X-Forwarded-Proto)"
        );
    }
    format!(
        "Signing in needs a secure connection, and this page was opened over plain http. \
         Open {}/login (https) and sign in there.",
        state.issuer
    )
}

/// GET /logout: a sign-out button while a session exists (a GET must never end it: a link
/// or an image on another site could), "signed out" once none does.
pub async fn sign_out_page(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let session = match state.cookies.session_hash(&request) {
        Some(hash) => match state.store.session(&hash, clock::now()) {
            Ok(session) => session,
            Err(_) => return state.unavailable_page(),
        },
        None => None,
    };
    if session.is_none() {
        return html(StatusCode::OK, state.pages.signed_out());
    }
    let (csrf_secret, new_cookie) = state.cookies.csrf_secret(&request);
    let body = state.pages.sign_out(&SignOutView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        end_session: false,
        fields: Vec::new(),
        app_name: None,
    });
    let mut response = html(StatusCode::OK, body);
    if let Some(cookie) = new_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
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
        return state.problem(Problem::FormRejected {
            title: "Sign-out failed",
            message: "This form has expired. Go back, reload the page and try again.",
        });
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
