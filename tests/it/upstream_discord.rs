//! Issue 12: sign-in through Discord, the `discord` preset (moved by `--base-url` to a test
//! server that answers like Discord, `discord.rs`) and the same API as `--kind oauth2`.
//! Each test drives the real binary as a browser would (the sign-in page's "Continue with
//! Discord" form, the trip to Discord and back) and asserts what the user sees (status and
//! words) and what the data directory says afterwards (`user list`, `user show`). Here: the
//! first sign-in creating the account and the next finding it, an identity not known here
//! refused (an e-mail matching a user links nothing), and the client secret at rest;
//! `failures.rs` has Discord failing, `attacks.rs` the attacks on the callback.

mod attacks;
mod discord;
mod failures;

use std::collections::BTreeMap;

use url::Url;

use crate::forms::{assert_page_headers, decode_entities, Browser, Page};
use crate::support::{
    basic_header, code_request, pkce_pair, register_client, s256, token, userinfo, App, DataDir,
    Run, TestServer, USER_PASSWORD,
};
use discord::{once_each, Discord};

/// Discord application ids are snowflakes.
const CLIENT_ID: &str = "1092837465019283746";
const CLIENT_SECRET: &str = "discord-app-secret-4TqL9wXe2ZrM7bVn";
/// Nelly's Discord user id: the subject keyward keys her account by.
const SUBJECT: &str = "80351110224678912";
const REDIRECT: &str = "https://app.example/cb";
const FLOW_COOKIE: &str = "keyward_upstream_flow";

/// keyward with one client and Discord added as the `discord` preset (moved to the test
/// Discord by `--base-url`), before the server starts. The server is declared first so it
/// stops before its data directory goes.
struct World {
    server: TestServer,
    discord: Discord,
    app: App,
    data: DataDir,
}

fn world(add_flags: &[&str]) -> World {
    let discord = Discord::start(CLIENT_SECRET);
    let data = DataDir::new();
    let app = register_client(&data, "Score Tracker", &[REDIRECT], &[]);
    let mut args = vec!["--kind", "discord", "--base-url", &discord.base_url];
    args.extend(["--client-id", CLIENT_ID]);
    args.extend(add_flags);
    add_upstream(&data, "discord", &args, CLIENT_SECRET).ok();
    let server = TestServer::start(&data, &[]);
    World {
        server,
        discord,
        app,
        data,
    }
}

/// `upstream add NAME ARGS… --client-secret-stdin --json`, the secret on stdin.
fn add_upstream(data: &DataDir, name: &str, args: &[&str], secret: &str) -> Run {
    let mut all = vec!["upstream", "add", name];
    all.extend_from_slice(args);
    all.extend(["--client-secret-stdin", "--json"]);
    data.run_with_stdin(&all, &format!("{secret}\n"))
}

