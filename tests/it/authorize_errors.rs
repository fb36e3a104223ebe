//! Issue 3: every rule of the authorization endpoint, one row each. Until the client and its
//! redirect URI are trusted, an error is a page and never a redirect; after that, every error
//! goes back to the client with `error`, `state` and `iss`.

use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::forms::{assert_error_page, Browser, Callback, Page};
use crate::support::{
    authorize_url, pkce_pair, register_client, App, DataDir, TestServer, USER_PASSWORD,
};

const HTTPS: &str = "https://app.example.com/cb";
const LOOPBACK: &str = "http://127.0.0.1:8000/cb";

/// What the endpoint must answer.
#[derive(Clone, Copy, Debug)]
enum Expect {
    /// An HTML error page (4xx) with no `Location`.
    Page,
    /// 302/303 to the request's redirect URI with this `error`, the `state` sent, and `iss`.
    Redirect(&'static str),
    /// A good request: the consent page (or, for a remembered consent, a code).
    Proceeds,
}
use Expect::*;

/// A change to the well-formed base request.
#[derive(Clone, Copy, Debug)]
enum Edit {
    /// Replace the parameter's value (add it if absent).
    Set(&'static str, &'static str),
    /// Remove the parameter.
    Drop(&'static str),
    /// Send the parameter once more with this value.
    Repeat(&'static str, &'static str),
}
use Edit::*;

type Row = (&'static str, &'static [Edit], Expect);

/// The base request: confidential client `{web}`, PKCE, a plain state.
const BASE: &[(&str, &str)] = &[
    ("response_type", "code"),
    ("client_id", "{web}"),
    ("redirect_uri", HTTPS),
    ("scope", "openid profile"),
    ("state", "xyz-123"),
    ("code_challenge", "{challenge}"),
    ("code_challenge_method", "S256"),
];

const UNTRUSTED: &[Row] = &[
    (
        "unknown client_id",
        &[Set("client_id", "no-such-client")],
        Page,
    ),
    ("client_id missing", &[Drop("client_id")], Page),
    (
        "redirect_uri missing, two registered",
        &[Drop("redirect_uri")],
        Page,
    ),
    (
        "trailing slash added",
        &[Set("redirect_uri", "https://app.example.com/cb/")],
        Page,
    ),
    (
        "host case changed",
        &[Set("redirect_uri", "https://APP.example.com/cb")],
        Page,
    ),
    (
        "path case changed",
        &[Set("redirect_uri", "https://app.example.com/CB")],
        Page,
    ),
    (
        "scheme case changed",
        &[Set("redirect_uri", "HTTPS://app.example.com/cb")],
        Page,
    ),
    (
        "query added",
        &[Set("redirect_uri", "https://app.example.com/cb?next=1")],
        Page,
    ),
    (
        "fragment added",
        &[Set("redirect_uri", "https://app.example.com/cb#top")],
        Page,
    ),
    (
        "empty fragment added",
        &[Set("redirect_uri", "https://app.example.com/cb#")],
        Page,
    ),
    (
        "`..` segment",
        &[Set("redirect_uri", "https://app.example.com/x/../cb")],
        Page,
    ),
    (
        "`.` segment",
        &[Set("redirect_uri", "https://app.example.com/./cb")],
        Page,
    ),
    (
        "percent-encoded path",
        &[Set("redirect_uri", "https://app.example.com/%63b")],
        Page,
    ),
    (
        "user@host authority",
        &[Set("redirect_uri", "https://attacker@app.example.com/cb")],
        Page,
    ),
    (
        "host@other authority",
        &[Set(
            "redirect_uri",
            "https://app.example.com@evil.example/cb",
        )],
        Page,
    ),
    (
        "other port, non-loopback",
        &[Set("redirect_uri", "https://app.example.com:8443/cb")],
        Page,
    ),
    (
        "default port spelled out",
        &[Set("redirect_uri", "https://app.example.com:443/cb")],
        Page,
    ),
    (
        "http for an https registration",
        &[Set("redirect_uri", "http://app.example.com/cb")],
        Page,
    ),
    (
        "another host",
        &[Set("redirect_uri", "https://evil.example/cb")],
        Page,
    ),
    (
        "a subdomain",
        &[Set("redirect_uri", "https://evil.app.example.com/cb")],
        Page,
    ),
    ("relative URI", &[Set("redirect_uri", "/cb")], Page),
    (
        "loopback, other path",
        &[Set("redirect_uri", "http://127.0.0.1:8000/other")],
        Page,
    ),
    (
        "loopback, trailing slash",
        &[Set("redirect_uri", "http://127.0.0.1:8000/cb/")],
        Page,
    ),
    (
        "loopback, query added",
        &[Set("redirect_uri", "http://127.0.0.1:8000/cb?x=1")],
        Page,
    ),
    (
        "localhost for 127.0.0.1",
        &[Set("redirect_uri", "http://localhost:8000/cb")],
        Page,
    ),
    (
        "another loopback address",
        &[Set("redirect_uri", "http://127.0.0.2:8000/cb")],
        Page,
    ),
    (
        "https for an http loopback registration",
        &[Set("redirect_uri", "https://127.0.0.1:8000/cb")],
        Page,
    ),
    (
        "another client's redirect URI",
        &[Set("redirect_uri", "https://other.example/cb")],
        Page,
    ),
];

const REDIRECTED: &[Row] = &[
    (
        "response_type=token (implicit)",
        &[Set("response_type", "token")],
        Redirect("unsupported_response_type"),
    ),
    (
        "response_type=code token",
        &[Set("response_type", "code token")],
        Redirect("unsupported_response_type"),
    ),
    (
        "response_type missing",
        &[Drop("response_type")],
        Redirect("invalid_request"),
    ),
    (
        "public client without code_challenge",
        &[
            Set("client_id", "{spa}"),
            Drop("code_challenge"),
            Drop("code_challenge_method"),
        ],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge_method=plain",
        &[Set("code_challenge_method", "plain")],
        Redirect("invalid_request"),
    ),
    (
        "public client, code_challenge_method=plain",
        &[
            Set("client_id", "{spa}"),
            Set("code_challenge_method", "plain"),
        ],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge_method missing (plain by default)",
        &[Drop("code_challenge_method")],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge_method unknown",
        &[Set("code_challenge_method", "S512")],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge of 42 characters",
        &[Set(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c",
        )],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge of 44 characters",
        &[Set(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cMM",
        )],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge in standard base64",
        &[Set(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+c/",
        )],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge padded",
        &[Set(
            "code_challenge",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c=",
        )],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge empty",
        &[Set("code_challenge", "")],
        Redirect("invalid_request"),
    ),
    (
        "a scope the client may not request",
        &[Set("scope", "openid admin")],
        Redirect("invalid_scope"),
    ),
    (
        "a scope the public client may not request",
        &[Set("client_id", "{spa}"), Set("scope", "admin")],
        Redirect("invalid_scope"),
    ),
    (
        "scope repeated",
        &[Repeat("scope", "openid")],
        Redirect("invalid_request"),
    ),
    (
        "state repeated",
        &[Repeat("state", "other")],
        Redirect("invalid_request"),
    ),
    (
        "response_type repeated",
        &[Repeat("response_type", "code")],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge repeated",
        &[Repeat("code_challenge", "{challenge}")],
        Redirect("invalid_request"),
    ),
    (
        "code_challenge_method repeated",
        &[Repeat("code_challenge_method", "S256")],
        Redirect("invalid_request"),
    ),
    (
        "a client without the authorization_code grant",
        &[Set("client_id", "{service}")],
        Redirect("unauthorized_client"),
    ),
    (
        "state with characters that need encoding is echoed exactly",
        &[
            Set("response_type", "token"),
            Set("state", "ünï &=?/+%20#x"),
        ],
        Redirect("unsupported_response_type"),
    ),
    (
        "no state sent, none echoed",
        &[Set("response_type", "token"), Drop("state")],
        Redirect("unsupported_response_type"),
    ),
    (
        "errors go to the loopback URI actually sent",
        &[
            Set("redirect_uri", "http://127.0.0.1:51234/cb"),
            Set("response_type", "token"),
        ],
        Redirect("unsupported_response_type"),
    ),
];

const GOOD: &[Row] = &[
    ("the base request", &[], Proceeds),
    (
        "loopback registration, any port",
        &[Set("redirect_uri", "http://127.0.0.1:51234/cb")],
        Proceeds,
    ),
    (
        "loopback registration, its own port",
        &[Set("redirect_uri", LOOPBACK)],
        Proceeds,
    ),
    (
        "unknown parameters are ignored",
        &[Set("display", "touch"), Set("x-tracking", "1")],
        Proceeds,
    ),
    (
        "a public client with PKCE",
        &[Set("client_id", "{spa}")],
        Proceeds,
    ),
    (
        "a confidential client without PKCE",
        &[Drop("code_challenge"), Drop("code_challenge_method")],
        Proceeds,
    ),
    ("a narrower scope", &[Set("scope", "openid")], Proceeds),
];

/// A server with a confidential client, a public client and a service client, all with the
/// same two redirect URIs, and a browser already signed in as `alice`.
struct World {
    _data: DataDir,
    server: TestServer,
    web: App,
    spa: App,
    service: App,
    challenge: String,
    browser: Browser,
}

impl World {
    fn new() -> World {
        let data = DataDir::new();
        data.create_user("alice", USER_PASSWORD);
        let server = TestServer::start(&data, &[]);
        let scope = ["--scope", "openid profile email"];
        let web = register_client(&data, "Web", &[HTTPS, LOOPBACK], &scope);
        let spa = register_client(
            &data,
            "Spa",
            &[HTTPS, LOOPBACK],
            &[&scope[..], &["--public"]].concat(),
        );
        let service = register_client(
            &data,
            "Service",
            &[HTTPS, LOOPBACK],
            &[&scope[..], &["--grant-types", "client_credentials"]].concat(),
        );
        register_client(&data, "Other", &["https://other.example/cb"], &scope);
        let (_, challenge) = pkce_pair();
        let world = World {
            _data: data,
            server,
            web,
            spa,
            service,
            challenge,
            browser: Browser::new(),
        };
        // Sign in once, through a good request; every row then runs with a session.
        let page = world
            .browser
            .authorize(&world.url(&[]), "alice", USER_PASSWORD);
        assert!(page.is_consent(), "sign-in: {}", page.describe());
        world
    }

