//! The test Discord: a server on a loopback port that answers like Discord's documented
//! OAuth2 API (https://discord.com/developers/docs/topics/oauth2) and nothing more.
//! `GET /oauth2/authorize` records the request and approves at once (or plays the user
//! pressing Cancel); `POST /api/oauth2/token` redeems a code once, only with HTTP Basic
//! credentials of keyward's client and only for the redirect URI and PKCE challenge it was
//! issued for; `GET /api/users/@me` answers Nelly's User object for a token it issued. Its
//! failures are switched per test (`Mode`). Built on std's `TcpListener` (no server crate):
//! a thread per connection, one request per connection, every answer `Connection: close`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::{CLIENT_ID, SUBJECT};
use crate::support::{basic_header, pkce_pair, s256};

/// How the test Discord behaves; switched by the test while it runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Mode {
    /// As documented: the user approves, codes redeem once, the user document is Nelly's.
    Normal,
    /// The user presses Cancel on Discord's consent screen.
    UserCancels,
    /// The token endpoint answers 500, as Discord does during an outage.
    TokenFails,
    /// The token endpoint reads the request and never answers (until keyward hangs up).
    TokenHangs,
    /// The token endpoint answers 10 MB, with or without a `Content-Length` saying so.
    TokenHuge { declared_length: bool },
    /// `/users/@me` answers 200 with an HTML page (a proxy's challenge page, say).
    UserinfoGarbage,
    /// `/users/@me` answers a user object without its `id`.
    UserinfoWithoutId,
}

/// A code Discord issued, and what it was issued for.
struct Issued {
    redirect_uri: String,
    code_challenge: String,
    used: bool,
}

/// One request to the token endpoint as Discord saw it, and the status it answered.
#[derive(Clone, Debug)]
pub(super) struct TokenRequest {
    pub(super) authorization: Option<String>,
    pub(super) form: Vec<(String, String)>,
    /// 0: no answer was sent (the endpoint hung).
    pub(super) status: u16,
}

impl TokenRequest {
    #[track_caller]
    pub(super) fn field(&self, name: &str) -> &str {
        first(&self.form, name).unwrap_or_else(|| panic!("no {name} in {:?}", self.form))
    }
}

/// What the test Discord knows and what it has seen.
struct Shared {
    mode: Mode,
    client_secret: String,
    authorizations: Vec<Vec<(String, String)>>,
    codes: BTreeMap<String, Issued>,
    access_tokens: BTreeSet<String>,
    token_requests: Vec<TokenRequest>,
    /// The `Authorization` header of each request to `/users/@me`.
    userinfo_requests: Vec<Option<String>>,
}

/// The test Discord: a thread per connection, one request per connection.
pub(super) struct Discord {
    pub(super) base_url: String,
    address: SocketAddr,
    shared: Arc<Mutex<Shared>>,
    stopping: Arc<AtomicBool>,
}

impl Discord {
    /// Discord with keyward registered as `CLIENT_ID` with this secret.
    pub(super) fn start(client_secret: &str) -> Discord {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the test Discord");
        let address = listener.local_addr().expect("its address");
        let shared = Arc::new(Mutex::new(Shared {
            mode: Mode::Normal,
            client_secret: client_secret.to_owned(),
            authorizations: Vec::new(),
            codes: BTreeMap::new(),
            access_tokens: BTreeSet::new(),
            token_requests: Vec::new(),
            userinfo_requests: Vec::new(),
        }));
        let stopping = Arc::new(AtomicBool::new(false));
        {
            let shared = Arc::clone(&shared);
            let stopping = Arc::clone(&stopping);
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stopping.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    let shared = Arc::clone(&shared);
                    std::thread::spawn(move || serve_connection(stream, &shared));
                }
            });
        }
        Discord {
            base_url: format!("http://{address}"),
            address,
            shared,
            stopping,
        }
    }

    pub(super) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub(super) fn set_mode(&self, mode: Mode) {
        self.shared.lock().unwrap().mode = mode;
    }

    /// Every authorization request Discord received, each parameter once.
    #[track_caller]
    pub(super) fn authorizations(&self) -> Vec<BTreeMap<String, String>> {
        let seen = self.shared.lock().unwrap().authorizations.clone();
        seen.into_iter().map(|pairs| once_each(&pairs)).collect()
    }

    pub(super) fn token_requests(&self) -> Vec<TokenRequest> {
        self.shared.lock().unwrap().token_requests.clone()
    }

    pub(super) fn userinfo_requests(&self) -> Vec<Option<String>> {
        self.shared.lock().unwrap().userinfo_requests.clone()
    }

    /// The access tokens Discord handed out.
    pub(super) fn access_tokens(&self) -> Vec<String> {
        let shared = self.shared.lock().unwrap();
        shared.access_tokens.iter().cloned().collect()
    }

    /// Whether Discord issued this code and has not redeemed it yet.
    pub(super) fn code_unused(&self, code: &str) -> bool {
        let shared = self.shared.lock().unwrap();
        shared.codes.get(code).is_some_and(|issued| !issued.used)
    }
}

