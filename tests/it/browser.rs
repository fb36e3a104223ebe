//! Issue 3: a real browser. Headless Chromium, driven over the W3C WebDriver protocol by
//! plain HTTP calls to `chromedriver`, signs in, approves, and lands on the client's redirect
//! URI with a code. CI installs Debian's `chromium` and `chromium-driver`.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::forms::Callback;
use crate::support::{
    code_request, pkce_pair, register_client, DataDir, TestServer, USER_PASSWORD,
};

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long any one step (a page load, an element appearing) may take.
const STEP: Duration = Duration::from_secs(30);

/// A `chromedriver` child and one browser session on it; both end on drop.
pub struct WebDriver {
    child: Child,
    http: reqwest::blocking::Client,
    base: String,
    session: Option<String>,
    _profile: tempfile::TempDir,
}

impl WebDriver {
    /// `None` (the test is skipped, loudly) where Chromium is not installed, outside CI.
    pub fn start() -> Option<WebDriver> {
        if !crate::support::tools_present(
            "the headless Chromium test",
            &[CHROMIUM, CHROMEDRIVER],
            "apt-get install chromium chromium-driver",
        ) {
            return None;
        }
        let port = free_port();
        let child = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let mut driver = WebDriver {
            child,
            http: reqwest::blocking::Client::builder()
                .timeout(Duration::from_secs(90))
                .build()
                .expect("client"),
            base: format!("http://127.0.0.1:{port}"),
            session: None,
            _profile: tempfile::Builder::new()
                .prefix("kw-chromium")
                .tempdir()
                .expect("profile dir"),
        };
        let deadline = Instant::now() + STEP;
        loop {
            let ready = driver
                .http
                .get(format!("{}/status", driver.base))
                .send()
                .ok()
                .and_then(|response| response.json::<Value>().ok())
                .is_some_and(|status| status["value"]["ready"] == true);
            if ready {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        let profile = driver._profile.path().display().to_string();
        let capabilities = json!({
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {
                        "binary": CHROMIUM,
                        "args": [
                            "--headless=new",
                            "--no-sandbox",
                            "--disable-gpu",
                            "--disable-dev-shm-usage",
                            "--disable-background-networking",
                            "--disable-component-update",
                            "--disable-sync",
                            "--no-first-run",
                            format!("--user-data-dir={profile}"),
                        ]
                    }
                }
            }
        });
        let created = driver.call("POST", "/session", Some(capabilities));
        let session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {created}"))
            .to_owned();
        driver.session = Some(session);
        Some(driver)
    }

