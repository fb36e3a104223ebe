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

/// Item 4: `rotate-secret --grace D` keeps the previous secret working for D and says until
/// when; after it only the new one works. (The grace here is two seconds, so that its end
/// can be waited for; `Client::secret_matches` is unit-tested at any moment.)
#[test]
fn issue_13_rotate_secret_with_a_grace_keeps_both_secrets_until_it_ends() {
    let data = DataDir::new();
    let app = register_client(
        &data,
        "Deploy Bot",
        &[FIRST],
        &["--grant-types", "client_credentials"],
    );
    let server = TestServer::start(&data, &[]);
    let works = |secret: &str| {
        crate::support::token(
            &server,
            crate::support::ClientAuth::Basic(&app.client_id, secret),
            &[("grant_type", "client_credentials")],
        )
        .status
            == 200
    };
    let old = app.client_secret.clone().unwrap();
    assert!(works(&old));
    let run = data
        .run(&["client", "rotate-secret", &app.client_id, "--grace", "1h"])
        .ok();
    assert!(
        run.stdout.contains("previous secret keeps working until"),
        "{}",
        run.stdout
    );
    let hour = data
        .run(&["client", "show", &app.client_id, "--json"])
        .json();
    let until = hour["previous_secret_valid_until"].as_u64().expect("until");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!((now + 3590..=now + 3610).contains(&until), "{hour}");
    let new = run
        .stdout
        .lines()
        .find_map(|line| line.strip_prefix("client_secret:"))
        .map(|secret| secret.trim().to_owned())
        .expect("the new secret");
    assert!(works(&old), "the previous secret within its grace");
    assert!(works(&new));

    // A short grace, to see it end.
    let rotated = data
        .run(&[
            "client",
            "rotate-secret",
            &app.client_id,
            "--grace",
            "2s",
            "--json",
        ])
        .json();
    let newest = rotated["client_secret"].as_str().unwrap().to_owned();
    assert!(!works(&old), "a second rotation ends the first secret");
    assert!(works(&new) && works(&newest));
    std::thread::sleep(std::time::Duration::from_millis(3100));
    assert!(!works(&new), "after the grace, only the new secret");
    assert!(works(&newest));

    // Without --grace the old secret stops at once; bad graces change nothing.
    let before = data
        .run(&["client", "show", &app.client_id, "--json"])
        .json();
    for (grace, expected) in [("31d", "at most 30d"), ("soon", "soon")] {
        let run = data.run(&["client", "rotate-secret", &app.client_id, "--grace", grace]);
        assert!(!run.status.success(), "{grace}");
        assert!(run.stderr.contains(expected), "{grace}: {}", run.stderr);
    }
    assert_eq!(
        data.run(&["client", "show", &app.client_id, "--json"])
            .json(),
        before
    );
    let last = data
        .run(&["client", "rotate-secret", &app.client_id, "--json"])
        .json();
    assert!(last.get("previous_secret_valid_until").is_none(), "{last}");
    assert!(!works(&newest));
    assert!(works(last["client_secret"].as_str().unwrap()));
}

/// Items 1 and 3 from the command line: `client create --owner` makes a developer's app with
/// the self-service rules, `scope set --self-service` widens them, `client verify` marks it.
#[test]
fn issue_13_owned_apps_follow_the_self_service_rules_and_client_verify_marks_them() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let before = data.snapshot();
    for (extra, expected) in [
        (
            vec!["--grant-types", "client_credentials"],
            "client_credentials",
        ),
        (vec!["--scope", "openid files:write"], "files:write"),
        (vec!["--homepage", "ftp://files.example/"], "web address"),
    ] {
        let mut args = vec![
            "client",
            "create",
            "--name",
            "Mine",
            "--redirect-uri",
            FIRST,
            "--owner",
            "alice",
        ];
        args.extend(&extra);
        let run = data.run(&args);
        assert!(!run.status.success(), "{extra:?}");
        assert!(run.stderr.contains(expected), "{extra:?}: {}", run.stderr);
        assert_same_files(&before, &data.snapshot(), &format!("{extra:?}"));
    }
    let run = data.run(&[
        "client",
        "create",
        "--name",
        "Mine",
        "--redirect-uri",
        FIRST,
        "--owner",
        "nobody",
    ]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("nobody"), "{}", run.stderr);

    data.run(&[
        "scope",
        "set",
        "files:write",
        "--description",
        "Change your files",
        "--self-service",
    ])
    .ok();
    let listed = data.run(&["scope", "list"]).ok();
    assert!(
        listed.stdout.contains("self-registered apps"),
        "{}",
        listed.stdout
    );
    let made = data
        .run(&[
            "client",
            "create",
            "--name",
            "Mine",
            "--redirect-uri",
            FIRST,
            "--owner",
            "alice",
            "--scope",
            "openid files:write",
            "--json",
        ])
        .json();
    let id = made["client_id"].as_str().unwrap().to_owned();
    let shown = data.run(&["client", "show", &id, "--json"]).json();
    assert_eq!(shown["owner"], "alice");
    assert_eq!(shown["verified"], false);
    let verified = data.run(&["client", "verify", &id, "--json"]).json();
    assert_eq!(verified["verified"], true, "{verified}");
    let undone = data
        .run(&["client", "verify", &id, "--undo", "--json"])
        .json();
    assert_eq!(undone["verified"], false, "{undone}");
    let run = data.run(&["client", "verify", "0123456789abcdef0123456789abcdef"]);
    assert!(!run.status.success());
    assert!(run.stderr.contains("no client with id"), "{}", run.stderr);
}
