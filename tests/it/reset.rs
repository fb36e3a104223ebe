//! Issue 12, item 6: `keyward user reset-link U` prints a one-time link the operator sends to
//! a user who forgot their password, and `/reset` lets its holder set a new one, once. The
//! link works through the admin socket and directly on the file; it dies when used, when it
//! expires and when the password changes another way; an altered one never works; a form
//! without its CSRF token changes nothing; and the token never reaches the server's log.

use std::time::Duration;

use crate::forms::{assert_error_page, assert_page_headers, Browser, Page};
use crate::support::{assert_same_files, DataDir, TestServer, USER_PASSWORD};

const NEW_PASSWORD: &str = "a brand new passphrase";

/// `user reset-link` with `--json`: the link and its expiry.
fn reset_link(data: &DataDir, username: &str, extra: &[&str]) -> (String, u64) {
    let mut args = vec!["user", "reset-link", username, "--json"];
    args.extend_from_slice(extra);
    let json = data.run(&args).json();
    let url = json["url"].as_str().expect("url").to_owned();
    let expires_at = json["expires_at"].as_u64().expect("expires_at");
    (url, expires_at)
}

/// The token of a link.
fn token_of(url: &str) -> String {
    let url = reqwest::Url::parse(url).expect("the link is a URL");
    assert_eq!(url.path(), "/reset", "{url}");
    url.query_pairs()
        .find(|(name, _)| name == "token")
        .map(|(_, value)| value.into_owned())
        .expect("token in the link")
}

/// The link's path and query, on `server` (for a link made with another `--issuer`).
fn on_server(server: &TestServer, url: &str) -> String {
    server.url(&format!("/reset?token={}", token_of(url)))
}

/// A browser signed in as `username`.
fn signed_in(server: &TestServer, username: &str, password: &str) -> Browser {
    let browser = Browser::new();
    let login = browser.open(&server.url("/account"));
    assert!(login.is_login(), "{}", login.describe());
    let answer = browser.sign_in(&login, username, password);
    assert_eq!(answer.status, 303, "{}", answer.describe());
    assert_eq!(browser.follow(answer).status, 200);
    browser
}

/// Whether `browser` still has a session: `/account` shows instead of sending it to sign in.
fn still_signed_in(server: &TestServer, browser: &Browser) -> bool {
    let page = browser.get(&server.url("/account"));
    match page.status {
        200 => true,
        303 => false,
        _ => panic!("unexpected answer: {}", page.describe()),
    }
}

/// Whether `password` signs `username` in (on a fresh browser).
fn signs_in(server: &TestServer, username: &str, password: &str) -> bool {
    let browser = Browser::new();
    let login = browser.open(&server.url("/login"));
    match browser.sign_in(&login, username, password).status {
        303 => true,
        401 => false,
        status => panic!("sign-in answered {status}"),
    }
}

/// Opens a link; asserts the form page it must be.
#[track_caller]
fn open_form(browser: &Browser, url: &str) -> Page {
    let page = browser.get(url);
    assert_eq!(page.status, 200, "{}", page.describe());
    assert_page_headers(&page, "reset page");
    assert_eq!(
        page.header("referrer-policy"),
        Some("no-referrer"),
        "the token in the URL must not leak through Referer"
    );
    page.require_form("/reset");
    page
}

/// Submits the reset form on `page` with `password`; the raw answer.
fn submit(browser: &Browser, page: &Page, password: &str) -> Page {
    let form = page.require_form("/reset");
    browser.submit(page, &form, &form.filled(&[("password", password)]))
}

/// Asserts the plain refusal page, saying `words`.
#[track_caller]
fn assert_refused(page: &Page, words: &str, what: &str) {
    assert_eq!(page.status, 400, "{what}: {}", page.describe());
    assert_error_page(page, what);
    assert!(page.form("/reset").is_none(), "{what}: no form");
    assert!(page.body.contains(words), "{what}: {}", page.body);
}

#[track_caller]
fn assert_not_in_log(server: &TestServer, secrets: &[&str]) {
    let log = std::fs::read_to_string(&server.stderr_path).expect("server log");
    for secret in secrets {
        assert!(!log.contains(secret), "the log holds a secret:\n{log}");
    }
}

