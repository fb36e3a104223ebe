//! Consent: when to ask, and the ticket that binds a consent form to the request it
//! answers. The ticket is sealed, so hidden fields cannot be edited; it names the session
//! it was shown in and expires; its id is recorded when used, so a replayed POST does
//! nothing.

use serde::{Deserialize, Serialize};

use super::authorize::AuthorizationRequest;
use crate::model::{Client, Id, Scope, SecretHash, UnixTime, UserId};

/// How long a consent page may stay open before its form stops working.
pub const TICKET_TTL_SECONDS: u64 = 15 * 60;

#[derive(Serialize, Deserialize, Debug, Clone)]
pub struct ConsentTicket {
    pub id: Id,
    pub request: AuthorizationRequest,
    pub user_id: UserId,
    /// SHA-256 of the session cookie the page was shown under.
    pub session: [u8; 32],
    pub expires_at: UnixTime,
}

impl ConsentTicket {
    /// Whether this ticket may answer for `session` and `user` at `now`: it was shown in
    /// that very session, to that user, and has not expired. (Single use is the store's
    /// part: the ticket's id is recorded when it is used.)
    pub fn answers(&self, session: &SecretHash, user: UserId, now: UnixTime) -> bool {
        self.session == *session.as_bytes() && self.user_id == user && now < self.expires_at
    }
}

/// Whether the user must be asked. A remembered consent covers the same or a narrower
/// scope for a confidential client only: anyone can claim a public client's id, so its
/// user is asked every time (RFC 9700 §2.4 on public clients and consent).
pub fn needs_consent(client: &Client, remembered: Option<&Scope>, requested: &Scope) -> bool {
    client.is_public() || !remembered.is_some_and(|scope| requested.is_subset_of(scope))
}
