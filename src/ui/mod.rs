//! keyward's own HTML pages: sign-in, sign-up, consent, the user's account, errors and sign-out, and
//! the pages of `keyward demo`'s app.
//!
//! Templates (`assets/templates/*.html`) and the stylesheet (`assets/static/style.css`) are
//! embedded in the binary and the templates are parsed once, in [`Pages::new`]. Every value
//! is HTML-escaped on output, whatever the template's file name, because client names,
//! usernames and scope descriptions come from people we do not trust.
//!
//! The pages carry no inline script, no inline style and no event-handler attributes: they
//! must work without JavaScript and under `Content-Security-Policy: default-src 'self'`. The
//! one script, `assets/static/copy.js` (the new API key's copy button), is a file served from
//! `/static` and only an enhancement. This module
//! only renders; it sets no headers and knows nothing of HTTP.

use std::borrow::Cow;
use std::sync::OnceLock;

use minijinja::{context, AutoEscape, Environment, UndefinedBehavior, Value};
use serde::Serialize;

#[cfg(test)]
mod tests;

#[derive(rust_embed::Embed)]
#[folder = "assets/"]
struct Assets;

const TEMPLATE_DIR: &str = "templates/";
const STYLESHEET_PATH: &str = "static/style.css";
const COPY_SCRIPT_PATH: &str = "static/copy.js";

/// Shown if a page fails to render. Only a template bug can cause that, and the unit tests
/// render every page, but a request must still get an answer rather than a panic.
const FALLBACK_PAGE: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n\
<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<title>Something went wrong</title>\n\
<link rel=\"stylesheet\" href=\"/static/style.css\">\n</head>\n<body>\n\
<main class=\"card\">\n<h1>Something went wrong</h1>\n\
<p>This page could not be shown. Please try again in a moment.</p>\n</main>\n\
</body>\n</html>\n";

/// The parsed templates and the operator's product name, built once at startup and shared
/// by every request.
#[derive(Debug)]
pub struct Pages {
    env: Environment<'static>,
}

/// The sign-in form.
#[derive(Serialize)]
pub struct LoginView {
    pub csrf_token: String,
    /// Where to continue after signing in; posted back unchanged in a hidden field.
    pub return_to: String,
    /// Prefilled, so a user who mistyped the password does not retype the name.
    pub username: String,
    /// A message shown above the form, e.g. after a failed attempt.
    pub error: Option<String>,
    /// The app the sign-in continues to ("Sign in to continue to NAME"), when it came
    /// from an authorization request of a registered client.
    pub app_name: Option<String>,
    /// The sign-up page, carrying `return_to`, when sign-up is open; else no link.
    pub signup_link: Option<String>,
    /// `--password-login off`: what is said instead of the password form.
    pub password_off: Option<String>,
    /// A "Continue with NAME" button per upstream, in name order.
    pub upstreams: Vec<UpstreamButtonView>,
}

/// An upstream's button: the form posts to `/upstream/{name}/start`.
#[derive(Serialize)]
pub struct UpstreamButtonView {
    pub name: String,
    pub display_name: String,
}

/// One upstream on the account page: linked (since when) or not.
#[derive(Serialize)]
pub struct SignInMethodView {
    pub name: String,
    pub display_name: String,
    /// When it was linked, formatted for people; `None` when it is not linked.
    pub linked_since: Option<String>,
}

/// The sign-up form (`serve --signup open`).
#[derive(Serialize)]
pub struct SignUpView {
    pub csrf_token: String,
    /// Where to continue once the account exists; posted back unchanged in a hidden field.
    pub return_to: String,
    /// The sign-in page, carrying `return_to`, for a visitor who has an account.
    pub login_link: String,
    /// Kept after a refusal, so only what was wrong is typed again (never the password).
    pub username: String,
    pub email: String,
    /// The fewest characters a password may have.
    pub min_chars: usize,
    /// Why the last form was refused.
    pub error: Option<String>,
    /// Under `--signup invite`: the invitation (`<id>.<secret>`) the form posts back.
    pub invite: Option<String>,
}

