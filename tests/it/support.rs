//! The test harness: a temp data directory, the CLI run against it, and a real server.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The binary under test. `KEYWARD_TEST_BIN` points the suite at another build, e.g. an
/// older release, to show that a regression test fails without its fix.
pub fn keyward_binary() -> PathBuf {
    std::env::var_os("KEYWARD_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_keyward")))
}

/// Whether the programs a test needs are installed. When one is missing, the test fails
/// under `CI=true` (CI installs everything the suite uses) and is otherwise skipped, with one
/// loud line on stderr naming what to install.
#[track_caller]
pub fn tools_present(test: &str, programs: &[&str], install: &str) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|program| {
            if program.contains('/') {
                !Path::new(program).exists()
            } else {
                Command::new("sh")
                    .arg("-c")
                    .arg(format!("command -v {program}"))
                    .output()
                    .map_or(true, |output| !output.status.success())
            }
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let line = format!(
        "SKIPPED {test}: {} not installed; run `{install}` to run it",
        missing.join(", ")
    );
    assert!(
        std::env::var("CI").map_or(true, |ci| ci != "true"),
        "{line} (under CI=true a missing tool is a failure)"
    );
    eprintln!("\n*** {line} ***\n");
    false
}

pub fn keyward() -> Command {
    let mut command = Command::new(keyward_binary());
    command
        .env_remove("KEYWARD_DATA_DIR")
        .env_remove("KEYWARD_MASTER_KEY_FILE")
        .env_remove("CREDENTIALS_DIRECTORY")
        .env("KEYWARD_LOG", "warn");
    command
}

/// A finished CLI command.
pub struct Run {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    fn from(output: Output) -> Run {
        Run {
            status: output.status,
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }

    #[track_caller]
    pub fn ok(self) -> Run {
        assert!(
            self.status.success(),
            "command failed: {}\nstdout: {}\nstderr: {}",
            self.status,
            self.stdout,
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn json(self) -> serde_json::Value {
        let run = self.ok();
        serde_json::from_str(run.stdout.trim())
            .unwrap_or_else(|error| panic!("not JSON ({error}): {}", run.stdout))
    }
}

pub struct DataDir {
    _root: tempfile::TempDir,
    pub path: PathBuf,
}

impl DataDir {
    pub fn new() -> DataDir {
        let root = tempfile::Builder::new()
            .prefix("kw")
            .tempdir()
            .expect("temp dir");
        let path = root.path().join("data");
        DataDir { _root: root, path }
    }

    pub fn root(&self) -> &Path {
        self._root.path()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = keyward();
        command.arg("--data-dir").arg(&self.path).args(args);
        command
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_stdin(args, "")
    }

    pub fn run_with_stdin(&self, args: &[&str], stdin: &str) -> Run {
        run_command(self.command(args), stdin)
    }

    /// Every file under the data directory (the socket excluded) and its bytes.
    pub fn snapshot(&self) -> BTreeMap<PathBuf, Vec<u8>> {
        snapshot(&self.path)
    }

    /// `user show NAME --json`, or `None` when there is no such user.
    pub fn user(&self, username: &str) -> Option<serde_json::Value> {
        let run = self.run(&["user", "show", username, "--json"]);
        run.status
            .success()
            .then(|| serde_json::from_str(run.stdout.trim()).expect("JSON"))
    }

    /// How many users `user list` lists.
    pub fn user_count(&self) -> usize {
        let users = self.run(&["user", "list", "--json"]).json();
        users["users"].as_array().expect("users").len()
    }

    pub fn create_user(&self, username: &str, password: &str) -> serde_json::Value {
        self.run_with_stdin(
            &[
                "user",
                "create",
                "--username",
                username,
                "--password-stdin",
                "--json",
            ],
            &format!("{password}\n"),
        )
        .json()
    }
}

pub fn run_command(mut command: Command, stdin: &str) -> Run {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keyward runs");
    // A command refused before it reads its input may have exited already: its stdin is
    // then a closed pipe, which is no failure of the test.
    let written = child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes());
    if let Err(error) = written {
        assert_eq!(
            error.kind(),
            std::io::ErrorKind::BrokenPipe,
            "stdin not written: {error}"
        );
    }
    Run::from(child.wait_with_output().expect("keyward finishes"))
}

/// Asserts two snapshots are equal, naming the files that differ rather than dumping bytes.
#[track_caller]
pub fn assert_same_files(
    before: &BTreeMap<PathBuf, Vec<u8>>,
    after: &BTreeMap<PathBuf, Vec<u8>>,
    context: &str,
) {
    let differing: Vec<_> = before
        .keys()
        .chain(after.keys())
        .filter(|path| before.get(*path) != after.get(*path))
        .collect();
    assert!(
        differing.is_empty(),
        "{context}: files changed: {differing:?}"
    );
}

pub fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return files;
    };
    for entry in entries {
        let entry = entry.expect("dir entry");
        let file_type = entry.file_type().expect("file type");
        if file_type.is_file() {
            files.insert(entry.path(), std::fs::read(entry.path()).expect("read"));
        } else if file_type.is_dir() {
            files.extend(snapshot(&entry.path()));
        }
    }
    files
}

