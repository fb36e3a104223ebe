//! `users` values: `UserRecordV3` (formats 1 and 2, `UserRecordV1` and `UserRecordV2`, still
//! read), sealed (personal data and the password hash).

use serde::{Deserialize, Serialize};

use crate::model::{DisplayName, Email, User, UserId, Username};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::tables::USERS;
use crate::store::StoreError;

const USER_V1: u8 = 1;
const USER_V2: u8 = 2;
const USER_V3: u8 = 3;

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

/// A user, format 2 (schema 3): format 1's fields, then what OpenID Connect's claims need.
#[derive(Serialize, Deserialize)]
struct UserRecordV2 {
    username: String,
    email: Option<String>,
    name: Option<String>,
    password_hash: String,
    created_at: u64,
    email_verified: bool,
    /// When the profile last changed (the `updated_at` claim).
    updated_at: u64,
}

/// A user, format 3 (schema 5): format 2's fields, then whether the operator lets them
/// register apps (`user set --developer`).
#[derive(Serialize, Deserialize)]
struct UserRecordV3 {
    username: String,
    email: Option<String>,
    name: Option<String>,
    password_hash: String,
    created_at: u64,
    email_verified: bool,
    updated_at: u64,
    developer: bool,
}

pub(crate) fn encode(user: &User) -> Vec<u8> {
    frame(
        USER_V3,
        &UserRecordV3 {
            username: user.username.as_str().to_owned(),
            email: user.email.as_ref().map(|email| email.as_str().to_owned()),
            name: user.name.as_ref().map(|name| name.as_str().to_owned()),
            password_hash: user.password_hash.clone(),
            created_at: user.created_at,
            email_verified: user.email_verified,
            updated_at: user.updated_at,
            developer: user.developer,
        },
    )
}

/// Format 2, as keyward 0.3 and 0.4 wrote it: for the tests that prove its reader loses
/// nothing.
#[cfg(test)]
pub(crate) fn encode_v2(user: &User) -> Vec<u8> {
    frame(
        USER_V2,
        &UserRecordV2 {
            username: user.username.as_str().to_owned(),
            email: user.email.as_ref().map(|email| email.as_str().to_owned()),
            name: user.name.as_ref().map(|name| name.as_str().to_owned()),
            password_hash: user.password_hash.clone(),
            created_at: user.created_at,
            email_verified: user.email_verified,
            updated_at: user.updated_at,
        },
    )
}

/// Format 1, as keyward 0.1 and 0.2 wrote it: for the tests that prove its reader loses
/// nothing.
#[cfg(test)]
pub(crate) fn encode_v1(user: &User) -> Vec<u8> {
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
        (USER_V3, rest) => {
            let record: UserRecordV3 = body(USERS, rest)?;
            Ok(User {
                id,
                username: Username::from_stored(record.username),
                email: record.email.map(Email::from_stored),
                name: record.name.map(DisplayName::from_stored),
                password_hash: record.password_hash,
                created_at: record.created_at,
                email_verified: record.email_verified,
                updated_at: record.updated_at,
                developer: record.developer,
            })
        }
        // Nobody could be a developer before format 3.
        (USER_V2, rest) => {
            let record: UserRecordV2 = body(USERS, rest)?;
            Ok(User {
                id,
                username: Username::from_stored(record.username),
                email: record.email.map(Email::from_stored),
                name: record.name.map(DisplayName::from_stored),
                password_hash: record.password_hash,
                created_at: record.created_at,
                email_verified: record.email_verified,
                updated_at: record.updated_at,
                developer: false,
            })
        }
        // Nobody vouched for an address before format 2 could say so; the profile has not
        // changed since the user was made (no command changed it).
        (USER_V1, rest) => {
            let record: UserRecordV1 = body(USERS, rest)?;
            Ok(User {
                id,
                username: Username::from_stored(record.username),
                email: record.email.map(Email::from_stored),
                name: record.name.map(DisplayName::from_stored),
                password_hash: record.password_hash,
                created_at: record.created_at,
                email_verified: false,
                updated_at: record.created_at,
                developer: false,
            })
        }
        (version, _) => Err(unknown_version(USERS, version, "1, 2 or 3")),
    }
}