#[test]
fn issue_12_a_reset_link_sets_a_new_password_once_and_ends_every_session() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    data.create_user("bob", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let laptop = signed_in(&server, "alice", USER_PASSWORD);
    let bobs = signed_in(&server, "bob", USER_PASSWORD);

    // Through the admin socket: the link starts with the issuer this server runs with.
    let (url, expires_at) = reset_link(&data, "alice", &[]);
    assert!(url.starts_with(&server.url("/reset?token=")), "{url}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        (now + 86_400 - 5..=now + 86_400 + 5).contains(&expires_at),
        "a day by default: {expires_at} vs {now}"
    );
    let human = data.run(&["user", "reset-link", "alice"]).ok();
    assert!(human.stdout.contains("/reset?token="), "{}", human.stdout);
    assert!(human.stdout.contains("once"), "{}", human.stdout);

    let phone = Browser::new();
    let form_page = open_form(&phone, &url);
    assert!(form_page.body.contains("alice"), "{}", form_page.body);
    let answer = submit(&phone, &form_page, NEW_PASSWORD);
    assert_eq!(answer.status, 303, "{}", answer.describe());
    assert_eq!(answer.location().unwrap().path(), "/reset/done");
    let done = phone.follow(answer);
    assert_eq!(done.status, 200);
    assert_page_headers(&done, "reset done page");
    assert!(done.body.contains("href=\"/login\""), "{}", done.body);

    assert!(
        signs_in(&server, "alice", NEW_PASSWORD),
        "the new password works"
    );
    assert!(
        !signs_in(&server, "alice", USER_PASSWORD),
        "the old one does not"
    );
    assert!(
        !still_signed_in(&server, &laptop),
        "every session of the user ended"
    );
    assert!(still_signed_in(&server, &bobs), "other users keep theirs");

    // Once only: the link, and the form it opened, are refused and change nothing.
    let again = phone.get(&url);
    assert_refused(&again, "already used", "the link opened again");
    let replay = submit(&phone, &form_page, "yet another passphrase");
    assert_refused(&replay, "already used", "the form posted again");
    assert!(signs_in(&server, "alice", NEW_PASSWORD));
    assert!(!signs_in(&server, "alice", "yet another passphrase"));

    assert_not_in_log(&server, &[&token_of(&url), NEW_PASSWORD]);
    assert!(server.stop().success());
}

#[test]
fn issue_12_reset_links_work_without_a_server_and_need_an_issuer_until_one_has_run() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let before = data.snapshot();

    let no_issuer = data.run(&["user", "reset-link", "alice"]);
    assert!(!no_issuer.status.success());
    assert!(
        no_issuer.stderr.starts_with("error: ") && no_issuer.stderr.contains("--issuer"),
        "{}",
        no_issuer.stderr
    );
    let unknown = data.run(&["user", "reset-link", "nobody", "--issuer", "http://id.test"]);
    assert!(!unknown.status.success());
    assert!(
        unknown.stderr.contains("no user named 'nobody'"),
        "{}",
        unknown.stderr
    );
    for (extra, words) in [
        (&["--expires-in", "8d"][..], "at most 7d"),
        (&["--expires-in", "soon"][..], "duration"),
        (&["--issuer", "ftp://id.test"][..], "http or https"),
    ] {
        let mut args = vec!["user", "reset-link", "alice"];
        args.extend_from_slice(extra);
        if !extra.contains(&"--issuer") {
            args.extend_from_slice(&["--issuer", "http://id.test"]);
        }
        let refused = data.run(&args);
        assert!(!refused.status.success(), "{extra:?}");
        assert!(
            refused.stderr.contains(words),
            "{extra:?}: {}",
            refused.stderr
        );
    }

    // Directly on the file, with --issuer (a trailing slash is dropped). Making a link
    // writes nothing: the database holds nothing of it until it is used.
    let (url, _) = reset_link(&data, "alice", &["--issuer", "https://id.example.com/"]);
    assert!(
        url.starts_with("https://id.example.com/reset?token="),
        "{url}"
    );
    assert_same_files(&before, &data.snapshot(), "refused commands and a new link");

    // The link made without a server works on the server.
    let server = TestServer::start(&data, &[]);
    let browser = Browser::new();
    let page = open_form(&browser, &on_server(&server, &url));
    assert_eq!(submit(&browser, &page, NEW_PASSWORD).status, 303);
    assert!(signs_in(&server, "alice", NEW_PASSWORD));
    assert_not_in_log(&server, &[&token_of(&url)]);
    let base = server.base_url.clone();
    assert!(server.stop().success());

    // Once a server has run, its issuer is recorded, and --issuer is no longer needed.
    let (url, _) = reset_link(&data, "alice", &[]);
    assert!(url.starts_with(&format!("{base}/reset?token=")), "{url}");
}