/// A `keyward serve` child process on an ephemeral loopback port.
pub struct TestServer {
    child: Child,
    pub base_url: String,
    pub stderr_path: PathBuf,
}

impl TestServer {
    pub fn start(data: &DataDir, extra: &[&str]) -> TestServer {
        Self::try_start(data, extra)
            .unwrap_or_else(|stderr| panic!("server did not start: {stderr}"))
    }

    /// Starts a server; `Err` carries its stderr if it exited instead of listening.
    pub fn try_start(data: &DataDir, extra: &[&str]) -> Result<TestServer, String> {
        let stderr_path = log_path(data);
        let mut command = data.command(&["serve", "--listen", "127.0.0.1:0"]);
        command
            .args(extra)
            .env("KEYWARD_LOG", "info")
            .stderr(std::fs::File::create(&stderr_path).expect("log file"));
        Self::launch(command, stderr_path)
    }

    /// A server that may not write any file past `bytes` (RLIMIT_FSIZE, set by util-linux
    /// `prlimit`), with SIGXFSZ ignored so an oversized write fails with EFBIG instead of
    /// killing it: a disk filling up under a running server. Its log reaches the file
    /// through a pipe, which the limit does not cover.
    pub fn start_with_file_size_limit(data: &DataDir, extra: &[&str], bytes: u64) -> TestServer {
        Self::start_under_prlimit(data, extra, &format!("--fsize={bytes}"))
    }

    /// A server that may hold at most `descriptors` open files (RLIMIT_NOFILE, soft and
    /// hard, set by `prlimit`), like the 1,024 a systemd unit leaves by default.
    pub fn start_with_descriptor_limit(
        data: &DataDir,
        extra: &[&str],
        descriptors: u64,
    ) -> TestServer {
        Self::start_under_prlimit(data, extra, &format!("--nofile={descriptors}"))
    }

    fn start_under_prlimit(data: &DataDir, extra: &[&str], limit: &str) -> TestServer {
        assert!(
            Command::new("prlimit").arg("--version").output().is_ok(),
            "prlimit is missing: run `apt-get install util-linux` (as .ci/run does)"
        );
        let stderr_path = log_path(data);
        let mut inner = data.command(&["serve", "--listen", "127.0.0.1:0"]);
        inner.args(extra).env("KEYWARD_LOG", "info");
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"trap '' XFSZ; exec prlimit "$0" -- "$@""#)
            .arg(limit)
            .arg(inner.get_program())
            .args(inner.get_args());
        for (key, value) in inner.get_envs() {
            match value {
                Some(value) => command.env(key, value),
                None => command.env_remove(key),
            };
        }
        command.stderr(Stdio::piped());
        Self::launch(command, stderr_path)
            .unwrap_or_else(|stderr| panic!("server did not start: {stderr}"))
    }