/// The page where a signed-in user allows or denies an app's request.
#[derive(Serialize)]
pub struct ConsentView {
    pub csrf_token: String,
    /// The server-side handle of the pending authorization request.
    pub request: String,
    pub client_name: String,
    /// Where the answer sends the browser: the redirect URI's scheme, host and port (its
    /// origin), or the scheme alone for an app's own scheme.
    pub redirect_origin: String,
    pub username: String,
    pub scopes: Vec<ScopeView>,
    pub public_client: bool,
    /// Who registered the app: a user's name for one registered on the developer page;
    /// `None` for the operator's own (the page then names the product).
    pub owner: Option<String>,
    /// The host of the app's homepage, when it named one.
    pub homepage_host: Option<String>,
    pub homepage: Option<String>,
    pub privacy_policy: Option<String>,
    /// A self-registered app the operator has not reviewed (`client verify`).
    pub unreviewed: bool,
    /// Registered by a program (RFC 7591), not by a person: nobody to name.
    pub registered: bool,
    /// The host of the client metadata document that describes the app, for one named by
    /// its document's URL: who vouches for the name above it.
    pub document_host: Option<String>,
}

/// The developer page, `/account/apps`: the user's apps and the form for a new one.
#[derive(Serialize)]
pub struct DeveloperAppsView {
    pub csrf_token: String,
    pub username: String,
    pub message: Option<String>,
    pub error: Option<String>,
    /// Why this user may not register apps, when they may not: said instead of the form.
    pub closed: Option<String>,
    pub apps: Vec<DeveloperAppRowView>,
    /// The form, with what the user typed when it was refused.
    pub form: DeveloperAppFormView,
    pub limit: u32,
    pub at_limit: bool,
    /// The scopes such an app may ask for, space-separated.
    pub allowed_scopes: String,
}

/// One of the user's apps in the list.
#[derive(Serialize)]
pub struct DeveloperAppRowView {
    pub client_id: String,
    pub name: String,
    pub public: bool,
    pub users: u64,
    pub created: String,
}

/// The fields of a developer app's form.
#[derive(Serialize, Default)]
pub struct DeveloperAppFormView {
    pub name: String,
    /// One redirect URI per line.
    pub redirect_uris: String,
    pub public: bool,
    pub scope: String,
    pub homepage: String,
    pub privacy_policy: String,
}

/// One app on the developer page: its id, its secret once, its settings to edit, and
/// what can be done with it.
#[derive(Serialize)]
pub struct DeveloperAppView {
    pub csrf_token: String,
    pub message: Option<String>,
    pub error: Option<String>,
    pub client_id: String,
    pub public: bool,
    pub created: String,
    pub users: u64,
    pub verified: bool,
    /// Shown once, on the page after the app was made or its secret rotated.
    pub new_secret: Option<String>,
    /// Until when the secret before still works, after a rotation with a grace.
    pub previous_valid_until: Option<String>,
    pub form: DeveloperAppFormView,
    pub grace_choices: Vec<ChoiceView>,
    pub allowed_scopes: String,
    /// Until when the secret before the last rotation still works, while it does.
    pub previous_secret_until: Option<String>,
}

/// One requested scope on the consent page.
#[derive(Serialize)]
pub struct ScopeView {
    pub name: String,
    /// The operator's description; `None` shows a generic line instead.
    pub description: Option<String>,
}

/// A page for an error the user meets and cannot hand back to the app.
#[derive(Serialize)]
pub struct ErrorView {
    pub title: String,
    pub message: String,
}

/// The sign-out confirmation, shown by `GET /logout` while a session exists.
#[derive(Serialize)]
pub struct SignOutView {
    pub csrf_token: String,
    /// Whether the form posts to the end-session endpoint (with its parameters) rather
    /// than to `/logout`.
    pub end_session: bool,
    pub fields: Vec<HiddenField>,
    /// The application that asked to sign the user out, when its request proves which.
    pub app_name: Option<String>,
}

/// A parameter a form carries back unchanged.
#[derive(Serialize)]
pub struct HiddenField {
    pub name: String,
    pub value: String,
}

/// The form a password reset link opens.
#[derive(Serialize)]
pub struct ResetView {
    pub csrf_token: String,
    /// The link's token, posted back unchanged in a hidden field.
    pub token: String,
    pub username: String,
    /// The fewest characters a password may have.
    pub min_chars: usize,
    /// Why the last password was refused.
    pub error: Option<String>,
}

