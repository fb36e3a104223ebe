//! Issue 13, item 5: Client ID Metadata Documents. A test server on a loopback port serves
//! the documents (keyward runs with `--client-metadata-insecure-loopback`, which lets it
//! fetch `http://127.0.0.1`); a public client named by its document's URL completes a whole
//! flow through the `oauth2` crate; documents that name another client, are too large,
//! redirect, sit on a private address or answer too slowly are refused with a page, and
//! nothing is stored.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth2::basic::BasicClient;
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, CsrfToken, PkceCodeChallenge, RedirectUrl, RefreshToken,
    Scope, TokenResponse, TokenUrl,
};
use serde_json::{json, Value};

use crate::forms::{decode_entities, Browser};
use crate::support::{assert_same_files, DataDir, TestServer, USER_PASSWORD};

const REDIRECT: &str = "http://127.0.0.1:9/callback";
const LOOPBACK_FLAGS: [&str; 3] = [
    "--client-metadata-documents",
    "on",
    "--client-metadata-insecure-loopback",
];

/// What the document server answers at one path.
#[derive(Clone)]
struct Route {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Sent before the answer.
    delay: Duration,
    /// Whether the answer says its length (without it, the body ends when the connection
    /// closes).
    content_length: bool,
}

impl Route {
    fn json(document: &Value) -> Route {
        Route {
            status: 200,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(document).unwrap(),
            delay: Duration::ZERO,
            content_length: true,
        }
    }

    fn header(mut self, name: &str, value: &str) -> Route {
        self.headers.push((name.into(), value.into()));
        self
    }
}

