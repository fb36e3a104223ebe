//! Issue 12, items 5 and 6: the sign-in page says which app it signs in for and focuses the
//! field to type in; `/account` changes the password (the current one required, checked
//! through the sign-in throttles), lists the user's sessions and signs out everywhere else.
//! A password change or "sign out everywhere else" ends the user's other sessions and keeps
//! the browser that asked. Driven as a browser drives it: forms filled by field name, two
//! browsers (two cookie jars) signed in as the same user.

use crate::forms::{assert_page_headers, decode_entities, Browser, Page};
use crate::support::{
    assert_same_files, authorize_url, code_request, register_client, DataDir, TestServer,
    USER_PASSWORD,
};

const REDIRECT: &str = "https://app.example.com/callback";
const NEW_PASSWORD: &str = "a brand new and longer passphrase";

/// A browser signed in as `username` with `password`, through `/account`.
#[track_caller]
fn signed_in(server: &TestServer, username: &str, password: &str) -> Browser {
    let browser = Browser::new();
    let login = browser.open(&server.url("/account"));
    assert!(login.is_login(), "{}", login.describe());
    let answer = browser.sign_in(&login, username, password);
    assert_eq!(answer.status, 303, "{}", answer.describe());
    browser
}

/// Whether a fresh browser signs in with this password.
fn signs_in(server: &TestServer, username: &str, password: &str) -> bool {
    let browser = Browser::new();
    let login = browser.open(&server.url("/login"));
    let answer = browser.sign_in(&login, username, password);
    match answer.status {
        303 => true,
        401 => false,
        _ => panic!(
            "sign-in answered neither 303 nor 401: {}",
            answer.describe()
        ),
    }
}

/// The account page, which the browser must still reach signed in.
#[track_caller]
fn account(server: &TestServer, browser: &Browser) -> Page {
    let page = browser.get(&server.url("/account"));
    assert_eq!(page.status, 200, "still signed in: {}", page.describe());
    page
}

/// Whether the browser's session is still live: `/account` answers, not a sign-in redirect.
fn still_signed_in(server: &TestServer, browser: &Browser) -> bool {
    let page = browser.get(&server.url("/account"));
    match page.status {
        200 => true,
        303 => {
            assert_eq!(
                page.location().expect("Location").path(),
                "/login",
                "{}",
                page.describe()
            );
            false
        }
        _ => panic!("/account answered {}", page.describe()),
    }
}

/// Submits the password form on a fresh account page; the raw answer.
fn change_password(server: &TestServer, browser: &Browser, current: &str, new: &str) -> Page {
    let page = account(server, browser);
    let form = page.require_form("/account/password");
    let fields = form.filled(&[("current_password", current), ("new_password", new)]);
    browser.submit(&page, &form, &fields)
}

/// Asserts a 303 to `/account?notice=NOTICE`, follows it, and returns the page.
#[track_caller]
fn back_with_notice(browser: &Browser, answer: Page, notice: &str) -> Page {
    assert_eq!(answer.status, 303, "{}", answer.describe());
    let location = answer.location().expect("Location");
    assert_eq!(location.path(), "/account", "{location}");
    let found: Vec<_> = location
        .query_pairs()
        .filter(|(name, _)| name == "notice")
        .map(|(_, value)| value.into_owned())
        .collect();
    assert_eq!(found, [notice], "{location}");
    let page = browser.follow(answer);
    assert_eq!(page.status, 200, "{}", page.describe());
    page
}

/// The start tag of the element with this id, as written.
#[track_caller]
fn tag_with_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element with id {id}:\n{html}"));
    let start = html[..at].rfind('<').expect("in a tag");
    let end = at + html[at..].find('>').expect("the tag is closed");
    &html[start..=end]
}

fn autofocused(html: &str, id: &str) -> bool {
    tag_with_id(html, id).contains(" autofocus")
}

/// The page's heading as text: tags stripped, entities decoded.
fn h1(html: &str) -> String {
    let start = html.find("<h1>").expect("an h1") + 4;
    let end = start + html[start..].find("</h1>").expect("closed");
    let mut text = String::new();
    let mut in_tag = false;
    for c in html[start..end].chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            _ if !in_tag => text.push(c),
            _ => {}
        }
    }
    decode_entities(&text)
}

