//! `Authorizer`: what the browser sees next, and the consent ticket's rules.

use super::*;
use crate::oauth::authorize::{AuthorizeOutcome, Authorizer, PageError};
use crate::oauth::consent::TICKET_TTL_SECONDS;
use crate::oauth::Params;
use crate::oidc::keyring::KeyRing;
use std::sync::Arc;

const ISSUER: &str = "https://auth.example.com";
const HOUR: u64 = 3600;

fn request(client: &Client, scope: &str) -> (Params, String) {
    request_with(client, scope, &[])
}

fn request_with(client: &Client, scope: &str, extra: &[(&str, &str)]) -> (Params, String) {
    let raw = form_urlencoded::Serializer::new(String::new())
        .append_pair("response_type", "code")
        .append_pair("client_id", &client.id.to_string())
        .append_pair("redirect_uri", REDIRECT)
        .append_pair("scope", scope)
        .append_pair("state", "s-1")
        .append_pair(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
        )
        .append_pair("code_challenge_method", "S256")
        .extend_pairs(extra)
        .finish();
    (Params::parse(raw.as_bytes()).unwrap(), raw)
}

async fn ask(
    authorizer: &Authorizer,
    client: &Client,
    scope: &str,
    session: Option<SecretHash>,
    now: u64,
) -> AuthorizeOutcome {
    let (params, raw) = request(client, scope);
    authorizer
        .authorize(&params, &raw, session, now, now * 1000)
        .await
        .unwrap()
}

fn ticket_of(outcome: AuthorizeOutcome) -> String {
    match outcome {
        AuthorizeOutcome::Consent(prompt) => prompt.ticket,
        other => panic!("expected the consent page, got {}", describe(&other)),
    }
}

fn describe(outcome: &AuthorizeOutcome) -> String {
    match outcome {
        AuthorizeOutcome::Refused(error) => format!("refused: {error:?}"),
        AuthorizeOutcome::Redirect(location) => format!("redirect to {location}"),
        AuthorizeOutcome::SignIn { return_to, .. } => format!("sign in, then {return_to}"),
        AuthorizeOutcome::Consent(_) => "the consent page".into(),
    }
}

#[track_caller]
fn assert_code(outcome: &AuthorizeOutcome) {
    match outcome {
        AuthorizeOutcome::Redirect(location) => {
            assert!(
                location.starts_with(&format!("{REDIRECT}?code=")),
                "{location}"
            );
            assert!(location.contains("&state=s-1&iss=https%3A%2F%2Fauth.example.com"));
        }
        other => panic!("expected a code, got {}", describe(other)),
    }
}

#[track_caller]
fn assert_refused(outcome: &AuthorizeOutcome, expected: PageError) {
    match outcome {
        AuthorizeOutcome::Refused(error) => assert_eq!(*error, expected),
        other => panic!("expected {expected:?}, got {}", describe(other)),
    }
}

struct World {
    _dir: tempfile::TempDir,
    store: Store,
    authorizer: Authorizer,
    alice: User,
    web: Client,
}

async fn world() -> World {
    let (dir, store) = store();
    let alice = user(&store, "alice", "alice's passphrase").await;
    let web = client(&store, false).await;
    World {
        authorizer: Authorizer::new(
            store.clone(),
            ISSUER.into(),
            600,
            Arc::new(KeyRing::open(store.clone(), T0, T0 * 1000).await.unwrap()),
        ),
        _dir: dir,
        store,
        alice,
        web,
    }
}

#[tokio::test]
async fn without_a_live_session_the_user_signs_in_first() {
    let w = world().await;
    match ask(&w.authorizer, &w.web, "openid", None, T0).await {
        AuthorizeOutcome::SignIn { return_to, .. } => {
            assert!(return_to.starts_with("/oauth2/authorize?response_type=code"))
        }
        other => panic!("{}", describe(&other)),
    }
    // A session that ran out is no session.
    let session = session(&w.store, &w.alice, T0, HOUR).await;
    let later = ask(&w.authorizer, &w.web, "openid", Some(session), T0 + HOUR).await;
    assert!(
        matches!(later, AuthorizeOutcome::SignIn { .. }),
        "{}",
        describe(&later)
    );
    // A request too long to carry through the sign-in page is refused up front.
    let (params, raw) = request(&w.web, "openid");
    let raw = format!("{raw}&pad={}", "y".repeat(9000));
    let outcome = w
        .authorizer
        .authorize(&params, &raw, None, T0, 0)
        .await
        .unwrap();
    assert!(matches!(
        outcome,
        AuthorizeOutcome::Refused(PageError::BadRequest(_))
    ));
}

