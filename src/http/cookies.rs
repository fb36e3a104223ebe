//! The cookies keyward sets: the session, the CSRF secret that form tokens are derived
//! from, and the device cookie that remembers a browser which signed in before (see
//! `oauth::signin`). All HttpOnly and SameSite=Lax; Secure (and `__Host-` named) under an
//! https issuer.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;

use crate::model::{random_secret, SecretHash};
use crate::seal::MacKey;

const NEW_KEY_COOKIE: &str = "keyward_new_key";
const NEW_SECRET_COOKIE: &str = "keyward_new_secret";
const DEMO_FLOW_COOKIE: &str = "keyward_demo_flow";
const UPSTREAM_FLOW_COOKIE: &str = "keyward_upstream_flow";

pub struct CookieSettings {
    pub secure: bool,
    pub csrf_key: MacKey,
}

impl CookieSettings {
    fn name(&self, base: &'static str) -> String {
        if self.secure {
            format!("__Host-{base}")
        } else {
            base.to_owned()
        }
    }

    fn build(&self, base: &'static str, value: String) -> Cookie<'static> {
        Cookie::build(self.name(base), value)
            .path("/")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .finish()
    }

    pub fn session_cookie(&self, value: String) -> Cookie<'static> {
        self.build("keyward_session", value)
    }