#[test]
fn issue_12_the_sign_in_page_names_the_app_and_focuses_the_first_empty_field() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let app = register_client(&data, "Score <Tracker> & Co", &[REDIRECT], &[]);
    let server = TestServer::start(&data, &[]);

    // From an authorization request: the app's name, escaped, and the username focused.
    let browser = Browser::new();
    let login = browser.open(&code_request(&server, &app, "profile", "s1", None));
    assert!(login.is_login(), "{}", login.describe());
    assert_page_headers(&login, "sign-in page for an app");
    assert!(
        login.body.contains(
            "<h1>Sign in to continue to <span class=\"app-name\">Score &lt;Tracker&gt; &amp; Co</span></h1>"
        ),
        "{}",
        login.body
    );
    assert!(!login.body.contains("<Tracker>"));
    assert!(autofocused(&login.body, "username"));
    assert!(!autofocused(&login.body, "password"));

    // A wrong password shows the app again, and focuses the password (the name is kept).
    let failed = browser.sign_in(&login, "alice", "not the password");
    assert_eq!(failed.status, 401, "{}", failed.describe());
    assert_eq!(
        h1(&failed.body),
        "Sign in to continue to Score <Tracker> & Co"
    );
    assert!(autofocused(&failed.body, "password"));
    assert!(!autofocused(&failed.body, "username"));

    // A login_hint prefills the username, so the password field has the focus.
    let hinted = Browser::new().open(&authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &app.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s2"),
            ("login_hint", "alice"),
        ],
    ));
    assert!(hinted.is_login(), "{}", hinted.describe());
    assert_eq!(
        h1(&hinted.body),
        "Sign in to continue to Score <Tracker> & Co"
    );
    assert!(tag_with_id(&hinted.body, "username").contains("value=\"alice\""));
    assert!(autofocused(&hinted.body, "password"));
    assert!(!autofocused(&hinted.body, "username"));

    // No app: the account page, an unknown or malformed client, a repeated client_id.
    let unknown = "0123456789abcdef0123456789abcdef";
    for return_to in [
        "/account".to_owned(),
        format!("/oauth2/authorize?client_id={unknown}&response_type=code"),
        "/oauth2/authorize?client_id=%3Cscript%3E".to_owned(),
        format!(
            "/oauth2/authorize?client_id={}&client_id={}",
            app.client_id, app.client_id
        ),
    ] {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", &return_to)
            .finish();
        let page = Browser::new().get(&server.url(&format!("/login?{query}")));
        assert_eq!(page.status, 200, "{return_to}: {}", page.describe());
        assert_eq!(h1(&page.body), "Sign in", "{return_to}");
        assert!(autofocused(&page.body, "username"), "{return_to}");
    }

    // Signing in still continues the authorization request.
    let consent = browser.follow(browser.sign_in(&login, "alice", USER_PASSWORD));
    assert!(consent.is_consent(), "{}", consent.describe());
}

#[test]
fn issue_12_the_account_page_lists_both_browsers_sessions_and_names_this_one() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    data.create_user("bob", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let first = signed_in(&server, "alice", USER_PASSWORD);
    let page = account(&server, &first);
    assert_eq!(page.body.matches("<h3>This browser</h3>").count(), 1);
    assert!(!page.body.contains("Another browser or device"));
    assert!(page.form("/account/sessions/sign-out-others").is_none());
    assert!(page.body.contains("You are not signed in anywhere else."));

    let second = signed_in(&server, "alice", USER_PASSWORD);
    // Bob's session is not alice's.
    let _bob = signed_in(&server, "bob", USER_PASSWORD);
    for browser in [&first, &second] {
        let page = account(&server, browser);
        assert_eq!(page.body.matches("<h3>This browser</h3>").count(), 1);
        assert_eq!(
            page.body
                .matches("<h3>Another browser or device</h3>")
                .count(),
            1,
            "{}",
            page.body
        );
        assert_eq!(page.body.matches("<dt>Signed in</dt>").count(), 2);
        assert!(
            page.body.find("This browser").unwrap()
                < page.body.find("Another browser or device").unwrap(),
            "this browser comes first"
        );
        page.require_form("/account/sessions/sign-out-others");
    }
    // The sections, in the order a person scans them.
    let at = |id: &str| page.body.find(&format!("id=\"{id}-heading\"")).unwrap();
    assert!(at("apps") < at("password"));
    assert!(at("password") < at("sessions"));
    assert!(at("sessions") < at("api-keys"));
}

