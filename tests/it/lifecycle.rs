//! Issue 4: what happens to tokens after they are issued. Revocation (RFC 7009),
//! introspection (RFC 7662) and userinfo (RFC 6750 Bearer), once through the `oauth2`
//! crate and otherwise row by row in plain HTTP; operators ending grants, clients and users;
//! and access tokens surviving `kill -9`.

use std::collections::BTreeSet;

use oauth2::basic::{BasicClient, BasicTokenResponse};
use oauth2::{
    AccessToken, AuthType, ClientId, ClientSecret, EndpointNotSet, EndpointSet, IntrospectionUrl,
    RefreshToken, RequestTokenError, RevocationUrl, StandardRevocableToken,
    TokenIntrospectionResponse, TokenResponse, TokenUrl,
};
use serde_json::{json, Value};

use crate::forms::Browser;
use crate::support::{
    code_flow_tokens, code_request, create_api_key, exchange_api_key, get_raw, introspect,
    introspection, is_active, list_grants, pkce_pair, post_as_client, refresh_as, register_client,
    revoke, text_of, token, userinfo, App, ClientAuth, DataDir, Reply, TestServer, USER_PASSWORD,
};

const REDIRECT: &str = "https://app.example.com/callback";
const FORM: &str = "application/x-www-form-urlencoded";

/// The default access-token lifetime (`serve --access-token-ttl`: one hour).
const ACCESS_TTL: i64 = 3600;

/// `user create` with an email and a display name, so userinfo has claims to show.
fn create_person(data: &DataDir, username: &str, email: &str, name: &str) -> String {
    let created = data
        .run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                username,
                "--email",
                email,
                "--name",
                name,
                "--password-stdin",
                "--json",
            ],
            &format!("{USER_PASSWORD}\n"),
        )
        .json();
    text_of(&created, "user_id")
}

/// A server with `alice` (email and name set; `browser` signs in as her when asked), clients: `web`
/// and `other` (confidential, code flow), `spa` (public) and `service` (client credentials,
/// confidential; it plays the resource server that introspects).
struct World {
    data: DataDir,
    server: TestServer,
    alice: String,
    web: App,
    other: App,
    spa: App,
    service: App,
    browser: Browser,
}

impl World {
    fn new() -> World {
        let data = DataDir::new();
        let alice = create_person(&data, "alice", "alice@example.com", "Alice Liddell");
        let server = TestServer::start(&data, &[]);
        let scope = ["--scope", "openid profile email"];
        let web = register_client(&data, "Score Tracker", &[REDIRECT], &scope);
        let other = register_client(&data, "Other App", &[REDIRECT], &scope);
        let spa = register_client(
            &data,
            "Pocket App",
            &[REDIRECT],
            &[&scope[..], &["--public"]].concat(),
        );
        let service = register_client(
            &data,
            "Resource Server",
            &[REDIRECT],
            &[
                "--grant-types",
                "client_credentials",
                "--scope",
                "reports:read reports:write",
            ],
        );
        World {
            data,
            server,
            alice,
            web,
            other,
            spa,
            service,
            browser: Browser::new(),
        }
    }

    /// A new grant of `app` for alice: its first token response.
    fn grant(&self, app: &App, scope: &str) -> Value {
        code_flow_tokens(&self.server, &self.browser, app, "alice", scope)
    }

    /// A client-credentials access token of `service`.
    fn service_token(&self, scope: &str) -> String {
        let tokens = token(
            &self.server,
            self.service.auth(),
            &[("grant_type", "client_credentials"), ("scope", scope)],
        )
        .ok();
        text_of(&tokens, "access_token")
    }

    /// A new API key of alice's with this scope, and an access token from it:
    /// (id, key, access token).
    fn api_key_token(&self, scope: &str) -> (String, String, String) {
        let (id, key) = create_api_key(&self.data, "alice", "script", &["--scope", scope]);
        let tokens = exchange_api_key(&self.server, &key, None).ok();
        (id, key, text_of(&tokens, "access_token"))
    }

    /// The resource server's credentials, for introspection.
    fn rs(&self) -> ClientAuth<'_> {
        self.service.auth()
    }

    fn active(&self, token: &str) -> bool {
        is_active(&self.server, self.rs(), token)
    }
}

fn keys(json: &Value) -> BTreeSet<String> {
    json.as_object()
        .unwrap_or_else(|| panic!("not an object: {json}"))
        .keys()
        .cloned()
        .collect()
}

