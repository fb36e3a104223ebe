//! Upstream providers: the services a user may sign in through instead of a password (any
//! OpenID provider, a plain OAuth 2.0 service with a userinfo document, and presets for
//! Discord, GitHub, Google and GitLab). This module holds the registry's domain types and
//! their rules; `presets.rs` what each preset fills in; `flow.rs` the sign-in flow through an
//! upstream (over `fetch.rs`'s outbound client, with `oidc.rs` for OpenID upstreams).
//!
//! Like `model.rs`, every constructor validates, and `from_stored` is for the store's record
//! decoders alone: a value read back from disk stays readable when a rule tightens.

pub mod fetch;
pub mod flow;
pub mod oidc;
mod presets;

use std::fmt;
use std::net::IpAddr;

use crate::model::{truncate_for_message, DisplayName, Invalid, Scope, UnixTime};

pub use presets::{preset, Preset};

fn invalid<T>(message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(message.into()))
}

/// An upstream's name: lowercase letters, digits and `-`, 1 to 32 of them. It appears in
/// the callback path (`/upstream/NAME/callback`) registered at the provider, so it is kept
/// to characters that need no escaping anywhere, and it never contains the 0x00 that
/// separates it from the subject in the identity index.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct UpstreamName(String);

impl UpstreamName {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(text: &str) -> Result<UpstreamName, Invalid> {
        if text.is_empty() || text.len() > Self::MAX_CHARS {
            return invalid(format!(
                "upstream name '{}' must be 1 to {} characters long",
                truncate_for_message(text),
                Self::MAX_CHARS
            ));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return invalid(format!(
                "upstream name '{}' may contain only lowercase letters, digits and '-' (it is \
                 part of the callback URL)",
                truncate_for_message(text)
            ));
        }
        Ok(UpstreamName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> UpstreamName {
        UpstreamName(text)
    }
}

impl fmt::Display for UpstreamName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

/// What kind of provider an upstream is. The presets are kept as kinds of their own (not
/// folded into `Oidc` or `OAuth2`) so that the sign-in flow can know, say, that GitHub's
/// `/user` email is not a verified claim.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum UpstreamKind {
    Oidc,
    OAuth2,
    Discord,
    Github,
    Google,
    Gitlab,
}

/// How keyward talks to an upstream.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Protocol {
    /// OpenID Connect: endpoints from the issuer's discovery document, an ID token.
    Oidc,
    /// OAuth 2.0 and a userinfo document read by field names.
    OAuth2,
}

impl UpstreamKind {
    pub const ALL: [UpstreamKind; 6] = [
        UpstreamKind::Oidc,
        UpstreamKind::OAuth2,
        UpstreamKind::Discord,
        UpstreamKind::Github,
        UpstreamKind::Google,
        UpstreamKind::Gitlab,
    ];

    pub fn parse(text: &str) -> Result<UpstreamKind, Invalid> {
        UpstreamKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| {
                Invalid(format!(
                    "unknown upstream kind '{}': expected oidc, oauth2, discord, github, google \
                     or gitlab",
                    truncate_for_message(text)
                ))
            })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UpstreamKind::Oidc => "oidc",
            UpstreamKind::OAuth2 => "oauth2",
            UpstreamKind::Discord => "discord",
            UpstreamKind::Github => "github",
            UpstreamKind::Google => "google",
            UpstreamKind::Gitlab => "gitlab",
        }
    }

    pub fn protocol(self) -> Protocol {
        match self {
            UpstreamKind::Oidc | UpstreamKind::Google | UpstreamKind::Gitlab => Protocol::Oidc,
            UpstreamKind::OAuth2 | UpstreamKind::Discord | UpstreamKind::Github => Protocol::OAuth2,
        }
    }

    pub fn is_preset(self) -> bool {
        !matches!(self, UpstreamKind::Oidc | UpstreamKind::OAuth2)
    }
}

impl fmt::Display for UpstreamKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A URL keyward calls or sends a browser to: https, or http on a loopback host (127.0.0.0/8, ::1, `localhost`), for tests and local setups. Code, tokens
/// and the client secret cross these, so plain http elsewhere would hand them to the network.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct UpstreamUrl(String);

impl UpstreamUrl {
    pub const MAX_BYTES: usize = 2000;

