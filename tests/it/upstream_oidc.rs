//! Issue 12, items 2 and 3, with a second keyward as the upstream OpenID provider (a real
//! server on another loopback port, not a mock): "Continue with Corp" on the sign-in page,
//! the authorization request keyward makes (state, PKCE, nonce, the per-upstream callback),
//! `--create-users`, refusal of an unknown identity, linking from `/account`, accounts keyed
//! by (upstream, subject) and never by e-mail, and the checks that fail closed: a
//! discovery document naming another issuer, a tampered `iss` in the response, a missing or
//! wrong nonce in the ID token. Both servers share the host 127.0.0.1, so they overwrite
//! each other's cookies mid-flow (cookies ignore ports), as the issue describes.

use base64::Engine;

use crate::browser::{callback_listener, next_callback, WebDriver};
use crate::forms::{Browser, Page};
use crate::support::{
    code_request, pkce_pair, register_client, token, userinfo, App, DataDir, TestServer,
    USER_PASSWORD,
};

/// keyward (`server`) with `corp`, another keyward (`upstream`), as an upstream.
struct Pair {
    upstream_data: DataDir,
    upstream: TestServer,
    data: DataDir,
    server: TestServer,
    /// A relying party of `server`.
    app: App,
}

impl Pair {
    fn start(create_users: bool) -> Pair {
        Pair::start_with(create_users, &[])
    }

    /// `serve_flags` are keyward's (not the upstream's).
    fn start_with(create_users: bool, serve_flags: &[&str]) -> Pair {
        let upstream_data = DataDir::new();
        upstream_data
            .run_with_stdin(
                &[
                    "user",
                    "create",
                    "--username",
                    "alice",
                    "--email",
                    "alice@corp.example",
                    "--email-verified",
                    "--name",
                    "Alice Liddell",
                    "--password-stdin",
                ],
                &format!("{USER_PASSWORD}\n"),
            )
            .ok();
        let upstream = TestServer::start(&upstream_data, &[]);
        let data = DataDir::new();
        let app = register_client(&data, "Score Tracker", &["https://app.example/cb"], &[]);
        let server = TestServer::start(&data, serve_flags);
        let pair = Pair {
            upstream_data,
            upstream,
            data,
            server,
            app,
        };
        pair.add_upstream("corp", &pair.upstream.base_url.clone(), create_users);
        pair
    }

    /// Registers keyward at the upstream for `name`'s callback, and the upstream at keyward.
    fn add_upstream(&self, name: &str, issuer: &str, create_users: bool) {
        let callback = self.server.url(&format!("/upstream/{name}/callback"));
        let at_upstream = register_client(
            &self.upstream_data,
            "keyward",
            &[&callback],
            &["--scope", "openid profile email"],
        );
        let mut args = vec![
            "upstream",
            "add",
            name,
            "--kind",
            "oidc",
            "--issuer",
            issuer,
            "--client-id",
            &at_upstream.client_id,
            "--client-secret-stdin",
            "--display-name",
            "Corp",
        ];
        if create_users {
            args.push("--create-users");
        }
        self.data
            .run_with_stdin(&args, &format!("{}\n", at_upstream.secret()))
            .ok();
        let shown = self.data.run(&["upstream", "show", name]).ok();
        assert!(shown.stdout.contains(&callback), "{}", shown.stdout);
    }

    /// Follows redirects on either server, as a browser does; stops at any other page.
    fn travel(&self, browser: &Browser, page: Page) -> Page {
        travel(
            browser,
            page,
            &[&self.server.base_url, &self.upstream.base_url],
        )
    }

    /// Presses "Continue with Corp" on a sign-in page: keyward's answer (303 to Corp).
    #[track_caller]
    fn continue_with_corp(&self, browser: &Browser, login: &Page) -> Page {
        assert!(login.body.contains("Continue with Corp"), "{}", login.body);
        let form = login.require_form("/upstream/corp/start");
        let started = browser.submit(login, &form, &form.filled(&[]));
        assert_eq!(started.status, 303, "{}", started.describe());
        started
    }

