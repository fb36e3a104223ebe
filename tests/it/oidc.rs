//! Issue 11: keyward as an OpenID Connect provider, with the `openidconnect` crate as the
//! relying party: it discovers the provider, verifies every ID token's signature against
//! the JWKS and its claims (iss, aud, exp, nonce, at_hash) strictly, for each algorithm.

use std::time::Duration;

use openidconnect::core::{
    CoreClient, CoreIdTokenClaims, CoreJwsSigningAlgorithm, CoreProviderMetadata, CoreResponseType,
};
use openidconnect::{
    AccessTokenHash, AuthenticationFlow, AuthorizationCode, ClientId, ClientSecret, CsrfToken,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RefreshToken, Scope,
    TokenResponse,
};
use serde_json::Value;

use crate::forms::Browser;
use crate::support::{authorize_url, register_client, App, DataDir, TestServer, USER_PASSWORD};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// The relying party: a runtime for the crate's async client, and the client itself.
struct RelyingParty {
    runtime: tokio::runtime::Runtime,
    http: reqwest::Client,
    metadata: CoreProviderMetadata,
    app: App,
}

type Client = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// What one code flow gave the relying party.
struct SignedIn {
    claims: CoreIdTokenClaims,
    access_token: String,
    refresh_token: String,
    kid: Option<String>,
    id_token: openidconnect::core::CoreIdToken,
}

impl RelyingParty {
    fn discover(server: &TestServer, app: App) -> RelyingParty {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let issuer = IssuerUrl::new(server.base_url.clone()).unwrap();
        let metadata = runtime
            .block_on(CoreProviderMetadata::discover_async(issuer, &http))
            .expect("discovery");
        RelyingParty {
            runtime,
            http,
            metadata,
            app,
        }
    }

    fn client(&self) -> Client {
        CoreClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(self.app.client_id.clone()),
            Some(ClientSecret::new(self.app.secret().to_owned())),
        )
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
    }

    /// The whole code flow through `browser` as alice, then the ID token verified.
    fn sign_in(
        &self,
        browser: &Browser,
        alg: CoreJwsSigningAlgorithm,
        extra: &[(&str, &str)],
    ) -> SignedIn {
        self.sign_in_as(browser, "alice", alg, extra)
    }

    fn sign_in_as(
        &self,
        browser: &Browser,
        username: &str,
        alg: CoreJwsSigningAlgorithm,
        extra: &[(&str, &str)],
    ) -> SignedIn {
        let client = self.client();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client
            .authorize_url(
                AuthenticationFlow::<CoreResponseType>::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge);
        for (name, value) in extra {
            request = request.add_extra_param(*name, *value);
        }
        let (url, state, nonce) = request.url();
        let callback = browser.approve(url.as_str(), username, USER_PASSWORD, REDIRECT);
        assert_eq!(callback.get("state"), Some(state.secret().as_str()));
        let tokens = self
            .runtime
            .block_on(
                client
                    .exchange_code(AuthorizationCode::new(callback.code().to_owned()))
                    .unwrap()
                    .set_pkce_verifier(verifier)
                    .request_async(&self.http),
            )
            .expect("the code is redeemed");
        let id_token = tokens.id_token().expect("an ID token with openid");
        let verifier = client.id_token_verifier().set_allowed_algs(vec![alg]);
        let claims = id_token
            .claims(&verifier, &nonce)
            .expect("a valid ID token")
            .clone();
        let expected = claims.access_token_hash().expect("at_hash");
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(*expected, actual, "at_hash");
        let header = jwt_header(&id_token.to_string());
        SignedIn {
            claims,
            access_token: tokens.access_token().secret().clone(),
            refresh_token: tokens
                .refresh_token()
                .expect("a refresh token")
                .secret()
                .clone(),
            kid: header["kid"].as_str().map(str::to_owned),
            id_token: id_token.clone(),
        }
    }
}

fn jwt_header(token: &str) -> Value {
    use base64::Engine;
    let header = token.split('.').next().unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .unwrap(),
    )
    .unwrap()
}

fn world(alg: &str) -> (DataDir, TestServer, App) {
    let data = DataDir::new();
    data.run_with_stdin(
        &[
            "user",
            "create",
            "--username",
            "alice",
            "--email",
            "alice@example.com",
            "--name",
            "Alice Liddell",
            "--password-stdin",
        ],
        &format!("{USER_PASSWORD}\n"),
    )
    .ok();
    let server = TestServer::start(&data, &[]);
    let app = register_client(
        &data,
        "RP",
        &[REDIRECT],
        &["--scope", "openid profile email", "--id-token-alg", alg],
    );
    (data, server, app)
}