/// A web server on a loopback port that answers each path as its route says and counts
/// the requests. Built on std's `TcpListener`: a thread per connection, one request each.
struct DocumentServer {
    port: u16,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl DocumentServer {
    fn start() -> DocumentServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
        let hits: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
        let (served_routes, served_hits) = (routes.clone(), hits.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let (routes, hits) = (served_routes.clone(), served_hits.clone());
                std::thread::spawn(move || answer(stream, &routes, &hits));
            }
        });
        DocumentServer { port, routes, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn set(&self, path: &str, route: Route) {
        self.routes.lock().unwrap().insert(path.into(), route);
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// A good document for `path`: it names its own URL.
    fn document(&self, path: &str, name: &str, redirect_uris: &[&str]) -> Value {
        json!({
            "client_id": self.url(path),
            "client_name": name,
            "client_uri": "https://agent.example/",
            // keyward takes no http://localhost redirect URI: it is left out, the rest used.
            "redirect_uris": redirect_uris.iter().chain(["http://localhost:9/callback"].iter()).collect::<Vec<_>>(),
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "logo_uri": "https://agent.example/logo.png",
        })
    }
}

fn answer(
    stream: TcpStream,
    routes: &Mutex<HashMap<String, Route>>,
    hits: &Mutex<HashMap<String, usize>>,
) {
    let mut reader = BufReader::new(stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) if line == "\r\n" => break,
            Ok(_) => {}
        }
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .to_owned();
    *hits.lock().unwrap().entry(path.clone()).or_default() += 1;
    let route = routes.lock().unwrap().get(&path).cloned();
    let mut stream = reader.into_inner();
    let Some(route) = route else {
        let _ = stream.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    std::thread::sleep(route.delay);
    let mut head = format!("HTTP/1.1 {} Answer\r\nConnection: close\r\n", route.status);
    for (name, value) in &route.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    if route.content_length {
        head.push_str(&format!("Content-Length: {}\r\n", route.body.len()));
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(&route.body);
}

type Client = BasicClient<
    oauth2::EndpointSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointNotSet,
    oauth2::EndpointSet,
>;

fn oauth2_client(server: &TestServer, client_id: &str) -> Client {
    BasicClient::new(ClientId::new(client_id.to_owned()))
        .set_auth_uri(AuthUrl::new(server.url("/oauth2/authorize")).unwrap())
        .set_token_uri(TokenUrl::new(server.url("/oauth2/token")).unwrap())
        .set_redirect_uri(RedirectUrl::new(REDIRECT.to_owned()).unwrap())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The clients `client list` shows that stand in for a metadata document.
fn document_clients(data: &DataDir) -> Vec<Value> {
    data.run(&["client", "list", "--json"]).json()["clients"]
        .as_array()
        .expect("clients")
        .iter()
        .filter(|client| client["registered_by"] == "document")
        .cloned()
        .collect()
}

fn payload(jwt: &str) -> Value {
    use base64::Engine;
    let part = jwt.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(part)
            .expect("base64url"),
    )
    .expect("JSON claims")
}

#[test]
fn issue_13_a_client_metadata_document_names_a_public_client_for_a_whole_flow() {
    let documents = DocumentServer::start();
    let client_id = documents.url("/agent/client.json");
    documents.set(
        "/agent/client.json",
        Route::json(&documents.document("/agent/client.json", "Test Agent", &[REDIRECT]))
            .header("Cache-Control", "public, max-age=3600"),
    );
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let resource_server = crate::support::register_client(
        &data,
        "Score API",
        &[],
        &["--grant-types", "client_credentials"],
    );
    let server = TestServer::start(&data, &LOOPBACK_FLAGS);

    let metadata: Value =
        reqwest::blocking::get(server.url("/.well-known/oauth-authorization-server"))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(
        metadata["client_id_metadata_document_supported"], true,
        "{metadata}"
    );
    assert!(
        metadata["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none")),
        "{metadata}"
    );

    let client = oauth2_client(&server, &client_id);
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state) = client
        .authorize_url(CsrfToken::new_random)
        .add_scope(Scope::new("openid".into()))
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("offline_access".into()))
        .add_extra_param("nonce", "n-0S6_WzA2Mj")
        .set_pkce_challenge(challenge)
        .url();
    // The sign-in page names the app with the host that vouches for its name.
    let probe = Browser::new();
    let login = probe.follow(probe.get(url.as_str()));
    assert!(
        decode_entities(&login.body)
            .contains("<span class=\"app-name\">Test Agent (127.0.0.1)</span>"),
        "{}",
        login.describe()
    );
    let browser = Browser::new();
    let consent = browser.authorize(url.as_str(), "alice", USER_PASSWORD);
    assert!(consent.is_consent(), "{}", consent.describe());
    let text = decode_entities(&consent.body);
    for shown in [
        "Test Agent",
        "id=\"document-host\">127.0.0.1</strong>",
        "Not reviewed by",
        "http://127.0.0.1:9",
    ] {
        assert!(
            text.contains(shown),
            "the consent page lacks {shown:?}: {text}"
        );
    }
    // Its client_uri is on another host than the document: not shown beside it.
    assert!(!text.contains("agent.example"), "{text}");
    let callback = browser.decide(&consent, "allow").callback(REDIRECT);
    assert_eq!(callback.get("state"), Some(state.secret().as_str()));
    let runtime = runtime();
    let http = http();
    let tokens = runtime
        .block_on(
            client
                .exchange_code(AuthorizationCode::new(callback.code().to_owned()))
                .set_pkce_verifier(verifier)
                .request_async(&http),
        )
        .expect("tokens for the document's client");

    // The client is known by its URL everywhere it is named.
    let introspected = crate::support::introspection(
        &server,
        crate::support::ClientAuth::Basic(&resource_server.client_id, resource_server.secret()),
        tokens.access_token().secret(),
    );
    assert_eq!(introspected["active"], true, "{introspected}");
    assert_eq!(
        introspected["client_id"],
        client_id.as_str(),
        "{introspected}"
    );
    let refresh = tokens
        .refresh_token()
        .expect("a refresh token")
        .secret()
        .clone();
    let introspected = crate::support::introspection(
        &server,
        crate::support::ClientAuth::Basic(&resource_server.client_id, resource_server.secret()),
        &refresh,
    );
    assert_eq!(
        introspected["client_id"],
        client_id.as_str(),
        "{introspected}"
    );
    let refreshed = runtime
        .block_on(
            client
                .exchange_refresh_token(&RefreshToken::new(refresh))
                .request_async(&http),
        )
        .expect("a refresh by the document's client");
    assert!(refreshed.access_token().secret().len() > 20);

    // A raw token request shows the ID token's audience.
    let (verifier, challenge) = crate::support::pkce_pair();
    let url = crate::support::authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("scope", "openid"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let again = browser.follow(browser.get(&url));
    assert!(
        again.is_consent(),
        "public clients are asked every time: {}",
        again.describe()
    );
    let code = browser
        .decide(&again, "allow")
        .callback(REDIRECT)
        .code()
        .to_owned();
    let reply = crate::support::token(
        &server,
        crate::support::ClientAuth::Id(&client_id),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
    );
    assert_eq!(reply.status, 200, "{}", reply.body);
    let body: Value = serde_json::from_str(&reply.body).unwrap();
    let claims = payload(body["id_token"].as_str().expect("an ID token"));
    assert_eq!(claims["aud"], client_id.as_str(), "{claims}");
    assert_eq!(claims["azp"], client_id.as_str(), "{claims}");

    // Fetched once: its Cache-Control allowed an hour.
    assert_eq!(documents.hits("/agent/client.json"), 1);
    let log = std::fs::read_to_string(&server.stderr_path).unwrap();
    assert!(
        log.contains("INSECURE: --client-metadata-insecure-loopback"),
        "{log}"
    );
    for secret in [
        tokens.access_token().secret(),
        refreshed.access_token().secret(),
        &code,
    ] {
        assert!(!log.contains(secret.as_str()), "a token or code in the log");
    }
    // The operator sees it by its URL, may review it, and may not edit it.
    let shown = data.run(&["client", "show", &client_id, "--json"]).json();
    assert_eq!(shown["registered_by"], "document", "{shown}");
    assert_eq!(shown["client_id"], client_id.as_str());
    assert_eq!(shown["public"], true);
    let edit = data.run(&["client", "update", &client_id, "--name", "Renamed"]);
    assert!(!edit.status.success());
    assert!(edit.stderr.contains("metadata document"), "{}", edit.stderr);
    data.run(&["client", "verify", &client_id]).ok();
    let (_, challenge) = crate::support::pkce_pair();
    let url = crate::support::authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let reviewed = browser.follow(browser.get(&url));
    assert!(reviewed.is_consent(), "{}", reviewed.describe());
    assert!(
        !reviewed.body.contains("Not reviewed by"),
        "{}",
        reviewed.body
    );
    assert!(reviewed.body.contains("document-host"));

    // The operator's grant list names the client by its URL; the stand-in's hex id, which
    // anyone can compute, names nothing a client may use.
    let grants = data.run(&["grant", "list", "--user", "alice", "--json"]);
    assert!(grants.stdout.contains(&client_id), "{}", grants.stdout);
    let hex_id = hex_of(&client_id);
    assert_eq!(
        data.run(&["client", "show", &hex_id, "--json"]).json()["client_id"],
        client_id.as_str()
    );
    let by_hex = browser.get(&crate::support::authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &hex_id),
            ("redirect_uri", REDIRECT),
            (
                "code_challenge",
                "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            ),
            ("code_challenge_method", "S256"),
        ],
    ));
    assert_eq!(by_hex.status, 400, "{}", by_hex.describe());
    let reply = crate::support::token(
        &server,
        crate::support::ClientAuth::Id(&hex_id),
        &[("grant_type", "refresh_token"), ("refresh_token", "x.y")],
    );
    assert_eq!(reply.status, 401, "{}", reply.body);

    // Without PKCE a public client is refused, as any other.
    let without_pkce = crate::support::authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &client_id),
            ("redirect_uri", REDIRECT),
        ],
    );
    let refused = browser.get(&without_pkce);
    let callback = refused.callback(REDIRECT);
    assert_eq!(
        callback.get("error"),
        Some("invalid_request"),
        "{callback:?}"
    );
}

