//! Issue 12, item 4: sign-up. `serve --signup closed|invite|open` (closed by default); the
//! sign-in page links to `/signup` only when it is open; under `invite`, `/signup` needs a
//! valid invitation from `keyward invite create`, and each account takes one of its uses; a sign-up makes the user through `user create`'s rules (case-blind
//! unique usernames, the CLI's password and e-mail rules, the e-mail unverified), signs them
//! in at once and continues the authorization request that brought them; a refusal says
//! why, keeps what was typed (never the password) and creates nothing; sign-ups count
//! against the sign-in address throttle; `return_to` cannot redirect off the server.

use crate::forms::{assert_page_headers, decode_entities, Browser, Form, Page};
use crate::support::{
    assert_same_files, code_request, pkce_pair, register_client, token, DataDir, TestServer,
    USER_PASSWORD,
};

/// `signin.rs`'s `ADDRESS_LIMIT`: attempts per client address in one 15-minute window.
const ADDRESS_LIMIT: usize = 30;

fn open_server(data: &DataDir) -> TestServer {
    TestServer::start(data, &["--signup", "open"])
}

/// The `href` of the first link on `page` whose text is `text`, entities decoded.
fn link(page: &Page, text: &str) -> Option<String> {
    let end = page.body.find(&format!(">{text}</a>"))?;
    let start = page.body[..end].rfind("<a ")?;
    let tag = &page.body[start..end];
    let href = tag.split("href=\"").nth(1)?.split('"').next()?;
    Some(decode_entities(href))
}

/// Opens the sign-up page and submits its form with these fields.
#[track_caller]
fn sign_up(browser: &Browser, server: &TestServer, fill: &[(&str, &str)]) -> Page {
    let page = browser.get(&server.url("/signup"));
    assert_eq!(page.status, 200, "{}", page.describe());
    let form = page.require_form("/signup");
    browser.submit(&page, &form, &form.filled(fill))
}

/// Whether `browser` is signed in as `username`: `/account` shows their page.
fn signed_in_as(browser: &Browser, server: &TestServer, username: &str) -> bool {
    let page = browser.get(&server.url("/account"));
    page.status == 200 && page.body.contains(username)
}

#[test]
fn issue_12_signup_is_closed_by_default() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    let browser = Browser::new();
    let login = browser.get(&server.url("/login"));
    assert_eq!(login.status, 200);
    assert!(!login.body.contains("/signup"), "{}", login.body);
    assert!(!login.body.contains("&#x2f;signup"), "{}", login.body);
    let page = browser.get(&server.url("/signup"));
    assert_eq!(page.status, 404, "{}", page.describe());
    assert!(page.body.contains("Page not found"), "{}", page.body);
    assert_page_headers(&page, "closed sign-up");
    // A POST with a valid CSRF token (from the sign-in page) is refused the same way.
    let csrf = login
        .require_form("/login")
        .require("csrf_token")
        .to_owned();
    let posted = browser.post_form(
        &server.url("/signup"),
        &[
            ("csrf_token", csrf.as_str()),
            ("username", "mallory"),
            ("password", USER_PASSWORD),
        ],
    );
    assert_eq!(posted.status, 404, "{}", posted.describe());
    assert!(data.user("mallory").is_none());
}