/// The signed-in user's own page: their API keys and the apps they have authorized.
#[derive(Serialize)]
pub struct AccountView {
    pub csrf_token: String,
    pub username: String,
    /// A short notice about the last action, e.g. "API key deleted." (`role="status"`).
    pub message: Option<String>,
    /// A problem with the last form, e.g. "Give the key a name." (`role="alert"`).
    pub error: Option<String>,
    /// The key just created, shown once and never again.
    pub new_key: Option<NewKeyView>,
    pub api_keys: Vec<ApiKeyView>,
    pub apps: Vec<AppView>,
    /// The user's live sessions, this browser's first.
    pub sessions: Vec<SessionView>,
    /// Whether any session but this browser's is live: offers "sign out everywhere else".
    pub other_sessions: bool,
    /// The shortest password allowed (`Password::MIN_CHARS`), for the new-password hint.
    pub password_min_chars: usize,
    /// The options of the new-key expiry `<select>`, in order; the first is preselected.
    pub expiry_choices: Vec<ChoiceView>,
    /// Every upstream, linked or not; empty when none is set up.
    pub sign_in_methods: Vec<SignInMethodView>,
    /// Whether the user has a password (a user made through an upstream may not).
    pub has_password: bool,
    /// Link to the developer page (`/account/apps`).
    pub developer_link: bool,
}

/// One browser signed in as the user. Times are already formatted for people.
#[derive(Serialize)]
pub struct SessionView {
    pub signed_in: String,
    pub expires: String,
    /// The browser looking at the page.
    pub this_browser: bool,
}

/// An API key right after its creation, with its secret.
#[derive(Serialize)]
pub struct NewKeyView {
    pub name: String,
    pub api_key: String,
}

/// One of the user's API keys. Times are already formatted for people.
#[derive(Serialize)]
pub struct ApiKeyView {
    /// Posted back as `id` by the key's delete form.
    pub id: String,
    pub name: String,
    /// Space-separated; empty shows "none".
    pub scope: String,
    pub created: String,
    /// `None` shows "never".
    pub last_used: Option<String>,
    /// `None` shows "never".
    pub expires: Option<String>,
}

/// An app the user has authorized. Times are already formatted for people.
#[derive(Serialize)]
pub struct AppView {
    /// Posted back as `grant_id` by the app's revoke form.
    pub grant_id: String,
    pub client_name: String,
    /// Space-separated; empty shows "none".
    pub scope: String,
    pub since: String,
    /// `None` shows "never".
    pub last_used: Option<String>,
}

/// A name and its value, shown side by side (a request parameter, a claim).
#[derive(Serialize)]
pub struct FactView {
    pub name: String,
    pub value: String,
}

/// `keyward demo`'s app, before sign-in: the request its button sends.
#[derive(Serialize)]
pub struct DemoStartView {
    pub authorize_url: String,
    pub request: Vec<FactView>,
}

/// `keyward demo`'s app, after sign-in: what it verified and what it learned.
#[derive(Serialize)]
pub struct DemoSignedInView {
    pub checks: Vec<String>,
    pub header: Vec<FactView>,
    pub claims: Vec<FactView>,
    pub userinfo: Vec<FactView>,
    pub token_response: Vec<FactView>,
    /// The compact JWS as received.
    pub id_token: String,
}

/// One `<option>` of a `<select>`.
#[derive(Serialize)]
pub struct ChoiceView {
    pub value: String,
    pub label: String,
}

impl Pages {
    /// Parses every embedded template. Panics only if an embedded template is broken, which
    /// the unit tests rule out for the templates this binary was built with.
    pub fn new(product_name: &str) -> Pages {
        let mut env = Environment::new();
        // Escaping must not hinge on a file name someone might change: every page is HTML.
        env.set_auto_escape_callback(|_name| AutoEscape::Html);
        // A misspelled variable must fail the tests, not render as an empty string.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.add_global("product_name", product_name);
        for (name, source) in templates() {
            if let Err(error) = env.add_template_owned(name.clone(), source) {
                panic!("embedded template {name} does not parse: {error:#}");
            }
        }
        Pages { env }
    }

