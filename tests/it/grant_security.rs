//! Issue 9: what an attack run found in grants, codes, API keys and error messages, one
//! test per finding, each named after what it guards. Every test drives the real binary: the
//! CLI, the token and authorization endpoints in plain HTTP, and `/account` through the
//! form-filling browser.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use crate::forms::{decode_entities, form_with_field, input_value_by_id, Browser, Page};
use crate::support::{
    assert_same_files, authorize_url, code_flow_tokens, code_request, create_api_key,
    exchange_api_key, get_raw, introspection, list_api_keys, list_grants, pkce_pair, refresh_as,
    register_client, text_of, token, token_raw, App, ClientAuth, DataDir, TestServer,
    USER_PASSWORD,
};

const REDIRECT: &str = "https://app.example.com/callback";
const OTHER_REDIRECT: &str = "https://app.example.com/other";
const FORM: &str = "application/x-www-form-urlencoded";

/// A server with `alice` and `bob`, a confidential code-flow client `web` (two redirect
/// URIs), a second one `other`, and `rs`, a resource server that introspects.
struct World {
    data: DataDir,
    server: TestServer,
    web: App,
    other: App,
    rs: App,
}

impl World {
    fn new(serve: &[&str]) -> World {
        let data = DataDir::new();
        data.create_user("alice", USER_PASSWORD);
        data.create_user("bob", USER_PASSWORD);
        let server = TestServer::start(&data, serve);
        let scope = ["--scope", "openid profile email"];
        let web = register_client(&data, "Web", &[REDIRECT, OTHER_REDIRECT], &scope);
        let other = register_client(&data, "Other", &[REDIRECT], &scope);
        let rs = register_client(
            &data,
            "Resource Server",
            &[REDIRECT],
            &["--grant-types", "client_credentials", "--scope", "api"],
        );
        World {
            data,
            server,
            web,
            other,
            rs,
        }
    }

    /// A browser signed in as `username` through `/account`; the page it lands on.
    fn signed_in(&self, username: &str) -> (Browser, Page) {
        let browser = Browser::new();
        let login = browser.open(&self.server.url("/account"));
        assert!(login.is_login(), "{}", login.describe());
        let signed_in = browser.sign_in(&login, username, USER_PASSWORD);
        assert_eq!(signed_in.status, 303, "{}", signed_in.describe());
        let page = browser.follow(signed_in);
        assert_eq!(page.status, 200, "{}", page.describe());
        (browser, page)
    }

    fn account(&self, browser: &Browser) -> Page {
        let page = browser.get(&self.server.url("/account"));
        assert_eq!(page.status, 200, "{}", page.describe());
        page
    }

    /// A code for `web` that `browser` (signed in as alice, consent already remembered)
    /// obtains and the app holds without redeeming: (code, verifier).
    fn held_code(&self, browser: &Browser) -> (String, String) {
        let (verifier, challenge) = pkce_pair();
        let url = code_request(&self.server, &self.web, "openid", "held", Some(&challenge));
        let callback = browser.approve(&url, "alice", USER_PASSWORD, REDIRECT);
        (callback.code().to_owned(), verifier)
    }

    fn redeem(&self, auth: ClientAuth<'_>, code: &str, verifier: &str) -> crate::support::Reply {
        token(
            &self.server,
            auth,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", verifier),
            ],
        )
    }
}

/// The form an account page posts to `action`, filled and submitted.
fn submit_on_page(browser: &Browser, page: &Page, action: &str, fill: &[(&str, &str)]) -> Page {
    let form = page.require_form(action);
    browser.submit(page, &form, &form.filled(fill))
}