#[test]
fn issue_11_id_tokens_verify_for_every_algorithm_with_nonce_at_hash_and_a_refresh() {
    for (name, alg) in [
        ("RS256", CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256),
        ("ES256", CoreJwsSigningAlgorithm::EcdsaP256Sha256),
        ("EdDSA", CoreJwsSigningAlgorithm::EdDsa),
    ] {
        let (_data, server, app) = world(name);
        let rp = RelyingParty::discover(&server, app);
        let browser = Browser::new();
        let signed_in = rp.sign_in(&browser, alg.clone(), &[]);
        let claims = &signed_in.claims;
        assert_eq!(claims.issuer().as_str(), server.base_url, "{name}");
        assert!(claims.auth_time().is_some(), "{name}");
        // Userinfo names the same subject, with the scope's claims.
        let client = rp.client();
        let info: openidconnect::core::CoreUserInfoClaims = rp
            .runtime
            .block_on(
                client
                    .user_info(
                        openidconnect::AccessToken::new(signed_in.access_token.clone()),
                        Some(claims.subject().clone()),
                    )
                    .unwrap()
                    .request_async(&rp.http),
            )
            .expect("userinfo");
        assert_eq!(
            info.email().map(|email| email.as_str()),
            Some("alice@example.com")
        );
        assert_eq!(info.email_verified(), Some(false), "nobody verified it");
        // A refresh: a new ID token, the same subject and auth_time, no nonce.
        let refreshed = rp
            .runtime
            .block_on(
                client
                    .exchange_refresh_token(&RefreshToken::new(signed_in.refresh_token.clone()))
                    .unwrap()
                    .request_async(&rp.http),
            )
            .expect("refresh");
        let id_token = refreshed.id_token().expect("an ID token on refresh");
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(vec![alg.clone()]);
        let again = id_token
            .claims(&verifier, |nonce: Option<&Nonce>| match nonce {
                None => Ok(()),
                Some(_) => Err("a refreshed ID token carries no nonce".to_owned()),
            })
            .expect("the refreshed ID token verifies");
        assert_eq!(again.subject(), claims.subject(), "{name}");
        assert_eq!(again.auth_time(), claims.auth_time(), "{name}");
    }
}

#[test]
fn issue_11_discovery_matches_rfc_8414_and_the_jwks_names_every_key() {
    let (_data, server, _app) = world("RS256");
    let get = |path: &str| -> Value {
        reqwest::blocking::get(server.url(path))
            .unwrap()
            .json()
            .unwrap()
    };
    let oidc = get("/.well-known/openid-configuration");
    let oauth = get("/.well-known/oauth-authorization-server");
    for field in [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "revocation_endpoint",
        "introspection_endpoint",
    ] {
        assert_eq!(oidc[field], oauth[field], "{field}");
        assert!(oidc[field].as_str().is_some(), "{field} missing");
    }
    assert_eq!(
        oidc["subject_types_supported"],
        serde_json::json!(["public"])
    );
    assert_eq!(
        oidc["id_token_signing_alg_values_supported"],
        serde_json::json!(["RS256", "ES256", "EdDSA"])
    );
    assert_eq!(oidc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        oidc["end_session_endpoint"],
        server.url("/oauth2/logout").as_str()
    );
    assert_eq!(
        oidc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    // Only what works: select_account would change nothing here, so it is not offered.
    assert_eq!(
        oidc["prompt_values_supported"],
        serde_json::json!(["none", "login", "consent"])
    );
    for flag in [
        "claims_parameter_supported",
        "request_parameter_supported",
        "request_uri_parameter_supported",
    ] {
        assert_eq!(oidc[flag], false, "{flag}");
    }
    let claims: Vec<&str> = oidc["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|claim| claim.as_str().unwrap())
        .collect();
    for claim in [
        "sub",
        "auth_time",
        "nonce",
        "email",
        "email_verified",
        "preferred_username",
        "updated_at",
        "sid",
    ] {
        assert!(claims.contains(&claim), "{claim} in {claims:?}");
    }
    let jwks = get("/oauth2/jwks");
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3, "{jwks}");
    let mut kids: Vec<&str> = keys
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    kids.sort();
    kids.dedup();
    assert_eq!(kids.len(), 3, "distinct kids: {jwks}");
    let mut algs: Vec<&str> = keys
        .iter()
        .map(|key| key["alg"].as_str().unwrap())
        .collect();
    algs.sort();
    assert_eq!(algs, ["ES256", "EdDSA", "RS256"], "{jwks}");
    for key in keys {
        assert_eq!(key["use"], "sig");
        assert!(key.get("d").is_none(), "a private part is published: {key}");
    }
}

#[test]
fn issue_11_prompt_none_without_a_session_goes_back_with_login_required() {
    let (_data, server, app) = world("RS256");
    let url = authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &app.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "s-9"),
            ("prompt", "none"),
        ],
    );
    let page = Browser::new().get(&url);
    let callback = page.callback(REDIRECT);
    assert_eq!(callback.get("error"), Some("login_required"));
    assert_eq!(callback.get("state"), Some("s-9"));
    assert_eq!(callback.get("iss"), Some(server.base_url.as_str()));
    // Refused without a redirect: two prompts at once, or none with another value.
    for prompt in ["none login", "none none", "bogus"] {
        let url = authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", &app.client_id),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("state", "s"),
                ("prompt", prompt),
            ],
        );
        let callback = Browser::new().get(&url).callback(REDIRECT);
        assert_eq!(callback.get("error"), Some("invalid_request"), "{prompt}");
    }
}