    /// `what` names the flag, for the message (`--token-url`).
    pub fn parse(what: &str, text: &str) -> Result<UpstreamUrl, Invalid> {
        let shown = truncate_for_message(text);
        if text.len() > Self::MAX_BYTES {
            return invalid(format!("{what} is longer than {} bytes", Self::MAX_BYTES));
        }
        let parsed = url::Url::parse(text)
            .map_err(|_| Invalid(format!("{what} '{shown}' is not an absolute URL")))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return invalid(format!(
                "{what} '{shown}' must not contain user information"
            ));
        }
        if parsed.fragment().is_some() {
            return invalid(format!("{what} '{shown}' must not have a fragment"));
        }
        let loopback = is_loopback(&parsed);
        match parsed.scheme() {
            "https" => {}
            "http" if loopback => {}
            "http" => {
                return invalid(format!(
                    "{what} '{shown}' uses http: upstream URLs must be https (http only on a \
                     loopback host such as 127.0.0.1 or localhost)"
                ))
            }
            scheme => {
                return invalid(format!(
                    "{what} '{shown}' uses scheme '{scheme}': upstream URLs must be https"
                ))
            }
        }
        Ok(UpstreamUrl(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// On a loopback host: accepted for tests and local setups, and named in a warning when
    /// `serve` starts.
    pub fn is_loopback(&self) -> bool {
        url::Url::parse(&self.0).is_ok_and(|parsed| is_loopback(&parsed))
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> UpstreamUrl {
        UpstreamUrl(text)
    }
}

fn is_loopback(parsed: &url::Url) -> bool {
    match parsed.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        Some(url::Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        None => false,
    }
}

/// The name of a field in an upstream's userinfo document (`id`, `login`, `verified`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FieldName(String);

impl FieldName {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(what: &str, text: &str) -> Result<FieldName, Invalid> {
        if text.is_empty()
            || text.len() > Self::MAX_CHARS
            || !text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        {
            return invalid(format!(
                "{what} '{}' must be 1 to {} letters, digits, '_', '-' or '.'",
                truncate_for_message(text),
                Self::MAX_CHARS
            ));
        }
        Ok(FieldName(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn from_stored(text: String) -> FieldName {
        FieldName(text)
    }
}

/// Which fields of a userinfo document say who the user is.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ProfileFields {
    /// The stable identifier: the account is keyed by (upstream, this), never by email.
    pub subject: FieldName,
    pub username: Option<FieldName>,
    pub email: Option<FieldName>,
    /// A boolean field that vouches for `email`. Without one, an email is not verified.
    pub email_verified: Option<FieldName>,
}

/// Where an upstream is reached.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Endpoints {
    /// OpenID Connect: the rest comes from `{issuer}/.well-known/openid-configuration`.
    Oidc { issuer: UpstreamUrl },
    OAuth2 {
        authorize_url: UpstreamUrl,
        token_url: UpstreamUrl,
        userinfo_url: UpstreamUrl,
        fields: ProfileFields,
    },
}

impl Endpoints {
    fn urls(&self) -> Vec<&UpstreamUrl> {
        match self {
            Endpoints::Oidc { issuer } => vec![issuer],
            Endpoints::OAuth2 {
                authorize_url,
                token_url,
                userinfo_url,
                ..
            } => vec![authorize_url, token_url, userinfo_url],
        }
    }
}

/// The client secret keyward was issued by the upstream. It is a secret kept in plain text
/// (keyward must send it), so it lives only inside the sealed record and is never printed:
/// `Debug` is redacted and no admin view carries it.
#[derive(Clone, PartialEq, Eq)]
pub struct UpstreamSecret(String);

impl UpstreamSecret {
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(text: &str) -> Result<UpstreamSecret, Invalid> {
        if text.is_empty() {
            return invalid("the client secret on standard input is empty");
        }
        if text.len() > Self::MAX_BYTES {
            return invalid(format!(
                "the client secret is longer than {} bytes",
                Self::MAX_BYTES
            ));
        }
        // RFC 6749 Appendix A.2: client_secret = *VSCHAR.
        if !text.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return invalid(
                "the client secret contains a character RFC 6749 does not allow (printable \
                 ASCII only)",
            );
        }
        Ok(UpstreamSecret(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn from_stored(text: String) -> UpstreamSecret {
        UpstreamSecret(text)
    }
}

impl fmt::Debug for UpstreamSecret {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("UpstreamSecret(<redacted>)")
    }
}

/// The client id keyward has at the upstream: printable ASCII without spaces (RFC 6749
/// Appendix A.1 allows spaces, but no provider issues them and a pasted one is a mistake).
pub fn parse_client_id(text: &str) -> Result<String, Invalid> {
    if text.is_empty() || text.len() > 256 || !text.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return invalid(format!(
            "client id '{}' must be 1 to 256 printable ASCII characters without spaces",
            truncate_for_message(text)
        ));
    }
    Ok(text.to_owned())
}

/// One registered upstream provider.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Upstream {
    pub name: UpstreamName,
    pub kind: UpstreamKind,
    /// What the sign-in button says ("Continue with …").
    pub display_name: DisplayName,
    pub endpoints: Endpoints,
    pub client_id: String,
    pub client_secret: UpstreamSecret,
    /// What keyward asks the upstream for.
    pub scope: Scope,
    /// The first sign-in of an identity not linked to anyone creates a keyward user.
    pub create_users: bool,
    pub created_at: UnixTime,
}

impl Upstream {
    /// Whether any URL of it is on a loopback host.
    pub fn uses_loopback(&self) -> bool {
        self.endpoints.urls().iter().any(|url| url.is_loopback())
    }

    /// What the subjects of its identities are unique within: the issuer of an OpenID
    /// upstream (OpenID Connect Core §2: `sub` is unique per issuer), the userinfo document
    /// and subject field of an OAuth 2.0 one. Identities stay linked only while it stays.
    pub fn subject_namespace(&self) -> (String, Option<String>) {
        match &self.endpoints {
            Endpoints::Oidc { issuer } => (issuer.as_str().to_owned(), None),
            Endpoints::OAuth2 {
                userinfo_url,
                fields,
                ..
            } => (
                userinfo_url.as_str().to_owned(),
                Some(fields.subject.as_str().to_owned()),
            ),
        }
    }

    /// The redirect URI to register at the provider, for keyward's `issuer`.
    pub fn callback_url(&self, issuer: &str) -> String {
        format!(
            "{}/upstream/{}/callback",
            issuer.trim_end_matches('/'),
            self.name
        )
    }
}

/// An OpenID upstream named `name` (at `https://id.corp.example`, no user creation), for
/// the unit tests of the modules that store and manage upstreams.
#[cfg(test)]
pub fn test_upstream(name: &str) -> Upstream {
    Upstream {
        name: UpstreamName::parse(name).unwrap(),
        kind: UpstreamKind::Oidc,
        display_name: DisplayName::parse("name", "Corp").unwrap(),
        endpoints: Endpoints::Oidc {
            issuer: UpstreamUrl::parse("--issuer", "https://id.corp.example").unwrap(),
        },
        client_id: "keyward".into(),
        client_secret: UpstreamSecret::parse("s3cret").unwrap(),
        scope: Scope::parse("openid profile email").unwrap(),
        create_users: false,
        created_at: 100,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_short_lowercase_and_safe_in_a_path() {
        for good in ["a", "discord", "corp-sso-2", &"x".repeat(32)] {
            assert!(UpstreamName::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Discord",
            "a_b",
            "a/b",
            "a b",
            "é",
            "a\0b",
            &"x".repeat(33),
        ] {
            assert!(UpstreamName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn urls_are_https_except_on_loopback_hosts() {
        for good in [
            "https://id.example.com",
            "https://id.example.com/path?x=1",
            "http://127.0.0.1:8080/authorize",
            "http://127.9.9.9/",
            "http://[::1]:9000/token",
            "http://localhost:3000/api",
            "https://localhost/",
        ] {
            assert!(UpstreamUrl::parse("--url", good).is_ok(), "{good}");
        }
        for bad in [
            "http://id.example.com/",
            "http://10.0.0.1/",
            "http://localhost.example.com/",
            "ftp://id.example.com/",
            "id.example.com",
            "https://user:pw@id.example.com/",
            "https://id.example.com/#x",
        ] {
            assert!(UpstreamUrl::parse("--url", bad).is_err(), "{bad}");
        }
        assert!(UpstreamUrl::parse("--url", "http://127.0.0.1/")
            .unwrap()
            .is_loopback());
        assert!(!UpstreamUrl::parse("--url", "https://discord.com/")
            .unwrap()
            .is_loopback());
    }

    #[test]
    fn kinds_read_back_as_themselves() {
        for kind in UpstreamKind::ALL {
            assert_eq!(UpstreamKind::parse(kind.as_str()).unwrap(), kind);
        }
        assert!(UpstreamKind::parse("facebook").is_err());
        assert!(UpstreamKind::parse("OIDC").is_err());
    }

    #[test]
    fn the_secret_is_never_in_debug() {
        let secret = UpstreamSecret::parse("hunter2-very-secret").unwrap();
        assert!(!format!("{secret:?}").contains("hunter2"));
        assert!(UpstreamSecret::parse("").is_err());
        assert!(UpstreamSecret::parse("tab\there").is_err());
    }
}