/// The `notice` a 303 to `/account` carries.
#[track_caller]
fn notice_of(page: &Page) -> Option<String> {
    assert_eq!(page.status, 303, "{}", page.describe());
    let location = page.location().expect("Location");
    assert_eq!(location.path(), "/account", "{location}");
    location
        .query_pairs()
        .find(|(name, _)| name == "notice")
        .map(|(_, value)| value.into_owned())
}

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// A counter from `/metrics`.
fn metric(server: &TestServer, name: &str) -> u64 {
    let reply = get_raw(server, "/metrics", &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply
        .body
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics:\n{}", reply.body))
}

/// RFC 6749 §5.2: `error_description` = *( %x20-21 / %x23-5B / %x5D-7E ).
#[track_caller]
fn assert_describable(description: &str, what: &str) {
    assert!(
        description
            .bytes()
            .all(|b| matches!(b, 0x20..=0x21 | 0x23..=0x5b | 0x5d..=0x7e)),
        "{what}: error_description holds characters RFC 6749 forbids: {description:?}"
    );
    assert!(
        description.len() <= 200,
        "{what}: a {}-byte error_description",
        description.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Item 7: an API key carries the default scopes and those the operator allows for keys.
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_9_api_keys_carry_only_default_scopes_or_scopes_the_operator_allows_for_keys() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);

    // With no server: refused before the file is opened for writing, with one line naming
    // the scope.
    let before = data.snapshot();
    for (scope, named) in [("admin root:all", "admin"), ("openid root:all", "root:all")] {
        let run = data.run(&[
            "apikey", "create", "--user", "alice", "--name", "x", "--scope", scope,
        ]);
        assert!(
            !run.status.success(),
            "{scope}: a key was made: {}",
            run.stdout
        );
        let lines: Vec<&str> = run.stderr.lines().collect();
        assert_eq!(lines.len(), 1, "{scope}: one line: {:?}", run.stderr);
        assert!(
            lines[0].starts_with("error: ") && lines[0].contains(&format!("'{named}'")),
            "{scope}: the refused scope is named: {}",
            lines[0]
        );
    }
    assert_same_files(&before, &data.snapshot(), "a refused apikey create");
    assert_eq!(list_api_keys(&data, "alice"), Vec::<Value>::new());

    // A flag that takes no value refuses one.
    let run = data.run(&[
        "scope",
        "set",
        "deploy",
        "--description",
        "D",
        "--api-keys=yes",
    ]);
    assert!(!run.status.success(), "{}", run.stdout);
    assert_same_files(&before, &data.snapshot(), "a malformed scope set");

    let server = TestServer::start(&data, &[]);
    let rs = register_client(
        &data,
        "Resource Server",
        &[REDIRECT],
        &["--grant-types", "client_credentials", "--scope", "api"],
    );
    // Through the running server (the admin socket), the same refusal.
    let run = data.run(&[
        "apikey", "create", "--user", "alice", "--name", "x", "--scope", "admin",
    ]);
    assert!(!run.status.success(), "{}", run.stdout);
    assert!(run.stderr.trim().starts_with("error: ") && run.stderr.contains("'admin'"));

    // The operator allows `deploy` for keys, and describes `audit` without allowing it.
    data.run(&[
        "scope",
        "set",
        "deploy",
        "--description",
        "Deploy your apps",
        "--api-keys",
    ])
    .ok();
    data.run(&[
        "scope",
        "set",
        "audit",
        "--description",
        "Read the audit log",
    ])
    .ok();
    let listed = data.run(&["scope", "list", "--json"]).json();
    let flag = |name: &str| {
        listed["scopes"]
            .as_array()
            .expect("scopes")
            .iter()
            .find(|scope| scope["scope"] == name)
            .unwrap_or_else(|| panic!("{name} not listed: {listed}"))["api_keys"]
            .clone()
    };
    assert_eq!(flag("deploy"), Value::Bool(true), "{listed}");
    assert_eq!(flag("audit"), Value::Bool(false), "{listed}");
    let human = data.run(&["scope", "list"]).ok().stdout;
    let deploy_line = human
        .lines()
        .find(|line| line.starts_with("deploy:"))
        .unwrap();
    let audit_line = human
        .lines()
        .find(|line| line.starts_with("audit:"))
        .unwrap();
    assert!(deploy_line.contains("API keys"), "{human}");
    assert!(!audit_line.contains("API keys"), "{human}");

    let run = data.run(&[
        "apikey",
        "create",
        "--user",
        "alice",
        "--name",
        "x",
        "--scope",
        "openid audit",
    ]);
    assert!(
        !run.status.success(),
        "audit is not for keys: {}",
        run.stdout
    );
    assert!(run.stderr.contains("'audit'"), "{}", run.stderr);
    let (_, key) = create_api_key(&data, "alice", "deployer", &["--scope", "openid deploy"]);
    let tokens = exchange_api_key(&server, &key, None).ok();
    let described = introspection(&server, rs.auth(), &text_of(&tokens, "access_token"));
    assert_eq!(described["scope"], "deploy openid", "{described}");

    // On the account page: refused with a notice that names the scope, nothing stored.
    let browser = Browser::new();
    let login = browser.open(&server.url("/account"));
    let page = browser.follow(browser.sign_in(&login, "alice", USER_PASSWORD));
    for (scope, named) in [("openid admin", "admin"), ("audit", "audit")] {
        let answer = submit_on_page(
            &browser,
            &page,
            "/account/api-keys",
            &[("name", "sneaky"), ("scope", scope)],
        );
        assert_eq!(
            notice_of(&answer).as_deref(),
            Some("scope-not-allowed"),
            "{scope}"
        );
        let shown = browser.follow(answer);
        assert!(
            decode_entities(&shown.body).contains(&format!("the scope {named} is not available")),
            "{scope}: the notice names the scope:\n{}",
            shown.body
        );
        assert!(input_value_by_id(&shown.body, "new-api-key").is_none());
    }
    // A crafted link cannot make the page claim a default or allowed scope is refused.
    for scope in ["openid", "deploy"] {
        let page =
            browser.get(&server.url(&format!("/account?notice=scope-not-allowed&scope={scope}")));
        assert!(
            !decode_entities(&page.body).contains(&format!("the scope {scope} is not")),
            "{scope}"
        );
    }
    let names: Vec<Value> = list_api_keys(&data, "alice")
        .into_iter()
        .map(|key| key["name"].clone())
        .collect();
    assert_eq!(names, vec![Value::from("deployer")]);
    // An allowed scope works from the page too.
    let answer = submit_on_page(
        &browser,
        &page,
        "/account/api-keys",
        &[("name", "page key"), ("scope", "deploy")],
    );
    assert_eq!(notice_of(&answer).as_deref(), Some("created"));
}

// ---------------------------------------------------------------------------------------------
// Item 8: revoking access also ends the codes the app still holds.
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_9_revoking_an_app_or_a_grant_ends_the_codes_the_app_still_holds() {
    let world = World::new(&[]);
    let (browser, _) = world.signed_in("alice");

    // /account "Revoke access", with a code the app obtained but has not redeemed.
    code_flow_tokens(&world.server, &browser, &world.web, "alice", "openid");
    let (held, verifier) = world.held_code(&browser);
    let page = world.account(&browser);
    let grant_id = text_of(&list_grants(&world.data, "alice")[0], "grant_id");
    let revoke = form_with_field(&page.body, "/account/apps/revoke", "grant_id", &grant_id)
        .expect("a revoke button");
    let answer = browser.submit(&page, &revoke, &revoke.inputs);
    assert_eq!(notice_of(&answer).as_deref(), Some("app-revoked"));
    world
        .redeem(world.web.auth(), &held, &verifier)
        .refused(400, "invalid_grant");
    assert_eq!(
        list_grants(&world.data, "alice"),
        Vec::<Value>::new(),
        "a held code became a new grant after the app was revoked"
    );

    // A code issued after the revocation (consent asked again) is good.
    let fresh = code_flow_tokens(&world.server, &browser, &world.web, "alice", "openid");
    assert!(fresh["refresh_token"].is_string());

    // `keyward grant revoke`, the same.
    let (held, verifier) = world.held_code(&browser);
    let grant_id = text_of(&list_grants(&world.data, "alice")[0], "grant_id");
    world.data.run(&["grant", "revoke", &grant_id]).ok();
    world
        .redeem(world.web.auth(), &held, &verifier)
        .refused(400, "invalid_grant");
    assert_eq!(list_grants(&world.data, "alice"), Vec::<Value>::new());
    // The fence is per app: another app's held code is untouched.
    let (verifier, challenge) = pkce_pair();
    let url = code_request(&world.server, &world.other, "openid", "o", Some(&challenge));
    let other_code = browser
        .approve(&url, "alice", USER_PASSWORD, REDIRECT)
        .code()
        .to_owned();
    code_flow_tokens(&world.server, &browser, &world.web, "alice", "openid");
    let grant_id = list_grants(&world.data, "alice")
        .into_iter()
        .find(|grant| grant["client_id"] == world.web.client_id.as_str())
        .map(|grant| text_of(&grant, "grant_id"))
        .expect("web's grant");
    world.data.run(&["grant", "revoke", &grant_id]).ok();
    world
        .redeem(world.other.auth(), &other_code, &verifier)
        .ok();
}

// ---------------------------------------------------------------------------------------------
// Item 9: a replay with wrong credentials is refused without ending the grant.
// ---------------------------------------------------------------------------------------------

/// (what, who presents the code, the parameters besides grant_type and code)
type Replay<'a> = (&'a str, ClientAuth<'a>, Vec<(&'a str, &'a str)>);

#[test]
fn issue_9_a_replayed_code_that_fails_its_checks_leaves_the_grant_alone() {
    let world = World::new(&[]);
    let browser = Browser::new();
    let (verifier, challenge) = pkce_pair();
    let url = code_request(&world.server, &world.web, "openid", "s", Some(&challenge));
    let code = browser
        .approve(&url, "alice", USER_PASSWORD, REDIRECT)
        .code()
        .to_owned();
    let first = world.redeem(world.web.auth(), &code, &verifier).ok();
    let mut refresh = text_of(&first, "refresh_token");

    let (wrong_verifier, _) = pkce_pair();
    let web = world.web.auth();
    #[rustfmt::skip]
    let replays: [Replay; 5] = [
        ("a wrong code_verifier", web, vec![("redirect_uri", REDIRECT), ("code_verifier", &wrong_verifier)]),
        ("another client's credentials", world.other.auth(), vec![("redirect_uri", REDIRECT), ("code_verifier", &verifier)]),
        ("a wrong redirect_uri", web, vec![("redirect_uri", OTHER_REDIRECT), ("code_verifier", &verifier)]),
        ("no redirect_uri", web, vec![("code_verifier", &verifier)]),
        ("no code_verifier", web, vec![("redirect_uri", REDIRECT)]),
    ];
    for (what, auth, extra) in replays {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
        ];
        params.extend(extra);
        let replay = token(&world.server, auth, &params);
        assert!(
            matches!(replay.status, 400 | 401),
            "{what}: {}",
            replay.body
        );
        let refreshed = refresh_as(&world.server, &world.web, &refresh);
        assert_eq!(
            refreshed.status, 200,
            "{what}: a replay that failed its checks ended the grant: {}",
            refreshed.body
        );
        refresh = text_of(&refreshed.json(), "refresh_token");
    }

    // A replay that would otherwise have been valid still ends it (RFC 6749 §4.1.2).
    world
        .redeem(world.web.auth(), &code, &verifier)
        .refused(400, "invalid_grant");
    refresh_as(&world.server, &world.web, &refresh).refused(400, "invalid_grant");
}