    /// The base request with `edits` applied, placeholders filled in, as (name, value) pairs.
    fn pairs(&self, edits: &[Edit]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = BASE
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        for edit in edits {
            match *edit {
                Set(name, value) => match pairs.iter_mut().find(|(key, _)| key == name) {
                    Some(pair) => pair.1 = value.to_owned(),
                    None => pairs.push((name.to_owned(), value.to_owned())),
                },
                Drop(name) => pairs.retain(|(key, _)| key != name),
                Repeat(name, value) => pairs.push((name.to_owned(), value.to_owned())),
            }
        }
        for (_, value) in &mut pairs {
            *value = value
                .replace("{web}", &self.web.client_id)
                .replace("{spa}", &self.spa.client_id)
                .replace("{service}", &self.service.client_id)
                .replace("{challenge}", &self.challenge);
        }
        pairs
    }

    fn url(&self, edits: &[Edit]) -> String {
        let pairs = self.pairs(edits);
        let borrowed: Vec<(&str, &str)> = pairs
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        authorize_url(&self.server, &borrowed)
    }

    /// Runs one row; panics describing the request and the answer.
    fn check(&self, browser: &Browser, (name, edits, expect): Row) {
        let pairs = self.pairs(edits);
        let url = self.url(edits);
        let page = browser.authorize(&url, "alice", USER_PASSWORD);
        let values = |key: &str| -> Vec<&str> {
            pairs
                .iter()
                .filter(|(held, _)| held == key)
                .map(|(_, value)| value.as_str())
                .collect()
        };
        match expect {
            Page => assert_error_page(&page, name),
            Redirect(error) => {
                let redirect_uri = values("redirect_uri")[0];
                let callback = redirected(&page, redirect_uri, name);
                assert_eq!(callback.get("error"), Some(error), "{name}: {callback:?}");
                assert_eq!(callback.get("code"), None, "{name}");
                assert_eq!(
                    callback.get("iss"),
                    Some(self.server.base_url.as_str()),
                    "{name}: iss"
                );
                let states = values("state");
                match (states.as_slice(), callback.get("state")) {
                    ([sent], echoed) => assert_eq!(echoed, Some(*sent), "{name}: state"),
                    ([], echoed) => assert_eq!(echoed, None, "{name}: state"),
                    // A repeated state cannot be echoed faithfully; leaving it out is fine.
                    (sent, echoed) => assert!(
                        echoed.is_none_or(|echoed| sent.contains(&echoed)),
                        "{name}: state {echoed:?}"
                    ),
                }
            }
            Proceeds => {
                if !page.is_consent() {
                    let redirect_uri = values("redirect_uri")[0];
                    redirected(&page, redirect_uri, name).code();
                }
            }
        }
    }