#[test]
fn issue_11_prompt_login_and_max_age_zero_sign_in_again_with_a_newer_auth_time() {
    let (_data, server, app) = world("RS256");
    let rp = RelyingParty::discover(&server, app);
    let browser = Browser::new();
    let first = rp.sign_in(&browser, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, &[]);
    let first_auth = first.claims.auth_time().unwrap();
    for extra in [[("prompt", "login")], [("max_age", "0")]] {
        // auth_time is in whole seconds: the next sign-in must fall in a later one.
        std::thread::sleep(Duration::from_millis(1100));
        let again = rp.sign_in(
            &browser,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            &extra,
        );
        assert!(again.claims.auth_time().unwrap() > first_auth, "{extra:?}");
    }
    // Without them, the session stands: the same auth_time as the last sign-in.
    let last = rp.sign_in(&browser, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, &[]);
    assert!(last.claims.auth_time().unwrap() > first_auth);
}

#[test]
fn issue_11_keys_rotated_while_serving_sign_from_then_on_and_old_tokens_still_verify() {
    let (data, server, app) = world("RS256");
    let rp = RelyingParty::discover(&server, app);
    let browser = Browser::new();
    let before = rp.sign_in(&browser, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, &[]);
    let listed = data.run(&["keys", "list", "--json"]).json();
    assert_eq!(listed["keys"].as_array().unwrap().len(), 3, "{listed}");
    let rotated = data
        .run(&["keys", "rotate", "--alg", "RS256", "--json"])
        .json();
    let new_kid = rotated["keys"][0]["kid"].as_str().unwrap().to_owned();
    assert_ne!(Some(new_kid.as_str()), before.kid.as_deref());
    // Both published; the new one signs.
    let jwks: Value = reqwest::blocking::get(server.url("/oauth2/jwks"))
        .unwrap()
        .json()
        .unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["kid"].as_str().unwrap())
        .collect();
    assert!(
        kids.contains(&new_kid.as_str()) && kids.contains(&before.kid.as_deref().unwrap()),
        "{jwks}"
    );
    let rp = RelyingParty::discover(&server, rp.app.clone());
    let after = rp.sign_in(&browser, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, &[]);
    assert_eq!(after.kid.as_deref(), Some(new_kid.as_str()));
    // The token signed before the rotation still verifies against the JWKS of now.
    let client = rp.client();
    let verifier = client.id_token_verifier();
    before
        .id_token
        .claims(&verifier, |_: Option<&Nonce>| Ok::<(), String>(()))
        .expect("a token signed by the retired key verifies");
    let listed = data.run(&["keys", "list", "--json"]).json();
    let retired = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"].as_str() == before.kid.as_deref())
        .unwrap();
    assert_eq!(retired["signs"], false);
    assert!(retired["published_until"].as_u64().is_some());
    // Bad input changes nothing.
    let snapshot = data.snapshot();
    let run = data.run(&["keys", "rotate", "--alg", "HS256"]);
    assert!(!run.status.success());
    assert!(
        run.stderr.starts_with("error: ") && run.stderr.contains("RS256"),
        "{}",
        run.stderr
    );
    crate::support::assert_same_files(&snapshot, &data.snapshot(), "a refused rotation");
}

#[test]
fn issue_11_no_private_key_bytes_are_in_the_data_directory_in_plain_text() {
    let (data, server, _app) = world("RS256");
    assert_eq!(server.healthz(), 200);
    server.stop();
    // PKCS#8 private keys carry their algorithm's OID in the clear: rsaEncryption,
    // id-ecPublicKey with prime256v1, id-Ed25519.
    let markers: [&[u8]; 3] = [
        &[
            0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
        ],
        &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
        &[0x06, 0x03, 0x2b, 0x65, 0x70],
    ];
    for (path, bytes) in data.snapshot() {
        for marker in markers {
            assert!(
                !bytes.windows(marker.len()).any(|window| window == marker),
                "{} holds a private key in plain text",
                path.display()
            );
        }
    }
}

const AFTER_LOGOUT: &str = "http://127.0.0.1:9/signed-out";

/// alice's server and client, with a post-logout URI, and bob.
fn logout_world() -> (DataDir, TestServer, RelyingParty) {
    let (data, server, _) = world("ES256");
    data.create_user("bob", USER_PASSWORD);
    let app = register_client(
        &data,
        "Logout RP",
        &[REDIRECT],
        &[
            "--scope",
            "openid profile email",
            "--post-logout-redirect-uri",
            AFTER_LOGOUT,
        ],
    );
    let rp = RelyingParty::discover(&server, app);
    (data, server, rp)
}