    /// Outlives the session and sign-out on purpose: it is what lets this browser past an
    /// account lockout that someone else's guesses caused.
    pub fn device_cookie(&self, value: String) -> Cookie<'static> {
        let mut cookie = self.build("keyward_device", value);
        cookie.set_max_age(actix_web::cookie::time::Duration::seconds(
            crate::oauth::signin::DEVICE_COOKIE_SECONDS as i64,
        ));
        cookie
    }

    /// The device cookie's value, if the browser sent one of a plausible size.
    pub fn device_value(&self, request: &HttpRequest) -> Option<String> {
        let cookie = request.cookie(&self.name("keyward_device"))?;
        (cookie.value().len() <= 512).then(|| cookie.value().to_owned())
    }

    /// Whether the browser sent a CSRF cookie at all.
    pub fn has_csrf_cookie(&self, request: &HttpRequest) -> bool {
        request.cookie(&self.name("keyward_csrf")).is_some()
    }

    /// The sealed flash that carries a just-made API key to the next view of `/account`:
    /// the key's own page only, sent to no other path, gone after `seconds`. (Its name has
    /// no `__Host-` prefix, which would require path `/`.)
    pub fn new_key_cookie(&self, value: String, seconds: i64) -> Cookie<'static> {
        Cookie::build(NEW_KEY_COOKIE, value)
            .path("/account")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .max_age(actix_web::cookie::time::Duration::seconds(seconds))
            .finish()
    }

    pub fn expired_new_key_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.new_key_cookie(String::new(), 0);
        cookie.make_removal();
        cookie
    }

    /// The developer page's new client secret, for the app pages only.
    pub fn new_secret_cookie(&self, value: String, seconds: i64) -> Cookie<'static> {
        Cookie::build(NEW_SECRET_COOKIE, value)
            .path("/account/apps")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Strict)
            .max_age(actix_web::cookie::time::Duration::seconds(seconds))
            .finish()
    }

    pub fn expired_new_secret_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.new_secret_cookie(String::new(), 0);
        cookie.make_removal();
        cookie
    }

    pub fn new_secret_value(&self, request: &HttpRequest) -> Option<String> {
        request
            .cookie(NEW_SECRET_COOKIE)
            .map(|cookie| cookie.value().to_owned())
    }

    pub fn new_key_value(&self, request: &HttpRequest) -> Option<String> {
        request
            .cookie(NEW_KEY_COOKIE)
            .map(|cookie| cookie.value().to_owned())
    }

    /// `keyward demo`: the sealed state, nonce and PKCE verifier of this browser's sign-in to
    /// the demo app, sent to the demo's pages only. Lax, as a real app's must be: the
    /// callback arrives as a top-level navigation from the provider.
    pub fn demo_flow_cookie(&self, value: String, seconds: i64) -> Cookie<'static> {
        Cookie::build(DEMO_FLOW_COOKIE, value)
            .path("/demo")
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(seconds))
            .finish()
    }

    pub fn expired_demo_flow_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.demo_flow_cookie(String::new(), 0);
        cookie.make_removal();
        cookie
    }

    pub fn demo_flow_value(&self, request: &HttpRequest) -> Option<String> {
        request
            .cookie(DEMO_FLOW_COOKIE)
            .map(|cookie| cookie.value().to_owned())
    }

    /// A sign-in through an upstream: the sealed state, nonce and PKCE verifier of this
    /// browser's flow, sent to that upstream's paths only (so a code arriving at another
    /// upstream's callback finds no flow). Lax: the callback is a top-level navigation from
    /// the provider. Not the session cookie, so overwriting that mid-flow breaks nothing.
    pub fn upstream_flow_cookie(&self, upstream: &str, value: String) -> Cookie<'static> {
        Cookie::build(self.flow_cookie_name(), value)
            .path(format!("/upstream/{upstream}"))
            .http_only(true)
            .secure(self.secure)
            .same_site(SameSite::Lax)
            .max_age(actix_web::cookie::time::Duration::seconds(
                crate::upstream::flow::FLOW_SECONDS as i64,
            ))
            .finish()
    }

    pub fn expired_upstream_flow_cookie(&self, upstream: &str) -> Cookie<'static> {
        let mut cookie = self.upstream_flow_cookie(upstream, String::new());
        cookie.make_removal();
        cookie
    }

    /// `__Secure-` under an https issuer: then no plain-http page of the host can set it.
    /// (`__Host-` would need path `/`.)
    fn flow_cookie_name(&self) -> String {
        if self.secure {
            format!("__Secure-{UPSTREAM_FLOW_COOKIE}")
        } else {
            UPSTREAM_FLOW_COOKIE.to_owned()
        }
    }

    pub fn upstream_flow_value(&self, request: &HttpRequest) -> Option<String> {
        request
            .cookie(&self.flow_cookie_name())
            .filter(|cookie| cookie.value().len() <= 4096)
            .map(|cookie| cookie.value().to_owned())
    }

    pub fn expired_session_cookie(&self) -> Cookie<'static> {
        let mut cookie = self.build("keyward_session", String::new());
        cookie.make_removal();
        cookie
    }

    /// The hash the store keys the session under, if the request carries a session cookie.
    pub fn session_hash(&self, request: &HttpRequest) -> Option<SecretHash> {
        let cookie = request.cookie(&self.name("keyward_session"))?;
        let value = cookie.value();
        (value.len() == 43).then(|| SecretHash::of(value))
    }

    /// The SHA-256 of this browser's CSRF secret, if it has one: what binds an upstream
    /// flow to the browser that started it.
    pub fn browser_binding(&self, request: &HttpRequest) -> Option<[u8; 32]> {
        let cookie = request.cookie(&self.name("keyward_csrf"))?;
        (cookie.value().len() == 43).then(|| *SecretHash::of(cookie.value()).as_bytes())
    }

    /// The CSRF secret of this browser, and a cookie to set if it had none yet.
    pub fn csrf_secret(&self, request: &HttpRequest) -> (String, Option<Cookie<'static>>) {
        match request.cookie(&self.name("keyward_csrf")) {
            Some(cookie) if cookie.value().len() == 43 => (cookie.value().to_owned(), None),
            _ => {
                let secret = random_secret();
                let cookie = self.build("keyward_csrf", secret.clone());
                (secret, Some(cookie))
            }
        }
    }

    /// The token a form carries: an HMAC of the browser's CSRF secret. A page of another
    /// site can neither read the cookie nor compute the token.
    pub fn csrf_token(&self, secret: &str) -> String {
        self.csrf_key.tag_text(secret.as_bytes())
    }

    /// Whether a submitted form's token matches this browser's CSRF cookie.
    pub fn csrf_valid(&self, request: &HttpRequest, submitted: Option<&str>) -> bool {
        let (Some(cookie), Some(submitted)) =
            (request.cookie(&self.name("keyward_csrf")), submitted)
        else {
            return false;
        };
        self.csrf_key
            .verify_text(cookie.value().as_bytes(), submitted)
    }
}
