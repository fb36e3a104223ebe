//! Issue 14, item 7: rate limits on the token, introspection and revocation endpoints, per
//! client address (the forwarded one behind a trusted proxy) and per authenticated client:
//! 429 with `Retry-After` past the limit, and other addresses and clients unaffected.
//! Loopback peers are the operator's own and are not limited (so benches/load.py runs as
//! before).

use serde_json::Value;

use crate::support::{basic_header, register_client, DataDir, TestServer};

struct Answer {
    status: u16,
    retry_after: Option<u64>,
    json: Value,
}

fn post(
    server: &TestServer,
    path: &str,
    from: Option<&str>,
    auth: (&str, &str),
    form: &[(&str, &str)],
) -> Answer {
    let mut request = reqwest::blocking::Client::new()
        .post(server.url(path))
        .header("Authorization", basic_header(auth.0, auth.1))
        .form(form);
    if let Some(address) = from {
        request = request.header("X-Forwarded-For", address);
    }
    let response = request.send().unwrap();
    Answer {
        status: response.status().as_u16(),
        retry_after: response
            .headers()
            .get("retry-after")
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.parse().ok()),
        json: response.json().unwrap_or(Value::Null),
    }
}

fn token(server: &TestServer, from: Option<&str>, auth: (&str, &str)) -> Answer {
    post(
        server,
        "/oauth2/token",
        from,
        auth,
        &[("grant_type", "client_credentials")],
    )
}

#[test]
fn issue_14_rate_limits_answer_429_with_retry_after_and_spare_other_addresses_and_clients() {
    let data = DataDir::new();
    let first = register_client(
        &data,
        "First",
        &[],
        &["--grant-types", "client_credentials"],
    );
    let second = register_client(
        &data,
        "Second",
        &[],
        &["--grant-types", "client_credentials"],
    );
    let server = TestServer::start(
        &data,
        &[
            "--trusted-proxy",
            "127.0.0.1",
            "--rate-limit-address",
            "5/1m",
            "--rate-limit-client",
            "8/1m",
        ],
    );
    let a = (first.client_id.as_str(), first.secret());
    let b = (second.client_id.as_str(), second.secret());
    for _ in 0..5 {
        assert_eq!(token(&server, Some("203.0.113.7"), a).status, 200);
    }
    // The address's sixth request of the minute, whatever the endpoint.
    let refused = token(&server, Some("203.0.113.7"), a);
    assert_eq!(refused.status, 429, "{}", refused.json);
    assert_eq!(refused.json["error"], "slow_down");
    assert!(refused
        .retry_after
        .is_some_and(|seconds| (1..=60).contains(&seconds)));
    let introspect = post(
        &server,
        "/oauth2/introspect",
        Some("203.0.113.7"),
        a,
        &[("token", "x")],
    );
    assert_eq!(introspect.status, 429);
    let revoke = post(
        &server,
        "/oauth2/revoke",
        Some("203.0.113.7"),
        a,
        &[("token", "x")],
    );
    assert_eq!(revoke.status, 429);
    // Another address is not affected; the same client is, at its own limit: the five
    // counted above and three more.
    for _ in 0..3 {
        assert_eq!(token(&server, Some("198.51.100.20"), a).status, 200);
    }
    let client_refused = token(&server, Some("198.51.100.20"), a);
    assert_eq!(client_refused.status, 429, "{}", client_refused.json);
    assert!(client_refused.json["error_description"]
        .as_str()
        .unwrap()
        .contains("client"));
    assert!(client_refused.retry_after.is_some());
    // Another client from another address is served.
    assert_eq!(token(&server, Some("198.51.100.21"), b).status, 200);
    // A stranger naming the first client with a wrong secret does not use up its
    // allowance, and gets its 401.
    let stranger = token(&server, Some("192.0.2.50"), (&first.client_id, "wrong"));
    assert_eq!(stranger.status, 401);
    // Loopback, without a forwarded address, is not limited at all.
    for _ in 0..20 {
        assert_eq!(token(&server, None, b).status, 200);
    }
}

#[test]
fn issue_14_bad_rate_limit_flags_are_refused() {
    let data = DataDir::new();
    let before = data.snapshot();
    for value in ["0/10s", "ten/10s", "10/0s", "10", "10/2d", ""] {
        let error = TestServer::try_start(&data, &["--rate-limit-address", value])
            .err()
            .unwrap_or_else(|| panic!("{value:?} accepted"));
        assert!(error.contains("--rate-limit-address"), "{value:?}: {error}");
    }
    let error = TestServer::try_start(&data, &["--rate-limit-client", "x"])
        .err()
        .unwrap();
    assert!(error.contains("--rate-limit-client"), "{error}");
    let error = TestServer::try_start(&data, &["--log-format", "xml"])
        .err()
        .unwrap();
    assert!(error.contains("--log-format"), "{error}");
    assert_eq!(before, data.snapshot());
    let off = TestServer::start(
        &data,
        &["--rate-limit-address", "off", "--rate-limit-client", "off"],
    );
    assert_eq!(off.healthz(), 200);
}
