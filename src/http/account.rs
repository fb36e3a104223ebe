//! The user's own page: personal API keys and the apps they have authorized.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::forms;
use super::pages::{html, see_other};
use super::respond::Problem;
use super::AppState;
use crate::admin::{self, AdminOutput, WritePlan};
use crate::clock;
use crate::config::parse_duration;
use crate::model::{Id, ScopeToken, UnixTime, User};
use crate::oauth::apikeys::{KeyRefused, DEFAULT_SCOPE};
use crate::oauth::Params;
use crate::store::TicketUsed;
use crate::ui::{AccountView, ApiKeyView, AppView, ChoiceView, NewKeyView};

/// Expiry choices offered on the page: (form value, label). The empty value is "never".
const EXPIRY_CHOICES: [(&str, &str); 6] = [
    ("90d", "In 90 days"),
    ("30d", "In 30 days"),
    ("7d", "In 7 days"),
    ("1d", "In 1 day"),
    ("365d", "In a year"),
    ("", "Never"),
];

/// A just-made key, carried to the next page view in a sealed, short-lived cookie: the
/// POST answers with a 303, and the key must still be shown exactly once. The cookie may be
/// replayed (a copy kept, the removal ignored), so `id` is single use on the server: the
/// first view marks it used in `used_tickets`, and a later view of the same cookie shows
/// nothing. The key itself is only ever in the sealed cookie, never in the database.
#[derive(Serialize, Deserialize)]
struct Flash {
    id: Id,
    session: [u8; 32],
    name: String,
    api_key: String,
    expires_at: UnixTime,
}

struct SignedIn {
    session: [u8; 32],
    user: User,
}

/// The signed-in user; `Err` carries the page to answer with (boxed: it is large).
fn signed_in(
    state: &AppState,
    request: &HttpRequest,
) -> Result<Option<SignedIn>, Box<HttpResponse>> {
    let Some(hash) = state.cookies.session_hash(request) else {
        return Ok(None);
    };
    let now = clock::now();
    let session = match state.store.session(&hash, now) {
        Ok(Some(session)) => session,
        Ok(None) => return Ok(None),
        Err(_) => return Err(Box::new(state.unavailable_page())),
    };
    match state.store.user(session.user_id) {
        Ok(Some(user)) => Ok(Some(SignedIn {
            session: *hash.as_bytes(),
            user,
        })),
        Ok(None) => Ok(None),
        Err(_) => Err(Box::new(state.unavailable_page())),
    }
}

fn to_login() -> HttpResponse {
    see_other("/login?return_to=%2Faccount").finish()
}

/// Fixed notices chosen by a code in the query, so the page never echoes arbitrary input.
/// The one exception, `scope-not-allowed`, names a scope: only a well-formed scope token,
/// and only one the store confirms API keys may not carry, so a crafted link cannot make
/// the page say something untrue.
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
        Some("scope-not-allowed") => {
            match params
                .get("scope")
                .ok()
                .flatten()
                .and_then(|scope| ScopeToken::parse(scope).ok())
                .filter(|scope| scope_refused_for_keys(state, scope))
            {
                Some(scope) => error(&format!(
                    "The API key was not created: the scope {} is not available for API keys. \
                     Keys may carry {DEFAULT_SCOPE}, and the scopes your administrator allows.",
                    scope.as_str()
                )),
                None => error("The API key could not be created: check its name and scopes."),
            }
        }
        Some("expired-form") => error("The form expired. Please try again."),
        _ => (None, None),
    }
}

/// Whether API keys may not carry `scope` (a storage failure counts as "cannot say").
fn scope_refused_for_keys(state: &AppState, scope: &ScopeToken) -> bool {
    let default = crate::model::Scope::parse(DEFAULT_SCOPE).expect("the default scope parses");
    !default.contains(scope.as_str())
        && matches!(
            state.store.scope_settings(scope.as_str()),
            Ok(None)
                | Ok(Some(crate::store::ScopeSettings {
                    api_keys: false,
                    ..
                }))
        )
}

