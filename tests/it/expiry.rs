//! Issue 4: background expiry, with lifetimes of a second or two. What has expired is
//! refused at once; after a sweep its records are gone from the database (read with redb
//! itself once the server has stopped), `/metrics` counts them, and what has not expired
//! stays, including the markers replay detection needs.
//!
//! Lifetimes are whole seconds (`expires_at` is a Unix time in seconds), so a 1-second
//! lifetime is anything up to a second long. Each burst of issuing starts just after the
//! wall clock turns a second (`at_start_of_a_second`), so what it issues is still good when
//! it is checked a few milliseconds later; the only other waits are for a lifetime to pass
//! or for the sweeper, and all are bounded.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use redb::{ReadableDatabase, ReadableTable, ReadableTableMetadata};
use serde_json::json;

use crate::forms::Browser;
use crate::support::{
    code_request, create_api_key, exchange_api_key, get_raw, is_active, pkce_pair, refresh_as,
    register_client, revoke, text_of, token, userinfo, App, DataDir, TestServer, USER_PASSWORD,
};

const REDIRECT: &str = "https://app.example.com/callback";

/// The short lifetimes of these tests.
const SHORT: [&str; 8] = [
    "--code-ttl",
    "1s",
    "--access-token-ttl",
    "1s",
    "--refresh-token-ttl",
    "2s",
    "--sweep-interval",
    "1s",
];

/// The longest any wait for the sweeper may take.
const SWEEP_DEADLINE: Duration = Duration::from_secs(15);

fn unix_now() -> Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap()
}

/// Sleeps until just after the wall clock turns a whole second; returns that second.
fn at_start_of_a_second() -> u64 {
    let now = unix_now();
    std::thread::sleep(Duration::from_nanos(
        1_000_000_000 - u64::from(now.subsec_nanos()) + 5_000_000,
    ));
    unix_now().as_secs()
}

/// Asserts the wall clock still reads `second`: a burst that started with it ended within it,
/// so a lifetime of one second has not run out under the test's feet.
#[track_caller]
fn still_within(second: u64, what: &str) {
    assert_eq!(
        unix_now().as_secs(),
        second,
        "{what} took more than a second: too slow for lifetimes of a second"
    );
}

/// Sleeps until the wall clock reads `second` (a Unix time) plus a margin.
fn sleep_until_second(second: u64) {
    let target = Duration::from_secs(second) + Duration::from_millis(100);
    if let Some(left) = target.checked_sub(unix_now()) {
        assert!(left < Duration::from_secs(10), "a wait of {left:?}");
        std::thread::sleep(left);
    }
}

/// `/metrics`: each `keyward_swept_records_total` by kind, and `keyward_sweeps_total`.
fn sweep_metrics(server: &TestServer) -> BTreeMap<String, u64> {
    let reply = get_raw(server, "/metrics", &[]);
    assert_eq!(reply.status, 200, "{}", reply.body);
    let mut counts = BTreeMap::new();
    for line in reply.body.lines() {
        let Some((name, value)) = line.rsplit_once(' ') else {
            continue;
        };
        let Ok(value) = value.parse::<u64>() else {
            continue;
        };
        if let Some(kind) = name
            .strip_prefix("keyward_swept_records_total{kind=\"")
            .and_then(|rest| rest.strip_suffix("\"}"))
        {
            counts.insert(kind.to_owned(), value);
        } else if name == "keyward_sweeps_total" {
            counts.insert("sweeps".to_owned(), value);
        }
    }
    counts
}