    /// From keyward's 303 to Corp: signs in at Corp as alice (unless this browser is signed
    /// in there), approves keyward there (unless alice did before), and returns keyward's
    /// answer at its callback, not followed.
    #[track_caller]
    fn approve_at_corp(&self, browser: &Browser, started: Page) -> Page {
        let corp = [self.upstream.base_url.as_str()];
        let mut page = travel(browser, started, &corp);
        if page.is_login() {
            let signed_in = browser.sign_in(&page, "alice", USER_PASSWORD);
            assert_eq!(signed_in.status, 303, "{}", signed_in.describe());
            page = travel(browser, signed_in, &corp);
        }
        if page.is_consent() {
            page = browser.decide(&page, "allow");
        }
        // Corp's 303 to keyward's callback, fetched as the browser would.
        let location = page
            .location()
            .unwrap_or_else(|| panic!("Corp sends the browser back: {}", page.describe()));
        assert!(
            location
                .as_str()
                .starts_with(&self.server.url("/upstream/corp/callback?")),
            "{location}"
        );
        browser.get(location.as_str())
    }

    /// The whole sign-in from the sign-in page to keyward's answer at its callback.
    fn sign_in_through_corp(&self, browser: &Browser, login: &Page) -> Page {
        let started = self.continue_with_corp(browser, login);
        self.approve_at_corp(browser, started)
    }

    /// The upstream's URL by another name of the same host: its discovery document says
    /// 127.0.0.1, so as an issuer this one is not it.
    fn upstream_as_localhost(&self) -> String {
        let port = self.upstream.base_url.rsplit(':').next().expect("a port");
        format!("http://localhost:{port}")
    }

    fn users(&self) -> Vec<serde_json::Value> {
        self.data.run(&["user", "list", "--json"]).json()["users"]
            .as_array()
            .expect("users")
            .clone()
    }

    fn user(&self, name: &str) -> serde_json::Value {
        self.data.run(&["user", "show", name, "--json"]).json()
    }
}

/// Follows redirects while they stay on one of `bases`.
fn travel(browser: &Browser, mut page: Page, bases: &[&str]) -> Page {
    for _ in 0..20 {
        if !page.is_redirect() {
            return page;
        }
        let Some(next) = page.location() else {
            return page;
        };
        if !bases.iter().any(|base| next.as_str().starts_with(base)) {
            return page;
        }
        page = browser.get(next.as_str());
    }
    panic!("too many redirects: {}", page.describe());
}

fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).expect("a JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url");
    serde_json::from_slice(&bytes).expect("JSON claims")
}