    fn launch(mut command: Command, stderr_path: PathBuf) -> Result<TestServer, String> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("keyward serve runs");
        if let Some(mut stderr) = child.stderr.take() {
            let mut log = std::fs::File::create(&stderr_path).expect("log file");
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut log));
        }
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read stdout");
        match line.trim().strip_prefix("keyward listening on ") {
            Some(url) => Ok(TestServer {
                child,
                base_url: url.to_owned(),
                stderr_path,
            }),
            None => {
                let _ = child.wait();
                Err(std::fs::read_to_string(&stderr_path).unwrap_or_default())
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.pid().to_string())
            .status()
            .expect("kill runs");
        assert!(status.success());
    }

    /// SIGKILL: no cleanup of any kind runs.
    pub fn kill_hard(mut self) {
        self.signal("KILL");
        let _ = self.child.wait();
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "server did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn readyz(&self) -> u16 {
        reqwest::blocking::get(self.url("/readyz"))
            .map(|response| response.status().as_u16())
            .unwrap_or(0)
    }

    pub fn healthz(&self) -> u16 {
        reqwest::blocking::get(self.url("/healthz"))
            .map(|response| response.status().as_u16())
            .unwrap_or(0)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A `keyward demo` child process, and what its banner says.
pub struct Demo {
    child: Child,
    pub banner: String,
    pub base_url: String,
    pub password: String,
    pub client_id: String,
    pub client_secret: String,
    /// Its throwaway data directory, which it deletes when it stops.
    pub data_dir: String,
}

impl Demo {
    pub fn start() -> Demo {
        let mut child = keyward()
            .args(["demo", "--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("demo runs");
        let mut banner = String::new();
        let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
        while !banner.contains("client list") {
            let mut line = String::new();
            if reader.read_line(&mut line).expect("read stdout") == 0 {
                break;
            }
            banner.push_str(&line);
        }
        let field = |name: &str| {
            banner
                .lines()
                .find_map(|line| line.trim().strip_prefix(name))
                .map(|rest| rest.trim().to_owned())
                .unwrap_or_else(|| panic!("{name} missing from banner:\n{banner}"))
        };
        let user = field("demo user:");
        let password = user
            .strip_prefix("demo / ")
            .unwrap_or_else(|| panic!("the demo user is not 'demo': {user}"))
            .to_owned();
        let data_dir = field("(throwaway data in ")
            .split(',')
            .next()
            .expect("a path")
            .to_owned();
        Demo {
            base_url: field("keyward demo is running at"),
            password,
            client_id: field("client_id:"),
            client_secret: field("client_secret:"),
            data_dir,
            banner,
            child,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// SIGTERM, then wait for it to exit (it deletes its data on the way out).
    pub fn stop(mut self) -> std::process::ExitStatus {
        self.terminate()
    }

    fn terminate(&mut self) -> std::process::ExitStatus {
        if let Some(status) = self.child.try_wait().expect("wait") {
            return status;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                return self.child.wait().expect("wait");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A failed test still stops its demo the gentle way, so its data directory goes too.
impl Drop for Demo {
    fn drop(&mut self) {
        self.terminate();
    }
}

fn log_path(data: &DataDir) -> PathBuf {
    data.root().join(format!(
        "server-{}.log",
        std::process::id() as u128 + nanos()
    ))
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

// ---------------------------------------------------------------------------------------------
// Issue 3: OAuth clients, PKCE and the token endpoint, spoken in plain HTTP.
// ---------------------------------------------------------------------------------------------

/// The password every issue-3 test user signs in with.
pub const USER_PASSWORD: &str = "a long and memorable passphrase";

/// A registered client, as its developer knows it.
#[derive(Clone, Debug)]
pub struct App {
    pub client_id: String,
    /// `None` for a public client.
    pub client_secret: Option<String>,
    /// The first registered redirect URI.
    pub redirect_uri: String,
}

impl App {
    pub fn secret(&self) -> &str {
        self.client_secret
            .as_deref()
            .expect("a confidential client")
    }

    /// `client_secret_basic` for a confidential client, `client_id` alone for a public one.
    pub fn auth(&self) -> ClientAuth<'_> {
        match &self.client_secret {
            Some(secret) => ClientAuth::Basic(&self.client_id, secret),
            None => ClientAuth::Id(&self.client_id),
        }
    }

    pub fn post_auth(&self) -> ClientAuth<'_> {
        ClientAuth::Post(&self.client_id, self.secret())
    }
}

/// `client create ... --json` with the given redirect URIs and extra flags.
pub fn register_client(data: &DataDir, name: &str, redirect_uris: &[&str], extra: &[&str]) -> App {
    let mut args = vec!["client", "create", "--name", name];
    for uri in redirect_uris {
        args.extend(["--redirect-uri", uri]);
    }
    args.extend(extra);
    args.push("--json");
    let created = data.run(&args).json();
    App {
        client_id: created["client_id"].as_str().expect("client_id").to_owned(),
        client_secret: created["client_secret"].as_str().map(str::to_owned),
        redirect_uri: redirect_uris
            .first()
            .copied()
            .unwrap_or_default()
            .to_owned(),
    }
}

/// The S256 code challenge of a verifier (RFC 7636 §4.2).
pub fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// A fresh PKCE pair: (verifier, S256 challenge).
pub fn pkce_pair() -> (String, String) {
    use base64::Engine;
    let bytes: [u8; 32] = rand::random();
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let challenge = s256(&verifier);
    (verifier, challenge)
}

/// `GET /oauth2/authorize` with exactly these query parameters, in order, repeats kept.
pub fn authorize_url(server: &TestServer, pairs: &[(&str, &str)]) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    server.url(&format!("/oauth2/authorize?{query}"))
}

/// A well-formed authorization request for `app` at its first redirect URI.
pub fn code_request(
    server: &TestServer,
    app: &App,
    scope: &str,
    state: &str,
    challenge: Option<&str>,
) -> String {
    let mut pairs = vec![
        ("response_type", "code"),
        ("client_id", app.client_id.as_str()),
        ("redirect_uri", app.redirect_uri.as_str()),
        ("scope", scope),
        ("state", state),
    ];
    if let Some(challenge) = challenge {
        pairs.extend([
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
        ]);
    }
    authorize_url(server, &pairs)
}

/// How a token request authenticates its client.
#[derive(Clone, Copy, Debug)]
pub enum ClientAuth<'a> {
    /// `client_secret_basic`.
    Basic(&'a str, &'a str),
    /// `client_secret_post`.
    Post(&'a str, &'a str),
    /// A public client: `client_id` in the body, no secret.
    Id(&'a str),
}

/// `Authorization: Basic` as RFC 6749 §2.3.1 builds it (each part form-urlencoded first).
pub fn basic_header(id: &str, secret: &str) -> String {
    use base64::Engine;
    let encode = |text: &str| form_urlencoded::byte_serialize(text.as_bytes()).collect::<String>();
    let credentials = format!("{}:{}", encode(id), encode(secret));
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(credentials)
    )
}

/// A token-endpoint answer.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("ASCII header"))
    }

    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|error| panic!("not JSON ({error}): {} {}", self.status, self.body))
    }

    /// The `error` member, or `""` for a success.
    #[track_caller]
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_default().to_owned()
    }

    /// Asserts a 200 with the members every token response has; returns the JSON.
    #[track_caller]
    pub fn ok(&self) -> serde_json::Value {
        assert_eq!(self.status, 200, "expected tokens, got {}", self.body);
        let json = self.json();
        assert!(
            json["access_token"].as_str().is_some_and(|t| !t.is_empty()),
            "{json}"
        );
        assert!(
            json["token_type"]
                .as_str()
                .is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
            "{json}"
        );
        assert!(json["expires_in"].as_u64().is_some_and(|t| t > 0), "{json}");
        assert!(json["scope"].is_string(), "{json}");
        json
    }

    /// Asserts an RFC 6749 §5.2 error with this status and code.
    #[track_caller]
    pub fn refused(&self, status: u16, error: &str) {
        assert_eq!(
            (self.status, self.error().as_str()),
            (status, error),
            "body: {}",
            self.body
        );
    }
}

