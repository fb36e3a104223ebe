//! Authorization-request validation (RFC 6749 §4.1.1, RFC 7636 §4.3, RFC 9700 §4.1).
//!
//! The order matters: until the client and its redirect URI are known good, an error is
//! shown to the user and never redirected, or the endpoint would be an open redirector.

use serde::{Deserialize, Serialize};

use super::error::{ErrorCode, OAuthError};
use super::params::Params;
use super::pkce::CodeChallenge;
use crate::model::{Client, ClientId, GrantType, RedirectUri, Scope};

/// The longest `state` or `nonce` we carry back; they are echoed into URLs.
const MAX_ECHOED_LEN: usize = 1024;

/// A validated authorization request.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuthorizationRequest {
    pub client_id: ClientId,
    /// Where to send the user back: the URI the client sent, or the only one registered.
    pub redirect_uri: String,
    /// Whether the client sent `redirect_uri`; then the token request must repeat it
    /// (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub scope: Scope,
    pub state: Option<String>,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
}

/// Why a request was refused, and where the answer goes.
#[derive(Debug, PartialEq, Eq)]
pub enum AuthorizeError {
    /// The client or its redirect URI cannot be trusted: tell the user, never redirect.
    ShowToUser(String),
    /// The client is known and the redirect URI is registered: send the error there.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: OAuthError,
    },
}

/// Step one: the client, as named by `client_id`. The caller loads it from the store.
pub fn client_id(params: &Params) -> Result<ClientId, AuthorizeError> {
    let show = |error: OAuthError| AuthorizeError::ShowToUser(error.description().to_owned());
    let text = params.require("client_id").map_err(show)?;
    ClientId::parse(text).map_err(|_| {
        AuthorizeError::ShowToUser("The application that sent you here is not registered.".into())
    })
}

/// Step two: everything else, given the client the store found (or `None`).
pub fn validate(
    params: &Params,
    client: Option<&Client>,
) -> Result<AuthorizationRequest, AuthorizeError> {
    let show = |message: &str| AuthorizeError::ShowToUser(message.to_owned());
    let client =
        client.ok_or_else(|| show("The application that sent you here is not registered."))?;
    let sent = params
        .get("redirect_uri")
        .map_err(|_| show("The request names its redirect URI more than once."))?;
    let redirect_uri = match sent {
        Some(sent) => match_registered(&client.redirect_uris, sent)
            .ok_or_else(|| show("The application asked to send you to an address it has not registered."))?,
        None => match client.redirect_uris.as_slice() {
            [only] => only.as_str().to_owned(),
            [] => return Err(show("The application has no registered redirect URI.")),
            _ => {
                return Err(show(
                    "The application did not say where to send you back, and it has several addresses registered.",
                ))
            }
        },
    };

    // From here on the redirect URI is trusted. `state` is echoed even on errors, so read
    // it first; a repeated `state` cannot be echoed, so it is dropped from that answer.
    let state = params.get("state").ok().flatten().map(str::to_owned);
    let redirect = |error: OAuthError| AuthorizeError::Redirect {
        redirect_uri: redirect_uri.clone(),
        state: state.clone(),
        error,
    };
    params.reject_duplicates().map_err(redirect)?;
    if state
        .as_ref()
        .is_some_and(|state| state.len() > MAX_ECHOED_LEN)
    {
        return Err(redirect(OAuthError::invalid_request("state is too long")));
    }
    match params.get("response_type").map_err(redirect)? {
        Some("code") => {}
        Some(_) => {
            return Err(redirect(OAuthError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            )))
        }
        None => {
            return Err(redirect(OAuthError::invalid_request(
                "response_type is missing",
            )))
        }
    }
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(redirect(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not use the authorization code grant",
        )));
    }
    let scope = match params.get("scope").map_err(redirect)? {
        Some(text) => Scope::parse(text)
            .map_err(|invalid| redirect(OAuthError::new(ErrorCode::InvalidScope, invalid.0)))?,
        None => client.scope.clone(),
    };
    if !scope.is_subset_of(&client.scope) {
        return Err(redirect(OAuthError::new(
            ErrorCode::InvalidScope,
            "the requested scope exceeds what this client may request",
        )));
    }
    let code_challenge = match params.get("code_challenge").map_err(redirect)? {
        Some(challenge) => Some(
            CodeChallenge::parse(
                challenge,
                params.get("code_challenge_method").map_err(redirect)?,
            )
            .map_err(redirect)?,
        ),
        None if params.contains("code_challenge_method") => {
            return Err(redirect(OAuthError::invalid_request(
                "code_challenge_method was sent without code_challenge",
            )))
        }
        None if client.is_public() => {
            return Err(redirect(OAuthError::invalid_request(
                "PKCE is required: send code_challenge and code_challenge_method=S256",
            )))
        }
        None => None,
    };
    let nonce = params.get("nonce").map_err(redirect)?;
    if nonce.is_some_and(|nonce| nonce.len() > MAX_ECHOED_LEN) {
        return Err(redirect(OAuthError::invalid_request("nonce is too long")));
    }
    Ok(AuthorizationRequest {
        client_id: client.id,
        redirect_uri,
        redirect_uri_sent: sent.is_some(),
        scope,
        state,
        code_challenge: code_challenge.map(|challenge| challenge.as_str().to_owned()),
        nonce: nonce.map(str::to_owned),
    })
}

