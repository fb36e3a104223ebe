use super::*;

mod account;
mod demo;

const HOSTILE: &str = "<script>alert(1)</script>";

fn pages() -> Pages {
    Pages::new("Example ID")
}

fn login_view(error: Option<&str>) -> LoginView {
    LoginView {
        csrf_token: "csrf-login-123".into(),
        return_to: "/oauth2/authorize?client_id=abc&state=xyz".into(),
        username: "alice".into(),
        error: error.map(str::to_owned),
        app_name: None,
        signup_link: None,
        password_off: None,
        upstreams: Vec::new(),
    }
}

fn signup_view(error: Option<&str>) -> SignUpView {
    SignUpView {
        csrf_token: "csrf-signup-1".into(),
        return_to: "/oauth2/authorize?client_id=abc&state=xyz".into(),
        login_link: "/login?return_to=%2Foauth2%2Fauthorize%3Fclient_id%3Dabc".into(),
        username: "alice".into(),
        email: "alice@example.com".into(),
        min_chars: 8,
        error: error.map(str::to_owned),
        invite: None,
    }
}

fn consent_view() -> ConsentView {
    ConsentView {
        csrf_token: "csrf-consent-456".into(),
        request: "pending-789".into(),
        client_name: "Photo Printer".into(),
        redirect_origin: "https://printer.example:8443".into(),
        username: "alice".into(),
        scopes: vec![
            ScopeView {
                name: "photos.read".into(),
                description: Some("See your photos".into()),
            },
            ScopeView {
                name: "profile".into(),
                description: None,
            },
        ],
        public_client: false,
        owner: None,
        homepage_host: None,
        homepage: None,
        privacy_policy: None,
        unreviewed: false,
        registered: false,
        document_host: None,
    }
}

fn error_view() -> ErrorView {
    ErrorView {
        title: "This app is not registered".into(),
        message: "The link you followed names an app this server does not know.".into(),
    }
}

fn reset_view(error: Option<&str>) -> ResetView {
    ResetView {
        csrf_token: "csrf-reset-1".into(),
        token: "sealed-token_-1".into(),
        username: "alice".into(),
        min_chars: 8,
        error: error.map(str::to_owned),
    }
}

/// Every page, rendered with ordinary data.
fn all_pages() -> Vec<(&'static str, String)> {
    let pages = pages();
    let public = ConsentView {
        public_client: true,
        scopes: Vec::new(),
        ..consent_view()
    };
    vec![
        ("login", pages.login(&login_view(None))),
        (
            "login for an app, nothing prefilled",
            pages.login(&LoginView {
                app_name: Some("Score Tracker".into()),
                username: String::new(),
                ..login_view(None)
            }),
        ),
        (
            "login with error",
            pages.login(&login_view(Some("Wrong username or password."))),
        ),
        (
            "login with sign-up link",
            pages.login(&LoginView {
                signup_link: Some("/signup?return_to=%2Faccount".into()),
                ..login_view(None)
            }),
        ),
        (
            "login, password sign-in off",
            pages.login(&LoginView {
                password_off: Some("Password sign-in is turned off.".into()),
                ..login_view(None)
            }),
        ),
        ("sign-up", pages.signup(&signup_view(None))),
        (
            "sign-up with error",
            pages.signup(&signup_view(Some("That username is taken."))),
        ),
        ("consent", pages.consent(&consent_view())),
        ("consent, public client", pages.consent(&public)),
        ("account", pages.account(&account::account_view())),
        (
            "account, empty",
            pages.account(&account::empty_account_view()),
        ),
        ("error", pages.error(&error_view())),
        ("signed out", pages.signed_out()),
        ("reset", pages.reset(&reset_view(None))),
        (
            "reset with error",
            pages.reset(&reset_view(Some("Password must be at least 8 characters."))),
        ),
        ("reset done", pages.reset_done()),
        ("demo app", pages.demo_start(&demo::start_view())),
        (
            "demo app, signed in",
            pages.demo_signed_in(&demo::signed_in_view()),
        ),
        ("demo app, failed", pages.demo_failed(&demo::failed_view())),
        (
            "sign out",
            pages.sign_out(&SignOutView {
                csrf_token: "csrf-token-value".into(),
                end_session: true,
                fields: vec![crate::ui::HiddenField {
                    name: "state".into(),
                    value: "\"><script>".into(),
                }],
                app_name: Some("<b>App</b>".into()),
            }),
        ),
        (
            "consent for a developer's app nobody reviewed",
            pages.consent(&ConsentView {
                owner: Some("alice".into()),
                homepage_host: Some("printer.example".into()),
                homepage: Some("https://printer.example/".into()),
                privacy_policy: Some("https://printer.example/privacy".into()),
                unreviewed: true,
                ..consent_view()
            }),
        ),
        (
            "consent for a client named by its metadata document",
            pages.consent(&ConsentView {
                document_host: Some("agent.example".into()),
                public_client: true,
                unreviewed: true,
                ..consent_view()
            }),
        ),
        (
            "developer apps",
            pages.developer_apps(&developer_apps_view(None)),
        ),
        (
            "developer apps, a refused form",
            pages.developer_apps(&developer_apps_view(Some(
                "redirect URI 'x' is not an absolute URI",
            ))),
        ),
        (
            "developer apps, closed",
            pages.developer_apps(&DeveloperAppsView {
                closed: Some("Registering apps is not open on this site.".into()),
                ..developer_apps_view(None)
            }),
        ),
        (
            "developer app",
            pages.developer_app(&developer_app_view(None)),
        ),
        (
            "developer app with its new secret",
            pages.developer_app(&developer_app_view(Some("s3cr3t-value"))),
        ),
    ]
}

