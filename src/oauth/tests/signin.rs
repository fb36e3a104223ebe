//! `SignInService`: throttle windows, device cookies and session rotation, at chosen times.

use std::net::IpAddr;
use std::time::Duration;

use super::*;
use crate::oauth::signin::{
    SignInAttempt, SignInOutcome, SignInService, ACCOUNT_LIMIT, ADDRESS_LIMIT,
    DEVICE_COOKIE_SECONDS, WINDOW_SECONDS,
};

const PASSWORD: &str = "alice's passphrase";

fn address(last: u8) -> IpAddr {
    IpAddr::from([192, 0, 2, last])
}

async fn attempt(
    service: &SignInService,
    username: &str,
    password: &str,
    from: IpAddr,
    device: Option<&str>,
    now: u64,
) -> SignInOutcome {
    service
        .sign_in(
            SignInAttempt {
                username,
                password: password.to_owned(),
                address: from,
                device_cookie: device,
                previous_session: None,
            },
            now,
        )
        .await
        .unwrap()
}

fn name(outcome: &SignInOutcome) -> &'static str {
    match outcome {
        SignInOutcome::SignedIn { .. } => "signed in",
        SignInOutcome::Failed => "failed",
        SignInOutcome::Throttled { .. } => "throttled",
        SignInOutcome::Busy => "busy",
    }
}

#[tokio::test]
async fn an_account_locks_for_one_window_after_its_failures() {
    let (_dir, store) = store();
    user(&store, "alice", PASSWORD).await;
    let service = SignInService::new(store, Duration::from_secs(3600)).await;
    for index in 0..ACCOUNT_LIMIT {
        let outcome = attempt(
            &service,
            "alice",
            "wrong",
            address(1),
            None,
            T0 + u64::from(index),
        )
        .await;
        assert_eq!(name(&outcome), "failed");
    }
    // Case does not make another account.
    match attempt(&service, "ALICE", PASSWORD, address(2), None, T0 + 10).await {
        SignInOutcome::Throttled { retry_after } => {
            assert_eq!(retry_after, WINDOW_SECONDS - 10)
        }
        other => panic!("{}", name(&other)),
    }
    let next_window = attempt(
        &service,
        "alice",
        PASSWORD,
        address(2),
        None,
        T0 + WINDOW_SECONDS,
    )
    .await;
    assert_eq!(name(&next_window), "signed in");
}

#[tokio::test]
async fn an_address_locks_after_its_failures_whatever_the_usernames() {
    let (_dir, store) = store();
    user(&store, "alice", PASSWORD).await;
    let service = SignInService::new(store, Duration::from_secs(3600)).await;
    for index in 0..ADDRESS_LIMIT {
        let outcome = attempt(
            &service,
            &format!("nobody{index}"),
            "x",
            address(9),
            None,
            T0,
        )
        .await;
        assert_eq!(name(&outcome), "failed", "attempt {index}");
    }
    let outcome = attempt(&service, "alice", PASSWORD, address(9), None, T0 + 1).await;
    assert_eq!(name(&outcome), "throttled");
    let elsewhere = attempt(&service, "alice", PASSWORD, address(10), None, T0 + 1).await;
    assert_eq!(name(&elsewhere), "signed in");
}

