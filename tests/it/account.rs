//! Issue 4: the user's own page, `/account`, driven as a browser drives it (forms filled by
//! field name, every POST answered with a 303), and the same API keys through the CLI.
//! Personal API keys are made, shown once, exchanged, used and deleted; authorized apps are
//! listed and revoked; nobody reaches another user's keys or apps.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::forms::{
    assert_page_headers, decode_entities, form_with_field, input_value_by_id, select_options,
    Browser, Page,
};
use crate::support::{
    code_flow_tokens, code_request, create_api_key, exchange_api_key, introspection, is_active,
    list_api_keys, list_grants, pkce_pair, refresh_as, register_client, text_of, userinfo, App,
    DataDir, TestServer, USER_PASSWORD,
};

const REDIRECT: &str = "https://app.example.com/callback";
const DAY: u64 = 86_400;

/// A server (sweeping, and so flushing "last used", every second) with `alice` and `bob`,
/// and a resource server client that introspects.
struct World {
    data: DataDir,
    server: TestServer,
    rs: App,
}

impl World {
    fn new() -> World {
        let data = DataDir::new();
        data.create_user("alice", USER_PASSWORD);
        data.create_user("bob", USER_PASSWORD);
        let server = TestServer::start(&data, &["--sweep-interval", "1s"]);
        let rs = register_client(
            &data,
            "Resource Server",
            &[REDIRECT],
            &["--grant-types", "client_credentials", "--scope", "api"],
        );
        World { data, server, rs }
    }

    fn app(&self, name: &str) -> App {
        register_client(
            &self.data,
            name,
            &[REDIRECT],
            &["--scope", "openid profile email"],
        )
    }

    /// A browser signed in as `username`, the way a person gets there: `/account`, sent to
    /// sign in, and back.
    fn signed_in(&self, username: &str) -> Browser {
        let browser = Browser::new();
        let login = browser.open(&self.server.url("/account"));
        assert!(login.is_login(), "{}", login.describe());
        let signed_in = browser.sign_in(&login, username, USER_PASSWORD);
        assert_eq!(signed_in.status, 303, "{}", signed_in.describe());
        assert_eq!(
            signed_in.location().expect("Location").path(),
            "/account",
            "sign-in returns to the account page"
        );
        let page = browser.follow(signed_in);
        assert_eq!(page.status, 200, "{}", page.describe());
        browser
    }

    fn account(&self, browser: &Browser) -> Page {
        let page = browser.get(&self.server.url("/account"));
        assert_eq!(page.status, 200, "{}", page.describe());
        page
    }

    fn active(&self, token: &str) -> bool {
        is_active(&self.server, self.rs.auth(), token)
    }

    /// The key named `name` in `apikey list`, if any.
    fn listed_key(&self, user: &str, name: &str) -> Option<Value> {
        list_api_keys(&self.data, user)
            .into_iter()
            .find(|key| key["name"] == name)
    }
}