fn developer_form() -> DeveloperAppFormView {
    DeveloperAppFormView {
        name: "Score <Tracker>".into(),
        redirect_uris: "https://scores.example/cb\nhttp://127.0.0.1:8080/cb".into(),
        public: false,
        scope: "openid profile".into(),
        homepage: "https://scores.example/".into(),
        privacy_policy: String::new(),
    }
}

fn developer_apps_view(error: Option<&str>) -> DeveloperAppsView {
    DeveloperAppsView {
        csrf_token: "csrf-dev".into(),
        username: "alice".into(),
        message: None,
        error: error.map(str::to_owned),
        closed: None,
        apps: vec![DeveloperAppRowView {
            client_id: "0123456789abcdef0123456789abcdef".into(),
            name: "Score <Tracker>".into(),
            public: false,
            users: 3,
            created: "2026-12-01 12:00 UTC".into(),
        }],
        form: developer_form(),
        limit: 10,
        at_limit: false,
        allowed_scopes: "openid profile email offline_access".into(),
    }
}

fn developer_app_view(secret: Option<&str>) -> DeveloperAppView {
    DeveloperAppView {
        csrf_token: "csrf-dev".into(),
        message: Some("App registered.".into()),
        error: None,
        client_id: "0123456789abcdef0123456789abcdef".into(),
        public: false,
        created: "2026-12-01 12:00 UTC".into(),
        users: 0,
        verified: false,
        new_secret: secret.map(str::to_owned),
        previous_valid_until: secret.map(|_| "2026-12-01 13:00 UTC".to_owned()),
        form: developer_form(),
        grace_choices: vec![ChoiceView {
            value: "0".into(),
            label: "No".into(),
        }],
        allowed_scopes: "openid profile email offline_access".into(),
        previous_secret_until: secret.map(|_| "2026-12-01 13:00 UTC".to_owned()),
    }
}

/// A start tag and its attributes, as a browser would read them from our own markup. Enough
/// for pages whose attribute values are always double-quoted and escaped.
#[derive(Debug)]
struct Tag {
    name: String,
    attributes: Vec<(String, String)>,
}

