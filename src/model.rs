//! Shared domain types. Each constructor validates, so a value of one of these types is
//! always well formed: the store and the protocol code never re-check what a type promises.
//!
//! The exception is `from_stored`, for the store's record decoders alone: a value read back
//! from disk is taken as it was stored, without today's checks. It was valid when it was
//! written, and a rule that tightens later (a new forbidden character, a shorter limit)
//! must not make a stored record unreadable. Everything a person or a client sends goes
//! through `parse`.

use std::fmt;
use std::net::IpAddr;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// Seconds since the Unix epoch. Every decision about time takes one of these as an argument;
/// only `clock.rs` reads the wall clock.
pub type UnixTime = u64;

/// A rejected value, with a sentence that says what is wrong in the words of the user who typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn invalid<T>(message: impl Into<String>) -> Result<T, Invalid> {
    Err(Invalid(message.into()))
}

/// A 128-bit record id: 48 bits of milliseconds then 80 random bits. Time-ordered ids keep
/// batched inserts at the right edge of redb's B-tree instead of scattering them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Id([u8; 16]);

impl Id {
    pub fn generate(now_millis: u64) -> Id {
        let mut bytes = [0u8; 16];
        bytes[..6].copy_from_slice(&now_millis.to_be_bytes()[2..]);
        rand::thread_rng().fill_bytes(&mut bytes[6..]);
        Id(bytes)
    }

