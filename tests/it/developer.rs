//! Issue 13: developers register their own apps on `/account/apps`. The page is driven by
//! the form-filling browser (and once by headless Chromium, `browser.rs`); the `oauth2`
//! crate then runs the code flow with what the page showed.

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, PkceCodeChallenge, RedirectUrl,
    Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;

use crate::forms::{decode_entities, input_value_by_id, Browser, Page};
use crate::support::{assert_same_files, DataDir, TestServer, USER_PASSWORD};

const REDIRECT: &str = "https://scores.example/callback";

/// A server with alice (a developer) and bob (who uses apps), under these `serve` flags.
fn world(flags: &[&str]) -> (DataDir, TestServer) {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    data.create_user("bob", USER_PASSWORD);
    let server = TestServer::start(&data, flags);
    (data, server)
}

/// A browser signed in as `username`, on the developer page.
fn developer(server: &TestServer, username: &str) -> (Browser, Page) {
    let browser = Browser::new();
    let login = browser.open(&server.url("/account/apps"));
    assert!(login.is_login(), "{}", login.describe());
    let signed_in = browser.sign_in(&login, username, USER_PASSWORD);
    assert_eq!(signed_in.status, 303, "{}", signed_in.describe());
    let page = browser.follow(signed_in);
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_eq!(
        page.url.path(),
        "/account/apps",
        "back where the user was going"
    );
    (browser, page)
}

/// Posts the new-app form on the developer page with `fill`; the raw answer.
fn register(browser: &Browser, page: &Page, fill: &[(&str, &str)]) -> Page {
    let form = page.require_form("/account/apps");
    browser.submit(page, &form, &form.filled(fill))
}

fn client_count(data: &DataDir) -> usize {
    data.run(&["client", "list", "--json"]).json()["clients"]
        .as_array()
        .expect("clients")
        .len()
}