impl Tag {
    fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn start_tags(html: &str) -> Vec<Tag> {
    let mut tags = Vec::new();
    let mut rest = html;
    while let Some(open) = rest.find('<') {
        rest = &rest[open + 1..];
        if !rest.starts_with(|c: char| c.is_ascii_alphabetic()) {
            continue;
        }
        let end = rest.find('>').expect("every tag is closed");
        let inside = &rest[..end];
        rest = &rest[end + 1..];
        let name_end = inside
            .find(|c: char| c.is_whitespace() || c == '/')
            .unwrap_or(inside.len());
        let mut tag = Tag {
            name: inside[..name_end].to_ascii_lowercase(),
            attributes: Vec::new(),
        };
        let mut attrs = inside[name_end..].trim_start();
        while !attrs.is_empty() && attrs != "/" {
            let key_end = attrs
                .find(|c: char| c.is_whitespace() || c == '=')
                .unwrap_or(attrs.len());
            let key = attrs[..key_end].to_ascii_lowercase();
            attrs = &attrs[key_end..];
            let mut value = String::new();
            if let Some(after_equals) = attrs.strip_prefix('=') {
                let quoted = after_equals
                    .strip_prefix('"')
                    .expect("attribute values are double-quoted");
                let close = quoted.find('"').expect("attribute value is closed");
                value = quoted[..close].to_owned();
                attrs = &quoted[close + 1..];
            }
            tag.attributes.push((key, value));
            attrs = attrs.trim_start();
        }
        tags.push(tag);
    }
    tags
}

/// The start tags inside the first `<form action="{action}">`.
fn form_tags(html: &str, action: &str) -> Vec<Tag> {
    let marker = format!("action=\"{action}\"");
    let action_at = html.find(&marker).expect("the form is on the page");
    let start = html[..action_at]
        .rfind("<form")
        .expect("the action is on a form");
    let end = start + html[start..].find("</form>").expect("the form is closed");
    start_tags(&html[start..end])
}

fn has_input(tags: &[Tag], input_type: &str, name: &str) -> bool {
    tags.iter().any(|tag| {
        tag.name == "input"
            && tag.attribute("type") == Some(input_type)
            && tag.attribute("name") == Some(name)
    })
}

#[test]
fn every_embedded_template_parses() {
    let templates = templates();
    let mut names: Vec<&str> = templates.iter().map(|(name, _)| name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "account.html",
            "base.html",
            "consent.html",
            "demo_failed.html",
            "demo_signed_in.html",
            "demo_start.html",
            "developer_app.html",
            "developer_app_fields.html",
            "developer_apps.html",
            "error.html",
            "login.html",
            "reset.html",
            "reset_done.html",
            "sign_out.html",
            "signed_out.html",
            "signup.html"
        ]
    );
    for (name, source) in &templates {
        let mut env = Environment::new();
        if let Err(error) = env.add_template_owned(name.clone(), source.clone()) {
            panic!("{name}: {error:#}");
        }
    }
}

#[test]
fn every_page_renders_without_falling_back() {
    for (page, html) in all_pages() {
        assert_ne!(html, FALLBACK_PAGE, "{page} failed to render");
        assert!(html.starts_with("<!doctype html>"), "{page}");
    }
}

#[test]
fn interpolated_values_are_html_escaped() {
    let rendered = pages()
        .env
        .render_str("{{ value }}", context! { value => HOSTILE })
        .unwrap();
    assert_eq!(rendered, "&lt;script&gt;alert(1)&lt;&#x2f;script&gt;");
}

#[test]
fn consent_escapes_client_name_and_scope_description() {
    let mut view = consent_view();
    view.client_name = HOSTILE.into();
    view.username = HOSTILE.into();
    view.redirect_origin = HOSTILE.into();
    view.scopes[0].description = Some(r#"quote " apostrophe ' angle <> amp &"#.into());
    view.scopes[1].name = HOSTILE.into();
    let html = pages().consent(&view);
    assert!(!html.contains(HOSTILE), "{html}");
    assert!(!html.contains("<script"), "{html}");
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; wants to access your account")
    );
    assert!(html.contains("quote &quot; apostrophe &#x27; angle &lt;&gt; amp &amp;"));
}