#[test]
fn issue_12_a_first_sign_in_through_an_oidc_upstream_creates_the_user_and_continues_to_a_code() {
    let pair = Pair::start(true);
    let browser = Browser::new();
    let (verifier, challenge) = pkce_pair();
    let url = code_request(
        &pair.server,
        &pair.app,
        "openid profile email",
        "st-1",
        Some(&challenge),
    );
    let login = browser.open(&url);
    let started = pair.continue_with_corp(&browser, &login);

    // The authorization request keyward makes at Corp.
    let request = started.location().expect("a redirect to Corp");
    assert!(
        request
            .as_str()
            .starts_with(&format!("{}/oauth2/authorize?", pair.upstream.base_url)),
        "{request}"
    );
    assert_eq!(query(&request, "response_type").as_deref(), Some("code"));
    assert_eq!(
        query(&request, "redirect_uri"),
        Some(pair.server.url("/upstream/corp/callback"))
    );
    let mut scope: Vec<String> = query(&request, "scope")
        .expect("a scope")
        .split(' ')
        .map(str::to_owned)
        .collect();
    scope.sort();
    assert_eq!(scope, ["email", "openid", "profile"]);
    assert_eq!(
        query(&request, "code_challenge_method").as_deref(),
        Some("S256")
    );
    for name in ["state", "nonce", "code_challenge"] {
        assert!(
            query(&request, name).is_some_and(|value| value.len() >= 43),
            "{name} in {request}"
        );
    }
    let flow_cookie = started
        .set_cookies()
        .into_iter()
        .find(|cookie| cookie.starts_with("keyward_upstream_flow="))
        .expect("the flow has its own cookie");
    for attribute in ["HttpOnly", "Path=/upstream/corp", "SameSite=Lax"] {
        assert!(flow_cookie.contains(attribute), "{flow_cookie}");
    }

    let answer = pair.approve_at_corp(&browser, started);
    assert_eq!(answer.status, 303, "{}", answer.describe());
    let location = answer.header("location").unwrap().to_owned();
    assert!(location.starts_with("/oauth2/authorize?"), "{location}");
    let consent = pair.travel(&browser, answer);
    assert!(consent.is_consent(), "{}", consent.describe());
    assert!(consent.body.contains("Score Tracker"));
    let callback = browser
        .decide(&consent, "allow")
        .callback(&pair.app.redirect_uri);
    assert_eq!(callback.get("state"), Some("st-1"));
    let tokens = token(
        &pair.server,
        pair.app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", callback.code()),
            ("redirect_uri", &pair.app.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .ok();

    // One user, made from Corp's profile: the username, the name, the verified e-mail.
    let users = pair.users();
    assert_eq!(users.len(), 1, "{users:?}");
    let alice = pair.user("alice");
    assert_eq!(alice["email"], "alice@corp.example");
    assert_eq!(alice["email_verified"], true);
    assert_eq!(alice["name"], "Alice Liddell");
    let identities = alice["identities"].as_array().expect("identities");
    assert_eq!(identities.len(), 1, "{alice}");
    assert_eq!(identities[0]["upstream"], "corp");
    let id_token = claims(tokens["id_token"].as_str().expect("an ID token"));
    assert_eq!(id_token["sub"], alice["user_id"]);
    let claims = userinfo(&pair.server, tokens["access_token"].as_str().unwrap()).json();
    assert_eq!(claims["email"], "alice@corp.example", "{claims}");
    assert_eq!(claims["email_verified"], true, "{claims}");

    // Signing in again, from another browser, lands in the same account.
    let other = Browser::new();
    let login = other.get(&pair.server.url("/login"));
    let answer = pair.sign_in_through_corp(&other, &login);
    assert_eq!(answer.status, 303, "{}", answer.describe());
    assert_eq!(answer.header("location"), Some("/account"));
    let account = other.get(&pair.server.url("/account"));
    assert_eq!(account.status, 200, "{}", account.describe());
    assert!(account.body.contains("alice"), "{}", account.body);
    assert!(account.body.contains("Linked since"), "{}", account.body);
    assert_eq!(pair.users().len(), 1);
}

#[test]
fn issue_12_an_unknown_identity_is_refused_an_email_never_links_and_a_link_from_the_account_page_does(
) {
    let pair = Pair::start(false);
    // bob has the very address Corp vouches for alice with, verified.
    pair.data
        .run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                "bob",
                "--email",
                "alice@corp.example",
                "--email-verified",
                "--password-stdin",
            ],
            &format!("{USER_PASSWORD}\n"),
        )
        .ok();

    let browser = Browser::new();
    let login = browser.get(&pair.server.url("/login"));
    let refused = pair.sign_in_through_corp(&browser, &login);
    assert_eq!(refused.status, 403, "{}", refused.describe());
    assert!(refused.body.contains("not known here"), "{}", refused.body);
    assert!(
        refused.body.contains("Nothing was created"),
        "{}",
        refused.body
    );
    let account = browser.get(&pair.server.url("/account"));
    assert_eq!(account.status, 303, "not signed in: {}", account.describe());
    assert_eq!(pair.users().len(), 1);
    assert_eq!(pair.user("bob")["identities"], serde_json::json!([]));

    // bob links Corp (as alice there) from his account page.
    let browser = Browser::new();
    let login = browser.get(&pair.server.url("/login"));
    assert_eq!(browser.sign_in(&login, "bob", USER_PASSWORD).status, 303);
    let account = browser.get(&pair.server.url("/account"));
    assert!(account.body.contains("Ways to sign in"), "{}", account.body);
    let form = account.require_form("/upstream/corp/start");
    assert_eq!(form.value("intent"), Some("link"));
    let started = browser.submit(&account, &form, &form.filled(&[]));
    assert_eq!(started.status, 303, "{}", started.describe());
    let linked = pair.approve_at_corp(&browser, started);
    assert_eq!(linked.status, 303, "{}", linked.describe());
    assert_eq!(
        linked.header("location"),
        Some("/account?notice=identity-linked")
    );
    let bob = pair.user("bob");
    assert_eq!(bob["identities"][0]["upstream"], "corp", "{bob}");

    // Now Corp's alice signs in to bob's account, from a fresh browser.
    let other = Browser::new();
    let login = other.get(&pair.server.url("/login"));
    let answer = pair.sign_in_through_corp(&other, &login);
    assert_eq!(answer.status, 303, "{}", answer.describe());
    let page = other.get(&pair.server.url("/account"));
    assert!(page.body.contains("<strong>bob</strong>"), "{}", page.body);
    assert_eq!(pair.users().len(), 1);

    // The account page unlinks it; bob still has his password, so it may go.
    let form = page.require_form("/account/identities/unlink");
    let unlinked = other.submit(&page, &form, &form.filled(&[]));
    assert_eq!(unlinked.status, 303, "{}", unlinked.describe());
    assert!(unlinked
        .header("location")
        .is_some_and(|location| location.starts_with("/account?notice=identity-unlinked")));
    assert_eq!(pair.user("bob")["identities"], serde_json::json!([]));
}