    /// One WebDriver command; returns its `value`, panicking on a WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let request = match method {
            "GET" => self.http.get(&url),
            "DELETE" => self.http.delete(&url),
            _ => self
                .http
                .post(&url)
                .json(&body.unwrap_or_else(|| json!({}))),
        };
        let response = request
            .send()
            .unwrap_or_else(|error| panic!("WebDriver {method} {path}: {error}"));
        let status = response.status();
        let answer: Value = response.json().expect("WebDriver answers JSON");
        assert!(
            status.is_success(),
            "WebDriver {method} {path}: {status} {answer}"
        );
        answer["value"].clone()
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let session = self.session.as_deref().expect("session");
        self.call(method, &format!("/session/{session}{path}"), body)
    }

    pub fn navigate(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({ "url": url })));
    }

    pub fn current_url(&self) -> String {
        self.session_call("GET", "/url", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Runs `script` in the page as a WebDriver asynchronous script: it gets `args` in
    /// `arguments`, then a callback as the last one; what it passes the callback is
    /// returned.
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        self.session_call(
            "POST",
            "/execute/async",
            Some(json!({ "script": script, "args": args })),
        )
    }

    /// The element matching `css`, waiting (bounded) for it to appear.
    fn element(&self, css: &str) -> String {
        let session = self.session.as_deref().expect("session");
        let deadline = Instant::now() + STEP;
        loop {
            let response = self
                .http
                .post(format!("{}/session/{session}/element", self.base))
                .json(&json!({ "using": "css selector", "value": css }))
                .send()
                .expect("WebDriver answers");
            if response.status().is_success() {
                let answer: Value = response.json().expect("JSON");
                return answer["value"][ELEMENT]
                    .as_str()
                    .unwrap_or_else(|| panic!("no element reference for {css:?}: {answer}"))
                    .to_owned();
            }
            if Instant::now() > deadline {
                let source = self.session_call("GET", "/source", None);
                panic!(
                    "no element {css:?} at {} within {STEP:?}; page:\n{}",
                    self.current_url(),
                    source.as_str().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.element(css);
        self.session_call(
            "POST",
            &format!("/element/{element}/value"),
            Some(json!({ "text": text })),
        );
    }

    pub fn click(&self, css: &str) {
        let element = self.element(css);
        self.session_call("POST", &format!("/element/{element}/click"), None);
    }
}

impl WebDriver {
    /// Waits (bounded) until the page's text contains `text`: a step that navigates
    /// finishes before the next looks for an element that the old page had too.
    pub fn wait_for_text(&self, text: &str) {
        let deadline = Instant::now() + STEP;
        loop {
            let source = self.session_call("GET", "/source", None);
            if source.as_str().is_some_and(|page| page.contains(text)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "{text:?} did not appear within {STEP:?} at {}; page:\n{}",
                self.current_url(),
                source.as_str().unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for WebDriver {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            let _ = self
                .http
                .delete(format!("{}/session/{session}", self.base))
                .send();
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port()
}

/// A stand-in for the client's web server: on 127.0.0.1, it answers every request with a
/// short page and reports each request line that starts with `GET /callback`.
pub fn callback_listener() -> (u16, mpsc::Receiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("address").port();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { continue };
            let sender = sender.clone();
            // Browsers open speculative connections that never send a byte: one thread each.
            std::thread::spawn(move || serve_one(stream, sender));
        }
    });
    (port, receiver)
}

/// The next request `callback_listener` reported, as the `Callback` at `redirect_uri` (on
/// `port`); `browser_at` says where the browser is, for the message when none comes.
#[track_caller]
pub fn next_callback(
    requests: &mpsc::Receiver<String>,
    port: u16,
    redirect_uri: &str,
    browser_at: impl FnOnce() -> String,
) -> Callback {
    let request_line = requests.recv_timeout(STEP).unwrap_or_else(|_| {
        panic!(
            "the redirect URI was not reached within {STEP:?}; the browser is at {}",
            browser_at()
        )
    });
    let target = request_line
        .strip_prefix("GET ")
        .and_then(|rest| rest.strip_suffix(" HTTP/1.1"))
        .unwrap_or_else(|| panic!("unexpected request line {request_line:?}"));
    Callback::parse(&format!("http://127.0.0.1:{port}{target}"), redirect_uri)
}

fn serve_one(mut stream: TcpStream, sender: mpsc::Sender<String>) {
    let _ = stream.set_read_timeout(Some(STEP));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(clone) => clone,
        Err(_) => return,
    });
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    // Read the rest of the head so the browser sees an orderly answer.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
        line.clear();
    }
    let body = "<!doctype html><title>App</title><p>Signed in.</p>";
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    if request_line.starts_with("GET /callback") {
        let _ = sender.send(request_line.trim_end().to_owned());
    }
}

#[test]
fn issue_3_headless_chromium_signs_in_approves_and_lands_on_the_redirect_uri_with_a_code() {
    let Some(driver) = WebDriver::start() else {
        return;
    };
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &[]);
    let (port, requests) = callback_listener();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");
    let app = register_client(
        &data,
        "Chromium App",
        &[&redirect_uri],
        &["--scope", "openid profile"],
    );
    let (_, challenge) = pkce_pair();
    let url = code_request(
        &server,
        &app,
        "openid profile",
        "chromium-state",
        Some(&challenge),
    );

    driver.navigate(&url);
    driver.type_into("input[name=username]", "alice");
    // Enter in the password field submits the form, as a person would.
    driver.type_into("input[name=password]", &format!("{USER_PASSWORD}\u{E007}"));
    driver.click("button[name=decision][value=allow]");

    let callback = next_callback(&requests, port, &redirect_uri, || driver.current_url());
    callback.code();
    assert_eq!(callback.get("state"), Some("chromium-state"));
    assert_eq!(callback.get("iss"), Some(server.base_url.as_str()));
}

/// Issue 13: a person registers an app on the developer page in Chromium, reads its id and
/// secret off the page, and the app completes a code flow with them.
#[test]
fn issue_13_headless_chromium_registers_an_app_on_the_developer_page() {
    let Some(driver) = WebDriver::start() else {
        return;
    };
    let data = DataDir::new();
    data.create_user("alice", USER_PASSWORD);
    let server = TestServer::start(&data, &["--developer-apps", "everyone"]);
    let (port, requests) = callback_listener();
    let redirect_uri = format!("http://127.0.0.1:{port}/callback");

    driver.navigate(&server.url("/account/apps"));
    driver.type_into("input[name=username]", "alice");
    driver.type_into("input[name=password]", &format!("{USER_PASSWORD}\u{E007}"));
    driver.wait_for_text("Register an app");
    driver.type_into("#new-name", "Chromium Scores");
    driver.type_into("#new-redirect-uris", &redirect_uri);
    driver.type_into("#new-scope", "openid profile");
    driver.type_into("#new-homepage", "https://scores.example/");
    driver.click("#new-app button[type=submit]");
    driver.wait_for_text("Copy it now");
    let read = |id: &str| {
        driver
            .execute_async(
                "arguments[arguments.length - 1](document.getElementById(arguments[0]).value)",
                serde_json::json!([id]),
            )
            .as_str()
            .unwrap_or_default()
            .to_owned()
    };
    let client_id = read("client-id");
    let client_secret = read("client-secret");
    assert_eq!(client_id.len(), 32, "{client_id}");
    assert!(client_secret.len() >= 40, "{client_secret}");

    // The app, with what the page showed: Alice approves it, and the code redeems.
    let app = crate::support::App {
        client_id,
        client_secret: Some(client_secret),
        redirect_uri: redirect_uri.clone(),
    };
    let (verifier, challenge) = pkce_pair();
    driver.navigate(&code_request(
        &server,
        &app,
        "openid profile",
        "dev",
        Some(&challenge),
    ));
    driver.wait_for_text("by alice");
    driver.click("button[name=decision][value=allow]");
    let callback = next_callback(&requests, port, &redirect_uri, || driver.current_url());
    assert_eq!(callback.get("state"), Some("dev"));
    crate::support::token(
        &server,
        app.auth(),
        &[
            ("grant_type", "authorization_code"),
            ("code", callback.code()),
            ("redirect_uri", &redirect_uri),
            ("code_verifier", &verifier),
        ],
    )
    .ok();
}