fn hinted(server: &TestServer, app: &App, hint: &str, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid"),
        ("state", "h"),
        ("id_token_hint", hint),
    ];
    pairs.extend_from_slice(extra);
    authorize_url(server, &pairs)
}

#[test]
fn issue_11_id_token_hint_must_name_the_signed_in_user() {
    let (data, server, rp) = logout_world();
    let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    let alice_browser = Browser::new();
    let alice = rp
        .sign_in(&alice_browser, rs256.clone(), &[])
        .id_token
        .to_string();
    let bob = rp
        .sign_in_as(&Browser::new(), "bob", rs256.clone(), &[])
        .id_token
        .to_string();
    // The hint names the signed-in user: no page, a code.
    let page = alice_browser.get(&hinted(&server, &rp.app, &alice, &[("prompt", "none")]));
    assert!(
        page.callback(REDIRECT).get("code").is_some(),
        "{}",
        page.describe()
    );
    // It names someone else: prompt=none cannot ask, so login_required ...
    let page = alice_browser.get(&hinted(&server, &rp.app, &bob, &[("prompt", "none")]));
    assert_eq!(page.callback(REDIRECT).get("error"), Some("login_required"));
    // ... and without prompt=none the user signs in again, as the hinted user by default.
    let login = alice_browser.open(&hinted(&server, &rp.app, &bob, &[]));
    assert!(login.is_login(), "{}", login.describe());
    assert_eq!(
        login.require_form("/login").value("username"),
        Some("bob"),
        "the hinted user is prefilled"
    );
    // alice's session is untouched by all this.
    let page = alice_browser.get(&hinted(&server, &rp.app, &alice, &[("prompt", "none")]));
    assert!(
        page.callback(REDIRECT).get("code").is_some(),
        "{}",
        page.describe()
    );

    // Hints that are not ID tokens of ours for this client: an error for the client.
    let other = register_client(
        &data,
        "Other",
        &[REDIRECT],
        &["--scope", "openid profile email"],
    );
    let other_rp = RelyingParty::discover(&server, other);
    let foreign = other_rp
        .sign_in(
            &Browser::new(),
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            &[],
        )
        .id_token
        .to_string();
    let mut tampered = alice.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    for (hint, why) in [
        ("not-a-jwt", "malformed"),
        (tampered.as_str(), "tampered"),
        (foreign.as_str(), "issued to another client"),
    ] {
        let page = alice_browser.get(&hinted(&server, &rp.app, hint, &[]));
        let callback = page.callback(REDIRECT);
        assert_eq!(callback.get("error"), Some("invalid_request"), "{why}");
        assert!(callback.get("code").is_none(), "{why}");
    }
    let callback = alice_browser
        .get(&hinted(&server, &rp.app, &foreign, &[]))
        .callback(REDIRECT);
    assert!(
        callback
            .get("error_description")
            .unwrap()
            .contains("another application"),
        "{callback:?}"
    );
}

fn logout_url(server: &TestServer, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    server.url(&format!("/oauth2/logout?{query}"))
}

