//! `sessions` values: `SessionRecordV1`, sealed. The row's key is the SHA-256 of the
//! cookie; the cookie itself is stored nowhere.

use serde::{Deserialize, Serialize};

use crate::model::{Id, UserId};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::SESSIONS;
use crate::store::{Session, StoreError};

const SESSION_V1: u8 = 1;

/// A browser session, format 1.
#[derive(Serialize, Deserialize)]
struct SessionRecordV1 {
    user_id: [u8; 16],
    auth_time: u64,
    expires_at: u64,
}

pub(crate) fn encode(session: &Session) -> Vec<u8> {
    frame(
        SESSION_V1,
        &SessionRecordV1 {
            user_id: *session.user_id.0.as_bytes(),
            auth_time: session.auth_time,
            expires_at: session.expires_at,
        },
    )
}

pub(crate) fn decode(bytes: &[u8]) -> Result<Session, StoreError> {
    match split(SESSIONS, bytes)? {
        (SESSION_V1, rest) => {
            let record: SessionRecordV1 = body(SESSIONS, rest)?;
            Ok(Session {
                user_id: UserId(Id::from_bytes(record.user_id)),
                auth_time: record.auth_time,
                expires_at: record.expires_at,
            })
        }
        (version, _) => Err(unknown_version(SESSIONS, version, "1")),
    }
}
