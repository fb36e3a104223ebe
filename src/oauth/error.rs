//! OAuth error values (RFC 6749 §4.1.2.1 and §5.2), free of HTTP.

use std::fmt;

/// The error codes of RFC 6749; each variant's doc is the RFC's sentence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The request is missing a required parameter, includes an unsupported parameter value,
    /// repeats a parameter, or is otherwise malformed.
    InvalidRequest,
    /// Client authentication failed (e.g., unknown client, no client authentication
    /// included, or unsupported authentication method).
    InvalidClient,
    /// The provided authorization grant or refresh token is invalid, expired, revoked, does
    /// not match the redirection URI used in the authorization request, or was issued to
    /// another client.
    InvalidGrant,
    /// The authenticated client is not authorized to use this authorization grant type.
    UnauthorizedClient,
    /// The authorization grant type is not supported by the authorization server.
    UnsupportedGrantType,
    /// The requested scope is invalid, unknown, malformed, or exceeds the scope granted by
    /// the resource owner.
    InvalidScope,
    /// RFC 8707 §2: a `resource` that is malformed, or not one the client may ask for.
    InvalidTarget,
    /// The resource owner or authorization server denied the request.
    AccessDenied,
    /// The authorization server does not support obtaining an authorization code using
    /// this method.
    UnsupportedResponseType,
    /// The authorization server encountered an unexpected condition that prevented it from
    /// fulfilling the request.
    ServerError,
    /// The authorization server is currently unable to handle the request due to a
    /// temporary overloading or maintenance of the server.
    TemporarilyUnavailable,
    /// RFC 8628 §3.5 (registered for any endpoint): the client is sending requests too
    /// fast; answered with 429 and `Retry-After`.
    SlowDown,
    /// OpenID Connect Core §3.1.2.6: the Authorization Server requires End-User
    /// authentication (and `prompt=none` forbids asking).
    LoginRequired,
    /// The Authorization Server requires End-User consent.
    ConsentRequired,
    /// The Authorization Server requires End-User interaction of some form to proceed.
    InteractionRequired,
    /// The OP does not support use of the `request` parameter.
    RequestNotSupported,
    /// The OP does not support use of the `request_uri` parameter.
    RequestUriNotSupported,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::UnsupportedResponseType => "unsupported_response_type",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::LoginRequired => "login_required",
            ErrorCode::ConsentRequired => "consent_required",
            ErrorCode::InteractionRequired => "interaction_required",
            ErrorCode::RequestNotSupported => "request_not_supported",
            ErrorCode::RequestUriNotSupported => "request_uri_not_supported",
        }
    }
}

/// An error the protocol answers with: a code and a human-readable description for the
/// client's developer. Descriptions never carry secrets or internal detail.
///
/// The description is private, so every one passes through `new`, the one place that makes
/// it fit RFC 6749 §4.1.2.1 and §5.2, wherever it ends up (a JSON error, an error redirect
/// to the client, a page).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    description: String,
    /// Seconds to wait, for `SlowDown` (the `Retry-After` header).
    pub retry_after: Option<u64>,
}

/// The longest description sent, in bytes (all ASCII by then): descriptions quote
/// parameter names and values, which an attacker chooses.
pub const MAX_DESCRIPTION_BYTES: usize = 200;

/// RFC 6749 §4.1.2.1 and §5.2: `error_description` is `%x20-21 / %x23-5B / %x5D-7E`, so no
/// control character (no CR/LF to split a header or a log line), no `"` and no `\` (which
/// would break out of a quoted `WWW-Authenticate` parameter), and no non-ASCII.
fn describable(character: char) -> bool {
    matches!(character, '\u{20}'..='\u{21}' | '\u{23}'..='\u{5b}' | '\u{5d}'..='\u{7e}')
}

/// Replaces every character RFC 6749 does not allow in a description with `?`, and cuts it
/// to `MAX_DESCRIPTION_BYTES` (ending in `...` when cut).
fn sanitize(text: &str) -> String {
    let mut description: String = text
        .chars()
        .take(MAX_DESCRIPTION_BYTES + 1)
        .map(|character| {
            if describable(character) {
                character
            } else {
                '?'
            }
        })
        .collect();
    if description.len() > MAX_DESCRIPTION_BYTES {
        description.truncate(MAX_DESCRIPTION_BYTES - 3);
        description.push_str("...");
    }
    description
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> OAuthError {
        OAuthError {
            code,
            description: sanitize(&description.into()),
            retry_after: None,
        }
    }

    /// A rate limit was reached: try again in `seconds`.
    pub fn slow_down(what: &str, seconds: u64) -> OAuthError {
        OAuthError {
            retry_after: Some(seconds),
            ..OAuthError::new(
                ErrorCode::SlowDown,
                format!("too many requests from this {what}; try again in {seconds} s"),
            )
        }
    }

    /// The description: only RFC 6749's allowed characters, at most
    /// `MAX_DESCRIPTION_BYTES` of them.
    pub fn description(&self) -> &str {
        &self.description
    }

    pub fn invalid_request(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidGrant, description)
    }

    /// Storage failed: the caller should answer 503 and nothing was promised.
    pub fn unavailable() -> OAuthError {
        OAuthError::new(
            ErrorCode::TemporarilyUnavailable,
            "the server cannot store this right now; try again shortly",
        )
    }
}

impl fmt::Display for OAuthError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{}: {}", self.code.as_str(), self.description)
    }
}

impl From<crate::store::StoreError> for OAuthError {
    fn from(error: crate::store::StoreError) -> OAuthError {
        tracing::error!(%error, "storage failure");
        OAuthError::unavailable()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_hold_only_what_rfc_6749_allows_and_are_bounded() {
        let hostile = "a\r\nSet-Cookie: x=\"y\"\\ \u{e9}\u{a7}\u{0}\t\u{7f}\u{2028}!#[]~";
        let error = OAuthError::invalid_request(hostile);
        assert_eq!(error.description(), "a??Set-Cookie: x=?y?? ??????!#[]~");
        for character in error.description().chars() {
            assert!(describable(character), "{character:?}");
        }
        let long = OAuthError::invalid_request("x".repeat(10_000));
        assert_eq!(long.description().len(), MAX_DESCRIPTION_BYTES);
        assert!(long.description().ends_with("..."));
        let exact = OAuthError::invalid_request("y".repeat(MAX_DESCRIPTION_BYTES));
        assert_eq!(exact.description(), "y".repeat(MAX_DESCRIPTION_BYTES));
        // Everything in the allowed ranges passes unchanged.
        let allowed: String = (0x20u8..=0x7e)
            .filter(|byte| *byte != b'"' && *byte != b'\\')
            .map(char::from)
            .collect();
        assert_eq!(
            OAuthError::invalid_request(allowed.clone()).description(),
            allowed
        );
    }
}