#[test]
fn hostile_values_cannot_add_attributes() {
    let breakout = r#"" onfocus="alert(1)" autofocus x=""#;
    let pages = pages();
    let login = pages.login(&LoginView {
        csrf_token: breakout.into(),
        return_to: breakout.into(),
        username: breakout.into(),
        error: Some(breakout.into()),
        app_name: Some(breakout.into()),
        signup_link: Some(breakout.into()),
        password_off: None,
        upstreams: vec![UpstreamButtonView {
            name: breakout.into(),
            display_name: breakout.into(),
        }],
    });
    let signup = pages.signup(&SignUpView {
        csrf_token: breakout.into(),
        return_to: breakout.into(),
        login_link: breakout.into(),
        username: breakout.into(),
        email: breakout.into(),
        min_chars: 8,
        error: Some(breakout.into()),
        invite: Some(breakout.into()),
    });
    let mut consent = consent_view();
    consent.csrf_token = breakout.into();
    consent.request = breakout.into();
    let reset = pages.reset(&ResetView {
        csrf_token: breakout.into(),
        token: breakout.into(),
        username: breakout.into(),
        min_chars: 8,
        error: Some(breakout.into()),
    });
    for html in [login, signup, pages.consent(&consent), reset] {
        for tag in start_tags(&html) {
            assert!(tag.attribute("onfocus").is_none(), "{tag:?}");
            // The sign-in form's own autofocus, on one of its two fields, is the only one.
            let own_field = ["username", "password"].contains(&tag.attribute("id").unwrap_or(""));
            assert!(tag.attribute("autofocus").is_none() || own_field, "{tag:?}");
        }
    }
}

#[test]
fn product_name_is_in_title_and_header_and_escaped() {
    let html = Pages::new("Acme & <Co>").signed_out();
    assert!(
        html.contains("<title>Signed out · Acme &amp; &lt;Co&gt;</title>"),
        "{html}"
    );
    assert!(
        html.contains("<p class=\"product\">Acme &amp; &lt;Co&gt;</p>"),
        "{html}"
    );
}

#[test]
fn login_names_the_app_and_focuses_the_first_empty_field() {
    let pages = pages();
    let for_app = pages.login(&LoginView {
        app_name: Some("Score <Tracker>".into()),
        username: String::new(),
        ..login_view(None)
    });
    assert!(
        for_app.contains(
            "<h1>Sign in to continue to <span class=\"app-name\">Score &lt;Tracker&gt;</span></h1>"
        ),
        "{for_app}"
    );
    let focused = |html: &str| -> Vec<String> {
        start_tags(html)
            .into_iter()
            .filter(|tag| tag.attribute("autofocus").is_some())
            .filter_map(|tag| tag.attribute("id").map(str::to_owned))
            .collect()
    };
    assert_eq!(focused(&for_app), ["username"]);
    // A prefilled username (login_hint, or a failed attempt) moves the focus on.
    let prefilled = pages.login(&login_view(None));
    assert_eq!(focused(&prefilled), ["password"]);
    assert!(prefilled.contains("<h1>Sign in</h1>"));
}

#[test]
fn login_form_has_the_contract_fields() {
    let html = pages().login(&login_view(None));
    let form = form_tags(&html, "/login");
    assert_eq!(form[0].name, "form");
    assert_eq!(form[0].attribute("method"), Some("post"));
    assert!(has_input(&form, "hidden", "csrf_token"));
    assert!(has_input(&form, "hidden", "return_to"));
    assert!(has_input(&form, "text", "username"));
    assert!(has_input(&form, "password", "password"));
    let username = form
        .iter()
        .find(|tag| tag.attribute("name") == Some("username"))
        .unwrap();
    assert_eq!(username.attribute("value"), Some("alice"));
    assert_eq!(username.attribute("autocomplete"), Some("username"));
    let password = form
        .iter()
        .find(|tag| tag.attribute("name") == Some("password"))
        .unwrap();
    assert_eq!(password.attribute("autocomplete"), Some("current-password"));
    assert!(
        password.attribute("value").is_none(),
        "a password is never echoed back"
    );
    assert!(html.contains("<button class=\"primary\" type=\"submit\">Sign in</button>"));
    // Hidden values are escaped like any other: the `/` and `&` come back as entities,
    // which the browser decodes before it submits the form.
    let return_to = form
        .iter()
        .find(|tag| tag.attribute("name") == Some("return_to"))
        .unwrap();
    assert_eq!(
        return_to.attribute("value"),
        Some("&#x2f;oauth2&#x2f;authorize?client_id=abc&amp;state=xyz")
    );
}

#[test]
fn login_error_is_an_alert_above_the_form() {
    let pages = pages();
    let html = pages.login(&login_view(Some("Wrong username or password.")));
    let alert = html
        .find("<p class=\"alert\" role=\"alert\">Wrong username or password.</p>")
        .expect("the error is shown as an alert");
    assert!(alert < html.find("<form").unwrap());
    assert!(!pages.login(&login_view(None)).contains("role=\"alert\""));
}

