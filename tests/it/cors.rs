//! Issue 11, item 7: CORS for browser apps. Token, revocation, userinfo, JWKS and both
//! discovery documents answer preflights and share their answers with allowed origins
//! (those of registered redirect URIs, and `serve --cors-origin`); a token or revocation
//! request only with its own client's; pages never.

use std::time::Duration;

use serde_json::{json, Value};

use crate::browser::{callback_listener, WebDriver};
use crate::forms::{form_with_action, Browser};
use crate::support::{
    basic_header, code_request, create_api_key, get_raw, pkce_pair, register_client, token_raw,
    App, ClientAuth, DataDir, Reply, TestServer, USER_PASSWORD,
};

const APP_ORIGIN: &str = "https://app.example";
const OTHER_ORIGIN: &str = "https://other.example";
const OPERATOR_ORIGIN: &str = "https://ops.example";
const UNKNOWN_ORIGIN: &str = "https://evil.example";

fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

fn reply(response: reqwest::blocking::Response) -> Reply {
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().expect("body"),
    }
}

/// A CORS preflight (the Fetch standard's CORS protocol) for `method` at `path`, from `origin`.
fn preflight(server: &TestServer, path: &str, origin: &str, method: &str) -> Reply {
    reply(
        client()
            .request(reqwest::Method::OPTIONS, server.url(path))
            .header("origin", origin)
            .header("access-control-request-method", method)
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
            .expect("preflight answered"),
    )
}

/// Every `Access-Control-*` header of an answer.
fn cors_headers(reply: &Reply) -> Vec<String> {
    reply
        .headers
        .keys()
        .map(|name| name.as_str().to_owned())
        .filter(|name| name.starts_with("access-control-"))
        .collect()
}

fn varies_by_origin(reply: &Reply) -> bool {
    reply.headers.get_all("vary").iter().any(|value| {
        value
            .to_str()
            .unwrap_or("")
            .split(',')
            .any(|name| name.trim().eq_ignore_ascii_case("origin"))
    })
}

#[track_caller]
fn assert_shared_with(reply: &Reply, origin: &str, what: &str) {
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some(origin),
        "{what}: {} {:?} {}",
        reply.status,
        reply.headers,
        reply.body
    );
    assert!(varies_by_origin(reply), "{what}: no Vary: Origin");
    assert_eq!(
        reply.header("access-control-allow-credentials"),
        None,
        "{what}: credentials are never allowed"
    );
}

#[track_caller]
fn assert_not_shared(reply: &Reply, what: &str) {
    assert_eq!(
        cors_headers(reply),
        Vec::<String>::new(),
        "{what}: {} {}",
        reply.status,
        reply.body
    );
}