fn set(words: &str) -> BTreeSet<String> {
    words.split_whitespace().map(str::to_owned).collect()
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Flips one character in the middle of a token.
fn tampered(token: &str) -> String {
    let mut chars: Vec<char> = token.chars().collect();
    let middle = chars.len() / 2;
    chars[middle] = if chars[middle] == 'A' { 'B' } else { 'A' };
    chars.into_iter().collect()
}

// ---------------------------------------------------------------------------------------------
// The `oauth2` crate's view
// ---------------------------------------------------------------------------------------------

type LifecycleClient =
    BasicClient<EndpointNotSet, EndpointNotSet, EndpointSet, EndpointSet, EndpointSet>;

/// The `oauth2` crate's configuration for `app`. The crate insists on an https revocation
/// URL (RFC 7009 §2), so the client is configured as it would be in production, with https
/// endpoints, and `through_tls_proxy` plays the TLS-terminating proxy in front of the server.
fn oauth_client(server: &TestServer, app: &App, auth_type: AuthType) -> LifecycleClient {
    let https = |path: &str| server.url(path).replacen("http://", "https://", 1);
    let client = BasicClient::new(ClientId::new(app.client_id.clone()))
        .set_token_uri(TokenUrl::new(https("/oauth2/token")).unwrap())
        .set_revocation_url(RevocationUrl::new(https("/oauth2/revoke")).unwrap())
        .set_introspection_url(IntrospectionUrl::new(https("/oauth2/introspect")).unwrap())
        .set_auth_type(auth_type);
    match &app.client_secret {
        Some(secret) => client.set_client_secret(ClientSecret::new(secret.clone())),
        None => client,
    }
}

/// The `oauth2` crate's HTTP client: forwards each request, unchanged but for the scheme, to
/// the server's plain-HTTP loopback port, as a TLS-terminating proxy would. Never follows
/// redirects (the crate's advice, against SSRF).
fn through_tls_proxy(request: oauth2::HttpRequest) -> Result<oauth2::HttpResponse, reqwest::Error> {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let url = request.uri().to_string().replacen("https://", "http://", 1);
    let mut forwarded = client.request(request.method().clone(), url);
    for (name, value) in request.headers() {
        forwarded = forwarded.header(name, value);
    }
    let response = forwarded.body(request.body().clone()).send()?;
    let mut answer = oauth2::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        answer = answer.header(name, value);
    }
    Ok(answer
        .body(response.bytes()?.to_vec())
        .expect("a response rebuilt from a response"))
}

