//! Issue 14, item 4: `serve --log-format json`, and the audit trail of a full flow: every
//! security event is a JSON line of target `keyward::audit` with its `event`, the ids, and
//! (for what a request caused) the client address in its span; and no line of the log holds
//! a password, token, code, secret or e-mail address.

use serde_json::Value;

use crate::forms::Browser;
use crate::support::{
    code_flow_tokens, introspection, post_as_client, refresh_as, register_client, DataDir,
    TestServer, USER_PASSWORD,
};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

#[test]
fn issue_14_a_full_flow_leaves_an_audit_trail_in_json_without_a_secret() {
    let data = DataDir::new();
    data.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice.audit@example.com",
            "--password-stdin",
        ],
        &format!("{USER_PASSWORD}\n"),
    )
    .ok();
    data.create_user("victim", USER_PASSWORD);
    let app = register_client(&data, "Scores", &[REDIRECT], &[]);
    let resource = register_client(&data, "API", &[], &["--grant-types", "client_credentials"]);
    let server = TestServer::start(&data, &["--log-format", "json"]);

    // A failed sign-in, then a throttled account.
    let stranger = Browser::new();
    let failed = stranger.sign_in(
        &stranger.get(&server.url("/login")),
        "alice",
        "wrong password",
    );
    assert_ne!(failed.status, 303);
    let mut throttled = false;
    for _ in 0..10 {
        let browser = Browser::new();
        let page = browser.sign_in(&browser.get(&server.url("/login")), "victim", "not it");
        if page.status == 429 {
            throttled = true;
            break;
        }
    }
    assert!(throttled, "the account throttle never answered 429");
    // Sign-in, consent, code, refresh; a replay of the rotated refresh token ends the grant.
    let browser = Browser::new();
    let tokens = code_flow_tokens(&server, &browser, &app, "alice", "openid profile");
    let first_refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
    let rotated = refresh_as(&server, &app, &first_refresh);
    assert_eq!(rotated.status, 200);
    let rotated: Value = serde_json::from_str(&rotated.body).unwrap();
    let replay = refresh_as(&server, &app, &first_refresh);
    assert_eq!(replay.status, 400);
    // A second grant, revoked by its client; and a consent denied.
    let again = code_flow_tokens(&server, &Browser::new(), &app, "alice", "openid");
    let again_refresh = again["refresh_token"].as_str().unwrap().to_owned();
    let revoked = post_as_client(
        &server,
        "/oauth2/revoke",
        Some(app.auth()),
        &[("token", &again_refresh)],
    );
    assert_eq!(revoked.status, 200);
    let (_, challenge) = crate::support::pkce_pair();
    // (The consent is remembered: ask for it again.)
    let url = crate::support::code_request(&server, &app, "openid", "s", Some(&challenge))
        + "&prompt=consent";
    let denier = Browser::new();
    let consent = denier.authorize(&url, "alice", USER_PASSWORD);
    assert!(consent.is_consent(), "{}", consent.describe());
    denier.decide(&consent, "deny");
    // Admin commands through the socket: an API key made and deleted, a secret rotated.
    let key = data
        .run(&[
            "apikey", "create", "--user", "alice", "--name", "laptop", "--json",
        ])
        .json();
    data.run(&["apikey", "delete", key["id"].as_str().unwrap()])
        .ok();
    let secret = data
        .run(&["client", "rotate-secret", &app.client_id, "--json"])
        .json();
    let inactive = introspection(
        &server,
        resource.auth(),
        tokens["access_token"].as_str().unwrap(),
    );
    assert_eq!(inactive["active"], false, "the replay ended the grant");
    let log_path = server.stderr_path.clone();
    drop(server);

    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let audit: Vec<&Value> = lines
        .iter()
        .filter(|line| line["target"] == "keyward::audit")
        .collect();
    let find = |event: &str| -> Vec<&Value> {
        audit
            .iter()
            .copied()
            .filter(|line| line["fields"]["event"] == event)
            .collect()
    };
    for event in [
        "sign_in",
        "sign_in_failed",
        "sign_in_throttled",
        "consent_given",
        "consent_denied",
        "replay",
        "revocation",
        "api_key_created",
        "api_key_deleted",
        "client_secret_rotated",
        "admin_command",
    ] {
        assert!(!find(event).is_empty(), "no {event} line in:\n{log}");
    }
    for line in find("sign_in").iter().chain(find("consent_given").iter()) {
        assert!(line["timestamp"].is_string(), "{line}");
        assert_eq!(line["span"]["address"], "127.0.0.1", "{line}");
        assert!(line["fields"]["user_id"].is_string(), "{line}");
    }
    assert_eq!(
        find("consent_given")[0]["fields"]["client_id"],
        app.client_id.as_str()
    );
    assert_eq!(find("replay")[0]["fields"]["outcome"], "grant_ended");
    assert_eq!(
        find("revocation")[0]["fields"]["client_id"],
        app.client_id.as_str()
    );
    assert_eq!(find("api_key_created")[0]["fields"]["key_id"], key["id"]);
    assert_eq!(
        find("client_secret_rotated")[0]["fields"]["client_id"],
        app.client_id.as_str()
    );
    assert!(find("admin_command")
        .iter()
        .any(|line| line["fields"]["command"] == "api_key_create"));

    for secret in [
        USER_PASSWORD,
        "wrong password",
        "alice.audit@example.com",
        app.secret(),
        resource.secret(),
        secret["client_secret"].as_str().unwrap(),
        key["api_key"].as_str().unwrap(),
        tokens["access_token"].as_str().unwrap(),
        &first_refresh,
        rotated["refresh_token"].as_str().unwrap(),
        rotated["access_token"].as_str().unwrap(),
        &again_refresh,
    ] {
        assert!(
            !log.contains(secret),
            "the log holds a secret ({} bytes)",
            secret.len()
        );
        // Nor its opaque part alone.
        if let Some((_, part)) = secret.split_once('.') {
            if part.len() >= 20 {
                assert!(!log.contains(part), "the log holds a secret's part");
            }
        }
    }
}