/// `POST {path}` as a page on `origin` would send it (no `Origin` for `None`), with the
/// client's credentials as `support::token` sends them.
fn post_from(
    server: &TestServer,
    path: &str,
    origin: Option<&str>,
    auth: Option<ClientAuth<'_>>,
    params: &[(&str, &str)],
) -> Reply {
    let mut params = params.to_vec();
    let mut headers = vec![(
        "content-type".to_owned(),
        "application/x-www-form-urlencoded".to_owned(),
    )];
    if let Some(origin) = origin {
        headers.push(("origin".to_owned(), origin.to_owned()));
    }
    match auth {
        Some(ClientAuth::Basic(id, secret)) => {
            headers.push(("authorization".to_owned(), basic_header(id, secret)))
        }
        Some(ClientAuth::Post(id, secret)) => {
            params.extend([("client_id", id), ("client_secret", secret)])
        }
        Some(ClientAuth::Id(id)) => params.push(("client_id", id)),
        None => {}
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish()
        .into_bytes();
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    if path == "/oauth2/token" {
        // Also asserts that every token answer is JSON with no-store.
        return token_raw(server, "", &headers, body);
    }
    let mut request = client().post(server.url(path)).body(body);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    reply(request.send().expect("answered"))
}

/// A server with a public client at `APP_ORIGIN`, a confidential one at `OTHER_ORIGIN`
/// (which may use client_credentials, and has a private-use redirect URI too), and
/// `OPERATOR_ORIGIN` added with `--cors-origin`.
struct Setup {
    data: DataDir,
    server: TestServer,
    app: App,
    other: App,
}

fn setup() -> Setup {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let app = register_client(
        &data,
        "Single-page app",
        &[&format!("{APP_ORIGIN}/callback")],
        &["--public"],
    );
    let other = register_client(
        &data,
        "Other app",
        &[
            &format!("{OTHER_ORIGIN}/cb"),
            "com.example.other:/oauth2redirect",
        ],
        &[
            "--grant-types",
            "authorization_code,refresh_token,client_credentials",
        ],
    );
    let server = TestServer::start(&data, &["--cors-origin", OPERATOR_ORIGIN]);
    Setup {
        data,
        server,
        app,
        other,
    }
}

/// A code for `app` (PKCE S256), and its verifier.
fn code_for(server: &TestServer, app: &App) -> (String, String) {
    let (verifier, challenge) = pkce_pair();
    let url = code_request(server, app, "openid profile", "cors", Some(&challenge));
    let callback = Browser::new().approve(&url, "alice", USER_PASSWORD, &app.redirect_uri);
    (callback.code().to_owned(), verifier)
}

#[test]
fn issue_11_preflights_are_answered_for_allowed_origins_only() {
    let Setup { server, .. } = setup();
    for (path, method, methods) in [
        ("/oauth2/token", "POST", "POST"),
        ("/oauth2/revoke", "POST", "POST"),
        ("/oauth2/userinfo", "GET", "GET, POST"),
    ] {
        for origin in [APP_ORIGIN, OTHER_ORIGIN, OPERATOR_ORIGIN] {
            let answer = preflight(&server, path, origin, method);
            let what = format!("preflight of {path} from {origin}");
            assert_eq!(answer.status, 204, "{what}: {}", answer.body);
            assert_shared_with(&answer, origin, &what);
            assert_eq!(answer.header("access-control-allow-methods"), Some(methods));
            let allowed = answer
                .header("access-control-allow-headers")
                .unwrap_or_default()
                .to_ascii_lowercase();
            assert!(
                allowed.contains("authorization") && allowed.contains("content-type"),
                "{what}: {allowed}"
            );
            assert!(
                answer
                    .header("access-control-max-age")
                    .and_then(|age| age.parse::<u64>().ok())
                    .is_some_and(|age| age > 0),
                "{what}: {:?}",
                answer.headers
            );
        }
        // Not allowed: no origin nobody registered, no opaque origin, and no spelling a
        // browser never sends (origins match byte for byte, as browsers serialize them).
        for origin in [
            UNKNOWN_ORIGIN,
            "null",
            "https://APP.example",
            "https://app.example:443",
            "https://app.example.evil.example",
            "http://app.example",
        ] {
            let answer = preflight(&server, path, origin, method);
            let what = format!("preflight of {path} from {origin}");
            assert_eq!(answer.status, 403, "{what}");
            assert_not_shared(&answer, &what);
            assert!(varies_by_origin(&answer), "{what}: no Vary: Origin");
        }
    }
    // The public documents, the JWKS path included, are shared with the same origins as
    // everything else here: an allowed one, echoed; any other gets nothing to read.
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/oauth2/jwks",
    ] {
        let answer = preflight(&server, path, APP_ORIGIN, "GET");
        assert_eq!(answer.status, 204, "preflight of {path} from {APP_ORIGIN}");
        assert_eq!(
            answer.header("access-control-allow-origin"),
            Some(APP_ORIGIN)
        );
        assert_eq!(answer.header("access-control-allow-methods"), Some("GET"));
        assert_eq!(answer.header("access-control-allow-credentials"), None);
        assert!(varies_by_origin(&answer), "{path}: no Vary: Origin");
        let answer = preflight(&server, path, UNKNOWN_ORIGIN, "GET");
        assert_eq!(
            answer.status, 403,
            "preflight of {path} from {UNKNOWN_ORIGIN}"
        );
        assert_not_shared(&answer, path);
    }
    // An OPTIONS that is no preflight is what it was: POST-only, 405.
    let plain = reply(
        client()
            .request(reqwest::Method::OPTIONS, server.url("/oauth2/token"))
            .header("origin", APP_ORIGIN)
            .send()
            .expect("answered"),
    );
    assert_eq!(plain.status, 405);
    assert_eq!(plain.header("allow"), Some("POST"));
    assert_not_shared(&plain, "a plain OPTIONS");
}