/// The document changes: with `no-store` keyward reads it again at every authorization,
/// so a redirect URI it adds works at once and one it drops stops.
#[test]
fn issue_13_a_document_that_says_no_store_is_read_again_and_its_changes_take_effect() {
    let documents = DocumentServer::start();
    let path = "/cli.json";
    let client_id = documents.url(path);
    let other = "http://127.0.0.1:9/other";
    documents.set(
        path,
        Route::json(&documents.document(path, "CLI", &[REDIRECT]))
            .header("Cache-Control", "no-store"),
    );
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &LOOPBACK_FLAGS);
    let browser = Browser::new();
    let request = |redirect: &str| {
        let (_, challenge) = crate::support::pkce_pair();
        crate::support::authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", &client_id),
                ("redirect_uri", redirect),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    let consent = browser.authorize(&request(REDIRECT), "alice", USER_PASSWORD);
    assert!(consent.is_consent(), "{}", consent.describe());
    let unknown = browser.get(&request(other));
    assert_eq!(unknown.status, 400, "{}", unknown.describe());
    documents.set(
        path,
        Route::json(&documents.document(path, "CLI", &[other])).header("Cache-Control", "no-store"),
    );
    let consent = browser.follow(browser.get(&request(other)));
    assert!(consent.is_consent(), "{}", consent.describe());
    let dropped = browser.get(&request(REDIRECT));
    assert_eq!(dropped.status, 400, "{}", dropped.describe());
    // The operator's review holds for the document as it was reviewed: a change clears it.
    data.run(&["client", "verify", &client_id]).ok();
    let reviewed = browser.follow(browser.get(&request(other)));
    assert!(
        !reviewed.body.contains("Not reviewed by"),
        "{}",
        reviewed.body
    );
    documents.set(
        path,
        Route::json(&documents.document(path, "CLI 2", &[other]))
            .header("Cache-Control", "no-store"),
    );
    let changed = browser.follow(browser.get(&request(other)));
    assert!(changed.body.contains("Not reviewed by"), "{}", changed.body);
    let shown = data.run(&["client", "show", &client_id, "--json"]).json();
    assert_eq!(shown["verified"], false, "{shown}");
    assert_eq!(shown["name"], "CLI 2");
    assert!(
        documents.hits(path) >= 4,
        "read again at each authorization"
    );
    assert_eq!(document_clients(&data).len(), 1);
}

