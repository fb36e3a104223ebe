//! Issue 3: the authorization code flow end to end. The client side is the `oauth2` crate,
//! unchanged; the browser side is a cookie-keeping HTTP client that fills forms by name.

use std::collections::BTreeSet;
use std::future::Future;

use oauth2::basic::{BasicClient, BasicErrorResponseType, BasicTokenResponse};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError,
    Scope, TokenResponse, TokenUrl,
};
use serde_json::Value;

use crate::forms::{assert_error_page, assert_page_headers, decode_entities, Browser, Page};
use crate::support::{
    code_request, pkce_pair, register_client, token, App, DataDir, TestServer, USER_PASSWORD,
};

const REDIRECT: &str = "https://app.example.com/callback";

type OAuthClient =
    BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

/// The `oauth2` crate's configuration for `app` against `server`.
fn oauth_client(server: &TestServer, app: &App, auth_type: AuthType) -> OAuthClient {
    let client = BasicClient::new(ClientId::new(app.client_id.clone()))
        .set_auth_uri(AuthUrl::new(server.url("/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(app.redirect_uri.clone()).unwrap())
        .set_auth_type(auth_type);
    match &app.client_secret {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.clone())),
        None => client,
    }
}

/// The `oauth2` crate's own reqwest client, on a small runtime of its own. It must not
/// follow redirects (the crate's advice, against SSRF).
struct Http {
    runtime: tokio::runtime::Runtime,
    client: reqwest::Client,
}

/// What `oauth2` returns: tokens, or the RFC 6749 §5.2 error code (other failures panic).
type Outcome = Result<BasicTokenResponse, String>;

impl Http {
    fn new() -> Http {
        Http {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
        }
    }

    fn run<F>(&self, request: F) -> Outcome
    where
        F: Future<
            Output = Result<
                BasicTokenResponse,
                RequestTokenError<
                    oauth2::HttpClientError<reqwest::Error>,
                    oauth2::basic::BasicErrorResponse,
                >,
            >,
        >,
    {
        match self.runtime.block_on(request) {
            Ok(tokens) => Ok(tokens),
            Err(RequestTokenError::ServerResponse(error)) => Err(error.error().as_ref().to_owned()),
            Err(other) => panic!("token request failed: {other:?}"),
        }
    }

    fn exchange(&self, client: &OAuthClient, code: &str, verifier: PkceCodeVerifier) -> Outcome {
        self.run(
            client
                .exchange_code(AuthorizationCode::new(code.to_owned()))
                .set_pkce_verifier(verifier)
                .request_async(&self.client),
        )
    }

    fn refresh(&self, client: &OAuthClient, refresh_token: &RefreshToken) -> Outcome {
        self.run(
            client
                .exchange_refresh_token(refresh_token)
                .request_async(&self.client),
        )
    }

    fn client_credentials(&self, client: &OAuthClient, scopes: &[&str]) -> Outcome {
        self.run(
            client
                .exchange_client_credentials()
                .add_scopes(scopes.iter().map(|scope| Scope::new((*scope).to_owned())))
                .request_async(&self.client),
        )
    }
}

fn scopes_of(tokens: &BasicTokenResponse) -> BTreeSet<String> {
    tokens
        .scopes()
        .map(|scopes| scopes.iter().map(|scope| scope.to_string()).collect())
        .unwrap_or_default()
}

fn set(words: &str) -> BTreeSet<String> {
    words.split_whitespace().map(str::to_owned).collect()
}

/// Asserts what every successful token response from a code or refresh grant holds.
#[track_caller]
fn assert_tokens(tokens: &BasicTokenResponse, scope: &str) {
    assert_eq!(*tokens.token_type(), oauth2::basic::BasicTokenType::Bearer);
    let expires_in = tokens.expires_in().expect("expires_in").as_secs();
    assert!(
        (1..=3600).contains(&expires_in),
        "default access token lifetime is an hour: {expires_in}"
    );
    assert!(
        tokens.refresh_token().is_some(),
        "a refresh token is issued"
    );
    assert_eq!(scopes_of(tokens), set(scope));
}

/// A server with one user, `alice`.
fn server_with_user(extra: &[&str]) -> (DataDir, TestServer) {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, extra);
    (data, server)
}

