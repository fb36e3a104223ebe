//! Issue 9, sign-in: throttling that holds under parallel guesses and behind a proxy, device
//! cookies, sign-out that asks, an https issuer reached over http, hostile `return_to`, and
//! password changes that end sessions. Each test is named after what it guards.
//!
//! Most tests speak raw HTTP with their own cookie handling (`Visitor`), because they need
//! what a browser never does: forged forwarding headers, a cookie jar to copy or withhold,
//! dozens of submissions at once.

use std::time::Duration;

use reqwest::blocking::Client;

use crate::forms::{decode_entities, Browser};
use crate::support::{DataDir, TestServer, USER_PASSWORD};

/// A client that keeps cookies by hand, so a test can copy, drop or forge them.
#[derive(Clone)]
struct Visitor {
    base: String,
    client: Client,
    cookies: Vec<(String, String)>,
    headers: Vec<(String, String)>,
}

struct Answer {
    status: u16,
    location: Option<String>,
    retry_after: Option<String>,
    set_cookies: Vec<String>,
    body: String,
}

impl Visitor {
    fn new(server: &TestServer) -> Visitor {
        Visitor {
            base: server.base_url.clone(),
            client: Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap(),
            cookies: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// The same visitor, seen by the server as coming from `address` through a proxy.
    fn via_proxy_as(&self, address: &str) -> Visitor {
        let mut visitor = self.clone();
        visitor.cookies.clear();
        visitor.headers = vec![("X-Forwarded-For".into(), address.into())];
        visitor
    }

    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn send(&mut self, request: reqwest::blocking::RequestBuilder) -> Answer {
        let mut request = request;
        if !self.cookies.is_empty() {
            request = request.header("cookie", self.cookie_header());
        }
        for (name, value) in &self.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request.send().expect("request");
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        let set_cookies: Vec<String> = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        for cookie in &set_cookies {
            let pair = cookie.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.cookies.retain(|(kept, _)| kept != name);
            if !value.is_empty() && !cookie.contains("Max-Age=0") {
                self.cookies.push((name.to_owned(), value.to_owned()));
            }
        }
        Answer {
            status: response.status().as_u16(),
            location: header("location"),
            retry_after: header("retry-after"),
            set_cookies,
            body: response.text().unwrap(),
        }
    }

    fn get(&mut self, path: &str) -> Answer {
        let request = self.client.get(format!("{}{path}", self.base));
        self.send(request)
    }

    fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        self.send(request)
    }

    /// Loads the sign-in page (which sets the CSRF cookie) and returns the form's token.
    fn login_token(&mut self) -> String {
        let page = self.get("/login");
        assert_eq!(page.status, 200);
        hidden(&page.body, "csrf_token")
    }

    fn sign_in(&mut self, username: &str, password: &str) -> Answer {
        let token = self.login_token();
        self.sign_in_with(&token, username, password, "/account")
    }

    fn sign_in_with(
        &mut self,
        token: &str,
        username: &str,
        password: &str,
        return_to: &str,
    ) -> Answer {
        self.post(
            "/login",
            &[
                ("csrf_token", token),
                ("return_to", return_to),
                ("username", username),
                ("password", password),
            ],
        )
    }

    fn cookie(&self, suffix: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|(name, _)| name.ends_with(suffix))
            .map(|(_, value)| value.clone())
    }
}

fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {html}"))
        + marker.len();
    let end = start + html[start..].find('"').unwrap();
    decode_entities(&html[start..end])
}

/// Sends every attempt at once, each from its own visitor (already holding a CSRF cookie and
/// token); returns the statuses.
fn burst(attempts: Vec<(Visitor, String, String, String)>) -> Vec<u16> {
    let threads: Vec<_> = attempts
        .into_iter()
        .map(|(mut visitor, token, username, password)| {
            std::thread::spawn(move || {
                visitor
                    .sign_in_with(&token, &username, &password, "/account")
                    .status
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|thread| thread.join().unwrap())
        .collect()
}

fn prepared(visitor: &Visitor) -> (Visitor, String) {
    let mut visitor = visitor.clone();
    let token = visitor.login_token();
    (visitor, token)
}

fn count(statuses: &[u16], wanted: u16) -> usize {
    statuses.iter().filter(|status| **status == wanted).count()
}

#[test]
fn issue_9_parallel_guesses_for_one_account_verify_at_most_the_limit() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let visitor = Visitor::new(&server);
    let attempts = (0..60)
        .map(|index| {
            let (visitor, token) = prepared(&visitor);
            (
                visitor,
                token,
                "alice".into(),
                format!("wrong guess {index}"),
            )
        })
        .collect();
    let statuses = burst(attempts);
    assert_eq!(count(&statuses, 401), 5, "{statuses:?}");
    assert_eq!(count(&statuses, 429), 55, "{statuses:?}");
    // The account is locked for every client that never signed in to it.
    let mut late = Visitor::new(&server);
    let answer = late.sign_in("alice", USER_PASSWORD);
    assert_eq!(answer.status, 429);
    assert!(answer.retry_after.is_some());
}

#[test]
fn issue_9_a_correct_password_inside_a_burst_from_many_addresses_is_one_of_the_five_verified() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &["--trusted-proxy", "127.0.0.1"]);
    let visitor = Visitor::new(&server);
    let mut attempts: Vec<_> = (0..50)
        .map(|index| {
            let (visitor, token) =
                prepared(&visitor.via_proxy_as(&format!("198.51.100.{}", index % 25)));
            (
                visitor,
                token,
                "alice".into(),
                format!("wrong guess {index}"),
            )
        })
        .collect();
    let (right, token) = prepared(&visitor.via_proxy_as("198.51.100.77"));
    attempts.insert(30, (right, token, "alice".into(), USER_PASSWORD.into()));
    let statuses = burst(attempts);
    let verified = count(&statuses, 401) + count(&statuses, 303);
    assert!(
        verified <= 5,
        "{verified} guesses were verified: {statuses:?}"
    );
    assert_eq!(count(&statuses, 429) + verified, 51, "{statuses:?}");
}

