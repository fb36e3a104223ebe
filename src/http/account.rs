//! The user's own page, `/account`: parse, ask `oauth::account`, render.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::forms;
use super::login::with_retry_after;
use super::pages::{html, see_other};
use super::respond::Problem;
use super::AppState;
use crate::clock::{self, format_time};
use crate::model::{Password, ScopeToken};
use crate::oauth::account::{
    Account, KeyOutcome, NewKey, Overview, PasswordChange, PasswordOutcome, Removal,
    NEW_KEY_SECONDS,
};
use crate::oauth::apikeys::DEFAULT_SCOPE;
use crate::oauth::Params;
use crate::ui::{
    AccountView, ApiKeyView, AppView, ChoiceView, NewKeyView, SessionView, SignInMethodView,
};

/// Expiry choices offered on the page: (form value, label). The empty value is "never".
const EXPIRY_CHOICES: [(&str, &str); 6] = [
    ("90d", "In 90 days"),
    ("30d", "In 30 days"),
    ("7d", "In 7 days"),
    ("1d", "In 1 day"),
    ("365d", "In a year"),
    ("", "Never"),
];

/// The signed-in user; `Err` carries the page to answer with (boxed: it is large).
fn signed_in(state: &AppState, request: &HttpRequest) -> Result<Account, Box<HttpResponse>> {
    match state
        .account
        .signed_in(state.cookies.session_hash(request), clock::now())
    {
        Ok(Some(account)) => Ok(account),
        Ok(None) => Err(Box::new(see_other("/login?return_to=%2Faccount").finish())),
        Err(_) => Err(Box::new(state.unavailable_page())),
    }
}

/// Fixed notices chosen by a code in the query, so the page never echoes arbitrary input.
/// The one exception, `scope-not-allowed`, names a scope: only a well-formed scope token,
/// and only one API keys may indeed not carry, so a crafted link cannot make the page say
/// something untrue.
fn notice(state: &AppState, params: &Params) -> (Option<String>, Option<String>) {
    let message = |text: &str| (Some(text.to_owned()), None);
    let error = |text: &str| (None, Some(text.to_owned()));
    match params.get("notice").ok().flatten() {
        Some("created") => message("API key created."),
        Some("key-deleted") => message("API key deleted."),
        Some("no-such-key") => message("No such API key was found; nothing was deleted."),
        Some("app-revoked") => message("Access revoked. The app's tokens no longer work."),
        Some("nothing-revoked") => message("Nothing was found to revoke."),
        Some("invalid-key") => {
            error("The API key could not be created: check its name and scopes.")
        }
        Some("scope-not-allowed") => match params
            .get("scope")
            .ok()
            .flatten()
            .and_then(|scope| ScopeToken::parse(scope).ok())
            .filter(|scope| state.account.refuses_for_keys(scope))
        {
            Some(scope) => error(&format!(
                "The API key was not created: the scope {} is not available for API keys. \
                 Keys may carry {DEFAULT_SCOPE}, and the scopes your administrator allows.",
                scope.as_str()
            )),
            None => error("The API key could not be created: check its name and scopes."),
        },
        Some("password-changed") => message(
            "Password changed. Every other browser and device signed in as you is signed out.",
        ),
        Some("wrong-password") => {
            error("The current password is not right. Your password was not changed.")
        }
        Some("invalid-password") => error(&format!(
            "The new password must be at least {} characters (and at most {} bytes). \
             Your password was not changed.",
            Password::MIN_CHARS,
            Password::MAX_BYTES
        )),
        Some("password-throttled") => error(
            "Too many wrong passwords. Wait a few minutes, then try again. \
             Your password was not changed.",
        ),
        Some("busy") => error("The server is busy. Please try again in a moment."),
        Some("signed-out-others") => {
            message("Signed out everywhere else. This browser is still signed in.")
        }
        Some("identity-linked") => message("Linked. You can now sign in with it."),
        Some("identity-unlinked") => message("Unlinked. It no longer signs you in here."),
        Some("not-linked") => message("That sign-in method was not linked; nothing was changed."),
        Some("last-way-to-sign-in") => {
            error("That is your only way to sign in, so it stays linked. Link another one first.")
        }
        Some("no-other-sessions") => {
            message("You were not signed in anywhere else; nothing was changed.")
        }
        _ => (None, None),
    }
}

pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let account = match signed_in(&state, &request) {
        Ok(account) => account,
        Err(response) => return *response,
    };
    let now = clock::now();
    let flash = state.cookies.new_key_value(&request);
    let new_key = state
        .account
        .take_new_key(flash.as_deref(), &account, now)
        .await;
    let (Ok(new_key), Ok(overview)) = (new_key, state.account.overview(&account, now)) else {
        return state.unavailable_page();
    };
    let params = forms::query(&request).unwrap_or_default();
    let mut response = account_page(&state, &request, &account, overview, new_key, &params);
    if flash.is_some() {
        let _ = response.add_cookie(&state.cookies.expired_new_key_cookie());
    }
    response
}

fn account_page(
    state: &AppState,
    request: &HttpRequest,
    account: &Account,
    overview: Overview,
    new_key: Option<NewKey>,
    params: &Params,
) -> HttpResponse {
    let (message, error) = notice(state, params);
    let (Ok(upstreams), Ok(linked)) = (
        state.store.upstreams(),
        state.store.user_identities(account.user.id),
    ) else {
        return state.unavailable_page();
    };
    let sign_in_methods = upstreams
        .iter()
        .map(|upstream| SignInMethodView {
            name: upstream.name.as_str().to_owned(),
            display_name: upstream.display_name.as_str().to_owned(),
            linked_since: linked
                .iter()
                .find(|identity| identity.upstream == upstream.name.as_str())
                .map(|identity| format_time(identity.linked_at)),
        })
        .collect();
    let (csrf_secret, new_csrf_cookie) = state.cookies.csrf_secret(request);
    let body = state.pages.account(&AccountView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        username: account.user.username.as_str().to_owned(),
        message,
        error,
        new_key: new_key.map(|key| NewKeyView {
            name: key.name,
            api_key: key.api_key,
        }),
        api_keys: overview.api_keys.iter().map(api_key_view).collect(),
        apps: overview.apps.iter().map(app_view).collect(),
        other_sessions: overview
            .sessions
            .iter()
            .any(|session| !session.this_browser),
        sessions: overview
            .sessions
            .iter()
            .map(|session| SessionView {
                signed_in: format_time(session.signed_in_at),
                expires: format_time(session.expires_at),
                this_browser: session.this_browser,
            })
            .collect(),
        password_min_chars: Password::MIN_CHARS,
        expiry_choices: EXPIRY_CHOICES
            .iter()
            .map(|(value, label)| ChoiceView {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
            })
            .collect(),
        sign_in_methods,
        // Under `--password-login off` a password is no way in: no form, and the page does
        // not say otherwise.
        has_password: account.user.has_password() && state.password_login_on(),
        developer_link: state.shows_developer_link(account),
    });
    let mut response = html(StatusCode::OK, body);
    if let Some(cookie) = new_csrf_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

fn api_key_view(key: &crate::store::ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: key.id.to_string(),
        name: key.name.as_str().to_owned(),
        scope: key.scope.to_string(),
        created: format_time(key.created_at),
        last_used: key.last_used.map(format_time),
        expires: key.expires_at.map(format_time),
    }
}

fn app_view(app: &crate::oauth::account::AuthorizedApp) -> AppView {
    AppView {
        grant_id: app.grant_id.to_string(),
        client_name: app.client_name.clone(),
        scope: app.scope.to_string(),
        since: format_time(app.since),
        last_used: app.last_used.map(format_time),
    }
}

/// Checks the CSRF token and the session of an account form; on failure, the response.
pub(super) fn form_guard(
    state: &AppState,
    request: &HttpRequest,
    body: &[u8],
) -> Result<(Params, Account), Box<HttpResponse>> {
    let params = forms::form(request, body).map_err(|error| {
        state.problem(Problem::Unreadable {
            title: "The form could not be read",
            message: error.description(),
        })
    })?;
    let account = signed_in(state, request)?;
    if !state
        .cookies
        .csrf_valid(request, params.get("csrf_token").ok().flatten())
    {
        // 403, not a redirect with a notice: a forged form must not look like it did
        // anything, and a page that changed nothing says so.
        return Err(Box::new(state.problem(Problem::FormRejected {
            title: "Nothing was changed",
            message: "This form has expired. Open your account page again and retry there.",
        })));
    }
    Ok((params, account))
}