#[test]
fn issue_12_a_discovery_document_naming_another_issuer_fails_closed() {
    let pair = Pair::start(true);
    pair.add_upstream("corp2", &pair.upstream_as_localhost(), true);
    let browser = Browser::new();
    let login = browser.get(&pair.server.url("/login"));
    let form = login.require_form("/upstream/corp2/start");
    let answer = browser.submit(&login, &form, &form.filled(&[]));
    assert_eq!(answer.status, 502, "{}", answer.describe());
    assert!(
        answer.body.contains("did not pass a security check"),
        "{}",
        answer.body
    );
    assert!(answer.body.contains("names the issuer"), "{}", answer.body);
    assert!(pair.users().is_empty());
    assert_eq!(pair.server.healthz(), 200);
}

#[test]
fn issue_12_a_tampered_iss_and_a_missing_or_wrong_nonce_fail_closed() {
    let pair = Pair::start(true);

    // An `iss` in the authorization response that is not Corp's (RFC 9207).
    let browser = Browser::new();
    let login = browser.get(&pair.server.url("/login"));
    let started = pair.continue_with_corp(&browser, &login);
    let corp = [pair.upstream.base_url.as_str()];
    let page = travel(&browser, started, &corp);
    let signed_in = browser.sign_in(&page, "alice", USER_PASSWORD);
    let consent = travel(&browser, signed_in, &corp);
    let back = browser.decide(&consent, "allow");
    let mut callback = back.location().expect("back to keyward");
    let pairs: Vec<(String, String)> = callback
        .query_pairs()
        .map(|(key, value)| {
            let value = if key == "iss" {
                "https://evil.example".to_owned()
            } else {
                value.into_owned()
            };
            (key.into_owned(), value)
        })
        .collect();
    assert!(pairs.iter().any(|(key, _)| key == "iss"), "{callback}");
    callback.query_pairs_mut().clear().extend_pairs(pairs);
    // Repeated, the forged `iss` is no less refused (RFC 6749 §3.1: no parameter twice).
    let mut doubled = callback.clone();
    doubled
        .query_pairs_mut()
        .append_pair("iss", "https://evil.example");
    let answer = browser.get(doubled.as_str());
    assert_eq!(answer.status, 400, "{}", answer.describe());
    assert!(
        answer.body.contains("repeats a parameter"),
        "{}",
        answer.body
    );
    let answer = browser.get(callback.as_str());
    assert_eq!(answer.status, 400, "{}", answer.describe());
    assert!(
        answer.body.contains("did not come from Corp"),
        "{}",
        answer.body
    );
    assert!(pair.users().is_empty());

    // The nonce keyward sent, changed or removed on the way to Corp: Corp's ID token then
    // carries another nonce, or none.
    for tamper in [Some("another-nonce-of-the-attackers-choosing"), None] {
        let browser = Browser::new();
        let login = browser.get(&pair.server.url("/login"));
        let started = pair.continue_with_corp(&browser, &login);
        let mut request = started.location().expect("to Corp");
        let pairs: Vec<(String, String)> = request
            .query_pairs()
            .filter(|(key, _)| key != "nonce" || tamper.is_some())
            .map(|(key, value)| {
                let value = match (key.as_ref(), tamper) {
                    ("nonce", Some(other)) => other.to_owned(),
                    _ => value.into_owned(),
                };
                (key.into_owned(), value)
            })
            .collect();
        request.query_pairs_mut().clear().extend_pairs(pairs);
        let tampered = Page {
            headers: {
                let mut headers = started.headers.clone();
                headers.insert(
                    "location",
                    request.as_str().parse().expect("a header value"),
                );
                headers
            },
            ..started
        };
        let answer = pair.approve_at_corp(&browser, tampered);
        assert_eq!(answer.status, 502, "{tamper:?}: {}", answer.describe());
        assert!(answer.body.contains("nonce"), "{}", answer.body);
        assert!(pair.users().is_empty(), "{tamper:?}");
    }
    assert_eq!(pair.server.healthz(), 200);
}