/// Runs the browser through a code request until the client receives a code: (code, verifier).
fn fresh_code(server: &TestServer, browser: &Browser, app: &App, scope: &str) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = code_request(server, app, scope, "st", Some(&challenge));
    let callback = browser.approve(&url, "alice", USER_PASSWORD, &app.redirect_uri);
    (callback.code().to_owned(), verifier)
}

/// `authorization_code` over plain HTTP, for the tests that do not need `oauth2`'s view.
fn redeem(server: &TestServer, app: &App, code: &str, verifier: &str) -> Value {
    token(
        server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", verifier),
        ],
    )
    .ok()
}

fn refresh_raw(server: &TestServer, app: &App, refresh_token: &str) -> crate::support::Reply {
    token(
        server,
        app.auth(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
}

#[test]
fn issue_3_confidential_clients_complete_the_code_flow_with_oauth2_either_authentication() {
    let (data, server) = server_with_user(&[]);
    let http = Http::new();
    let cases = [
        ("client_secret_basic", AuthType::BasicAuth),
        ("client_secret_post", AuthType::RequestBody),
    ];
    for (method, auth_type) in cases {
        let name = format!("Score Tracker ({method})");
        let app = register_client(
            &data,
            &name,
            &[REDIRECT],
            &["--scope", "openid profile email"],
        );
        let client = oauth_client(&server, &app, auth_type);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state) = client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let browser = Browser::new();

        // Not signed in: 303 to the sign-in page, which carries the request along.
        let first = browser.get(url.as_str());
        assert_eq!(first.status, 303, "{method}: {}", first.describe());
        let to_login = first.location().expect("Location");
        assert_eq!(to_login.path(), "/login", "{method}");
        assert!(
            to_login.query_pairs().any(|(name, _)| name == "return_to"),
            "{method}: {to_login}"
        );
        let login = browser.follow(first);
        assert_eq!(login.status, 200, "{method}: {}", login.describe());
        let form = login.require_form("/login");
        assert_eq!(form.method, "post");
        for field in ["csrf_token", "return_to", "username", "password"] {
            assert!(
                form.value(field).is_some(),
                "{method}: login form lacks {field}"
            );
        }

        // Signed in: 303 back to the authorization request, then the consent page.
        let signed_in = browser.sign_in(&login, "alice", USER_PASSWORD);
        assert_eq!(signed_in.status, 303, "{method}: {}", signed_in.describe());
        let back = signed_in.location().expect("Location");
        assert_eq!(back.path(), "/oauth2/authorize", "{method}");
        assert!(
            back.query_pairs()
                .any(|(name, value)| name == "state" && value == state.secret().as_str()),
            "{method}: the request survives sign-in: {back}"
        );
        let consent = browser.follow(signed_in);
        assert!(consent.is_consent(), "{method}: {}", consent.describe());
        let text = decode_entities(&consent.body);
        for shown in [name.as_str(), "openid", "profile", "app.example.com"] {
            assert!(
                text.contains(shown),
                "{method}: consent page lacks {shown:?}"
            );
        }

        // Allow: 303 to the client with code, state and iss (RFC 9207).
        let allowed = browser.decide(&consent, "allow");
        assert_eq!(allowed.status, 303, "{method}: {}", allowed.describe());
        let callback = allowed.callback(REDIRECT);
        assert_eq!(
            callback.get("state"),
            Some(state.secret().as_str()),
            "{method}"
        );
        assert_eq!(
            callback.get("iss"),
            Some(server.base_url.as_str()),
            "{method}"
        );

        let tokens = http
            .exchange(&client, callback.code(), verifier)
            .unwrap_or_else(|error| panic!("{method}: code exchange refused: {error}"));
        assert_tokens(&tokens, "openid profile");

        // Refresh rotates both tokens and keeps the scope.
        let first_refresh = tokens.refresh_token().unwrap().clone();
        let refreshed = http
            .refresh(&client, &first_refresh)
            .unwrap_or_else(|error| panic!("{method}: refresh refused: {error}"));
        assert_tokens(&refreshed, "openid profile");
        assert_ne!(
            refreshed.refresh_token().unwrap().secret(),
            first_refresh.secret(),
            "{method}: refresh tokens rotate"
        );
        assert_ne!(
            refreshed.access_token().secret(),
            tokens.access_token().secret(),
            "{method}"
        );
        let again = http
            .refresh(&client, refreshed.refresh_token().unwrap())
            .unwrap_or_else(|error| panic!("{method}: second refresh refused: {error}"));
        assert_tokens(&again, "openid profile");
    }
}

#[test]
fn issue_3_a_public_client_completes_the_code_flow_with_pkce_and_oauth2() {
    let (data, server) = server_with_user(&[]);
    let app = register_client(
        &data,
        "Pocket App",
        &["http://127.0.0.1:8765/cb"],
        &["--public", "--scope", "openid profile"],
    );
    assert!(app.client_secret.is_none());
    // A native app listens on whatever port it got (RFC 8252 §7.3).
    let app = App {
        redirect_uri: "http://127.0.0.1:40123/cb".into(),
        ..app
    };
    let client = oauth_client(&server, &app, AuthType::RequestBody);
    let http = Http::new();
    let browser = Browser::new();
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("profile".into()))
        .set_pkce_challenge(challenge)
        .url();
    let callback = browser.approve(url.as_str(), "alice", USER_PASSWORD, &app.redirect_uri);
    assert_eq!(callback.get("state"), Some(state.secret().as_str()));
    assert_eq!(callback.get("iss"), Some(server.base_url.as_str()));

    let tokens = http
        .exchange(&client, callback.code(), verifier)
        .expect("public client exchanges with client_id and verifier alone");
    assert_tokens(&tokens, "profile");
    let refreshed = http
        .refresh(&client, tokens.refresh_token().unwrap())
        .expect("public client refreshes with client_id alone");
    assert_tokens(&refreshed, "profile");
    assert_ne!(
        refreshed.refresh_token().unwrap().secret(),
        tokens.refresh_token().unwrap().secret()
    );
}