#[test]
fn issue_13_bad_client_metadata_documents_are_refused_with_a_page_and_nothing_is_stored() {
    let documents = DocumentServer::start();
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &LOOPBACK_FLAGS);
    let browser = Browser::new();
    let before = data.run(&["client", "list", "--json"]).json();

    // Another client's id.
    let mut other = documents.document("/other.json", "Impostor", &[REDIRECT]);
    other["client_id"] = documents.url("/real.json").into();
    documents.set("/other.json", Route::json(&other));
    // Too large, said up front or only found while reading.
    let mut large = documents.document("/large.json", "Large", &[REDIRECT]);
    large["padding"] = "x".repeat(6000).into();
    documents.set("/large.json", Route::json(&large));
    let mut streamed = documents.document("/streamed.json", "Streamed", &[REDIRECT]);
    streamed["padding"] = "x".repeat(6000).into();
    documents.set(
        "/streamed.json",
        Route {
            content_length: false,
            ..Route::json(&streamed)
        },
    );
    // A redirect to a good document, which is not followed.
    documents.set(
        "/moved.json",
        Route {
            status: 302,
            body: Vec::new(),
            ..Route::json(&json!({}))
        }
        .header("Location", &documents.url("/good.json")),
    );
    documents.set(
        "/good.json",
        Route::json(&documents.document("/good.json", "Good", &[REDIRECT])),
    );
    // Slower than keyward waits.
    documents.set(
        "/slow.json",
        Route {
            delay: Duration::from_secs(8),
            ..Route::json(&documents.document("/slow.json", "Slow", &[REDIRECT]))
        },
    );
    // Content the self-service rules refuse, and what is not JSON.
    let mut greedy = documents.document("/greedy.json", "Greedy", &[REDIRECT]);
    greedy["scope"] = "openid admin".into();
    documents.set("/greedy.json", Route::json(&greedy));
    let mut secret = documents.document("/secret.json", "Secret", &[REDIRECT]);
    secret["token_endpoint_auth_method"] = "client_secret_basic".into();
    documents.set("/secret.json", Route::json(&secret));
    let mut nameless = documents.document("/nameless.json", "x", &[REDIRECT]);
    nameless.as_object_mut().unwrap().remove("client_name");
    documents.set("/nameless.json", Route::json(&nameless));
    let mut no_redirect = documents.document("/bare.json", "Bare", &[]);
    no_redirect.as_object_mut().unwrap().remove("redirect_uris");
    documents.set("/bare.json", Route::json(&no_redirect));
    documents.set(
        "/html.json",
        Route {
            body: b"<html>hello</html>".to_vec(),
            ..Route::json(&json!({}))
        },
    );
    documents.set(
        "/missing.json",
        Route {
            status: 404,
            ..Route::json(&json!({}))
        },
    );

    let port = documents.port;
    let cases: Vec<(String, u16, &str)> = vec![
        (
            documents.url("/other.json"),
            400,
            "not the URL it was fetched from",
        ),
        (documents.url("/large.json"), 502, "larger than the 5 KiB"),
        (
            documents.url("/streamed.json"),
            502,
            "larger than the 5 KiB",
        ),
        (documents.url("/moved.json"), 502, "redirect (HTTP 302)"),
        (
            documents.url("/slow.json"),
            504,
            "did not answer within 5 seconds",
        ),
        (documents.url("/greedy.json"), 400, "may not ask for admin"),
        (documents.url("/secret.json"), 400, "only public clients"),
        (
            documents.url("/bare.json"),
            400,
            "redirect_uris is required",
        ),
        (documents.url("/html.json"), 400, "it is not JSON"),
        (
            documents.url("/nameless.json"),
            400,
            "it has no client_name",
        ),
        (documents.url("/missing.json"), 502, "HTTP status 404"),
        // Private addresses: a literal, and a name that resolves to loopback.
        (
            "https://10.1.2.3/client.json".into(),
            400,
            "private, loopback or link-local",
        ),
        (
            "https://[fd00::1]/client.json".into(),
            400,
            "private, loopback or link-local",
        ),
        (
            format!("https://localhost:{port}/client.json"),
            502,
            "resolves only to private",
        ),
        // Not https (the test flag excepts only http on 127.0.0.1), no path, a fragment,
        // not canonical.
        (
            "http://agent.example/client.json".into(),
            400,
            "is not https",
        ),
        ("https://agent.example".into(), 400, "has no path"),
        ("https://agent.example/".into(), 400, "has no path"),
        (
            "https://agent.example/c.json#x".into(),
            400,
            "has a fragment",
        ),
        (
            "https://agent.example/a/../c.json".into(),
            400,
            "not in canonical form",
        ),
        (
            "https://user:pw@agent.example/c.json".into(),
            400,
            "user information",
        ),
    ];
    for (client_id, status, says) in &cases {
        let (_, challenge) = crate::support::pkce_pair();
        let url = crate::support::authorize_url(
            &server,
            &[
                ("response_type", "code"),
                ("client_id", client_id),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let page = browser.get(&url);
        assert_eq!(page.status, *status, "{client_id}: {}", page.describe());
        let text = decode_entities(&page.body);
        assert!(
            text.contains(says),
            "{client_id}: the page lacks {says:?}: {text}"
        );
        assert!(text.contains("Nothing was stored"), "{client_id}: {text}");
        assert!(
            page.header("location").is_none(),
            "{client_id}: never a redirect"
        );
    }
    assert_eq!(
        documents.hits("/good.json"),
        0,
        "the redirect was not followed"
    );
    assert_eq!(
        data.run(&["client", "list", "--json"]).json(),
        before,
        "nothing was stored"
    );
    assert!(document_clients(&data).is_empty());
    // The token endpoint knows none of them either.
    let reply = crate::support::token(
        &server,
        crate::support::ClientAuth::Id(&documents.url("/other.json")),
        &[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("code_verifier", "y"),
        ],
    );
    assert_eq!(reply.status, 401, "{}", reply.body);
    let check = data.run(&["check", "--json"]).json();
    assert_eq!(check["ok"], true, "{check}");
}

#[test]
fn issue_13_client_metadata_documents_are_off_by_default_and_follow_the_allow_list() {
    let documents = DocumentServer::start();
    let path = "/agent.json";
    documents.set(
        path,
        Route::json(&documents.document(path, "Agent", &[REDIRECT])),
    );
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let request = |server: &TestServer| {
        let (_, challenge) = crate::support::pkce_pair();
        crate::support::authorize_url(
            server,
            &[
                ("response_type", "code"),
                ("client_id", &documents.url(path)),
                ("redirect_uri", REDIRECT),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        )
    };
    {
        let server = TestServer::start(&data, &[]);
        let metadata: Value =
            reqwest::blocking::get(server.url("/.well-known/oauth-authorization-server"))
                .unwrap()
                .json()
                .unwrap();
        assert!(metadata
            .get("client_id_metadata_document_supported")
            .is_none());
        let page = Browser::new().get(&request(&server));
        assert_eq!(page.status, 400);
        assert!(
            decode_entities(&page.body).contains("does not accept"),
            "{}",
            page.body
        );
    }
    {
        let mut flags = LOOPBACK_FLAGS.to_vec();
        flags.extend(["--client-metadata-allow", "Agent.Example"]);
        let server = TestServer::start(&data, &flags);
        let page = Browser::new().get(&request(&server));
        assert_eq!(page.status, 400);
        assert!(
            decode_entities(&page.body).contains("only from agent.example, not from 127.0.0.1"),
            "{}",
            page.body
        );
    }
    assert_eq!(documents.hits(path), 0, "neither server fetched anything");
    assert!(document_clients(&data).is_empty());

    // Bad flags: a clear error, and no server.
    let before = data.snapshot();
    for (flags, says) in [
        (
            vec!["--client-metadata-allow", "agent.example"],
            "--client-metadata-allow needs --client-metadata-documents on",
        ),
        (
            vec!["--client-metadata-insecure-loopback"],
            "--client-metadata-insecure-loopback needs --client-metadata-documents on",
        ),
        (
            vec![
                "--client-metadata-documents",
                "on",
                "--client-metadata-allow",
                "https://agent.example/",
            ],
            "is not a host name",
        ),
        (vec!["--client-metadata-documents", "maybe"], "maybe"),
    ] {
        let error = TestServer::try_start(&data, &flags)
            .err()
            .unwrap_or_else(|| panic!("{flags:?} must be refused"));
        assert!(error.contains(says), "{flags:?}: {error}");
    }
    let public = data.run(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--client-metadata-documents",
        "on",
        "--client-metadata-insecure-loopback",
    ]);
    assert!(!public.status.success());
    assert!(
        public
            .stderr
            .contains("needs --listen on a loopback address"),
        "{}",
        public.stderr
    );
    assert_same_files(&before, &data.snapshot(), "refused serve flags");
}

/// The hex id keyward keeps a document's client under: `0xFFFF`, then SHA-256 of a fixed
/// prefix and the URL (storage-format.md §8.2), computed here independently.
fn hex_of(url: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::new()
        .chain_update(b"keyward client metadata document\n")
        .chain_update(url.as_bytes())
        .finalize();
    let mut hex = String::from("ffff");
    for byte in &digest[..14] {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

/// A document's client nobody approved goes with the registered clients nobody uses; one
/// with a grant stays.
#[test]
fn issue_13_a_document_client_nobody_uses_is_swept() {
    let documents = DocumentServer::start();
    let path = "/once.json";
    documents.set(
        path,
        Route::json(&documents.document(path, "Once", &[REDIRECT])),
    );
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let mut flags = LOOPBACK_FLAGS.to_vec();
    flags.extend(["--registration-unused-ttl", "1s", "--sweep-interval", "1s"]);
    let server = TestServer::start(&data, &flags);
    let (_, challenge) = crate::support::pkce_pair();
    let url = crate::support::authorize_url(
        &server,
        &[
            ("response_type", "code"),
            ("client_id", &documents.url(path)),
            ("redirect_uri", REDIRECT),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ],
    );
    let login = Browser::new().get(&url);
    assert!(login.is_redirect(), "{}", login.describe());
    assert_eq!(document_clients(&data).len(), 1);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !document_clients(&data).is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the unused document client stays"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}