/// A space-separated scope as a set of words.
fn words(scope: &Value) -> std::collections::BTreeSet<String> {
    scope
        .as_str()
        .unwrap_or_else(|| panic!("scope is not a string: {scope}"))
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

/// Asserts a 303 to `/account` with this `notice` (or none).
#[track_caller]
fn assert_back_to_account(page: &Page, notice: Option<&str>, what: &str) {
    assert_eq!(page.status, 303, "{what}: {}", page.describe());
    let location = page.location().expect("Location");
    assert_eq!(location.path(), "/account", "{what}: {location}");
    let found = location
        .query_pairs()
        .find(|(name, _)| name == "notice")
        .map(|(_, value)| value.into_owned());
    assert_eq!(found.as_deref(), notice, "{what}: {location}");
}

/// Posts the create-key form of the account page with these fields filled in.
fn create_on_page(world: &World, browser: &Browser, fill: &[(&str, &str)]) -> Page {
    let page = world.account(browser);
    let form = page.require_form("/account/api-keys");
    browser.submit(&page, &form, &form.filled(fill))
}

#[test]
fn issue_4_the_account_page_needs_a_session_and_returns_there_after_sign_in() {
    let world = World::new();
    let (key_id, key) = create_api_key(&world.data, "alice", "laptop", &[]);

    // Without a session: to the sign-in page, which comes back here.
    let stranger = Browser::new();
    let first = stranger.get(&world.server.url("/account"));
    assert_eq!(first.status, 303, "{}", first.describe());
    assert_eq!(
        first.header("location"),
        Some("/login?return_to=%2Faccount")
    );

    // The forms do nothing without a session either.
    let posts: [(&str, Vec<(&str, &str)>); 3] = [
        (
            "/account/api-keys",
            vec![("name", "sneaky"), ("scope", "openid")],
        ),
        ("/account/api-keys/delete", vec![("id", &key_id)]),
        (
            "/account/apps/revoke",
            vec![("grant_id", "00000000000000000000000000000000")],
        ),
    ];
    for (action, fields) in &posts {
        let answer = stranger.post_form(&world.server.url(action), fields);
        assert_eq!(answer.status, 303, "{action}: {}", answer.describe());
        assert_eq!(
            answer.location().expect("Location").path(),
            "/login",
            "{action}"
        );
    }
    assert!(world.listed_key("alice", "sneaky").is_none());
    exchange_api_key(&world.server, &key, None).ok();

    // Signed in: the page, with its headers, forms and the key made on the CLI.
    let browser = world.signed_in("alice");
    let page = world.account(&browser);
    assert_page_headers(&page, "the account page");
    let text = decode_entities(&page.body);
    assert!(text.contains("alice"), "{}", page.body);
    assert!(text.contains("laptop"), "the CLI's key is listed");
    let create = page.require_form("/account/api-keys");
    assert_eq!(create.method, "post");
    for field in ["csrf_token", "name", "scope"] {
        assert!(
            create.value(field).is_some(),
            "the create form lacks {field}"
        );
    }
    assert_eq!(
        select_options(&page.body, "expires_in"),
        ["90d", "30d", "7d", "1d", "365d", ""],
        "the expiry choices"
    );
    let delete = form_with_field(&page.body, "/account/api-keys/delete", "id", &key_id)
        .expect("a delete button for the key");
    assert!(delete.value("csrf_token").is_some());
}

#[test]
fn issue_4_an_api_key_made_on_the_account_page_is_shown_once_then_exchanged_used_and_deleted() {
    let world = World::new();
    let browser = world.signed_in("alice");
    let created = create_on_page(
        &world,
        &browser,
        &[
            ("name", "deploy script"),
            ("expires_in", "30d"),
            ("scope", "openid profile"),
        ],
    );
    assert_back_to_account(&created, Some("created"), "creating a key");

    // Shown once, on the page the 303 leads to.
    let cookies = created.set_cookies();
    let shown = browser.follow(created);
    assert_eq!(shown.status, 200, "{}", shown.describe());
    assert_page_headers(&shown, "the page showing a new key");
    let key = input_value_by_id(&shown.body, "new-api-key")
        .unwrap_or_else(|| panic!("no new-api-key input:\n{}", shown.body));
    assert!(key.starts_with("kwk_"), "a recognizable prefix: {key}");
    let secret = key
        .split_once('.')
        .map_or(key.as_str(), |(_, secret)| secret);
    assert!(
        !cookies.iter().any(|cookie| cookie.contains(secret)),
        "the key travels sealed, never in the clear: {cookies:?}"
    );
    for later in ["/account", "/account?notice=created"] {
        let page = browser.get(&world.server.url(later));
        assert!(
            input_value_by_id(&page.body, "new-api-key").is_none() && !page.body.contains(&key),
            "{later}: the key is shown only once"
        );
    }

    // Listed, on the CLI and on the page.
    let listed = world
        .listed_key("alice", "deploy script")
        .expect("listed by the CLI");
    let id = text_of(&listed, "id");
    assert_eq!(words(&listed["scope"]), words(&"openid profile".into()));
    assert_eq!(listed["last_used"], Value::Null);
    let created_at = listed["created_at"].as_u64().expect("created_at");
    assert_eq!(listed["expires_at"].as_u64(), Some(created_at + 30 * DAY));
    let page = world.account(&browser);
    assert!(decode_entities(&page.body).contains("deploy script"));
    let delete = form_with_field(&page.body, "/account/api-keys/delete", "id", &id)
        .expect("a delete button for the new key");

    // Exchanged, again and again: no rotation, no refresh token.
    let first = exchange_api_key(&world.server, &key, None).ok();
    let second = exchange_api_key(&world.server, &key, None).ok();
    for tokens in [&first, &second] {
        assert_eq!(words(&tokens["scope"]), words(&"openid profile".into()));
        assert!(tokens.get("refresh_token").is_none(), "{tokens}");
        assert!(tokens["expires_in"].as_u64().unwrap() <= 3600, "{tokens}");
    }
    let accesses = [
        text_of(&first, "access_token"),
        text_of(&second, "access_token"),
    ];
    assert_ne!(accesses[0], accesses[1]);
    let seen = userinfo(&world.server, &accesses[0]);
    assert_eq!(seen.status, 200, "{}", seen.body);
    assert_eq!(seen.json()["username"], "alice");
    assert_eq!(seen.json()["preferred_username"], "alice");
    let described = introspection(&world.server, world.rs.auth(), &accesses[1]);
    assert_eq!(described["active"], true);
    assert_eq!(described["username"], "alice");
    assert!(described.get("client_id").is_none(), "{described}");

    // "Last used" arrives with the next flush, without a write per use.
    let deadline = Instant::now() + Duration::from_secs(10);
    let last_used = loop {
        let listed = world.listed_key("alice", "deploy script").unwrap();
        if let Some(last_used) = listed["last_used"].as_u64() {
            break last_used;
        }
        assert!(
            Instant::now() < deadline,
            "last_used never recorded: {listed}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(last_used >= created_at, "{last_used} < {created_at}");

    // Deleted from the page: refused at once, and so are its access tokens.
    let deleted = browser.submit(&page, &delete, &delete.inputs);
    assert_back_to_account(&deleted, Some("key-deleted"), "deleting the key");
    exchange_api_key(&world.server, &key, None).refused(400, "invalid_grant");
    for access in &accesses {
        assert!(!world.active(access), "an access token outlived its key");
        assert_eq!(userinfo(&world.server, access).status, 401);
    }
    assert!(world.listed_key("alice", "deploy script").is_none());
    let page = world.account(&browser);
    assert!(!decode_entities(&page.body).contains("deploy script"));
}

/// What the create form must do with a row's fields.
#[derive(Debug)]
enum Made {
    /// A key with this lifetime (`None`: never expires) and scope.
    Key(Option<u64>, &'static str),
    Refused,
}

#[test]
fn issue_4_the_account_key_form_takes_each_expiry_choice_and_refuses_bad_input() {
    let world = World::new();
    let browser = world.signed_in("alice");
    let default_scope = "openid profile email";
    // (name, expires_in, scope, outcome)
    #[rustfmt::skip]
    let rows: [(&str, &str, &str, Made); 12] = [
        ("ninety", "90d", "", Made::Key(Some(90 * DAY), default_scope)),
        ("thirty", "30d", "openid", Made::Key(Some(30 * DAY), "openid")),
        ("seven", "7d", "profile email", Made::Key(Some(7 * DAY), "profile email")),
        ("one", "1d", "", Made::Key(Some(DAY), default_scope)),
        ("year", "365d", "", Made::Key(Some(365 * DAY), default_scope)),
        ("never", "", "openid", Made::Key(None, "openid")),
        ("", "30d", "", Made::Refused),
        ("   ", "30d", "", Made::Refused),
        ("zero", "0d", "", Made::Refused),
        ("soon", "soon", "", Made::Refused),
        ("eleven years", "4015d", "", Made::Refused),
        ("bad scope", "30d", "openid \"quoted\"", Made::Refused),
    ];
    for (name, expires_in, scope, made) in rows {
        let what = format!("{name:?} / {expires_in:?} / {scope:?}");
        let before = list_api_keys(&world.data, "alice").len();
        let answer = create_on_page(
            &world,
            &browser,
            &[("name", name), ("expires_in", expires_in), ("scope", scope)],
        );
        match made {
            Made::Key(lifetime, scope) => {
                assert_back_to_account(&answer, Some("created"), &what);
                let shown = browser.follow(answer);
                let key = input_value_by_id(&shown.body, "new-api-key")
                    .unwrap_or_else(|| panic!("{what}: the key is not shown"));
                let listed = world
                    .listed_key("alice", name)
                    .unwrap_or_else(|| panic!("{what}: not listed"));
                assert_eq!(words(&listed["scope"]), words(&scope.into()), "{what}");
                let created_at = listed["created_at"].as_u64().unwrap();
                assert_eq!(
                    listed["expires_at"].as_u64(),
                    lifetime.map(|seconds| created_at + seconds),
                    "{what}"
                );
                let tokens = exchange_api_key(&world.server, &key, None).ok();
                assert_eq!(words(&tokens["scope"]), words(&scope.into()), "{what}");
            }
            Made::Refused => {
                assert_back_to_account(&answer, Some("invalid-key"), &what);
                let shown = browser.follow(answer);
                assert!(
                    input_value_by_id(&shown.body, "new-api-key").is_none(),
                    "{what}: a key is shown"
                );
                assert_eq!(
                    list_api_keys(&world.data, "alice").len(),
                    before,
                    "{what}: a key was made"
                );
            }
        }
    }
}

/// What an API-key exchange must answer: a token with this scope, or this error.
type Exchange = Result<&'static str, (u16, &'static str)>;

#[test]
fn issue_4_an_api_key_made_on_the_cli_is_exchanged_without_rotation_and_refused_once_deleted() {
    let world = World::new();
    let (id, key) = create_api_key(
        &world.data,
        "alice",
        "ci",
        &["--scope", "openid profile", "--expires-in", "30d"],
    );
    assert!(key.starts_with("kwk_"), "{key}");
    let listed = list_api_keys(&world.data, "alice");
    assert_eq!(listed.len(), 1, "{listed:?}");
    let fields: std::collections::BTreeSet<&str> = listed[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        fields,
        [
            "created_at",
            "expires_at",
            "id",
            "last_used",
            "name",
            "scope"
        ]
        .into(),
        "{listed:?}"
    );
    assert_eq!(listed[0]["id"], id.as_str());
    assert_eq!(words(&listed[0]["scope"]), words(&"openid profile".into()));
    let created_at = listed[0]["created_at"].as_u64().unwrap();
    assert_eq!(
        listed[0]["expires_at"].as_u64(),
        Some(created_at + 30 * DAY)
    );

    let web = world.app("Web");
    let tampered = format!(
        "{}{}",
        &key[..key.len() - 1],
        if key.ends_with('A') { 'B' } else { 'A' }
    );
    let unprefixed = key.trim_start_matches("kwk_").to_owned();
    // (what, key sent, scope, a client's credentials too?, answer)
    let nobody = "kwk_0123456789abcdef0123456789abcdef.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    #[rustfmt::skip]
    let rows: [(&str, &str, Option<&str>, bool, Exchange); 9] = [
        ("the key", &key, None, false, Ok("openid profile")),
        ("the same key again", &key, None, false, Ok("openid profile")),
        ("narrowed", &key, Some("openid"), false, Ok("openid")),
        ("the same scope", &key, Some("profile openid"), false, Ok("openid profile")),
        ("wider", &key, Some("openid email"), false, Err((400, "invalid_scope"))),
        ("a tampered secret", &tampered, None, false, Err((400, "invalid_grant"))),
        ("a key of nobody", nobody, None, false, Err((400, "invalid_grant"))),
        ("without its prefix: a refresh token, which needs a client", &unprefixed, None, false, Err((401, "invalid_client"))),
        ("with a client's credentials: not that client's refresh token", &key, None, true, Err((400, "invalid_grant"))),
    ];
    let mut accesses = Vec::new();
    for (what, sent, scope, with_client, answer) in rows {
        let reply = if with_client {
            crate::support::token(
                &world.server,
                web.auth(),
                &[("grant_type", "refresh_token"), ("refresh_token", sent)],
            )
        } else {
            exchange_api_key(&world.server, sent, scope)
        };
        match answer {
            Ok(scope) => {
                let tokens = reply.ok();
                let granted: std::collections::BTreeSet<&str> =
                    tokens["scope"].as_str().unwrap().split(' ').collect();
                assert_eq!(granted, scope.split(' ').collect(), "{what}");
                assert!(tokens.get("refresh_token").is_none(), "{what}: {tokens}");
                accesses.push(text_of(&tokens, "access_token"));
            }
            Err((status, error)) => reply.refused(status, error),
        }
    }
    for access in &accesses {
        let seen = userinfo(&world.server, access);
        assert_eq!(seen.status, 200, "{}", seen.body);
        assert_eq!(seen.json()["username"], "alice");
    }

    // The CLI refuses what makes no key, and names the problem.
    for (what, args) in [
        ("an unknown user", vec!["--user", "nobody", "--name", "x"]),
        ("no name", vec!["--user", "alice", "--name", ""]),
        (
            "a zero lifetime",
            vec!["--user", "alice", "--name", "x", "--expires-in", "0s"],
        ),
        (
            "a lifetime without a unit",
            vec!["--user", "alice", "--name", "x", "--expires-in", "30"],
        ),
        (
            "a malformed scope",
            vec!["--user", "alice", "--name", "x", "--scope", "a\"b"],
        ),
    ] {
        let mut command = vec!["apikey", "create"];
        command.extend(args);
        let run = world.data.run(&command);
        assert!(!run.status.success(), "{what}: {}", run.stdout);
        assert!(!run.stderr.trim().is_empty(), "{what}: no message");
    }
    assert_eq!(list_api_keys(&world.data, "alice").len(), 1);

    // Deleted: refused at once, its access tokens too; deleting again is an error.
    world.data.run(&["apikey", "delete", &id]).ok();
    exchange_api_key(&world.server, &key, None).refused(400, "invalid_grant");
    for access in &accesses {
        assert!(!world.active(access));
        assert_eq!(userinfo(&world.server, access).status, 401);
    }
    assert_eq!(list_api_keys(&world.data, "alice"), Vec::<Value>::new());
    assert!(!world.data.run(&["apikey", "delete", &id]).status.success());
}

#[test]
fn issue_4_revoking_an_app_on_the_account_page_ends_its_tokens_at_once_and_asks_for_consent_again()
{
    let world = World::new();
    let tracker = world.app("Score Tracker");
    let other = world.app("Other App");
    let browser = world.signed_in("alice");
    let first = code_flow_tokens(&world.server, &browser, &tracker, "alice", "openid profile");
    let second = refresh_as(&world.server, &tracker, &text_of(&first, "refresh_token")).ok();
    let kept = code_flow_tokens(&world.server, &browser, &other, "alice", "openid");

    let grants = list_grants(&world.data, "alice");
    let grant_of = |app: &App| {
        grants
            .iter()
            .find(|grant| grant["client_id"] == app.client_id.as_str())
            .map(|grant| text_of(grant, "grant_id"))
            .unwrap_or_else(|| panic!("no grant of {} in {grants:?}", app.client_id))
    };
    let (tracker_grant, other_grant) = (grant_of(&tracker), grant_of(&other));

    // Listed with name and scopes, each with its own revoke button.
    let page = world.account(&browser);
    let text = decode_entities(&page.body);
    for shown in [
        "Score Tracker",
        "Other App",
        "openid profile",
        "Allowed since",
    ] {
        assert!(text.contains(shown), "the apps list lacks {shown:?}");
    }
    assert!(
        form_with_field(&page.body, "/account/apps/revoke", "grant_id", &other_grant).is_some()
    );
    let revoke = form_with_field(
        &page.body,
        "/account/apps/revoke",
        "grant_id",
        &tracker_grant,
    )
    .expect("a revoke button for Score Tracker");
    let answer = browser.submit(&page, &revoke, &revoke.inputs);
    assert_back_to_account(&answer, Some("app-revoked"), "revoking the app");

    // At once: every token of that grant.
    for (what, access) in [
        ("the first access token", text_of(&first, "access_token")),
        (
            "the refreshed access token",
            text_of(&second, "access_token"),
        ),
    ] {
        assert!(!world.active(&access), "{what} still active");
        let seen = userinfo(&world.server, &access);
        assert_eq!(seen.status, 401, "{what}: {}", seen.body);
    }
    for (what, refresh) in [
        (
            "the current refresh token",
            text_of(&second, "refresh_token"),
        ),
        (
            "the rotated refresh token",
            text_of(&first, "refresh_token"),
        ),
    ] {
        let refused = refresh_as(&world.server, &tracker, &refresh);
        assert_eq!(
            (refused.status, refused.error().as_str()),
            (400, "invalid_grant"),
            "{what}: {}",
            refused.body
        );
    }
    // The other app is untouched.
    assert!(world.active(&text_of(&kept, "access_token")));
    refresh_as(&world.server, &other, &text_of(&kept, "refresh_token")).ok();
    let page = world.account(&browser);
    let text = decode_entities(&page.body);
    assert!(
        !text.contains("Score Tracker"),
        "the revoked app is still listed"
    );
    assert!(text.contains("Other App"));
    assert_eq!(list_grants(&world.data, "alice").len(), 1);

    // The next authorization asks again; the other app's consent is still remembered.
    let (_, challenge) = pkce_pair();
    let again = code_request(
        &world.server,
        &tracker,
        "openid profile",
        "again",
        Some(&challenge),
    );
    let consent = browser.authorize(&again, "alice", USER_PASSWORD);
    assert!(
        consent.is_consent(),
        "consent again: {}",
        consent.describe()
    );
    let remembered = code_request(&world.server, &other, "openid", "again", Some(&challenge));
    assert!(!browser
        .authorize(&remembered, "alice", USER_PASSWORD)
        .is_consent());
}

#[test]
fn issue_4_nobody_deletes_another_users_key_or_revokes_another_users_app_and_forms_need_csrf() {
    let world = World::new();
    let web = world.app("Web");
    let (key_id, key) = create_api_key(&world.data, "alice", "alice's key", &[]);
    let alice = world.signed_in("alice");
    let tokens = code_flow_tokens(&world.server, &alice, &web, "alice", "openid");
    let grant_id = text_of(&list_grants(&world.data, "alice")[0], "grant_id");
    let mut refresh = text_of(&tokens, "refresh_token");

    let bob = world.signed_in("bob");
    let bob_page = world.account(&bob);
    let bob_csrf = bob_page
        .require_form("/account/api-keys")
        .require("csrf_token")
        .to_owned();
    let alice_page = world.account(&alice);
    let alice_csrf = alice_page
        .require_form("/account/api-keys")
        .require("csrf_token")
        .to_owned();

    let (delete, revoke, create) = (
        "/account/api-keys/delete",
        "/account/apps/revoke",
        "/account/api-keys",
    );
    // (what, who posts, to which action, the fields)
    type Row<'a> = (&'a str, &'a Browser, &'a str, Vec<(&'a str, &'a str)>);
    #[rustfmt::skip]
    let rows: [Row; 8] = [
        ("bob deletes alice's key", &bob, delete, vec![("csrf_token", &bob_csrf), ("id", &key_id)]),
        ("bob revokes alice's app", &bob, revoke, vec![("csrf_token", &bob_csrf), ("grant_id", &grant_id)]),
        ("alice deletes without a csrf_token", &alice, delete, vec![("id", &key_id)]),
        ("alice deletes with a forged csrf_token", &alice, delete, vec![("csrf_token", "forged"), ("id", &key_id)]),
        ("alice deletes with bob's csrf_token", &alice, delete, vec![("csrf_token", &bob_csrf), ("id", &key_id)]),
        ("alice revokes without a csrf_token", &alice, revoke, vec![("grant_id", &grant_id)]),
        ("alice creates without a csrf_token", &alice, create, vec![("name", "sneaky")]),
        ("bob creates with alice's csrf_token", &bob, create, vec![("csrf_token", &alice_csrf), ("name", "sneaky")]),
    ];
    for (what, browser, action, fields) in rows {
        let answer = browser.post_form(&world.server.url(action), &fields);
        assert!(
            answer.status == 303 || (400..500).contains(&answer.status),
            "{what}: {}",
            answer.describe()
        );
        // Nothing happened.
        exchange_api_key(&world.server, &key, None).ok();
        assert!(world.listed_key("alice", "alice's key").is_some(), "{what}");
        let refreshed = refresh_as(&world.server, &web, &refresh);
        assert_eq!(
            refreshed.status, 200,
            "{what}: the app was revoked: {}",
            refreshed.body
        );
        refresh = text_of(&refreshed.json(), "refresh_token");
        for user in ["alice", "bob"] {
            assert!(
                world.listed_key(user, "sneaky").is_none(),
                "{what}: {user} got a key"
            );
        }
    }
    assert_eq!(list_grants(&world.data, "alice").len(), 1);
}

#[test]
fn issue_4_the_account_page_shows_key_and_app_names_as_text() {
    let world = World::new();
    let key_name = "<script>alert(1)</script>";
    let app_name = "<img src=x onerror=alert(2)>";
    create_api_key(&world.data, "alice", key_name, &[]);
    let app = world.app(app_name);
    let browser = world.signed_in("alice");
    code_flow_tokens(&world.server, &browser, &app, "alice", "openid");
    let page = world.account(&browser);
    let text = decode_entities(&page.body);
    assert!(
        text.contains(key_name) && text.contains(app_name),
        "both names are shown"
    );
    let lower = page.body.to_ascii_lowercase();
    assert!(!lower.contains("<script"), "{}", page.body);
    assert!(!lower.contains("<img"), "{}", page.body);
}

#[test]
fn issue_4_api_key_use_is_recorded_in_memory_and_written_at_the_latest_when_the_server_stops() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    // The default sweep interval, a minute: no flush happens during this test.
    let server = TestServer::start(&data, &[]);
    let (_, key) = create_api_key(&data, "alice", "cron", &[]);
    for _ in 0..3 {
        exchange_api_key(&server, &key, None).ok();
    }
    let listed = list_api_keys(&data, "alice");
    assert_eq!(
        listed[0]["last_used"],
        Value::Null,
        "a use is not written on its own: {listed:?}"
    );
    assert!(server.stop().success());
    let listed = list_api_keys(&data, "alice");
    let last_used = listed[0]["last_used"]
        .as_u64()
        .unwrap_or_else(|| panic!("the uses were lost at a clean stop: {listed:?}"));
    assert!(last_used >= listed[0]["created_at"].as_u64().unwrap());
}