#[test]
fn issue_3_client_credentials_with_oauth2_either_authentication_and_no_refresh_token() {
    let (data, server) = server_with_user(&[]);
    let service = register_client(
        &data,
        "Nightly Report",
        &[REDIRECT],
        &[
            "--grant-types",
            "client_credentials",
            "--scope",
            "reports:read reports:write",
        ],
    );
    let web_only = register_client(&data, "Web Only", &[REDIRECT], &["--scope", "openid"]);
    let http = Http::new();
    for auth_type in [AuthType::BasicAuth, AuthType::RequestBody] {
        let client = oauth_client(&server, &service, auth_type.clone());
        let tokens = http
            .client_credentials(&client, &["reports:read"])
            .unwrap_or_else(|error| panic!("{auth_type:?}: {error}"));
        assert_eq!(*tokens.token_type(), oauth2::basic::BasicTokenType::Bearer);
        assert!(tokens.expires_in().is_some(), "{auth_type:?}");
        assert!(
            tokens.refresh_token().is_none(),
            "{auth_type:?}: no refresh token"
        );
        assert_eq!(scopes_of(&tokens), set("reports:read"), "{auth_type:?}");

        let refused =
            http.client_credentials(&oauth_client(&server, &web_only, auth_type.clone()), &[]);
        assert_eq!(
            refused.err().as_deref(),
            Some(BasicErrorResponseType::UnauthorizedClient.as_ref()),
            "{auth_type:?}: a client without the grant"
        );
    }
}