    /// Every row, each in isolation; reports all failing rows at once.
    fn check_all(&self, browser: &Browser, rows: &[Row]) {
        let failed: Vec<String> = rows
            .iter()
            .filter_map(|row| {
                catch_unwind(AssertUnwindSafe(|| self.check(browser, *row)))
                    .err()
                    .map(|panic| {
                        let message = panic
                            .downcast_ref::<String>()
                            .cloned()
                            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                            .unwrap_or_default();
                        format!("- {}: {message}", row.0)
                    })
            })
            .collect();
        assert!(
            failed.is_empty(),
            "{} of {} rows failed:\n{}",
            failed.len(),
            rows.len(),
            failed.join("\n")
        );
    }
}

#[track_caller]
fn redirected(page: &Page, redirect_uri: &str, name: &str) -> Callback {
    assert!(
        matches!(page.status, 302 | 303),
        "{name}: expected a redirect to {redirect_uri}: {}",
        page.describe()
    );
    Callback::parse(page.header("location").expect("Location"), redirect_uri)
}

#[test]
fn issue_3_authorize_shows_a_page_and_never_redirects_for_an_untrusted_client_or_redirect_uri() {
    let world = World::new();
    world.check_all(&world.browser, UNTRUSTED);
}

#[test]
fn issue_3_authorize_redirects_every_other_error_with_error_state_and_iss() {
    let world = World::new();
    world.check_all(&world.browser, REDIRECTED);
}

#[test]
fn issue_3_authorize_accepts_loopback_ports_unknown_parameters_and_pkce_less_confidential_clients()
{
    let world = World::new();
    world.check_all(&world.browser, GOOD);
}

/// Before sign-in too: an untrusted request may go to the sign-in page, but never off-site.
#[test]
fn issue_3_authorize_without_a_session_never_redirects_off_site_for_an_untrusted_request() {
    let world = World::new();
    let origin = url::Url::parse(&world.server.base_url).unwrap().origin();
    let failed: Vec<String> = UNTRUSTED
        .iter()
        .filter_map(|(name, edits, _)| {
            let page = Browser::new().get(&world.url(edits));
            let location = page.location()?;
            (location.origin() != origin).then(|| format!("- {name}: redirected to {location}"))
        })
        .collect();
    assert!(
        failed.is_empty(),
        "off-site redirects:\n{}",
        failed.join("\n")
    );
}
