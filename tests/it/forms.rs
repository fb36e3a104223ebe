//! The browser side of the tests: a cookie-keeping HTTP client that sees every redirect, and
//! a small HTML form reader that fills forms by their field names (no JavaScript, no CSS).

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::blocking::Client;
use reqwest::header::HeaderMap;
use url::Url;

/// The most redirects `Browser::follow` takes before it calls the chain a loop.
const MAX_HOPS: usize = 10;

// ---------------------------------------------------------------------------------------------
// HTML forms
// ---------------------------------------------------------------------------------------------

/// One `<form>` as a browser without scripts would submit it.
#[derive(Clone, Debug)]
pub struct Form {
    /// The `action` attribute, entities decoded, as written in the page.
    pub action: String,
    /// The `method` attribute, lowercased (`get` when absent).
    pub method: String,
    /// Named `<input>`s that are submitted as they stand (hidden, text, password, checked boxes).
    pub inputs: Vec<(String, String)>,
    /// Named submit buttons (`<button>` and `<input type=submit>`) with their values.
    pub buttons: Vec<(String, String)>,
}

impl Form {
    /// The first value of the input called `name`.
    pub fn value(&self, name: &str) -> Option<&str> {
        self.inputs
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The input called `name`; panics naming the fields that do exist.
    #[track_caller]
    pub fn require(&self, name: &str) -> &str {
        self.value(name).unwrap_or_else(|| {
            panic!(
                "form {:?} has no input {name:?}; it has {:?}",
                self.action, self.inputs
            )
        })
    }

    /// The form's inputs with `fill` applied: a named input takes the given value, and a name
    /// the form does not have is added (as a user agent would not, but a test may).
    pub fn filled(&self, fill: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut fields = self.inputs.clone();
        for (name, value) in fill {
            match fields.iter_mut().find(|(key, _)| key == name) {
                Some(field) => field.1 = (*value).to_owned(),
                None => fields.push(((*name).to_owned(), (*value).to_owned())),
            }
        }
        fields
    }

    /// The fields a browser submits when the button `name=value` is pressed.
    #[track_caller]
    pub fn press(&self, name: &str, value: &str, fill: &[(&str, &str)]) -> Vec<(String, String)> {
        assert!(
            self.buttons
                .iter()
                .any(|(key, held)| key == name && held == value),
            "form {:?} has no button {name}={value}; it has {:?}",
            self.action,
            self.buttons
        );
        let mut fields = self.filled(fill);
        fields.push((name.to_owned(), value.to_owned()));
        fields
    }
}

/// Every `<form>` in `html`, in document order.
pub fn forms(html: &str) -> Vec<Form> {
    let lower = html.to_ascii_lowercase();
    let mut found = Vec::new();
    let mut cursor = 0;
    while let Some(start) = find_tag(&lower, "form", cursor) {
        let (attributes, open_end) = parse_attributes(html, start + "<form".len());
        let close = lower[open_end..]
            .find("</form")
            .map_or(html.len(), |offset| open_end + offset);
        let inner = &html[open_end..close];
        let mut form = Form {
            action: attribute(&attributes, "action").unwrap_or_default(),
            method: attribute(&attributes, "method")
                .unwrap_or_else(|| "get".to_owned())
                .to_ascii_lowercase(),
            inputs: Vec::new(),
            buttons: Vec::new(),
        };
        collect_controls(inner, &mut form);
        found.push(form);
        cursor = close.max(open_end);
    }
    found
}

/// The form whose `action` is `action` (compared as a path, so `/login` matches both
/// `action="/login"` and an absolute URL ending in that path).
pub fn form_with_action(html: &str, action: &str) -> Option<Form> {
    forms(html).into_iter().find(|form| {
        form.action == action
            || Url::parse("http://page.invalid/")
                .unwrap()
                .join(&form.action)
                .is_ok_and(|url| url.path() == action)
    })
}

fn collect_controls(inner: &str, form: &mut Form) {
    let lower = inner.to_ascii_lowercase();
    let mut cursor = 0;
    loop {
        let input = find_tag(&lower, "input", cursor);
        let button = find_tag(&lower, "button", cursor);
        let (start, is_button) = match (input, button) {
            (Some(i), Some(b)) if b < i => (b, true),
            (Some(i), _) => (i, false),
            (None, Some(b)) => (b, true),
            (None, None) => return,
        };
        let name_len = if is_button { "<button" } else { "<input" }.len();
        let (attributes, end) = parse_attributes(inner, start + name_len);
        cursor = end;
        let Some(name) = attribute(&attributes, "name") else {
            continue;
        };
        let value = attribute(&attributes, "value").unwrap_or_default();
        let kind = attribute(&attributes, "type")
            .unwrap_or_else(|| if is_button { "submit" } else { "text" }.to_owned())
            .to_ascii_lowercase();
        let checked = attributes.iter().any(|(key, _)| key == "checked");
        match kind.as_str() {
            "submit" | "image" => form.buttons.push((name, value)),
            "button" | "reset" | "file" => {}
            "checkbox" | "radio" if !checked => {}
            "checkbox" | "radio" if value.is_empty() => form.inputs.push((name, "on".into())),
            _ => form.inputs.push((name, value)),
        }
    }
}

/// The byte offset of the next `<tag` (a whole tag name) at or after `from`; `lower` is the
/// page in ASCII lowercase, which keeps byte offsets.
fn find_tag(lower: &str, tag: &str, from: usize) -> Option<usize> {
    let needle = format!("<{tag}");
    let mut cursor = from;
    while let Some(offset) = lower.get(cursor..)?.find(&needle) {
        let start = cursor + offset;
        let next = lower.as_bytes().get(start + needle.len()).copied();
        if matches!(
            next,
            None | Some(b' ' | b'\t' | b'\n' | b'\r' | b'\x0c' | b'/' | b'>')
        ) {
            return Some(start);
        }
        cursor = start + needle.len();
    }
    None
}

/// Reads attributes from just after a tag name up to its `>`; returns them (names
/// lowercased, values decoded) and the offset just past the `>`.
fn parse_attributes(html: &str, from: usize) -> (Vec<(String, String)>, usize) {
    let bytes = html.as_bytes();
    let mut attributes = Vec::new();
    let mut i = from;
    let is_space = |b: u8| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'\x0c');
    loop {
        while i < bytes.len() && (is_space(bytes[i]) || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return (attributes, bytes.len());
        }
        if bytes[i] == b'>' {
            return (attributes, i + 1);
        }
        let name_start = i;
        while i < bytes.len() && !is_space(bytes[i]) && !matches!(bytes[i], b'=' | b'>' | b'/') {
            i += 1;
        }
        let name = html[name_start..i].to_ascii_lowercase();
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        if i >= bytes.len() || bytes[i] != b'=' {
            attributes.push((name, String::new()));
            continue;
        }
        i += 1;
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        let value = match bytes.get(i) {
            Some(&quote @ (b'"' | b'\'')) => {
                let value_start = i + 1;
                let value_end = html[value_start..]
                    .find(quote as char)
                    .map_or(bytes.len(), |offset| value_start + offset);
                i = (value_end + 1).min(bytes.len());
                &html[value_start..value_end]
            }
            _ => {
                let value_start = i;
                while i < bytes.len() && !is_space(bytes[i]) && bytes[i] != b'>' {
                    i += 1;
                }
                &html[value_start..i]
            }
        };
        attributes.push((name, decode_entities(value)));
    }
}