/// Found by the attack rerun: a scope the operator withdraws from API keys no longer
/// reaches the tokens of keys made while it was allowed.
#[test]
fn issue_9_a_scope_withdrawn_from_api_keys_leaves_the_tokens_of_existing_keys() {
    let world = World::new(&[]);
    world
        .data
        .run(&[
            "scope",
            "set",
            "files",
            "--description",
            "Your files",
            "--api-keys",
        ])
        .ok();
    let (_, key) = create_api_key(&world.data, "alice", "backup", &["--scope", "openid files"]);
    let before = exchange_api_key(&world.server, &key, None).ok();
    assert_eq!(before["scope"], "files openid", "{before}");
    world
        .data
        .run(&["scope", "set", "files", "--description", "Your files"])
        .ok();
    let after = exchange_api_key(&world.server, &key, None).ok();
    assert_eq!(after["scope"], "openid", "{after}");
    exchange_api_key(&world.server, &key, Some("files")).refused(400, "invalid_scope");
    world
        .data
        .run(&[
            "scope",
            "set",
            "files",
            "--description",
            "Your files",
            "--api-keys",
        ])
        .ok();
    let restored = exchange_api_key(&world.server, &key, None).ok();
    assert_eq!(restored["scope"], "files openid", "{restored}");
}

