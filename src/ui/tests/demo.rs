//! The demo app's pages (`keyward demo`).

use super::*;

fn fact(name: &str, value: &str) -> FactView {
    FactView {
        name: name.into(),
        value: value.into(),
    }
}

pub(super) fn start_view() -> DemoStartView {
    DemoStartView {
        authorize_url: "http://127.0.0.1:8080/oauth2/authorize?response_type=code&client_id=c1&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256".into(),
        request: vec![
            fact("response_type", "code"),
            fact("scope", "openid profile email"),
            fact("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
            fact("code_challenge_method", "S256"),
        ],
    }
}

pub(super) fn signed_in_view() -> DemoSignedInView {
    DemoSignedInView {
        checks: vec!["nonce is the one this browser sent".into()],
        header: vec![fact("alg", "RS256"), fact("kid", "0190abcd")],
        claims: vec![
            fact("iss", "http://127.0.0.1:8080"),
            fact("sub", "0190aaaa"),
            fact("nonce", "n-0S6_WzA2Mj"),
        ],
        userinfo: vec![fact("sub", "0190aaaa"), fact("email", "demo@example.com")],
        token_response: vec![fact("token_type", "Bearer")],
        id_token: "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiIxIn0.c2ln".into(),
    }
}

pub(super) fn failed_view() -> ErrorView {
    ErrorView {
        title: "The demo sign-in did not finish".into(),
        message: "No authorization code arrived.".into(),
    }
}

#[test]
fn the_start_page_links_to_the_authorization_request_it_lists() {
    let html = pages().demo_start(&start_view());
    let link = start_tags(&html)
        .into_iter()
        .find(|tag| tag.name == "a" && tag.attribute("class") == Some("button primary"))
        .expect("the sign-in button");
    assert_eq!(
        link.attribute("href").map(decode),
        Some(start_view().authorize_url)
    );
    assert!(html.contains("<code>code_challenge_method</code></dt><dd><code>S256</code>"));
}

#[test]
fn the_signed_in_page_shows_header_claims_and_userinfo() {
    let html = pages().demo_signed_in(&signed_in_view());
    for expected in [
        "<dt><code>alg</code></dt><dd>RS256</dd>",
        "<dt><code>sub</code></dt><dd>0190aaaa</dd>",
        "<dt><code>email</code></dt><dd>demo@example.com</dd>",
        "<li>nonce is the one this browser sent</li>",
    ] {
        assert!(html.contains(expected), "{expected} missing:\n{html}");
    }
}

/// Claims and userinfo come from the user's own profile (a name is anything they chose).
#[test]
fn the_demo_pages_escape_what_they_show() {
    let mut view = signed_in_view();
    view.claims.push(fact(HOSTILE, HOSTILE));
    view.userinfo.push(fact("name", HOSTILE));
    view.id_token = HOSTILE.into();
    let mut start = start_view();
    start.authorize_url = format!("http://x/\"{HOSTILE}");
    let mut failed = failed_view();
    failed.message = HOSTILE.into();
    for html in [
        pages().demo_signed_in(&view),
        pages().demo_start(&start),
        pages().demo_failed(&failed),
    ] {
        assert!(!html.contains("<script"), "{html}");
    }
}

/// Undoes minijinja's HTML escaping (the entities it writes, `&amp;` last).
fn decode(text: &str) -> String {
    text.replace("&#x2f;", "/")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}