fn attribute(attributes: &[(String, String)], name: &str) -> Option<String> {
    attributes
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.clone())
}

/// Decodes the character references an HTML escaper produces (`&amp;`, `&lt;`, `&gt;`,
/// `&quot;`, `&#x27;`, `&#39;`, any numeric reference); anything else is left as written.
pub fn decode_entities(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|end| *end <= 10).and_then(|end| {
            let entity = &rest[1..end];
            let character = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let number = entity.strip_prefix('#')?;
                    let code = match number.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => number.parse().ok()?,
                    };
                    char::from_u32(code)
                }
            }?;
            Some((character, end + 1))
        });
        match decoded {
            Some((character, consumed)) => {
                out.push(character);
                rest = &rest[consumed..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

// ---------------------------------------------------------------------------------------------
// The browser
// ---------------------------------------------------------------------------------------------

/// One HTTP response as the browser received it, redirects not followed.
#[derive(Debug)]
pub struct Page {
    /// The URL that was requested.
    pub url: Url,
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Page {
    /// The header's value (the first, if repeated), as text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(name)
            .map(|value| value.to_str().expect("header is ASCII"))
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all("set-cookie")
            .iter()
            .map(|value| value.to_str().expect("cookie is ASCII").to_owned())
            .collect()
    }

    pub fn is_redirect(&self) -> bool {
        (300..400).contains(&self.status)
    }

    /// The `Location`, resolved against the request URL.
    pub fn location(&self) -> Option<Url> {
        let location = self.header("location")?;
        Some(
            self.url
                .join(location)
                .unwrap_or_else(|error| panic!("bad Location {location:?}: {error}")),
        )
    }

    pub fn form(&self, action: &str) -> Option<Form> {
        form_with_action(&self.body, action)
    }

    /// The form posting to `action`; panics with the page if there is none.
    #[track_caller]
    pub fn require_form(&self, action: &str) -> Form {
        self.form(action).unwrap_or_else(|| {
            panic!(
                "no form with action {action:?} on {} ({}):\n{}",
                self.url, self.status, self.body
            )
        })
    }

    pub fn is_login(&self) -> bool {
        !self.is_redirect() && self.form("/login").is_some()
    }

    pub fn is_consent(&self) -> bool {
        self.status == 200 && self.form("/oauth2/consent").is_some()
    }

    /// The redirect back to a client: a 302 or 303 whose `Location` is `redirect_uri` plus a
    /// query. Panics, showing the page, on anything else.
    #[track_caller]
    pub fn callback(&self, redirect_uri: &str) -> Callback {
        assert!(
            matches!(self.status, 302 | 303),
            "expected a redirect to {redirect_uri}, got {} from {}:\n{:?}\n{}",
            self.status,
            self.url,
            self.headers,
            self.body
        );
        let location = self.header("location").expect("Location").to_owned();
        Callback::parse(&location, redirect_uri)
    }

    /// Text for assertion messages.
    pub fn describe(&self) -> String {
        format!(
            "{} {} location={:?}\n{}",
            self.url,
            self.status,
            self.header("location"),
            self.body
        )
    }
}

/// The authorization response a client receives at its redirect URI.
#[derive(Debug)]
pub struct Callback {
    pub location: String,
    pub params: BTreeMap<String, String>,
}

impl Callback {
    /// Parses `location`, which must be `redirect_uri` followed by `?` and a query (a
    /// registered URI with a query of its own would be followed by `&`); every parameter once.
    #[track_caller]
    pub fn parse(location: &str, redirect_uri: &str) -> Callback {
        let query = location
            .strip_prefix(redirect_uri)
            .and_then(|rest| rest.strip_prefix(['?', '&']))
            .unwrap_or_else(|| panic!("redirect to {location:?}, not to {redirect_uri:?}"));
        assert!(
            !query.contains('#'),
            "the response must be in the query: {location}"
        );
        let mut params = BTreeMap::new();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            let previous = params.insert(name.to_string(), value.to_string());
            assert!(previous.is_none(), "{name} repeated in {location}");
        }
        Callback {
            location: location.to_owned(),
            params,
        }
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }

    #[track_caller]
    pub fn code(&self) -> &str {
        assert!(self.get("error").is_none(), "error response: {self:?}");
        self.get("code")
            .unwrap_or_else(|| panic!("no code in {}", self.location))
    }
}

/// A cookie-keeping HTTP client that never follows redirects on its own, so a test sees each
/// 303; `follow` walks the redirects that stay on the server.
pub struct Browser {
    client: Client,
    /// `(public, actual)`: URLs starting with a public base (an `--issuer` the server is not
    /// really reachable at, as behind a TLS proxy) are fetched from the actual base instead.
    alias: Option<(String, String)>,
}

impl Default for Browser {
    fn default() -> Self {
        Browser::new()
    }
}

impl Browser {
    pub fn new() -> Browser {
        let client = Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("browser client");
        Browser {
            client,
            alias: None,
        }
    }

    /// A browser for a server whose issuer (`public`) is a proxy in front of `actual`.
    pub fn behind_proxy(public: &str, actual: &str) -> Browser {
        Browser {
            alias: Some((
                public.trim_end_matches('/').to_owned(),
                actual.trim_end_matches('/').to_owned(),
            )),
            ..Browser::new()
        }
    }

    fn resolve(&self, url: &str) -> Url {
        let url = match &self.alias {
            Some((public, actual)) if url.starts_with(public.as_str()) => {
                format!("{actual}{}", &url[public.len()..])
            }
            _ => url.to_owned(),
        };
        Url::parse(&url).unwrap_or_else(|error| panic!("bad URL {url:?}: {error}"))
    }

    fn page(url: Url, response: reqwest::blocking::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().expect("response body");
        Page {
            url,
            status,
            headers,
            body,
        }
    }

    pub fn get(&self, url: &str) -> Page {
        let url = self.resolve(url);
        let response = self
            .client
            .get(url.clone())
            .send()
            .unwrap_or_else(|error| panic!("GET {url}: {error}"));
        Browser::page(url, response)
    }

    /// POSTs `fields` as `application/x-www-form-urlencoded`, in order, repeats kept.
    pub fn post_form<K: AsRef<str>, V: AsRef<str>>(&self, url: &str, fields: &[(K, V)]) -> Page {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(fields.iter().map(|(k, v)| (k.as_ref(), v.as_ref())))
            .finish();
        let url = self.resolve(url);
        let response = self
            .client
            .post(url.clone())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .unwrap_or_else(|error| panic!("POST {url}: {error}"));
        Browser::page(url, response)
    }

    /// Submits `form` (found on `page`) with `fields`, as a browser would: to its action,
    /// resolved against the page's URL.
    pub fn submit(&self, page: &Page, form: &Form, fields: &[(String, String)]) -> Page {
        assert_eq!(form.method, "post", "forms that change state are POSTed");
        let action = page
            .url
            .join(&form.action)
            .unwrap_or_else(|error| panic!("bad form action {:?}: {error}", form.action));
        self.post_form(action.as_str(), fields)
    }

    /// Follows redirects while they stay on the server (the page's origin); the first
    /// response that is not such a redirect is returned, e.g. a redirect to a client.
    #[track_caller]
    pub fn follow(&self, mut page: Page) -> Page {
        for _ in 0..MAX_HOPS {
            if !page.is_redirect() {
                return page;
            }
            assert!(
                (301..=303).contains(&page.status),
                "a redirect a browser would repeat a POST for: {}",
                page.describe()
            );
            let Some(location) = page.location() else {
                return page;
            };
            let next = self.resolve(location.as_str());
            if next.origin() != page.url.origin() {
                return page;
            }
            page = self.get(next.as_str());
        }
        panic!("more than {MAX_HOPS} redirects, last: {}", page.describe());
    }

    /// GET and follow redirects on the server.
    pub fn open(&self, url: &str) -> Page {
        self.follow(self.get(url))
    }

    /// Fills and posts the sign-in form on `login`; the raw response (a 303 on success).
    #[track_caller]
    pub fn sign_in(&self, login: &Page, username: &str, password: &str) -> Page {
        let form = login.require_form("/login");
        let fields = form.filled(&[("username", username), ("password", password)]);
        self.submit(login, &form, &fields)
    }

    /// Opens an authorization URL, signing in if the server asks: returns the consent page,
    /// a redirect to the client, or an error page.
    #[track_caller]
    pub fn authorize(&self, url: &str, username: &str, password: &str) -> Page {
        let page = self.open(url);
        if !page.is_login() {
            return page;
        }
        let signed_in = self.sign_in(&page, username, password);
        assert_eq!(
            signed_in.status,
            303,
            "sign-in must answer 303: {}",
            signed_in.describe()
        );
        self.follow(signed_in)
    }

    /// Presses Allow or Deny on a consent page; the raw response.
    #[track_caller]
    pub fn decide(&self, consent: &Page, decision: &str) -> Page {
        let form = consent.require_form("/oauth2/consent");
        let fields = form.press("decision", decision, &[]);
        self.submit(consent, &form, &fields)
    }

    /// The whole browser part of the code flow: sign in if asked, allow if asked, and return
    /// what the client receives at `redirect_uri`.
    #[track_caller]
    pub fn approve(
        &self,
        url: &str,
        username: &str,
        password: &str,
        redirect_uri: &str,
    ) -> Callback {
        let page = self.authorize(url, username, password);
        let answer = if page.is_consent() {
            let answer = self.decide(&page, "allow");
            assert_eq!(
                answer.status,
                303,
                "after a POST: 303, {}",
                answer.describe()
            );
            answer
        } else {
            page
        };
        answer.callback(redirect_uri)
    }
}

/// Asserts the headers every HTML page carries (issue 3, "Pages").
#[track_caller]
pub fn assert_page_headers(page: &Page, what: &str) {
    let header = |name: &str| {
        page.header(name)
            .unwrap_or_else(|| panic!("{what}: no {name} header: {:?}", page.headers))
            .to_owned()
    };
    let csp = header("content-security-policy");
    for directive in ["default-src 'self'", "frame-ancestors 'none'"] {
        assert!(
            csp.contains(directive),
            "{what}: CSP {csp:?} lacks {directive}"
        );
    }
    assert!(
        header("x-frame-options").eq_ignore_ascii_case("deny"),
        "{what}: X-Frame-Options"
    );
    assert!(
        header("referrer-policy").eq_ignore_ascii_case("no-referrer"),
        "{what}: Referrer-Policy"
    );
    assert!(
        header("cache-control").contains("no-store"),
        "{what}: Cache-Control"
    );
    assert!(
        header("content-type").starts_with("text/html"),
        "{what}: Content-Type"
    );
}

/// Asserts an HTML error page: a 4xx, never a redirect.
#[track_caller]
pub fn assert_error_page(page: &Page, what: &str) {
    assert!(
        (400..500).contains(&page.status),
        "{what}: expected a 4xx error page, got {}",
        page.describe()
    );
    assert!(
        page.header("location").is_none(),
        "{what}: an error page must not redirect: {}",
        page.describe()
    );
    assert_page_headers(page, what);
}

/// The form reader itself, on a page written every way HTML allows.
#[test]
fn issue_3_form_reader_handles_any_attribute_order_quoting_and_entities() {
    let html = r#"<p>x</p>
        <form method="post" action="/logout"><input type="hidden" name="csrf_token" value="a"></form>
        <FORM action='/oauth2/consent' METHOD=post>
          <input value='t&amp;k&#x27;&#39;' type=hidden name=csrf_token>
          <input name="request" type="hidden" value="r&lt;1&gt;&quot;"/>
          <input name="remember" type="checkbox">
          <input name="agree" type="checkbox" checked>
          <button type="submit" name="decision" value="allow">Allow</button>
          <button name=decision value=deny class="x">Deny</button>
          <button type="button" name="noop" value="1">No</button>
        </FORM>"#;
    let form = form_with_action(html, "/oauth2/consent").unwrap();
    assert_eq!(form.method, "post");
    assert_eq!(
        form.inputs,
        vec![
            ("csrf_token".to_owned(), "t&k''".to_owned()),
            ("request".to_owned(), "r<1>\"".to_owned()),
            ("agree".to_owned(), "on".to_owned()),
        ]
    );
    assert_eq!(
        form.buttons,
        vec![
            ("decision".to_owned(), "allow".to_owned()),
            ("decision".to_owned(), "deny".to_owned()),
        ]
    );
    assert_eq!(
        form_with_action(html, "/logout")
            .unwrap()
            .require("csrf_token"),
        "a"
    );
    assert!(form_with_action(html, "/login").is_none());
    assert_eq!(
        form.press("decision", "deny", &[("request", "z")]),
        vec![
            ("csrf_token".to_owned(), "t&k''".to_owned()),
            ("request".to_owned(), "z".to_owned()),
            ("agree".to_owned(), "on".to_owned()),
            ("decision".to_owned(), "deny".to_owned()),
        ]
    );
    assert_eq!(
        decode_entities("&lt;script&gt; &amp;amp; &#60; & &x;"),
        "<script> &amp; < & &x;"
    );
}

// ---------------------------------------------------------------------------------------------
// Issue 4: reading the account page
// ---------------------------------------------------------------------------------------------

/// The `value` of the `<input>` whose `id` is `id`, entities decoded.
pub fn input_value_by_id(html: &str, id: &str) -> Option<String> {
    let lower = html.to_ascii_lowercase();
    let mut cursor = 0;
    while let Some(start) = find_tag(&lower, "input", cursor) {
        let (attributes, end) = parse_attributes(html, start + "<input".len());
        cursor = end;
        if attribute(&attributes, "id").as_deref() == Some(id) {
            return Some(attribute(&attributes, "value").unwrap_or_default());
        }
    }
    None
}

/// The values of the `<option>`s of the `<select>` named `name`, in order.
pub fn select_options(html: &str, name: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    let mut cursor = 0;
    while let Some(start) = find_tag(&lower, "select", cursor) {
        let (attributes, end) = parse_attributes(html, start + "<select".len());
        cursor = end;
        if attribute(&attributes, "name").as_deref() != Some(name) {
            continue;
        }
        let close = lower[end..]
            .find("</select")
            .map_or(html.len(), |offset| end + offset);
        let mut values = Vec::new();
        let mut option_cursor = end;
        while let Some(option) = find_tag(&lower[..close], "option", option_cursor) {
            let (attributes, option_end) = parse_attributes(html, option + "<option".len());
            option_cursor = option_end;
            values.push(attribute(&attributes, "value").unwrap_or_default());
        }
        return values;
    }
    Vec::new()
}

/// The form posting to `action` whose input `field` holds `value` (one of several forms
/// with the same action, such as the delete button of each listed key).
pub fn form_with_field(html: &str, action: &str, field: &str, value: &str) -> Option<Form> {
    forms(html).into_iter().find(|form| {
        let posts_to_action = form.action == action
            || Url::parse("http://page.invalid/")
                .unwrap()
                .join(&form.action)
                .is_ok_and(|url| url.path() == action);
        posts_to_action && form.value(field) == Some(value)
    })
}
