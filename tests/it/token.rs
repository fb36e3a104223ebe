//! Issue 3: the token endpoint, rule by rule, in plain HTTP so that every byte of each
//! request is the test's choice. Every answer is checked for JSON and `Cache-Control:
//! no-store` by `support::token_raw`.

use std::sync::{Arc, Barrier};
use std::time::Duration;

use serde_json::Value;

use crate::forms::Browser;
use crate::support::{
    basic_header, code_request, pkce_pair, raw_http_status, register_client, token, token_raw, App,
    ClientAuth, DataDir, Reply, TestServer, USER_PASSWORD,
};

const HTTPS: &str = "https://app.example.com/cb";
const SECOND: &str = "https://app.example.com/second";
const LOOPBACK: &str = "http://127.0.0.1:8000/cb";
const FORM: &str = "application/x-www-form-urlencoded";

/// A server with: `web` (confidential, code + refresh), `other` (another confidential client
/// with the same redirect URIs), `spa` (public), `service` (client_credentials only), and a
/// browser signed in as `alice` who has approved `web` and `other`.
struct World {
    _data: DataDir,
    server: TestServer,
    web: App,
    other: App,
    spa: App,
    service: App,
    browser: Browser,
}

impl World {
    fn new(extra: &[&str]) -> World {
        let data = DataDir::new();
        data.create_user("alice", USER_PASSWORD);
        let server = TestServer::start(&data, extra);
        let uris = [HTTPS, SECOND, LOOPBACK];
        let scope = ["--scope", "openid profile email"];
        let web = register_client(&data, "Web", &uris, &scope);
        let other = register_client(&data, "Other", &uris, &scope);
        let spa = register_client(&data, "Spa", &uris, &[&scope[..], &["--public"]].concat());
        let service = register_client(
            &data,
            "Service",
            &uris,
            &[
                "--grant-types",
                "client_credentials",
                "--scope",
                "reports:read reports:write",
            ],
        );
        World {
            _data: data,
            server,
            web,
            other,
            spa,
            service,
            browser: Browser::new(),
        }
    }

    /// A fresh code for `app` through the browser: (code, verifier if PKCE was used).
    fn code(
        &self,
        app: &App,
        redirect_uri: &str,
        scope: &str,
        pkce: bool,
    ) -> (String, Option<String>) {
        let (verifier, challenge) = pkce_pair();
        let app = App {
            redirect_uri: redirect_uri.to_owned(),
            ..app.clone()
        };
        let url = code_request(
            &self.server,
            &app,
            scope,
            "s",
            pkce.then_some(challenge.as_str()),
        );
        let callback = self
            .browser
            .approve(&url, "alice", USER_PASSWORD, redirect_uri);
        (callback.code().to_owned(), pkce.then_some(verifier))
    }

    fn redeem(&self, app: &App, code: &str, verifier: Option<&str>) -> Reply {
        let mut params = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", HTTPS),
        ];
        if let Some(verifier) = verifier {
            params.push(("code_verifier", verifier));
        }
        token(&self.server, app.auth(), &params)
    }

    /// A new grant for `app`: its first token response.
    fn grant(&self, app: &App, scope: &str) -> Value {
        let (code, verifier) = self.code(app, HTTPS, scope, true);
        self.redeem(app, &code, verifier.as_deref()).ok()
    }

    fn refresh(&self, app: &App, refresh_token: &str, scope: Option<&str>) -> Reply {
        let mut params = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        token(&self.server, app.auth(), &params)
    }

    /// Replaces `{web}`, `{web.secret}`, ... with the clients' values.
    fn fill(&self, text: &str) -> String {
        text.replace("{web.secret}", self.web.secret())
            .replace("{service.secret}", self.service.secret())
            .replace("{web}", &self.web.client_id)
            .replace("{service}", &self.service.client_id)
            .replace("{spa}", &self.spa.client_id)
    }
}

fn refresh_token_of(tokens: &Value) -> String {
    tokens["refresh_token"]
        .as_str()
        .unwrap_or_else(|| panic!("no refresh_token: {tokens}"))
        .to_owned()
}