pub async fn show(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let signed_in = match signed_in(&state, &request) {
        Ok(Some(signed_in)) => signed_in,
        Ok(None) => return to_login(),
        Err(response) => return *response,
    };
    let now = clock::now();
    let params = forms::query(&request).unwrap_or_default();
    let (message, error) = notice(&state, &params);
    let flash = state
        .cookies
        .new_key_value(&request)
        .and_then(|cookie| state.flash.open::<Flash>(&cookie))
        .filter(|flash| flash.session == signed_in.session && now < flash.expires_at);
    let new_key = match flash {
        // Shown once: the id is marked used, durably, before the page carries the key.
        Some(flash) => match state.store.consume_ticket(flash.id, flash.expires_at).await {
            Ok(Ok(())) => Some(NewKeyView {
                name: flash.name,
                api_key: flash.api_key,
            }),
            Ok(Err(TicketUsed)) => None,
            Err(_) => return state.unavailable_page(),
        },
        None => None,
    };
    let user = &signed_in.user;
    let api_keys = match state.store.api_keys_of_user(user.id) {
        Ok(keys) => keys,
        Err(_) => return state.unavailable_page(),
    };
    let grants = match state.store.grants_of_user(user.id) {
        Ok(grants) => grants,
        Err(_) => return state.unavailable_page(),
    };
    // One row per app: every authorization makes a grant, but the user approved an app.
    let mut by_client: Vec<(crate::model::ClientId, Vec<&crate::store::Grant>)> = Vec::new();
    for grant in grants.iter().filter(|grant| now < grant.expires_at) {
        match by_client
            .iter_mut()
            .find(|(client, _)| *client == grant.client_id)
        {
            Some((_, group)) => group.push(grant),
            None => by_client.push((grant.client_id, vec![grant])),
        }
    }
    let mut apps = Vec::with_capacity(by_client.len());
    for (client_id, group) in by_client {
        // A deleted app's grants go with it; a storage failure is no reason to hide one.
        let client = match state.store.client(client_id) {
            Ok(Some(client)) => client,
            Ok(None) => continue,
            Err(_) => return state.unavailable_page(),
        };
        let scope = group
            .iter()
            .fold(crate::model::Scope::default(), |scope, grant| {
                scope.union(&grant.scope)
            });
        apps.push(AppView {
            grant_id: group[0].id.to_string(),
            client_name: client.name.as_str().to_owned(),
            scope: scope.to_string(),
            since: format_time(
                group
                    .iter()
                    .map(|grant| grant.created_at)
                    .min()
                    .unwrap_or(0),
            ),
            last_used: group
                .iter()
                .map(|grant| grant.last_used)
                .max()
                .map(format_time),
        });
    }
    let (csrf_secret, new_csrf_cookie) = state.cookies.csrf_secret(&request);
    let body = state.pages.account(&AccountView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        username: user.username.as_str().to_owned(),
        message,
        error,
        new_key,
        api_keys: api_keys
            .iter()
            .filter(|key| key.live(now))
            .map(|key| ApiKeyView {
                id: key.id.to_string(),
                name: key.name.as_str().to_owned(),
                scope: key.scope.to_string(),
                created: format_time(key.created_at),
                last_used: key.last_used.map(format_time),
                expires: key.expires_at.map(format_time),
            })
            .collect(),
        apps,
        expiry_choices: EXPIRY_CHOICES
            .iter()
            .map(|(value, label)| ChoiceView {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
            })
            .collect(),
    });
    let mut response = html(StatusCode::OK, body);
    if let Some(cookie) = new_csrf_cookie {
        let _ = response.add_cookie(&cookie);
    }
    if state.cookies.new_key_value(&request).is_some() {
        let _ = response.add_cookie(&state.cookies.expired_new_key_cookie());
    }
    response
}

/// Checks the CSRF token and the session of an account form; on failure, the response.
fn form_guard(
    state: &AppState,
    request: &HttpRequest,
    body: &[u8],
) -> Result<(Params, SignedIn), Box<HttpResponse>> {
    let params = forms::form(request, body).map_err(|error| {
        state.problem(Problem::Unreadable {
            title: "The form could not be read",
            message: error.description(),
        })
    })?;
    let signed_in = signed_in(state, request)?.ok_or_else(to_login)?;
    if !state
        .cookies
        .csrf_valid(request, params.get("csrf_token").ok().flatten())
    {
        return Err(Box::new(see_other("/account?notice=expired-form").finish()));
    }
    Ok((params, signed_in))
}