#[test]
fn issue_12_headless_chromium_signs_in_through_the_upstream_and_approves_an_app() {
    let Some(driver) = WebDriver::start() else {
        return;
    };
    let pair = Pair::start(true);
    let (port, requests) = callback_listener();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let app = register_client(
        &pair.data,
        "Chromium App",
        &[&redirect_uri],
        &["--scope", "openid profile"],
    );
    let (_, challenge) = pkce_pair();
    let url = code_request(
        &pair.server,
        &app,
        "openid profile",
        "chromium-upstream",
        Some(&challenge),
    );
    driver.navigate(&url);
    driver.click("form[action='/upstream/corp/start'] button");
    // Corp's sign-in page (keyward's own has a username field too: wait until it is gone),
    // then Corp's consent page for keyward.
    driver.wait_for_text(r#"<span class="app-name">keyward</span>"#);
    driver.type_into("input[name=username]", "alice");
    driver.type_into("input[name=password]", &format!("{USER_PASSWORD}\u{E007}"));
    driver.click("button[name=decision][value=allow]");
    // Back at keyward, signed in as the new user: its consent page for the app.
    driver.wait_for_text("Chromium App");
    driver.click("button[name=decision][value=allow]");
    let callback = next_callback(&requests, port, &redirect_uri, || driver.current_url());
    callback.code();
    assert_eq!(callback.get("state"), Some("chromium-upstream"));
    assert_eq!(pair.users().len(), 1);
}

#[test]
fn issue_12_an_upstream_with_linked_identities_cannot_be_moved_to_another_issuer() {
    let pair = Pair::start(true);
    let browser = Browser::new();
    let login = browser.get(&pair.server.url("/login"));
    assert_eq!(pair.sign_in_through_corp(&browser, &login).status, 303);
    assert_eq!(pair.users().len(), 1);
    let moved = pair.data.run(&[
        "upstream",
        "set",
        "corp",
        "--issuer",
        &pair.upstream_as_localhost(),
    ]);
    assert!(!moved.status.success(), "{}", moved.stdout);
    assert!(
        moved.stderr.contains("1 linked identity"),
        "{}",
        moved.stderr
    );
    assert!(
        moved.stderr.contains("nothing was changed"),
        "{}",
        moved.stderr
    );
    let shown = pair
        .data
        .run(&["upstream", "show", "corp", "--json"])
        .json();
    assert_eq!(shown["issuer"], pair.upstream.base_url.as_str(), "{shown}");
    assert_eq!(pair.user("alice")["identities"][0]["upstream"], "corp");
    // What does not move its subjects still changes.
    pair.data
        .run(&["upstream", "set", "corp", "--display-name", "Corp SSO"])
        .ok();
    let login = Browser::new().get(&pair.server.url("/login"));
    assert!(
        login.body.contains("Continue with Corp SSO"),
        "{}",
        login.body
    );
}

#[test]
fn issue_12_with_password_sign_in_off_the_upstream_is_the_way_in_and_stays_linked() {
    let pair = Pair::start_with(true, &["--password-login", "off"]);
    let browser = Browser::new();
    let login = browser.get(&pair.server.url("/login"));
    assert!(login.form("/login").is_none(), "{}", login.body);
    assert!(
        login.body.contains("Password sign-in is turned off here"),
        "{}",
        login.body
    );
    assert_eq!(pair.sign_in_through_corp(&browser, &login).status, 303);
    // The operator gives alice a password, which this server does not take: it is no way
    // in, so her one identity must stay. (`user set-password` signs her out everywhere.)
    pair.data
        .run_with_stdin(
            &["user", "set-password", "alice", "--password-stdin"],
            &format!("{USER_PASSWORD}\n"),
        )
        .ok();
    let login = browser.get(&pair.server.url("/login"));
    assert_eq!(pair.sign_in_through_corp(&browser, &login).status, 303);
    let account = browser.get(&pair.server.url("/account"));
    assert_eq!(account.status, 200, "{}", account.describe());
    assert!(
        account.form("/account/password").is_none(),
        "{}",
        account.body
    );
    assert!(
        account
            .body
            .contains("You sign in here through a linked account, not with a password."),
        "{}",
        account.body
    );
    let form = account.require_form("/account/identities/unlink");
    let unlinked = browser.submit(&account, &form, &form.filled(&[]));
    assert_eq!(
        unlinked.header("location"),
        Some("/account?notice=last-way-to-sign-in#sign-in-methods")
    );
    assert_eq!(pair.user("alice")["identities"][0]["upstream"], "corp");
}

#[test]
fn issue_12_deleting_an_upstream_says_who_is_left_without_a_way_to_sign_in() {
    let pair = Pair::start(true);
    let browser = Browser::new();
    let login = browser.get(&pair.server.url("/login"));
    assert_eq!(pair.sign_in_through_corp(&browser, &login).status, 303);
    let deleted = pair.data.run(&["upstream", "delete", "corp"]).ok();
    assert!(
        deleted.stdout.contains("1 linked identity removed"),
        "{}",
        deleted.stdout
    );
    assert!(
        deleted.stdout.contains("1 user signed in only through it"),
        "{}",
        deleted.stdout
    );
    assert!(
        deleted.stdout.contains("user reset-link"),
        "{}",
        deleted.stdout
    );
    assert_eq!(pair.user("alice")["identities"], serde_json::json!([]));
    // Nobody signs in through corp any more.
    let login = Browser::new().get(&pair.server.url("/login"));
    assert!(!login.body.contains("Continue with Corp"), "{}", login.body);
}

#[test]
fn issue_12_sign_ins_through_upstreams_are_throttled_per_address() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    // Never contacted: starting a sign-in through an OAuth 2.0 upstream calls nobody.
    data.run_with_stdin(
        &[
            "upstream",
            "add",
            "chat",
            "--kind",
            "discord",
            "--base-url",
            "http://127.0.0.1:9",
            "--client-id",
            "123",
            "--client-secret-stdin",
        ],
        "chat-secret\n",
    )
    .ok();
    let browser = Browser::new();
    let login = browser.get(&server.url("/login"));
    let form = login.require_form("/upstream/chat/start");
    let fields = form.filled(&[]);
    // `http/mod.rs`'s UPSTREAM_STARTS_PER_ADDRESS.
    for attempt in 0..120 {
        let started = browser.submit(&login, &form, &fields);
        assert_eq!(
            started.status,
            303,
            "attempt {attempt}: {}",
            started.describe()
        );
    }
    let refused = browser.submit(&login, &form, &fields);
    assert_eq!(refused.status, 429, "{}", refused.describe());
    assert!(refused.header("retry-after").is_some());
    assert!(
        refused.body.contains("Too many sign-ins from your network"),
        "{}",
        refused.body
    );
    assert!(
        refused.set_cookies().is_empty(),
        "{:?}",
        refused.set_cookies()
    );
    assert_eq!(server.healthz(), 200);
}

