//! Client authentication at the token, revocation and introspection endpoints
//! (RFC 6749 §2.3.1): `client_secret_basic` or `client_secret_post`, exactly one per
//! request; public clients name themselves with `client_id` alone.

use std::sync::Arc;

use base64::Engine;

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use crate::model::{Client, ClientId, SecretHash, UnixTime};
use crate::store::Store;

/// How the client presented itself.
pub enum Presented {
    Basic { client_id: String, secret: String },
    Post { client_id: String, secret: String },
    Public { client_id: String },
}

impl Presented {
    /// The client the request names, authenticated or not.
    pub fn client_id(&self) -> &str {
        match self {
            Presented::Basic { client_id, .. }
            | Presented::Post { client_id, .. }
            | Presented::Public { client_id } => client_id,
        }
    }
}

/// A client-authentication failure; `basic` says whether Basic was tried, because then
/// the answer must be 401 with `WWW-Authenticate: Basic` (RFC 6749 §5.2).
#[derive(Debug)]
pub struct AuthError {
    pub error: OAuthError,
    pub basic: bool,
}

fn invalid_client(basic: bool) -> AuthError {
    // One message for an unknown client, a wrong secret and a wrong method: the answer must
    // not tell an attacker which client ids exist.
    AuthError {
        error: OAuthError::new(ErrorCode::InvalidClient, "client authentication failed"),
        basic,
    }
}

/// Reads the credentials from the `Authorization` header and the body.
pub fn presented(authorization: Option<&str>, params: &Params) -> Result<Presented, AuthError> {
    let basic = authorization.is_some();
    let malformed = |message: &str| AuthError {
        error: OAuthError::invalid_request(message),
        basic,
    };
    let body_id = params
        .get("client_id")
        .map_err(|error| AuthError { error, basic })?;
    let body_secret = params
        .get("client_secret")
        .map_err(|error| AuthError { error, basic })?;
    match authorization {
        Some(header) => {
            if body_secret.is_some() {
                return Err(malformed(
                    "use one client authentication method: HTTP Basic or client_secret in the body, not both",
                ));
            }
            let (client_id, secret) = parse_basic(header).ok_or_else(|| invalid_client(true))?;
            if body_id.is_some_and(|body_id| body_id != client_id) {
                return Err(malformed("client_id in the body differs from HTTP Basic"));
            }
            Ok(Presented::Basic { client_id, secret })
        }
        None => match (body_id, body_secret) {
            (Some(client_id), Some(secret)) => Ok(Presented::Post {
                client_id: client_id.to_owned(),
                secret: secret.to_owned(),
            }),
            (Some(client_id), None) => Ok(Presented::Public {
                client_id: client_id.to_owned(),
            }),
            (None, _) => Err(AuthError {
                error: OAuthError::new(
                    ErrorCode::InvalidClient,
                    "client authentication is required",
                ),
                basic: false,
            }),
        },
    }
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn parse_basic(header: &str) -> Option<(String, String)> {
    let (scheme, encoded) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |part: &str| {
        // Issued ids and secrets are hex and base64url: nothing to decode, the usual case.
        if !part.contains(['%', '+']) {
            return Some(part.to_owned());
        }
        percent_encoding::percent_decode_str(&part.replace('+', " "))
            .decode_utf8()
            .ok()
            .map(|text| text.into_owned())
    };
    Some((unescape(id)?, unescape(secret)?))
}

/// Checks the credentials against the store. The secret is compared as SHA-256 hashes in
/// constant time (with the previous secret too, while its grace lasts); an unknown client
/// costs the same hash, so timing tells nothing either.
pub fn authenticate(
    store: &Store,
    presented: &Presented,
    now: UnixTime,
) -> Result<Arc<Client>, AuthError> {
    let (client_id, secret, basic) = match presented {
        Presented::Basic { client_id, secret } => (client_id, Some(secret), true),
        Presented::Post { client_id, secret } => (client_id, Some(secret), false),
        Presented::Public { client_id } => (client_id, None, false),
    };
    let client = match ClientId::parse_presented(client_id) {
        Ok(id) => store.client(id).map_err(|error| AuthError {
            error: error.into(),
            basic,
        })?,
        Err(_) => None,
    };
    match (client, secret) {
        (Some(client), Some(secret)) => {
            let accepted = client.secret_matches(secret, now);
            if accepted {
                Ok(client)
            } else {
                Err(invalid_client(basic))
            }
        }
        (Some(client), None) if client.is_public() => Ok(client),
        (None, Some(secret)) => {
            let _ = SecretHash::of("keyward: no such client").matches(secret);
            Err(invalid_client(basic))
        }
        _ => Err(invalid_client(basic)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_header_is_url_decoded() {
        let header = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode("my%20id:s%3Acret")
        );
        assert_eq!(
            parse_basic(&header),
            Some(("my id".to_owned(), "s:cret".to_owned()))
        );
        assert_eq!(parse_basic("Bearer abc"), None);
        assert_eq!(parse_basic("Basic !!!"), None);
    }
}