/// A server's error response becomes its error code; anything else fails the test.
fn outcome<T, E: oauth2::ErrorResponse + 'static>(
    result: Result<T, RequestTokenError<reqwest::Error, E>>,
) -> Result<T, String> {
    match result {
        Ok(value) => Ok(value),
        Err(RequestTokenError::ServerResponse(error)) => Err(serde_json::to_value(&error).unwrap()
            ["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned()),
        Err(other) => panic!("request failed: {other:?}"),
    }
}

fn refresh_with(
    client: &LifecycleClient,
    token: &RefreshToken,
) -> Result<BasicTokenResponse, String> {
    outcome(
        client
            .exchange_refresh_token(token)
            .request(&through_tls_proxy),
    )
}

fn revoke_with(client: &LifecycleClient, token: StandardRevocableToken) -> Result<(), String> {
    outcome(
        client
            .revoke_token(token)
            .expect("an https revocation URL")
            .request(&through_tls_proxy),
    )
}

fn introspect_with(
    client: &LifecycleClient,
    token: &AccessToken,
) -> oauth2::basic::BasicTokenIntrospectionResponse {
    outcome(client.introspect(token).request(&through_tls_proxy))
        .unwrap_or_else(|error| panic!("introspection refused: {error}"))
}

#[test]
fn issue_4_oauth2_revokes_an_access_token_alone_and_a_refresh_token_with_its_whole_grant() {
    let world = World::new();
    for auth_type in [AuthType::BasicAuth, AuthType::RequestBody] {
        let what = format!("{auth_type:?}");
        let client = oauth_client(&world.server, &world.web, auth_type);
        let first = world.grant(&world.web, "openid profile");
        let a1 = AccessToken::new(text_of(&first, "access_token"));
        let r1 = RefreshToken::new(text_of(&first, "refresh_token"));
        let second = refresh_with(&client, &r1)
            .unwrap_or_else(|error| panic!("{what}: refresh refused: {error}"));
        let a2 = second.access_token().clone();
        let r2 = second.refresh_token().expect("rotated").clone();

        // Introspection as the crate reads it (RFC 7662 §2.2).
        let described = introspect_with(&client, &a1);
        assert!(described.active(), "{what}: {described:?}");
        let scopes: BTreeSet<String> = described
            .scopes()
            .expect("scope")
            .iter()
            .map(|scope| scope.to_string())
            .collect();
        assert_eq!(scopes, set("openid profile"), "{what}");
        assert_eq!(
            described.client_id().map(|id| id.as_str()),
            Some(world.web.client_id.as_str()),
            "{what}"
        );
        assert_eq!(described.username(), Some("alice"), "{what}");
        assert_eq!(described.sub(), Some(world.alice.as_str()), "{what}");
        assert_eq!(
            described.iss(),
            Some(world.server.base_url.as_str()),
            "{what}"
        );
        assert_eq!(
            described.token_type(),
            Some(&oauth2::basic::BasicTokenType::Bearer),
            "{what}"
        );
        let (exp, iat) = (described.exp().expect("exp"), described.iat().expect("iat"));
        assert_eq!((exp - iat).num_seconds(), ACCESS_TTL, "{what}");

        // An access token alone: the grant and its other tokens go on.
        revoke_with(&client, StandardRevocableToken::AccessToken(a1.clone()))
            .unwrap_or_else(|error| panic!("{what}: revoking an access token: {error}"));
        assert!(
            !introspect_with(&client, &a1).active(),
            "{what}: a1 revoked"
        );
        assert_eq!(userinfo(&world.server, a1.secret()).status, 401, "{what}");
        assert!(
            introspect_with(&client, &a2).active(),
            "{what}: a2 lives on"
        );
        assert_eq!(userinfo(&world.server, a2.secret()).status, 200, "{what}");
        let third = refresh_with(&client, &r2)
            .unwrap_or_else(|error| panic!("{what}: the grant must survive: {error}"));
        let a3 = third.access_token().clone();
        let r3 = third.refresh_token().expect("rotated").clone();

        // A refresh token: the whole grant, every access token of it.
        revoke_with(&client, StandardRevocableToken::RefreshToken(r3.clone()))
            .unwrap_or_else(|error| panic!("{what}: revoking a refresh token: {error}"));
        for (name, access) in [("a2", &a2), ("a3", &a3)] {
            assert!(
                !introspect_with(&client, access).active(),
                "{what}: {name} outlived its grant"
            );
            assert_eq!(
                userinfo(&world.server, access.secret()).status,
                401,
                "{what}: {name}"
            );
        }
        assert_eq!(
            refresh_with(&client, &r3).err().as_deref(),
            Some("invalid_grant"),
            "{what}: the revoked refresh token"
        );
        // Revoking again, or an already dead token, is still a plain success.
        for dead in [
            StandardRevocableToken::RefreshToken(r3.clone()),
            StandardRevocableToken::AccessToken(a1.clone()),
        ] {
            revoke_with(&client, dead)
                .unwrap_or_else(|error| panic!("{what}: revoking a dead token: {error}"));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Revocation, rule by rule
// ---------------------------------------------------------------------------------------------

/// Who calls the revocation endpoint.
#[derive(Clone, Copy, Debug)]
enum Caller {
    /// `web` with client_secret_basic.
    Web,
    /// `web` with client_secret_post.
    WebPost,
    /// `web`'s client_id alone, no secret: a confidential client must authenticate.
    WebIdOnly,
    /// `web`'s id with a wrong secret, over Basic.
    WebWrongSecret,
    Other,
    /// The public client, by client_id.
    Spa,
    Service,
    UnknownClient,
    Nobody,
}

/// What is sent as `token`, and whose tokens are watched afterwards.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    WebRefresh,
    WebAccess,
    SpaRefresh,
    ServiceAccess,
    ApiKeyAccess,
    /// `web`'s access token with one character changed (the real one is watched).
    TamperedWebAccess,
    /// `web`'s refresh token with another secret (the real one is watched).
    ForgedWebRefresh,
    Garbage,
    /// No `token` parameter at all (the web grant is watched).
    Missing,
}

/// What must hold for the watched tokens after the call.
#[derive(Clone, Copy, Debug, PartialEq)]
enum After {
    /// The target's grant (a refresh token) or the target alone (an access token) ended.
    Revoked,
    Intact,
}

/// The tokens of one row, minted fresh.
struct Minted {
    /// (access, refresh) of a fresh `web` grant.
    web: (String, String),
    /// (access, refresh) of a fresh `spa` grant.
    spa: (String, String),
    service: String,
    api_key: String,
}

/// `None`: 200 with `{}`; otherwise this status and error code.
type Expect = Option<(u16, &'static str)>;
const OK: Expect = None;
const INVALID_CLIENT: Expect = Some((401, "invalid_client"));

/// (what, caller, token sent, token_type_hint, answer, effect on the watched tokens)
type RevocationRow = (
    &'static str,
    Caller,
    Target,
    Option<&'static str>,
    Expect,
    After,
);

#[rustfmt::skip]
const REVOCATION_ROWS: &[RevocationRow] = {
    use After::*;
    use Caller::*;
    use Target::*;
    &[
        ("web revokes its refresh token (Basic)", Web, WebRefresh, None, OK, Revoked),
        ("web revokes its refresh token (post)", WebPost, WebRefresh, Some("refresh_token"), OK, Revoked),
        ("web revokes its access token", Web, WebAccess, Some("access_token"), OK, Revoked),
        ("a wrong hint for a refresh token", Web, WebRefresh, Some("access_token"), OK, Revoked),
        ("a wrong hint for an access token", Web, WebAccess, Some("refresh_token"), OK, Revoked),
        ("an unknown hint", WebPost, WebAccess, Some("id_token"), OK, Revoked),
        ("the public client revokes its own refresh token", Spa, SpaRefresh, None, OK, Revoked),
        ("service revokes its client-credentials token", Service, ServiceAccess, None, OK, Revoked),
        ("another client, web's refresh token", Other, WebRefresh, None, OK, Intact),
        ("another client, web's access token", Other, WebAccess, None, OK, Intact),
        ("the public client, web's refresh token", Spa, WebRefresh, None, OK, Intact),
        ("the public client, web's access token", Spa, WebAccess, None, OK, Intact),
        ("web, the public client's refresh token", Web, SpaRefresh, None, OK, Intact),
        ("web, service's token", Web, ServiceAccess, None, OK, Intact),
        ("web, an API key's access token", Web, ApiKeyAccess, None, OK, Intact),
        ("a tampered access token", Web, TamperedWebAccess, None, OK, Intact),
        ("a refresh token id with another secret", Web, ForgedWebRefresh, None, OK, Intact),
        ("garbage", Web, Garbage, None, OK, Intact),
        ("no client authentication", Nobody, WebRefresh, None, INVALID_CLIENT, Intact),
        ("a confidential client's id without its secret", WebIdOnly, WebRefresh, None, INVALID_CLIENT, Intact),
        ("a wrong secret", WebWrongSecret, WebAccess, None, INVALID_CLIENT, Intact),
        ("an unknown client", UnknownClient, WebRefresh, None, INVALID_CLIENT, Intact),
        ("no token parameter", Web, Missing, None, Some((400, "invalid_request")), Intact),
    ]
};

#[test]
fn issue_4_revocation_rules_hold_row_by_row() {
    use After::*;
    use Caller::*;
    use Target::*;
    let world = World::new();
    for (what, caller, target, hint, expect, after) in REVOCATION_ROWS.iter().copied() {
        let web = world.grant(&world.web, "openid profile");
        let spa = world.grant(&world.spa, "openid");
        let minted = Minted {
            web: (
                text_of(&web, "access_token"),
                text_of(&web, "refresh_token"),
            ),
            spa: (
                text_of(&spa, "access_token"),
                text_of(&spa, "refresh_token"),
            ),
            service: world.service_token("reports:read"),
            api_key: world.api_key_token("openid").2,
        };
        let forged_refresh = format!(
            "{}.{}",
            minted.web.1.split_once('.').unwrap().0,
            "x".repeat(43)
        );
        let sent = match target {
            WebRefresh => Some(minted.web.1.clone()),
            WebAccess => Some(minted.web.0.clone()),
            SpaRefresh => Some(minted.spa.1.clone()),
            ServiceAccess => Some(minted.service.clone()),
            ApiKeyAccess => Some(minted.api_key.clone()),
            TamperedWebAccess => Some(tampered(&minted.web.0)),
            ForgedWebRefresh => Some(forged_refresh),
            Garbage => Some("not-a-token".to_owned()),
            Missing => None,
        };
        let auth = match caller {
            Web => Some(world.web.auth()),
            WebPost => Some(world.web.post_auth()),
            WebIdOnly => Some(ClientAuth::Id(&world.web.client_id)),
            WebWrongSecret => Some(ClientAuth::Basic(&world.web.client_id, "wrong secret")),
            Other => Some(world.other.auth()),
            Spa => Some(world.spa.auth()),
            Service => Some(world.service.auth()),
            UnknownClient => Some(ClientAuth::Basic("0123456789abcdef0123456789abcdef", "x")),
            Nobody => None,
        };
        let mut params: Vec<(&str, &str)> = Vec::new();
        if let Some(sent) = &sent {
            params.push(("token", sent));
        }
        if let Some(hint) = hint {
            params.push(("token_type_hint", hint));
        }
        let reply = post_as_client(&world.server, "/oauth2/revoke", auth, &params);
        match expect {
            None => {
                assert_eq!(reply.status, 200, "{what}: {}", reply.body);
                assert_eq!(reply.json(), json!({}), "{what}");
            }
            Some((status, error)) => {
                assert_eq!(
                    (reply.status, reply.error().as_str()),
                    (status, error),
                    "{what}: {}",
                    reply.body
                );
                if matches!(caller, WebWrongSecret | UnknownClient) {
                    assert!(
                        reply
                            .header("www-authenticate")
                            .is_some_and(|value| value.starts_with("Basic")),
                        "{what}: 401 after Basic carries WWW-Authenticate: Basic: {:?}",
                        reply.headers
                    );
                }
            }
        }

        // What the call did, seen from the token's side.
        let revoked = after == Revoked;
        match target {
            WebRefresh | ForgedWebRefresh | Missing => {
                assert_grant(&world, &world.web, &minted.web, !revoked, what)
            }
            SpaRefresh => assert_grant(&world, &world.spa, &minted.spa, !revoked, what),
            WebAccess | TamperedWebAccess => {
                assert_eq!(world.active(&minted.web.0), !revoked, "{what}: web access");
                // An access token alone never takes its grant with it.
                assert_grant(
                    &world,
                    &world.web,
                    &(String::new(), minted.web.1.clone()),
                    true,
                    what,
                );
            }
            ServiceAccess => assert_eq!(world.active(&minted.service), !revoked, "{what}"),
            ApiKeyAccess => assert_eq!(world.active(&minted.api_key), !revoked, "{what}"),
            Garbage => {}
        }
        // Bystanders are never touched by someone else's revocation.
        if !matches!(target, SpaRefresh) {
            assert!(world.active(&minted.spa.0), "{what}: spa's token");
        }
        if !matches!(target, ServiceAccess) {
            assert!(world.active(&minted.service), "{what}: service's token");
        }
        if !matches!(target, ApiKeyAccess) {
            assert!(world.active(&minted.api_key), "{what}: the API key's token");
        }
    }
}

/// Asserts a grant's state through its tokens: alive, its access token (if given) is active
/// and its refresh token refreshes; ended, both are refused.
#[track_caller]
fn assert_grant(world: &World, app: &App, tokens: &(String, String), alive: bool, what: &str) {
    let (access, refresh) = tokens;
    if !access.is_empty() {
        assert_eq!(world.active(access), alive, "{what}: access token active?");
        let expected = if alive { 200 } else { 401 };
        assert_eq!(
            userinfo(&world.server, access).status,
            expected,
            "{what}: userinfo"
        );
    }
    let refreshed = refresh_as(&world.server, app, refresh);
    if alive {
        refreshed.ok();
    } else {
        refreshed.refused(400, "invalid_grant");
    }
}

// ---------------------------------------------------------------------------------------------
// Introspection
// ---------------------------------------------------------------------------------------------

/// What introspection must say about a token.
#[derive(Debug)]
enum Said {
    /// Active: (client_id, sub and username present?, scope).
    Active(Option<String>, bool, &'static str),
    Inactive,
}

#[test]
fn issue_4_introspection_describes_active_tokens_and_says_only_active_false_otherwise() {
    let world = World::new();
    let web = world.grant(&world.web, "openid profile");
    let web_access = text_of(&web, "access_token");
    let narrowed = token(
        &world.server,
        world.web.auth(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &text_of(&web, "refresh_token")),
            ("scope", "openid"),
        ],
    )
    .ok();
    let rotated_refresh = text_of(&web, "refresh_token");
    let spa = world.grant(&world.spa, "openid email");
    let service = world.service_token("reports:read");
    let (_, api_key, api_key_access) = world.api_key_token("openid email");

    let revoked = world.grant(&world.web, "openid");
    revoke(
        &world.server,
        Some(world.web.auth()),
        &text_of(&revoked, "access_token"),
    );
    let ended = world.grant(&world.web, "openid");
    revoke(
        &world.server,
        Some(world.web.auth()),
        &text_of(&ended, "refresh_token"),
    );

    let (_, challenge) = pkce_pair();
    let url = code_request(&world.server, &world.web, "openid", "c", Some(&challenge));
    let code = world
        .browser
        .approve(&url, "alice", USER_PASSWORD, REDIRECT)
        .code()
        .to_owned();

    let (web_id, spa_id, service_id) = (
        Some(world.web.client_id.clone()),
        Some(world.spa.client_id.clone()),
        Some(world.service.client_id.clone()),
    );
    #[rustfmt::skip]
    let rows: Vec<(&str, String, Said)> = vec![
        ("a code-flow access token", web_access.clone(), Said::Active(web_id.clone(), true, "openid profile")),
        ("a narrowed refresh's access token", text_of(&narrowed, "access_token"), Said::Active(web_id, true, "openid")),
        ("a public client's access token", text_of(&spa, "access_token"), Said::Active(spa_id, true, "openid email")),
        ("a client-credentials token", service, Said::Active(service_id, false, "reports:read")),
        ("an API key's access token", api_key_access, Said::Active(None, true, "openid email")),
        ("garbage", "not-a-token".into(), Said::Inactive),
        ("one character", "a".into(), Said::Inactive),
        ("a tampered access token", tampered(&web_access), Said::Inactive),
        ("a very long token", "A".repeat(10_000), Said::Inactive),
        ("the API key itself", api_key, Said::Inactive),
        ("an authorization code", code, Said::Inactive),
        ("a rotated refresh token", rotated_refresh, Said::Inactive),
        ("a revoked access token", text_of(&revoked, "access_token"), Said::Inactive),
        ("the access token of a revoked grant", text_of(&ended, "access_token"), Said::Inactive),
        ("the refresh token of a revoked grant", text_of(&ended, "refresh_token"), Said::Inactive),
    ];
    for (what, sent, said) in rows {
        let json = introspection(&world.server, world.rs(), &sent);
        match said {
            Said::Inactive => assert_eq!(json, json!({ "active": false }), "{what}"),
            Said::Active(client_id, for_user, scope) => {
                let mut expected: BTreeSet<String> =
                    ["active", "scope", "exp", "iat", "iss", "token_type"]
                        .into_iter()
                        .map(str::to_owned)
                        .collect();
                if client_id.is_some() {
                    expected.insert("client_id".into());
                }
                if for_user {
                    expected.extend(["sub".to_owned(), "username".to_owned()]);
                }
                assert_eq!(keys(&json), expected, "{what}: {json}");
                assert_eq!(json["active"], true, "{what}");
                assert_eq!(set(json["scope"].as_str().unwrap()), set(scope), "{what}");
                assert_eq!(json["client_id"].as_str(), client_id.as_deref(), "{what}");
                if for_user {
                    assert_eq!(json["sub"], world.alice.as_str(), "{what}");
                    assert_eq!(json["username"], "alice", "{what}");
                }
                assert_eq!(json["iss"], world.server.base_url.as_str(), "{what}");
                assert_eq!(json["token_type"], "Bearer", "{what}");
                let (exp, iat) = (json["exp"].as_i64().unwrap(), json["iat"].as_i64().unwrap());
                assert!(
                    (now() - 120..=now() + 1).contains(&iat),
                    "{what}: iat {iat}"
                );
                assert_eq!(exp - iat, ACCESS_TTL, "{what}");
            }
        }
    }
}

#[test]
fn issue_4_introspection_answers_only_authenticated_confidential_clients() {
    let world = World::new();
    let web = world.grant(&world.web, "openid");
    let access = text_of(&web, "access_token");
    let bearer = format!("Bearer {access}");
    let basic_spa = crate::support::basic_header(&world.spa.client_id, "");
    // (what, client credentials, or else a raw Authorization header, expected status)
    type Row<'a> = (&'a str, Option<ClientAuth<'a>>, Option<&'a str>, u16);
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("web over Basic", Some(world.web.auth()), None, 200),
        ("web over client_secret_post", Some(world.web.post_auth()), None, 200),
        ("a client-credentials resource server", Some(world.service.auth()), None, 200),
        ("another confidential client", Some(world.other.auth()), None, 200),
        ("no credentials", None, None, 401),
        ("a public client by client_id", Some(world.spa.auth()), None, 401),
        ("a public client over Basic with an empty secret", None, Some(&basic_spa), 401),
        ("web's id without the secret", Some(ClientAuth::Id(&world.web.client_id)), None, 401),
        ("a wrong secret over Basic", Some(ClientAuth::Basic(&world.web.client_id, "nope")), None, 401),
        ("a wrong secret in the body", Some(ClientAuth::Post(&world.web.client_id, "nope")), None, 401),
        ("an unknown client", Some(ClientAuth::Basic("no-such-client", "x")), None, 401),
        ("the token itself as a Bearer credential", None, Some(&bearer), 401),
    ];
    for (what, auth, raw_authorization, status) in rows {
        let reply = match raw_authorization {
            None => introspect(&world.server, auth, &access),
            Some(authorization) => crate::support::post_raw(
                &world.server,
                "/oauth2/introspect",
                &[
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("authorization", authorization),
                ],
                format!("token={access}").into_bytes(),
            ),
        };
        assert_eq!(reply.status, status, "{what}: {}", reply.body);
        if status == 200 {
            assert_eq!(reply.json()["active"], true, "{what}");
        } else {
            assert_eq!(reply.error(), "invalid_client", "{what}: {}", reply.body);
            assert!(
                !reply.body.contains("active") && !reply.body.contains("alice"),
                "{what}: an unauthenticated caller learns nothing: {}",
                reply.body
            );
            assert!(
                reply.header("www-authenticate").is_some(),
                "{what}: a 401 carries WWW-Authenticate: {:?}",
                reply.headers
            );
        }
    }
    // A missing token parameter is the caller's mistake, not an inactive token.
    let reply = post_as_client(
        &world.server,
        "/oauth2/introspect",
        Some(world.web.auth()),
        &[],
    );
    reply.refused(400, "invalid_request");
}

// ---------------------------------------------------------------------------------------------
// Userinfo (RFC 6750)
// ---------------------------------------------------------------------------------------------

/// What userinfo must answer.
#[derive(Debug, PartialEq)]
enum Answer {
    /// 200 with exactly these claims.
    Claims(Value),
    /// 401, `WWW-Authenticate: Bearer realm="keyward"` and no error code.
    Challenge,
    /// This status, with `error="…"` in `WWW-Authenticate: Bearer realm="keyward", …`.
    Error(u16, String),
}

fn error(status: u16, code: &str) -> Answer {
    Answer::Error(status, code.to_owned())
}

#[test]
fn issue_4_userinfo_answers_a_bearer_token_with_the_scopes_claims_and_challenges_otherwise() {
    let world = World::new();
    let token_for = |scope: &str| text_of(&world.grant(&world.web, scope), "access_token");
    let everything = token_for("openid profile email");
    let openid = token_for("openid");
    let profile = token_for("openid profile");
    let email = token_for("email");
    let revoked = token_for("openid");
    revoke(&world.server, Some(world.web.auth()), &revoked);
    let service = world.service_token("reports:read");
    let (_, _, api_key_access) = world.api_key_token("openid email");
    let sub = world.alice.clone();
    // OpenID Connect Core §5.1: `updated_at` with the profile, `email_verified` with the
    // address (nobody verified this one).
    let updated_at =
        world.data.run(&["user", "show", "alice", "--json"]).json()["updated_at"].clone();
    let full = json!({
        "sub": sub, "username": "alice", "preferred_username": "alice",
        "name": "Alice Liddell", "updated_at": updated_at,
        "email": "alice@example.com", "email_verified": false,
    });
    let bare = json!({ "sub": sub, "username": "alice" });
    let named = json!({
        "sub": sub, "username": "alice", "preferred_username": "alice",
        "name": "Alice Liddell", "updated_at": updated_at,
    });
    let mailed = json!({ "sub": sub, "username": "alice", "email": "alice@example.com", "email_verified": false });

    let bearer = |token: &str| Some(format!("Bearer {token}"));
    let form = |token: &str| Some((FORM, format!("access_token={token}")));
    let basic = Some(crate::support::basic_header("alice", USER_PASSWORD));
    let json_body = Some(("application/json", r#"{"hello":"world"}"#.to_owned()));
    // (what, method, Authorization header, body with its content type, answer)
    type Row = (
        &'static str,
        &'static str,
        Option<String>,
        Option<(&'static str, String)>,
        Answer,
    );
    #[rustfmt::skip]
    let rows: Vec<Row> = vec![
        ("GET, every scope", "GET", bearer(&everything), None, Answer::Claims(full.clone())),
        ("GET, openid only", "GET", bearer(&openid), None, Answer::Claims(bare)),
        ("GET, profile", "GET", bearer(&profile), None, Answer::Claims(named.clone())),
        ("GET, email", "GET", bearer(&email), None, Answer::Claims(mailed.clone())),
        ("the scheme is case-insensitive", "GET", Some(format!("bearer {profile}")), None, Answer::Claims(named.clone())),
        ("POST with the header", "POST", bearer(&everything), None, Answer::Claims(full.clone())),
        ("POST with the form body", "POST", None, form(&profile), Answer::Claims(named)),
        ("an API key's access token", "GET", bearer(&api_key_access), None, Answer::Claims(mailed)),
        ("no token, GET", "GET", None, None, Answer::Challenge),
        ("no token, POST", "POST", None, None, Answer::Challenge),
        ("garbage", "GET", bearer("not-a-token"), None, error(401, "invalid_token")),
        ("a tampered token", "GET", bearer(&tampered(&everything)), None, error(401, "invalid_token")),
        ("a revoked token", "GET", bearer(&revoked), None, error(401, "invalid_token")),
        ("a revoked token in the body", "POST", None, form(&revoked), error(401, "invalid_token")),
        ("a client-credentials token: no user", "GET", bearer(&service), None, error(401, "invalid_token")),
        ("header and form body together (RFC 6750 §2)", "POST", bearer(&everything), form(&everything), error(400, "invalid_request")),
        // RFC 6750 §2.2: only a form-encoded body can carry a token; any other body is not a
        // second method, so the header alone counts.
        ("POST with the header and a JSON body", "POST", bearer(&everything), json_body, Answer::Claims(full)),
        // RFC 6750 §3.1: a request without a Bearer token, here with another scheme, gets a
        // challenge without an error code.
        ("another scheme", "GET", basic, None, Answer::Challenge),
    ];
    let mut failures = Vec::new();
    for (what, method, authorization, body, answer) in rows {
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(value) = &authorization {
            headers.push(("authorization", value));
        }
        let reply = match (method, &body) {
            ("GET", _) => get_raw(&world.server, "/oauth2/userinfo", &headers),
            (_, Some((content_type, body))) => {
                headers.push(("content-type", content_type));
                crate::support::post_raw(
                    &world.server,
                    "/oauth2/userinfo",
                    &headers,
                    body.clone().into_bytes(),
                )
            }
            (_, None) => {
                crate::support::post_raw(&world.server, "/oauth2/userinfo", &headers, Vec::new())
            }
        };
        let got = answer_of(&reply);
        if got.as_ref() != Ok(&answer) {
            failures.push(format!(
                "{what}: expected {answer:?}, got {got:?} ({} {:?} {})",
                reply.status,
                reply.header("www-authenticate"),
                reply.body
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// What userinfo answered, as the rows state it; `Err` for an answer that is no proper
/// RFC 6750 answer at all (a refusal without a Bearer challenge, or one that tells who).
fn answer_of(reply: &Reply) -> Result<Answer, String> {
    if reply.status == 200 {
        return Ok(Answer::Claims(reply.json()));
    }
    let challenge = reply
        .header("www-authenticate")
        .ok_or("a refusal without WWW-Authenticate")?;
    if !challenge.starts_with("Bearer") || !challenge.contains(r#"realm="keyward""#) {
        return Err(format!("not a Bearer challenge: {challenge}"));
    }
    if reply.body.contains("alice") {
        return Err(format!("a refusal that tells who: {}", reply.body));
    }
    let error = challenge
        .split_once(r#"error=""#)
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(error, _)| error.to_owned());
    Ok(match error {
        None if reply.status == 401 => Answer::Challenge,
        None => return Err(format!("{} without an error code", reply.status)),
        Some(error) => Answer::Error(reply.status, error),
    })
}

// ---------------------------------------------------------------------------------------------
// Operators: grant list / revoke, client delete, user delete
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Operation {
    /// `grant revoke` of the (user, client) grant.
    GrantRevoke,
    ClientDelete,
    UserDelete,
}

#[test]
fn issue_4_operators_end_a_grant_a_client_or_a_user_and_every_token_of_it() {
    let world = World::new();
    // (operation, which pairs die: (user, client), (user, keep), (bystander, client))
    let rows = [
        (Operation::GrantRevoke, [true, false, false]),
        (Operation::ClientDelete, [true, false, true]),
        (Operation::UserDelete, [true, true, false]),
    ];
    for (index, (operation, dies)) in rows.into_iter().enumerate() {
        let what = format!("{operation:?}");
        let user = format!("user{index}");
        let bystander = format!("bystander{index}");
        for name in [&user, &bystander] {
            world.data.create_user(name, USER_PASSWORD);
        }
        let client = register_client(
            &world.data,
            &format!("Client {index}"),
            &[REDIRECT],
            &["--scope", "openid profile"],
        );
        let keep = register_client(
            &world.data,
            &format!("Keep {index}"),
            &[REDIRECT],
            &["--scope", "openid"],
        );
        let user_browser = Browser::new();
        let bystander_browser = Browser::new();
        let tokens_of = |browser: &Browser, app: &App, username: &str| {
            let tokens = code_flow_tokens(&world.server, browser, app, username, "openid");
            (
                text_of(&tokens, "access_token"),
                text_of(&tokens, "refresh_token"),
            )
        };
        let pairs = [
            (&client, tokens_of(&user_browser, &client, &user)),
            (&keep, tokens_of(&user_browser, &keep, &user)),
            (&client, tokens_of(&bystander_browser, &client, &bystander)),
        ];
        let (_, key) = create_api_key(&world.data, &user, "cron", &[]);
        let key_access = text_of(
            &exchange_api_key(&world.server, &key, None).ok(),
            "access_token",
        );

        // What the operator sees before acting.
        let grants = list_grants(&world.data, &user);
        assert_eq!(grants.len(), 2, "{what}: {grants:?}");
        let grant = grants
            .iter()
            .find(|grant| grant["client_id"] == client.client_id.as_str())
            .unwrap_or_else(|| panic!("{what}: no grant for the client in {grants:?}"));
        assert_eq!(
            keys(grant),
            set("grant_id client_id client_name scope created_at last_used expires_at"),
            "{what}"
        );
        assert_eq!(grant["client_name"], format!("Client {index}"), "{what}");
        assert_eq!(grant["scope"], "openid", "{what}");
        for field in ["created_at", "last_used", "expires_at"] {
            assert!(grant[field].is_u64(), "{what}: {field} in {grant}");
        }
        let grant_id = text_of(grant, "grant_id");

        match operation {
            Operation::GrantRevoke => {
                let answer = world
                    .data
                    .run(&["grant", "revoke", &grant_id, "--json"])
                    .json();
                assert_eq!(answer, json!({ "revoked": grant_id }), "{what}");
                let left = list_grants(&world.data, &user);
                assert_eq!(left.len(), 1, "{what}: {left:?}");
                assert_eq!(left[0]["client_id"], keep.client_id.as_str(), "{what}");
                let again = world.data.run(&["grant", "revoke", &grant_id]);
                assert!(
                    !again.status.success(),
                    "{what}: revoking twice is an error"
                );
            }
            Operation::ClientDelete => {
                world
                    .data
                    .run(&["client", "delete", &client.client_id])
                    .ok();
            }
            Operation::UserDelete => {
                world.data.run(&["user", "delete", &user]).ok();
            }
        }

        for (position, ((app, (access, refresh)), dead)) in pairs.iter().zip(dies).enumerate() {
            let what = format!("{what}, pair {position}");
            assert_eq!(world.active(access), !dead, "{what}: introspection");
            let seen = userinfo(&world.server, access);
            if dead {
                assert_eq!(seen.status, 401, "{what}: userinfo {}", seen.body);
                assert!(
                    seen.header("www-authenticate")
                        .is_some_and(|value| value.contains(r#"error="invalid_token""#)),
                    "{what}: {:?}",
                    seen.headers
                );
                let refused = refresh_as(&world.server, app, refresh);
                if operation == Operation::ClientDelete && position != 1 {
                    // The client itself is gone: it cannot even authenticate.
                    refused.refused(401, "invalid_client");
                } else {
                    refused.refused(400, "invalid_grant");
                }
            } else {
                assert_eq!(seen.status, 200, "{what}: userinfo {}", seen.body);
                refresh_as(&world.server, app, refresh).ok();
            }
        }

        // The user's API key goes with the user, and only then.
        let user_gone = operation == Operation::UserDelete;
        assert_eq!(
            world.active(&key_access),
            !user_gone,
            "{what}: API key token"
        );
        let exchanged = exchange_api_key(&world.server, &key, None);
        if user_gone {
            exchanged.refused(400, "invalid_grant");
            assert!(!world
                .data
                .run(&["grant", "list", "--user", &user])
                .status
                .success());
            // The deleted user's session no longer opens the account page.
            let page = user_browser.get(&world.server.url("/account"));
            assert_eq!(page.status, 303, "{what}: {}", page.describe());
            // A new user of the same name inherits none of it.
            world.data.create_user(&user, USER_PASSWORD);
            let (access, refresh) = &pairs[0].1;
            assert!(
                !world.active(access),
                "{what}: the old token names the new user"
            );
            refresh_as(&world.server, &client, refresh).refused(400, "invalid_grant");
            exchange_api_key(&world.server, &key, None).refused(400, "invalid_grant");
            assert_eq!(list_grants(&world.data, &user), Vec::<Value>::new());
        } else {
            exchanged.ok();
        }

        // After `grant revoke` the next authorization asks again; the other app does not.
        if operation == Operation::GrantRevoke {
            let (_, challenge) = pkce_pair();
            let url = code_request(&world.server, &client, "openid", "again", Some(&challenge));
            let page = user_browser.authorize(&url, &user, USER_PASSWORD);
            assert!(
                page.is_consent(),
                "{what}: consent again: {}",
                page.describe()
            );
            let url = code_request(&world.server, &keep, "openid", "again", Some(&challenge));
            let page = user_browser.authorize(&url, &user, USER_PASSWORD);
            assert!(
                !page.is_consent(),
                "{what}: the other app's consent is kept"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Durability (issue 3's kill -9, extended to access tokens and revocations)
// ---------------------------------------------------------------------------------------------

#[test]
fn issue_4_access_tokens_and_revocations_survive_kill_9() {
    let world = World::new();
    let web = world.grant(&world.web, "openid profile");
    let access = text_of(&web, "access_token");
    let service = world.service_token("reports:read");
    let (_, _, api_key_access) = world.api_key_token("openid");
    // Ended before the crash, each in its own way: one access token revoked (RFC 7009), a
    // grant revoked through its refresh token, a grant revoked by the operator, an API key
    // deleted by the operator.
    let revoked = text_of(&world.grant(&world.web, "openid"), "access_token");
    assert_eq!(
        revoke(&world.server, Some(world.web.auth()), &revoked).status,
        200
    );
    let ended = world.grant(&world.other, "openid");
    let ended_refresh = text_of(&ended, "refresh_token");
    assert_eq!(
        revoke(&world.server, Some(world.other.auth()), &ended_refresh).status,
        200
    );
    let operator_ended = world.grant(&world.spa, "openid");
    let spa_grant = list_grants(&world.data, "alice")
        .into_iter()
        .find(|grant| grant["client_id"] == world.spa.client_id.as_str())
        .expect("the spa grant");
    world
        .data
        .run(&["grant", "revoke", &text_of(&spa_grant, "grant_id")])
        .ok();
    let (key_id, deleted_key, deleted_key_access) = world.api_key_token("openid");
    world.data.run(&["apikey", "delete", &key_id]).ok();

    let World {
        data,
        server,
        web: web_app,
        service: service_app,
        other,
        spa,
        ..
    } = world;
    server.kill_hard();
    let server = TestServer::start(&data, &[]);
    let rs = service_app.auth();

    for (what, token, user) in [
        ("code-flow access token", &access, true),
        ("API key access token", &api_key_access, true),
        ("client-credentials token", &service, false),
    ] {
        let json = introspection(&server, rs, token);
        assert_eq!(json["active"], true, "{what} after kill -9: {json}");
        let seen = userinfo(&server, token);
        let expected = if user { 200 } else { 401 };
        assert_eq!(
            seen.status, expected,
            "{what} on userinfo after kill -9: {}",
            seen.body
        );
        if user {
            assert_eq!(seen.json()["username"], "alice", "{what}");
        }
    }
    for (what, token) in [
        ("a token revoked before the crash", &revoked),
        (
            "a token of a grant revoked before the crash",
            &text_of(&ended, "access_token"),
        ),
        (
            "a token of a grant the operator revoked",
            &text_of(&operator_ended, "access_token"),
        ),
        (
            "a token of an API key deleted before the crash",
            &deleted_key_access,
        ),
    ] {
        assert!(!is_active(&server, rs, token), "{what} came back to life");
        assert_eq!(userinfo(&server, token).status, 401, "{what}");
    }
    refresh_as(&server, &other, &ended_refresh).refused(400, "invalid_grant");
    refresh_as(&server, &spa, &text_of(&operator_ended, "refresh_token"))
        .refused(400, "invalid_grant");
    exchange_api_key(&server, &deleted_key, None).refused(400, "invalid_grant");
    refresh_as(&server, &web_app, &text_of(&web, "refresh_token")).ok();
}