#[test]
fn issue_12_signup_creates_the_user_signs_them_in_and_continues_the_authorization() {
    let data = DataDir::new();
    let app = register_client(&data, "Score Tracker", &["https://app.example/cb"], &[]);
    let server = open_server(&data);
    let browser = Browser::new();
    let (verifier, challenge) = pkce_pair();
    let url = code_request(&server, &app, "openid profile", "st-1", Some(&challenge));
    let login = browser.open(&url);
    assert!(login.is_login(), "{}", login.describe());
    let href = link(&login, "Create an account").expect("a sign-up link on the sign-in page");
    assert!(href.starts_with("/signup?return_to="), "{href}");

    let page = browser.get(&server.url(&href));
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_page_headers(&page, "sign-up page");
    let form = page.require_form("/signup");
    assert!(form.require("csrf_token").len() > 20);
    assert!(form
        .require("return_to")
        .starts_with("/oauth2/authorize?response_type=code"));
    let answer = browser.submit(
        &page,
        &form,
        &form.filled(&[
            ("username", "Carol"),
            ("password", USER_PASSWORD),
            ("email", "carol@example.com"),
        ]),
    );
    assert_eq!(answer.status, 303, "{}", answer.describe());
    let location = answer.header("location").unwrap().to_owned();
    assert!(location.starts_with("/oauth2/authorize?"), "{location}");
    assert!(
        answer
            .set_cookies()
            .iter()
            .any(|cookie| cookie.contains("session")),
        "{:?}",
        answer.set_cookies()
    );

    let created = data.user("carol").expect("the user exists");
    assert_eq!(created["username"], "Carol");
    assert_eq!(created["email"], "carol@example.com");
    assert_eq!(created["email_verified"], false);

    let consent = browser.follow(answer);
    assert!(consent.is_consent(), "{}", consent.describe());
    assert!(consent.body.contains("Score Tracker"));
    let callback = browser
        .decide(&consent, "allow")
        .callback(&app.redirect_uri);
    assert_eq!(callback.get("state"), Some("st-1"));
    let tokens = token(
        &server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", callback.code()),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .ok();
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert!(signed_in_as(&browser, &server, "Carol"));

    // The new password signs in like any other, from a fresh browser.
    let other = Browser::new();
    let login = other.get(&server.url("/login"));
    assert_eq!(other.sign_in(&login, "carol", USER_PASSWORD).status, 303);
    // The sign-up page links back to sign-in, carrying the same return_to.
    let back = link(&page, "Sign in").expect("a link back to sign-in");
    assert!(
        back.starts_with("/login?return_to=%2Foauth2%2Fauthorize"),
        "{back}"
    );
}

#[test]
fn issue_12_signup_without_return_to_lands_on_the_account_page_and_email_is_optional() {
    let data = DataDir::new();
    let server = open_server(&data);
    let browser = Browser::new();
    let login = browser.get(&server.url("/login"));
    assert_eq!(
        link(&login, "Create an account").as_deref(),
        Some("/signup")
    );
    let answer = sign_up(
        &browser,
        &server,
        &[("username", "dave"), ("password", USER_PASSWORD)],
    );
    assert_eq!(answer.status, 303, "{}", answer.describe());
    assert_eq!(answer.header("location"), Some("/account"));
    assert!(signed_in_as(&browser, &server, "dave"));
    let created = data.user("dave").expect("created");
    assert!(created["email"].is_null(), "{created}");
    assert_eq!(created["email_verified"], false);
}

#[test]
fn issue_12_a_taken_username_in_any_case_is_refused_and_nothing_is_created() {
    let data = DataDir::new();
    data.create_user("Alice", USER_PASSWORD);
    let server = open_server(&data);
    let before = data.user("alice").expect("alice");
    let browser = Browser::new();
    let answer = sign_up(
        &browser,
        &server,
        &[
            ("username", "aLiCe"),
            ("password", "another long passphrase"),
            ("email", "evil@example.com"),
        ],
    );
    assert_eq!(answer.status, 409, "{}", answer.describe());
    assert!(
        answer.body.contains("That username is taken"),
        "{}",
        answer.body
    );
    assert!(
        answer.body.contains("Nothing was created"),
        "{}",
        answer.body
    );
    let form = answer.require_form("/signup");
    assert_eq!(form.value("username"), Some("aLiCe"));
    assert_eq!(form.value("email"), Some("evil@example.com"));
    assert_eq!(
        form.value("password"),
        Some(""),
        "the password is never shown again"
    );
    assert_eq!(data.user("alice"), Some(before), "alice is unchanged");
    assert_eq!(data.user_count(), 1);
    assert!(!signed_in_as(&browser, &server, "Alice"));
    // The other password does not sign in to Alice's account.
    let other = Browser::new();
    let login = other.get(&server.url("/login"));
    assert_eq!(
        other
            .sign_in(&login, "alice", "another long passphrase")
            .status,
        401
    );
}

#[test]
fn issue_12_bad_input_gets_a_clear_error_keeps_the_username_and_creates_nothing() {
    let data = DataDir::new();
    let server = open_server(&data);
    let browser = Browser::new();
    let long_name = "e".repeat(65);
    // (username, password, email, what the page says)
    let cases = [
        (
            "erin",
            "short",
            "",
            "Password must be at least 8 characters",
        ),
        (
            "erin smith",
            USER_PASSWORD,
            "",
            "may contain only letters, digits",
        ),
        ("", USER_PASSWORD, "", "Username must not be empty"),
        (&long_name, USER_PASSWORD, "", "longer than 64 characters"),
        (
            "erin",
            USER_PASSWORD,
            "not-an-address",
            "is not an email address",
        ),
        ("erin", USER_PASSWORD, "a@b@c", "is not an email address"),
        (
            "<b>erin</b>",
            USER_PASSWORD,
            "",
            "&lt;b&gt;erin&lt;&#x2f;b&gt;",
        ),
    ];
    for (username, password, email, message) in cases {
        let answer = sign_up(
            &browser,
            &server,
            &[
                ("username", username),
                ("password", password),
                ("email", email),
            ],
        );
        assert_eq!(answer.status, 400, "{username:?}: {}", answer.describe());
        assert!(
            answer.body.contains(message),
            "{username:?}: {}",
            answer.body
        );
        assert!(
            answer.body.contains("Nothing was created."),
            "{}",
            answer.body
        );
        assert!(!answer.body.contains("<b>erin"), "escaped: {}", answer.body);
        assert!(answer.body.contains("role=\"alert\""));
        let form = answer.require_form("/signup");
        assert_eq!(
            form.value("username"),
            Some(username),
            "the username is kept"
        );
        assert_eq!(form.value("email"), Some(email), "the e-mail is kept");
        assert_eq!(form.value("password"), Some(""), "never the password");
        assert!(!answer.body.contains(USER_PASSWORD), "never the password");
        assert!(answer.header("location").is_none());
        assert!(
            !answer
                .set_cookies()
                .iter()
                .any(|cookie| cookie.contains("session")),
            "no session for a refusal"
        );
    }
    assert_eq!(data.user_count(), 0, "nothing was created");
}

#[test]
fn issue_12_signup_without_its_csrf_token_is_403_and_creates_nothing() {
    let data = DataDir::new();
    let server = open_server(&data);
    let browser = Browser::new();
    let page = browser.get(&server.url("/signup"));
    let form = page.require_form("/signup");
    let mut fields = form.filled(&[("username", "frank"), ("password", USER_PASSWORD)]);
    fields.retain(|(name, _)| name != "csrf_token");
    let missing = browser.submit(&page, &form, &fields);
    assert_eq!(missing.status, 403, "{}", missing.describe());
    assert!(
        missing.body.contains("This form has expired"),
        "{}",
        missing.body
    );
    fields.push(("csrf_token".into(), "forged".into()));
    let forged = browser.submit(&page, &form, &fields);
    assert_eq!(forged.status, 403, "{}", forged.describe());
    // A token without its cookie (another browser's form) is no better.
    let stranger = Browser::new();
    let stolen = stranger.post_form(
        &server.url("/signup"),
        &form.filled(&[("username", "frank"), ("password", USER_PASSWORD)]),
    );
    assert_eq!(stolen.status, 403, "{}", stolen.describe());
    assert!(data.user("frank").is_none());
    assert_eq!(data.user_count(), 0);
}

#[test]
fn issue_12_signups_count_against_the_address_throttle() {
    let data = DataDir::new();
    let server = open_server(&data);
    let browser = Browser::new();
    let page = browser.get(&server.url("/signup"));
    let form = page.require_form("/signup");
    // Made or refused, every sign-up counts: a few refusals, then real accounts.
    for index in 0..3 {
        let name = format!("u{index} bad");
        let answer = browser.submit(
            &page,
            &form,
            &form.filled(&[("username", &name), ("password", USER_PASSWORD)]),
        );
        assert_eq!(answer.status, 400, "{}", answer.describe());
    }
    for index in 3..ADDRESS_LIMIT {
        let name = format!("user{index}");
        let answer = browser.submit(
            &page,
            &form,
            &form.filled(&[("username", &name), ("password", USER_PASSWORD)]),
        );
        assert_eq!(answer.status, 303, "{name}: {}", answer.describe());
    }
    assert_eq!(data.user_count(), ADDRESS_LIMIT - 3);
    let refused = browser.submit(
        &page,
        &form,
        &form.filled(&[("username", "one-too-many"), ("password", USER_PASSWORD)]),
    );
    assert_eq!(refused.status, 429, "{}", refused.describe());
    assert!(
        refused.body.contains("Too many attempts"),
        "{}",
        refused.body
    );
    let retry_after: u64 = refused
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=15 * 60).contains(&retry_after), "{retry_after}");
    assert_eq!(
        refused.require_form("/signup").value("username"),
        Some("one-too-many")
    );
    assert!(data.user("one-too-many").is_none());
    assert_eq!(data.user_count(), ADDRESS_LIMIT - 3);
    // The throttle is the sign-in one: this address's password guesses wait too.
    let login = browser.get(&server.url("/login"));
    assert_eq!(
        browser.sign_in(&login, "user3", "wrong password").status,
        429
    );
}

