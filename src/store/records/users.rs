//! `users` values: `UserRecordV1`, sealed (personal data and the password hash).

use serde::{Deserialize, Serialize};

use crate::model::{DisplayName, Email, User, UserId, Username};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::USERS;
use crate::store::StoreError;

const USER_V1: u8 = 1;

/// A user, format 1. The id is the row's key, not a field.
#[derive(Serialize, Deserialize)]
struct UserRecordV1 {
    /// As the operator typed it, case kept.
    username: String,
    email: Option<String>,
    name: Option<String>,
    /// An argon2id PHC string; it carries its own parameters.
    password_hash: String,
    created_at: u64,
}

pub(crate) fn encode(user: &User) -> Vec<u8> {
    frame(
        USER_V1,
        &UserRecordV1 {
            username: user.username.as_str().to_owned(),
            email: user.email.as_ref().map(|email| email.as_str().to_owned()),
            name: user.name.as_ref().map(|name| name.as_str().to_owned()),
            password_hash: user.password_hash.clone(),
            created_at: user.created_at,
        },
    )
}

/// The user stored under `id`.
pub(crate) fn decode(id: UserId, bytes: &[u8]) -> Result<User, StoreError> {
    match split(USERS, bytes)? {
        (USER_V1, rest) => {
            let record: UserRecordV1 = body(USERS, rest)?;
            Ok(User {
                id,
                username: Username::from_stored(record.username),
                email: record.email.map(Email::from_stored),
                name: record.name.map(DisplayName::from_stored),
                password_hash: record.password_hash,
                created_at: record.created_at,
            })
        }
        (version, _) => Err(unknown_version(USERS, version, "1")),
    }
}