#[test]
fn issue_12_sign_out_everywhere_else_ends_the_other_browsers_session_and_keeps_this_one() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    data.create_user("bob", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let here = signed_in(&server, "alice", USER_PASSWORD);
    let elsewhere = signed_in(&server, "alice", USER_PASSWORD);
    let bob = signed_in(&server, "bob", USER_PASSWORD);

    let page = account(&server, &here);
    let form = page.require_form("/account/sessions/sign-out-others");
    let answer = here.submit(&page, &form, &form.filled(&[]));
    let after = back_with_notice(&here, answer, "signed-out-others");
    assert!(after
        .body
        .contains("Signed out everywhere else. This browser is still signed in."));
    assert!(!still_signed_in(&server, &elsewhere), "the other browser");
    assert!(still_signed_in(&server, &here), "this browser");
    assert!(still_signed_in(&server, &bob), "another user");
    let page = account(&server, &here);
    assert_eq!(page.body.matches("<dt>Signed in</dt>").count(), 1);
    assert!(page.form("/account/sessions/sign-out-others").is_none());

    // Posted again (an old tab), there is nothing left to end, and the page says so.
    let answer = here.submit(&page, &form, &form.filled(&[]));
    back_with_notice(&here, answer, "no-other-sessions");
    assert!(still_signed_in(&server, &here));
    // The password did not change.
    assert!(signs_in(&server, "alice", USER_PASSWORD));
}

#[test]
fn issue_12_a_password_change_needs_the_current_password_and_ends_only_the_other_sessions() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let here = signed_in(&server, "alice", USER_PASSWORD);
    let elsewhere = signed_in(&server, "alice", USER_PASSWORD);

    // A wrong current password: a clear error, and nothing changed.
    let answer = change_password(&server, &here, "not my password", NEW_PASSWORD);
    let page = back_with_notice(&here, answer, "wrong-password");
    assert!(
        page.body.contains(
            "<p class=\"alert\" role=\"alert\">The current password is not right. \
             Your password was not changed.</p>"
        ),
        "{}",
        page.body
    );
    // A new password that breaks the rules (the CLI's): the same.
    let answer = change_password(&server, &here, USER_PASSWORD, "short");
    let page = back_with_notice(&here, answer, "invalid-password");
    assert!(page
        .body
        .contains("The new password must be at least 8 characters"));
    assert!(still_signed_in(&server, &elsewhere));
    assert!(
        signs_in(&server, "alice", USER_PASSWORD),
        "the old password"
    );
    assert!(!signs_in(&server, "alice", NEW_PASSWORD));

    // The right one: the new password works, the old does not, the other browser is
    // signed out, and this one stays.
    let answer = change_password(&server, &here, USER_PASSWORD, NEW_PASSWORD);
    let page = back_with_notice(&here, answer, "password-changed");
    assert!(page.body.contains("Password changed."));
    assert!(still_signed_in(&server, &here), "this browser");
    assert!(!still_signed_in(&server, &elsewhere), "the other browser");
    assert!(signs_in(&server, "alice", NEW_PASSWORD));
    assert!(!signs_in(&server, "alice", USER_PASSWORD));

    // The CLI's set-password is the same write, and keeps no session.
    let run = data.run_with_stdin(
        &["user", "set-password", "alice", "--password-stdin"],
        USER_PASSWORD,
    );
    assert!(run.status.success(), "{}", run.stderr);
    assert!(!still_signed_in(&server, &here));
    assert!(signs_in(&server, "alice", USER_PASSWORD));
}

#[test]
fn issue_12_wrong_current_passwords_are_throttled_like_sign_ins() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let here = signed_in(&server, "alice", USER_PASSWORD);
    // This browser signed in as alice before, so it answers to its own limit (5).
    for attempt in 0..5 {
        let answer = change_password(
            &server,
            &here,
            &format!("guess number {attempt}"),
            NEW_PASSWORD,
        );
        back_with_notice(&here, answer, "wrong-password");
    }
    // Now even the right password is not checked, and nothing changes: the account page
    // says so, with 429 and Retry-After, as the sign-in form does.
    let page = change_password(&server, &here, USER_PASSWORD, NEW_PASSWORD);
    assert_eq!(page.status, 429, "{}", page.describe());
    assert!(page
        .header("retry-after")
        .is_some_and(|seconds| seconds.parse::<u64>().is_ok_and(|seconds| seconds > 0)));
    assert!(
        page.body.contains("Too many wrong passwords."),
        "{}",
        page.body
    );
    assert!(page.form("/account/password").is_some(), "{}", page.body);
    assert!(still_signed_in(&server, &here));
    assert!(signs_in(&server, "alice", USER_PASSWORD));
    assert!(!signs_in(&server, "alice", NEW_PASSWORD));
}