#[test]
fn issue_12_return_to_cannot_send_a_new_user_off_the_server() {
    let data = DataDir::new();
    let server = open_server(&data);
    let hostile = [
        "https://evil.example/",
        "//evil.example",
        "/\\evil.example",
        "/oauth2/authorize?x=1\r\nLocation: https://evil.example/",
        "javascript:alert(1)",
    ];
    for (index, return_to) in hostile.into_iter().enumerate() {
        let browser = Browser::new();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        let page = browser.get(&server.url(&format!("/signup?{query}")));
        assert_eq!(page.status, 200, "{}", page.describe());
        let form = page.require_form("/signup");
        assert_eq!(form.value("return_to"), Some("/account"), "{return_to:?}");
        // Posted directly, past the page: still the account page.
        let name = format!("newcomer{index}");
        let answer = browser.submit(
            &page,
            &form,
            &form.filled(&[
                ("username", &name),
                ("password", USER_PASSWORD),
                ("return_to", return_to),
            ]),
        );
        assert_eq!(answer.status, 303, "{}", answer.describe());
        assert_eq!(answer.header("location"), Some("/account"), "{return_to:?}");
    }
}

// ---- Invitations (`serve --signup invite`, `keyward invite`). ----

fn invite_server(data: &DataDir) -> TestServer {
    TestServer::start(data, &["--signup", "invite"])
}