/// Found by the attack rerun: the refresh-token form of item 9. A rotated refresh token
/// presented again ends its grant only when its own client presents it; another client's
/// credentials, or a public client's id, change nothing.
#[test]
fn issue_9_a_replayed_refresh_token_from_another_client_leaves_the_grant_alone() {
    let world = World::new(&[]);
    let spa = register_client(&world.data, "SPA", &[REDIRECT], &["--public"]);
    let browser = Browser::new();
    let tokens = code_flow_tokens(&world.server, &browser, &world.web, "alice", "openid");
    let old = text_of(&tokens, "refresh_token");
    let mut current = text_of(
        &refresh_as(&world.server, &world.web, &old).ok(),
        "refresh_token",
    );
    for (what, auth) in [
        ("another client's Basic credentials", world.other.auth()),
        (
            "another client's posted credentials",
            world.other.post_auth(),
        ),
        ("a public client's id", spa.auth()),
    ] {
        let replay = token(
            &world.server,
            auth,
            &[("grant_type", "refresh_token"), ("refresh_token", &old)],
        );
        assert!(
            matches!(replay.status, 400 | 401),
            "{what}: {}",
            replay.body
        );
        let refreshed = refresh_as(&world.server, &world.web, &current);
        assert_eq!(
            refreshed.status, 200,
            "{what} ended the grant: {}",
            refreshed.body
        );
        current = text_of(&refreshed.json(), "refresh_token");
    }
    // Its own client presenting it again: two parties hold it, and the grant ends.
    refresh_as(&world.server, &world.web, &old).refused(400, "invalid_grant");
    refresh_as(&world.server, &world.web, &current).refused(400, "invalid_grant");
}