#[test]
fn consent_form_has_allow_and_deny_buttons() {
    let html = pages().consent(&consent_view());
    let form = form_tags(&html, "/oauth2/consent");
    assert_eq!(form[0].attribute("method"), Some("post"));
    assert!(has_input(&form, "hidden", "csrf_token"));
    assert!(has_input(&form, "hidden", "request"));
    let decisions: Vec<_> = form
        .iter()
        .filter(|tag| tag.name == "button" && tag.attribute("name") == Some("decision"))
        .map(|tag| (tag.attribute("type"), tag.attribute("value")))
        .collect();
    assert_eq!(
        decisions,
        [
            (Some("submit"), Some("allow")),
            (Some("submit"), Some("deny"))
        ]
    );
    assert!(html.contains(">Allow</button>") && html.contains(">Deny</button>"));
}

#[test]
fn consent_page_offers_sign_out() {
    let html = pages().consent(&consent_view());
    let form = form_tags(&html, "/logout");
    assert_eq!(form[0].attribute("method"), Some("post"));
    assert!(has_input(&form, "hidden", "csrf_token"));
    assert!(html.contains(">Not you? Sign out</button>"));
}

#[test]
fn consent_page_says_who_what_and_where() {
    let html = pages().consent(&consent_view());
    assert!(html.contains("<h1>Photo Printer wants to access your account</h1>"));
    assert!(html.contains("Signed in as <strong>alice</strong>"));
    assert!(html.contains(
        "You will be sent to <strong class=\"host\">https:&#x2f;&#x2f;printer.example:8443</strong>"
    ));
    assert!(html.contains("take this access back at any time"));
    assert!(html.contains("href=\"/account#apps\""));
    assert!(html.contains("<code>photos.read</code>"));
    assert!(html.contains("See your photos"));
    assert!(html.contains("<code>profile</code>"));
    assert!(html.contains("No description is available for this permission."));
    assert!(!html.contains("cannot keep secrets"));

    let mut public = consent_view();
    public.public_client = true;
    assert!(pages().consent(&public).contains("cannot keep secrets"));
}

#[test]
fn error_page_says_what_happened_and_what_to_do() {
    let html = pages().error(&error_view());
    assert!(html.contains("<title>This app is not registered · Example ID</title>"));
    assert!(html.contains("<h1>This app is not registered</h1>"));
    assert!(html.contains("names an app this server does not know."));
    assert!(html.contains("It is safe to close this page"));
}

#[test]
fn reset_form_carries_csrf_and_token_and_asks_one_new_password() {
    let html = pages().reset(&reset_view(None));
    let form = form_tags(&html, "/reset");
    assert_eq!(form[0].attribute("method"), Some("post"));
    assert!(has_input(&form, "hidden", "csrf_token"));
    assert!(has_input(&form, "hidden", "token"));
    let passwords: Vec<_> = form
        .iter()
        .filter(|tag| tag.attribute("type") == Some("password"))
        .collect();
    assert_eq!(passwords.len(), 1, "one password field, as on sign-up");
    assert_eq!(passwords[0].attribute("name"), Some("password"));
    assert_eq!(passwords[0].attribute("autocomplete"), Some("new-password"));
    assert!(passwords[0].attribute("value").is_none());
    assert!(html.contains("<strong>alice</strong>"));
    assert!(!html.contains("role=\"alert\""));
    let with_error = pages().reset(&reset_view(Some(HOSTILE)));
    assert!(with_error.contains("role=\"alert\""));
    assert!(!with_error.contains(HOSTILE));
}

#[test]
fn login_links_to_sign_up_only_when_given_a_link() {
    let pages = pages();
    let without = pages.login(&login_view(None));
    assert!(!without.contains("/signup"), "{without}");
    let with = pages.login(&LoginView {
        signup_link: Some("/signup?return_to=%2Foauth2%2Fauthorize%3Fa%3D1".into()),
        ..login_view(None)
    });
    let link = start_tags(&with)
        .into_iter()
        .find(|tag| tag.name == "a")
        .expect("a link to sign-up");
    // Escaped like every value; the browser decodes the entities.
    assert_eq!(
        link.attribute("href"),
        Some("&#x2f;signup?return_to=%2Foauth2%2Fauthorize%3Fa%3D1")
    );
    assert!(
        !with.contains("action=\"/signup\""),
        "a plain link, no form"
    );
}

