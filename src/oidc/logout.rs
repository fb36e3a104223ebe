//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): what a request to the
//! end-session endpoint may lead to. The HTTP side ends the session; this decides where the
//! browser may go afterwards, and whether the request names the signed-in user.
//!
//! The browser goes back to the application only when a valid `id_token_hint` names the
//! application (§2: without one "the OP MUST NOT perform post-logout redirection") and the
//! `post_logout_redirect_uri` is one it registered, byte for byte. Otherwise (no hint, an
//! address it did not register, a `client_id` that is not the hint's audience) the user
//! still signs out, after confirming, and sees the signed-out page: the request was for a
//! sign-out, and only the redirect is unproven. A malformed request is an error page;
//! nothing is ever redirected to an address the request made up.

use std::sync::Arc;

use super::hint;
use super::keyring::KeyRing;
use crate::model::{ClientId, UserId};
use crate::oauth::authorize::redirect_with;
use crate::oauth::Params;
use crate::store::{Store, StoreError};

/// The longest `state` carried back.
const MAX_STATE: usize = 1024;

/// The parameters of the specification; a confirmation form carries them back.
pub const PARAMETERS: [&str; 4] = [
    "id_token_hint",
    "post_logout_redirect_uri",
    "state",
    "client_id",
];

/// A logout request that may go ahead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logout {
    /// Where to send the browser once the session has ended, `state` included.
    pub redirect: Option<String>,
    /// The application that asked, as far as the request proves it.
    pub client_name: Option<String>,
    /// The user and session a valid hint names: when that is the browser's own session, no
    /// confirmation is needed (the application could only have the hint from that sign-in;
    /// an ID token of an earlier session proves nothing about this one).
    pub hinted_user: Option<UserId>,
    pub hinted_sid: Option<String>,
}

/// Why a logout request is refused, in words for the user.
#[derive(Debug)]
pub enum LogoutRefused {
    Invalid(String),
    Storage(StoreError),
}

impl From<StoreError> for LogoutRefused {
    fn from(error: StoreError) -> LogoutRefused {
        LogoutRefused::Storage(error)
    }
}

pub struct EndSession {
    store: Store,
    keys: Arc<KeyRing>,
    issuer: String,
}

fn invalid(message: impl Into<String>) -> LogoutRefused {
    LogoutRefused::Invalid(message.into())
}

impl EndSession {
    pub fn new(store: Store, keys: Arc<KeyRing>, issuer: String) -> EndSession {
        EndSession {
            store,
            keys,
            issuer,
        }
    }

    pub fn validate(&self, params: &Params) -> Result<Logout, LogoutRefused> {
        params
            .reject_duplicates()
            .map_err(|error| invalid(error.description()))?;
        let get = |name| {
            params
                .get(name)
                .map_err(|error| invalid(error.description()))
        };
        let hint = match get("id_token_hint")? {
            Some(token) => {
                let keys = self.keys.keys().map_err(|error| {
                    tracing::error!(%error, "signing keys unavailable");
                    invalid("Signing out cannot be checked right now. Try again in a moment.")
                })?;
                match hint::read(&keys, &self.issuer, token) {
                    Ok(hint) => Some(hint),
                    // An old ID token whose key has left the JWKS still asks for a sign-out;
                    // it just proves nothing, so the user confirms and stays here.
                    Err(hint::HintRejected::UnknownKey) => None,
                    Err(rejected) => return Err(invalid(format!("The application's {rejected}."))),
                }
            }
            None => None,
        };
        let hinted_client = match &hint {
            Some(hint) => Some(
                hint.client()
                    .and_then(|client| ClientId::parse_presented(client).ok())
                    .ok_or_else(|| invalid("The id_token_hint names no application of ours."))?,
            ),
            None => None,
        };
        let named_client =
            match get("client_id")? {
                Some(text) => Some(ClientId::parse_presented(text).map_err(|_| {
                    invalid("The application that sent you here is not registered.")
                })?),
                None => None,
            };
        // A client_id other than the hint's audience: the two disagree about who asks, so
        // neither is believed (no redirect, no name, a confirmation).
        let disagree =
            matches!((hinted_client, named_client), (Some(hinted), Some(named)) if hinted != named);
        let (hint, hinted_client) = if disagree {
            (None, None)
        } else {
            (hint, hinted_client)
        };
        let client =
            match hinted_client.or(named_client) {
                Some(id) => Some(self.store.client(id)?.ok_or_else(|| {
                    invalid("The application that sent you here is not registered.")
                })?),
                None => None,
            };
        let state = get("state")?;
        if state.is_some_and(|state| state.len() > MAX_STATE) {
            return Err(invalid("The state parameter is too long."));
        }
        let mut unregistered = false;
        let redirect = match (get("post_logout_redirect_uri")?, &client, hinted_client) {
            (None, _, _) => None,
            (Some(sent), Some(client), Some(_)) => {
                if client
                    .post_logout_redirect_uris
                    .iter()
                    .any(|uri| uri.as_str() == sent)
                {
                    // Byte for byte as registered; re-serialized only to add the state.
                    Some(match state {
                        Some(state) => redirect_with(sent, &[("state", state)]),
                        None => sent.to_owned(),
                    })
                } else {
                    unregistered = true;
                    None
                }
            }
            // Without a hint nothing proves the application sent the request: stay here.
            (Some(_), _, _) => None,
        };
        // A request that asked for an address it may not have proves nothing about the
        // session either: the user confirms.
        let hint = hint.filter(|_| !unregistered);
        let hinted_sid = hint.as_ref().and_then(|hint| hint.sid.clone());
        let hinted_user = hint.and_then(|hint| UserId::parse(&hint.sub).ok());
        // A bare client_id proves nothing: only a hint may put an app's name on the page.
        let client_name = client
            .filter(|_| hinted_client.is_some())
            .map(|client| client.name.as_str().to_owned());
        Ok(Logout {
            redirect,
            client_name,
            hinted_user,
            hinted_sid,
        })
    }
}