/// The identities `user show` lists, without the time each was linked.
#[track_caller]
fn identities(data: &DataDir, username: &str) -> Vec<(String, String)> {
    let shown = data
        .user(username)
        .unwrap_or_else(|| panic!("no user {username}"));
    shown["identities"]
        .as_array()
        .unwrap_or_else(|| panic!("no identities in {shown}"))
        .iter()
        .map(|identity| {
            assert!(identity["linked_at"].as_u64().is_some(), "{identity}");
            (
                identity["upstream"].as_str().unwrap().to_owned(),
                identity["subject"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// keyward's sign-in page at `/login?return_to=…`.
#[track_caller]
fn sign_in_page(browser: &Browser, server: &TestServer, return_to: &str) -> Page {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", return_to)
        .finish();
    let page = browser.get(&server.url(&format!("/login?{query}")));
    assert!(page.is_login(), "{}", page.describe());
    page
}

/// A sign-in through an upstream, up to Discord sending the browser back.
struct Begun {
    /// keyward's answer to "Continue with …": a 303 to Discord, with the flow cookie.
    started: Page,
    /// The authorization request, as Discord received it.
    request: BTreeMap<String, String>,
    /// Where Discord sends the browser: keyward's callback with `code` (or `error`) and
    /// `state`.
    callback: Url,
}

impl Begun {
    #[track_caller]
    fn callback_param(&self, name: &str) -> String {
        self.callback
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_else(|| panic!("no {name} in {}", self.callback))
    }

    /// The flow cookie's value, as keyward set it at the start.
    #[track_caller]
    fn flow_cookie(&self) -> String {
        self.started
            .set_cookies()
            .iter()
            .find_map(|cookie| cookie.strip_prefix(&format!("{FLOW_COOKIE}=")))
            .map(|rest| rest.split(';').next().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no flow cookie: {:?}", self.started.set_cookies()))
    }
}

/// Presses "Continue with …" (the form to `/upstream/UPSTREAM/start`) on `login`, with
/// `fill` over its fields, and lets the test Discord answer the authorization request.
#[track_caller]
fn press_continue(
    browser: &Browser,
    login: &Page,
    discord: &Discord,
    upstream: &str,
    fill: &[(&str, &str)],
) -> Begun {
    let form = login.require_form(&format!("/upstream/{upstream}/start"));
    let started = browser.submit(login, &form, &form.filled(fill));
    assert_eq!(started.status, 303, "{}", started.describe());
    let authorize = started.location().expect("Location");
    assert!(
        authorize
            .as_str()
            .starts_with(&discord.url("/oauth2/authorize?")),
        "the browser is sent to Discord: {authorize}"
    );
    let seen = discord.authorizations().len();
    let answered = browser.get(authorize.as_str());
    assert_eq!(answered.status, 302, "Discord: {}", answered.describe());
    let requests = discord.authorizations();
    assert_eq!(requests.len(), seen + 1);
    Begun {
        started,
        request: requests[seen].clone(),
        callback: answered.location().expect("Discord's Location"),
    }
}

/// From a fresh sign-in page (back to `/account`) to Discord and back.
#[track_caller]
fn begin(browser: &Browser, server: &TestServer, discord: &Discord) -> Begun {
    let login = sign_in_page(browser, server, "/account");
    press_continue(browser, &login, discord, "discord", &[])
}

/// The whole trip; keyward's answer at its callback.
#[track_caller]
fn sign_in_through_discord(browser: &Browser, server: &TestServer, discord: &Discord) -> Page {
    let begun = begin(browser, server, discord);
    browser.get(begun.callback.as_str())
}

/// `url` with the query parameter `name` set to `value` (removed for `None`).
fn with_param(url: &Url, name: &str, value: Option<&str>) -> String {
    let mut changed = url.clone();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(key, _)| key != name)
        .collect();
    {
        let mut query = changed.query_pairs_mut();
        query.clear().extend_pairs(&kept);
        if let Some(value) = value {
            query.append_pair(name, value);
        }
    }
    changed.to_string()
}

/// A signed-in answer at the callback: a 303 to `location` with a session cookie.
#[track_caller]
fn assert_signed_in(page: &Page, location: &str) {
    assert_eq!(page.status, 303, "{}", page.describe());
    assert_eq!(
        page.header("location"),
        Some(location),
        "{}",
        page.describe()
    );
    assert!(
        page.set_cookies()
            .iter()
            .any(|cookie| cookie.starts_with("keyward_session=")
                && !cookie.starts_with("keyward_session=;")),
        "no session cookie: {:?}",
        page.set_cookies()
    );
}

/// An error page about the sign-in: this status, no redirect, no session, these words.
#[track_caller]
fn assert_problem(page: &Page, status: u16, words: &[&str]) {
    assert_eq!(page.status, status, "{}", page.describe());
    assert!(page.header("location").is_none(), "{}", page.describe());
    assert_page_headers(page, "upstream sign-in problem");
    assert!(
        !page
            .set_cookies()
            .iter()
            .any(|cookie| cookie.starts_with("keyward_session=")),
        "a refused sign-in sets a session: {:?}",
        page.set_cookies()
    );
    let text = decode_entities(&page.body);
    for expected in words {
        assert!(
            text.contains(expected),
            "{expected:?} not on the page:\n{text}"
        );
    }
}

/// Whether the browser is signed in: `/account` shows the page, not a way to `/login`.
#[track_caller]
fn account_page(browser: &Browser, server: &TestServer) -> Option<Page> {
    let page = browser.get(&server.url("/account"));
    match page.status {
        200 => Some(page),
        303 => {
            assert_eq!(
                page.location().unwrap().path(),
                "/login",
                "{}",
                page.describe()
            );
            None
        }
        _ => panic!("/account answered {}", page.describe()),
    }
}

#[track_caller]
fn assert_signed_out(browser: &Browser, server: &TestServer) {
    if let Some(page) = account_page(browser, server) {
        panic!("the browser is signed in: {}", page.describe());
    }
}

#[track_caller]
fn assert_signed_in_as(browser: &Browser, server: &TestServer, username: &str) {
    let page = account_page(browser, server).expect("the browser is signed in");
    assert!(
        page.body.contains(username),
        "not {username}'s account page: {}",
        page.body
    );
}

// ---------------------------------------------------------------------------------------------
// Signing in
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_12_discord_preset_creates_the_user_on_first_sign_in_and_signs_in_to_it_after() {
    let World {
        server,
        discord,
        app,
        data,
    } = &world(&["--create-users"]);
    let browser = Browser::new();
    let (verifier, challenge) = pkce_pair();
    let authorize = code_request(
        server,
        app,
        "openid profile email",
        "st-1",
        Some(&challenge),
    );
    let return_to = authorize
        .strip_prefix(&server.base_url)
        .expect("on the server")
        .to_owned();
    let login = sign_in_page(&browser, server, &return_to);
    let text = decode_entities(&login.body);
    assert!(text.contains("Continue with Discord"), "{text}");
    assert!(text.contains("Score Tracker"), "{text}");
    let form = login.require_form("/upstream/discord/start");
    assert_eq!(form.method, "post");
    assert_eq!(form.require("return_to"), return_to);
    assert!(form.require("csrf_token").len() >= 20, "{form:?}");

    let begun = press_continue(&browser, &login, discord, "discord", &[]);
    let callback_url = server.url("/upstream/discord/callback");
    let request = &begun.request;
    assert_eq!(
        request.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            "client_id",
            "code_challenge",
            "code_challenge_method",
            "redirect_uri",
            "response_type",
            "scope",
            "state"
        ],
        "{request:?}"
    );
    assert_eq!(request["response_type"], "code");
    assert_eq!(request["client_id"], CLIENT_ID);
    assert_eq!(request["redirect_uri"], callback_url);
    assert_eq!(request["code_challenge_method"], "S256");
    let mut scope: Vec<&str> = request["scope"].split(' ').collect();
    scope.sort_unstable();
    assert_eq!(scope, ["email", "identify"], "{request:?}");
    let url_safe = |text: &str| {
        text.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    // 256 random bits each, base64url (RFC 7636 §4.1, §4.2).
    for name in ["state", "code_challenge"] {
        assert_eq!(request[name].len(), 43, "{name}: {request:?}");
        assert!(url_safe(&request[name]), "{name}: {request:?}");
    }
    let flow_cookie = begun
        .started
        .set_cookies()
        .into_iter()
        .find(|cookie| cookie.starts_with(&format!("{FLOW_COOKIE}=")))
        .expect("the flow cookie");
    for attribute in ["Path=/upstream/discord", "HttpOnly", "SameSite=Lax"] {
        assert!(flow_cookie.contains(attribute), "{flow_cookie}");
    }
    assert!(
        !flow_cookie.contains(&request["state"]),
        "the flow cookie is sealed: {flow_cookie}"
    );

    assert!(
        begun
            .callback
            .as_str()
            .starts_with(&format!("{callback_url}?")),
        "{}",
        begun.callback
    );
    assert_eq!(begun.callback_param("state"), request["state"]);
    let code = begun.callback_param("code");
    let finished = browser.get(begun.callback.as_str());
    assert_signed_in(&finished, &return_to);
    assert!(
        finished
            .set_cookies()
            .iter()
            .any(|cookie| cookie.starts_with(&format!("{FLOW_COOKIE}=;"))),
        "the flow cookie is cleared: {:?}",
        finished.set_cookies()
    );
    assert!(!discord.code_unused(&code), "the code was redeemed");

    // What keyward sent Discord: the code with the verifier of the challenge, to the same
    // redirect URI, its credentials in Basic alone; then the token as a Bearer.
    let tokens = discord.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:?}");
    let sent = &tokens[0];
    assert_eq!(sent.status, 200, "Discord accepted it: {sent:?}");
    assert_eq!(
        sent.authorization.as_deref(),
        Some(basic_header(CLIENT_ID, CLIENT_SECRET).as_str())
    );
    assert_eq!(
        once_each(&sent.form).keys().collect::<Vec<_>>(),
        ["code", "code_verifier", "grant_type", "redirect_uri"],
        "no client_secret in the body: {sent:?}"
    );
    assert_eq!(sent.field("grant_type"), "authorization_code");
    assert_eq!(sent.field("code"), code);
    assert_eq!(sent.field("redirect_uri"), callback_url);
    assert_eq!(s256(sent.field("code_verifier")), request["code_challenge"]);
    let access_tokens = discord.access_tokens();
    assert_eq!(
        discord.userinfo_requests(),
        [Some(format!("Bearer {}", access_tokens[0]))]
    );

    // Signed in as the new user, the authorization request goes on.
    let consent = browser.follow(finished);
    assert!(consent.is_consent(), "{}", consent.describe());
    assert!(consent.body.contains("Score Tracker"));
    let callback = browser.decide(&consent, "allow").callback(REDIRECT);
    assert_eq!(callback.get("state"), Some("st-1"));
    let tokens = token(
        server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", callback.code()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    )
    .ok();
    let claims = userinfo(server, tokens["access_token"].as_str().unwrap());
    assert_eq!(claims.status, 200, "{}", claims.body);
    let claims = claims.json();

    let nelly = data.user("nelly").expect("the user was created");
    assert_eq!(nelly["username"], "nelly");
    assert_eq!(nelly["email"], "nelly@discord.com");
    assert_eq!(
        nelly["email_verified"], true,
        "Discord vouches for it: {nelly}"
    );
    assert_eq!(
        identities(data, "nelly"),
        [("discord".to_owned(), SUBJECT.to_owned())]
    );
    assert_eq!(data.user_count(), 1);
    assert_eq!(claims["sub"], nelly["user_id"], "{claims}");
    assert_eq!(claims["preferred_username"], "nelly", "{claims}");
    assert_eq!(claims["email"], "nelly@discord.com", "{claims}");
    assert_eq!(claims["email_verified"], true, "{claims}");

    // An account made through Discord has no password: none signs in to it.
    for password in [USER_PASSWORD, "x"] {
        let stranger = Browser::new();
        let login = sign_in_page(&stranger, server, "/account");
        let answer = stranger.sign_in(&login, "nelly", password);
        assert_eq!(answer.status, 401, "{}", answer.describe());
    }

    // Another browser, another sign-in: the same account, no second user.
    let again = Browser::new();
    let finished = sign_in_through_discord(&again, server, discord);
    assert_signed_in(&finished, "/account");
    assert_signed_in_as(&again, server, "nelly");
    assert_eq!(data.user_count(), 1);
    assert_eq!(
        data.user("nelly").unwrap(),
        nelly,
        "nothing about her changed"
    );
    assert_eq!(discord.token_requests().len(), 2);
}

#[test]
fn issue_12_oauth2_kind_refuses_an_unknown_identity_and_never_links_by_email() {
    let discord = Discord::start(CLIENT_SECRET);
    let data = DataDir::new();
    let authorize_url = discord.url("/oauth2/authorize");
    let token_url = discord.url("/api/oauth2/token");
    let userinfo_url = discord.url("/api/users/@me");
    let added = add_upstream(
        &data,
        "chat",
        &[
            "--kind",
            "oauth2",
            "--display-name",
            "Discord",
            "--authorize-url",
            &authorize_url,
            "--token-url",
            &token_url,
            "--userinfo-url",
            &userinfo_url,
            "--subject-field",
            "id",
            "--username-field",
            "username",
            "--email-field",
            "email",
            "--email-verified-field",
            "verified",
            "--scope",
            "identify email",
            "--client-id",
            CLIENT_ID,
        ],
        CLIENT_SECRET,
    )
    .json();
    assert_eq!(added["kind"], "oauth2", "{added}");
    assert_eq!(added["create_users"], false, "{added}");
    let server = TestServer::start(&data, &[]);

    let refused_words = [
        "This account is not known here",
        "no account here is linked to that Discord account",
        "Nothing was created",
    ];
    let browser = Browser::new();
    let login = sign_in_page(&browser, &server, "/account");
    assert!(decode_entities(&login.body).contains("Continue with Discord"));
    let begun = press_continue(&browser, &login, &discord, "chat", &[]);
    assert_eq!(
        begun.request["redirect_uri"],
        server.url("/upstream/chat/callback")
    );
    let refused = browser.get(begun.callback.as_str());
    assert_problem(&refused, 403, &refused_words);
    // Discord was asked who this is, and the answer has no account here.
    assert_eq!(discord.token_requests()[0].status, 200);
    assert_eq!(discord.userinfo_requests().len(), 1);
    assert_eq!(data.user_count(), 0);
    assert_signed_out(&browser, &server);

    // Someone here has Nelly's address, verified even: a Discord account that claims the
    // same address is still not them.
    data.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "nelly",
            "--email",
            "nelly@discord.com",
            "--email-verified",
            "--password-stdin",
            "--json",
        ],
        &format!("{USER_PASSWORD}\n"),
    )
    .json();
    let before = data.user("nelly").unwrap();
    let browser = Browser::new();
    let login = sign_in_page(&browser, &server, "/account");
    let begun = press_continue(&browser, &login, &discord, "chat", &[]);
    let refused = browser.get(begun.callback.as_str());
    assert_problem(&refused, 403, &refused_words);
    assert_signed_out(&browser, &server);
    assert_eq!(data.user("nelly").unwrap(), before, "nelly is unchanged");
    assert_eq!(identities(&data, "nelly"), []);
    assert_eq!(data.user_count(), 1);

    // With sign-up through it switched on, her Discord account gets an account of its own.
    data.run(&["upstream", "set", "chat", "--create-users", "true"])
        .ok();
    let browser = Browser::new();
    let login = sign_in_page(&browser, &server, "/account");
    let begun = press_continue(&browser, &login, &discord, "chat", &[]);
    assert_signed_in(&browser.get(begun.callback.as_str()), "/account");
    assert_signed_in_as(&browser, &server, "nelly2");
    assert_eq!(
        identities(&data, "nelly2"),
        [("chat".to_owned(), SUBJECT.to_owned())]
    );
    assert_eq!(data.user("nelly").unwrap(), before, "nelly is unchanged");
    assert_eq!(identities(&data, "nelly"), []);
    assert_eq!(data.user_count(), 2);
}

// ---------------------------------------------------------------------------------------------
// The client secret at rest
// ---------------------------------------------------------------------------------------------

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn issue_12_discord_client_secret_is_never_in_the_data_directory_or_the_log_in_plain_text() {
    const SECRET: &str = "dsc-Zk3Qv8Lw2Xp9Rt5Ym7Nb4Hc6Jd1Fg0Sa";
    let discord = Discord::start(SECRET);
    let data = DataDir::new();
    let added = add_upstream(
        &data,
        "discord",
        &[
            "--kind",
            "discord",
            "--base-url",
            &discord.base_url,
            "--client-id",
            CLIENT_ID,
            "--create-users",
        ],
        SECRET,
    )
    .ok();
    let server = TestServer::start(&data, &[]);
    let browser = Browser::new();
    let page = sign_in_through_discord(&browser, &server, &discord);
    assert_signed_in(&page, "/account");
    // The secret is what Discord accepted, so keyward does hold it.
    let basic = basic_header(CLIENT_ID, SECRET);
    let sent = &discord.token_requests()[0];
    assert_eq!(
        (sent.status, sent.authorization.as_deref()),
        (200, Some(basic.as_str()))
    );
    let code = sent.field("code").to_owned();
    let access_token = discord.access_tokens()[0].clone();

    let mut printed = vec![added.stdout, added.stderr];
    let commands: [&[&str]; 3] = [
        &["upstream", "list", "--json"],
        &["upstream", "show", "discord", "--json"],
        &["user", "show", "nelly", "--json"],
    ];
    for args in commands {
        let run = data.run(args).ok();
        printed.extend([run.stdout, run.stderr]);
    }
    let log_path = server.stderr_path.clone();
    assert!(server.stop().success());
    let log = std::fs::read_to_string(&log_path).expect("the server's log");
    assert!(
        log.contains("event=\"sign_in\""),
        "the log is the server's: {log}"
    );
    printed.push(log);

    let secrets = [
        ("the client secret", SECRET),
        ("the Basic credentials", basic.trim_start_matches("Basic ")),
        ("Discord's code", code.as_str()),
        ("Discord's access token", access_token.as_str()),
    ];
    let files = data.snapshot();
    assert!(
        files.keys().any(|path| path.ends_with("keyward.redb")),
        "{:?}",
        files.keys()
    );
    for (what, secret) in secrets {
        for (path, bytes) in &files {
            assert!(
                !contains(bytes, secret.as_bytes()),
                "{what} is in {} in plain text",
                path.display()
            );
        }
        for text in &printed {
            assert!(!text.contains(secret), "{what} was printed: {text}");
        }
    }
}