#[test]
fn signup_form_has_csrf_return_to_and_one_new_password() {
    let html = pages().signup(&signup_view(None));
    let form = form_tags(&html, "/signup");
    assert_eq!(form[0].attribute("method"), Some("post"));
    assert!(has_input(&form, "hidden", "csrf_token"));
    assert!(has_input(&form, "hidden", "return_to"));
    assert!(has_input(&form, "text", "username"));
    assert!(has_input(&form, "email", "email"));
    let value = |name: &str| {
        form.iter()
            .find(|tag| tag.attribute("name") == Some(name))
            .and_then(|tag| tag.attribute("value"))
    };
    assert_eq!(value("username"), Some("alice"));
    assert_eq!(value("email"), Some("alice@example.com"));
    let passwords: Vec<_> = form
        .iter()
        .filter(|tag| tag.attribute("type") == Some("password"))
        .collect();
    assert_eq!(passwords.len(), 1, "one password field");
    assert_eq!(passwords[0].attribute("name"), Some("password"));
    assert_eq!(passwords[0].attribute("autocomplete"), Some("new-password"));
    assert!(passwords[0].attribute("value").is_none(), "never echoed");
    let email = form
        .iter()
        .find(|tag| tag.attribute("name") == Some("email"))
        .unwrap();
    assert!(email.attribute("required").is_none(), "email is optional");
    assert!(!html.contains("role=\"alert\""));
    let with_error = pages().signup(&signup_view(Some(HOSTILE)));
    let alert = with_error.find("role=\"alert\"").expect("an alert");
    assert!(alert < with_error.find("<form").unwrap());
    assert!(!with_error.contains(HOSTILE));
    let login = start_tags(&html)
        .into_iter()
        .find(|tag| tag.name == "a")
        .expect("a link to sign in");
    assert!(login
        .attribute("href")
        .unwrap()
        .starts_with("&#x2f;login?return_to="));
}

#[test]
fn reset_done_page_links_to_sign_in() {
    let html = pages().reset_done();
    assert!(html.contains("<h1>Your password was changed</h1>"));
    let link = start_tags(&html)
        .into_iter()
        .find(|tag| tag.name == "a")
        .expect("a link");
    assert_eq!(link.attribute("href"), Some("/login"));
}

#[test]
fn signed_out_page_links_to_sign_in() {
    let html = pages().signed_out();
    assert!(html.contains("<h1>You are signed out</h1>"));
    let link = start_tags(&html)
        .into_iter()
        .find(|tag| tag.name == "a")
        .expect("a link");
    assert_eq!(link.attribute("href"), Some("/login"));
}

/// The pages must work under `default-src 'self'` and without JavaScript.
#[test]
fn no_page_has_script_inline_style_or_event_handlers() {
    for (page, html) in all_pages() {
        let lower = html.to_ascii_lowercase();
        // The one script is the copy button's file, loaded from us, with nothing inline.
        let lower = lower.replace(COPY_SCRIPT_TAG, "");
        assert!(!lower.contains("<script"), "{page}");
        assert!(!lower.contains("<style"), "{page}");
        assert!(!lower.contains(" style="), "{page}");
        assert!(!lower.contains("javascript:"), "{page}");
        assert!(!has_event_handler_text(&lower), "{page}");
        for tag in start_tags(&html) {
            for (attribute, _) in &tag.attributes {
                assert!(!attribute.starts_with("on"), "{page}: {tag:?}");
                assert_ne!(attribute, "style", "{page}: {tag:?}");
            }
        }
        let stylesheets: Vec<_> = start_tags(&html)
            .into_iter()
            .filter(|tag| tag.name == "link")
            .map(|tag| {
                (
                    tag.attribute("rel").map(str::to_owned),
                    tag.attribute("href").map(str::to_owned),
                )
            })
            .collect();
        assert_eq!(
            stylesheets,
            [(
                Some("stylesheet".to_owned()),
                Some("/static/style.css".to_owned())
            )],
            "{page}"
        );
    }
}

/// The only script tag a page may carry: the copy button's, from a file of ours.
const COPY_SCRIPT_TAG: &str = "<script src=\"/static/copy.js\" defer></script>";