#[tokio::test]
async fn an_approval_issues_a_code_once_and_is_remembered_for_narrower_requests_only() {
    let w = world().await;
    let session = session(&w.store, &w.alice, T0, HOUR).await;
    let ticket = ticket_of(ask(&w.authorizer, &w.web, "openid profile", Some(session), T0).await);
    let answer = w
        .authorizer
        .decide(Some(&ticket), Some("allow"), Some(session), T0 + 10)
        .await
        .unwrap();
    assert_code(&answer);
    // The same form posted again does nothing.
    let again = w
        .authorizer
        .decide(Some(&ticket), Some("allow"), Some(session), T0 + 11)
        .await
        .unwrap();
    assert_refused(&again, PageError::AlreadyAnswered);
    // Remembered: the same or a narrower scope goes straight back with a code...
    assert_code(
        &ask(
            &w.authorizer,
            &w.web,
            "openid profile",
            Some(session),
            T0 + 20,
        )
        .await,
    );
    assert_code(&ask(&w.authorizer, &w.web, "openid", Some(session), T0 + 21).await);
    // ...a wider one asks again, and approving it widens what is remembered.
    let wider = ticket_of(
        ask(
            &w.authorizer,
            &w.web,
            "openid email",
            Some(session),
            T0 + 22,
        )
        .await,
    );
    let answer = w
        .authorizer
        .decide(Some(&wider), Some("allow"), Some(session), T0 + 23)
        .await
        .unwrap();
    assert_code(&answer);
    assert_code(
        &ask(
            &w.authorizer,
            &w.web,
            "openid profile email",
            Some(session),
            T0 + 24,
        )
        .await,
    );
}

#[tokio::test]
async fn a_public_client_is_asked_every_time() {
    let w = world().await;
    let spa = client(&w.store, true).await;
    let session = session(&w.store, &w.alice, T0, HOUR).await;
    for at in [T0, T0 + 1] {
        let ticket = ticket_of(ask(&w.authorizer, &spa, "openid", Some(session), at).await);
        let answer = w
            .authorizer
            .decide(Some(&ticket), Some("allow"), Some(session), at)
            .await
            .unwrap();
        assert_code(&answer);
    }
}

#[tokio::test]
async fn a_ticket_answers_only_its_own_session_before_it_expires() {
    let w = world().await;
    let session = session(&w.store, &w.alice, T0, 2 * HOUR).await;
    let ticket = ticket_of(ask(&w.authorizer, &w.web, "openid", Some(session), T0).await);
    // Expired.
    let late = w
        .authorizer
        .decide(
            Some(&ticket),
            Some("allow"),
            Some(session),
            T0 + TICKET_TTL_SECONDS,
        )
        .await
        .unwrap();
    assert_refused(&late, PageError::TicketInvalid);
    // Another session of the same user, and another user's session.
    let other_tab = super::session(&w.store, &w.alice, T0, HOUR).await;
    let bob = user(&w.store, "bob", "bob's passphrase").await;
    let bobs = super::session(&w.store, &bob, T0, HOUR).await;
    for foreign in [other_tab, bobs] {
        let answer = w
            .authorizer
            .decide(Some(&ticket), Some("allow"), Some(foreign), T0 + 1)
            .await
            .unwrap();
        assert_refused(&answer, PageError::TicketInvalid);
    }
    // Tampered: one character of the sealed ticket changed.
    let mut tampered = ticket.clone().into_bytes();
    let middle = tampered.len() / 2;
    tampered[middle] = if tampered[middle] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let answer = w
        .authorizer
        .decide(Some(&tampered), Some("allow"), Some(session), T0 + 1)
        .await
        .unwrap();
    assert_refused(&answer, PageError::TicketInvalid);
    // No session at all, and no decision.
    let answer = w
        .authorizer
        .decide(Some(&ticket), Some("allow"), None, T0 + 1)
        .await
        .unwrap();
    assert_refused(&answer, PageError::NotSignedIn);
    let answer = w
        .authorizer
        .decide(Some(&ticket), Some("maybe"), Some(session), T0 + 1)
        .await
        .unwrap();
    assert_refused(&answer, PageError::NoDecision);
    // The untouched ticket still works, once.
    let answer = w
        .authorizer
        .decide(Some(&ticket), Some("allow"), Some(session), T0 + 2)
        .await
        .unwrap();
    assert_code(&answer);
}

#[tokio::test]
async fn a_denial_goes_back_to_the_client_and_uses_the_ticket_up() {
    let w = world().await;
    let session = session(&w.store, &w.alice, T0, HOUR).await;
    let ticket = ticket_of(ask(&w.authorizer, &w.web, "openid", Some(session), T0).await);
    match w
        .authorizer
        .decide(Some(&ticket), Some("deny"), Some(session), T0 + 1)
        .await
        .unwrap()
    {
        AuthorizeOutcome::Redirect(location) => {
            assert!(location.starts_with(&format!("{REDIRECT}?error=access_denied")));
            assert!(location.contains("state=s-1") && location.contains("iss="));
        }
        other => panic!("{}", describe(&other)),
    }
    let allow = w
        .authorizer
        .decide(Some(&ticket), Some("allow"), Some(session), T0 + 2)
        .await
        .unwrap();
    assert_refused(&allow, PageError::AlreadyAnswered);
    // Nothing was remembered: the next request asks again.
    ticket_of(ask(&w.authorizer, &w.web, "openid", Some(session), T0 + 3).await);
}