#[test]
fn issue_3_remembered_consent_skips_the_page_only_for_the_same_user_confidential_client_and_no_wider_scope(
) {
    let (data, server) = server_with_user(&[]);
    data.create_user("bob", USER_PASSWORD);
    let web = register_client(
        &data,
        "Web",
        &[REDIRECT],
        &["--scope", "openid profile email"],
    );
    let spa = register_client(
        &data,
        "Single Page",
        &[REDIRECT],
        &["--public", "--scope", "openid profile email"],
    );
    let alice = Browser::new();
    let (_, challenge) = pkce_pair();
    let request =
        |app: &App, scope: &str| code_request(&server, app, scope, "remember", Some(&challenge));

    let first = alice.authorize(&request(&web, "openid profile"), "alice", USER_PASSWORD);
    assert!(first.is_consent(), "{}", first.describe());
    alice.decide(&first, "allow").callback(REDIRECT).code();

    // Signed in, consent remembered: each of these answers 303 straight to the client. The
    // order matters: a narrower request answered from the remembered consent must not shrink
    // it, so "profile" after "openid" is still covered by what alice approved.
    for scope in [
        "openid profile",
        "profile openid",
        "openid",
        "profile",
        "openid profile",
    ] {
        let direct = alice.get(&request(&web, scope));
        assert_eq!(
            direct.status,
            303,
            "scope {scope:?} is within the approved \"openid profile\": {}",
            direct.describe()
        );
        let callback = direct.callback(REDIRECT);
        callback.code();
        assert_eq!(callback.get("state"), Some("remember"));
        assert_eq!(callback.get("iss"), Some(server.base_url.as_str()));
    }

    // Each of these asks again.
    let bob = Browser::new();
    let asks_again: [(&str, &Browser, &str, &App, &str); 3] = [
        ("wider scope", &alice, "alice", &web, "openid profile email"),
        ("a public client", &alice, "alice", &spa, "openid"),
        ("another user", &bob, "bob", &web, "openid"),
    ];
    for (why, browser, user, app, scope) in asks_again {
        let page = browser.authorize(&request(app, scope), user, USER_PASSWORD);
        assert!(page.is_consent(), "{why}: {}", page.describe());
        browser.decide(&page, "allow").callback(REDIRECT).code();
    }
    // Even right after approving it, a public client is asked every time.
    let page = alice.authorize(&request(&spa, "openid"), "alice", USER_PASSWORD);
    assert!(
        page.is_consent(),
        "public client again: {}",
        page.describe()
    );

    // A code from the remembered path is as good as any.
    let (verifier, challenge) = pkce_pair();
    let url = code_request(&server, &web, "openid", "s", Some(&challenge));
    let callback = alice.get(&url).callback(REDIRECT);
    let tokens = redeem(&server, &web, callback.code(), &verifier);
    assert_eq!(set(tokens["scope"].as_str().unwrap()), set("openid"));
}

#[test]
fn issue_3_deny_sends_access_denied_with_state_and_iss_and_is_not_remembered() {
    let (data, server) = server_with_user(&[]);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
    let browser = Browser::new();
    let (_, challenge) = pkce_pair();
    let url = code_request(&server, &web, "openid", "no thanks", Some(&challenge));
    let consent = browser.authorize(&url, "alice", USER_PASSWORD);
    let denied = browser.decide(&consent, "deny");
    assert_eq!(denied.status, 303, "{}", denied.describe());
    let callback = denied.callback(REDIRECT);
    assert_eq!(callback.get("error"), Some("access_denied"));
    assert_eq!(callback.get("state"), Some("no thanks"));
    assert_eq!(callback.get("iss"), Some(server.base_url.as_str()));
    assert_eq!(callback.get("code"), None);

    let again = browser.authorize(&url, "alice", USER_PASSWORD);
    assert!(
        again.is_consent(),
        "a denial is not remembered: {}",
        again.describe()
    );
}

#[test]
fn issue_3_the_consent_post_is_bound_to_its_request_replay_missing_csrf_and_tampering_do_nothing() {
    let (data, server) = server_with_user(&[]);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid profile"]);
    let browser = Browser::new();
    let (_, challenge) = pkce_pair();
    let url = code_request(&server, &web, "openid", "bound", Some(&challenge));
    let consent = browser.authorize(&url, "alice", USER_PASSWORD);
    let form = consent.require_form("/oauth2/consent");
    let request = form.require("request").to_owned();
    form.require("csrf_token");
    let tampered = {
        let mut chars: Vec<char> = request.chars().collect();
        let middle = chars.len() / 2;
        chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
        chars.into_iter().collect::<String>()
    };
    let allow = form.press("decision", "allow", &[]);
    let without = |name: &str| -> Vec<(String, String)> {
        allow
            .iter()
            .filter(|(key, _)| key != name)
            .cloned()
            .collect()
    };
    let with = |name: &str, value: &str| -> Vec<(String, String)> {
        allow
            .iter()
            .map(|(key, held)| {
                let value = if key == name { value } else { held.as_str() };
                (key.clone(), value.to_owned())
            })
            .collect()
    };
    let refused: [(&str, Vec<(String, String)>); 5] = [
        ("no csrf_token", without("csrf_token")),
        ("a forged csrf_token", with("csrf_token", "forged")),
        ("a tampered request", with("request", &tampered)),
        (
            "a request with a suffix",
            with("request", &format!("{request}x")),
        ),
        ("no request", without("request")),
    ];
    for (why, fields) in &refused {
        let answer = browser.submit(&consent, &form, fields);
        assert_error_page(&answer, why);
    }

    // The genuine POST works once; the same POST again gives no second code.
    let consent = browser.authorize(&url, "alice", USER_PASSWORD);
    let form = consent.require_form("/oauth2/consent");
    let allow = form.press("decision", "allow", &[]);
    let first = browser.submit(&consent, &form, &allow);
    assert_eq!(first.status, 303, "{}", first.describe());
    first.callback(REDIRECT).code();
    let replayed = browser.submit(&consent, &form, &allow);
    assert_error_page(&replayed, "a replayed consent POST");
    let deny = form.press("decision", "deny", &[]);
    assert_error_page(
        &browser.submit(&consent, &form, &deny),
        "a replay that denies",
    );
}

