//! The developer page, `/account/apps`: a signed-in user registers their own apps, edits
//! them, rotates their secrets and deletes them. Every change is the admin command the CLI
//! sends (`admin::execute`, with the user as the app's owner), so the page, the CLI and the
//! admin socket accept and refuse exactly the same things, with the same words.

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};

use super::account::form_guard;
use super::pages::{html, see_other};
use super::respond::Problem;
use super::AppState;
use crate::admin::{
    self, AdminError, AdminErrorKind, AdminOutput, AdminRequest, ClientCreateRequest,
    ClientUpdateRequest,
};
use crate::clock::{self, format_time};
use crate::config::{parse_duration, DeveloperApps};
use crate::model::{Client, ClientId};
use crate::oauth::account::{Account, NewSecret, NEW_KEY_SECONDS};
use crate::oauth::Params;
use crate::ui::{
    ChoiceView, DeveloperAppFormView, DeveloperAppRowView, DeveloperAppView, DeveloperAppsView,
};

/// How long the secret before a rotation may keep working: (form value, label).
const GRACE_CHOICES: [(&str, &str); 4] = [
    ("0", "Stop it at once (for a leaked secret)"),
    ("1h", "1 more hour"),
    ("1d", "1 more day"),
    ("7d", "7 more days"),
];

/// The most redirect URIs the form's text area is read for (the rule itself is the
/// command's); anything beyond is refused by it with the usual message.
const MAX_FORM_LINES: usize = 100;

fn signed_in(
    state: &AppState,
    request: &HttpRequest,
    return_to: &str,
) -> Result<Account, Box<HttpResponse>> {
    match state
        .account
        .signed_in(state.cookies.session_hash(request), clock::now())
    {
        Ok(Some(account)) => Ok(account),
        Ok(None) => {
            let query = form_urlencoded::Serializer::new(String::new())
                .append_pair("return_to", return_to)
                .finish();
            Err(Box::new(see_other(&format!("/login?{query}")).finish()))
        }
        Err(_) => Err(Box::new(state.unavailable_page())),
    }
}

impl AppState {
    /// Why this user may not register a new app, if they may not (`--developer-apps`).
    fn developer_closed(&self, account: &Account) -> Option<String> {
        match self.developer_apps {
            DeveloperApps::Everyone => None,
            DeveloperApps::Allowed if account.user.developer => None,
            DeveloperApps::Allowed => Some(
                "Your account may not register apps here. Ask the people who run this site to \
                 allow it."
                    .to_owned(),
            ),
            DeveloperApps::Off => Some("Registering apps is not open on this site.".to_owned()),
        }
    }

    /// Whether the account page links to the developer page: for anyone who may register
    /// apps, and for anyone who has some to look after.
    pub(super) fn shows_developer_link(&self, account: &Account) -> bool {
        self.developer_closed(account).is_none()
            || self
                .store
                .clients_of_owner(account.user.id)
                .is_ok_and(|apps| !apps.is_empty())
    }
}

/// Fixed notices chosen by a code in the query, so the page never echoes arbitrary input.
fn notice(params: &Params) -> Option<String> {
    let text = match params.get("notice").ok().flatten()? {
        "created" => "App registered.",
        "saved" => "Changes saved. They apply from the app's next request.",
        "rotated" => "New secret made.",
        "deleted" => "App deleted. Its tokens no longer work.",
        _ => return None,
    };
    Some(text.to_owned())
}

/// The form's fields as posted, shown again when the command refuses them.
fn posted_form(params: &Params) -> Result<DeveloperAppFormView, String> {
    let field = |name: &str| -> Result<String, String> {
        params
            .get(name)
            .map(|value| value.unwrap_or("").to_owned())
            .map_err(|error| error.description().to_owned())
    };
    // Redirect URIs: one text area, one per line; a form of its own may send them as
    // repeated fields instead, which mean the same.
    let redirect_uris: Vec<&str> = ["redirect_uris", "redirect_uri"]
        .iter()
        .flat_map(|name| params.all(name))
        .collect();
    Ok(DeveloperAppFormView {
        name: field("name")?,
        redirect_uris: redirect_uris.join("\n"),
        public: field("type")? == "public",
        scope: field("scope")?,
        homepage: field("homepage")?,
        privacy_policy: field("privacy_policy")?,
    })
}