/// `invite create --json` with these flags: the whole answer.
fn create_invite(data: &DataDir, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["invite", "create", "--json"];
    args.extend_from_slice(extra);
    data.run(&args).json()
}

/// The invite link's path and query, on `server`.
fn invite_path(invite: &serde_json::Value) -> String {
    let url = invite["url"].as_str().expect("url");
    let at = url.find("/signup?invite=").expect("a sign-up link");
    url[at..].to_owned()
}

/// The `<id>.<secret>` an invite link carries.
fn invite_token(invite: &serde_json::Value) -> String {
    invite_path(invite)["/signup?invite=".len()..].to_owned()
}

/// Opens an invite link and submits its form as `username`.
#[track_caller]
fn sign_up_invited(browser: &Browser, server: &TestServer, path: &str, username: &str) -> Page {
    let page = browser.get(&server.url(path));
    assert_eq!(page.status, 200, "{}", page.describe());
    let form = page.require_form("/signup");
    browser.submit(
        &page,
        &form,
        &form.filled(&[("username", username), ("password", USER_PASSWORD)]),
    )
}

#[track_caller]
fn assert_invite_refused(page: &Page, context: &str) {
    assert_eq!(page.status, 403, "{context}: {}", page.describe());
    assert!(
        page.body.contains("This invitation is not valid"),
        "{context}: {}",
        page.body
    );
    assert!(
        !page.body.contains("name=\"password\""),
        "{context}: {}",
        page.body
    );
}