impl Drop for Discord {
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(self.address);
    }
}

/// Nelly, as Discord's User object describes her (`verified`: her email is verified).
fn nelly() -> Value {
    json!({
        "id": SUBJECT,
        "username": "nelly",
        "global_name": "Nelly",
        "discriminator": "0",
        "avatar": null,
        "email": "nelly@discord.com",
        "verified": true,
        "mfa_enabled": false,
        "locale": "en-US",
    })
}

/// A 256-bit random value, base64url: Discord's codes and tokens are opaque strings.
fn random_token() -> String {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

#[track_caller]
pub(super) fn once_each(pairs: &[(String, String)]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    for (name, value) in pairs {
        let previous = map.insert(name.clone(), value.clone());
        assert!(previous.is_none(), "{name} sent twice in {pairs:?}");
    }
    map
}

fn decode_pairs(bytes: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(bytes).into_owned().collect()
}

/// What Discord sends back.
enum Answer {
    Json {
        status: u16,
        body: Value,
        headers: Vec<(&'static str, String)>,
    },
    Found(String),
    Text {
        status: u16,
        content_type: &'static str,
        body: String,
    },
    Hang,
    Huge {
        declared_length: bool,
    },
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer::Json {
            status,
            body,
            headers: Vec::new(),
        }
    }

    /// Discord's OAuth2 errors are RFC 6749 §5.2 bodies.
    fn oauth_error(status: u16, error: &str) -> Answer {
        Answer::json(status, json!({ "error": error }))
    }

    /// Discord's API errors: `{"message": "401: Unauthorized", "code": 0}`.
    fn api_error(status: u16) -> Answer {
        Answer::json(
            status,
            json!({ "message": format!("{status}: {}", reason(status)), "code": 0 }),
        )
    }

    fn status(&self) -> u16 {
        match self {
            Answer::Json { status, .. } | Answer::Text { status, .. } => *status,
            Answer::Found(_) => 302,
            Answer::Hang => 0,
            Answer::Huge { .. } => 200,
        }
    }
}

impl Shared {
    fn route(&mut self, request: &Request) -> Answer {
        const PATHS: [&str; 3] = ["/oauth2/authorize", "/api/oauth2/token", "/api/users/@me"];
        match (request.method.as_str(), request.path.as_str()) {
            ("GET", "/oauth2/authorize") => self.authorize(request),
            ("POST", "/api/oauth2/token") => self.token(request),
            ("GET", "/api/users/@me") => self.current_user(request),
            (_, path) if PATHS.contains(&path) => Answer::api_error(405),
            _ => Answer::api_error(404),
        }
    }

    /// The consent screen, already approved (or cancelled): a 302 to `redirect_uri`.
    fn authorize(&mut self, request: &Request) -> Answer {
        let query = decode_pairs(request.query.as_bytes());
        self.authorizations.push(query.clone());
        let get = |name: &str| first(&query, name);
        let refused = |why: &str| Answer::Text {
            status: 400,
            content_type: "text/plain; charset=utf-8",
            body: why.to_owned(),
        };
        if get("client_id") != Some(CLIENT_ID) {
            return refused("Unknown Application");
        }
        let Some(redirect_uri) = get("redirect_uri") else {
            return refused("Invalid OAuth2 redirect_uri");
        };
        if get("response_type") != Some("code") {
            return refused("Invalid response_type");
        }
        let (Some(challenge), Some("S256")) = (get("code_challenge"), get("code_challenge_method"))
        else {
            return refused("Invalid code_challenge");
        };
        let mut answer = form_urlencoded::Serializer::new(String::new());
        if self.mode == Mode::UserCancels {
            answer.append_pair("error", "access_denied").append_pair(
                "error_description",
                "The resource owner or authorization server denied the request",
            );
        } else {
            let code = random_token();
            self.codes.insert(
                code.clone(),
                Issued {
                    redirect_uri: redirect_uri.to_owned(),
                    code_challenge: challenge.to_owned(),
                    used: false,
                },
            );
            answer.append_pair("code", &code);
        }
        if let Some(state) = get("state") {
            answer.append_pair("state", state);
        }
        let separator = if redirect_uri.contains('?') { '&' } else { '?' };
        Answer::Found(format!("{redirect_uri}{separator}{}", answer.finish()))
    }

    fn token(&mut self, request: &Request) -> Answer {
        let form = decode_pairs(&request.body);
        let answer = match self.mode {
            Mode::TokenFails => Answer::api_error(500),
            Mode::TokenHangs => Answer::Hang,
            Mode::TokenHuge { declared_length } => Answer::Huge { declared_length },
            _ => self.redeem(request, &form),
        };
        self.token_requests.push(TokenRequest {
            authorization: request.header("authorization").map(str::to_owned),
            form,
            status: answer.status(),
        });
        answer
    }

    /// RFC 6749 §4.1.3 with RFC 7636 §4.6, as Discord documents it: client authentication
    /// by HTTP Basic, the code once, for its redirect URI and its PKCE challenge.
    fn redeem(&mut self, request: &Request, form: &[(String, String)]) -> Answer {
        let field = |name: &str| first(form, name);
        let is_form = request
            .header("content-type")
            .is_some_and(|kind| kind.starts_with("application/x-www-form-urlencoded"));
        if !is_form {
            return Answer::oauth_error(400, "invalid_request");
        }
        // RFC 6749 §2.3: one way of authenticating per request.
        if field("client_secret").is_some() {
            return Answer::oauth_error(400, "invalid_request");
        }
        let credentials = request.header("authorization").and_then(basic_credentials);
        if credentials != Some((CLIENT_ID.to_owned(), self.client_secret.clone())) {
            return Answer::Json {
                status: 401,
                body: json!({ "error": "invalid_client" }),
                headers: vec![("WWW-Authenticate", r#"Basic realm="discord""#.to_owned())],
            };
        }
        if field("grant_type") != Some("authorization_code") {
            return Answer::oauth_error(400, "unsupported_grant_type");
        }
        let Some(issued) = field("code").and_then(|code| self.codes.get_mut(code)) else {
            return Answer::oauth_error(400, "invalid_grant");
        };
        // Spent by any attempt, good or bad: a code is tried once.
        let was_used = std::mem::replace(&mut issued.used, true);
        let verifier_matches =
            field("code_verifier").map(s256).as_deref() == Some(issued.code_challenge.as_str());
        if was_used
            || field("redirect_uri") != Some(issued.redirect_uri.as_str())
            || !verifier_matches
        {
            return Answer::oauth_error(400, "invalid_grant");
        }
        let access_token = random_token();
        self.access_tokens.insert(access_token.clone());
        Answer::Json {
            status: 200,
            body: json!({
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 604800,
                "refresh_token": random_token(),
                "scope": "identify email",
            }),
            headers: vec![("Cache-Control", "no-store".to_owned())],
        }
    }

    /// `GET /users/@me` with `Authorization: Bearer`.
    fn current_user(&mut self, request: &Request) -> Answer {
        let authorization = request.header("authorization").map(str::to_owned);
        self.userinfo_requests.push(authorization.clone());
        let known = authorization
            .as_deref()
            .and_then(|value| value.strip_prefix("Bearer "))
            .is_some_and(|token| self.access_tokens.contains(token));
        if !known {
            return Answer::api_error(401);
        }
        match self.mode {
            Mode::UserinfoGarbage => Answer::Text {
                status: 200,
                content_type: "text/html; charset=utf-8",
                body: "<!DOCTYPE html><html><body><h1>Just a moment...</h1></body></html>".into(),
            },
            Mode::UserinfoWithoutId => {
                let mut user = nelly();
                user.as_object_mut().unwrap().remove("id");
                Answer::json(200, user)
            }
            _ => Answer::json(200, nelly()),
        }
    }
}

/// `Authorization: Basic` decoded as RFC 6749 §2.3.1 builds it: base64 of the
/// form-urlencoded id, a colon, the form-urlencoded secret.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let (id, secret) = std::str::from_utf8(&decoded).ok()?.split_once(':')?;
    let unescape = |text: &str| -> Option<String> {
        percent_encoding::percent_decode_str(&text.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|text| text.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

// ---------------------------------------------------------------------------------------------
// Minimal HTTP/1.1 (RFC 9112): one request per connection, every answer `Connection: close`
// ---------------------------------------------------------------------------------------------

const MAX_HEAD_BYTES: u64 = 16 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_BODY_BYTES: usize = 64 * 1024;
const HUGE_BYTES: usize = 10 * 1024 * 1024;
/// How long the hanging token endpoint waits for keyward to hang up: well past keyward's
/// 10-second deadline, short enough that a keyward without one fails the test rather
/// than stalling it.
const HANG_LIMIT: Duration = Duration::from_secs(30);

struct Request {
    method: String,
    path: String,
    query: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

enum Incoming {
    Request(Request),
    /// Answered with this status and closed.
    Malformed(u16),
    Closed,
}

fn read_request(reader: &mut impl BufRead) -> Incoming {
    let mut head = reader.by_ref().take(MAX_HEAD_BYTES);
    let mut lines: Vec<String> = Vec::new();
    loop {
        let mut line = String::new();
        match head.read_line(&mut line) {
            Ok(0) if lines.is_empty() => return Incoming::Closed,
            Ok(0) => return Incoming::Malformed(400),
            Ok(_) => {}
            Err(error) if error.kind() == std::io::ErrorKind::InvalidData => {
                return Incoming::Malformed(400)
            }
            Err(_) => return Incoming::Closed,
        }
        if !line.ends_with('\n') {
            return Incoming::Malformed(431);
        }
        let line = line.trim_end_matches('\n').trim_end_matches('\r');
        if line.is_empty() {
            // RFC 9112 §2.2: an empty line before the request line is ignored.
            if lines.is_empty() {
                continue;
            }
            break;
        }
        if lines.len() > MAX_HEADERS {
            return Incoming::Malformed(431);
        }
        lines.push(line.to_owned());
    }
    let mut parts = lines[0].split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Incoming::Malformed(400);
    };
    if !matches!(version, "HTTP/1.1" | "HTTP/1.0") || !target.starts_with('/') {
        return Incoming::Malformed(400);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut headers = Vec::new();
    for line in &lines[1..] {
        // RFC 9112 §5.1 and §5.2: no space before the colon, no obsolete line folding.
        let Some((name, value)) = line.split_once(':') else {
            return Incoming::Malformed(400);
        };
        if name.is_empty() || name.contains([' ', '\t']) {
            return Incoming::Malformed(400);
        }
        headers.push((name.to_owned(), value.trim_matches([' ', '\t']).to_owned()));
    }
    let mut request = Request {
        method: method.to_owned(),
        path: path.to_owned(),
        query: query.to_owned(),
        headers,
        body: Vec::new(),
    };
    if request.header("transfer-encoding").is_some() {
        return Incoming::Malformed(501);
    }
    let lengths: BTreeSet<&str> = request
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("content-length"))
        .flat_map(|(_, value)| value.split(','))
        .map(|value| value.trim())
        .collect();
    let length = match lengths.into_iter().collect::<Vec<_>>().as_slice() {
        [] => 0,
        [one] if !one.is_empty() && one.bytes().all(|b| b.is_ascii_digit()) => {
            match one.parse::<usize>() {
                Ok(length) if length <= MAX_BODY_BYTES => length,
                _ => return Incoming::Malformed(413),
            }
        }
        _ => return Incoming::Malformed(400),
    };
    request.body = vec![0; length];
    if reader.read_exact(&mut request.body).is_err() {
        return Incoming::Closed;
    }
    Incoming::Request(request)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        302 => "Found",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Content Too Large",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        _ => "Unknown",
    }
}

fn serve_connection(stream: TcpStream, shared: &Mutex<Shared>) {
    let _ = stream.set_read_timeout(Some(HANG_LIMIT));
    let _ = stream.set_write_timeout(Some(HANG_LIMIT));
    let Ok(read_half) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(read_half);
    let mut stream = stream;
    let answer = match read_request(&mut reader) {
        Incoming::Closed => return,
        Incoming::Malformed(status) => Answer::api_error(status),
        Incoming::Request(request) => shared.lock().unwrap().route(&request),
    };
    match answer {
        Answer::Hang => hang_until_closed(&mut reader),
        Answer::Huge { declared_length } => send_huge(&mut stream, declared_length),
        answer => send(&mut stream, answer),
    }
    let _ = stream.shutdown(Shutdown::Write);
    // Closing with unread input would reset the connection, and a reset can discard the
    // answer before the client reads it: read on until the client closes.
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_secs(1)));
    let _ = std::io::copy(&mut reader, &mut std::io::sink());
}

fn send(stream: &mut TcpStream, answer: Answer) {
    let status = answer.status();
    let (content_type, body, mut headers) = match answer {
        Answer::Json { body, headers, .. } => ("application/json", body.to_string(), headers),
        Answer::Text {
            content_type, body, ..
        } => (content_type, body, Vec::new()),
        Answer::Found(location) => ("text/plain", String::new(), vec![("Location", location)]),
        Answer::Hang | Answer::Huge { .. } => unreachable!("sent by their own functions"),
    };
    headers.push(("Content-Type", content_type.to_owned()));
    let mut head = format!("HTTP/1.1 {status} {}\r\n", reason(status));
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    ));
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body.as_bytes()))
        .and_then(|()| stream.flush());
}