    pub fn from_bytes(bytes: [u8; 16]) -> Id {
        Id(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The milliseconds it was made at: its first 48 bits.
    pub fn millis(&self) -> u64 {
        let mut bytes = [0u8; 8];
        bytes[2..].copy_from_slice(&self.0[..6]);
        u64::from_be_bytes(bytes)
    }

    /// Parses the 32-character lowercase hex form that `Display` prints.
    pub fn parse(text: &str) -> Option<Id> {
        if text.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (index, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(text.get(index * 2..index * 2 + 2)?, 16).ok()?;
        }
        // Only the canonical lowercase form names a record, so two spellings never alias.
        (Id(bytes).to_string() == text).then_some(Id(bytes))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Ids are formatted on every token response and introspection: one write of a
        // stack buffer, not sixteen formatted writes.
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; 32];
        for (index, byte) in self.0.iter().enumerate() {
            text[index * 2] = DIGITS[usize::from(byte >> 4)];
            text[index * 2 + 1] = DIGITS[usize::from(byte & 0x0f)];
        }
        formatter.write_str(std::str::from_utf8(&text).expect("hex digits are ASCII"))
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Id({self})")
    }
}

macro_rules! id_newtype {
    ($(#[$meta:meta])* $name:ident, $what:literal) => {
        $(#[$meta])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Debug)]
        pub struct $name(pub Id);

        impl $name {
            pub fn parse(text: &str) -> Result<$name, Invalid> {
                match Id::parse(text) {
                    Some(id) => Ok($name(id)),
                    None => invalid(format!(
                        concat!("'{}' is not a ", $what, " (expected 32 lowercase hex characters)"),
                        truncate_for_message(text)
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(formatter)
            }
        }
    };
}

id_newtype!(
    /// The public identifier of an OAuth client (RFC 6749 §2.2).
    ClientId,
    "client id"
);
impl ClientId {
    /// The id of the client a metadata document describes: its first two bytes 0xFFFF (a
    /// creation time in the year 10889, which `Id::generate` never makes, so `is_document`
    /// tells the two kinds apart without a lookup), then 112 bits of SHA-256 of the URL
    /// exactly as sent. Two spellings of one URL are two ids; only the one stored matches.
    pub fn of_document(url: &str) -> ClientId {
        use sha2::Digest;
        let digest = sha2::Sha256::new()
            .chain_update(b"keyward client metadata document\n")
            .chain_update(url.as_bytes())
            .finalize();
        let mut bytes = [0xFF; 16];
        bytes[2..].copy_from_slice(&digest[..14]);
        ClientId(Id::from_bytes(bytes))
    }

    /// Whether this is the id of a client described by a metadata document.
    pub fn is_document(&self) -> bool {
        self.0.as_bytes()[..2] == [0xFF, 0xFF]
    }

    /// A `client_id` as a client sends it: the hex id of a registered client, or the URL
    /// of a client metadata document (which names the stored stand-in, if there is one).
    /// The hex form of a document's id is refused: anyone can compute it, and naming the
    /// stand-in that way would pass by the fetch (the switch, the allow list, a document
    /// that changed).
    pub fn parse_presented(text: &str) -> Result<ClientId, Invalid> {
        let id = ClientId::parse_any(text)?;
        if id.is_document() && !is_url(text) {
            return invalid(format!(
                "'{}' is the id of a client metadata document's client: send the document's URL",
                truncate_for_message(text)
            ));
        }
        Ok(id)
    }

    /// A client named by the operator: its hex id, whatever kind, or a document's URL.
    pub fn parse_any(text: &str) -> Result<ClientId, Invalid> {
        if is_url(text) {
            Ok(ClientId::of_document(text))
        } else {
            ClientId::parse(text)
        }
    }
}

/// Whether a presented `client_id` is a URL (a metadata document's), not a hex id.
fn is_url(text: &str) -> bool {
    text.starts_with("https://") || text.starts_with("http://")
}

id_newtype!(
    /// The stable identifier of a user; the OpenID Connect `sub`.
    UserId,
    "user id"
);

/// Shortens user input quoted back in an error message, so a 1 MB argument does not
/// become a 1 MB error line.
pub fn truncate_for_message(text: &str) -> String {
    const LIMIT: usize = 80;
    let printable: String = text
        .chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect();
    if printable.chars().count() <= LIMIT {
        printable
    } else {
        let head: String = printable.chars().take(LIMIT).collect();
        format!("{head}…")
    }
}

/// 256 bits from the thread's CSPRNG (ChaCha, seeded and periodically reseeded from the
/// OS; no syscall per secret on the hot path), as URL-safe base64 without padding: the
/// form of every secret keyward issues (client secrets, codes, tokens, API keys).
pub fn random_secret() -> String {
    use base64::Engine;
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// A display name for a client or a user: non-empty, bounded, no control characters.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Debug)]
pub struct DisplayName(String);

impl DisplayName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(what: &str, text: &str) -> Result<DisplayName, Invalid> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return invalid(format!("{what} must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return invalid(format!(
                "{what} is longer than {} characters",
                Self::MAX_CHARS
            ));
        }
        if trimmed.chars().any(char::is_control) {
            return invalid(format!("{what} must not contain control characters"));
        }
        if let Some(hidden) = trimmed.chars().find(|c| is_format_character(*c)) {
            // A right-to-left override or an invisible joiner makes a consent page read
            // differently from what was registered ("Trusted App" for "ppA detsurT").
            return invalid(format!(
                "{what} must not contain invisible or text-direction characters (found U+{:04X})",
                u32::from(hidden)
            ));
        }
        Ok(DisplayName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> DisplayName {
        DisplayName(text)
    }
}

/// Unicode's format characters (general category Cf: bidirectional overrides and isolates,
/// zero-width spaces and joiners, the byte-order mark, tags, ...), the line and paragraph
/// separators, and the letters that render as nothing (the Hangul fillers, the braille
/// blank, the combining grapheme joiner, the Mongolian variation selectors): characters
/// that change how text around them reads, or take a place, without showing themselves.
pub fn is_format_character(c: char) -> bool {
    matches!(u32::from(c),
        0x00AD
        | 0x034F
        | 0x115F..=0x1160
        | 0x180B..=0x180F
        | 0x2800
        | 0x3164
        | 0xFFA0
        | 0x0600..=0x0605
        | 0x061C
        | 0x06DD
        | 0x070F
        | 0x0890..=0x0891
        | 0x08E2
        | 0x200B..=0x200F
        | 0x2028..=0x202E
        | 0x2060..=0x2064
        | 0x2066..=0x206F
        | 0xFEFF
        | 0xFFF9..=0xFFFB
        | 0x110BD
        | 0x110CD
        | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3
        | 0x1D173..=0x1D17A
        | 0xE0001
        | 0xE0020..=0xE007F)
}

/// A sign-in name. ASCII letters, digits, `.`, `_` and `-` only, so two names that look the
/// same on a consent page are the same name; unique without regard to case.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Debug)]
pub struct Username(String);

impl Username {
    pub const MAX_CHARS: usize = 64;

    pub fn parse(text: &str) -> Result<Username, Invalid> {
        if text.is_empty() {
            return invalid("username must not be empty");
        }
        if text.len() > Self::MAX_CHARS {
            return invalid(format!(
                "username is longer than {} characters",
                Self::MAX_CHARS
            ));
        }
        if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return invalid(format!(
                "username '{}' may contain only letters, digits, '.', '_' and '-'",
                truncate_for_message(text)
            ));
        }
        Ok(Username(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> Username {
        Username(text)
    }

    /// The form uniqueness is decided on.
    pub fn folded(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

/// An email address, checked only for shape: the address is the operator's word.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Debug)]
pub struct Email(String);

impl Email {
    pub fn parse(text: &str) -> Result<Email, Invalid> {
        let shape_ok = text.len() <= 254
            && !text.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(text.split_once('@'), Some((local, domain))
                if !local.is_empty() && !domain.is_empty() && !domain.contains('@'));
        if !shape_ok {
            return invalid(format!(
                "'{}' is not an email address",
                truncate_for_message(text)
            ));
        }
        Ok(Email(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> Email {
        Email(text)
    }
}

/// A human password, as typed. Never printed: `Debug` is redacted.
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 1024;

    pub fn parse(text: &str) -> Result<Password, Invalid> {
        if text.chars().count() < Self::MIN_CHARS {
            return invalid(format!(
                "password must be at least {} characters",
                Self::MIN_CHARS
            ));
        }
        if text.len() > Self::MAX_BYTES {
            return invalid(format!("password is longer than {} bytes", Self::MAX_BYTES));
        }
        Ok(Password(text.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("Password(<redacted>)")
    }
}

/// A registered redirect URI (RFC 6749 §3.1.2), kept as the exact string the operator gave.
/// Matching is by string equality (RFC 9700 §4.1.1), so the string must be written in its
/// canonical form: what the operator registers is what a client must send, byte for byte.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Debug)]
pub struct RedirectUri(String);

impl RedirectUri {
    pub const MAX_BYTES: usize = 2000;

    pub fn parse(text: &str) -> Result<RedirectUri, Invalid> {
        let shown = truncate_for_message(text);
        if text.len() > Self::MAX_BYTES {
            return invalid(format!(
                "redirect URI is longer than {} bytes",
                Self::MAX_BYTES
            ));
        }
        if text.contains('*') {
            return invalid(format!(
                "redirect URI '{shown}' contains '*': wildcards are not allowed"
            ));
        }
        if text.contains('#') {
            return invalid(format!(
                "redirect URI '{shown}' has a fragment; RFC 6749 §3.1.2 forbids one"
            ));
        }
        let parsed = match url::Url::parse(text) {
            Ok(parsed) => parsed,
            Err(_) => return invalid(format!("redirect URI '{shown}' is not an absolute URI")),
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return invalid(format!(
                "redirect URI '{shown}' has user information in its authority"
            ));
        }
        match parsed.scheme() {
            "https" => {}
            "http" => {
                let loopback = match parsed.host() {
                    Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
                    Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
                    _ => false,
                };
                if !loopback {
                    return invalid(format!(
                        "redirect URI '{shown}' uses http: only https, or http on a loopback IP \
                         literal such as 127.0.0.1 (RFC 8252 §7.3), is allowed"
                    ));
                }
            }
            scheme if scheme.contains('.') => {
                // RFC 8252 §7.1: a private-use scheme in reverse-domain form.
            }
            scheme => {
                return invalid(format!(
                    "redirect URI '{shown}' uses scheme '{scheme}': use https, http on a \
                     loopback IP literal, or a private-use scheme with a dot (com.example.app)"
                ))
            }
        }
        if parsed.as_str() != text {
            return invalid(format!(
                "redirect URI '{shown}' is not in canonical form; register it as '{}'",
                truncate_for_message(parsed.as_str())
            ));
        }
        if parsed
            .path_segments()
            .is_some_and(|mut segments| segments.any(|segment| segment == "." || segment == ".."))
        {
            return invalid(format!("redirect URI '{shown}' has a dot segment"));
        }
        Ok(RedirectUri(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> RedirectUri {
        RedirectUri(text)
    }
}

/// One scope token (RFC 6749 §3.3: `1*NQCHAR`).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Debug)]
pub struct ScopeToken(String);

impl ScopeToken {
    pub const MAX_BYTES: usize = 64;

    pub fn parse(text: &str) -> Result<ScopeToken, Invalid> {
        if text.is_empty() {
            return invalid("a scope must not be empty");
        }
        if text.len() > Self::MAX_BYTES {
            return invalid(format!(
                "scope '{}' is longer than {} bytes",
                truncate_for_message(text),
                Self::MAX_BYTES
            ));
        }
        // NQCHAR = %x21 / %x23-5B / %x5D-7E
        if !text
            .bytes()
            .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b))
        {
            return invalid(format!(
                "scope '{}' contains a character RFC 6749 section 3.3 does not allow",
                truncate_for_message(text)
            ));
        }
        Ok(ScopeToken(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> ScopeToken {
        ScopeToken(text)
    }
}

/// A set of scopes, kept sorted and without duplicates so two equal sets compare equal.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Debug, Default)]
pub struct Scope(Vec<ScopeToken>);

impl Scope {
    pub const MAX_TOKENS: usize = 64;

    /// Parses a space-delimited scope string (RFC 6749 §3.3).
    pub fn parse(text: &str) -> Result<Scope, Invalid> {
        let mut tokens = text
            .split(' ')
            .filter(|token| !token.is_empty())
            .map(ScopeToken::parse)
            .collect::<Result<Vec<_>, _>>()?;
        tokens.sort();
        tokens.dedup();
        if tokens.len() > Self::MAX_TOKENS {
            return invalid(format!("more than {} scopes", Self::MAX_TOKENS));
        }
        Ok(Scope(tokens))
    }

    /// A scope as the store kept it, its tokens without `parse`'s checks (see the module's
    /// docs). Sorted and deduplicated, as every writer already left it, so that the set
    /// still compares as a set whatever a record held.
    pub fn from_stored(tokens: Vec<ScopeToken>) -> Scope {
        let mut tokens = tokens;
        tokens.sort();
        tokens.dedup();
        Scope(tokens)
    }

    pub fn tokens(&self) -> &[ScopeToken] {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.iter().any(|held| held.as_str() == token)
    }

    /// Every token of either set.
    pub fn union(&self, other: &Scope) -> Scope {
        let mut tokens: Vec<ScopeToken> = self.0.iter().chain(&other.0).cloned().collect();
        tokens.sort();
        tokens.dedup();
        Scope(tokens)
    }

    pub fn is_subset_of(&self, other: &Scope) -> bool {
        self.0.iter().all(|token| other.0.contains(token))
    }

    /// The same set without `token`.
    pub fn without(&self, token: &str) -> Scope {
        Scope(
            self.0
                .iter()
                .filter(|held| held.as_str() != token)
                .cloned()
                .collect(),
        )
    }

    /// The tokens of this set that `other` lacks, space-separated: what an `invalid_scope`
    /// answer names.
    pub fn beyond(&self, other: &Scope) -> String {
        let missing: Vec<&str> = self
            .0
            .iter()
            .filter(|token| !other.0.contains(token))
            .map(|token| token.as_str())
            .collect();
        missing.join(" ")
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, token) in self.0.iter().enumerate() {
            if index > 0 {
                formatter.write_str(" ")?;
            }
            formatter.write_str(token.as_str())?;
        }
        Ok(())
    }
}

/// The grants keyward implements. Implicit and password grants do not exist here (RFC 9700 §2.1.2, §2.4).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Debug)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

impl GrantType {
    pub const ALL: [GrantType; 3] = [
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        GrantType::ClientCredentials,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            GrantType::AuthorizationCode => "authorization_code",
            GrantType::RefreshToken => "refresh_token",
            GrantType::ClientCredentials => "client_credentials",
        }
    }

    pub fn parse(text: &str) -> Result<GrantType, Invalid> {
        GrantType::ALL
            .into_iter()
            .find(|grant| grant.as_str() == text)
            .ok_or_else(|| {
                Invalid(format!(
                    "unknown grant type '{}' (expected authorization_code, refresh_token or client_credentials)",
                    truncate_for_message(text)
                ))
            })
    }

    /// Parses a comma-separated list, sorted and without duplicates.
    pub fn parse_list(text: &str) -> Result<Vec<GrantType>, Invalid> {
        let mut grants = text
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(GrantType::parse)
            .collect::<Result<Vec<_>, _>>()?;
        grants.sort();
        grants.dedup();
        if grants.is_empty() {
            return invalid("--grant-types must name at least one grant type");
        }
        Ok(grants)
    }
}

/// A JWS algorithm keyward signs with (RFC 7518 §3.1, RFC 8037 §3.1): for a client's ID
/// tokens, and for the signing keys that produce them. RS256 is the default, as OpenID
/// Connect Core §15.1 requires of every provider.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Default)]
pub enum SigningAlg {
    #[default]
    Rs256,
    Es256,
    EdDsa,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa];

    /// The `alg` value of JOSE, spelled as RFC 7518 and RFC 8037 spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::Rs256 => "RS256",
            SigningAlg::Es256 => "ES256",
            SigningAlg::EdDsa => "EdDSA",
        }
    }

    /// Exact spelling only: JOSE compares `alg` values case-sensitively, and a relying party
    /// configured with "rs256" would not match what the JWKS says.
    pub fn parse(text: &str) -> Result<SigningAlg, Invalid> {
        SigningAlg::ALL
            .into_iter()
            .find(|alg| alg.as_str() == text)
            .ok_or_else(|| {
                Invalid(format!(
                    "unknown signing algorithm '{}' (expected RS256, ES256 or EdDSA)",
                    truncate_for_message(text)
                ))
            })
    }
}

impl fmt::Display for SigningAlg {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// What a client's access tokens look like: keyward's own sealed token (the default), which
/// only keyward can read and resource servers introspect, or an RFC 9068 JWT that resource
/// servers validate locally against the JWKS.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub enum AccessTokenFormat {
    #[default]
    Opaque,
    Jwt,
}

impl AccessTokenFormat {
    pub const ALL: [AccessTokenFormat; 2] = [AccessTokenFormat::Opaque, AccessTokenFormat::Jwt];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessTokenFormat::Opaque => "opaque",
            AccessTokenFormat::Jwt => "jwt",
        }
    }

    pub fn parse(text: &str) -> Result<AccessTokenFormat, Invalid> {
        AccessTokenFormat::ALL
            .into_iter()
            .find(|format| format.as_str() == text)
            .ok_or_else(|| {
                Invalid(format!(
                    "unknown access token format '{}' (expected opaque or jwt)",
                    truncate_for_message(text)
                ))
            })
    }
}

impl fmt::Display for AccessTokenFormat {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// An RFC 8707 resource indicator: the absolute URI of a resource server, which becomes the
/// audience of the tokens issued for it. Kept as the exact string given and compared as
/// such. Unlike a redirect URI it need not be in `url`'s canonical form: an audience is an
/// identifier that resource servers compare byte for byte, and the common
/// `https://api.example.com` (no trailing slash) must stay as it is written.
#[derive(Clone, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
pub struct ResourceUri(String);

impl ResourceUri {
    pub const MAX_BYTES: usize = 2000;

    pub fn parse(text: &str) -> Result<ResourceUri, Invalid> {
        let shown = truncate_for_message(text);
        if text.len() > Self::MAX_BYTES {
            return invalid(format!(
                "resource URI is longer than {} bytes",
                Self::MAX_BYTES
            ));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid(format!(
                "resource URI '{shown}' contains whitespace or control characters"
            ));
        }
        if text.contains('#') {
            return invalid(format!(
                "resource URI '{shown}' has a fragment; RFC 8707 §2 forbids one"
            ));
        }
        // `url` accepts only a URI with a scheme: an absolute URI (RFC 3986 §4.3), which is
        // what RFC 8707 §2 asks for. A URN (`urn:example:api`) is one too.
        if url::Url::parse(text).is_err() {
            return invalid(format!(
                "resource URI '{shown}' is not an absolute URI (RFC 8707 §2)"
            ));
        }
        Ok(ResourceUri(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> ResourceUri {
        ResourceUri(text)
    }
}

/// A web page about a client (its homepage, its privacy policy): an absolute `http` or
/// `https` URL, shown to users as a link and by its host. Kept as `url` serializes it, so
/// what is shown is what a browser would open.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PageUrl(String);

impl PageUrl {
    pub const MAX_BYTES: usize = 2000;

    /// `what` names the field in the message ("homepage", "privacy policy URL").
    pub fn parse(what: &str, text: &str) -> Result<PageUrl, Invalid> {
        let shown = truncate_for_message(text);
        if text.len() > Self::MAX_BYTES {
            return invalid(format!("{what} is longer than {} bytes", Self::MAX_BYTES));
        }
        if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return invalid(format!(
                "{what} '{shown}' contains whitespace or control characters"
            ));
        }
        let parsed = match url::Url::parse(text) {
            Ok(parsed) => parsed,
            Err(_) => return invalid(format!("{what} '{shown}' is not an absolute URL")),
        };
        if !matches!(parsed.scheme(), "https" | "http") || parsed.host_str().is_none() {
            return invalid(format!(
                "{what} '{shown}' is not a web address (https://… or http://…)"
            ));
        }
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return invalid(format!(
                "{what} '{shown}' has user information in its authority"
            ));
        }
        Ok(PageUrl(parsed.as_str().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The host users are shown (`example.com`, `[::1]`).
    pub fn host(&self) -> String {
        host_of(&self.0)
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> PageUrl {
        PageUrl(text)
    }
}

/// Who registered a client. It decides what the consent page says about who asks, and what
/// the client may ask for: only the operator's own may have any scope or grant.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub enum ClientOrigin {
    /// The operator, with `client create`: the platform's own apps.
    #[default]
    Operator,
    /// A user, on the developer page (`/account/apps`).
    Developer(UserId),
    /// A program, through dynamic client registration (RFC 7591, `/oauth2/register`).
    Registered,
    /// A program that names itself by the URL of its client metadata document
    /// (draft-ietf-oauth-client-id-metadata-document): the record is a stand-in for the
    /// document, refreshed from it (`Client::document`).
    Document,
}

/// The URL of a client metadata document, as a client sends it for `client_id`: https,
/// with a path, no fragment, no user information, in canonical form (it is compared byte
/// for byte with the document's own `client_id`), and not an IP literal of a private,
/// loopback or link-local address. (Names that resolve to such addresses are refused when
/// the document is fetched, on the address actually connected to.)
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DocumentUrl(String);

impl DocumentUrl {
    pub const MAX_BYTES: usize = 2000;

    /// `loopback_http` (`serve --client-metadata-insecure-loopback`, for tests) lets
    /// `http://127.0.0.1:PORT/…` and `https://127.0.0.1:PORT/…` through as well.
    pub fn parse(text: &str, loopback_http: bool) -> Result<DocumentUrl, Invalid> {
        let shown = truncate_for_message(text);
        if text.len() > Self::MAX_BYTES {
            return invalid(format!(
                "the client_id URL is longer than {} bytes",
                Self::MAX_BYTES
            ));
        }
        if text.contains('#') {
            return invalid(format!("the client_id URL '{shown}' has a fragment"));
        }
        let Ok(parsed) = url::Url::parse(text) else {
            return invalid(format!("the client_id '{shown}' is not a URL"));
        };
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return invalid(format!(
                "the client_id URL '{shown}' has user information in it"
            ));
        }
        let loopback_literal =
            parsed.host() == Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST));
        match parsed.scheme() {
            "https" => {}
            "http" if loopback_http && loopback_literal => {}
            _ => {
                return invalid(format!(
                    "the client_id URL '{shown}' is not https: a client metadata document is \
                     fetched only over https"
                ))
            }
        }
        if parsed.path() == "/" || parsed.path().is_empty() {
            return invalid(format!(
                "the client_id URL '{shown}' has no path: a client metadata document's URL \
                 names the document, not just a host"
            ));
        }
        if parsed.as_str() != text {
            return invalid(format!(
                "the client_id URL '{shown}' is not in canonical form (dot segments, case or \
                 escaping differ from '{}')",
                truncate_for_message(parsed.as_str())
            ));
        }
        let literal = match parsed.host() {
            Some(url::Host::Ipv4(ip)) => Some(IpAddr::V4(ip)),
            Some(url::Host::Ipv6(ip)) => Some(IpAddr::V6(ip)),
            _ => None,
        };
        if let Some(ip) = literal {
            if !(is_public_address(ip) || loopback_http && loopback_literal) {
                return invalid(format!(
                    "the client_id URL '{shown}' names a private, loopback or link-local \
                     address, which keyward never fetches from"
                ));
            }
        }
        Ok(DocumentUrl(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its host, as the consent page shows it.
    pub fn host(&self) -> String {
        host_of(&self.0)
    }

    pub fn client_id(&self) -> ClientId {
        ClientId::of_document(&self.0)
    }

    /// A value as the store kept it, without `parse`'s checks (see the module's docs).
    pub fn from_stored(text: String) -> DocumentUrl {
        DocumentUrl(text)
    }
}

/// The host of a URL that was validated when it was made (empty if it somehow has none).
fn host_of(url: &str) -> String {
    url::Url::parse(url)
        .ok()
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Whether `ip` is an address on the public internet: not loopback, private, shared
/// (CGNAT), link-local, unique-local, multicast, documentation, benchmarking, reserved or
/// unspecified, and no IPv6 form of one of those (IPv4-mapped, NAT64). What keyward
/// fetches a client's document from must be one.
pub fn is_public_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => {
            let [a, b, c, _] = ip.octets();
            !(a == 0
                || a == 10
                || a == 127
                || a >= 224
                || (a == 100 && (64..128).contains(&b))
                || (a == 169 && b == 254)
                || (a == 172 && (16..32).contains(&b))
                || (a == 192 && b == 168)
                || (a == 192 && b == 0 && (c == 0 || c == 2))
                || (a == 198 && (b == 18 || b == 19))
                || (a == 198 && b == 51 && c == 100)
                || (a == 203 && b == 0 && c == 113))
        }
        IpAddr::V6(ip) => {
            if let Some(v4) = ip.to_ipv4_mapped() {
                return is_public_address(IpAddr::V4(v4));
            }
            let segments = ip.segments();
            if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
                let [a, b] = segments[6].to_be_bytes();
                let [c, d] = segments[7].to_be_bytes();
                return is_public_address(IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d)));
            }
            let first = segments[0];
            // Global unicast is 2000::/3; inside it, documentation (2001:db8::/32) and
            // the 6to4 and Teredo relays, which reach addresses of their own choosing.
            (first & 0xe000) == 0x2000
                && !(first == 0x2001 && segments[1] == 0x0db8)
                && !(first == 0x2001 && segments[1] == 0)
                && first != 0x2002
        }
    }
}

/// The secret a client had before its last rotation, and when it stops working
/// (`client rotate-secret --grace`): a deployment keeps working while it is updated.
#[derive(Clone, Copy, Debug)]
pub struct PreviousSecret {
    pub hash: SecretHash,
    pub until: UnixTime,
}

/// SHA-256 of a 256-bit random secret (client secret, code, token, API key). A slow hash
/// buys nothing for such values and would cost every request; comparison is constant-time.
#[derive(Clone, Copy, Serialize, Deserialize)]
pub struct SecretHash([u8; 32]);

impl SecretHash {
    pub fn of(secret: &str) -> SecretHash {
        use sha2::Digest;
        SecretHash(sha2::Sha256::digest(secret.as_bytes()).into())
    }

    pub fn matches(&self, secret: &str) -> bool {
        use subtle::ConstantTimeEq;
        bool::from(self.0.ct_eq(&SecretHash::of(secret).0))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A hash as the store kept it.
    pub fn from_bytes(bytes: [u8; 32]) -> SecretHash {
        SecretHash(bytes)
    }
}

impl fmt::Debug for SecretHash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("SecretHash(<redacted>)")
    }
}

/// A registered OAuth client. A client without a secret is public (RFC 6749 §2.1).
#[derive(Clone, Debug)]
pub struct Client {
    pub id: ClientId,
    pub name: DisplayName,
    pub redirect_uris: Vec<RedirectUri>,
    pub scope: Scope,
    pub grant_types: Vec<GrantType>,
    pub secret_hash: Option<SecretHash>,
    pub created_at: UnixTime,
    /// What its ID tokens are signed with.
    pub id_token_alg: SigningAlg,
    /// Where RP-initiated logout may send the browser afterwards, matched byte for byte
    /// (validated as redirect URIs are).
    pub post_logout_redirect_uris: Vec<RedirectUri>,
    pub access_token_format: AccessTokenFormat,
    /// The RFC 8707 resources it may ask tokens for, in the order registered: the first is
    /// a JWT-format client's default audience.
    pub resources: Vec<ResourceUri>,
    /// Put the profile and email claims into the ID token too, not only into userinfo.
    pub id_token_claims: bool,
    pub origin: ClientOrigin,
    pub homepage: Option<PageUrl>,
    pub privacy_policy: Option<PageUrl>,
    /// The operator has reviewed a self-registered app (`client verify`): the consent page
    /// no longer warns that nobody has.
    pub verified: bool,
    pub previous_secret: Option<PreviousSecret>,
    /// A registered client's RFC 7592 registration access token, as SHA-256: what lets its
    /// program read, change and delete its registration.
    pub registration_token_hash: Option<SecretHash>,
    /// The metadata document this client is a stand-in for (origin `Document`): its URL
    /// is the `client_id` the client sends and is told.
    pub document: Option<DocumentUrl>,
}

impl Client {
    /// The `client_id` as clients and resource servers know it: the document's URL for a
    /// client described by one, the hex id otherwise.
    pub fn public_id(&self) -> String {
        match &self.document {
            Some(url) => url.as_str().to_owned(),
            None => self.id.to_string(),
        }
    }

    pub fn is_public(&self) -> bool {
        self.secret_hash.is_none()
    }

    /// Registered by someone other than the operator: it may ask only for what the
    /// operator allows for self-service.
    pub fn is_self_registered(&self) -> bool {
        self.origin != ClientOrigin::Operator
    }

    pub fn owner(&self) -> Option<UserId> {
        match self.origin {
            ClientOrigin::Developer(user) => Some(user),
            ClientOrigin::Operator | ClientOrigin::Registered | ClientOrigin::Document => None,
        }
    }

    /// Whether `secret` is the client's secret at `now`: its current one, or the one before
    /// within its grace. Both are compared every time, in constant time.
    pub fn secret_matches(&self, secret: &str, now: UnixTime) -> bool {
        let current = self.secret_hash.is_some_and(|hash| hash.matches(secret));
        let previous = self
            .previous_secret
            .is_some_and(|previous| previous.hash.matches(secret) && now < previous.until);
        current | previous
    }

    pub fn allows_grant(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A person who signs in. `password_hash` is an argon2id PHC string; anything else (an
/// empty string) is a password nobody can sign in with (`has_password`).
#[derive(Clone, Debug)]
pub struct User {
    pub id: UserId,
    pub username: Username,
    pub email: Option<Email>,
    pub name: Option<DisplayName>,
    pub password_hash: String,
    pub created_at: UnixTime,
    /// Whether someone vouched for the email address (the operator, with `--email-verified`).
    /// An address typed by a user, or given without the flag, is not verified.
    pub email_verified: bool,
    /// When the profile (username, email, name) last changed: the `updated_at` claim.
    pub updated_at: UnixTime,
    /// The operator lets this user register apps under `serve --developer-apps allowed`
    /// (`user set --developer`).
    pub developer: bool,
}

impl User {
    /// Whether the user can sign in with a password: the hash is one `password::verify`
    /// can check. Every user made so far has one; a user made through an upstream may not.
    pub fn has_password(&self) -> bool {
        crate::password::is_usable_hash(&self.password_hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect_ok(text: &str) -> bool {
        RedirectUri::parse(text).is_ok()
    }

    #[test]
    fn a_document_url_names_its_own_client_id_and_only_canonical_https_urls_parse() {
        let url = DocumentUrl::parse("https://agent.example/client.json", false).unwrap();
        let id = url.client_id();
        assert!(id.is_document());
        assert_eq!(ClientId::parse_presented(url.as_str()).unwrap(), id);
        assert_ne!(
            ClientId::of_document("https://agent.example/client.json/"),
            id,
            "another spelling is another client"
        );
        assert!(!ClientId(Id::generate(1_700_000_000_000)).is_document());
        assert_eq!(url.host(), "agent.example");
        let hex = ClientId(Id::from_bytes([7; 16]));
        assert_eq!(ClientId::parse_presented(&hex.to_string()).unwrap(), hex);
        // A document's client is named by its URL, never by its computable hex id; the
        // operator may use either.
        assert!(ClientId::parse_presented(&id.to_string()).is_err());
        assert_eq!(ClientId::parse_any(&id.to_string()).unwrap(), id);
        assert_eq!(ClientId::parse_any(url.as_str()).unwrap(), id);
        for bad in [
            "http://agent.example/client.json",
            "https://agent.example",
            "https://agent.example/",
            "https://agent.example/c#f",
            "https://u:p@agent.example/c",
            "https://agent.example/a/../c",
            "https://AGENT.example/c",
            "https://127.0.0.1/c",
            "https://[::1]/c",
            "https://169.254.169.254/latest",
            "ftp://agent.example/c",
            "agent.example/c",
        ] {
            assert!(
                DocumentUrl::parse(bad, false).is_err(),
                "{bad} must be refused"
            );
        }
        assert!(DocumentUrl::parse("http://127.0.0.1:8080/c.json", true).is_ok());
        assert!(DocumentUrl::parse("http://127.0.0.2:8080/c.json", true).is_err());
        assert!(DocumentUrl::parse("http://localhost:8080/c.json", true).is_err());
        assert!(DocumentUrl::parse("https://93.184.215.14/c.json", false).is_ok());
        assert!(
            DocumentUrl::parse(&format!("https://a.example/{}", "x".repeat(2000)), false).is_err()
        );
    }

    #[test]
    fn only_public_addresses_are_public() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fc00::1",
            "fd12::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::a00:1",
            "2001:db8::1",
            "2002:a00:1::1",
            "ff02::1",
        ] {
            assert!(
                !is_public_address(private.parse().unwrap()),
                "{private} must be refused"
            );
        }
        for public in [
            "93.184.215.14",
            "1.1.1.1",
            "2606:4700::1111",
            "::ffff:1.1.1.1",
        ] {
            assert!(
                is_public_address(public.parse().unwrap()),
                "{public} is public"
            );
        }
    }

    #[test]
    fn redirect_uris_accepted() {
        for good in [
            "https://app.example.com/callback",
            "https://app.example.com/cb?tenant=1",
            "http://127.0.0.1:8081/callback",
            "http://[::1]:9000/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(redirect_ok(good), "{good} should be accepted");
        }
    }

    #[test]
    fn redirect_uris_refused() {
        for bad in [
            "",
            "/relative/callback",
            "app.example.com/cb",
            "http://app.example.com/cb",
            "http://localhost:8080/cb",
            "https://app.example.com/cb#frag",
            "https://*.example.com/cb",
            "https://user@app.example.com/cb",
            "https://App.Example.com/cb",
            "https://app.example.com",
            "https://app.example.com/a/../cb",
            "javascript:alert(1)",
            "myapp:/cb",
            "data:text/html,hi",
        ] {
            assert!(!redirect_ok(bad), "{bad} should be refused");
        }
        assert!(!redirect_ok(&format!(
            "https://a.example/{}",
            "x".repeat(3000)
        )));
    }

    #[test]
    fn signing_algorithms_and_token_formats_parse_exactly() {
        for alg in SigningAlg::ALL {
            assert_eq!(SigningAlg::parse(alg.as_str()), Ok(alg));
        }
        assert_eq!(SigningAlg::default(), SigningAlg::Rs256);
        let refused = SigningAlg::parse("rs256").unwrap_err().0;
        assert!(refused.contains("RS256, ES256 or EdDSA"), "{refused}");
        assert!(SigningAlg::parse("HS256").is_err());
        assert!(SigningAlg::parse("none").is_err());
        for format in AccessTokenFormat::ALL {
            assert_eq!(AccessTokenFormat::parse(format.as_str()), Ok(format));
        }
        assert_eq!(AccessTokenFormat::default(), AccessTokenFormat::Opaque);
        assert!(AccessTokenFormat::parse("JWT").is_err());
    }

    #[test]
    fn resource_uris() {
        for good in [
            "https://api.example.com",
            "https://api.example.com/v1?tenant=a",
            "urn:example:api",
            "http://localhost:8080/api",
        ] {
            let parsed = ResourceUri::parse(good).unwrap_or_else(|error| panic!("{good}: {error}"));
            // Kept as written: no trailing slash added.
            assert_eq!(parsed.as_str(), good);
        }
        for bad in [
            "",
            "api.example.com",
            "/relative",
            "https://api.example.com/#x",
            "https://api.example.com/ a",
            "https://api.example.com/\u{7}",
        ] {
            assert!(ResourceUri::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(ResourceUri::parse(&format!("https://a.example/{}", "x".repeat(3000))).is_err());
    }

    #[test]
    fn ids_round_trip_and_order_by_time() {
        let early = Id::generate(1_000);
        let late = Id::generate(2_000);
        assert!(early < late);
        assert_eq!(Id::parse(&early.to_string()), Some(early));
        assert_eq!(Id::parse(&early.to_string().to_uppercase()), None);
        assert_eq!(Id::parse("zz"), None);
    }

    #[test]
    fn scopes_are_sets() {
        let scope = Scope::parse("profile openid  profile").unwrap();
        assert_eq!(scope.to_string(), "openid profile");
        assert!(Scope::parse("bad\"quote").is_err());
        assert!(Scope::parse("a\\b").is_err());
        assert!(Scope::parse("openid").unwrap().is_subset_of(&scope));
    }

    #[test]
    fn names_and_usernames() {
        assert!(DisplayName::parse("name", "   ").is_err());
        assert!(DisplayName::parse("name", &"x".repeat(101)).is_err());
        assert!(DisplayName::parse("name", "a\u{7}b").is_err());
        for hidden in [
            "\u{202E}",
            "\u{200B}",
            "\u{2066}",
            "\u{FEFF}",
            "\u{2028}",
            "\u{E0041}",
        ] {
            assert!(
                DisplayName::parse("name", &format!("Score{hidden}Tracker")).is_err(),
                "{hidden:?} accepted"
            );
        }
        assert!(DisplayName::parse("name", "Élan Ñandú 日本語 🎮").is_ok());
        assert!(Username::parse("Alice.B-1").is_ok());
        assert!(Username::parse("al ice").is_err());
        assert_eq!(Username::parse("Alice").unwrap().folded(), "alice");
        assert!(Email::parse("a@b.example").is_ok());
        assert!(Email::parse("a b@c").is_err());
        assert!(Email::parse("@c").is_err());
        assert!(Password::parse("short").is_err());
    }

    #[test]
    fn a_previous_secret_works_until_its_grace_ends_and_the_current_one_always() {
        let client = Client {
            id: ClientId(Id::from_bytes([1; 16])),
            name: DisplayName::parse("name", "App").unwrap(),
            redirect_uris: Vec::new(),
            scope: Scope::default(),
            grant_types: vec![GrantType::ClientCredentials],
            secret_hash: Some(SecretHash::of("new")),
            created_at: 0,
            id_token_alg: SigningAlg::default(),
            post_logout_redirect_uris: Vec::new(),
            access_token_format: AccessTokenFormat::default(),
            resources: Vec::new(),
            id_token_claims: false,
            origin: ClientOrigin::Operator,
            homepage: None,
            privacy_policy: None,
            verified: false,
            previous_secret: Some(PreviousSecret {
                hash: SecretHash::of("old"),
                until: 1000,
            }),
            registration_token_hash: None,
            document: None,
        };
        assert!(client.secret_matches("new", 0));
        assert!(client.secret_matches("new", u64::MAX));
        assert!(client.secret_matches("old", 999));
        assert!(
            !client.secret_matches("old", 1000),
            "the grace ends at `until`"
        );
        assert!(!client.secret_matches("other", 0));
        let public = Client {
            secret_hash: None,
            previous_secret: None,
            ..client
        };
        assert!(!public.secret_matches("", 0));
    }

    #[test]
    fn page_urls_are_web_addresses_shown_by_their_host() {
        let url = PageUrl::parse("homepage", "https://Scores.Example:8443/about").unwrap();
        assert_eq!(url.as_str(), "https://scores.example:8443/about");
        assert_eq!(url.host(), "scores.example");
        for bad in [
            "javascript:alert(1)",
            "ftp://files.example/",
            "/relative",
            "https://user:pw@example.com/",
            "https://exa mple.com/",
            "data:text/html,hi",
        ] {
            assert!(PageUrl::parse("homepage", bad).is_err(), "{bad}");
        }
        assert!(PageUrl::parse(
            "homepage",
            &format!("https://a.example/{}", "x".repeat(2000))
        )
        .is_err());
    }
}