#[test]
fn issue_3_tokens_refresh_and_remembered_consent_survive_kill_9() {
    let (data, server) = server_with_user(&[]);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid profile"]);
    let browser = Browser::new();
    let (code, verifier) = fresh_code(&server, &browser, &web, "openid profile");
    let tokens = redeem(&server, &web, &code, &verifier);
    let rotated = refresh_raw(&server, &web, tokens["refresh_token"].as_str().unwrap()).ok();
    let refresh_token = rotated["refresh_token"].as_str().unwrap().to_owned();
    // A code issued (through the remembered consent) just before the crash.
    let (pending_code, pending_verifier) = fresh_code(&server, &browser, &web, "openid profile");
    server.kill_hard();

    let server = TestServer::start(&data, &[]);
    let refreshed = refresh_raw(&server, &web, &refresh_token).ok();
    assert_eq!(
        set(refreshed["scope"].as_str().unwrap()),
        set("openid profile")
    );
    assert_ne!(
        refreshed["refresh_token"].as_str(),
        Some(refresh_token.as_str())
    );
    redeem(&server, &web, &pending_code, &pending_verifier);

    let browser = Browser::new();
    let (_, challenge) = pkce_pair();
    let url = code_request(&server, &web, "openid profile", "after", Some(&challenge));
    let page = browser.authorize(&url, "alice", USER_PASSWORD);
    assert!(
        !page.is_consent(),
        "the remembered consent was lost: {}",
        page.describe()
    );
    let callback = page.callback(REDIRECT);
    callback.code();
    assert_eq!(callback.get("iss"), Some(server.base_url.as_str()));
}

