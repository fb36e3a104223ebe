//! The cookies keyward sets: the session, the CSRF secret that form tokens are derived
//! from, and the device cookie that remembers a browser which signed in before (see
//! `oauth::signin`). All HttpOnly and SameSite=Lax; Secure (and `__Host-` named) under an
//! https issuer.

use actix_web::cookie::{Cookie, SameSite};
use actix_web::HttpRequest;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::model::{random_secret, SecretHash};

pub struct CookieSettings {
    pub secure: bool,
    pub csrf_key: [u8; 32],
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
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.csrf_key)
            .expect("HMAC accepts any key length");
        mac.update(secret.as_bytes());
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    }

    /// Whether a submitted form's token matches this browser's CSRF cookie.
    pub fn csrf_valid(&self, request: &HttpRequest, submitted: Option<&str>) -> bool {
        let (Some(cookie), Some(submitted)) =
            (request.cookie(&self.name("keyward_csrf")), submitted)
        else {
            return false;
        };
        let expected = self.csrf_token(cookie.value());
        bool::from(expected.as_bytes().ct_eq(submitted.as_bytes()))
    }
}