#[test]
fn issue_9_the_password_hash_queue_is_bounded_and_sheds_load_with_503() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &["--trusted-proxy", "127.0.0.1"]);
    let visitor = Visitor::new(&server);
    // Every attempt has its own address and username, so no throttle stops any of them:
    // only the queue in front of argon2 can.
    let attempts = (0..300)
        .map(|index| {
            let address = format!("10.{}.{}.1", index / 250, index % 250);
            let (visitor, token) = prepared(&visitor.via_proxy_as(&address));
            (
                visitor,
                token,
                format!("user{index}"),
                "some password".into(),
            )
        })
        .collect();
    let statuses = burst(attempts);
    assert!(count(&statuses, 503) > 0, "nothing was shed: {statuses:?}");
    assert_eq!(
        count(&statuses, 503) + count(&statuses, 401),
        300,
        "{statuses:?}"
    );
    assert_eq!(server.healthz(), 200);
}

#[test]
fn issue_9_forwarded_headers_count_only_from_a_trusted_proxy() {
    // No trusted proxy: a forged X-Forwarded-For changes nothing, every attempt counts
    // against the real peer address.
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    let visitor = Visitor::new(&server);
    for index in 0..30 {
        let mut forged = visitor.via_proxy_as(&format!("203.0.113.{index}"));
        assert_eq!(forged.sign_in(&format!("nobody{index}"), "x").status, 401);
    }
    let mut forged = visitor.via_proxy_as("192.0.2.1");
    assert_eq!(forged.sign_in("nobody-else", "x").status, 429);
}

#[test]
fn issue_9_made_up_usernames_behind_a_trusted_proxy_do_not_lock_out_other_visitors() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    data.create_user("bob", USER_PASSWORD);
    let server = TestServer::start(&data, &["--trusted-proxy", "127.0.0.1/32"]);
    let visitor = Visitor::new(&server);
    let mut attacker = visitor.via_proxy_as("203.0.113.66");
    for index in 0..30 {
        assert_eq!(
            attacker.sign_in(&format!("made-up-{index}"), "x").status,
            401
        );
    }
    // The attacker's address is throttled...
    assert_eq!(attacker.sign_in("bob", "x").status, 429);
    // ...and nobody else's, although every request arrives from the same proxy.
    let mut alice = visitor.via_proxy_as("198.51.100.20");
    let answer = alice.sign_in("alice", USER_PASSWORD);
    assert_eq!(answer.status, 303, "{}", answer.body);
}

#[test]
fn issue_9_a_device_cookie_signs_in_past_a_lockout_that_someone_else_caused() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &["--trusted-proxy", "127.0.0.1"]);
    let visitor = Visitor::new(&server);
    // Alice signs in on her laptop, then signs out; the device cookie stays.
    let mut laptop = visitor.via_proxy_as("198.51.100.20");
    let answer = laptop.sign_in("alice", USER_PASSWORD);
    assert_eq!(answer.status, 303);
    let device = laptop.cookie("keyward_device").expect("a device cookie");
    let sign_out = laptop.get("/logout");
    let token = hidden(&sign_out.body, "csrf_token");
    assert_eq!(
        laptop.post("/logout", &[("csrf_token", &token)]).status,
        303
    );
    assert_eq!(laptop.cookie("keyward_device"), Some(device.clone()));

    // Someone else locks her account.
    let mut attacker = visitor.via_proxy_as("203.0.113.66");
    for _ in 0..5 {
        assert_eq!(attacker.sign_in("alice", "guess").status, 401);
    }
    assert_eq!(attacker.sign_in("alice", USER_PASSWORD).status, 429);
    let mut stranger = visitor.via_proxy_as("192.0.2.44");
    assert_eq!(stranger.sign_in("alice", USER_PASSWORD).status, 429);

    // Her laptop still gets in.
    let answer = laptop.sign_in("alice", USER_PASSWORD);
    assert_eq!(answer.status, 303, "{}", answer.body);

    // A device cookie is not a free pass: its own failures are limited.
    for _ in 0..5 {
        assert_eq!(laptop.sign_in("alice", "typo").status, 401);
    }
    assert_eq!(laptop.sign_in("alice", USER_PASSWORD).status, 429);

    // A forged or foreign device cookie is just an untrusted client.
    let mut forger = visitor.via_proxy_as("192.0.2.45");
    forger
        .cookies
        .push(("keyward_device".into(), "forged".into()));
    assert_eq!(forger.sign_in("alice", USER_PASSWORD).status, 429);
}