pub async fn create_key(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (params, signed_in) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let field = |name: &str| params.get(name).ok().flatten();
    let lifetime = match field("expires_in") {
        None => None,
        Some(text) => match parse_duration(text) {
            Ok(duration) => Some(duration.as_secs()),
            Err(_) => return see_other("/account?notice=invalid-key").finish(),
        },
    };
    let now = clock::now();
    // The same checks, and the same write, as `keyward apikey create`.
    let new = match admin::plan_api_key(
        &state.store,
        signed_in.user.id,
        field("name").unwrap_or(""),
        field("scope"),
        lifetime,
    ) {
        Ok(Ok(new)) => new,
        Ok(Err(KeyRefused::ScopeNotAllowed(scope))) => return scope_not_allowed(&scope),
        Ok(Err(KeyRefused::Invalid(_))) => {
            return see_other("/account?notice=invalid-key").finish()
        }
        Err(_) => return state.unavailable_page(),
    };
    let name = new.record.name.as_str().to_owned();
    let token = match admin::apply(&state.store, WritePlan::CreateApiKey(Box::new(new))).await {
        Ok(AdminOutput::NewApiKey(view)) => view.api_key,
        Ok(_) => return state.unavailable_page(),
        Err(error) => {
            return match error.kind {
                admin::AdminErrorKind::Unavailable => state.unavailable_page(),
                // The operator withdrew a scope, or the user went, since the check above.
                _ => see_other("/account?notice=invalid-key").finish(),
            };
        }
    };
    let flash = state.flash.seal(&Flash {
        id: Id::generate(clock::now_millis()),
        session: signed_in.session,
        name,
        api_key: token,
        expires_at: now + 300,
    });
    see_other("/account?notice=created")
        .cookie(state.cookies.new_key_cookie(flash, 300))
        .finish()
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
    let (params, signed_in) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let Some(id) = params.get("id").ok().flatten().and_then(Id::parse) else {
        return see_other("/account?notice=no-such-key").finish();
    };
    // Only the signed-in user's own key: another user's id changes nothing.
    match state
        .store
        .delete_api_key(id, Some(signed_in.user.id))
        .await
    {
        Ok(true) => see_other("/account?notice=key-deleted").finish(),
        // Another user's key, or none: nothing happened, and the page says so.
        Ok(false) => see_other("/account?notice=no-such-key").finish(),
        Err(_) => state.unavailable_page(),
    }
}

pub async fn revoke_app(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (params, signed_in) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let Some(id) = params.get("grant_id").ok().flatten().and_then(Id::parse) else {
        return see_other("/account?notice=nothing-revoked").finish();
    };
    match state
        .store
        .revoke_app(signed_in.user.id, id, clock::now_millis())
        .await
    {
        Ok(true) => see_other("/account?notice=app-revoked").finish(),
        Ok(false) => see_other("/account?notice=nothing-revoked").finish(),
        Err(_) => state.unavailable_page(),
    }
}

/// `2026-11-22 08:09 UTC`: dates for people, computed from the Unix time with the
/// days-to-civil algorithm (proleptic Gregorian calendar).
pub fn format_time(unix: UnixTime) -> String {
    let days = (unix / 86_400) as i64;
    let seconds_of_day = unix % 86_400;
    let shifted = days + 719_468;
    let era = shifted.div_euclid(146_097);
    let day_of_era = shifted.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02} UTC",
        seconds_of_day / 3600,
        seconds_of_day % 3600 / 60
    )
}

#[cfg(test)]
mod tests {
    use super::format_time;

    #[test]
    fn formats_times() {
        assert_eq!(format_time(0), "1970-01-01 00:00 UTC");
        assert_eq!(format_time(951_782_400), "2000-02-29 00:00 UTC");
        assert_eq!(format_time(1_795_334_977), "2026-11-22 08:09 UTC");
    }
}