#[test]
fn issue_13_an_app_made_on_the_developer_page_completes_a_code_flow_and_its_consent_tells_who_asks()
{
    let (data, server) = world(&["--developer-apps", "everyone"]);
    let (browser, page) = developer(&server, "alice");
    // The account page links here.
    let account = browser.open(&server.url("/account"));
    assert!(
        account.body.contains("href=\"/account/apps\""),
        "{}",
        account.describe()
    );

    let made = register(
        &browser,
        &page,
        &[
            ("name", "Score Tracker"),
            (
                "redirect_uris",
                &format!("{REDIRECT}\nhttp://127.0.0.1:8080/cb"),
            ),
            ("scope", "openid profile"),
            ("homepage", "https://scores.example/"),
            ("privacy_policy", "https://scores.example/privacy"),
            ("type", "confidential"),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.describe());
    let shown = browser.follow(made);
    assert_eq!(shown.status, 200, "{}", shown.describe());
    let client_id = input_value_by_id(&shown.body, "client-id").expect("#client-id");
    let secret = input_value_by_id(&shown.body, "client-secret").expect("#client-secret");
    assert_eq!(client_id.len(), 32, "{client_id}");
    assert!(secret.len() >= 40, "{secret}");
    // Shown once: the same page again has the id, never the secret.
    let again = browser.open(shown.url.as_str());
    assert_eq!(
        input_value_by_id(&again.body, "client-id"),
        Some(client_id.clone())
    );
    assert!(
        input_value_by_id(&again.body, "client-secret").is_none(),
        "the secret again"
    );
    assert!(!again.body.contains(&secret));
    // The list names it, and the operator sees whose it is.
    let list = browser.open(&server.url("/account/apps"));
    assert!(list.body.contains(&client_id) && list.body.contains("Score Tracker"));
    let listed = data.run(&["client", "show", &client_id, "--json"]).json();
    assert_eq!(listed["owner"], "alice", "{listed}");
    assert_eq!(
        listed["grant_types"],
        serde_json::json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(listed["homepage"], "https://scores.example/");

    // Bob uses it, through the oauth2 crate.
    let client = BasicClient::new(ClientId::new(client_id.clone()))
        .set_client_secret(ClientSecret::new(secret.clone()))
        .set_auth_uri(AuthUrl::new(server.url("/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap());
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let bob = Browser::new();
    let consent = bob.authorize(url.as_str(), "bob", USER_PASSWORD);
    assert!(consent.is_consent(), "{}", consent.describe());
    let text = decode_entities(&consent.body);
    for shown in [
        "Score Tracker",
        "by alice",
        "scores.example",
        "Not reviewed by",
        "https://scores.example",
        "/account#apps",
    ] {
        assert!(
            text.contains(shown),
            "the consent page lacks {shown:?}: {text}"
        );
    }
    let answer = bob.decide(&consent, "allow");
    let callback = answer.callback(REDIRECT);
    assert_eq!(callback.get("state"), Some(state.secret().as_str()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let tokens = runtime
        .block_on(
            client
                .exchange_code(AuthorizationCode::new(callback.code().to_owned()))
                .set_pkce_verifier(verifier)
                .request_async(&http),
        )
        .expect("tokens for the developer's app");
    assert!(tokens.refresh_token().is_some());
    let users = browser.open(&server.url("/account/apps"));
    assert!(
        users.body.contains("<dt>Users</dt><dd>1</dd>"),
        "{}",
        users.describe()
    );

    // The operator reviews it: the notice goes, the rest stays.
    data.run(&["client", "verify", &client_id]).ok();
    let (url, _) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_extra_param("prompt", "consent")
        .url();
    let consent = Browser::new().authorize(url.as_str(), "bob", USER_PASSWORD);
    let text = decode_entities(&consent.body);
    assert!(consent.is_consent(), "{}", consent.describe());
    assert!(!text.contains("Not reviewed"), "{text}");
    assert!(text.contains("by alice"), "{text}");
    // And the operator's own apps are "by" the product.
    let own = crate::support::register_client(&data, "Platform App", &[REDIRECT], &[]);
    let url = crate::support::authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &own.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s"),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ],
    );
    let consent = Browser::new().authorize(&url, "bob", USER_PASSWORD);
    let text = decode_entities(&consent.body);
    assert!(text.contains("by keyward"), "{text}");
    assert!(!text.contains("Not reviewed"), "{text}");
}

#[test]
fn issue_13_developers_edit_rotate_with_a_grace_and_delete_their_own_apps_only() {
    let (data, server) = world(&["--developer-apps", "everyone"]);
    let (browser, page) = developer(&server, "alice");
    let made = register(
        &browser,
        &page,
        &[
            ("name", "Bot"),
            ("redirect_uris", REDIRECT),
            ("type", "confidential"),
        ],
    );
    let shown = browser.follow(made);
    let client_id = input_value_by_id(&shown.body, "client-id").expect("#client-id");
    let first_secret = input_value_by_id(&shown.body, "client-secret").expect("#client-secret");
    let app_url = server.url(&format!("/account/apps/{client_id}"));

    // Edit: a second redirect URI and a homepage; the next authorization may use it.
    let page = browser.open(&app_url);
    let form = page.require_form(&format!("/account/apps/{client_id}"));
    let saved = browser.submit(
        &page,
        &form,
        &form.filled(&[
            ("name", "Bot 2"),
            (
                "redirect_uris",
                &format!("{REDIRECT}\nhttps://bot.example/cb"),
            ),
            ("scope", "openid email"),
            ("homepage", "https://bot.example/"),
        ]),
    );
    assert_eq!(saved.status, 303, "{}", saved.describe());
    let shown = data.run(&["client", "show", &client_id, "--json"]).json();
    assert_eq!(shown["name"], "Bot 2");
    assert_eq!(
        shown["redirect_uris"],
        serde_json::json!([REDIRECT, "https://bot.example/cb"])
    );
    assert_eq!(shown["scope"], "email openid");

    // Rotate with a day's grace: both secrets authenticate, and the page says until when.
    let page = browser.open(&app_url);
    let form = page.require_form(&format!("/account/apps/{client_id}/secret"));
    let rotated = browser.follow(browser.submit(&page, &form, &form.filled(&[("grace", "1d")])));
    let second_secret = input_value_by_id(&rotated.body, "client-secret").expect("a new secret");
    assert_ne!(second_secret, first_secret);
    assert!(decode_entities(&rotated.body).contains("previous secret keeps working until"));
    for secret in [&first_secret, &second_secret] {
        let state = crate::support::introspection(
            &server,
            crate::support::ClientAuth::Basic(&client_id, secret),
            "not-a-token",
        );
        assert_eq!(state["active"], false);
    }
    // Rotate again at once: the first secret stops (only the one before the last rotation
    // is kept), the second keeps its grace.
    let page = browser.open(&app_url);
    let form = page.require_form(&format!("/account/apps/{client_id}/secret"));
    let rotated = browser.follow(browser.submit(&page, &form, &form.filled(&[("grace", "0")])));
    let third_secret = input_value_by_id(&rotated.body, "client-secret").expect("a new secret");
    let status = |secret: &str| {
        crate::support::introspect(
            &server,
            Some(crate::support::ClientAuth::Basic(&client_id, secret)),
            "not-a-token",
        )
        .status
    };
    assert_eq!(status(&first_secret), 401);
    assert_eq!(
        status(&second_secret),
        401,
        "a rotation without grace ends the old secret"
    );
    assert_eq!(status(&third_secret), 200);

    // Bob cannot see, change, rotate or delete alice's app: each is a 404, nothing changes.
    let (bob, bob_page) = developer(&server, "bob");
    let before = data.run(&["client", "show", &client_id, "--json"]).json();
    assert_eq!(bob.get(&app_url).status, 404);
    let csrf = bob_page
        .require_form("/account/apps")
        .require("csrf_token")
        .to_owned();
    for (path, fields) in [
        (
            format!("/account/apps/{client_id}"),
            vec![("name", "Stolen"), ("redirect_uris", REDIRECT)],
        ),
        (
            format!("/account/apps/{client_id}/secret"),
            vec![("grace", "0")],
        ),
        (
            format!("/account/apps/{client_id}/delete"),
            vec![("confirm", "yes")],
        ),
    ] {
        let mut fields = fields;
        fields.push(("csrf_token", &csrf));
        let answer = bob.post_form(&server.url(&path), &fields);
        assert_eq!(answer.status, 404, "{path}: {}", answer.describe());
    }
    assert_eq!(
        data.run(&["client", "show", &client_id, "--json"]).json(),
        before
    );
    assert_eq!(status(&third_secret), 200);

    // A grace that is no duration, or longer than 30 days, or repeated: the page says so,
    // and no secret changes.
    let page = browser.open(&app_url);
    let form = page.require_form(&format!("/account/apps/{client_id}/secret"));
    for grace in ["soon", "31d", "-1h", &"9".repeat(300)] {
        let answer = browser.submit(&page, &form, &form.filled(&[("grace", grace)]));
        assert_eq!(answer.status, 400, "{grace:?}: {}", answer.describe());
        assert!(input_value_by_id(&answer.body, "client-secret").is_none());
    }
    let mut repeated = form.filled(&[("grace", "1h")]);
    repeated.push(("grace".into(), "1d".into()));
    assert_eq!(browser.submit(&page, &form, &repeated).status, 400);
    assert_eq!(status(&third_secret), 200, "the secret stands");

    // Alice deletes it: without the confirmation box nothing happens; with it, its tokens end.
    let page = browser.open(&app_url);
    let form = page.require_form(&format!("/account/apps/{client_id}/delete"));
    let unconfirmed: Vec<(String, String)> = form
        .filled(&[])
        .into_iter()
        .filter(|(name, _)| name != "confirm")
        .collect();
    let answer = browser.submit(&page, &form, &unconfirmed);
    assert_eq!(answer.status, 400, "{}", answer.describe());
    assert_eq!(client_count(&data), 1);
    let answer = browser.submit(&page, &form, &form.filled(&[("confirm", "yes")]));
    assert_eq!(answer.status, 303, "{}", answer.describe());
    assert_eq!(client_count(&data), 0);
    assert_eq!(status(&third_secret), 401);
    // Deleting alice deletes the apps she made.
    let page = browser.open(&server.url("/account/apps"));
    let made = register(
        &browser,
        &page,
        &[("name", "Other"), ("redirect_uris", REDIRECT)],
    );
    assert_eq!(made.status, 303, "{}", made.describe());
    assert_eq!(client_count(&data), 1);
    data.run(&["user", "delete", "alice"]).ok();
    assert_eq!(client_count(&data), 0);
}

#[test]
fn issue_13_who_may_register_apps_follows_serve_developer_apps_and_user_set_developer() {
    // Off, the default: no form, and a posted one stores nothing.
    let (data, server) = world(&[]);
    let (browser, page) = developer(&server, "alice");
    assert!(page.form("/account/apps").is_none(), "{}", page.describe());
    assert!(page.body.contains("not open"), "{}", page.describe());
    let account = browser.open(&server.url("/account"));
    assert!(!account.body.contains("href=\"/account/apps\""));
    let csrf = browser
        .open(&server.url("/account"))
        .require_form("/account/password")
        .require("csrf_token")
        .to_owned();
    let before = data.snapshot();
    let answer = browser.post_form(
        &server.url("/account/apps"),
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "X"),
            ("redirect_uris", REDIRECT),
        ],
    );
    assert_eq!(answer.status, 403, "{}", answer.describe());
    drop(server);
    assert_same_files(&before, &data.snapshot(), "a refused registration");

    // Allowed: only users the operator allows.
    let server = TestServer::start(&data, &["--developer-apps", "allowed"]);
    let (_, page) = developer(&server, "alice");
    assert!(page.form("/account/apps").is_none(), "not yet allowed");
    let set = data
        .run(&["user", "set", "alice", "--developer", "true", "--json"])
        .json();
    assert_eq!(set["developer"], true, "{set}");
    let (browser, page) = developer(&server, "alice");
    let made = register(
        &browser,
        &page,
        &[
            ("name", "Allowed"),
            ("redirect_uris", REDIRECT),
            ("type", "public"),
        ],
    );
    assert_eq!(made.status, 303, "{}", made.describe());
    // A public app has no secret to show.
    let shown = browser.follow(made);
    assert!(input_value_by_id(&shown.body, "client-id").is_some());
    assert!(input_value_by_id(&shown.body, "client-secret").is_none());
    let listed = data.run(&["client", "list", "--json"]).json();
    assert_eq!(listed["clients"][0]["public"], true, "{listed}");
    let (_, page) = developer(&server, "bob");
    assert!(page.form("/account/apps").is_none(), "bob is not allowed");
    data.run(&["user", "set", "alice", "--developer", "false"])
        .ok();
    // Her app stays hers to look after; she may not make another.
    let (_, page) = developer(&server, "alice");
    assert!(page.form("/account/apps").is_none());
    assert!(page.body.contains("Allowed"));
    let refused = data.run(&["user", "set", "alice"]);
    assert!(!refused.status.success());
    assert!(refused.stderr.contains("--developer"), "{}", refused.stderr);
}

#[test]
fn issue_13_bad_developer_forms_are_clear_errors_that_store_nothing() {
    let (data, server) = world(&["--developer-apps", "everyone", "--developer-app-limit", "2"]);
    data.run(&[
        "scope",
        "set",
        "scores:read",
        "--description",
        "See your scores",
        "--self-service",
    ])
    .ok();
    data.run(&["scope", "set", "admin", "--description", "Run the site"])
        .ok();
    let (browser, page) = developer(&server, "alice");
    let long_name = "n".repeat(5000);
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![("name", ""), ("redirect_uris", REDIRECT)], "name"),
        (
            vec![("name", &long_name), ("redirect_uris", REDIRECT)],
            "name",
        ),
        (vec![("name", "A"), ("redirect_uris", "")], "redirect"),
        (
            vec![("name", "A"), ("redirect_uris", "http://evil.example/cb")],
            "http",
        ),
        (
            vec![("name", "A"), ("redirect_uris", "https://a.example/*")],
            "wildcard",
        ),
        (
            vec![
                ("name", "A"),
                ("redirect_uris", REDIRECT),
                ("scope", "openid admin"),
            ],
            "admin",
        ),
        (
            vec![
                ("name", "A"),
                ("redirect_uris", REDIRECT),
                ("homepage", "javascript:alert(1)"),
            ],
            "homepage",
        ),
        (
            vec![
                ("name", "A"),
                ("redirect_uris", REDIRECT),
                ("privacy_policy", "not a url"),
            ],
            "privacy",
        ),
    ];
    for (fill, needle) in &cases {
        let before = data.snapshot();
        let answer = register(&browser, &page, fill);
        assert_eq!(answer.status, 400, "{fill:?}: {}", answer.describe());
        let text = decode_entities(&answer.body);
        assert!(
            text.to_lowercase().contains(needle),
            "{fill:?}: the error names {needle}: {text}"
        );
        // What was typed is still in the form.
        if let Some((_, name)) = fill.iter().find(|(field, _)| *field == "name") {
            if !name.is_empty() && name.len() < 100 {
                assert!(
                    answer.body.contains(&format!("value=\"{name}\"")),
                    "{fill:?}"
                );
            }
        }
        assert_same_files(&before, &data.snapshot(), &format!("{fill:?}"));
    }
    // A repeated field and a missing CSRF token.
    let form = page.require_form("/account/apps");
    let mut repeated = form.filled(&[("name", "A"), ("redirect_uris", REDIRECT)]);
    repeated.push(("name".into(), "B".into()));
    let answer = browser.submit(&page, &form, &repeated);
    assert_eq!(answer.status, 400, "{}", answer.describe());
    let forged: Vec<(String, String)> = form
        .filled(&[("name", "A"), ("redirect_uris", REDIRECT)])
        .into_iter()
        .filter(|(name, _)| name != "csrf_token")
        .collect();
    assert_eq!(browser.submit(&page, &form, &forged).status, 403);
    assert_eq!(client_count(&data), 0);

    // A self-service scope is fine; the limit holds at two apps.
    for name in ["One", "Two"] {
        let made = register(
            &browser,
            &page,
            &[
                ("name", name),
                ("redirect_uris", REDIRECT),
                ("scope", "openid scores:read"),
            ],
        );
        assert_eq!(made.status, 303, "{}", made.describe());
    }
    let page = browser.open(&server.url("/account/apps"));
    assert!(
        page.form("/account/apps").is_none(),
        "at the limit, no form"
    );
    let csrf = browser
        .open(&server.url("/account"))
        .require_form("/account/password")
        .require("csrf_token")
        .to_owned();
    let answer = browser.post_form(
        &server.url("/account/apps"),
        &[
            ("csrf_token", csrf.as_str()),
            ("name", "Three"),
            ("redirect_uris", REDIRECT),
        ],
    );
    assert_eq!(answer.status, 409, "{}", answer.describe());
    assert_eq!(client_count(&data), 2);
    let shown: Value = data.run(&["client", "list", "--json"]).json();
    for client in shown["clients"].as_array().unwrap() {
        assert_eq!(client["public"], false);
        assert_eq!(client["scope"], "openid scores:read");
    }
}