#[test]
fn issue_9_failed_and_throttled_sign_ins_are_logged_without_the_password_or_username() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let mut visitor = Visitor::new(&server);
    for _ in 0..6 {
        visitor.sign_in("alice", "hunter2-the-secret-guess");
    }
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    let failures: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("sign_in_failed"))
        .collect();
    assert_eq!(failures.len(), 5, "{log}");
    assert!(
        failures.iter().all(|line| line.contains("127.0.0.1")
            && line.contains("wrong_password")
            && line.contains("user=")),
        "{log}"
    );
    assert!(log.contains("throttled"), "{log}");
    assert!(
        !log.contains("hunter2"),
        "a password reached the log: {log}"
    );
    assert!(!log.contains("alice"), "a username reached the log: {log}");
}

#[test]
fn issue_9_get_logout_asks_and_leaves_the_session_until_the_form_is_posted() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let mut visitor = Visitor::new(&server);
    assert_eq!(visitor.sign_in("alice", USER_PASSWORD).status, 303);
    let page = visitor.get("/logout");
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("You are signed out"), "{}", page.body);
    assert!(page.body.contains("action=\"/logout\""), "{}", page.body);
    // Loading the page ended nothing.
    assert_eq!(visitor.get("/account").status, 200);
    let token = hidden(&page.body, "csrf_token");
    // Without the CSRF token the form does nothing either.
    assert_eq!(visitor.post("/logout", &[("csrf_token", "x")]).status, 403);
    assert_eq!(visitor.get("/account").status, 200);
    let answer = visitor.post("/logout", &[("csrf_token", &token)]);
    assert_eq!(answer.status, 303);
    let signed_out = visitor.get("/logout");
    assert!(
        signed_out.body.contains("You are signed out"),
        "{}",
        signed_out.body
    );
    assert_eq!(visitor.get("/account").status, 303);
}

#[test]
fn issue_9_an_https_issuer_reached_over_http_says_so_instead_of_form_expired() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &["--issuer", "https://auth.example.test"]);
    // A browser drops a Secure cookie it received over plain http.
    let mut visitor = Visitor::new(&server);
    let token = visitor.login_token();
    visitor.cookies.clear();
    let answer = visitor.sign_in_with(&token, "alice", USER_PASSWORD, "/account");
    assert_eq!(answer.status, 403);
    assert!(!answer.body.contains("expired"), "{}", answer.body);
    assert!(
        decode_entities(&answer.body).contains("https://auth.example.test/login"),
        "{}",
        answer.body
    );
    visitor.sign_in_with(&token, "alice", USER_PASSWORD, "/account");
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert_eq!(
        log.matches("over plain http").count(),
        1,
        "warned once: {log}"
    );

    // A cookie that did come back with a wrong token is an expired form, as before.
    let mut stale = Visitor::new(&server);
    stale.login_token();
    let answer = stale.sign_in_with("stale-token", "alice", USER_PASSWORD, "/account");
    assert_eq!(answer.status, 403);
    assert!(answer.body.contains("expired"), "{}", answer.body);
}

#[test]
fn issue_9_a_return_to_with_control_characters_goes_to_the_account_page() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    for hostile in ["\u{0}", "\u{b}", "\u{7f}", " ", "é", "\t"] {
        let mut visitor = Visitor::new(&server);
        let token = visitor.login_token();
        let return_to = format!("/oauth2/authorize?client_id=x{hostile}y");
        let answer = visitor.sign_in_with(&token, "alice", USER_PASSWORD, &return_to);
        assert_eq!(answer.status, 303, "{hostile:?}: {}", answer.body);
        assert_eq!(answer.location.as_deref(), Some("/account"), "{hostile:?}");
        assert!(answer
            .set_cookies
            .iter()
            .any(|cookie| cookie.starts_with("keyward_session=")));
        assert_eq!(visitor.get("/account").status, 200, "{hostile:?}");
    }
}