pub async fn create_key(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (params, account) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let field = |name: &str| params.get(name).ok().flatten();
    let outcome = state
        .account
        .create_key(
            &account,
            field("name").unwrap_or(""),
            field("scope"),
            field("expires_in"),
            clock::now(),
            clock::now_millis(),
        )
        .await;
    match outcome {
        Ok(KeyOutcome::Created { flash }) => see_other("/account?notice=created")
            .cookie(state.cookies.new_key_cookie(flash, NEW_KEY_SECONDS as i64))
            .finish(),
        Ok(KeyOutcome::ScopeNotAllowed(scope)) => scope_not_allowed(&scope),
        Ok(KeyOutcome::Invalid) => see_other("/account?notice=invalid-key").finish(),
        Err(_) => state.unavailable_page(),
    }
}

/// Back to the account page with a notice naming the refused scope.
fn scope_not_allowed(scope: &ScopeToken) -> HttpResponse {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("notice", "scope-not-allowed")
        .append_pair("scope", scope.as_str())
        .finish();
    see_other(&format!("/account?{query}")).finish()
}

pub async fn delete_key(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (params, account) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let id = params.get("id").ok().flatten();
    match state.account.delete_key(&account, id).await {
        Ok(Removal::Done) => see_other("/account?notice=key-deleted").finish(),
        // Another user's key, or none: nothing happened, and the page says so.
        Ok(Removal::NothingFound) => see_other("/account?notice=no-such-key").finish(),
        Err(_) => state.unavailable_page(),
    }
}

pub async fn revoke_app(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (params, account) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let grant_id = params.get("grant_id").ok().flatten();
    match state
        .account
        .revoke_app(&account, grant_id, clock::now_millis())
        .await
    {
        Ok(Removal::Done) => see_other("/account?notice=app-revoked").finish(),
        Ok(Removal::NothingFound) => see_other("/account?notice=nothing-revoked").finish(),
        Err(_) => state.unavailable_page(),
    }
}

pub async fn change_password(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (params, account) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let field = |name: &str| params.get(name).ok().flatten().unwrap_or("");
    let device_cookie = state.cookies.device_value(&request);
    let change = PasswordChange {
        current: field("current_password").to_owned(),
        new: field("new_password"),
        address: state.forwarding.client_address(&request),
        device_cookie: device_cookie.as_deref(),
    };
    let outcome = state
        .account
        .change_password(&state.signin, &account, change, clock::now())
        .await;
    let notice = match outcome {
        Ok(PasswordOutcome::Changed) => "password-changed",
        Ok(PasswordOutcome::WrongCurrent) => "wrong-password",
        Ok(PasswordOutcome::Invalid) => "invalid-password",
        // Nothing was checked: the page itself answers, with the status a client can act
        // on (as the sign-in form does), instead of a redirect that looks like an outcome.
        Ok(PasswordOutcome::Throttled { retry_after }) => {
            let status = StatusCode::TOO_MANY_REQUESTS;
            let notice = "password-throttled";
            return refused_page(&state, &request, &account, notice, status, retry_after);
        }
        Ok(PasswordOutcome::Busy) => {
            let status = StatusCode::SERVICE_UNAVAILABLE;
            return refused_page(&state, &request, &account, "busy", status, 1);
        }
        // The account went while the form was filled in: its session went with it.
        Ok(PasswordOutcome::UserGone) => return see_other("/login").finish(),
        Err(_) => return state.unavailable_page(),
    };
    see_other(&format!("/account?notice={notice}")).finish()
}

/// The account page with `notice`, answered with `status` and `Retry-After` (or the
/// storage-failure page).
fn refused_page(
    state: &AppState,
    request: &HttpRequest,
    account: &Account,
    notice: &str,
    status: StatusCode,
    retry_after: u64,
) -> HttpResponse {
    let Ok(overview) = state.account.overview(account, clock::now()) else {
        return state.unavailable_page();
    };
    let query = format!("notice={notice}");
    let params = Params::parse(query.as_bytes()).unwrap_or_default();
    let mut page = account_page(state, request, account, overview, None, &params);
    *page.status_mut() = status;
    with_retry_after(page, retry_after)
}

pub async fn sign_out_others(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (_, account) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    match state.account.sign_out_others(&account).await {
        Ok(0) => see_other("/account?notice=no-other-sessions").finish(),
        Ok(_) => see_other("/account?notice=signed-out-others").finish(),
        Err(_) => state.unavailable_page(),
    }
}