/// `POST /oauth2/token` with `params` (in order, repeats kept) and the client's credentials.
#[track_caller]
pub fn token(server: &TestServer, auth: ClientAuth<'_>, params: &[(&str, &str)]) -> Reply {
    let mut params = params.to_vec();
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    match auth {
        ClientAuth::Basic(id, secret) => headers.push(("authorization", basic_header(id, secret))),
        ClientAuth::Post(id, secret) => {
            params.extend([("client_id", id), ("client_secret", secret)])
        }
        ClientAuth::Id(id) => params.push(("client_id", id)),
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    token_raw(server, "", &headers, body.into_bytes())
}

/// `POST /oauth2/token?{query}` with exactly these headers and body bytes. Every answer of
/// the token endpoint is JSON with `Cache-Control: no-store`; that is asserted here.
#[track_caller]
pub fn token_raw(
    server: &TestServer,
    query: &str,
    headers: &[(&str, &str)],
    body: Vec<u8>,
) -> Reply {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let url = if query.is_empty() {
        server.url("/oauth2/token")
    } else {
        server.url(&format!("/oauth2/token?{query}"))
    };
    let mut request = client.post(url).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().expect("token endpoint answers");
    let reply = Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().expect("body"),
    };
    assert!(
        reply
            .header("cache-control")
            .is_some_and(|value| value.contains("no-store")),
        "token response without Cache-Control: no-store: {} {:?} {}",
        reply.status,
        reply.headers,
        reply.body
    );
    assert!(
        reply
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "token response is not JSON: {} {:?} {}",
        reply.status,
        reply.headers,
        reply.body
    );
    reply
}