fn signed_in_browsers(server: &TestServer, count: usize) -> Vec<Browser> {
    (0..count)
        .map(|_| {
            let browser = Browser::new();
            let login = browser.open(&server.url("/account"));
            let answer = browser.sign_in(&login, "alice", USER_PASSWORD);
            assert_eq!(answer.status, 303);
            assert_eq!(browser.open(&server.url("/account")).status, 200);
            browser
        })
        .collect()
}

fn is_signed_out(browser: &Browser, server: &TestServer) -> bool {
    browser.open(&server.url("/account")).is_login()
}

#[test]
fn issue_9_set_password_ends_every_session_of_the_user() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    data.create_user("bob", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let alice = signed_in_browsers(&server, 2);
    let bob = Browser::new();
    let login = bob.open(&server.url("/account"));
    assert_eq!(bob.sign_in(&login, "bob", USER_PASSWORD).status, 303);
    data.run_with_stdin(
        &["user", "set-password", "alice", "--password-stdin"],
        "a brand new passphrase\n",
    )
    .ok();
    for browser in &alice {
        assert!(is_signed_out(browser, &server));
    }
    assert!(
        !is_signed_out(&bob, &server),
        "another user's session ended"
    );
}

#[test]
fn issue_9_user_sign_out_ends_a_users_sessions_on_demand() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let browsers = signed_in_browsers(&server, 3);
    let ended = data.run(&["user", "sign-out", "alice", "--json"]).json();
    assert_eq!(ended["sessions_ended"], 3, "{ended}");
    assert_eq!(ended["username"], "alice");
    for browser in &browsers {
        assert!(is_signed_out(browser, &server));
    }
    // And without a server, directly on the file.
    let _again = signed_in_browsers(&server, 1);
    server.stop();
    let ended = data.run(&["user", "sign-out", "alice", "--json"]).json();
    assert_eq!(ended["sessions_ended"], 1, "{ended}");
    let ended = data.run(&["user", "sign-out", "alice", "--json"]).json();
    assert_eq!(ended["sessions_ended"], 0, "{ended}");
    // An unknown user is an error that changes nothing.
    let before = data.snapshot();
    let run = data.run(&["user", "sign-out", "nobody"]);
    assert!(!run.status.success());
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    crate::support::assert_same_files(&before, &data.snapshot(), "sign-out of nobody");
}

/// Issue 12, item 3: `serve --password-login off` shows no password form, says why, and
/// refuses a posted one with 403 without checking it: a correct password signs nobody in.
/// The default (`on`) is the password form as before.
#[test]
fn issue_12_password_login_off_hides_the_form_and_refuses_a_correct_password() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let browser = Browser::new();
    // Default on: the form, with a CSRF token the browser keeps for the next server.
    let server = TestServer::start(&data, &[]);
    let login = browser.get(&server.url("/login"));
    assert_eq!(login.status, 200);
    let form = login.require_form("/login");
    form.require("password");
    let csrf = form.require("csrf_token").to_owned();
    drop(server);

    let server = TestServer::start(&data, &["--password-login", "off", "--signup", "open"]);
    let page = browser.get(&server.url("/login"));
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.form("/login").is_none(), "{}", page.body);
    // Sign-up makes password accounts: off with password sign-in.
    assert!(!page.body.contains("/signup"), "{}", page.body);
    assert_eq!(browser.get(&server.url("/signup")).status, 404);
    assert!(!page.body.contains("type=\"password\""), "{}", page.body);
    assert!(
        page.body
            .contains("Password sign-in is turned off by the operator"),
        "{}",
        page.body
    );
    let posted = browser.post_form(
        &server.url("/login"),
        &[
            ("csrf_token", csrf.as_str()),
            ("return_to", "/account"),
            ("username", "alice"),
            ("password", USER_PASSWORD),
        ],
    );
    assert_eq!(posted.status, 403, "{}", posted.describe());
    assert!(
        posted.body.contains("Password sign-in is turned off"),
        "{}",
        posted.body
    );
    assert!(
        posted.set_cookies().is_empty(),
        "{:?}",
        posted.set_cookies()
    );
    let account = browser.get(&server.url("/account"));
    assert_ne!(account.status, 200, "signed in: {}", account.describe());
    let bad = data.run(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--password-login",
        "maybe",
    ]);
    assert_eq!(bad.status.code(), Some(2), "{}", bad.stderr);
    drop(server);

    // On again: the same password signs in.
    let server = TestServer::start(&data, &["--password-login", "on"]);
    let login = browser.open(&server.url("/account"));
    assert_eq!(browser.sign_in(&login, "alice", USER_PASSWORD).status, 303);
    assert_eq!(browser.get(&server.url("/account")).status, 200);
}