/// Polls `/metrics` until `done` holds (bounded); returns the last reading.
fn wait_for_metrics(
    server: &TestServer,
    done: impl Fn(&BTreeMap<String, u64>) -> bool,
) -> BTreeMap<String, u64> {
    let deadline = Instant::now() + SWEEP_DEADLINE;
    loop {
        let counts = sweep_metrics(server);
        if done(&counts) || Instant::now() > deadline {
            return counts;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The number of records in each of these tables of the stopped server's database (a table
/// never created counts as empty), and the expiry-index keys.
fn table_sizes(data: &DataDir, tables: &[&str]) -> (BTreeMap<String, u64>, Vec<Vec<u8>>) {
    let database = redb::ReadOnlyDatabase::open(data.path.join("keyward.redb"))
        .expect("the database opens read-only after a clean stop");
    let read = database.begin_read().expect("read transaction");
    let mut sizes = BTreeMap::new();
    for name in tables {
        let definition: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new(name);
        let size = match read.open_table(definition) {
            Ok(table) => table.len().expect("table length"),
            Err(redb::TableError::TableDoesNotExist(_)) => 0,
            Err(error) => panic!("table {name}: {error}"),
        };
        sizes.insert((*name).to_owned(), size);
    }
    let expiry: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("expiry");
    let keys = match read.open_table(expiry) {
        Ok(table) => table
            .iter()
            .expect("iterate")
            .map(|entry| entry.expect("entry").0.value().to_vec())
            .collect(),
        Err(_) => Vec::new(),
    };
    (sizes, keys)
}

/// A browser signed in as `username` through `/account`.
fn signed_in(server: &TestServer, username: &str) -> Browser {
    let browser = Browser::new();
    let login = browser.open(&server.url("/account"));
    let answer = browser.sign_in(&login, username, USER_PASSWORD);
    assert_eq!(answer.status, 303, "{}", answer.describe());
    assert_eq!(browser.follow(answer).status, 200);
    browser
}

/// A code for `app` through `browser` (consent given if asked): (code, verifier).
fn code_for(server: &TestServer, browser: &Browser, app: &App) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = code_request(server, app, "openid", "e", Some(&challenge));
    let callback = browser.approve(&url, "alice", USER_PASSWORD, REDIRECT);
    (callback.code().to_owned(), verifier)
}

fn redeem(server: &TestServer, app: &App, code: &str, verifier: &str) -> crate::support::Reply {
    token(
        server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
    )
}

#[test]
fn issue_4_expired_codes_tokens_and_api_keys_are_refused_then_swept_from_the_database() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
    let rs = register_client(
        &data,
        "Resource Server",
        &[REDIRECT],
        &["--grant-types", "client_credentials", "--scope", "api"],
    );
    let server = TestServer::start(&data, &SHORT);
    let (_, forever) = create_api_key(&data, "alice", "never expires", &[]);
    let flows = signed_in(&server, "alice");
    let stays = signed_in(&server, "alice");
    let active = |token: &str| is_active(&server, rs.auth(), token);

    // One second: an API key of one second, exchanged while it lives.
    let keyed = at_start_of_a_second();
    let (_, short_key) = create_api_key(&data, "alice", "one second", &["--expires-in", "1s"]);
    let key_tokens = exchange_api_key(&server, &short_key, None).ok();
    assert!(
        key_tokens["expires_in"].as_u64().unwrap() <= 1,
        "an access token never outlives its key: {key_tokens}"
    );
    let key_access = text_of(&key_tokens, "access_token");
    assert!(active(&key_access), "the key's token, fresh");
    still_within(keyed, "making and exchanging the key");

    // The next second: codes, a grant with a rotated refresh token, a revoked access token,
    // a client-credentials token.
    let issued = at_start_of_a_second();
    let (unused_code, unused_verifier) = code_for(&server, &flows, &web);
    let (code, verifier) = code_for(&server, &flows, &web);
    let first = redeem(&server, &web, &code, &verifier).ok();
    let second = refresh_as(&server, &web, &text_of(&first, "refresh_token")).ok();
    let access = text_of(&second, "access_token");
    let refresh = text_of(&second, "refresh_token");
    let service = text_of(
        &token(&server, rs.auth(), &[("grant_type", "client_credentials")]).ok(),
        "access_token",
    );
    assert_eq!(
        revoke(&server, Some(web.auth()), &text_of(&first, "access_token")).status,
        200
    );
    assert!(active(&access), "fresh access token");
    assert!(active(&service), "fresh client-credentials token");
    assert_eq!(userinfo(&server, &access).status, 200, "fresh access token");
    still_within(issued, "issuing and checking the tokens");

    // The refresh token, the longest-lived of them, dies two seconds after issue.
    sleep_until_second(issued + 2);
    redeem(&server, &web, &unused_code, &unused_verifier).refused(400, "invalid_grant");
    for (what, expired) in [
        ("access token", &access),
        ("API key access token", &key_access),
        ("client-credentials token", &service),
    ] {
        assert!(!active(expired), "an expired {what} is active");
        let seen = userinfo(&server, expired);
        assert_eq!(seen.status, 401, "expired {what}: {}", seen.body);
        assert!(
            seen.header("www-authenticate")
                .is_some_and(|value| value.contains(r#"error="invalid_token""#)),
            "expired {what}: {:?}",
            seen.headers
        );
    }
    refresh_as(&server, &web, &refresh).refused(400, "invalid_grant");
    exchange_api_key(&server, &short_key, None).refused(400, "invalid_grant");
    // Revoking an expired access token is a plain success that writes nothing (RFC 7009 §2.2).
    let revoked = revoke(&server, Some(web.auth()), &access);
    assert_eq!((revoked.status, revoked.json()), (200, json!({})));
    // What does not expire still works.
    exchange_api_key(&server, &forever, None).ok();

    // The sweeper finds all of it: two codes (one redeemed, kept only while its grant could
    // be replayed), two refresh tokens, the grant, the key, the revocation record. Two
    // sweeps after everything expired, all of it is due.
    let sweeps = sweep_metrics(&server)["sweeps"];
    let swept = wait_for_metrics(&server, |counts| counts["sweeps"] >= sweeps + 2);
    assert!(swept["sweeps"] >= sweeps + 2, "the sweeper is not running");
    let swept_at = unix_now().as_secs();
    // Revoking an expired refresh token, too (after the sweep: it would only have ended an
    // expired grant early).
    let revoked = revoke(&server, Some(web.auth()), &refresh);
    assert_eq!((revoked.status, revoked.json()), (200, json!({})));
    let wanted = [
        ("code", 2),
        ("refresh_token", 2),
        ("grant", 1),
        ("revocation", 1),
        ("api_key", 1),
    ];

    // Sign one browser out (its session goes at once); the other stays signed in.
    let page = flows.get(&server.url("/account"));
    let logout = page.require_form("/logout");
    let answer = flows.submit(&page, &logout, &logout.inputs);
    assert_eq!(answer.status, 303, "{}", answer.describe());
    assert_eq!(stays.get(&server.url("/account")).status, 200);
    assert!(server.stop().success());

    let tables = [
        "codes",
        "refresh_tokens",
        "grants",
        "user_grants",
        "client_grants",
        "api_keys",
        "user_api_keys",
        "revoked_access",
        "sessions",
    ];
    let (sizes, expiry_keys) = table_sizes(&data, &tables);
    let expected: BTreeMap<String, u64> = tables
        .iter()
        .map(|name| {
            let left = match *name {
                // The key that never expires, and the session still signed in.
                "api_keys" | "user_api_keys" | "sessions" => 1,
                _ => 0,
            };
            ((*name).to_owned(), left)
        })
        .collect();
    let mut failures = Vec::new();
    if sizes != expected {
        failures.push(format!(
            "records left after the sweep: {sizes:?}, expected {expected:?}"
        ));
    }
    // A sweep began after `swept_at - 1`: nothing due by then may be left in the index.
    let due: Vec<u64> = expiry_keys
        .iter()
        .map(|key| u64::from_be_bytes(key[..8].try_into().unwrap()))
        .filter(|expires_at| *expires_at < swept_at)
        .collect();
    if !due.is_empty() {
        failures.push(format!("expiry-index entries already due: {due:?}"));
    }
    for (kind, at_least) in wanted {
        let counted = swept.get(kind).copied().unwrap_or(0);
        if counted < at_least {
            failures.push(format!(
                "/metrics keyward_swept_records_total{{kind=\"{kind}\"}} is {counted}, expected at least {at_least}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn issue_4_replay_detection_outlives_the_sweep_of_expired_codes() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
    let server = TestServer::start(
        &data,
        &[
            "--code-ttl",
            "1s",
            "--refresh-token-ttl",
            "1h",
            "--sweep-interval",
            "1s",
        ],
    );
    let browser = signed_in(&server, "alice");
    // Two grants: one to replay its code, one to replay its rotated refresh token.
    let issued = at_start_of_a_second();
    let (code, verifier) = code_for(&server, &browser, &web);
    let replayed_code = redeem(&server, &web, &code, &verifier).ok();
    let (other_code, other_verifier) = code_for(&server, &browser, &web);
    let rotated = redeem(&server, &web, &other_code, &other_verifier).ok();
    let current = refresh_as(&server, &web, &text_of(&rotated, "refresh_token")).ok();
    still_within(issued, "issuing the codes");

    // Both codes expire; the sweeper runs past their expiry at least twice.
    sleep_until_second(issued + 1);
    let sweeps = sweep_metrics(&server)["sweeps"];
    let after = wait_for_metrics(&server, |counts| counts["sweeps"] >= sweeps + 2);
    assert!(after["sweeps"] >= sweeps + 2, "the sweeper is not running");

    // The expired code, replayed, still ends the grant it produced.
    redeem(&server, &web, &code, &verifier).refused(400, "invalid_grant");
    refresh_as(&server, &web, &text_of(&replayed_code, "refresh_token"))
        .refused(400, "invalid_grant");
    assert_eq!(
        userinfo(&server, &text_of(&replayed_code, "access_token")).status,
        401,
        "the replayed code's grant must be over"
    );
    // The rotated refresh token, replayed, still ends its grant.
    refresh_as(&server, &web, &text_of(&rotated, "refresh_token")).refused(400, "invalid_grant");
    refresh_as(&server, &web, &text_of(&current, "refresh_token")).refused(400, "invalid_grant");
    assert_eq!(
        userinfo(&server, &text_of(&current, "access_token")).status,
        401
    );
}

#[test]
fn issue_4_a_grant_kept_alive_by_rotation_outlives_its_first_expiry_and_is_swept_after_its_last() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
    let server = TestServer::start(&data, &SHORT);
    let browser = signed_in(&server, "alice");

    // Issued at t, the grant would end at t + 2; a rotation each second slides it along.
    let issued = at_start_of_a_second();
    let (code, verifier) = code_for(&server, &browser, &web);
    let mut refresh = text_of(
        &redeem(&server, &web, &code, &verifier).ok(),
        "refresh_token",
    );
    for second in 1..=3 {
        at_start_of_a_second();
        let rotated = refresh_as(&server, &web, &refresh);
        assert_eq!(
            rotated.status, 200,
            "rotation at t + {second}s, past sweeps: {}",
            rotated.body
        );
        refresh = text_of(&rotated.json(), "refresh_token");
    }

    // The last refresh token dies at t + 5; two sweeps later, the grant is gone.
    sleep_until_second(issued + 5);
    refresh_as(&server, &web, &refresh).refused(400, "invalid_grant");
    let sweeps = sweep_metrics(&server)["sweeps"];
    let swept = wait_for_metrics(&server, |counts| counts["sweeps"] >= sweeps + 2);
    assert!(swept["grant"] >= 1, "{swept:?}");
    assert!(server.stop().success());
    let (sizes, _) = table_sizes(&data, &["grants", "refresh_tokens", "codes"]);
    assert_eq!(
        sizes.values().copied().collect::<Vec<_>>(),
        [0, 0, 0],
        "records left: {sizes:?}"
    );
}

#[test]
fn issue_4_a_rotated_refresh_token_replayed_after_its_own_expiry_still_ends_its_living_grant() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
    let server = TestServer::start(
        &data,
        &["--refresh-token-ttl", "3s", "--sweep-interval", "1s"],
    );
    let browser = signed_in(&server, "alice");

    // The first refresh token dies at t + 3; rotations keep its grant alive past that.
    let issued = at_start_of_a_second();
    let (code, verifier) = code_for(&server, &browser, &web);
    let first = text_of(
        &redeem(&server, &web, &code, &verifier).ok(),
        "refresh_token",
    );
    let mut current = first.clone();
    for _ in 1..=3 {
        at_start_of_a_second();
        current = text_of(&refresh_as(&server, &web, &current).ok(), "refresh_token");
    }
    // Now t + 3: the first token has expired. Let the sweeper run past it.
    assert!(unix_now().as_secs() >= issued + 3);
    let sweeps = sweep_metrics(&server)["sweeps"];
    let after = wait_for_metrics(&server, |counts| counts["sweeps"] >= sweeps + 2);
    assert!(after["sweeps"] >= sweeps + 2, "the sweeper is not running");
    assert!(
        unix_now().as_secs() < issued + 6,
        "too slow: the current refresh token expired too"
    );

    // Two parties hold the first token: presenting it must still end the grant.
    refresh_as(&server, &web, &first).refused(400, "invalid_grant");
    let reply = refresh_as(&server, &web, &current);
    assert_eq!(
        (reply.status, reply.error().as_str()),
        (400, "invalid_grant"),
        "a rotated refresh token, replayed after its own expiry while its grant lives, did not end \
         the grant (its marker was swept too early): {}",
        reply.body
    );
}

#[test]
fn issue_4_an_access_token_never_outlives_its_grant_when_access_lives_longer_than_refresh() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
    let server = TestServer::start(
        &data,
        &["--access-token-ttl", "4s", "--refresh-token-ttl", "2s"],
    );
    let browser = signed_in(&server, "alice");

    // Redeemed at t: the grant lives to t + 4, as long as its first access token.
    let issued = at_start_of_a_second();
    let (code, verifier) = code_for(&server, &browser, &web);
    let first = redeem(&server, &web, &code, &verifier).ok();
    still_within(issued, "the redemption");
    assert_eq!(first["expires_in"], 4, "{first}");

    // Rotated at t + 1: the new refresh token ends at t + 3, so the grant still ends at
    // t + 4, and the new access token may not claim t + 5.
    let rotated_at = at_start_of_a_second();
    let rotated = refresh_as(&server, &web, &text_of(&first, "refresh_token")).ok();
    still_within(rotated_at, "the rotation");
    let expires_in = rotated["expires_in"].as_u64().expect("expires_in");
    assert_eq!(
        rotated_at + expires_in,
        issued + 4,
        "the access token outlives its grant: {rotated}"
    );
}
