//! Issue 11 item 8, refresh from two tabs: `serve --refresh-reuse-grace`. Within the grace
//! after a rotation, the rotated refresh token presented again by its own client gets a new
//! access token and the same successor; otherwise (no grace, after it, another client, or a
//! successor already used) a replay is handled as RFC 9700 §4.14.2 says.

use std::time::Duration;

use crate::forms::Browser;
use crate::support::{
    assert_same_files, code_flow_tokens, is_active, keyward, refresh_as, register_client, text_of,
    token, App, DataDir, TestServer, USER_PASSWORD,
};

const REDIRECT: &str = "https://app.example.com/callback";

/// A server started with `serve`, alice, the code-flow clients `web` and `other`, and `rs`,
/// a resource server that introspects.
struct World {
    server: TestServer,
    web: App,
    other: App,
    rs: App,
    _data: DataDir,
}

impl World {
    fn new(serve: &[&str]) -> World {
        let data = DataDir::new();
        data.create_user("alice", USER_PASSWORD);
        let server = TestServer::start(&data, serve);
        let scope = ["--scope", "openid profile"];
        let web = register_client(&data, "Web", &[REDIRECT], &scope);
        let other = register_client(&data, "Other", &[REDIRECT], &scope);
        let rs = register_client(
            &data,
            "Resource Server",
            &[REDIRECT],
            &["--grant-types", "client_credentials", "--scope", "api"],
        );
        World {
            server,
            web,
            other,
            rs,
            _data: data,
        }
    }

    /// A new grant of `web` for alice: its first refresh token.
    fn first_refresh_token(&self) -> String {
        let tokens = code_flow_tokens(&self.server, &Browser::new(), &self.web, "alice", "openid");
        text_of(&tokens, "refresh_token")
    }

    fn active(&self, token: &str) -> bool {
        is_active(&self.server, self.rs.auth(), token)
    }
}

#[test]
fn issue_11_two_tabs_refreshing_within_the_grace_get_the_same_refresh_token() {
    let world = World::new(&["--refresh-reuse-grace", "30s"]);
    let old = world.first_refresh_token();
    let first = refresh_as(&world.server, &world.web, &old).ok();
    let second = refresh_as(&world.server, &world.web, &old).ok();
    let successor = text_of(&first, "refresh_token");
    assert_ne!(successor, old);
    assert_eq!(text_of(&second, "refresh_token"), successor);
    let (one, two) = (
        text_of(&first, "access_token"),
        text_of(&second, "access_token"),
    );
    assert_ne!(one, two, "each presentation gets its own access token");
    assert!(world.active(&one) && world.active(&two));
    // A refresh is answered the same way both times, ID token included.
    for answer in [&first, &second] {
        assert!(answer["id_token"].is_string(), "{answer}");
        assert_eq!(answer["scope"], "openid", "{answer}");
    }
    assert!(world.active(&successor));

    // The grant goes on with the successor, which rotates as usual.
    let next = text_of(
        &refresh_as(&world.server, &world.web, &successor).ok(),
        "refresh_token",
    );
    assert_ne!(next, successor);
    assert!(world.active(&one) && world.active(&next));
    // The successor has moved on, so the old token no longer belongs to a race: presenting
    // it again is a replay, and the grant ends, never leaving two live refresh tokens.
    refresh_as(&world.server, &world.web, &old).refused(400, "invalid_grant");
    refresh_as(&world.server, &world.web, &next).refused(400, "invalid_grant");
    assert!(!world.active(&one) && !world.active(&two));
}

#[test]
fn issue_11_tabs_refreshing_at_the_same_moment_all_get_the_one_successor() {
    let world = World::new(&["--refresh-reuse-grace", "30s"]);
    let old = world.first_refresh_token();
    let answers: Vec<_> = std::thread::scope(|scope| {
        let tabs: Vec<_> = (0..6)
            .map(|_| scope.spawn(|| refresh_as(&world.server, &world.web, &old)))
            .collect();
        tabs.into_iter()
            .map(|tab| tab.join().expect("tab"))
            .collect()
    });
    let mut successors: Vec<String> = answers
        .iter()
        .map(|answer| text_of(&answer.ok(), "refresh_token"))
        .collect();
    successors.dedup();
    assert_eq!(successors.len(), 1, "{successors:?}");
    refresh_as(&world.server, &world.web, &successors[0]).ok();
}

#[test]
fn issue_11_without_a_grace_the_second_presentation_ends_the_grant() {
    let world = World::new(&[]);
    let old = world.first_refresh_token();
    let first = refresh_as(&world.server, &world.web, &old).ok();
    refresh_as(&world.server, &world.web, &old).refused(400, "invalid_grant");
    refresh_as(&world.server, &world.web, &text_of(&first, "refresh_token"))
        .refused(400, "invalid_grant");
    assert!(!world.active(&text_of(&first, "access_token")));
}

#[test]
fn issue_11_another_client_within_the_grace_is_refused_and_the_grant_lives() {
    let world = World::new(&["--refresh-reuse-grace", "30s"]);
    let old = world.first_refresh_token();
    let first = refresh_as(&world.server, &world.web, &old).ok();
    let successor = text_of(&first, "refresh_token");
    for auth in [world.other.auth(), world.other.post_auth()] {
        let refused = token(
            &world.server,
            auth,
            &[("grant_type", "refresh_token"), ("refresh_token", &old)],
        );
        refused.refused(400, "invalid_grant");
        assert!(refused.json().get("refresh_token").is_none());
    }
    assert!(world.active(&text_of(&first, "access_token")));
    // Its own client still gets the successor, which still works.
    let again = refresh_as(&world.server, &world.web, &old).ok();
    assert_eq!(text_of(&again, "refresh_token"), successor);
    refresh_as(&world.server, &world.web, &successor).ok();
}

#[test]
fn issue_11_after_the_grace_a_replay_ends_the_grant() {
    let world = World::new(&["--refresh-reuse-grace", "1s"]);
    let old = world.first_refresh_token();
    let first = refresh_as(&world.server, &world.web, &old).ok();
    // The server counts whole seconds: past a second after the rotation, its grace is over.
    std::thread::sleep(Duration::from_millis(1100));
    refresh_as(&world.server, &world.web, &old).refused(400, "invalid_grant");
    refresh_as(&world.server, &world.web, &text_of(&first, "refresh_token"))
        .refused(400, "invalid_grant");
    assert!(!world.active(&text_of(&first, "access_token")));
}

#[test]
fn issue_11_a_bad_reuse_grace_is_refused_at_start_and_changes_nothing() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let before = data.snapshot();
    for bad in ["banana", "-5s", "30", "1.5s", "6m", "1h", ""] {
        let refused = TestServer::try_start(&data, &["--refresh-reuse-grace", bad]);
        let stderr = refused.err().unwrap_or_else(|| panic!("{bad:?} accepted"));
        assert!(
            stderr.contains("--refresh-reuse-grace"),
            "{bad:?} refused without naming the flag: {stderr}"
        );
        assert!(stderr.lines().count() <= 4, "{bad:?}: {stderr}");
    }
    assert_same_files(&before, &data.snapshot(), "refused serve");

    let help = keyward().args(["serve", "--help"]).output().expect("runs");
    assert!(help.status.success());
    let help = String::from_utf8(help.stdout).expect("UTF-8");
    assert!(
        help.contains("--refresh-reuse-grace <DURATION>") && help.contains("turns it off"),
        "{help}"
    );
}