#[test]
fn issue_12_invite_signup_takes_one_use_per_account_and_refuses_past_its_uses() {
    let data = DataDir::new();
    let server = invite_server(&data);
    let invite = create_invite(&data, &["--uses", "2"]);
    assert_eq!(invite["uses"], 2, "{invite}");
    let url = invite["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/signup?invite=", server.url(""))),
        "{url}"
    );
    assert_eq!(
        invite_token(&invite).split('.').next(),
        invite["id"].as_str()
    );
    let path = invite_path(&invite);
    let browser = Browser::new();
    // No link to sign-up from the sign-in page: only invited visitors sign up.
    let login = browser.get(&server.url("/login"));
    assert!(!login.body.contains("signup"), "{}", login.body);
    // Without an invitation, the page is refused and nothing is made.
    assert_invite_refused(&browser.get(&server.url("/signup")), "no invitation");
    let page = browser.get(&server.url(&path));
    assert_eq!(page.status, 200, "{}", page.describe());
    let form = page.require_form("/signup");
    assert_eq!(form.require("invite"), invite_token(&invite));
    for username in ["dora", "emil"] {
        let answer = sign_up_invited(&Browser::new(), &server, &path, username);
        assert_eq!(answer.status, 303, "{username}: {}", answer.describe());
        assert!(data.user(username).is_some(), "{username}");
    }
    let listed = data.run(&["invite", "list", "--json"]).json();
    assert_eq!(listed["invites"][0]["uses_left"], 0, "{listed}");
    assert_eq!(listed["invites"][0]["uses_total"], 2, "{listed}");
    // Used up: the link, and a form opened before, are refused.
    assert_invite_refused(&browser.get(&server.url(&path)), "used up");
    let posted = browser.submit(
        &page,
        &form,
        &form.filled(&[("username", "fritz"), ("password", USER_PASSWORD)]),
    );
    assert_invite_refused(&posted, "form of a used-up invitation");
    assert!(data.user("fritz").is_none());
    assert_eq!(data.user_count(), 2);
}

#[test]
fn issue_12_a_tampered_expired_or_revoked_invitation_is_refused() {
    let data = DataDir::new();
    let server = invite_server(&data);
    let browser = Browser::new();

    let invite = create_invite(&data, &[]);
    assert_eq!(invite["uses"], 1, "{invite}");
    let token = invite_token(&invite);
    let (id, secret) = token.split_once('.').unwrap();
    let flipped = if secret.starts_with('A') { "B" } else { "A" };
    let tampered = format!("/signup?invite={id}.{flipped}{}", &secret[1..]);
    assert_invite_refused(&browser.get(&server.url(&tampered)), "tampered secret");
    assert_invite_refused(
        &browser.get(&server.url(&format!("/signup?invite={id}"))),
        "no secret",
    );
    // A POST naming the tampered invitation, with a valid CSRF token, makes nothing.
    let page = browser.get(&server.url(&invite_path(&invite)));
    let form = page.require_form("/signup");
    let mut fields = form.filled(&[("username", "gina"), ("password", USER_PASSWORD)]);
    for (name, value) in fields.iter_mut() {
        if name == "invite" {
            *value = tampered["/signup?invite=".len()..].to_owned();
        }
    }
    assert_invite_refused(&browser.submit(&page, &form, &fields), "tampered POST");
    assert!(data.user("gina").is_none());

    // Revoked: the link and its open form stop working at once.
    let revoked = data.run(&["invite", "revoke", id, "--json"]).json();
    assert_eq!(revoked["revoked"], id, "{revoked}");
    assert_invite_refused(&browser.get(&server.url(&invite_path(&invite))), "revoked");
    let posted = browser.submit(
        &page,
        &form,
        &form.filled(&[("username", "gina"), ("password", USER_PASSWORD)]),
    );
    assert_invite_refused(&posted, "form of a revoked invitation");
    assert!(data.user("gina").is_none());

    // Expired: durations are whole seconds, so 2 s and a wait past them.
    let short = create_invite(&data, &["--expires-in", "2s"]);
    let page = browser.get(&server.url(&invite_path(&short)));
    assert_eq!(page.status, 200, "{}", page.describe());
    std::thread::sleep(std::time::Duration::from_millis(3100));
    assert_invite_refused(&browser.get(&server.url(&invite_path(&short))), "expired");
    let form = page.require_form("/signup");
    let posted = browser.submit(
        &page,
        &form,
        &form.filled(&[("username", "hana"), ("password", USER_PASSWORD)]),
    );
    assert_invite_refused(&posted, "form of an expired invitation");
    assert_eq!(data.user_count(), 0);
}