#[test]
fn issue_11_logout_ends_the_session_and_redirects_only_to_a_registered_uri() {
    let (data, server, rp) = logout_world();
    let rs256 = CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256;
    let discovery: Value = reqwest::blocking::get(server.url("/.well-known/openid-configuration"))
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        discovery["end_session_endpoint"],
        server.url("/oauth2/logout").as_str()
    );
    let browser = Browser::new();
    let hint = rp
        .sign_in(&browser, rs256.clone(), &[])
        .id_token
        .to_string();
    let signed_in = |browser: &Browser| !browser.open(&server.url("/account")).is_login();

    // Not registered for after sign-out (a redirect URI is not enough), or a client_id that
    // is not the hint's audience: no redirect, and nothing ends without the user's say; once
    // they confirm, they are signed out here, on the signed-out page.
    let other_app = register_client(&data, "Other app", &[REDIRECT], &[]).client_id;
    let unproven: Vec<Vec<(&str, &str)>> = vec![
        vec![
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", REDIRECT),
        ],
        vec![
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "http://127.0.0.1:9/signed-out/"),
        ],
        vec![
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", "https://evil.example/"),
        ],
        vec![
            ("id_token_hint", &hint),
            ("client_id", &other_app),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
    ];
    for pairs in &unproven {
        let page = browser.get(&logout_url(&server, pairs));
        assert_eq!(page.status, 200, "{pairs:?}: {}", page.describe());
        assert!(page.header("location").is_none(), "{pairs:?}");
        assert!(signed_in(&browser), "{pairs:?}: asked, nothing ended yet");
    }
    let page = browser.get(&logout_url(&server, &unproven[2]));
    let form = page.require_form("/oauth2/logout");
    let done = browser.submit(&page, &form, &form.filled(&[]));
    assert_eq!(done.status, 200, "{}", done.describe());
    assert!(done.header("location").is_none(), "{}", done.describe());
    assert!(done.body.contains("signed out"), "{}", done.describe());
    assert!(!signed_in(&browser), "confirmed: signed out here");
    // A malformed client_id is an error page.
    let hint = rp
        .sign_in(&browser, rs256.clone(), &[])
        .id_token
        .to_string();
    let page = browser.get(&logout_url(
        &server,
        &[
            ("id_token_hint", &hint),
            ("client_id", "00000000000000000000000000"),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
    ));
    assert_eq!(page.status, 400, "{}", page.describe());
    assert!(signed_in(&browser), "refused requests end nothing");

    // A registered URI with a valid hint for the signed-in user: signed out, and back.
    let page = browser.get(&logout_url(
        &server,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("state", "bye now"),
            ("client_id", &rp.app.client_id),
        ],
    ));
    let landed = page.callback(AFTER_LOGOUT);
    assert_eq!(landed.get("state"), Some("bye now"));
    assert!(!signed_in(&browser), "the session ended on the server");

    // An ID token of an earlier session of the same user proves nothing about this one:
    // confirm first. Without a state the address is the registered one, byte for byte.
    let old_hint = hint;
    let hint = rp
        .sign_in(&browser, rs256.clone(), &[])
        .id_token
        .to_string();
    let page = browser.get(&logout_url(
        &server,
        &[
            ("id_token_hint", &old_hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
    ));
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(
        signed_in(&browser),
        "an old session's hint ends nothing by itself"
    );
    let page = browser.get(&logout_url(
        &server,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
    ));
    assert_eq!(page.header("location"), Some(AFTER_LOGOUT));
    assert!(!signed_in(&browser));

    // Without a hint nothing proves the app asked: the user confirms, and stays here.
    let hint = rp
        .sign_in(&browser, rs256.clone(), &[])
        .id_token
        .to_string();
    let page = browser.get(&logout_url(
        &server,
        &[
            ("post_logout_redirect_uri", AFTER_LOGOUT),
            ("client_id", &rp.app.client_id),
        ],
    ));
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(signed_in(&browser), "a GET alone ends no session");
    let form = page.require_form("/oauth2/logout");
    let done = browser.submit(&page, &form, &form.filled(&[]));
    assert_eq!(done.status, 200, "{}", done.describe());
    assert!(done.header("location").is_none());
    assert!(done.body.contains("signed out"), "{}", done.describe());
    assert!(!signed_in(&browser));

    // A hint of someone else than the signed-in user: confirm first; then back to the app.
    let other_browser = Browser::new();
    rp.sign_in_as(&other_browser, "bob", rs256, &[]);
    let page = other_browser.get(&logout_url(
        &server,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
    ));
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(
        page.body.contains("Logout RP"),
        "names the app: {}",
        page.describe()
    );
    let form = page.require_form("/oauth2/logout");
    let done = other_browser.submit(&page, &form, &form.filled(&[]));
    assert_eq!(
        done.header("location"),
        Some(AFTER_LOGOUT),
        "{}",
        done.describe()
    );
    assert!(!signed_in(&other_browser));
    // The confirmation form needs its CSRF token.
    let fields: Vec<(String, String)> = form
        .filled(&[])
        .into_iter()
        .map(|(name, value)| {
            let value = if name == "csrf_token" {
                "forged".to_owned()
            } else {
                value
            };
            (name, value)
        })
        .collect();
    let forged = other_browser.submit(&page, &form, &fields);
    assert_eq!(forged.status, 403, "{}", forged.describe());

    // No session at all: a valid request goes straight back.
    let page = Browser::new().get(&logout_url(
        &server,
        &[
            ("id_token_hint", &hint),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
    ));
    assert_eq!(
        page.header("location"),
        Some(AFTER_LOGOUT),
        "{}",
        page.describe()
    );
    // A hint signed by no published key (an old one's key retired long ago, or a forgery)
    // proves nothing but is no error either: the signed-out page, no redirect.
    let unknown_kid = {
        use base64::Engine;
        let b64 = |json: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json);
        format!(
            "{}.{}.c2ln",
            b64(r#"{"alg":"RS256","kid":"retired-long-ago"}"#),
            b64(&format!(
                r#"{{"iss":"{}","sub":"x","aud":"y"}}"#,
                server.base_url
            ))
        )
    };
    let page = Browser::new().get(&logout_url(
        &server,
        &[
            ("id_token_hint", &unknown_kid),
            ("post_logout_redirect_uri", AFTER_LOGOUT),
        ],
    ));
    assert_eq!(page.status, 200, "{}", page.describe());
    assert!(page.header("location").is_none());
    // The end-session endpoint is a page: never CORS.
    let reply = reqwest::blocking::Client::new()
        .get(server.url("/oauth2/logout"))
        .header("Origin", "http://127.0.0.1:9")
        .send()
        .unwrap();
    assert!(reply.headers().get("access-control-allow-origin").is_none());
}

#[test]
fn issue_11_bad_oidc_parameters_are_clear_errors_and_unknown_hints_are_not() {
    let (_data, server, app) = world("RS256");
    let rp = RelyingParty::discover(&server, app);
    let browser = Browser::new();
    // Signed in and consented: any request that passes would get a code at once.
    rp.sign_in(&browser, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, &[]);
    let ask = |extra: &[(&str, &str)]| {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", rp.app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile email"),
            ("state", "b"),
        ];
        pairs.extend_from_slice(extra);
        browser
            .get(&authorize_url(&server, &pairs))
            .callback(REDIRECT)
    };
    let long_nonce = "n".repeat(2000);
    for (extra, error) in [
        (vec![("nonce", long_nonce.as_str())], "invalid_request"),
        (
            vec![("prompt", "none"), ("prompt", "login")],
            "invalid_request",
        ),
        (vec![("prompt", "none login")], "invalid_request"),
        (vec![("max_age", "-1")], "invalid_request"),
        (vec![("max_age", "soon")], "invalid_request"),
        (
            vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (
            vec![("request_uri", "https://rp.example/request.jwt")],
            "request_uri_not_supported",
        ),
    ] {
        let callback = ask(&extra);
        assert_eq!(callback.get("error"), Some(error), "{extra:?}");
        assert!(callback.get("code").is_none(), "{extra:?}");
        assert_eq!(callback.get("state"), Some("b"), "{extra:?}");
    }
    // Values keyward does not act on are no reason to fail (Basic OP profile).
    let callback = ask(&[
        ("login_hint", "somebody-unknown@nowhere"),
        ("ui_locales", "tlh-Latn xx"),
        ("claims_locales", "zz"),
        ("display", "hologram"),
        ("acr_values", "urn:example:loa:9"),
        ("offline_access", "ignored"),
    ]);
    assert!(callback.get("code").is_some(), "{callback:?}");
}

/// The `<dt>`/`<dd>` pairs of the `<dl id="{id}">` on a page, entities decoded (the names
/// are in `<code>`).
fn definitions(html: &str, id: &str) -> std::collections::BTreeMap<String, String> {
    let start = html
        .find(&format!(r#"id="{id}""#))
        .unwrap_or_else(|| panic!("no dl#{id} on the page:\n{html}"));
    let list = &html[start..start + html[start..].find("</dl>").expect("closed")];
    let text = |fragment: &str| {
        crate::forms::decode_entities(
            fragment
                .trim()
                .trim_start_matches("<code>")
                .trim_end_matches("</code>"),
        )
    };
    list.split("<dt>")
        .skip(1)
        .map(|entry| {
            let (name, rest) = entry.split_once("</dt><dd>").expect("dt then dd");
            let value = rest.split_once("</dd>").expect("dd closed").0;
            (text(name), text(value))
        })
        .collect()
}

/// `keyward demo`'s app signs in as a relying party must: PKCE S256 with the verifier out of
/// the URL, a nonce, and on its landing page the ID token it verified and userinfo.
#[test]
fn issue_11_demo_signs_in_with_pkce_and_a_nonce_and_shows_the_verified_claims() {
    let demo = crate::support::Demo::start();
    let browser = Browser::new();
    let start = browser.get(&demo.url("/demo"));
    assert_eq!(start.status, 200, "{}", start.describe());
    crate::forms::assert_page_headers(&start, "demo app");
    let flow_cookie = start
        .set_cookies()
        .into_iter()
        .find(|cookie| cookie.starts_with("keyward_demo_flow="))
        .expect("the flow is kept in a cookie");
    for attribute in ["HttpOnly", "Path=/demo", "SameSite=Lax"] {
        assert!(flow_cookie.contains(attribute), "{flow_cookie}");
    }
    let href = start
        .body
        .split(r#"<a class="button primary" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-in button");
    let link = url::Url::parse(&crate::forms::decode_entities(href)).unwrap();
    assert!(link.as_str().starts_with(&demo.url("/oauth2/authorize?")));
    let query: std::collections::BTreeMap<String, String> =
        link.query_pairs().into_owned().collect();
    assert_eq!(query["code_challenge_method"], "S256");
    assert_eq!(query["code_challenge"].len(), 43, "{link}");
    assert_eq!(query["scope"], "openid profile email");
    assert_eq!(query["client_id"], demo.client_id);
    assert!(!query.contains_key("code_verifier"), "{link}");
    let nonce = query["nonce"].clone();
    assert!(nonce.len() >= 32, "{link}");
    // Sealed: the cookie shows none of the flow's values.
    assert!(!flow_cookie.contains(&nonce) && !flow_cookie.contains(&query["state"]));

    let consent = browser.authorize(link.as_str(), "demo", &demo.password);
    assert!(consent.is_consent(), "{}", consent.describe());
    let landing = browser.follow(browser.decide(&consent, "allow"));
    assert_eq!(landing.status, 200, "{}", landing.describe());
    assert!(landing
        .url
        .as_str()
        .starts_with(&demo.url("/demo/callback?")));
    crate::forms::assert_page_headers(&landing, "demo landing page");
    let header = definitions(&landing.body, "id-token-header");
    let claims = definitions(&landing.body, "id-token-claims");
    let userinfo = definitions(&landing.body, "userinfo");
    let user = crate::support::keyward()
        .args([
            "--data-dir",
            &demo.data_dir,
            "--json",
            "user",
            "show",
            "demo",
        ])
        .output()
        .unwrap();
    let user: Value = serde_json::from_slice(&user.stdout).expect("user show --json");
    assert_eq!(claims["sub"], user["user_id"].as_str().unwrap());
    assert_eq!(claims["iss"], demo.base_url);
    assert_eq!(claims["aud"], demo.client_id);
    assert_eq!(claims["nonce"], nonce);
    assert!(claims.contains_key("at_hash"), "{claims:?}");
    assert_eq!(header["alg"], "RS256");
    let jwks: Value = reqwest::blocking::get(demo.url("/oauth2/jwks"))
        .unwrap()
        .json()
        .unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|key| key["kid"] == header["kid"].as_str() && key["alg"] == "RS256"),
        "the header's kid is a published RS256 key: {header:?} {jwks}"
    );
    assert_eq!(userinfo["sub"], claims["sub"]);
    assert_eq!(userinfo["email"], "demo@example.com");
    assert_eq!(userinfo["preferred_username"], "demo");
    assert!(
        landing.body.contains("Signature: RS256 by key"),
        "{}",
        landing.body
    );
    assert!(landing.body.contains("nonce is the one this browser sent"));

    // The flow is over: the same callback again, or in a browser that never started it, is
    // refused before any code is redeemed.
    let again = browser.get(landing.url.as_str());
    assert_eq!(again.status, 400, "{}", again.describe());
    assert!(again.body.contains("did not start this sign-in"));
    let stranger = Browser::new().get(landing.url.as_str());
    assert_eq!(stranger.status, 400, "{}", stranger.describe());

    // Deny (consent is remembered now, so asked for again): the app says so, and shows no
    // claims.
    let start = browser.get(&demo.url("/demo"));
    let href = start
        .body
        .split(r#"<a class="button primary" href=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the sign-in button");
    let consent = browser.open(&format!(
        "{}&prompt=consent",
        crate::forms::decode_entities(href)
    ));
    assert!(consent.is_consent(), "{}", consent.describe());
    let denied = browser.follow(browser.decide(&consent, "deny"));
    assert!(
        denied.body.contains("access_denied"),
        "{}",
        denied.describe()
    );
    assert!(!denied.body.contains("id-token-claims"));
    assert!(demo.stop().success());
}

/// The payload of a JWT, unverified (the signature is the relying party tests' business).
fn jwt_payload(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn issue_11_an_openid_request_names_its_redirect_uri_and_a_narrowed_refresh_narrows_the_id_token() {
    let (data, server, _) = world("RS256");
    let app = register_client(
        &data,
        "Claims RP",
        &[REDIRECT],
        &["--scope", "openid profile email", "--id-token-claims"],
    );
    // Core §3.1.2.1: redirect_uri is required with openid, even with one registered.
    let page = Browser::new().get(&authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &app.client_id),
            ("scope", "openid"),
            ("state", "r"),
        ],
    ));
    assert_eq!(page.status, 400, "{}", page.describe());
    assert!(page.header("location").is_none());
    let url = authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &app.client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid profile email"),
            ("state", "r"),
        ],
    );
    let callback = Browser::new().approve(&url, "alice", USER_PASSWORD, REDIRECT);
    let first = crate::support::token(
        &server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", callback.code()),
            ("redirect_uri", REDIRECT),
        ],
    )
    .ok();
    let claims = jwt_payload(first["id_token"].as_str().unwrap());
    assert_eq!(claims["email"], "alice@example.com", "{claims}");
    let narrowed = crate::support::token(
        &server,
        app.auth(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", first["refresh_token"].as_str().unwrap()),
            ("scope", "openid"),
        ],
    )
    .ok();
    assert_eq!(narrowed["scope"], "openid");
    let claims = jwt_payload(narrowed["id_token"].as_str().unwrap());
    for claim in ["email", "email_verified", "name", "preferred_username"] {
        assert!(
            claims.get(claim).is_none(),
            "{claim} after narrowing: {claims}"
        );
    }
}