#[tokio::test]
async fn unknown_clients_and_deleted_apps_are_pages_never_redirects() {
    let w = world().await;
    let session = session(&w.store, &w.alice, T0, HOUR).await;
    let stranger = Client {
        id: ClientId(Id::generate(5)),
        ..w.web.clone()
    };
    let outcome = ask(&w.authorizer, &stranger, "openid", Some(session), T0).await;
    assert!(matches!(
        outcome,
        AuthorizeOutcome::Refused(PageError::BadRequest(_))
    ));
    let ticket = ticket_of(ask(&w.authorizer, &w.web, "openid", Some(session), T0).await);
    assert!(w.store.delete_client(w.web.id).await.unwrap());
    let answer = w
        .authorizer
        .decide(Some(&ticket), Some("allow"), Some(session), T0 + 1)
        .await
        .unwrap();
    assert_refused(&answer, PageError::ClientGone);
}

async fn ask_with(
    w: &World,
    extra: &[(&str, &str)],
    session: Option<SecretHash>,
    now: u64,
) -> AuthorizeOutcome {
    let (params, raw) = request_with(&w.web, "openid", extra);
    w.authorizer
        .authorize(&params, &raw, session, now, now * 1000)
        .await
        .unwrap()
}

#[track_caller]
fn assert_error(outcome: &AuthorizeOutcome, error: &str) {
    match outcome {
        AuthorizeOutcome::Redirect(location) => {
            assert!(
                location.starts_with(&format!("{REDIRECT}?error={error}&")),
                "{location}"
            );
            assert!(location.contains("&state=s-1&iss="), "{location}");
        }
        other => panic!("expected error {error}, got {}", describe(other)),
    }
}

#[tokio::test]
async fn prompt_none_never_shows_a_page() {
    let w = world().await;
    let none = [("prompt", "none")];
    assert_error(&ask_with(&w, &none, None, T0).await, "login_required");
    let session = session(&w.store, &w.alice, T0, HOUR).await;
    assert_error(
        &ask_with(&w, &none, Some(session), T0).await,
        "consent_required",
    );
    // Once consent is remembered, prompt=none gets its code without a page.
    let ticket = ticket_of(ask(&w.authorizer, &w.web, "openid", Some(session), T0).await);
    let answer = w
        .authorizer
        .decide(Some(&ticket), Some("allow"), Some(session), T0)
        .await
        .unwrap();
    assert_code(&answer);
    assert_code(&ask_with(&w, &none, Some(session), T0 + 1).await);
    // An old sign-in and max_age: prompt=none cannot ask for a new one.
    let old = [("prompt", "none"), ("max_age", "10")];
    assert_error(
        &ask_with(&w, &old, Some(session), T0 + 11).await,
        "login_required",
    );
}

#[tokio::test]
async fn prompt_login_and_max_age_ask_for_a_fresh_sign_in_once() {
    let w = world().await;
    let session = session(&w.store, &w.alice, T0, HOUR).await;
    match ask_with(
        &w,
        &[("prompt", "login consent"), ("login_hint", "alice")],
        Some(session),
        T0,
    )
    .await
    {
        AuthorizeOutcome::SignIn {
            return_to,
            login_hint,
        } => {
            assert!(return_to.contains("prompt=consent"), "{return_to}");
            assert!(!return_to.contains("login+") && !return_to.contains("prompt=login"));
            assert_eq!(login_hint.as_deref(), Some("alice"));
        }
        other => panic!("{}", describe(&other)),
    }
    let max_age = [("max_age", "60")];
    assert!(matches!(
        ask_with(&w, &max_age, Some(session), T0 + 61).await,
        AuthorizeOutcome::SignIn { .. }
    ));
    // Within max_age the session is good: on to consent (at max_age it is not: the
    // seconds are whole, so it may be nearly a second older).
    ticket_of(ask_with(&w, &max_age, Some(session), T0 + 59).await);
}

#[tokio::test]
async fn prompt_consent_asks_even_when_consent_is_remembered() {
    let w = world().await;
    let session = session(&w.store, &w.alice, T0, HOUR).await;
    let ticket = ticket_of(ask(&w.authorizer, &w.web, "openid", Some(session), T0).await);
    assert_code(
        &w.authorizer
            .decide(Some(&ticket), Some("allow"), Some(session), T0)
            .await
            .unwrap(),
    );
    assert_code(&ask(&w.authorizer, &w.web, "openid", Some(session), T0 + 1).await);
    ticket_of(ask_with(&w, &[("prompt", "consent")], Some(session), T0 + 2).await);
}