#[test]
fn issue_3_metadata_lists_the_endpoints_s256_code_and_iss_support() {
    let (_data, server) = server_with_user(&[]);
    let response = reqwest::blocking::get(server.url("/.well-known/oauth-authorization-server"))
        .expect("metadata");
    assert_eq!(response.status().as_u16(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    let metadata: Value = response.json().expect("JSON");
    assert_metadata(&metadata, &server.base_url);
}

#[track_caller]
fn assert_metadata(metadata: &Value, issuer: &str) {
    let issuer = issuer.trim_end_matches('/');
    assert_eq!(metadata["issuer"], issuer, "{metadata}");
    assert_eq!(
        metadata["authorization_endpoint"],
        format!("{issuer}/oauth2/authorize")
    );
    assert_eq!(metadata["token_endpoint"], format!("{issuer}/oauth2/token"));
    assert_eq!(
        metadata["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        metadata["response_types_supported"],
        serde_json::json!(["code"])
    );
    assert_eq!(
        metadata["authorization_response_iss_parameter_supported"],
        true
    );
    let listed = |key: &str| -> BTreeSet<String> {
        metadata[key]
            .as_array()
            .unwrap_or_else(|| panic!("{key} missing: {metadata}"))
            .iter()
            .map(|value| value.as_str().unwrap().to_owned())
            .collect()
    };
    let grants = listed("grant_types_supported");
    for grant in ["authorization_code", "refresh_token", "client_credentials"] {
        assert!(grants.contains(grant), "{grant} not listed: {grants:?}");
    }
    for refused in ["implicit", "password"] {
        assert!(!grants.contains(refused), "{refused} listed: {grants:?}");
    }
    let methods = listed("token_endpoint_auth_methods_supported");
    for method in ["client_secret_basic", "client_secret_post"] {
        assert!(methods.contains(method), "{method} not listed: {methods:?}");
    }
}

#[test]
fn issue_3_a_client_named_like_a_script_is_rendered_inert_on_the_consent_page() {
    let (data, server) = server_with_user(&[]);
    let name = "<script>alert(1)</script>";
    let app = register_client(&data, name, &[REDIRECT], &["--scope", "openid"]);
    let (_, challenge) = pkce_pair();
    let url = code_request(&server, &app, "openid", "x", Some(&challenge));
    let consent = Browser::new().authorize(&url, "alice", USER_PASSWORD);
    assert!(consent.is_consent(), "{}", consent.describe());
    assert!(
        decode_entities(&consent.body).contains(name),
        "the name is shown, as text"
    );
    assert!(
        !consent.body.to_ascii_lowercase().contains("<script"),
        "a script element on the page:\n{}",
        consent.body
    );
    assert!(!consent.body.contains("alert(1)</"), "{}", consent.body);
}

#[test]
fn issue_3_every_page_carries_the_framing_and_caching_headers() {
    let (data, server) = server_with_user(&[]);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
    let browser = Browser::new();
    let (_, challenge) = pkce_pair();
    let url = code_request(&server, &web, "openid", "h", Some(&challenge));

    let login = browser.open(&url);
    assert!(login.is_login(), "{}", login.describe());
    let failed = browser.sign_in(&login, "alice", "not the password");
    let consent = browser.authorize(&url, "alice", USER_PASSWORD);
    assert!(consent.is_consent(), "{}", consent.describe());
    let form = consent.require_form("/oauth2/consent");
    let forged = form.press("decision", "allow", &[("csrf_token", "forged")]);
    let consent_error = browser.submit(&consent, &form, &forged);
    let unknown_client = browser.get(&server.url(
        "/oauth2/authorize?response_type=code&client_id=nobody&redirect_uri=https%3A%2F%2Fevil.example%2F",
    ));
    let bad_redirect = browser.get(&crate::support::authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &web.client_id),
            ("redirect_uri", "https://evil.example/callback"),
        ],
    ));
    // `Some(status)` for a page that is not an error; `None` for a 4xx error page.
    let pages: [(&str, &Page, Option<u16>); 6] = [
        ("the sign-in page", &login, Some(200)),
        ("a failed sign-in", &failed, Some(401)),
        ("the consent page", &consent, Some(200)),
        ("a refused consent POST", &consent_error, None),
        ("an unknown client", &unknown_client, None),
        ("an unregistered redirect URI", &bad_redirect, None),
    ];
    for (what, page, status) in pages {
        assert_page_headers(page, what);
        match status {
            Some(status) => assert_eq!(page.status, status, "{what}: {}", page.describe()),
            None => assert_error_page(page, what),
        }
    }
}

#[test]
fn issue_3_sign_in_failures_look_the_same_whether_or_not_the_user_exists() {
    let (data, server) = server_with_user(&[]);
    let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
    let browser = Browser::new();
    let (_, challenge) = pkce_pair();
    let url = code_request(&server, &web, "openid", "u", Some(&challenge));
    let login = browser.open(&url);
    assert!(login.is_login(), "{}", login.describe());

    // Same length usernames, so an echoed name cannot tell them apart by size either.
    let attempts = [
        ("alice", "wrong password here"),
        ("zorba", "wrong password here"),
    ];
    let mut answers = Vec::new();
    let mut page = login;
    for (username, password) in attempts {
        let answer = browser.sign_in(&page, username, password);
        assert_eq!(answer.status, 401, "{username}: {}", answer.describe());
        assert!(answer.header("location").is_none(), "{username}");
        assert!(answer.is_login(), "{username}: the login page again");
        let csrf = answer
            .require_form("/login")
            .require("csrf_token")
            .to_owned();
        let normalized = answer
            .body
            .replace(&csrf, "<csrf>")
            .replace(username, "<username>");
        answers.push(normalized);
        page = answer;
    }
    assert_eq!(
        answers[0], answers[1],
        "unknown user and wrong password differ"
    );

    // The form on the failure page still signs in.
    let signed_in = browser.sign_in(&page, "alice", USER_PASSWORD);
    assert_eq!(signed_in.status, 303, "{}", signed_in.describe());
    assert!(browser.follow(signed_in).is_consent());
}