#[test]
fn issue_11_malformed_logout_requests_are_clear_errors_and_end_nothing() {
    let (_data, server, rp) = logout_world();
    let browser = Browser::new();
    let hint = rp
        .sign_in(&browser, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, &[])
        .id_token
        .to_string();
    let signed_in = |browser: &Browser| !browser.open(&server.url("/account")).is_login();
    let long_state = "s".repeat(2000);
    for (pairs, why) in [
        (
            vec![
                ("id_token_hint", hint.as_str()),
                ("post_logout_redirect_uri", AFTER_LOGOUT),
                ("state", long_state.as_str()),
            ],
            "oversized state",
        ),
        (
            vec![
                ("id_token_hint", hint.as_str()),
                ("id_token_hint", hint.as_str()),
            ],
            "repeated hint",
        ),
        (vec![("client_id", "not-an-id")], "malformed client_id"),
    ] {
        let page = browser.get(&logout_url(&server, &pairs));
        assert_eq!(page.status, 400, "{why}: {}", page.describe());
        assert!(page.header("location").is_none(), "{why}");
        assert!(signed_in(&browser), "{why}: nothing ends");
    }
    // Bytes that are not UTF-8, and a POST that is not a form.
    let page = browser.get(&server.url("/oauth2/logout?state=%FF%FE"));
    assert_eq!(page.status, 400, "{}", page.describe());
    let reply = crate::support::post_raw(
        &server,
        "/oauth2/logout",
        &[("content-type", "application/json")],
        b"{\"id_token_hint\":\"x\"}".to_vec(),
    );
    assert_eq!(reply.status, 400, "{}", reply.body);
    assert!(signed_in(&browser));
}