// ---------------------------------------------------------------------------------------------
// Item 10: a deleted user's codes and refresh tokens are refused.
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_9_a_deleted_users_codes_and_refresh_tokens_are_refused() {
    let world = World::new(&[]);
    let (browser, _) = world.signed_in("alice");
    let tokens = code_flow_tokens(&world.server, &browser, &world.web, "alice", "openid");
    let refresh = text_of(&tokens, "refresh_token");
    let (held, verifier) = world.held_code(&browser);

    world.data.run(&["user", "delete", "alice"]).ok();
    world
        .redeem(world.web.auth(), &held, &verifier)
        .refused(400, "invalid_grant");
    refresh_as(&world.server, &world.web, &refresh).refused(400, "invalid_grant");
    assert!(!crate::support::is_active(
        &world.server,
        world.rs.auth(),
        &text_of(&tokens, "access_token")
    ));
}

// ---------------------------------------------------------------------------------------------
// Item 11: a grant ends at --refresh-token-max-lifetime however recently it was used.
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_9_a_grant_ends_at_its_maximum_lifetime_however_recently_it_was_refreshed() {
    // Malformed values: refused at start, with a message.
    for bad in ["0s", "2", "abc", "99999d", ""] {
        let data = DataDir::new();
        let refused = TestServer::try_start(&data, &["--refresh-token-max-lifetime", bad]);
        let stderr = refused.err().unwrap_or_else(|| panic!("{bad:?} accepted"));
        assert!(
            stderr.contains("refresh-token-max-lifetime") || stderr.contains("duration"),
            "{bad:?}: {stderr}"
        );
    }

    // A 7-day refresh token, but a grant lives 2 seconds at most.
    let world = World::new(&["--refresh-token-max-lifetime", "2s"]);
    let (_, api_key) = create_api_key(&world.data, "alice", "cron", &[]);
    let browser = Browser::new();
    let first = code_flow_tokens(&world.server, &browser, &world.web, "alice", "openid");
    let mut refresh = text_of(&first, "refresh_token");
    let described = introspection(&world.server, world.rs.auth(), &refresh);
    let created = described["iat"].as_u64().expect("iat");
    let end = created + 2;
    assert!(
        described["exp"].as_u64().unwrap() <= end,
        "the refresh token outlives its grant's maximum: {described}"
    );
    assert!(first["expires_in"].as_u64().unwrap() <= 2, "{first}");
    let access = text_of(&first, "access_token");

    // Refreshed again and again, and still it ends.
    let deadline = Instant::now() + Duration::from_secs(10);
    let refused = loop {
        assert!(Instant::now() < deadline, "the grant never ended");
        let reply = refresh_as(&world.server, &world.web, &refresh);
        if reply.status != 200 {
            break reply;
        }
        let tokens = reply.json();
        let now = unix_now().as_secs();
        assert!(
            now + tokens["expires_in"].as_u64().unwrap() <= end + 1,
            "an access token outlives the grant: {tokens}"
        );
        refresh = text_of(&tokens, "refresh_token");
        std::thread::sleep(Duration::from_millis(250));
    };
    refused.refused(400, "invalid_grant");
    assert!(
        unix_now().as_secs() >= end,
        "refused before the end: {}",
        refused.body
    );
    assert!(!crate::support::is_active(
        &world.server,
        world.rs.auth(),
        &access
    ));
    // API keys are not grants: they keep their own lifetime, and their access tokens the
    // full --access-token-ttl.
    let exchanged = exchange_api_key(&world.server, &api_key, None).ok();
    assert_eq!(exchanged["expires_in"], 3600, "{exchanged}");
}