#[test]
fn issue_11_a_token_answer_is_shared_only_with_the_origin_of_its_own_client() {
    let Setup {
        data,
        server,
        app,
        other,
    } = setup();
    let (code, verifier) = code_for(&server, &app);
    let redeem = |origin: Option<&str>| {
        post_from(
            &server,
            "/oauth2/token",
            origin,
            Some(app.auth()),
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &app.redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
    };
    // From another client's origin, or one nobody registered: refused before the code is
    // touched, and not shared, so the browser shows the page nothing.
    for origin in [OTHER_ORIGIN, UNKNOWN_ORIGIN, "null"] {
        let refused = redeem(Some(origin));
        refused.refused(400, "unauthorized_client");
        assert_not_shared(&refused, origin);
        assert!(varies_by_origin(&refused));
    }
    // From its own origin the code still works (the refusals consumed nothing, so this is
    // no replay), and the page may read the tokens.
    let tokens = redeem(Some(APP_ORIGIN));
    let json = tokens.ok();
    assert_shared_with(
        &tokens,
        APP_ORIGIN,
        "the code redeemed from the app's origin",
    );
    let refresh = json["refresh_token"].as_str().expect("a refresh token");
    // The app's errors are the page's to read too. (A made-up code: a replay of the real
    // one would end the grant.)
    let made_up = post_from(
        &server,
        "/oauth2/token",
        Some(APP_ORIGIN),
        Some(app.auth()),
        &[
            ("grant_type", "authorization_code"),
            ("code", "00000000000000000000000000000000.made-up"),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", &verifier),
        ],
    );
    made_up.refused(400, "invalid_grant");
    assert_shared_with(&made_up, APP_ORIGIN, "an error for the app's own request");

    // The same for a refresh: another origin changes nothing (no rotation), the app's
    // rotates.
    let refresh_from = |origin: &str, token: &str| {
        post_from(
            &server,
            "/oauth2/token",
            Some(origin),
            Some(app.auth()),
            &[("grant_type", "refresh_token"), ("refresh_token", token)],
        )
    };
    refresh_from(OTHER_ORIGIN, refresh).refused(400, "unauthorized_client");
    let rotated = refresh_from(APP_ORIGIN, refresh);
    let rotated_json = rotated.ok();
    assert_shared_with(&rotated, APP_ORIGIN, "a refresh from the app's origin");
    let refresh = rotated_json["refresh_token"].as_str().expect("rotated");
    // An operator's origin is trusted for every client.
    let from_operator = refresh_from(OPERATOR_ORIGIN, refresh);
    let refresh = from_operator.ok()["refresh_token"]
        .as_str()
        .expect("rotated")
        .to_owned();
    assert_shared_with(&from_operator, OPERATOR_ORIGIN, "the operator's origin");

    // The confidential client from its own origin, with Basic (preflighted in a browser).
    let own = post_from(
        &server,
        "/oauth2/token",
        Some(OTHER_ORIGIN),
        Some(other.auth()),
        &[("grant_type", "client_credentials")],
    );
    own.ok();
    assert_shared_with(&own, OTHER_ORIGIN, "client_credentials from its origin");
    let wrong_secret = post_from(
        &server,
        "/oauth2/token",
        Some(OTHER_ORIGIN),
        Some(ClientAuth::Basic(&other.client_id, "wrong")),
        &[("grant_type", "client_credentials")],
    );
    wrong_secret.refused(401, "invalid_client");
    let foreign = post_from(
        &server,
        "/oauth2/token",
        Some(APP_ORIGIN),
        Some(other.auth()),
        &[("grant_type", "client_credentials")],
    );
    foreign.refused(400, "unauthorized_client");
    assert_not_shared(&foreign, "client_credentials from the public app's origin");

    // Without an Origin (a server, a script, a native app) nothing changes: no CORS.
    let plain = post_from(
        &server,
        "/oauth2/token",
        None,
        Some(other.auth()),
        &[("grant_type", "client_credentials")],
    );
    plain.ok();
    assert_not_shared(&plain, "a request without Origin");
    assert!(varies_by_origin(&plain));

    // A personal API key names no client: only an operator's origin may exchange it.
    let (_, api_key) = create_api_key(&data, "alice", "cli", &[]);
    let exchange = |origin: &str| {
        post_from(
            &server,
            "/oauth2/token",
            Some(origin),
            None,
            &[("grant_type", "refresh_token"), ("refresh_token", &api_key)],
        )
    };
    let refused = exchange(APP_ORIGIN);
    refused.refused(400, "unauthorized_client");
    assert_not_shared(&refused, "an API key from a client's origin");
    let exchanged = exchange(OPERATOR_ORIGIN);
    exchanged.ok();
    assert_shared_with(
        &exchanged,
        OPERATOR_ORIGIN,
        "an API key from the operator's",
    );

    // Revocation: the same rule. From another origin nothing is revoked.
    let revoke_from = |origin: &str| {
        post_from(
            &server,
            "/oauth2/revoke",
            Some(origin),
            Some(app.auth()),
            &[("token", &refresh)],
        )
    };
    let refused = revoke_from(OTHER_ORIGIN);
    refused.refused(400, "unauthorized_client");
    assert_not_shared(&refused, "revocation from another client's origin");
    let still = refresh_from(APP_ORIGIN, &refresh);
    let still_json = still.ok();
    let refresh = still_json["refresh_token"].as_str().expect("rotated");
    let revoked = post_from(
        &server,
        "/oauth2/revoke",
        Some(APP_ORIGIN),
        Some(app.auth()),
        &[("token", refresh)],
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    assert_shared_with(&revoked, APP_ORIGIN, "revocation from the app's origin");
    refresh_from(APP_ORIGIN, refresh).refused(400, "invalid_grant");
}

#[test]
fn issue_11_userinfo_is_shared_with_any_allowed_origin_and_the_documents_with_all() {
    let Setup { server, app, .. } = setup();
    let (code, verifier) = code_for(&server, &app);
    let tokens = post_from(
        &server,
        "/oauth2/token",
        None,
        Some(app.auth()),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .ok();
    let access = tokens["access_token"].as_str().expect("access token");
    let userinfo = |origin: Option<&str>, token: &str| {
        let mut request = client()
            .get(server.url("/oauth2/userinfo"))
            .header("authorization", format!("Bearer {token}"));
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        reply(request.send().expect("userinfo answers"))
    };
    for origin in [APP_ORIGIN, OTHER_ORIGIN, OPERATOR_ORIGIN] {
        let answer = userinfo(Some(origin), access);
        assert_eq!(answer.status, 200, "{}", answer.body);
        assert_eq!(answer.json()["preferred_username"], "alice");
        assert_shared_with(&answer, origin, "userinfo");
    }
    // A refusal is readable too, with its RFC 6750 challenge.
    let refused = userinfo(Some(APP_ORIGIN), "not-a-token");
    assert_eq!(refused.status, 401);
    assert_shared_with(&refused, APP_ORIGIN, "a userinfo refusal");
    assert!(refused
        .header("access-control-expose-headers")
        .is_some_and(|exposed| exposed.eq_ignore_ascii_case("www-authenticate")));
    for origin in [None, Some(UNKNOWN_ORIGIN)] {
        let answer = userinfo(origin, access);
        assert_eq!(answer.status, 200);
        assert_not_shared(&answer, "userinfo from an origin nobody allowed");
        assert!(varies_by_origin(&answer));
    }

    // Discovery and the JWKS: readable from an allowed origin only.
    for path in ["/.well-known/oauth-authorization-server", "/oauth2/jwks"] {
        for origin in [None, Some(UNKNOWN_ORIGIN)] {
            let headers: Vec<(&str, &str)> = origin.map(|o| ("origin", o)).into_iter().collect();
            let answer = get_raw(&server, path, &headers);
            assert_eq!(answer.status, 200);
            assert_not_shared(&answer, path);
            assert!(varies_by_origin(&answer), "{path}");
        }
        let answer = get_raw(&server, path, &[("origin", APP_ORIGIN)]);
        assert_eq!(answer.status, 200);
        assert_shared_with(&answer, APP_ORIGIN, path);
        assert_eq!(answer.header("access-control-allow-credentials"), None);
    }
}

#[test]
fn issue_11_pages_and_the_authorization_endpoint_never_send_cors_headers() {
    let Setup { server, app, .. } = setup();
    let mut defaults = reqwest::header::HeaderMap::new();
    defaults.insert("origin", APP_ORIGIN.parse().unwrap());
    let browser = reqwest::blocking::Client::builder()
        .cookie_store(true)
        .default_headers(defaults)
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let get = |url: &str| reply(browser.get(url).send().expect("answered"));
    let post = |url: &str, fields: &[(String, String)]| {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        reply(
            browser
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body)
                .send()
                .expect("answered"),
        )
    };
    let (_, challenge) = pkce_pair();
    let authorize = code_request(&server, &app, "openid profile", "pages", Some(&challenge));

    // The whole browser side of the flow, every request from the app's (allowed) origin:
    // each redirect on the server followed by hand, and every answer checked.
    let base = url::Url::parse(&server.base_url).unwrap();
    let resolve = |from: &str, to: &str| url::Url::parse(from).unwrap().join(to).unwrap();
    let follow = |mut url: String, what: &str| loop {
        let answer = get(&url);
        assert_not_shared(&answer, &format!("{what}: GET {url}"));
        match answer.header("location") {
            Some(to) if answer.status == 303 || answer.status == 302 => {
                let next = resolve(&url, to);
                if next.origin() != base.origin() {
                    return (url, answer);
                }
                url = next.to_string();
            }
            _ => return (url, answer),
        }
    };
    let (login_url, login) = follow(authorize, "the authorization endpoint");
    let form = form_with_action(&login.body, "/login").expect("the sign-in form");
    let signed_in = post(
        resolve(&login_url, &form.action).as_str(),
        &form.filled(&[("username", "alice"), ("password", USER_PASSWORD)]),
    );
    assert_eq!(signed_in.status, 303, "{}", signed_in.body);
    assert_not_shared(&signed_in, "the sign-in answer");
    let next = resolve(
        &login_url,
        signed_in.header("location").expect("a redirect"),
    );
    let (consent_url, page) = follow(next.to_string(), "on the way to consent");
    let consent = form_with_action(&page.body, "/oauth2/consent").expect("the consent form");
    let decided = post(
        resolve(&consent_url, &consent.action).as_str(),
        &consent.press("decision", "allow", &[]),
    );
    assert_eq!(decided.status, 303, "{}", decided.body);
    assert!(decided
        .header("location")
        .is_some_and(|to| to.starts_with(&app.redirect_uri)));
    assert_not_shared(&decided, "the consent answer");

    for path in [
        "/account",
        "/logout",
        "/login",
        "/no-such-page",
        "/oauth2/jwks/not-this",
        "/healthz",
        "/static/style.css",
        "/static/copy.js",
    ] {
        assert_not_shared(&get(&server.url(path)), path);
    }
    // A path that answers CORS by name, but is not served yet, answers its 404 page:
    // an HTML page, which never shares itself.
    let missing = get(&server.url("/.well-known/openid-configuration"));
    if missing
        .header("content-type")
        .is_some_and(|kind| kind.starts_with("text/html"))
    {
        assert_not_shared(&missing, "an HTML answer at a CORS path");
    }
    // Preflights to pages are no preflights here.
    for path in ["/oauth2/authorize", "/login", "/oauth2/consent", "/account"] {
        let answer = preflight(&server, path, APP_ORIGIN, "POST");
        assert_not_shared(&answer, &format!("a preflight of {path}"));
    }
    // Introspection is for resource servers, not browsers.
    assert_not_shared(
        &preflight(&server, "/oauth2/introspect", APP_ORIGIN, "POST"),
        "a preflight of introspection",
    );
}

#[test]
fn issue_11_clients_created_or_deleted_while_serving_count_from_the_next_request() {
    let data = DataDir::new();
    let server = TestServer::start(&data, &[]);
    let origin = "https://new.example";
    let allowed = || preflight(&server, "/oauth2/token", origin, "POST").status == 204;
    assert!(!allowed());
    let app = register_client(
        &data,
        "New app",
        &[&format!("{origin}/cb")],
        &[
            "--grant-types",
            "authorization_code,refresh_token,client_credentials",
        ],
    );
    assert!(allowed(), "a client created while serving counts at once");
    let tokens = post_from(
        &server,
        "/oauth2/token",
        Some(origin),
        Some(app.auth()),
        &[("grant_type", "client_credentials")],
    );
    tokens.ok();
    assert_shared_with(&tokens, origin, "the new client's token");

    // A second client on the same origin, then the first one deleted: the origin stays
    // allowed for the second alone.
    let second = register_client(&data, "Same origin", &[&format!("{origin}/two")], &[]);
    data.run(&["client", "delete", &app.client_id]).ok();
    assert!(allowed());
    let gone = post_from(
        &server,
        "/oauth2/token",
        Some(origin),
        Some(app.auth()),
        &[("grant_type", "client_credentials")],
    );
    gone.refused(400, "unauthorized_client");
    data.run(&["client", "delete", &second.client_id]).ok();
    assert!(
        !allowed(),
        "a deleted client's origin stops counting at once"
    );

    // A private-use scheme has no web origin, and an app with only one allows nothing.
    register_client(&data, "Native", &["com.example.native:/cb"], &["--public"]);
    for candidate in ["com.example.native://cb", "null", "com.example.native:"] {
        assert_eq!(
            preflight(&server, "/oauth2/token", candidate, "POST").status,
            403,
            "{candidate}"
        );
    }
}

#[test]
fn issue_11_cors_origin_must_be_an_origin() {
    for (bad, says) in [
        ("https://app.example/", "path"),
        ("https://app.example/spa", "path"),
        ("https://app.example?x", "query"),
        ("https://app.example#x", "fragment"),
        ("*", "wildcard"),
        ("app.example", "not an origin"),
        ("http://app.example", "loopback"),
        ("ftp://app.example", "http or https"),
    ] {
        let data = DataDir::new();
        let run = data.run(&["serve", "--listen", "127.0.0.1:0", "--cors-origin", bad]);
        assert_eq!(run.status.code(), Some(2), "{bad}: {}", run.stderr);
        assert!(
            run.stderr.contains("--cors-origin") && run.stderr.contains(says),
            "{bad}: {}",
            run.stderr
        );
        assert!(!data.path.exists(), "{bad}: a refused flag creates nothing");
    }
}

/// Runs `fetch(url, init)` in the page and reports `{ok, status, body}` or `{ok: false,
/// error}`: a failed CORS check is a network error, and `fetch()` rejects with a TypeError.
const FETCH: &str = "const [url, init, done] = arguments;
fetch(url, init).then(
  async (response) => done({ ok: true, status: response.status, body: await response.text() }),
  (error) => done({ ok: false, error: String(error) }));";

#[test]
fn issue_11_headless_chromium_calls_the_token_endpoint_from_a_registered_origin_only() {
    let Some(driver) = WebDriver::start() else {
        return;
    };
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    // Two tiny web servers on other loopback ports: the app's origin, and one nobody
    // registered. Each answers every path with a short page.
    let (app_port, _) = callback_listener();
    let (stranger_port, _) = callback_listener();
    let redirect_uri = format!("http://127.0.0.1:{app_port}/callback");
    let app = register_client(
        &data,
        "Browser app",
        &[&redirect_uri],
        &["--public", "--scope", "openid profile"],
    );
    let (code, verifier) = code_for(&server, &app);
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_id", app.client_id.as_str()),
        ])
        .finish();
    let redeem = json!({
        "method": "POST",
        "headers": { "Content-Type": "application/x-www-form-urlencoded" },
        "body": body,
    });
    let token_url = server.url("/oauth2/token");
    let fetch_from = |port: u16, url: &str, init: &Value| {
        driver.navigate(&format!("http://127.0.0.1:{port}/app"));
        driver.execute_async(FETCH, json!([url, init]))
    };

    let refused = fetch_from(stranger_port, &token_url, &redeem);
    assert_eq!(refused["ok"], false, "a stranger's page read: {refused}");
    assert!(
        refused["error"]
            .as_str()
            .is_some_and(|error| error.starts_with("TypeError")),
        "a CORS failure is a network error: {refused}"
    );
    // Nor the metadata: only pages keyward knows may read it.
    let metadata = fetch_from(
        stranger_port,
        &server.url("/.well-known/oauth-authorization-server"),
        &json!({}),
    );
    assert!(
        metadata["error"]
            .as_str()
            .is_some_and(|error| error.starts_with("TypeError")),
        "{metadata}"
    );
    let metadata = fetch_from(
        app_port,
        &server.url("/.well-known/oauth-authorization-server"),
        &json!({}),
    );
    assert_eq!(metadata["ok"], true, "{metadata}");

    // The app's page: the same code (the refusal spent nothing), read by the page.
    let answer = fetch_from(app_port, &token_url, &redeem);
    assert_eq!(answer["ok"], true, "{answer}");
    assert_eq!(answer["status"], 200, "{answer}");
    let tokens: Value = serde_json::from_str(answer["body"].as_str().unwrap()).unwrap();
    let access = tokens["access_token"].as_str().expect("an access token");
    // Userinfo with a Bearer header: a preflighted request, allowed for the app's page.
    let with_bearer = json!({ "headers": { "Authorization": format!("Bearer {access}") } });
    let userinfo_url = server.url("/oauth2/userinfo");
    let claims = fetch_from(app_port, &userinfo_url, &with_bearer);
    assert_eq!(claims["ok"], true, "{claims}");
    let claims: Value = serde_json::from_str(claims["body"].as_str().unwrap()).unwrap();
    assert_eq!(claims["preferred_username"], "alice");
    let stranger = fetch_from(stranger_port, &userinfo_url, &with_bearer);
    assert_eq!(stranger["ok"], false, "{stranger}");
}
