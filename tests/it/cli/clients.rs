//! Issue 13, item 4 (first part): `keyward client update ID` changes a client while it
//! keeps its id, secret and grants, takes effect with the next request (the client cache
//! serves no stale record), and refuses what would break a client's rules with one line and
//! no change.

use crate::forms::Browser;
use crate::support::{
    assert_same_files, code_flow_tokens, code_request, pkce_pair, refresh_as, register_client, App,
    DataDir, TestServer, USER_PASSWORD,
};

const FIRST: &str = "https://app.example/cb";
const SECOND: &str = "https://app.example/second";

#[test]
fn issue_13_client_update_adds_a_redirect_uri_while_serving_and_the_next_authorization_uses_it() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let app = register_client(&data, "Score Tracker", &[FIRST], &[]);
    let server = TestServer::start(&data, &[]);
    let browser = Browser::new();
    // A grant made before the change, and a client lookup cached by it.
    let before = code_flow_tokens(&server, &browser, &app, "alice", "openid profile");

    // Not registered yet: an error page, no redirect.
    let second = App {
        redirect_uri: SECOND.to_owned(),
        ..app.clone()
    };
    let (_, challenge) = pkce_pair();
    let page = browser.open(&code_request(
        &server,
        &second,
        "openid",
        "s",
        Some(&challenge),
    ));
    assert_eq!(page.status, 400, "{}", page.describe());

    let updated = data
        .run(&[
            "client",
            "update",
            &app.client_id,
            "--add-redirect-uri",
            SECOND,
            "--name",
            "Score Tracker 2",
            "--json",
        ])
        .json();
    assert_eq!(updated["redirect_uris"], serde_json::json!([FIRST, SECOND]));
    assert_eq!(updated["name"], "Score Tracker 2");

    // The next authorization may use it, and the consent page has the new name.
    let (_, challenge) = pkce_pair();
    let consent = browser.open(&code_request(
        &server,
        &second,
        "openid email",
        "s2",
        Some(&challenge),
    ));
    assert!(consent.is_consent(), "{}", consent.describe());
    assert!(consent.body.contains("Score Tracker 2"), "{}", consent.body);
    let tokens = code_flow_tokens(&server, &browser, &second, "alice", "openid profile email");
    assert!(tokens["access_token"].is_string());
    // Same id, same secret, and the grant made before still refreshes.
    refresh_as(&server, &app, before["refresh_token"].as_str().unwrap()).ok();

    // Removed again: refused at once.
    data.run(&[
        "client",
        "update",
        &app.client_id,
        "--remove-redirect-uri",
        SECOND,
    ])
    .ok();
    let (_, challenge) = pkce_pair();
    let page = browser.open(&code_request(
        &server,
        &second,
        "openid",
        "s3",
        Some(&challenge),
    ));
    assert_eq!(page.status, 400, "{}", page.describe());
    let shown = data
        .run(&["client", "show", &app.client_id, "--json"])
        .json();
    assert_eq!(shown["redirect_uris"], serde_json::json!([FIRST]));
}

#[test]
fn issue_13_client_update_refuses_what_breaks_a_rule_with_one_line_and_changes_nothing() {
    let data = DataDir::new();
    let app = register_client(&data, "Score Tracker", &[FIRST], &[]);
    let public = register_client(&data, "Phone App", &["com.example.app:/cb"], &["--public"]);
    let before = data.snapshot();
    let unknown = "0123456789abcdef0123456789abcdef";
    let refusals: Vec<(Vec<&str>, &str)> = vec![
        (vec![&app.client_id], "nothing to change"),
        (vec![unknown, "--name", "X"], "no client with id"),
        (vec!["not-an-id", "--name", "X"], "not-an-id"),
        (vec![&app.client_id, "--name", ""], "client name"),
        (
            vec![
                &app.client_id,
                "--add-redirect-uri",
                "http://evil.example/cb",
            ],
            "redirect",
        ),
        (
            vec![&app.client_id, "--remove-redirect-uri", SECOND],
            "has no redirect URI",
        ),
        (
            vec![&app.client_id, "--remove-redirect-uri", FIRST],
            "at least one --redirect-uri",
        ),
        (vec![&app.client_id, "--scope", "a\\b"], "scope"),
        (
            vec![&app.client_id, "--grant-types", "password"],
            "password",
        ),
        (
            vec![&app.client_id, "--id-token-alg", "HS256"],
            "--id-token-alg",
        ),
        (
            vec![&app.client_id, "--access-token-format", "jwt"],
            "needs a --resource",
        ),
        (
            vec![&app.client_id, "--resource", "not a uri"],
            "--resource",
        ),
        (
            vec![&public.client_id, "--grant-types", "client_credentials"],
            "public client",
        ),
    ];
    for (args, expected) in refusals {
        let mut all = vec!["client", "update"];
        all.extend(&args);
        let run = data.run(&all);
        assert!(
            !run.status.success(),
            "{args:?} was accepted: {}",
            run.stdout
        );
        assert!(
            run.stderr.contains(expected),
            "{args:?}: {expected:?} not in {}",
            run.stderr
        );
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
        assert_same_files(
            &before,
            &data.snapshot(),
            &format!("client update {args:?}"),
        );
    }
}