// ---------------------------------------------------------------------------------------------
// Item 12: error_description holds only what RFC 6749 allows.
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_9_error_descriptions_hold_only_the_characters_rfc_6749_allows() {
    let world = World::new(&[]);
    let hostile = "x\"y\\z\r\nSet-Cookie: a=b é§\u{0}\u{7f}\u{2028}";
    let long = "g".repeat(5000);
    let made_up_refresh = format!("{:032x}.{}", 1, "A".repeat(43));

    // The token endpoint: a hostile value, a hostile repeated name, a very long value.
    let cases: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("a hostile grant_type", vec![("grant_type", hostile)]),
        (
            "a hostile repeated parameter name",
            vec![
                ("grant_type", "authorization_code"),
                (hostile, "1"),
                (hostile, "2"),
            ],
        ),
        ("a long grant_type", vec![("grant_type", long.as_str())]),
        (
            "a hostile scope",
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", made_up_refresh.as_str()),
                ("scope", hostile),
            ],
        ),
    ];
    for (what, params) in cases {
        let reply = token(&world.server, world.web.auth(), &params);
        assert!(reply.status >= 400, "{what}: {}", reply.body);
        let json = reply.json();
        let description = json["error_description"].as_str().unwrap_or_default();
        assert_describable(description, what);
    }
    // Raw bytes a form serializer would not make: a quote and a backslash in the name.
    let reply = token_raw(
        &world.server,
        "",
        &[("content-type", FORM)],
        b"grant_type=authorization_code&a\"\\%C3%A9=1&a\"\\%C3%A9=2&client_id=x".to_vec(),
    );
    assert_describable(
        reply.json()["error_description"]
            .as_str()
            .unwrap_or_default(),
        "a raw hostile name",
    );

    // The authorization endpoint's error redirect to the client.
    for (what, pairs) in [
        (
            "a hostile repeated name",
            vec![
                ("response_type", "code"),
                ("client_id", world.web.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                (hostile, "1"),
                (hostile, "2"),
            ],
        ),
        (
            "a hostile scope",
            vec![
                ("response_type", "code"),
                ("client_id", world.web.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("scope", hostile),
            ],
        ),
        (
            "a hostile response_type",
            vec![
                ("client_id", world.web.client_id.as_str()),
                ("redirect_uri", REDIRECT),
                ("response_type", hostile),
            ],
        ),
    ] {
        let url = authorize_url(&world.server, &pairs);
        let page = Browser::new().get(&url);
        let callback = page.callback(REDIRECT);
        assert!(callback.get("error").is_some(), "{what}: {callback:?}");
        assert_describable(
            callback.get("error_description").unwrap_or_default(),
            &format!("authorize, {what}"),
        );
    }

    // A Bearer challenge names no description the caller chose.
    let reply = get_raw(
        &world.server,
        "/oauth2/userinfo",
        &[("authorization", "Bearer a\"b\\c")],
    );
    assert_eq!(reply.status, 401);
    let challenge = reply.header("www-authenticate").unwrap_or_default();
    assert!(
        !challenge.contains("a\"b") && !challenge.contains('\\'),
        "{challenge}"
    );
}

// ---------------------------------------------------------------------------------------------
// Item 13: a new API key is shown once, even if its flash cookie is replayed.
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_9_a_replayed_new_key_cookie_shows_the_key_no_more() {
    let world = World::new(&[]);
    let browser = Browser::new();
    let login = browser.open(&world.server.url("/account"));
    let signed_in = browser.sign_in(&login, "alice", USER_PASSWORD);
    let mut cookies: Vec<String> = signed_in.set_cookies();
    let page = browser.follow(signed_in);
    cookies.extend(page.set_cookies());
    let created = submit_on_page(&browser, &page, "/account/api-keys", &[("name", "laptop")]);
    assert_eq!(notice_of(&created).as_deref(), Some("created"));
    cookies.extend(created.set_cookies());
    assert!(
        cookies
            .iter()
            .any(|cookie| cookie.starts_with("keyward_new_key=")),
        "{cookies:?}"
    );
    // What a browser would send back: each cookie's latest name=value.
    let mut jar: Vec<(String, String)> = Vec::new();
    for cookie in &cookies {
        let pair = cookie.split(';').next().unwrap_or_default();
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        jar.retain(|(held, _)| held != name);
        if !value.is_empty() {
            jar.push((name.to_owned(), value.to_owned()));
        }
    }
    let cookie_header = jar
        .iter()
        .map(|(name, value)| format!("{name}={value}"))
        .collect::<Vec<_>>()
        .join("; ");

    let shown = browser.follow(created);
    let key = input_value_by_id(&shown.body, "new-api-key").expect("shown once");
    assert!(key.starts_with("kwk_"));

    // The same cookie again, as a copy kept elsewhere would send it.
    for attempt in 0..2 {
        let replayed = get_raw(
            &world.server,
            "/account?notice=created",
            &[("cookie", &cookie_header)],
        );
        assert_eq!(replayed.status, 200, "{}", replayed.body);
        assert!(
            input_value_by_id(&replayed.body, "new-api-key").is_none()
                && !replayed.body.contains(&key),
            "replay {attempt}: the key was shown again"
        );
    }
    // The key itself works, and is stored only as its hash.
    exchange_api_key(&world.server, &key, None).ok();
    let secret = key.split_once('.').unwrap().1;
    let stored = std::fs::read(world.data.path.join("keyward.redb")).unwrap();
    assert!(!stored
        .windows(secret.len())
        .any(|window| window == secret.as_bytes()));
}

// ---------------------------------------------------------------------------------------------
// Item 21: the account page says what really happened; made-up tokens cost no write.
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_9_the_account_page_says_nothing_happened_for_a_foreign_or_unknown_id() {
    let world = World::new(&[]);
    let (key_id, key) = create_api_key(&world.data, "alice", "alice's key", &[]);
    let (alice, _) = world.signed_in("alice");
    let tokens = code_flow_tokens(&world.server, &alice, &world.web, "alice", "openid");
    let grant_id = text_of(&list_grants(&world.data, "alice")[0], "grant_id");

    let (bob, bob_page) = world.signed_in("bob");
    let made_up = "0123456789abcdef0123456789abcdef";
    #[rustfmt::skip]
    let rows = [
        ("alice's key", "/account/api-keys/delete", "id", key_id.as_str(), "no-such-key", "No such API key was found; nothing was deleted."),
        ("a made-up key", "/account/api-keys/delete", "id", made_up, "no-such-key", "No such API key was found; nothing was deleted."),
        ("a malformed key id", "/account/api-keys/delete", "id", "not an id", "no-such-key", "No such API key was found; nothing was deleted."),
        ("alice's app", "/account/apps/revoke", "grant_id", grant_id.as_str(), "nothing-revoked", "Nothing was found to revoke."),
        ("a made-up grant", "/account/apps/revoke", "grant_id", made_up, "nothing-revoked", "Nothing was found to revoke."),
    ];
    let csrf = bob_page
        .require_form("/account/api-keys")
        .require("csrf_token")
        .to_owned();
    for (what, action, field, id, notice, text) in rows {
        let answer = bob.post_form(
            &world.server.url(action),
            &[("csrf_token", csrf.as_str()), (field, id)],
        );
        assert_eq!(notice_of(&answer).as_deref(), Some(notice), "{what}");
        let shown = bob.follow(answer);
        let body = decode_entities(&shown.body);
        assert!(body.contains(text), "{what}: {}", shown.body);
        assert!(
            !body.contains("API key deleted") && !body.contains("Access revoked"),
            "{what}: the page claims something happened"
        );
    }
    // Indeed nothing happened.
    exchange_api_key(&world.server, &key, None).ok();
    refresh_as(
        &world.server,
        &world.web,
        &text_of(&tokens, "refresh_token"),
    )
    .ok();
}

#[test]
fn issue_9_made_up_codes_and_refresh_tokens_are_refused_without_a_write() {
    // No sweep during the test, once the first has run.
    let world = World::new(&["--sweep-interval", "1h"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while metric(&world.server, "keyward_sweeps_total") < 1 {
        assert!(Instant::now() < deadline, "the first sweep never ran");
        std::thread::sleep(Duration::from_millis(50));
    }
    let browser = Browser::new();
    let (verifier, challenge) = pkce_pair();
    let url = code_request(&world.server, &world.web, "openid", "s", Some(&challenge));
    let real_code = browser
        .approve(&url, "alice", USER_PASSWORD, REDIRECT)
        .code()
        .to_owned();
    let real_id = real_code.split_once('.').unwrap().0.to_owned();
    let secret = "A".repeat(43);

    let jobs_before = metric(&world.server, "keyward_write_jobs_total");
    for index in 0..10 {
        let made_up = format!("{:032x}.{secret}", 0x0123_4567_89ab_u128 + index);
        world
            .redeem(world.web.auth(), &made_up, &verifier)
            .refused(400, "invalid_grant");
        refresh_as(&world.server, &world.web, &made_up).refused(400, "invalid_grant");
        // A real id with a wrong secret is as unknown.
        let wrong_secret = format!("{real_id}.{secret}");
        world
            .redeem(world.web.auth(), &wrong_secret, &verifier)
            .refused(400, "invalid_grant");
        refresh_as(&world.server, &world.web, &wrong_secret).refused(400, "invalid_grant");
    }
    assert_eq!(
        metric(&world.server, "keyward_write_jobs_total"),
        jobs_before,
        "made-up codes and refresh tokens cost write jobs"
    );
    // The real code still redeems, and that is a write.
    world.redeem(world.web.auth(), &real_code, &verifier).ok();
    assert!(metric(&world.server, "keyward_write_jobs_total") > jobs_before);
}