#[test]
fn issue_12_two_concurrent_signups_on_a_one_use_invitation_make_one_account() {
    let data = DataDir::new();
    let server = invite_server(&data);
    let invite = create_invite(&data, &["--uses", "1"]);
    let path = invite_path(&invite);
    let browsers = [Browser::new(), Browser::new()];
    let forms: Vec<(Page, Form)> = browsers
        .iter()
        .map(|browser| {
            let page = browser.get(&server.url(&path));
            assert_eq!(page.status, 200, "{}", page.describe());
            let form = page.require_form("/signup");
            (page, form)
        })
        .collect();
    let barrier = std::sync::Barrier::new(2);
    let statuses: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = browsers
            .iter()
            .zip(&forms)
            .zip(["ivan", "jana"])
            .map(|((browser, (page, form)), username)| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let fields =
                        form.filled(&[("username", username), ("password", USER_PASSWORD)]);
                    barrier.wait();
                    browser.submit(page, form, &fields).status
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = statuses.clone();
    sorted.sort();
    assert_eq!(sorted, vec![303, 403], "{statuses:?}");
    assert_eq!(data.user_count(), 1);
    let listed = data.run(&["invite", "list", "--json"]).json();
    assert_eq!(listed["invites"][0]["uses_left"], 0, "{listed}");
}

#[test]
fn issue_12_closed_signup_ignores_invitations_and_open_signup_needs_none() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    let invite = create_invite(&data, &[]);
    let browser = Browser::new();
    let page = browser.get(&server.url(&invite_path(&invite)));
    assert_eq!(page.status, 404, "{}", page.describe());
    drop(server);

    let server = open_server(&data);
    let answer = sign_up(
        &browser,
        &server,
        &[("username", "kim"), ("password", USER_PASSWORD)],
    );
    assert_eq!(answer.status, 303, "{}", answer.describe());
    assert!(data.user("kim").is_some());
    // The invitation was not touched.
    let listed = data.run(&["invite", "list", "--json"]).json();
    assert_eq!(listed["invites"][0]["uses_left"], 1, "{listed}");
}

#[test]
fn issue_12_invite_commands_refuse_bad_input_with_one_line_and_change_nothing() {
    let data = DataDir::new();
    // Without a recorded issuer, `--issuer` is needed, and the error says so.
    let before = data.snapshot();
    let run = data.run(&["invite", "create"]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("--issuer"), "{}", run.stderr);
    assert_eq!(run.stderr.trim().lines().count(), 1, "{}", run.stderr);
    assert_same_files(&before, &data.snapshot(), "invite create without an issuer");
    let made = create_invite(&data, &["--issuer", "https://id.example.com"]);
    assert!(
        made["url"]
            .as_str()
            .unwrap()
            .starts_with("https://id.example.com/signup?invite="),
        "{made}"
    );
    let secret = invite_token(&made).split_once('.').unwrap().1.to_owned();

    let before = data.snapshot();
    let unknown = "018bcfe568007a3c9d1e0f2a4b6c8d00";
    for (args, says) in [
        (vec!["invite", "create", "--uses", "0"], "--uses"),
        (vec!["invite", "create", "--uses", "1001"], "--uses"),
        (vec!["invite", "create", "--expires-in", "100d"], "90d"),
        (vec!["invite", "create", "--issuer", "ftp://x"], "issuer"),
        (vec!["invite", "revoke", unknown], "no invitation"),
        (vec!["invite", "revoke", "nope"], "not a"),
    ] {
        let run = data.run(&args);
        assert!(!run.status.success(), "{args:?}: {}", run.stdout);
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
        assert_same_files(&before, &data.snapshot(), &format!("{args:?}"));
    }

    // `invite list` never shows the secret, in text or JSON.
    let text = data.run(&["invite", "list"]).ok().stdout;
    assert!(text.contains(made["id"].as_str().unwrap()), "{text}");
    assert!(text.contains("uses left: 1 of 1"), "{text}");
    assert!(!text.contains(&secret), "{text}");
    let json = data.run(&["invite", "list", "--json"]).ok().stdout;
    assert!(!json.contains(&secret), "{json}");
    let human = data
        .run(&[
            "invite",
            "create",
            "--issuer",
            "https://id.example.com",
            "--uses",
            "3",
        ])
        .ok()
        .stdout;
    assert!(
        human.contains("https://id.example.com/signup?invite="),
        "{human}"
    );
    assert!(human.contains("3 times"), "{human}");
}