#[test]
fn issue_12_expired_superseded_and_altered_reset_links_are_refused_and_change_nothing() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let laptop = signed_in(&server, "alice", USER_PASSWORD);
    let (later, _) = reset_link(&data, "alice", &[]);
    let (good, _) = reset_link(&data, "alice", &[]);
    let browser = Browser::new();

    // Altered: a changed character, a cut, nothing, garbage; the form carrying one too.
    let token = token_of(&good);
    let mut flipped = token.clone().into_bytes();
    let middle = flipped.len() / 2;
    flipped[middle] = if flipped[middle] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    for altered in [
        flipped.as_str(),
        &token[..token.len() - 4],
        "",
        "not-a-token",
    ] {
        let page = browser.get(&server.url(&format!("/reset?token={altered}")));
        assert_refused(&page, "not valid", &format!("token {altered:?}"));
    }
    assert_refused(&browser.get(&server.url("/reset")), "not valid", "no token");
    let form_page = open_form(&browser, &good);
    let form = form_page.require_form("/reset");
    let posted = browser.submit(
        &form_page,
        &form,
        &form.filled(&[("password", NEW_PASSWORD), ("token", &flipped)]),
    );
    assert_refused(&posted, "not valid", "the form with an altered token");

    // Expired: the link, and a form opened before it expired.
    // Expiry is in whole seconds: 3 s leaves at least 2 to open the form, even on a busy
    // machine, and 3.1 s of waiting passes it for sure.
    let (short, _) = reset_link(&data, "alice", &["--expires-in", "3s"]);
    let short_form = open_form(&browser, &short);
    std::thread::sleep(Duration::from_millis(3100));
    assert_refused(&browser.get(&short), "expired", "an expired link");
    assert_refused(
        &submit(&browser, &short_form, NEW_PASSWORD),
        "expired",
        "a form of a link that expired since",
    );

    // Superseded: the password changed another way after the link was made.
    let later_form = open_form(&browser, &later);
    data.run_with_stdin(
        &["user", "set-password", "alice", "--password-stdin"],
        "an operator's passphrase\n",
    )
    .ok();
    assert_refused(&browser.get(&later), "already used", "after set-password");
    assert_refused(
        &submit(&browser, &later_form, NEW_PASSWORD),
        "already used",
        "a form opened before set-password",
    );
    // And so is the one that was still good: it names the password that was replaced.
    assert_refused(
        &browser.get(&good),
        "already used",
        "the good link, superseded",
    );

    assert!(!signs_in(&server, "alice", NEW_PASSWORD), "nothing was set");
    assert!(signs_in(&server, "alice", "an operator's passphrase"));
    assert!(!still_signed_in(&server, &laptop), "set-password ended it");
    assert_not_in_log(&server, &[&token_of(&short), &token_of(&later), &token]);
    assert!(server.stop().success());
}

#[test]
fn issue_12_a_reset_form_without_its_csrf_token_or_with_a_short_password_changes_nothing() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let laptop = signed_in(&server, "alice", USER_PASSWORD);
    let (url, _) = reset_link(&data, "alice", &[]);
    let browser = Browser::new();
    let page = open_form(&browser, &url);
    let form = page.require_form("/reset");

    let without: Vec<(String, String)> = form
        .filled(&[("password", NEW_PASSWORD)])
        .into_iter()
        .filter(|(name, _)| name != "csrf_token")
        .collect();
    let answer = browser.submit(&page, &form, &without);
    assert_eq!(answer.status, 403, "{}", answer.describe());
    assert_error_page(&answer, "no CSRF token");
    let forged = form.filled(&[("password", NEW_PASSWORD), ("csrf_token", "forged")]);
    assert_eq!(browser.submit(&page, &form, &forged).status, 403);
    // Another browser (no CSRF cookie) posting the whole form, token included.
    let other = Browser::new();
    let cross = other.submit(&page, &form, &form.filled(&[("password", NEW_PASSWORD)]));
    assert_eq!(cross.status, 403, "{}", cross.describe());

    // A password the rules refuse: the form again, saying why.
    let short = submit(&browser, &page, "short");
    assert_eq!(short.status, 400, "{}", short.describe());
    assert!(
        short.body.contains("at least 8 characters"),
        "{}",
        short.body
    );
    assert!(short.body.contains("Nothing was changed"), "{}", short.body);

    assert!(still_signed_in(&server, &laptop), "no session ended");
    assert!(!signs_in(&server, "alice", NEW_PASSWORD));
    assert!(signs_in(&server, "alice", USER_PASSWORD));

    // The link was not used up by any of that.
    let retry = submit(&browser, &short, NEW_PASSWORD);
    assert_eq!(retry.status, 303, "{}", retry.describe());
    assert!(signs_in(&server, "alice", NEW_PASSWORD));
    assert!(!still_signed_in(&server, &laptop));
    assert_not_in_log(&server, &[&token_of(&url)]);
    assert!(server.stop().success());
}