/// Reads until keyward closes the connection, answering nothing.
fn hang_until_closed(reader: &mut BufReader<TcpStream>) {
    let _ = reader
        .get_ref()
        .set_read_timeout(Some(Duration::from_millis(200)));
    let deadline = Instant::now() + HANG_LIMIT;
    let mut buffer = [0u8; 256];
    while Instant::now() < deadline {
        match reader.read(&mut buffer) {
            Ok(0) => return,
            Ok(_) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
    }
}

/// A 200 with a 10 MB JSON body; without `Content-Length` it runs to the end of the
/// connection (RFC 9112 §6.3), so only counting what arrives can stop it.
fn send_huge(stream: &mut TcpStream, declared_length: bool) {
    let mut head =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n".to_owned();
    if declared_length {
        head.push_str(&format!("Content-Length: {HUGE_BYTES}\r\n"));
    }
    head.push_str("\r\n");
    let opening = br#"{"token_type":"Bearer","access_token":""#;
    let closing = br#""}"#;
    if stream.write_all(head.as_bytes()).is_err() || stream.write_all(opening).is_err() {
        return;
    }
    let chunk = vec![b'a'; 64 * 1024];
    let mut left = HUGE_BYTES - opening.len() - closing.len();
    while left > 0 {
        let n = left.min(chunk.len());
        // keyward hanging up part-way is what the test expects.
        if stream.write_all(&chunk[..n]).is_err() {
            return;
        }
        left -= n;
    }
    let _ = stream.write_all(closing);
}

// ---------------------------------------------------------------------------------------------
// The test Discord itself
// ---------------------------------------------------------------------------------------------

/// Sends `request` as written and reads the answer to the end of the connection.
fn exchange(discord: &Discord, request: &str) -> String {
    let mut stream = TcpStream::connect(discord.address).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream.write_all(request.as_bytes()).expect("send");
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// The fields of a token request for `code`.
fn redemption<'a>(
    code: &'a str,
    verifier: &'a str,
    redirect_uri: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", verifier),
    ]
}