/// `(name, value, attributes)` of each cookie a response sets with a value.
fn cookies_set(page: &Page) -> Vec<(String, String, String)> {
    page.set_cookies()
        .into_iter()
        .filter_map(|cookie| {
            let (pair, attributes) = cookie.split_once(';').unwrap_or((&cookie, ""));
            let (name, value) = pair.split_once('=')?;
            // `;name` for each attribute, so `;httponly` finds it wherever it is.
            let attributes = format!(";{}", attributes.to_ascii_lowercase().replace(' ', ""));
            let deleting = value.trim().is_empty() || attributes.contains("max-age=0");
            (!deleting).then(|| (name.trim().to_owned(), value.trim().to_owned(), attributes))
        })
        .collect()
}

#[test]
fn issue_3_the_session_cookie_is_httponly_lax_renewed_at_sign_in_and_secure_under_https() {
    let cases = [(None, false), (Some("https://login.example.test"), true)];
    for (issuer, secure) in cases {
        let data = DataDir::new();
        data.create_user("alice", USER_PASSWORD);
        let extra: Vec<&str> = issuer.map(|url| vec!["--issuer", url]).unwrap_or_default();
        let server = TestServer::start(&data, &extra);
        let issuer = issuer.unwrap_or(&server.base_url).to_owned();
        let web = register_client(&data, "Web", &[REDIRECT], &["--scope", "openid"]);
        let browser = Browser::behind_proxy(&issuer, &server.base_url);
        let (_, challenge) = pkce_pair();
        let url = code_request(&server, &web, "openid", "c", Some(&challenge));

        let login = browser.open(&url);
        assert!(login.is_login(), "{issuer}: {}", login.describe());
        let before = cookies_set(&login);
        let signed_in = browser.sign_in(&login, "alice", USER_PASSWORD);
        assert_eq!(signed_in.status, 303, "{issuer}: {}", signed_in.describe());
        let set_at_sign_in = cookies_set(&signed_in);
        for (name, _, attributes) in &set_at_sign_in {
            assert!(
                attributes.contains(";httponly"),
                "{issuer}: {name} not HttpOnly"
            );
            assert_eq!(
                attributes.contains(";secure"),
                secure,
                "{issuer}: {name}: Secure exactly under an https issuer: {attributes}"
            );
        }
        // The session: a new value (renewed at sign-in, never one set before), SameSite=Lax.
        assert!(
            set_at_sign_in.iter().any(|(name, value, attributes)| {
                attributes.contains(";samesite=lax")
                    && !before.iter().any(|(old, held, _)| old == name && held == value)
            }),
            "{issuer}: no new SameSite=Lax session cookie at sign-in: {set_at_sign_in:?} (before: {before:?})"
        );

        let consent = browser.follow(signed_in);
        assert!(consent.is_consent(), "{issuer}: {}", consent.describe());
        let callback = browser.decide(&consent, "allow").callback(REDIRECT);
        assert_eq!(callback.get("iss"), Some(issuer.as_str()));
        let metadata: Value =
            reqwest::blocking::get(server.url("/.well-known/oauth-authorization-server"))
                .expect("metadata")
                .json()
                .expect("JSON");
        assert_metadata(&metadata, &issuer);
    }
}

#[test]
fn issue_3_sign_in_never_sends_the_browser_off_site() {
    let (_data, server) = server_with_user(&[]);
    let origin = url::Url::parse(&server.base_url).unwrap().origin();
    for return_to in [
        "https://evil.example/steal",
        "//evil.example/steal",
        "/\\evil.example/steal",
        "javascript:alert(1)",
    ] {
        let browser = Browser::new();
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", return_to)
            .finish();
        let login = browser.open(&server.url(&format!("/login?{query}")));
        if !login.is_login() {
            assert!(login.status >= 400, "{return_to}: {}", login.describe());
            continue;
        }
        let signed_in = browser.sign_in(&login, "alice", USER_PASSWORD);
        assert_eq!(
            signed_in.status,
            303,
            "{return_to}: {}",
            signed_in.describe()
        );
        let location = signed_in.location().expect("Location");
        assert_eq!(location.origin(), origin, "{return_to}: sent to {location}");
        assert!(
            !signed_in.header("location").unwrap().starts_with("//"),
            "{return_to}"
        );
    }
}