/// Sends a request head and then `body_len` bytes of `filler` over a plain socket, reading
/// the answer while still writing (a server may answer early and stop reading); returns
/// the status code of the answer. Bounded by `deadline`.
pub fn raw_http_status(
    server: &TestServer,
    head: &str,
    body_len: usize,
    filler: u8,
    deadline: Duration,
) -> u16 {
    use std::io::Read;
    let address = server
        .base_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    let mut stream = std::net::TcpStream::connect(&address).expect("connect");
    stream.set_read_timeout(Some(deadline)).expect("timeout");
    stream.set_write_timeout(Some(deadline)).expect("timeout");
    let mut writer = stream.try_clone().expect("clone");
    let head = head.to_owned();
    let sender = std::thread::spawn(move || {
        if writer.write_all(head.as_bytes()).is_err() {
            return;
        }
        let chunk = vec![filler; 64 * 1024];
        let mut left = body_len;
        while left > 0 {
            let n = left.min(chunk.len());
            if writer.write_all(&chunk[..n]).is_err() {
                return;
            }
            left -= n;
        }
    });
    let started = Instant::now();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 8192];
    while !answer.windows(2).any(|w| w == b"\r\n") && started.elapsed() < deadline {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(error) => panic!(
                "no answer to a {body_len}-byte body ({error}); received so far: {:?}",
                String::from_utf8_lossy(&answer)
            ),
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    let _ = sender.join();
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status line in {text:?}"))
}

// ---------------------------------------------------------------------------------------------
// Issue 4: revocation, introspection, userinfo and personal API keys, spoken in plain HTTP.
// ---------------------------------------------------------------------------------------------

/// `POST {path}` with exactly these headers and body bytes; nothing asserted.
pub fn post_raw(server: &TestServer, path: &str, headers: &[(&str, &str)], body: Vec<u8>) -> Reply {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let mut request = client.post(server.url(path)).body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .unwrap_or_else(|error| panic!("POST {path}: {error}"));
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().expect("body"),
    }
}