/// An expected answer: success, or one of these (status, error) pairs.
type Expect = &'static [(u16, &'static str)];
const OK: Expect = &[];

#[track_caller]
fn assert_expected(reply: &Reply, expect: Expect, what: &str) {
    if expect.is_empty() {
        assert_eq!(reply.status, 200, "{what}: {}", reply.body);
        reply.ok();
    } else {
        let got = (reply.status, reply.error());
        assert!(
            expect
                .iter()
                .any(|(status, error)| (*status, (*error).to_owned()) == got),
            "{what}: expected one of {expect:?}, got {got:?}: {}",
            reply.body
        );
    }
}

/// How a row authenticates; `{...}` placeholders are filled from the world.
#[derive(Clone, Copy, Debug)]
enum Cred {
    Basic(&'static str, &'static str),
    Post(&'static str, &'static str),
    Id(&'static str),
    Header(&'static str),
}

const INVALID_CLIENT: Expect = &[(401, "invalid_client")];

#[test]
fn issue_3_token_client_authentication_exactly_one_method_never_in_the_url() {
    let world = World::new(&[]);
    type Row = (&'static str, &'static [Cred], &'static str, Expect);
    let rows: &[Row] = &[
        (
            "client_secret_basic",
            &[Cred::Basic("{service}", "{service.secret}")],
            "",
            OK,
        ),
        (
            "client_secret_post",
            &[Cred::Post("{service}", "{service.secret}")],
            "",
            OK,
        ),
        (
            "basic and post together",
            &[
                Cred::Basic("{service}", "{service.secret}"),
                Cred::Post("{service}", "{service.secret}"),
            ],
            "",
            &[(400, "invalid_request")],
        ),
        (
            "basic, wrong secret",
            &[Cred::Basic("{service}", "wrong")],
            "",
            INVALID_CLIENT,
        ),
        (
            "basic, unknown client",
            &[Cred::Basic("nobody", "wrong")],
            "",
            INVALID_CLIENT,
        ),
        (
            "basic, another client's secret",
            &[Cred::Basic("{service}", "{web.secret}")],
            "",
            INVALID_CLIENT,
        ),
        (
            "post, wrong secret",
            &[Cred::Post("{service}", "wrong")],
            "",
            INVALID_CLIENT,
        ),
        (
            "post, unknown client",
            &[Cred::Post("nobody", "wrong")],
            "",
            INVALID_CLIENT,
        ),
        (
            "post, empty secret",
            &[Cred::Post("{service}", "")],
            "",
            INVALID_CLIENT,
        ),
        (
            "a confidential client's id alone",
            &[Cred::Id("{service}")],
            "",
            INVALID_CLIENT,
        ),
        (
            "no credentials",
            &[],
            "",
            &[(401, "invalid_client"), (400, "invalid_request")],
        ),
        (
            "Basic that is not base64",
            &[Cred::Header("Basic !!!not-base64!!!")],
            "",
            &[(401, "invalid_client"), (400, "invalid_request")],
        ),
        (
            "a Bearer token instead of credentials",
            &[Cred::Header("Bearer abc")],
            "",
            &[(401, "invalid_client"), (400, "invalid_request")],
        ),
        (
            "secret in the query string, basic in the header",
            &[Cred::Basic("{service}", "{service.secret}")],
            "client_secret={service.secret}",
            &[(400, "invalid_request")],
        ),
        (
            "credentials in the query string only",
            &[],
            "client_id={service}&client_secret={service.secret}",
            &[(400, "invalid_request")],
        ),
        (
            "a public client",
            &[Cred::Id("{spa}")],
            "",
            &[(400, "unauthorized_client"), (401, "invalid_client")],
        ),
        (
            "a client without the client_credentials grant",
            &[Cred::Basic("{web}", "{web.secret}")],
            "",
            &[(400, "unauthorized_client")],
        ),
    ];
    for (name, creds, query, expect) in rows {
        let reply = send_with(
            &world,
            creds,
            query,
            &[("grant_type", "client_credentials")],
        );
        assert_expected(&reply, expect, name);
        let used_basic = creds.iter().any(|cred| matches!(cred, Cred::Basic(..)));
        if used_basic && reply.status == 401 {
            assert!(
                reply
                    .header("www-authenticate")
                    .is_some_and(|value| value.to_ascii_lowercase().starts_with("basic")),
                "{name}: 401 after Basic needs WWW-Authenticate: Basic: {:?}",
                reply.headers
            );
        }
        if expect.is_empty() {
            assert!(
                reply.json().get("refresh_token").is_none(),
                "{name}: no refresh token"
            );
        }
    }
}

fn send_with(world: &World, creds: &[Cred], query: &str, params: &[(&str, &str)]) -> Reply {
    let mut headers = vec![("content-type".to_owned(), FORM.to_owned())];
    let mut pairs: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    for cred in creds {
        match *cred {
            Cred::Basic(id, secret) => headers.push((
                "authorization".into(),
                basic_header(&world.fill(id), &world.fill(secret)),
            )),
            Cred::Post(id, secret) => {
                pairs.push(("client_id".into(), world.fill(id)));
                pairs.push(("client_secret".into(), world.fill(secret)));
            }
            Cred::Id(id) => pairs.push(("client_id".into(), world.fill(id))),
            Cred::Header(value) => headers.push(("authorization".into(), value.to_owned())),
        }
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&pairs)
        .finish();
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form_urlencoded::parse(world.fill(query).as_bytes()))
        .finish();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    token_raw(&world.server, &query, &headers, body.into_bytes())
}

#[test]
fn issue_3_token_an_unknown_client_and_a_wrong_secret_answer_identically() {
    let world = World::new(&[]);
    let grant = [("grant_type", "client_credentials")];
    let pairs: [(&str, [Cred; 1], [Cred; 1]); 2] = [
        (
            "basic",
            [Cred::Basic("{service}", "wrong")],
            [Cred::Basic("nobody0000", "wrong")],
        ),
        (
            "post",
            [Cred::Post("{service}", "wrong")],
            [Cred::Post("nobody0000", "wrong")],
        ),
    ];
    for (method, wrong_secret, unknown_client) in pairs {
        let a = send_with(&world, &wrong_secret, "", &grant);
        let b = send_with(&world, &unknown_client, "", &grant);
        assert_eq!(a.status, 401, "{method}: {}", a.body);
        assert_eq!(
            (a.status, &a.body, a.header("www-authenticate")),
            (b.status, &b.body, b.header("www-authenticate")),
            "{method}: wrong secret vs unknown client"
        );
    }
}

#[test]
fn issue_3_token_refuses_repeats_wrong_content_types_bad_utf8_and_unknown_grants() {
    let world = World::new(&[]);
    let basic = basic_header(&world.service.client_id, world.service.secret());
    type Row = (&'static str, Option<&'static str>, &'static [u8], Expect);
    let invalid_request: Expect = &[(400, "invalid_request")];
    let unsupported: Expect = &[(400, "unsupported_grant_type")];
    let rows: &[Row] = &[
        ("the control request", Some(FORM), b"grant_type=client_credentials", OK),
        (
            "form with a charset",
            Some("application/x-www-form-urlencoded; charset=UTF-8"),
            b"grant_type=client_credentials",
            OK,
        ),
        (
            "grant_type repeated",
            Some(FORM),
            b"grant_type=client_credentials&grant_type=client_credentials",
            invalid_request,
        ),
        (
            "scope repeated",
            Some(FORM),
            b"grant_type=client_credentials&scope=reports:read&scope=reports:read",
            invalid_request,
        ),
        ("JSON body", Some("application/json"), br#"{"grant_type":"client_credentials"}"#, invalid_request),
        ("text/plain", Some("text/plain"), b"grant_type=client_credentials", invalid_request),
        (
            "multipart",
            Some("multipart/form-data; boundary=x"),
            b"--x\r\nContent-Disposition: form-data; name=\"grant_type\"\r\n\r\nclient_credentials\r\n--x--\r\n",
            invalid_request,
        ),
        ("no Content-Type", None, b"grant_type=client_credentials", invalid_request),
        ("raw invalid UTF-8", Some(FORM), b"grant_type=client_credentials&scope=\xff\xfe", invalid_request),
        ("encoded invalid UTF-8", Some(FORM), b"grant_type=client_credentials&scope=%FF%FE", invalid_request),
        ("invalid UTF-8 in a name", Some(FORM), b"grant_type=client_credentials&\xc3=1", invalid_request),
        ("grant_type missing", Some(FORM), b"scope=reports:read", invalid_request),
        ("password grant", Some(FORM), b"grant_type=password&username=alice&password=x", unsupported),
        ("implicit", Some(FORM), b"grant_type=implicit", unsupported),
        ("an unknown grant", Some(FORM), b"grant_type=urn:example:unknown", unsupported),
        (
            "a scope beyond the client's",
            Some(FORM),
            b"grant_type=client_credentials&scope=reports:read%20admin",
            &[(400, "invalid_scope")],
        ),
    ];
    for (name, content_type, body, expect) in rows {
        let mut headers = vec![("authorization", basic.as_str())];
        if let Some(content_type) = content_type {
            headers.push(("content-type", content_type));
        }
        let reply = token_raw(&world.server, "", &headers, body.to_vec());
        assert_expected(&reply, expect, name);
    }
    assert_eq!(world.server.healthz(), 200);
}

#[test]
fn issue_3_token_an_8_mb_body_is_refused_and_the_server_keeps_serving() {
    let world = World::new(&[]);
    let size = 8 * 1024 * 1024;
    let address = world.server.base_url.trim_start_matches("http://");
    let basic = basic_header(&world.service.client_id, world.service.secret());
    let head = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {address}\r\nAuthorization: {basic}\r\n\
         Content-Type: {FORM}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n\
         grant_type=client_credentials&x=",
        size
    );
    // The body is the form prefix in the head's last line, then `a`s up to 8 MB in all.
    let filler = size - "grant_type=client_credentials&x=".len();
    let status = raw_http_status(&world.server, &head, filler, b'a', Duration::from_secs(60));
    assert!((400..500).contains(&status), "an 8 MB body got {status}");
    assert_eq!(world.server.healthz(), 200, "the server stopped serving");

    // And one that arrives in chunks, with no length announced.
    let chunked = format!(
        "POST /oauth2/token HTTP/1.1\r\nHost: {address}\r\nAuthorization: {basic}\r\n\
         Content-Type: {FORM}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n\
         800000\r\n"
    );
    let status = raw_http_status(&world.server, &chunked, size, b'a', Duration::from_secs(60));
    assert!(
        (400..500).contains(&status),
        "an 8 MB chunked body got {status}"
    );
    assert_eq!(world.server.healthz(), 200, "the server stopped serving");
    // Still a working token endpoint.
    token(
        &world.server,
        world.service.auth(),
        &[("grant_type", "client_credentials")],
    )
    .ok();
}

/// Where a code came from and how it is redeemed.
struct CodeRow {
    name: &'static str,
    /// The client the code is issued to, and whether its request used PKCE.
    issued_to: &'static str,
    pkce: bool,
    /// The redirect URI of the authorization request.
    sent: &'static str,
    /// Who redeems it.
    redeemer: &'static str,
    verifier: Verifier,
    /// The redirect URI in the token request (`None`: left out).
    redirect_uri: Option<&'static str>,
    code: CodeSent,
    expect: Expect,
}

#[derive(Clone, Copy)]
enum Verifier {
    Right,
    /// A well-formed verifier that is not the one.
    Other,
    Missing,
    /// A verifier, although the request had no challenge (a downgrade).
    Unasked,
}

#[derive(Clone, Copy)]
enum CodeSent {
    Issued,
    Unknown,
    Missing,
}

const INVALID_GRANT: Expect = &[(400, "invalid_grant")];
const GRANT_OR_REQUEST: Expect = &[(400, "invalid_grant"), (400, "invalid_request")];

const CODE_ROWS: &[CodeRow] = &[
    CodeRow {
        name: "everything right",
        ..ROW
    },
    CodeRow {
        name: "public client, everything right",
        issued_to: "spa",
        redeemer: "spa",
        ..ROW
    },
    CodeRow {
        name: "confidential client without PKCE",
        pkce: false,
        verifier: Verifier::Missing,
        ..ROW
    },
    CodeRow {
        name: "wrong verifier",
        verifier: Verifier::Other,
        expect: INVALID_GRANT,
        ..ROW
    },
    CodeRow {
        name: "public client, wrong verifier",
        issued_to: "spa",
        redeemer: "spa",
        verifier: Verifier::Other,
        expect: INVALID_GRANT,
        ..ROW
    },
    CodeRow {
        name: "verifier missing",
        verifier: Verifier::Missing,
        expect: GRANT_OR_REQUEST,
        ..ROW
    },
    CodeRow {
        name: "public client, verifier missing",
        issued_to: "spa",
        redeemer: "spa",
        verifier: Verifier::Missing,
        expect: GRANT_OR_REQUEST,
        ..ROW
    },
    CodeRow {
        name: "verifier without a challenge (downgrade)",
        pkce: false,
        verifier: Verifier::Unasked,
        expect: INVALID_GRANT,
        ..ROW
    },
    CodeRow {
        name: "redirect_uri differs",
        redirect_uri: Some(SECOND),
        expect: INVALID_GRANT,
        ..ROW
    },
    CodeRow {
        name: "redirect_uri left out",
        redirect_uri: None,
        expect: GRANT_OR_REQUEST,
        ..ROW
    },
    CodeRow {
        name: "loopback, same port",
        sent: "http://127.0.0.1:51234/cb",
        redirect_uri: Some("http://127.0.0.1:51234/cb"),
        ..ROW
    },
    CodeRow {
        name: "loopback, other port",
        sent: "http://127.0.0.1:51234/cb",
        redirect_uri: Some(LOOPBACK),
        expect: INVALID_GRANT,
        ..ROW
    },
    CodeRow {
        name: "redeemed by another client",
        redeemer: "other",
        expect: INVALID_GRANT,
        ..ROW
    },
    CodeRow {
        name: "a public client's code redeemed by a confidential one",
        issued_to: "spa",
        redeemer: "web",
        expect: INVALID_GRANT,
        ..ROW
    },
    CodeRow {
        name: "a confidential client's code with its id alone",
        redeemer: "web-id-only",
        expect: INVALID_CLIENT,
        ..ROW
    },
    CodeRow {
        name: "an unknown code",
        code: CodeSent::Unknown,
        expect: INVALID_GRANT,
        ..ROW
    },
    CodeRow {
        name: "no code",
        code: CodeSent::Missing,
        expect: &[(400, "invalid_request")],
        ..ROW
    },
];

const ROW: CodeRow = CodeRow {
    name: "",
    issued_to: "web",
    pkce: true,
    sent: HTTPS,
    redeemer: "web",
    verifier: Verifier::Right,
    redirect_uri: Some(HTTPS),
    code: CodeSent::Issued,
    expect: OK,
};

#[test]
fn issue_3_token_authorization_code_checks_pkce_client_and_redirect_uri() {
    let world = World::new(&[]);
    for row in CODE_ROWS {
        let issued_to = match row.issued_to {
            "spa" => &world.spa,
            _ => &world.web,
        };
        let (code, verifier) = world.code(issued_to, row.sent, "openid", row.pkce);
        let unknown = pkce_pair().0;
        let mut params = vec![("grant_type", "authorization_code")];
        match row.code {
            CodeSent::Issued => params.push(("code", &code)),
            CodeSent::Unknown => params.push(("code", &unknown)),
            CodeSent::Missing => {}
        }
        if let Some(redirect_uri) = row.redirect_uri {
            params.push(("redirect_uri", redirect_uri));
        }
        let other_verifier = pkce_pair().0;
        match row.verifier {
            Verifier::Right => params.push(("code_verifier", verifier.as_deref().unwrap())),
            Verifier::Other | Verifier::Unasked => params.push(("code_verifier", &other_verifier)),
            Verifier::Missing => {}
        }
        let auth = match row.redeemer {
            "spa" => world.spa.auth(),
            "other" => world.other.auth(),
            "web-id-only" => ClientAuth::Id(&world.web.client_id),
            _ => world.web.auth(),
        };
        let reply = token(&world.server, auth, &params);
        assert_expected(&reply, row.expect, row.name);
        if row.expect.is_empty() {
            assert!(reply.json()["refresh_token"].is_string(), "{}", row.name);
            assert_eq!(reply.json()["scope"], "openid", "{}", row.name);
        }
    }
}

#[test]
fn issue_3_token_a_code_redeemed_twice_fails_and_revokes_what_its_first_redemption_issued() {
    let world = World::new(&[]);
    // Replayed right away: the first redemption's refresh token stops working.
    let (code, verifier) = world.code(&world.web, HTTPS, "openid", true);
    let first = world.redeem(&world.web, &code, verifier.as_deref()).ok();
    world
        .redeem(&world.web, &code, verifier.as_deref())
        .refused(400, "invalid_grant");
    world
        .refresh(&world.web, &refresh_token_of(&first), None)
        .refused(400, "invalid_grant");

    // Replayed after a rotation: the rotated refresh token stops working too.
    let (code, verifier) = world.code(&world.web, HTTPS, "openid", true);
    let first = world.redeem(&world.web, &code, verifier.as_deref()).ok();
    let rotated = world
        .refresh(&world.web, &refresh_token_of(&first), None)
        .ok();
    world
        .redeem(&world.web, &code, verifier.as_deref())
        .refused(400, "invalid_grant");
    world
        .refresh(&world.web, &refresh_token_of(&rotated), None)
        .refused(400, "invalid_grant");

    // Another grant of the same user is not touched.
    let unrelated = world.grant(&world.other, "openid");
    world
        .refresh(&world.other, &refresh_token_of(&unrelated), None)
        .ok();
}

#[test]
fn issue_3_token_sixteen_concurrent_redemptions_of_one_code_give_exactly_one_success() {
    let world = World::new(&[]);
    let (code, verifier) = world.code(&world.web, HTTPS, "openid", true);
    let verifier = verifier.unwrap();
    let barrier = Arc::new(Barrier::new(16));
    let answers: Vec<(u16, String)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let barrier = barrier.clone();
                let (world, code, verifier) = (&world, &code, &verifier);
                scope.spawn(move || {
                    barrier.wait();
                    let reply = world.redeem(&world.web, code, Some(verifier));
                    (reply.status, reply.error())
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|thread| thread.join().unwrap())
            .collect()
    });
    let successes = answers.iter().filter(|(status, _)| *status == 200).count();
    assert_eq!(successes, 1, "{answers:?}");
    for (status, error) in &answers {
        assert!(
            *status == 200 || (*status == 400 && error == "invalid_grant"),
            "{answers:?}"
        );
    }
}

#[test]
fn issue_3_token_an_expired_code_is_refused() {
    let world = World::new(&["--code-ttl", "1s"]);
    let (code, verifier) = world.code(&world.web, HTTPS, "openid", true);
    // The TTL has to pass; nothing else in these tests sleeps.
    std::thread::sleep(Duration::from_millis(2100));
    world
        .redeem(&world.web, &code, verifier.as_deref())
        .refused(400, "invalid_grant");
}

#[test]
fn issue_3_token_refresh_tokens_rotate_and_a_replayed_one_ends_the_whole_grant() {
    let world = World::new(&[]);
    let tokens = world.grant(&world.web, "openid profile");
    let first = refresh_token_of(&tokens);
    let second = refresh_token_of(&world.refresh(&world.web, &first, None).ok());
    let third = refresh_token_of(&world.refresh(&world.web, &second, None).ok());
    let distinct: std::collections::BTreeSet<_> = [&first, &second, &third].into_iter().collect();
    assert_eq!(distinct.len(), 3, "each refresh rotates");

    world
        .refresh(&world.web, &first, None)
        .refused(400, "invalid_grant");
    world
        .refresh(&world.web, &third, None)
        .refused(400, "invalid_grant");

    // The public client's grant rotates and ends the same way.
    let tokens = world.grant(&world.spa, "openid");
    let first = refresh_token_of(&tokens);
    let second = refresh_token_of(&world.refresh(&world.spa, &first, None).ok());
    assert_ne!(first, second);
    world
        .refresh(&world.spa, &first, None)
        .refused(400, "invalid_grant");
    world
        .refresh(&world.spa, &second, None)
        .refused(400, "invalid_grant");
}

#[test]
fn issue_3_token_refresh_scope_may_narrow_but_never_grow() {
    let world = World::new(&[]);
    type Row = (&'static str, Option<&'static str>, Expect, &'static str);
    let rows: &[Row] = &[
        ("narrower", Some("profile"), OK, "profile"),
        ("the same", Some("profile openid"), OK, "openid profile"),
        ("left out", None, OK, "openid profile"),
        (
            "wider than granted",
            Some("openid profile email"),
            &[(400, "invalid_scope")],
            "",
        ),
        (
            "beyond the client",
            Some("openid admin"),
            &[(400, "invalid_scope")],
            "",
        ),
    ];
    for (name, scope, expect, granted) in rows {
        let tokens = world.grant(&world.web, "openid profile");
        let reply = world.refresh(&world.web, &refresh_token_of(&tokens), *scope);
        assert_expected(&reply, expect, name);
        if expect.is_empty() {
            let scope: std::collections::BTreeSet<_> = reply.json()["scope"]
                .as_str()
                .unwrap()
                .split(' ')
                .map(str::to_owned)
                .collect();
            let want: std::collections::BTreeSet<_> =
                granted.split(' ').map(str::to_owned).collect();
            assert_eq!(scope, want, "{name}");
        }
    }
    // Narrowed, then asked for a scope never granted.
    let tokens = world.grant(&world.web, "openid profile");
    let narrowed = world
        .refresh(&world.web, &refresh_token_of(&tokens), Some("profile"))
        .ok();
    world
        .refresh(
            &world.web,
            &refresh_token_of(&narrowed),
            Some("profile email"),
        )
        .refused(400, "invalid_scope");
}

#[test]
fn issue_3_token_refresh_tokens_are_bound_to_their_client() {
    let world = World::new(&[]);
    type Row = (&'static str, &'static str, Expect);
    let rows: &[Row] = &[
        ("another client's refresh token", "other", INVALID_GRANT),
        ("an unknown refresh token", "unknown", INVALID_GRANT),
        ("an access token as refresh token", "access", INVALID_GRANT),
        (
            "refresh_token missing",
            "missing",
            &[(400, "invalid_request")],
        ),
    ];
    for (name, which, expect) in rows {
        let tokens = world.grant(&world.web, "openid");
        let unknown = pkce_pair().0;
        let presented = match *which {
            "other" => Some(refresh_token_of(&tokens)),
            "unknown" => Some(unknown),
            "access" => tokens["access_token"].as_str().map(str::to_owned),
            _ => None,
        };
        let app = if *which == "other" {
            &world.other
        } else {
            &world.web
        };
        let mut params = vec![("grant_type", "refresh_token")];
        if let Some(presented) = &presented {
            params.push(("refresh_token", presented));
        }
        assert_expected(&token(&world.server, app.auth(), &params), expect, name);
    }
    // client_secret_post works for refresh as it does for the other grants.
    let tokens = world.grant(&world.web, "openid");
    token(
        &world.server,
        world.web.post_auth(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh_token_of(&tokens)),
        ],
    )
    .ok();
}

#[test]
fn post_only_endpoints_answer_other_methods_with_405_and_allow() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    let client = reqwest::blocking::Client::new();
    for path in [
        "/oauth2/token",
        "/oauth2/revoke",
        "/oauth2/introspect",
        "/oauth2/consent",
        "/account/api-keys",
    ] {
        for method in [
            reqwest::Method::GET,
            reqwest::Method::PUT,
            reqwest::Method::DELETE,
        ] {
            let response = client
                .request(method.clone(), server.url(path))
                .send()
                .unwrap();
            assert_eq!(response.status().as_u16(), 405, "{method} {path}");
            assert_eq!(
                response
                    .headers()
                    .get("allow")
                    .and_then(|v| v.to_str().ok()),
                Some("POST"),
                "{method} {path}"
            );
        }
    }
    assert_eq!(server.healthz(), 200);
}