/// keyward's sign-ins passing against the test Discord mean something only if it refuses
/// what Discord refuses: a code with another verifier or redirect URI, a code twice, a
/// client without its credentials, a token it did not issue, a request it cannot read.
#[test]
fn issue_12_the_test_discord_redeems_a_code_once_for_its_client_verifier_and_redirect_uri() {
    const SECRET: &str = "test-discord-secret";
    const CALLBACK: &str = "http://127.0.0.1:9/upstream/discord/callback";
    let discord = Discord::start(SECRET);
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let (verifier, challenge) = pkce_pair();
    let request = [
        ("response_type", "code"),
        ("client_id", CLIENT_ID),
        ("redirect_uri", CALLBACK),
        ("scope", "identify email"),
        ("state", "s-1"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let authorize = |pairs: &[(&str, &str)]| {
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        client
            .get(format!("{}?{query}", discord.url("/oauth2/authorize")))
            .send()
            .expect("authorize answers")
    };
    let new_code = || {
        let answer = authorize(&request);
        assert_eq!(answer.status(), 302);
        let location = answer.headers()["location"].to_str().unwrap().to_owned();
        let query = location
            .strip_prefix(&format!("{CALLBACK}?"))
            .unwrap_or_else(|| panic!("{location}"));
        let params = once_each(&decode_pairs(query.as_bytes()));
        assert_eq!(params["state"], "s-1");
        params["code"].clone()
    };
    let redeem = |authorization: Option<&str>, fields: &[(&str, &str)]| -> (u16, Value) {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields)
            .finish();
        let mut post = client
            .post(discord.url("/api/oauth2/token"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body);
        if let Some(authorization) = authorization {
            post = post.header("authorization", authorization);
        }
        let answer = post.send().expect("token endpoint answers");
        (answer.status().as_u16(), answer.json().expect("JSON"))
    };
    let good = basic_header(CLIENT_ID, SECRET);
    let invalid_grant = (400, json!({ "error": "invalid_grant" }));

    // A code is spent by its first try, right or wrong.
    let code = new_code();
    let wrong_verifier = redemption(&code, "another-verifier", CALLBACK);
    assert_eq!(redeem(Some(&good), &wrong_verifier), invalid_grant);
    let right = redemption(&code, &verifier, CALLBACK);
    assert_eq!(redeem(Some(&good), &right), invalid_grant);
    let code = new_code();
    let elsewhere = redemption(&code, &verifier, "http://127.0.0.1:9/elsewhere");
    assert_eq!(redeem(Some(&good), &elsewhere), invalid_grant);

    // The client authenticates, with Basic alone.
    let code = new_code();
    let fields = redemption(&code, &verifier, CALLBACK);
    let wrong_secret = basic_header(CLIENT_ID, "not-the-secret");
    assert_eq!(
        redeem(Some(&wrong_secret), &fields),
        (401, json!({ "error": "invalid_client" }))
    );
    assert_eq!(redeem(None, &fields).0, 401);
    let mut twice = fields.clone();
    twice.push(("client_secret", SECRET));
    assert_eq!(
        redeem(Some(&good), &twice),
        (400, json!({ "error": "invalid_request" }))
    );
    let (status, tokens) = redeem(Some(&good), &fields);
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 604800);
    assert_eq!(redeem(Some(&good), &fields), invalid_grant);

    let me = |authorization: &str| {
        let answer = client
            .get(discord.url("/api/users/@me"))
            .header("authorization", authorization)
            .send()
            .expect("users/@me answers");
        (
            answer.status().as_u16(),
            answer.json::<Value>().expect("JSON"),
        )
    };
    let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
    assert_eq!(me(&bearer), (200, nelly()));
    assert_eq!(me("Bearer not-one-it-issued").0, 401);
    assert_eq!(me(&good).0, 401);

    // Its consent screen knows one client, and S256 alone.
    let mut plain = request;
    plain[6] = ("code_challenge_method", "plain");
    assert_eq!(authorize(&plain).status(), 400);
    let mut stranger = request;
    stranger[1] = ("client_id", "someone-else");
    assert_eq!(authorize(&stranger).status(), 400);

    // HTTP/1.1 as RFC 9112 has it: the body is what Content-Length says; what it cannot
    // read is refused, never guessed at; every answer closes the connection.
    let body = "grant_type=authorization_code&code=x";
    let answer = exchange(
        &discord,
        &format!(
            "POST /api/oauth2/token HTTP/1.1\r\nHost: d\r\nContent-Type: \
             application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(
        answer.starts_with("HTTP/1.1 401 Unauthorized\r\n"),
        "{answer}"
    );
    assert!(answer.contains("\r\nConnection: close\r\n"), "{answer}");
    let last = discord.token_requests().pop().unwrap();
    assert_eq!(first(&last.form, "code"), Some("x"));
    for (request, status) in [
        (
            "POST /api/oauth2/token HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            501,
        ),
        (
            "POST /api/oauth2/token HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            400,
        ),
        ("GET /api/users/@me HTTP/1.1\r\nBad Header: x\r\n\r\n", 400),
        ("GET /api/users/@me HTTP/1.1\r\n folded\r\n\r\n", 400),
        ("GET /nowhere HTTP/1.1\r\n\r\n", 404),
        ("DELETE /api/oauth2/token HTTP/1.1\r\n\r\n", 405),
    ] {
        let answer = exchange(&discord, request);
        assert!(
            answer.starts_with(&format!("HTTP/1.1 {status} ")),
            "{request:?}: {answer}"
        );
    }
}
