//! Issue 13, item 6: dynamic client registration (RFC 7591) and its management (RFC 7592)
//! at `/oauth2/register`: node `openid-client` registers with an initial access token and
//! completes a flow; read, update and delete work with the registration access token and
//! fail without it; open registration is throttled; bad metadata stores nothing; unused
//! registrations are swept.

use serde_json::{json, Value};

use crate::forms::Browser;
use crate::support::{DataDir, TestServer, USER_PASSWORD};

const REDIRECT: &str = "http://127.0.0.1:9/callback";

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    json: Value,
}

fn call(method: reqwest::Method, url: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
    let client = reqwest::blocking::Client::new();
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    let response = request.send().expect("keyward answers");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().unwrap_or_default();
    Answer {
        status,
        headers,
        json: serde_json::from_str(&text).unwrap_or(Value::Null),
    }
}

fn register(server: &TestServer, token: Option<&str>, metadata: &Value) -> Answer {
    call(
        reqwest::Method::POST,
        &server.url("/oauth2/register"),
        token,
        Some(metadata),
    )
}

fn client_count(data: &DataDir) -> usize {
    data.run(&["client", "list", "--json"]).json()["clients"]
        .as_array()
        .expect("clients")
        .len()
}

#[test]
fn issue_13_node_openid_client_registers_with_an_initial_access_token_and_completes_a_flow() {
    let Some(root) = crate::node_client::node_modules() else {
        return;
    };
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &["--registration", "token"]);
    let made = data
        .run(&["registration-token", "create", "--uses", "1", "--json"])
        .json();
    let initial = made["token"].as_str().expect("a token").to_owned();

    let mut node = crate::node_client::NodeScript::start(
        &root,
        "dcr_flow.mjs",
        &[&server.base_url, &initial, REDIRECT],
    );
    let first = node.next();
    let authorize = first["authorize"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization URL: {first}"));
    let registered = first["registered"].clone();
    let client_id = registered["client_id"]
        .as_str()
        .expect("client_id")
        .to_owned();
    let browser = Browser::new();
    let consent = browser.authorize(authorize, "alice", USER_PASSWORD);
    assert!(consent.is_consent(), "{}", consent.describe());
    let text = crate::forms::decode_entities(&consent.body);
    assert!(
        text.contains("Node DCR App") && text.contains("Not reviewed by"),
        "{text}"
    );
    assert!(text.contains("registered by a program"), "{text}");
    let callback = browser.decide(&consent, "allow").callback(REDIRECT);
    node.send(&callback.location);
    let result = node.finish();
    assert_eq!(result["refreshed"], true, "{result}");

    // The token had one use: a second registration is refused.
    let again = register(
        &server,
        Some(&initial),
        &json!({"redirect_uris": [REDIRECT]}),
    );
    assert_eq!(again.status, 401, "{}", again.json);
    assert_eq!(again.json["error"], "invalid_token");

    // RFC 7592 with the registration access token: read (which hands out a new one).
    let uri = registered["registration_client_uri"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(uri, server.url(&format!("/oauth2/register/{client_id}")));
    let token = registered["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    for wrong in [None, Some("wrong"), Some(initial.as_str())] {
        let denied = call(reqwest::Method::GET, &uri, wrong, None);
        assert_eq!(denied.status, 401, "{wrong:?}");
        assert!(denied.headers.get("www-authenticate").is_some());
    }
    let read = call(reqwest::Method::GET, &uri, Some(&token), None);
    assert_eq!(read.status, 200, "{}", read.json);
    assert_eq!(read.json["client_id"], client_id.as_str());
    assert_eq!(read.json["client_name"], "Node DCR App");
    assert_eq!(read.json["redirect_uris"], json!([REDIRECT]));
    assert!(
        read.json.get("client_secret").is_none(),
        "the secret is not kept"
    );
    let token2 = read.json["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(token2, token);
    assert_eq!(
        call(reqwest::Method::GET, &uri, Some(&token), None).status,
        401,
        "rotated"
    );

    // Update: new metadata, the same id and secret; a mismatched client_id changes nothing.
    let new_metadata = json!({
        "client_id": client_id,
        "client_name": "Node DCR App 2",
        "redirect_uris": [REDIRECT, "http://127.0.0.1:9/other"],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "client_secret_post",
        "scope": "openid",
    });
    let mismatched =
        json!({"client_id": "0123456789abcdef0123456789abcdef", "redirect_uris": [REDIRECT]});
    let refused = call(reqwest::Method::PUT, &uri, Some(&token2), Some(&mismatched));
    assert_eq!(refused.status, 400, "{}", refused.json);
    let updated = call(
        reqwest::Method::PUT,
        &uri,
        Some(&token2),
        Some(&new_metadata),
    );
    assert_eq!(updated.status, 200, "{}", updated.json);
    assert_eq!(updated.json["client_name"], "Node DCR App 2");
    assert_eq!(updated.json["scope"], "openid");
    let token3 = updated.json["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let shown = data.run(&["client", "show", &client_id, "--json"]).json();
    assert_eq!(
        shown["redirect_uris"],
        json!([REDIRECT, "http://127.0.0.1:9/other"])
    );

    // Other methods are 405, naming the three RFC 7592 uses.
    let posted = reqwest::blocking::Client::new()
        .post(&uri)
        .bearer_auth(&token3)
        .json(&new_metadata)
        .send()
        .unwrap();
    assert_eq!(posted.status().as_u16(), 405);
    assert_eq!(
        posted.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET, PUT, DELETE")
    );
    // Delete: gone, and the token with it.
    assert_eq!(call(reqwest::Method::DELETE, &uri, None, None).status, 401);
    let deleted = call(reqwest::Method::DELETE, &uri, Some(&token3), None);
    assert_eq!(deleted.status, 204);
    assert_eq!(
        call(reqwest::Method::GET, &uri, Some(&token3), None).status,
        401
    );
    assert_eq!(client_count(&data), 0);
}

#[test]
fn issue_13_open_registration_is_throttled_and_bad_metadata_stores_nothing() {
    let data = DataDir::new();
    data.run(&["scope", "set", "admin", "--description", "Run the site"])
        .ok();
    let server = TestServer::start(&data, &["--registration", "open"]);
    let metadata: Value =
        reqwest::blocking::get(server.url("/.well-known/oauth-authorization-server"))
            .unwrap()
            .json()
            .unwrap();
    assert_eq!(
        metadata["registration_endpoint"],
        server.url("/oauth2/register").as_str()
    );

    let huge = json!({"redirect_uris": [REDIRECT], "client_name": "x".repeat(70_000)});
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "invalid_redirect_uri"),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": ["http://evil.example/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["https://a.example/*"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": "https://a.example/cb"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["client_credentials"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "response_types": ["token"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "scope": "openid admin"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "client_uri": "javascript:alert(1)"}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "id_token_signed_response_alg": "none"}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ];
    // (The server is running, and its sweeper may write; what must not change is the
    // clients.)
    for (body, error) in &cases {
        let answer = register(&server, None, body);
        assert_eq!(answer.status, 400, "{body}: {}", answer.json);
        assert_eq!(answer.json["error"], *error, "{body}: {}", answer.json);
        assert!(answer.json["error_description"]
            .as_str()
            .is_some_and(|text| !text.is_empty()));
    }
    // Too large to be metadata: refused before it is read (413), or as metadata (400).
    let answer = register(&server, None, &huge);
    assert!([400, 413].contains(&answer.status), "{}", answer.status);
    // Not JSON, by its type or its bytes.
    let raw = reqwest::blocking::Client::new()
        .post(server.url("/oauth2/register"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("redirect_uris=x")
        .send()
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    let raw = reqwest::blocking::Client::new()
        .post(server.url("/oauth2/register"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);
    // A token that is not one is refused even where none is needed.
    assert_eq!(
        register(&server, Some("nope"), &json!({"redirect_uris": [REDIRECT]})).status,
        401
    );
    assert_eq!(
        client_count(&data),
        0,
        "refused registrations store nothing"
    );

    // A public client registers openly; ten attempts from one address an hour, then 429
    // (the refused ones above counted too: a fresh server starts the count again).
    drop(server);
    let server = TestServer::start(&data, &["--registration", "open"]);
    let public = json!({
        "redirect_uris": [REDIRECT],
        "token_endpoint_auth_method": "none",
        "client_name": "Agent",
    });
    let first = register(&server, None, &public);
    assert_eq!(first.status, 201, "{}", first.json);
    assert!(first.json.get("client_secret").is_none(), "{}", first.json);
    assert_eq!(first.json["token_endpoint_auth_method"], "none");
    assert_eq!(
        first
            .headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(register(&server, None, &public).status);
    }
    assert_eq!(&statuses[..9], &[201; 9], "{statuses:?}");
    assert_eq!(statuses[9], 429, "{statuses:?}");
    assert_eq!(client_count(&data), 10);
}

#[test]
fn issue_13_registration_is_off_by_default_and_token_mode_needs_a_token_with_its_allowance() {
    let data = DataDir::new();
    data.run(&[
        "scope",
        "set",
        "scores:write",
        "--description",
        "Change your scores",
    ])
    .ok();
    let server = TestServer::start(&data, &[]);
    let metadata: Value = reqwest::blocking::get(server.url("/.well-known/openid-configuration"))
        .unwrap()
        .json()
        .unwrap();
    assert!(
        metadata.get("registration_endpoint").is_none(),
        "{metadata}"
    );
    assert_eq!(
        register(&server, None, &json!({"redirect_uris": [REDIRECT]})).status,
        404
    );
    drop(server);

    let server = TestServer::start(&data, &["--registration", "token"]);
    let without = register(&server, None, &json!({"redirect_uris": [REDIRECT]}));
    assert_eq!(without.status, 401, "{}", without.json);
    let plain = data.run(&["registration-token", "create", "--json"]).json();
    let plain = plain["token"].as_str().unwrap().to_owned();
    let allowed = data
        .run(&[
            "registration-token",
            "create",
            "--scope",
            "scores:write",
            "--expires-in",
            "1h",
            "--json",
        ])
        .json();
    let allowed_token = allowed["token"].as_str().unwrap().to_owned();
    let wanting = json!({"redirect_uris": [REDIRECT], "scope": "openid scores:write"});
    let refused = register(&server, Some(&plain), &wanting);
    assert_eq!(refused.status, 400, "{}", refused.json);
    assert!(refused.json["error_description"]
        .as_str()
        .unwrap()
        .contains("scores:write"));
    let made = register(&server, Some(&allowed_token), &wanting);
    assert_eq!(made.status, 201, "{}", made.json);
    assert_eq!(made.json["scope"], "openid scores:write");
    // An unlimited token keeps working; a revoked one does not.
    assert_eq!(
        register(&server, Some(&plain), &json!({"redirect_uris": [REDIRECT]})).status,
        201
    );
    let listed = data.run(&["registration-token", "list", "--json"]).json();
    let tokens = listed["tokens"].as_array().unwrap();
    assert_eq!(tokens.len(), 2, "{listed}");
    let plain_id = plain.split('.').next().unwrap();
    data.run(&["registration-token", "revoke", plain_id]).ok();
    assert_eq!(
        register(&server, Some(&plain), &json!({"redirect_uris": [REDIRECT]})).status,
        401
    );
    // Bad flags make nothing.
    for args in [
        vec!["registration-token", "create", "--uses", "0"],
        vec!["registration-token", "create", "--expires-in", "400d"],
        vec!["registration-token", "create", "--scope", "a\\b"],
        vec!["registration-token", "revoke", "nope"],
    ] {
        let run = data.run(&args);
        assert!(!run.status.success(), "{args:?}");
        assert_eq!(
            run.stderr.trim().lines().count(),
            1,
            "{args:?}: {}",
            run.stderr
        );
    }
}

#[test]
fn issue_13_registered_clients_nobody_uses_are_swept() {
    let data = DataDir::new();
    crate::support::register_client(&data, "Operator App", &[REDIRECT], &[]);
    let server = TestServer::start(
        &data,
        &[
            "--registration",
            "open",
            "--registration-unused-ttl",
            "1s",
            "--sweep-interval",
            "1s",
        ],
    );
    let made = register(
        &server,
        None,
        &json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}),
    );
    assert_eq!(made.status, 201);
    assert_eq!(client_count(&data), 2);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while client_count(&data) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the unused registration stays"
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let left = data.run(&["client", "list", "--json"]).json();
    assert_eq!(left["clients"][0]["name"], "Operator App", "{left}");
}

/// Issue 13: a real MCP client (@modelcontextprotocol/sdk) against a minimal MCP server that
/// names keyward as its authorization server (RFC 9728): the client discovers keyward,
/// registers (RFC 7591, open registration), gets a token whose audience is the MCP server's
/// resource (RFC 8707, `serve --resource`) and calls a tool with it.
#[test]
fn issue_13_a_real_mcp_client_discovers_keyward_registers_and_calls_a_tool() {
    let Some(root) = crate::node_client::node_modules() else {
        return;
    };
    let (data, shown) = mcp_flow(&root, &["--registration", "open"], None);
    // The agent's client is one a program registered, with the self-service rules.
    assert_eq!(shown["registered_by"], "registration", "{shown}");
    drop(data);
}

/// The same MCP client, named by a client metadata document it serves over https (as the
/// 2025-11-25 spec prefers, and the SDK does whenever the server offers it): keyward fetches
/// the document (on 127.0.0.1 under `--client-metadata-insecure-loopback`, which skips the
/// certificate check there) and the flow runs with the document's URL as client_id.
#[test]
fn issue_13_a_real_mcp_client_names_itself_by_a_client_metadata_document() {
    let Some(root) = crate::node_client::node_modules() else {
        return;
    };
    if !crate::support::tools_present(
        "the MCP client metadata document test",
        &["openssl"],
        "apt-get install openssl",
    ) {
        return;
    }
    let certificate = tempfile::tempdir().unwrap();
    let (cert, key) = (
        certificate.path().join("cert.pem"),
        certificate.path().join("key.pem"),
    );
    let made = std::process::Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (data, shown) = mcp_flow(
        &root,
        &[
            "--client-metadata-documents",
            "on",
            "--client-metadata-insecure-loopback",
        ],
        Some((cert.to_str().unwrap(), key.to_str().unwrap())),
    );
    assert_eq!(shown["registered_by"], "document", "{shown}");
    let client_id = shown["client_id"].as_str().unwrap();
    assert!(
        client_id.starts_with("https://127.0.0.1:") && client_id.ends_with("/agent/client.json"),
        "{shown}"
    );
    assert_eq!(shown["name"], "MCP Test Agent");
    drop(data);
}

/// Runs tests/node/mcp_flow.mjs against a keyward started with `flags` (and `--resource`
/// for the MCP server), signs alice in and allows; answers how the agent's client shows.
fn mcp_flow(
    root: &std::path::Path,
    flags: &[&str],
    document: Option<(&str, &str)>,
) -> (DataDir, Value) {
    let mcp_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let resource = format!("http://127.0.0.1:{mcp_port}/mcp");
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    // The MCP server checks tokens by introspection, as a confidential client of its own.
    let introspector = crate::support::register_client(
        &data,
        "MCP server",
        &[],
        &["--grant-types", "client_credentials"],
    );
    let mut serve_flags = flags.to_vec();
    serve_flags.extend(["--resource", &resource]);
    let server = TestServer::start(&data, &serve_flags);
    let port = mcp_port.to_string();
    let mut args = vec![
        server.base_url.as_str(),
        &port,
        &introspector.client_id,
        introspector.secret(),
        REDIRECT,
    ];
    if let Some((cert, key)) = document {
        args.extend([cert, key]);
    }
    let mut node = crate::node_client::NodeScript::start(root, "mcp_flow.mjs", &args);
    let first = node.next();
    let authorize = first["authorize"]
        .as_str()
        .unwrap_or_else(|| panic!("no authorization URL: {first}"));
    let url = reqwest::Url::parse(authorize).unwrap();
    let param = |name: &str| {
        url.query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    assert_eq!(
        param("resource").as_deref(),
        Some(resource.as_str()),
        "{authorize}"
    );
    assert_eq!(param("code_challenge_method").as_deref(), Some("S256"));
    let browser = Browser::new();
    let consent = browser.authorize(authorize, "alice", USER_PASSWORD);
    assert!(consent.is_consent(), "{}", consent.describe());
    let text = crate::forms::decode_entities(&consent.body);
    assert!(text.contains("MCP Test Agent"));
    assert_eq!(
        document.is_some(),
        text.contains("id=\"document-host\">127.0.0.1</strong>"),
        "{text}"
    );
    let callback = browser.decide(&consent, "allow").callback(REDIRECT);
    node.send(&callback.location);
    let result = node.finish();
    assert_eq!(result["tool"], "you are alice", "{result}");
    assert!(
        result["audiences"]
            .as_array()
            .is_some_and(|all| all.iter().all(|aud| aud == &json!([resource]))),
        "{result}"
    );
    let client_id = result["registered_client_id"]
        .as_str()
        .expect("a client id");
    assert_eq!(param("client_id").as_deref(), Some(client_id));
    let shown = data.run(&["client", "show", client_id, "--json"]).json();
    assert_eq!(shown["public"], true, "{shown}");
    assert_eq!(shown["owner"], Value::Null);
    drop(server);
    (data, shown)
}

/// Bad `serve` flags of the developer page and of registration stop the start with a line
/// naming the flag, and change nothing; a malformed `Authorization` header at the
/// registration endpoint is a 401 that stores nothing.
#[test]
fn issue_13_bad_registration_and_developer_flags_and_headers_change_nothing() {
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let before = data.snapshot();
    for (flag, value) in [
        ("--developer-apps", "sometimes"),
        ("--developer-app-limit", "0"),
        ("--developer-app-limit", "1001"),
        ("--developer-app-limit", "ten"),
        ("--registration", "maybe"),
        ("--registration-unused-ttl", "soon"),
        ("--registration-unused-ttl", "0s"),
    ] {
        let refused = TestServer::try_start(&data, &[flag, value]);
        let stderr = refused
            .err()
            .unwrap_or_else(|| panic!("{flag} {value} accepted"));
        assert!(stderr.contains(flag), "{flag} {value}: {stderr}");
    }
    for value in ["maybe", "", "yes"] {
        let run = data.run(&["user", "set", "alice", "--developer", value]);
        assert!(!run.status.success(), "--developer {value:?} accepted");
        assert!(
            run.stderr.contains("--developer"),
            "{value:?}: {}",
            run.stderr
        );
    }
    crate::support::assert_same_files(&before, &data.snapshot(), "refused flags");

    let server = TestServer::start(&data, &["--registration", "open"]);
    let metadata = json!({"redirect_uris": [REDIRECT]});
    for header in [
        "Basic YTpi",
        "Bearer",
        "Bearer    ",
        "token abc",
        "Bearer a b",
    ] {
        let answer = reqwest::blocking::Client::new()
            .post(server.url("/oauth2/register"))
            .header("authorization", header)
            .json(&metadata)
            .send()
            .unwrap();
        assert_eq!(answer.status().as_u16(), 401, "{header:?}");
        assert!(
            answer.headers().get("www-authenticate").is_some(),
            "{header:?}"
        );
    }
    let twice = reqwest::blocking::Client::new()
        .post(server.url("/oauth2/register"))
        .header("authorization", "Bearer a")
        .header("authorization", "Bearer b")
        .json(&metadata)
        .send()
        .unwrap();
    assert_eq!(twice.status().as_u16(), 401);
    assert_eq!(
        client_count(&data),
        0,
        "refused registrations store nothing"
    );
}