#[tokio::test]
async fn a_device_cookie_passes_the_lockout_until_it_expires() {
    let (_dir, store) = store();
    user(&store, "alice", PASSWORD).await;
    user(&store, "bob", "bob's passphrase").await;
    let service = SignInService::new(store, Duration::from_secs(3600)).await;
    let SignInOutcome::SignedIn { device_cookie, .. } =
        attempt(&service, "alice", PASSWORD, address(1), None, T0).await
    else {
        panic!("alice signs in");
    };
    for _ in 0..ACCOUNT_LIMIT {
        attempt(&service, "alice", "guess", address(66), None, T0 + 1).await;
    }
    let locked = attempt(&service, "alice", PASSWORD, address(1), None, T0 + 2).await;
    assert_eq!(name(&locked), "throttled");
    let trusted = attempt(
        &service,
        "alice",
        PASSWORD,
        address(1),
        Some(&device_cookie),
        T0 + 2,
    )
    .await;
    assert_eq!(name(&trusted), "signed in");
    // The cookie names alice only: for bob it is an untrusted client like any other.
    for _ in 0..ACCOUNT_LIMIT {
        attempt(&service, "bob", "guess", address(66), None, T0 + 3).await;
    }
    let bob = attempt(
        &service,
        "bob",
        "bob's passphrase",
        address(1),
        Some(&device_cookie),
        T0 + 3,
    )
    .await;
    assert_eq!(name(&bob), "throttled");
    // A year later the cookie no longer vouches (and the lockout has long passed, so lock
    // the account again to see it).
    let later = T0 + DEVICE_COOKIE_SECONDS;
    for _ in 0..ACCOUNT_LIMIT {
        attempt(&service, "alice", "guess", address(66), None, later).await;
    }
    let expired = attempt(
        &service,
        "alice",
        PASSWORD,
        address(1),
        Some(&device_cookie),
        later,
    )
    .await;
    assert_eq!(name(&expired), "throttled");
}

#[tokio::test]
async fn a_sign_in_replaces_the_session_the_browser_came_with() {
    let (_dir, store) = store();
    let alice = user(&store, "alice", PASSWORD).await;
    let planted = session(&store, &alice, T0, 3600).await;
    let service = SignInService::new(store.clone(), Duration::from_secs(3600)).await;
    let outcome = service
        .sign_in(
            SignInAttempt {
                username: "alice",
                password: PASSWORD.to_owned(),
                address: address(1),
                device_cookie: None,
                previous_session: Some(planted),
            },
            T0 + 100,
        )
        .await
        .unwrap();
    let SignInOutcome::SignedIn { session_cookie, .. } = outcome else {
        panic!("{}", name(&outcome));
    };
    assert!(store.session(&planted, T0 + 100).unwrap().is_none());
    let fresh = store
        .session(&SecretHash::of(&session_cookie), T0 + 100)
        .unwrap()
        .expect("the new session");
    assert_eq!(fresh.auth_time, T0 + 100);
    assert_eq!(fresh.expires_at, T0 + 100 + 3600);
    // An unknown user fails exactly like a wrong password.
    let unknown = attempt(&service, "mallory", PASSWORD, address(1), None, T0).await;
    assert_eq!(name(&unknown), "failed");
}

#[tokio::test]
async fn an_attempt_abandoned_while_its_password_is_checked_costs_no_failure() {
    let (_dir, store) = store();
    user(&store, "alice", PASSWORD).await;
    let service = SignInService::new(store, Duration::from_secs(3600)).await;
    // Each attempt is dropped (a client that disconnected) long before argon2 finishes.
    for _ in 0..2 * ACCOUNT_LIMIT {
        let abandoned = tokio::time::timeout(
            Duration::from_micros(1),
            attempt(&service, "alice", PASSWORD, address(1), None, T0),
        )
        .await;
        assert!(abandoned.is_err(), "the attempt finished too soon to test");
    }
    let outcome = attempt(&service, "alice", PASSWORD, address(1), None, T0).await;
    assert_eq!(name(&outcome), "signed in");
}

#[tokio::test]
async fn an_ipv6_network_shares_one_address_limit() {
    let (_dir, store) = store();
    let service = SignInService::new(store, Duration::from_secs(3600)).await;
    for host in 0..u16::try_from(ADDRESS_LIMIT).unwrap() {
        let from = IpAddr::from([0x2001, 0xdb8, 0, 1, 0, 0, 0, host + 1]);
        let outcome = attempt(&service, &format!("nobody{host}"), "x", from, None, T0).await;
        assert_eq!(name(&outcome), "failed");
    }
    let same_network = IpAddr::from([0x2001, 0xdb8, 0, 1, 0xffff, 0, 0, 7]);
    let outcome = attempt(&service, "someone", "x", same_network, None, T0).await;
    assert_eq!(name(&outcome), "throttled");
    let next_network = IpAddr::from([0x2001, 0xdb8, 0, 2, 0, 0, 0, 1]);
    let outcome = attempt(&service, "someone", "x", next_network, None, T0).await;
    assert_eq!(name(&outcome), "failed");
}