#[test]
fn issue_12_account_forms_without_a_valid_csrf_token_are_refused_with_403_and_change_nothing() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let here = signed_in(&server, "alice", USER_PASSWORD);
    let elsewhere = signed_in(&server, "alice", USER_PASSWORD);
    let page = account(&server, &here);
    let csrf = page
        .require_form("/account/password")
        .require("csrf_token")
        .to_owned();
    assert!(!csrf.is_empty());

    let password = "/account/password";
    let sign_out = "/account/sessions/sign-out-others";
    let change = [
        ("current_password", USER_PASSWORD),
        ("new_password", NEW_PASSWORD),
    ];
    type Row<'a> = (&'a str, &'a str, Vec<(&'a str, &'a str)>);
    let rows: [Row; 4] = [
        (
            "password change without csrf_token",
            password,
            change.to_vec(),
        ),
        (
            "password change with a forged csrf_token",
            password,
            [("csrf_token", "forged")]
                .into_iter()
                .chain(change)
                .collect(),
        ),
        (
            "sign out elsewhere without csrf_token",
            sign_out,
            Vec::new(),
        ),
        (
            "sign out elsewhere with a forged csrf_token",
            sign_out,
            vec![("csrf_token", "forged")],
        ),
    ];
    for (what, action, fields) in rows {
        let before = data.snapshot();
        let answer = here.post_form(&server.url(action), &fields);
        assert_eq!(answer.status, 403, "{what}: {}", answer.describe());
        assert_page_headers(&answer, what);
        assert!(answer.body.contains("Nothing was changed"), "{what}");
        assert_same_files(&before, &data.snapshot(), what);
        assert!(still_signed_in(&server, &elsewhere), "{what}");
        assert!(still_signed_in(&server, &here), "{what}");
    }
    assert!(signs_in(&server, "alice", USER_PASSWORD));
    assert!(!signs_in(&server, "alice", NEW_PASSWORD));
}

#[test]
fn issue_12_the_new_api_key_has_a_copy_button_whose_script_is_a_file_of_ours() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let browser = signed_in(&server, "alice", USER_PASSWORD);
    let page = account(&server, &browser);
    assert!(
        !page.body.contains("<script"),
        "no script without a new key"
    );
    let form = page.require_form("/account/api-keys");
    let answer = browser.submit(&page, &form, &form.filled(&[("name", "backup job")]));
    let page = back_with_notice(&browser, answer, "created");
    let key = tag_with_id(&page.body, "new-api-key");
    assert!(key.contains(" readonly"), "{key}");
    assert!(key.contains("value=\"kwk_"), "{key}");
    let button = page
        .body
        .find("data-copy=\"new-api-key\"")
        .map(|at| &page.body[page.body[..at].rfind('<').unwrap()..])
        .expect("a copy button");
    assert!(button.starts_with("<button"), "{button}");
    assert!(
        button[..button.find('>').unwrap()].contains(" hidden"),
        "{button}"
    );
    assert_eq!(
        page.body.matches("<script").count(),
        1,
        "one script tag: {}",
        page.body
    );
    assert!(page
        .body
        .contains("<script src=\"/static/copy.js\" defer></script>"));
    // Scripts only from this origin: the policy allows the file and nothing inline.
    let policy = page.header("content-security-policy").expect("a CSP");
    assert!(policy.contains("default-src 'self'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert!(!policy.contains("script-src"), "{policy}");

    let script = browser.get(&server.url("/static/copy.js"));
    assert_eq!(script.status, 200, "{}", script.describe());
    assert_eq!(
        script.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(script.header("x-content-type-options"), Some("nosniff"));
    assert!(script.body.contains("button[data-copy]"));
}