/// Item 9 and Core §3.1.2.1: `offline_access` is accepted (no prompt=consent) from a client
/// with the refresh grant and changes nothing else; `invalid_scope` names what was refused;
/// a request without `scope` is plain OAuth 2.0 (no ID token).
#[test]
fn issue_11_offline_access_is_accepted_invalid_scope_names_the_scope_and_no_scope_is_plain_oauth() {
    let (data, server, app) = world("EdDSA");
    let authorize = |app: &App, scope: Option<&str>| {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("state", "o"),
        ];
        if let Some(scope) = scope {
            pairs.push(("scope", scope));
        }
        authorize_url(&server, &pairs)
    };
    let redeem = |app: &App, code: &str| {
        crate::support::token(
            &server,
            app.auth(),
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT),
            ],
        )
        .ok()
    };
    let browser = Browser::new();
    let callback = browser.approve(
        &authorize(&app, Some("openid offline_access")),
        "alice",
        USER_PASSWORD,
        REDIRECT,
    );
    let tokens = redeem(&app, callback.code());
    assert!(tokens["id_token"].is_string(), "{tokens}");
    assert!(tokens["refresh_token"].is_string(), "{tokens}");

    // Without openid: a refresh token all the same, and no ID token.
    let callback = browser.approve(
        &authorize(&app, Some("profile")),
        "alice",
        USER_PASSWORD,
        REDIRECT,
    );
    let plain = redeem(&app, callback.code());
    assert!(plain["refresh_token"].is_string(), "{plain}");
    assert!(plain.get("id_token").is_none(), "{plain}");
    // Growing the scope on refresh is refused, naming what was not granted.
    let refused = crate::support::token(
        &server,
        app.auth(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", plain["refresh_token"].as_str().unwrap()),
            ("scope", "profile email"),
        ],
    );
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error(), "invalid_scope");
    let description = refused.json()["error_description"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(description.contains("email"), "{description}");

    // No scope at all: the client's scopes without openid, so no ID token.
    let callback = browser.approve(&authorize(&app, None), "alice", USER_PASSWORD, REDIRECT);
    let unscoped = redeem(&app, callback.code());
    assert!(unscoped.get("id_token").is_none(), "{unscoped}");
    assert!(
        !unscoped["scope"].as_str().unwrap_or("").contains("openid"),
        "{unscoped}"
    );

    // A scope the client may not ask for is named; offline_access without the refresh grant
    // is refused too.
    let callback = browser
        .get(&authorize(&app, Some("openid files:write")))
        .callback(REDIRECT);
    assert_eq!(callback.get("error"), Some("invalid_scope"));
    assert!(
        callback
            .get("error_description")
            .is_some_and(|text| text.contains("files:write")),
        "{callback:?}"
    );
    let no_refresh = register_client(
        &data,
        "No refresh",
        &[REDIRECT],
        &["--grant-types", "authorization_code"],
    );
    let callback = browser
        .get(&authorize(&no_refresh, Some("openid offline_access")))
        .callback(REDIRECT);
    assert_eq!(callback.get("error"), Some("invalid_scope"), "{callback:?}");
    assert!(
        callback
            .get("error_description")
            .is_some_and(|text| text.contains("offline_access")),
        "{callback:?}"
    );
}