/// `GET {path}` with exactly these headers; nothing asserted.
pub fn get_raw(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Reply {
    let client = reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client");
    let mut request = client.get(server.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request
        .send()
        .unwrap_or_else(|error| panic!("GET {path}: {error}"));
    Reply {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().expect("body"),
    }
}

/// `POST {path}` with form `params` (in order) and the client's credentials as `token`
/// sends them; `None` sends no client authentication at all.
pub fn post_as_client(
    server: &TestServer,
    path: &str,
    auth: Option<ClientAuth<'_>>,
    params: &[(&str, &str)],
) -> Reply {
    let mut params = params.to_vec();
    let mut headers = vec![(
        "content-type",
        "application/x-www-form-urlencoded".to_owned(),
    )];
    match auth {
        Some(ClientAuth::Basic(id, secret)) => {
            headers.push(("authorization", basic_header(id, secret)))
        }
        Some(ClientAuth::Post(id, secret)) => {
            params.extend([("client_id", id), ("client_secret", secret)])
        }
        Some(ClientAuth::Id(id)) => params.push(("client_id", id)),
        None => {}
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    post_raw(server, path, &headers, body.into_bytes())
}

/// `POST /oauth2/revoke` (RFC 7009) with `token` and the client's credentials.
pub fn revoke(server: &TestServer, auth: Option<ClientAuth<'_>>, token: &str) -> Reply {
    post_as_client(server, "/oauth2/revoke", auth, &[("token", token)])
}

/// `POST /oauth2/introspect` (RFC 7662) with `token` and the caller's credentials.
pub fn introspect(server: &TestServer, auth: Option<ClientAuth<'_>>, token: &str) -> Reply {
    post_as_client(server, "/oauth2/introspect", auth, &[("token", token)])
}

/// Introspects `token` as `auth` (a confidential client) and returns the JSON answer. An
/// inactive token must be described by exactly `{"active": false}` (RFC 7662 §2.2).
#[track_caller]
pub fn introspection(server: &TestServer, auth: ClientAuth<'_>, token: &str) -> serde_json::Value {
    let reply = introspect(server, Some(auth), token);
    assert_eq!(reply.status, 200, "introspection: {}", reply.body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|value| value.starts_with("application/json")),
        "introspection is JSON: {:?}",
        reply.headers
    );
    let json = reply.json();
    match json["active"].as_bool() {
        Some(true) => {}
        Some(false) => assert_eq!(
            json,
            serde_json::json!({ "active": false }),
            "an inactive token is described by nothing but active: false"
        ),
        None => panic!("introspection without a boolean active: {json}"),
    }
    json
}

/// Whether introspection (by `auth`) calls `token` active.
#[track_caller]
pub fn is_active(server: &TestServer, auth: ClientAuth<'_>, token: &str) -> bool {
    introspection(server, auth, token)["active"] == true
}

/// `GET /oauth2/userinfo` with `Authorization: Bearer {token}`.
pub fn userinfo(server: &TestServer, token: &str) -> Reply {
    get_raw(
        server,
        "/oauth2/userinfo",
        &[("authorization", &format!("Bearer {token}"))],
    )
}

/// Exchanges a personal API key at the token endpoint: `grant_type=refresh_token` with the
/// key as `refresh_token` and no client credentials (README.md, "Endpoints"), optionally narrowing scope.
pub fn exchange_api_key(server: &TestServer, api_key: &str, scope: Option<&str>) -> Reply {
    let mut params = vec![("grant_type", "refresh_token"), ("refresh_token", api_key)];
    if let Some(scope) = scope {
        params.push(("scope", scope));
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    token_raw(
        server,
        "",
        &[("content-type", "application/x-www-form-urlencoded")],
        body.into_bytes(),
    )
}

/// `apikey create --user {user} --name {name} {extra} --json`: (id, api_key).
pub fn create_api_key(data: &DataDir, user: &str, name: &str, extra: &[&str]) -> (String, String) {
    let mut args = vec!["apikey", "create", "--user", user, "--name", name];
    args.extend(extra);
    args.push("--json");
    let created = data.run(&args).json();
    let text = |key: &str| {
        created[key]
            .as_str()
            .unwrap_or_else(|| panic!("apikey create: no {key} in {created}"))
            .to_owned()
    };
    (text("id"), text("api_key"))
}

/// `apikey list --user {user} --json`: the `api_keys` array.
pub fn list_api_keys(data: &DataDir, user: &str) -> Vec<serde_json::Value> {
    let listed = data
        .run(&["apikey", "list", "--user", user, "--json"])
        .json();
    listed["api_keys"]
        .as_array()
        .unwrap_or_else(|| panic!("apikey list: no api_keys array in {listed}"))
        .clone()
}

/// `grant list --user {user} --json`: the `grants` array.
pub fn list_grants(data: &DataDir, user: &str) -> Vec<serde_json::Value> {
    let listed = data
        .run(&["grant", "list", "--user", user, "--json"])
        .json();
    listed["grants"]
        .as_array()
        .unwrap_or_else(|| panic!("grant list: no grants array in {listed}"))
        .clone()
}

/// The whole code flow for `app` as `username` (signing in and allowing as needed, PKCE
/// S256), then the code redeemed: the first token response.
#[track_caller]
pub fn code_flow_tokens(
    server: &TestServer,
    browser: &crate::forms::Browser,
    app: &App,
    username: &str,
    scope: &str,
) -> serde_json::Value {
    let (verifier, challenge) = pkce_pair();
    let url = code_request(server, app, scope, "issue-4", Some(&challenge));
    let callback = browser.approve(&url, username, USER_PASSWORD, &app.redirect_uri);
    token(
        server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", callback.code()),
            ("redirect_uri", &app.redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .ok()
}

/// `refresh_token` grant for `app` over plain HTTP.
pub fn refresh_as(server: &TestServer, app: &App, refresh_token: &str) -> Reply {
    token(
        server,
        app.auth(),
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ],
    )
}

/// A member of a JSON object that must be a string.
#[track_caller]
pub fn text_of(json: &serde_json::Value, key: &str) -> String {
    json[key]
        .as_str()
        .unwrap_or_else(|| panic!("no string {key:?} in {json}"))
        .to_owned()
}