/// Exact string match against the registered URIs, except that a loopback `http` URI may
/// differ in port alone (RFC 8252 §7.3). Returns the URI to redirect to: the one sent.
pub fn match_registered(registered: &[RedirectUri], sent: &str) -> Option<String> {
    if registered.iter().any(|uri| uri.as_str() == sent) {
        return Some(sent.to_owned());
    }
    let without_port = |text: &str| -> Option<String> {
        let mut parsed = url::Url::parse(text).ok()?;
        // Only a URI already in canonical form can match: no case or encoding games.
        if parsed.as_str() != text || parsed.scheme() != "http" {
            return None;
        }
        let loopback = match parsed.host()? {
            url::Host::Ipv4(ip) => ip.is_loopback(),
            url::Host::Ipv6(ip) => ip.is_loopback(),
            url::Host::Domain(_) => false,
        };
        if !loopback {
            return None;
        }
        parsed.set_port(None).ok()?;
        Some(parsed.into())
    };
    let sent_without_port = without_port(sent)?;
    registered
        .iter()
        .any(|uri| without_port(uri.as_str()).as_deref() == Some(sent_without_port.as_str()))
        .then(|| sent.to_owned())
}

/// Builds the redirect back to the client: the registered URI with the response
/// parameters added to its query (RFC 6749 §4.1.2), always with `iss` (RFC 9207).
pub fn redirect_with(redirect_uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(redirect_uri) {
        Ok(mut url) => {
            {
                let mut query = url.query_pairs_mut();
                for (name, value) in pairs {
                    query.append_pair(name, value);
                }
            }
            url.into()
        }
        // Registered URIs were parsed at registration; this cannot happen, but a broken
        // record must not become a redirect somewhere else.
        Err(_) => "/".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(list: &[&str]) -> Vec<RedirectUri> {
        list.iter()
            .map(|uri| RedirectUri::parse(uri).unwrap())
            .collect()
    }

    #[test]
    fn redirect_uri_matching() {
        let registered = uris(&["https://app.example.com/cb", "http://127.0.0.1:8000/cb"]);
        let check = |sent: &str| match_registered(&registered, sent).is_some();
        assert!(check("https://app.example.com/cb"));
        assert!(check("http://127.0.0.1:8000/cb"));
        assert!(check("http://127.0.0.1:51234/cb"));
        assert!(check("http://127.0.0.1/cb"));
        for refused in [
            "https://app.example.com/cb/",
            "https://APP.example.com/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#f",
            "https://app.example.com/a/../cb",
            "https://user@app.example.com/cb",
            "https://app.example.com:8443/cb",
            "http://app.example.com/cb",
            "http://127.0.0.1:8000/cb/",
            "http://127.0.0.2:8000/cb",
            "http://localhost:8000/cb",
            "http://127.0.0.1:8000/%63b",
        ] {
            assert!(!check(refused), "{refused} must not match");
        }
    }

    #[test]
    fn redirect_keeps_registered_query() {
        assert_eq!(
            redirect_with(
                "https://a.example/cb?x=1",
                &[("code", "c d"), ("iss", "https://i")]
            ),
            "https://a.example/cb?x=1&code=c+d&iss=https%3A%2F%2Fi"
        );
    }
}
