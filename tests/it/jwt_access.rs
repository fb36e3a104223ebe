//! Issue 11: JWT access tokens (RFC 9068) for clients registered with
//! `--access-token-format jwt`, and RFC 8707 resource indicators as their audience. A
//! resource server validates them with the JWKS alone (here `jsonwebtoken`, which keyward
//! did not write for this); keyward still introspects and revokes them.

use jsonwebtoken::{decode, decode_header, jwk::JwkSet, DecodingKey, Validation};
use serde_json::Value;

use crate::forms::Browser;
use crate::support::{
    authorize_url, post_as_client, register_client, revoke, token, App, DataDir, TestServer,
    USER_PASSWORD,
};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const API: &str = "https://api.example.com";
const FILES: &str = "urn:example:files";
const OPEN: &str = "https://open.example.com";

fn world() -> (DataDir, TestServer, App) {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &["--resource", OPEN]);
    let app = register_client(
        &data,
        "JWT app",
        &[REDIRECT],
        &[
            "--scope",
            "openid profile",
            "--access-token-format",
            "jwt",
            "--resource",
            API,
            "--resource",
            FILES,
            "--id-token-alg",
            "ES256",
            "--grant-types",
            "authorization_code,refresh_token,client_credentials",
        ],
    );
    (data, server, app)
}

/// The code flow's browser part with these extra authorization parameters.
fn get_code(server: &TestServer, browser: &Browser, app: &App, extra: &[(&str, &str)]) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile"),
        ("state", "s"),
    ];
    pairs.extend_from_slice(extra);
    let callback = browser.approve(
        &authorize_url(server, &pairs),
        "alice",
        USER_PASSWORD,
        REDIRECT,
    );
    callback.code().to_owned()
}

/// What a resource server does: fetch the JWKS, pick the key by `kid`, check signature,
/// `typ`, `iss`, `aud` and `exp`.
fn validate(server: &TestServer, token: &str, audience: &str) -> Result<Value, String> {
    let header = decode_header(token).map_err(|error| error.to_string())?;
    if header.typ.as_deref() != Some("at+jwt") {
        return Err(format!("typ is {:?}", header.typ));
    }
    let jwks: JwkSet = reqwest::blocking::get(server.url("/oauth2/jwks"))
        .unwrap()
        .json()
        .unwrap();
    let jwk = jwks
        .find(header.kid.as_deref().ok_or("no kid")?)
        .ok_or("kid not in the JWKS")?;
    let key = DecodingKey::from_jwk(jwk).map_err(|error| error.to_string())?;
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[&server.base_url]);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
    decode::<Value>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|error| error.to_string())
}

fn introspect(server: &TestServer, app: &App, token: &str) -> Value {
    post_as_client(
        server,
        "/oauth2/introspect",
        Some(app.auth()),
        &[("token", token)],
    )
    .json()
}

#[test]
fn issue_11_jwt_access_tokens_validate_with_the_jwks_and_still_introspect_and_revoke() {
    let (_data, server, app) = world();
    let browser = Browser::new();
    // No resource asked for: the client's first registered resource is the audience.
    let code = get_code(&server, &browser, &app, &[]);
    let reply = token(
        &server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    );
    let body = reply.ok();
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(body["token_type"], "Bearer");
    let claims = validate(&server, access, API).expect("a resource server accepts it");
    for field in [
        "iss",
        "sub",
        "aud",
        "client_id",
        "scope",
        "jti",
        "exp",
        "iat",
    ] {
        assert!(claims.get(field).is_some(), "{field} missing: {claims}");
    }
    assert_eq!(claims["client_id"], app.client_id.as_str());
    assert_eq!(claims["scope"], "openid profile");
    // The default audience: the client's first resource, and (for an openid token) this
    // server, for userinfo.
    assert_eq!(claims["aud"], serde_json::json!([API, server.base_url]));
    assert_eq!(
        decode_header(access).unwrap().alg,
        jsonwebtoken::Algorithm::ES256
    );
    // Another resource server's audience is refused by the resource server.
    assert!(validate(&server, access, FILES).is_err());
    // keyward itself: userinfo, introspection (with aud), then revocation.
    let info: Value = reqwest::blocking::Client::new()
        .get(server.url("/oauth2/userinfo"))
        .bearer_auth(access)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(info["sub"], claims["sub"], "{info}");
    let active = introspect(&server, &app, access);
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["aud"], claims["aud"], "{active}");
    assert_eq!(active["sub"], claims["sub"]);
    // An ID token is not an access token, however well signed.
    let id_token = body["id_token"].as_str().unwrap();
    assert_eq!(introspect(&server, &app, id_token)["active"], false);
    let tampered = format!("{}x", &access[..access.len() - 1]);
    assert_eq!(introspect(&server, &app, &tampered)["active"], false);
    assert_eq!(revoke(&server, Some(app.auth()), access).status, 200);
    assert_eq!(introspect(&server, &app, access)["active"], false);
    // A refresh gives a JWT again.
    let refreshed = token(
        &server,
        app.auth(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", body["refresh_token"].as_str().unwrap()),
        ],
    )
    .ok();
    validate(&server, refreshed["access_token"].as_str().unwrap(), API).expect("refreshed");
    // Client credentials: `sub` is the client itself.
    let machine = token(
        &server,
        app.auth(),
        &[("grant_type", "client_credentials"), ("scope", "profile")],
    )
    .ok();
    let claims = validate(&server, machine["access_token"].as_str().unwrap(), API).unwrap();
    assert_eq!(claims["sub"], app.client_id.as_str());
    assert_eq!(claims["aud"], API, "no openid, no userinfo audience");
}