    pub fn login(&self, view: &LoginView) -> String {
        self.render("login.html", Value::from_serialize(view))
    }

    pub fn signup(&self, view: &SignUpView) -> String {
        self.render("signup.html", Value::from_serialize(view))
    }

    pub fn consent(&self, view: &ConsentView) -> String {
        self.render("consent.html", Value::from_serialize(view))
    }

    pub fn account(&self, view: &AccountView) -> String {
        self.render("account.html", Value::from_serialize(view))
    }

    pub fn developer_apps(&self, view: &DeveloperAppsView) -> String {
        self.render("developer_apps.html", Value::from_serialize(view))
    }

    pub fn developer_app(&self, view: &DeveloperAppView) -> String {
        self.render("developer_app.html", Value::from_serialize(view))
    }

    pub fn error(&self, view: &ErrorView) -> String {
        self.render("error.html", Value::from_serialize(view))
    }

    pub fn sign_out(&self, view: &SignOutView) -> String {
        self.render("sign_out.html", Value::from_serialize(view))
    }

    pub fn demo_start(&self, view: &DemoStartView) -> String {
        self.render("demo_start.html", Value::from_serialize(view))
    }

    pub fn demo_signed_in(&self, view: &DemoSignedInView) -> String {
        self.render("demo_signed_in.html", Value::from_serialize(view))
    }

    /// The demo app's page for a sign-in that did not finish, with a way to start again.
    pub fn demo_failed(&self, view: &ErrorView) -> String {
        self.render("demo_failed.html", Value::from_serialize(view))
    }

    pub fn reset(&self, view: &ResetView) -> String {
        self.render("reset.html", Value::from_serialize(view))
    }

    /// After a reset: the password is changed, and the way to sign in.
    pub fn reset_done(&self) -> String {
        self.render("reset_done.html", context! {})
    }

    pub fn signed_out(&self) -> String {
        self.render("signed_out.html", context! {})
    }

    /// The CSS bytes, for `GET /static/style.css`.
    pub fn stylesheet() -> &'static [u8] {
        // In debug builds rust-embed reads the file from disk and hands back owned bytes;
        // keeping the first read makes the slice 'static in every build.
        static STYLESHEET: OnceLock<Cow<'static, [u8]>> = OnceLock::new();
        STYLESHEET.get_or_init(|| {
            Assets::get(STYLESHEET_PATH)
                .map(|file| file.data)
                .unwrap_or_else(|| panic!("assets/{STYLESHEET_PATH} is not embedded"))
        })
    }

    /// The copy button's script, for `GET /static/copy.js`: the one script, a file of ours
    /// (`script-src` falls back to `default-src 'self'`), and only an enhancement: without
    /// it the button stays hidden and the field's text is selected by hand.
    pub fn copy_script() -> &'static [u8] {
        static SCRIPT: OnceLock<Cow<'static, [u8]>> = OnceLock::new();
        SCRIPT.get_or_init(|| {
            Assets::get(COPY_SCRIPT_PATH)
                .map(|file| file.data)
                .unwrap_or_else(|| panic!("assets/{COPY_SCRIPT_PATH} is not embedded"))
        })
    }

    fn render(&self, template: &str, context: Value) -> String {
        let rendered = self
            .env
            .get_template(template)
            .and_then(|template| template.render(context));
        match rendered {
            Ok(html) => html,
            Err(error) => {
                // The error names the template and line, never the context's values.
                tracing::error!(template, %error, "page failed to render");
                FALLBACK_PAGE.to_owned()
            }
        }
    }
}

/// Every embedded template as (name without the directory, source), e.g. `login.html`.
fn templates() -> Vec<(String, String)> {
    Assets::iter()
        .filter_map(|path| {
            let name = path.strip_prefix(TEMPLATE_DIR)?.to_owned();
            let file = Assets::get(&path)?;
            let source = match String::from_utf8(file.data.into_owned()) {
                Ok(source) => source,
                Err(_) => panic!("embedded template {name} is not UTF-8"),
            };
            Some((name, source))
        })
        .collect()
}