/// Whether the text holds `on[a-z]+=` after whitespace, the shape of an event-handler
/// attribute.
fn has_event_handler_text(html: &str) -> bool {
    let bytes = html.as_bytes();
    (1..bytes.len()).any(|start| {
        if !bytes[start - 1].is_ascii_whitespace() || !bytes[start..].starts_with(b"on") {
            return false;
        }
        let letters = bytes[start + 2..]
            .iter()
            .take_while(|byte| byte.is_ascii_lowercase())
            .count();
        letters > 0 && bytes.get(start + 2 + letters) == Some(&b'=')
    })
}

#[test]
fn event_handler_check_catches_handlers() {
    assert!(has_event_handler_text("<body onload=\"x\">"));
    assert!(!has_event_handler_text("<p>only=1 one =</p>"));
}

#[test]
fn every_page_is_accessible_in_structure() {
    for (page, html) in all_pages() {
        assert!(html.contains("<html lang=\"en\">"), "{page}");
        assert!(
            html.contains(
                "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            ),
            "{page}"
        );
        assert_eq!(html.matches("<h1>").count(), 1, "{page}");
        let tags = start_tags(&html);
        let label_targets: Vec<&str> = tags
            .iter()
            .filter(|tag| tag.name == "label")
            .filter_map(|tag| tag.attribute("for"))
            .collect();
        let controls = ["input", "select", "textarea"];
        for input in tags
            .iter()
            .filter(|tag| controls.contains(&tag.name.as_str()))
        {
            // A hidden field, or the password form's `hidden` username for password managers.
            if input.attribute("type") == Some("hidden") || input.attribute("hidden").is_some() {
                continue;
            }
            let id = input.attribute("id").expect("a visible control has an id");
            assert!(
                label_targets.contains(&id),
                "{page}: no <label for=\"{id}\">"
            );
        }
        let mut ids: Vec<&str> = tags.iter().filter_map(|tag| tag.attribute("id")).collect();
        ids.sort_unstable();
        let before = ids.len();
        ids.dedup();
        assert_eq!(ids.len(), before, "{page}: an id is used twice");
        for tag in &tags {
            for reference in ["for", "aria-labelledby", "aria-describedby"] {
                if let Some(target) = tag.attribute(reference) {
                    assert!(ids.contains(&target), "{page}: {tag:?} points nowhere");
                }
            }
        }
    }
}

#[test]
fn stylesheet_is_embedded_and_self_contained() {
    let css = std::str::from_utf8(Pages::stylesheet()).expect("the stylesheet is UTF-8");
    assert!(css.contains(":focus-visible"));
    // Under `default-src 'self'` anything fetched from the CSS must be ours; we fetch nothing.
    assert!(!css.contains("url("));
    assert!(!css.contains("@import"));
}

#[test]
fn pages_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Pages>();
}

#[test]
fn the_login_page_has_a_continue_button_per_upstream_carrying_csrf_and_return_to() {
    let mut view = login_view(None);
    view.upstreams = vec![
        UpstreamButtonView {
            name: "corp".into(),
            display_name: "Corp SSO".into(),
        },
        UpstreamButtonView {
            name: "discord".into(),
            display_name: "Discord".into(),
        },
    ];
    let html = pages().login(&view);
    for name in ["corp", "discord"] {
        let form = form_tags(&html, &format!("/upstream/{name}/start"));
        let hidden = |field: &str| {
            form.iter()
                .find(|tag| {
                    tag.attribute("type") == Some("hidden") && tag.attribute("name") == Some(field)
                })
                .and_then(|tag| tag.attribute("value"))
        };
        assert_eq!(hidden("csrf_token"), Some("csrf-login-123"));
        assert_eq!(
            hidden("return_to"),
            Some("&#x2f;oauth2&#x2f;authorize?client_id=abc&amp;state=xyz")
        );
    }
    assert!(html.contains("Continue with Corp SSO"));
    assert!(html.contains("Continue with Discord"));
    // The password form is still there, first.
    assert!(html.find("action=\"/login\"").unwrap() < html.find("/upstream/corp/start").unwrap());
    view.password_off = Some("Password sign-in is turned off here.".into());
    let html = pages().login(&view);
    assert!(!html.contains("action=\"/login\""));
    assert!(html.contains("Continue with Discord"));
}