#[test]
fn issue_11_resource_indicators_set_the_audience_and_unknown_ones_are_invalid_target() {
    let (data, server, app) = world();
    let browser = Browser::new();
    // Two resources on the authorization request; the token request narrows to one.
    let code = get_code(
        &server,
        &browser,
        &app,
        &[("resource", FILES), ("resource", OPEN)],
    );
    let body = token(
        &server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("resource", OPEN),
        ],
    )
    .ok();
    let access = body["access_token"].as_str().unwrap();
    assert_eq!(validate(&server, access, OPEN).unwrap()["aud"], OPEN);
    assert!(validate(&server, access, FILES).is_err(), "narrowed to one");
    // A token for another resource server is not one for userinfo (RFC 8707): that server
    // must not be able to read the user's profile with it.
    let userinfo = |token: &str| {
        reqwest::blocking::Client::new()
            .get(server.url("/oauth2/userinfo"))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(userinfo(access), 401);
    // Asking for this server as the resource is how such a client gets one for userinfo.
    let own = get_code(&server, &browser, &app, &[("resource", &server.base_url)]);
    let own = token(
        &server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &own),
            ("redirect_uri", REDIRECT),
        ],
    )
    .ok();
    assert_eq!(userinfo(own["access_token"].as_str().unwrap()), 200);
    // Both, when the token request names none.
    let refresh = body["refresh_token"].as_str().unwrap();
    let both = token(
        &server,
        app.auth(),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .ok();
    let claims = validate(&server, both["access_token"].as_str().unwrap(), FILES).unwrap();
    assert_eq!(claims["aud"], serde_json::json!([FILES, OPEN]));
    // A resource the grant was not made for: invalid_target, and the refresh token lives.
    let refresh = both["refresh_token"].as_str().unwrap();
    token(
        &server,
        app.auth(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh),
            ("resource", API),
        ],
    )
    .refused(400, "invalid_target");
    token(
        &server,
        app.auth(),
        &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
    )
    .ok();

    // At the authorization endpoint: not the client's, nor open to all; malformed.
    for (resource, why) in [
        ("https://elsewhere.example", "not registered"),
        ("https://api.example.com#frag", "has a fragment"),
        ("relative/path", "not absolute"),
    ] {
        let url = authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", &app.client_id),
                ("redirect_uri", REDIRECT),
                ("scope", "openid"),
                ("state", "t"),
                ("resource", resource),
            ],
        );
        let callback = browser.get(&url).callback(REDIRECT);
        assert_eq!(callback.get("error"), Some("invalid_target"), "{why}");
        assert_eq!(callback.get("state"), Some("t"), "{why}");
    }
    // A code asked without resources cannot gain one at the token endpoint; the code is
    // not used up by the refusal.
    let plain = code_without_resources(&server, &browser, &app);
    token(
        &server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &plain),
            ("redirect_uri", REDIRECT),
            ("resource", API),
        ],
    )
    .refused(400, "invalid_target");
    token(
        &server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &plain),
            ("redirect_uri", REDIRECT),
        ],
    )
    .ok();
    // An opaque-token client asking for a resource: its introspection names the audience.
    let opaque = register_client(
        &data,
        "Opaque",
        &[REDIRECT],
        &["--scope", "openid profile", "--resource", API],
    );
    let code = get_code(&server, &browser, &opaque, &[("resource", API)]);
    let body = token(
        &server,
        opaque.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
        ],
    )
    .ok();
    let access = body["access_token"].as_str().unwrap();
    assert!(decode_header(access).is_err(), "opaque stays opaque");
    assert_eq!(introspect(&server, &opaque, access)["aud"], API);
    // Client credentials with a resource it may not ask for.
    token(
        &server,
        app.auth(),
        &[
            ("grant_type", "client_credentials"),
            ("resource", "https://elsewhere.example"),
        ],
    )
    .refused(400, "invalid_target");
}

fn code_without_resources(server: &TestServer, browser: &Browser, app: &App) -> String {
    get_code(server, browser, app, &[])
}

#[test]
fn issue_11_a_bad_serve_resource_is_refused_at_start_and_changes_nothing() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let before = data.snapshot();
    let long = format!("https://api.example/{}", "a".repeat(2100));
    for bad in [
        "api.example.com",
        "https://api.example/#x",
        "https://a b",
        "",
        &long,
    ] {
        let refused = TestServer::try_start(&data, &["--resource", bad]);
        let stderr = refused.err().unwrap_or_else(|| panic!("{bad:?} accepted"));
        assert!(stderr.contains("--resource"), "{bad:?}: {stderr}");
    }
    crate::support::assert_same_files(&before, &data.snapshot(), "refused serve");
}

#[test]
fn issue_11_oversized_and_repeated_resources_are_invalid_target_and_issue_nothing() {
    let (_data, server, app) = world();
    let browser = Browser::new();
    let long = format!("{API}/{}", "a".repeat(2100));
    let eleven: Vec<String> = (0..11).map(|n| format!("https://r{n}.example")).collect();
    let mut many: Vec<(&str, &str)> = eleven.iter().map(|r| ("resource", r.as_str())).collect();
    for extra in [vec![("resource", long.as_str())], std::mem::take(&mut many)] {
        let mut pairs = vec![
            ("response_type", "code"),
            ("client_id", app.client_id.as_str()),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("state", "t"),
        ];
        pairs.extend(extra);
        let callback = browser
            .get(&authorize_url(&server, &pairs))
            .callback(REDIRECT);
        assert_eq!(
            callback.get("error"),
            Some("invalid_target"),
            "{callback:?}"
        );
        assert!(callback.get("code").is_none());
    }
}