#[test]
fn issue_12_bad_unlink_and_start_forms_change_nothing() {
    let pair = Pair::start(true);
    let browser = Browser::new();
    let login = browser.get(&pair.server.url("/login"));
    assert_eq!(pair.sign_in_through_corp(&browser, &login).status, 303);
    let account = browser.get(&pair.server.url("/account"));
    let csrf = account
        .require_form("/account/identities/unlink")
        .require("csrf_token")
        .to_owned();
    let unlink = pair.server.url("/account/identities/unlink");
    // An unknown or malformed upstream name: a notice that nothing was linked there.
    for name in ["nope", "Not A Name", &"x".repeat(5000)] {
        let answer = browser.post_form(
            &unlink,
            &[("csrf_token", csrf.as_str()), ("upstream", name)],
        );
        assert_eq!(answer.status, 303, "{name:?}: {}", answer.describe());
        assert!(
            answer
                .header("location")
                .is_some_and(|location| location.starts_with("/account?notice=not-linked")),
            "{}",
            answer.describe()
        );
    }
    // Without the CSRF token: 403, and the identity stays.
    let forged = browser.post_form(&unlink, &[("upstream", "corp")]);
    assert_eq!(forged.status, 403, "{}", forged.describe());
    // A start form without its token, or for an upstream that does not exist.
    let start = browser.post_form(
        &pair.server.url("/upstream/corp/start"),
        &[("return_to", "/account")],
    );
    assert_eq!(start.status, 403, "{}", start.describe());
    let missing = browser.post_form(
        &pair.server.url("/upstream/nope/start"),
        &[("csrf_token", csrf.as_str())],
    );
    assert_eq!(missing.status, 404, "{}", missing.describe());
    assert_eq!(pair.user("alice")["identities"][0]["upstream"], "corp");
}