fn redirect_uri_lines(form: &DeveloperAppFormView) -> Vec<String> {
    // A URI holds no whitespace, so any of it separates two.
    form.redirect_uris
        .split_whitespace()
        .take(MAX_FORM_LINES + 1)
        .map(str::to_owned)
        .collect()
}

fn optional(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// An admin command's refusal as a sentence on a page: it starts with a capital and ends
/// with a full stop (the CLI prints the same words as a line of its own).
fn sentence(message: &str) -> String {
    let mut chars = message.trim().chars();
    let Some(first) = chars.next() else {
        return String::new();
    };
    let mut text: String = first.to_uppercase().chain(chars).collect();
    if !text.ends_with(['.', '!', '?']) {
        text.push('.');
    }
    text
}

fn status_of(error: &AdminError) -> StatusCode {
    match error.kind {
        AdminErrorKind::Invalid => StatusCode::BAD_REQUEST,
        AdminErrorKind::NotFound => StatusCode::NOT_FOUND,
        AdminErrorKind::Conflict => StatusCode::CONFLICT,
        AdminErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// The user's own app, or `None` (another user's app, or none at all: the same answer).
fn owned_app(
    state: &AppState,
    account: &Account,
    id: &str,
) -> Result<Option<std::sync::Arc<Client>>, Box<HttpResponse>> {
    let Ok(id) = ClientId::parse(id) else {
        return Ok(None);
    };
    match state.store.client(id) {
        Ok(client) => Ok(client.filter(|client| client.owner() == Some(account.user.id))),
        Err(_) => Err(Box::new(state.unavailable_page())),
    }
}

fn allowed_scopes(state: &AppState) -> String {
    admin::self_service_scopes(&state.store)
        .map(|scopes| scopes.join(" "))
        .unwrap_or_default()
}

fn list_page(
    state: &AppState,
    request: &HttpRequest,
    account: &Account,
    status: StatusCode,
    form: DeveloperAppFormView,
    message: Option<String>,
    error: Option<String>,
) -> HttpResponse {
    let now = clock::now();
    let Ok(apps) = state.store.clients_of_owner(account.user.id) else {
        return state.unavailable_page();
    };
    let mut rows = Vec::with_capacity(apps.len());
    for app in &apps {
        let Ok(users) = state.store.client_user_count(app.id, now) else {
            return state.unavailable_page();
        };
        rows.push(DeveloperAppRowView {
            client_id: app.id.to_string(),
            name: app.name.as_str().to_owned(),
            public: app.is_public(),
            users,
            created: format_time(app.created_at),
        });
    }
    let (csrf_secret, new_csrf_cookie) = state.cookies.csrf_secret(request);
    let body = state.pages.developer_apps(&DeveloperAppsView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        username: account.user.username.as_str().to_owned(),
        message,
        error,
        closed: state.developer_closed(account),
        at_limit: rows.len() >= state.developer_app_limit as usize,
        apps: rows,
        form,
        limit: state.developer_app_limit,
        allowed_scopes: allowed_scopes(state),
    });
    let mut response = html(status, body);
    if let Some(cookie) = new_csrf_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

/// The app's form as stored.
fn stored_form(client: &Client) -> DeveloperAppFormView {
    DeveloperAppFormView {
        name: client.name.as_str().to_owned(),
        redirect_uris: client
            .redirect_uris
            .iter()
            .map(|uri| uri.as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        public: client.is_public(),
        scope: client.scope.to_string(),
        homepage: client
            .homepage
            .as_ref()
            .map(|url| url.as_str().to_owned())
            .unwrap_or_default(),
        privacy_policy: client
            .privacy_policy
            .as_ref()
            .map(|url| url.as_str().to_owned())
            .unwrap_or_default(),
    }
}

struct AppPage {
    status: StatusCode,
    form: Option<DeveloperAppFormView>,
    new_secret: Option<NewSecret>,
    message: Option<String>,
    error: Option<String>,
}

/// The app's page again, saying why a form on it changed nothing (`form`: what was typed,
/// when the settings form was refused).
fn refused_app_page(
    state: &AppState,
    request: &HttpRequest,
    client: &Client,
    form: Option<DeveloperAppFormView>,
    error: &AdminError,
) -> HttpResponse {
    app_page(
        state,
        request,
        client,
        AppPage {
            status: status_of(error),
            form,
            new_secret: None,
            message: None,
            error: Some(sentence(&error.message)),
        },
    )
}

fn app_page(
    state: &AppState,
    request: &HttpRequest,
    client: &Client,
    page: AppPage,
) -> HttpResponse {
    let Ok(users) = state.store.client_user_count(client.id, clock::now()) else {
        return state.unavailable_page();
    };
    let (csrf_secret, new_csrf_cookie) = state.cookies.csrf_secret(request);
    let (new_secret, previous_valid_until) = match page.new_secret {
        Some(secret) => (
            Some(secret.secret),
            secret.previous_valid_until.map(format_time),
        ),
        None => (None, None),
    };
    let body = state.pages.developer_app(&DeveloperAppView {
        csrf_token: state.cookies.csrf_token(&csrf_secret),
        message: page.message,
        error: page.error,
        client_id: client.id.to_string(),
        public: client.is_public(),
        created: format_time(client.created_at),
        users,
        verified: client.verified,
        new_secret,
        previous_valid_until,
        form: page.form.unwrap_or_else(|| stored_form(client)),
        grace_choices: GRACE_CHOICES
            .iter()
            .map(|(value, label)| ChoiceView {
                value: (*value).to_owned(),
                label: (*label).to_owned(),
            })
            .collect(),
        allowed_scopes: allowed_scopes(state),
        previous_secret_until: client
            .previous_secret
            .filter(|previous| clock::now() < previous.until)
            .map(|previous| format_time(previous.until)),
    });
    let mut response = html(page.status, body);
    if let Some(cookie) = new_csrf_cookie {
        let _ = response.add_cookie(&cookie);
    }
    response
}

fn no_such_app(state: &AppState) -> HttpResponse {
    state.problem(Problem::NotFound)
}

/// After a command made a secret: to the app's page, which shows it once.
fn to_app_with_secret(
    state: &AppState,
    account: &Account,
    client_id: &str,
    secret: Option<NewSecret>,
    notice: &str,
) -> HttpResponse {
    let mut response = see_other(&format!("/account/apps/{client_id}?notice={notice}"));
    if let Some(secret) = secret {
        let flash = state.account.seal_new_secret(
            account,
            client_id,
            secret,
            clock::now(),
            clock::now_millis(),
        );
        response.cookie(
            state
                .cookies
                .new_secret_cookie(flash, NEW_KEY_SECONDS as i64),
        );
    }
    response.finish()
}

pub async fn list(state: web::Data<AppState>, request: HttpRequest) -> HttpResponse {
    let account = match signed_in(&state, &request, "/account/apps") {
        Ok(account) => account,
        Err(response) => return *response,
    };
    let params = super::forms::query(&request).unwrap_or_default();
    list_page(
        &state,
        &request,
        &account,
        StatusCode::OK,
        DeveloperAppFormView::default(),
        notice(&params),
        None,
    )
}

pub async fn create(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let (params, account) = match form_guard(&state, &request, &body) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let refuse = |status: StatusCode, form: DeveloperAppFormView, error: String| {
        list_page(&state, &request, &account, status, form, None, Some(error))
    };
    if let Some(closed) = state.developer_closed(&account) {
        return refuse(
            StatusCode::FORBIDDEN,
            DeveloperAppFormView::default(),
            closed,
        );
    }
    let form = match posted_form(&params) {
        Ok(form) => form,
        Err(error) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                DeveloperAppFormView::default(),
                error,
            )
        }
    };
    let create = ClientCreateRequest {
        name: form.name.trim().to_owned(),
        redirect_uris: redirect_uri_lines(&form),
        scope: optional(&form.scope),
        public: form.public,
        homepage: optional(&form.homepage),
        privacy_policy: optional(&form.privacy_policy),
        owner: Some(account.user.username.as_str().to_owned()),
        owner_app_limit: Some(state.developer_app_limit),
        ..ClientCreateRequest::default()
    };
    match admin::execute(&state.store, AdminRequest::ClientCreate(create)).await {
        Ok(AdminOutput::ClientSecret(made)) => {
            tracing::info!(client_id = %made.client_id, user_id = %account.user.id, "app registered on the developer page");
            let secret = made.client_secret.map(|secret| NewSecret {
                secret,
                previous_valid_until: None,
            });
            to_app_with_secret(&state, &account, &made.client_id, secret, "created")
        }
        Ok(_) => state.unavailable_page(),
        Err(error) if error.kind == AdminErrorKind::Unavailable => state.unavailable_page(),
        Err(error) => refuse(status_of(&error), form, sentence(&error.message)),
    }
}

pub async fn show(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
) -> HttpResponse {
    let id = path.into_inner();
    let account = match signed_in(&state, &request, "/account/apps") {
        Ok(account) => account,
        Err(response) => return *response,
    };
    let client = match owned_app(&state, &account, &id) {
        Ok(Some(client)) => client,
        Ok(None) => return no_such_app(&state),
        Err(response) => return *response,
    };
    let flash = state.cookies.new_secret_value(&request);
    let Ok(new_secret) = state
        .account
        .take_new_secret(flash.as_deref(), &account, &id, clock::now())
        .await
    else {
        return state.unavailable_page();
    };
    let params = super::forms::query(&request).unwrap_or_default();
    let mut response = app_page(
        &state,
        &request,
        &client,
        AppPage {
            status: StatusCode::OK,
            form: None,
            new_secret,
            message: notice(&params),
            error: None,
        },
    );
    if flash.is_some() {
        let _ = response.add_cookie(&state.cookies.expired_new_secret_cookie());
    }
    response
}

/// The guard of the forms on one app's page: CSRF and session (`form_guard`), then the app,
/// which must be the user's.
fn app_form_guard(
    state: &AppState,
    request: &HttpRequest,
    body: &[u8],
    id: &str,
) -> Result<(Params, Account, std::sync::Arc<Client>), Box<HttpResponse>> {
    let (params, account) = form_guard(state, request, body)?;
    match owned_app(state, &account, id)? {
        Some(client) => Ok((params, account, client)),
        None => Err(Box::new(no_such_app(state))),
    }
}

pub async fn update(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    let (params, account, client) = match app_form_guard(&state, &request, &body, &id) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let refuse = |form: Option<DeveloperAppFormView>, error: &AdminError| {
        refused_app_page(&state, &request, &client, form, error)
    };
    let form = match posted_form(&params) {
        Ok(form) => form,
        Err(error) => {
            return refuse(
                None,
                &AdminError {
                    kind: AdminErrorKind::Invalid,
                    message: error,
                },
            )
        }
    };
    // The form holds every setting: what it leaves empty is cleared, not kept.
    let update = ClientUpdateRequest {
        id: id.clone(),
        name: Some(form.name.trim().to_owned()),
        redirect_uris: Some(redirect_uri_lines(&form)),
        scope: Some(optional(&form.scope).unwrap_or_else(|| "openid profile email".to_owned())),
        homepage: Some(form.homepage.trim().to_owned()),
        privacy_policy: Some(form.privacy_policy.trim().to_owned()),
        owner: Some(account.user.username.as_str().to_owned()),
        ..ClientUpdateRequest::default()
    };
    match admin::execute(&state.store, AdminRequest::ClientUpdate(update)).await {
        Ok(_) => see_other(&format!("/account/apps/{id}?notice=saved")).finish(),
        Err(error) if error.kind == AdminErrorKind::Unavailable => state.unavailable_page(),
        Err(error) if error.kind == AdminErrorKind::NotFound => no_such_app(&state),
        Err(error) => {
            let form = DeveloperAppFormView {
                public: client.is_public(),
                ..form
            };
            refuse(Some(form), &error)
        }
    }
}

pub async fn rotate_secret(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    let (params, account, client) = match app_form_guard(&state, &request, &body, &id) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    let refuse = |error: &AdminError| refused_app_page(&state, &request, &client, None, error);
    let grace = match params.get("grace") {
        Ok(None) | Ok(Some("0")) => None,
        Ok(Some(text)) => match parse_duration(text) {
            Ok(grace) => Some(grace.as_secs()),
            Err(message) => {
                return refuse(&AdminError {
                    kind: AdminErrorKind::Invalid,
                    message: format!("The grace is not a duration: {message}"),
                })
            }
        },
        Err(error) => {
            return refuse(&AdminError {
                kind: AdminErrorKind::Invalid,
                message: error.description().to_owned(),
            })
        }
    };
    let rotate = AdminRequest::ClientRotateSecret {
        id: id.clone(),
        grace,
        owner: Some(account.user.username.as_str().to_owned()),
    };
    match admin::execute(&state.store, rotate).await {
        Ok(AdminOutput::ClientSecret(made)) => {
            tracing::info!(client_id = %made.client_id, user_id = %account.user.id, "client secret rotated on the developer page");
            let secret = made.client_secret.map(|secret| NewSecret {
                secret,
                previous_valid_until: made.previous_secret_valid_until,
            });
            to_app_with_secret(&state, &account, &made.client_id, secret, "rotated")
        }
        Ok(_) => state.unavailable_page(),
        Err(error) if error.kind == AdminErrorKind::Unavailable => state.unavailable_page(),
        Err(error) if error.kind == AdminErrorKind::NotFound => no_such_app(&state),
        Err(error) => refuse(&error),
    }
}

pub async fn delete(
    state: web::Data<AppState>,
    request: HttpRequest,
    path: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    let id = path.into_inner();
    let (params, account, client) = match app_form_guard(&state, &request, &body, &id) {
        Ok(guarded) => guarded,
        Err(response) => return *response,
    };
    if params.get("confirm").ok().flatten() != Some("yes") {
        let unconfirmed = AdminError {
            kind: AdminErrorKind::Invalid,
            message: "Tick the box to confirm; the app was not deleted.".to_owned(),
        };
        return refused_app_page(&state, &request, &client, None, &unconfirmed);
    }
    let delete = AdminRequest::ClientDelete {
        id,
        owner: Some(account.user.username.as_str().to_owned()),
    };
    match admin::execute(&state.store, delete).await {
        Ok(_) => {
            tracing::info!(client_id = %client.id, user_id = %account.user.id, "app deleted on the developer page");
            see_other("/account/apps?notice=deleted").finish()
        }
        Err(error) if error.kind == AdminErrorKind::NotFound => no_such_app(&state),
        Err(_) => state.unavailable_page(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn refusals_read_as_sentences() {
        assert_eq!(
            super::sentence("redirect URI 'x' is bad"),
            "Redirect URI 'x' is bad."
        );
        assert_eq!(super::sentence("Done."), "Done.");
        assert_eq!(super::sentence(""), "");
    }
}
