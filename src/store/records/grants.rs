//! The code flow's values: `CodeRecordV2` (`codes`), `GrantRecordV2` (`grants`),
//! `RefreshRecordV2` (`refresh_tokens`) and `ConsentRecordV1` (`consents`), all sealed.
//! Format 1 of the first three is still read: format 2 appends fields to it, and a format-1
//! record reads as having none of what they hold.

use serde::{Deserialize, Serialize};

use super::{resources_from_stored, resources_to_stored, scope_from_stored, scope_to_stored};
use crate::model::{ClientId, Id, SecretHash, UserId};
use crate::store::codec::{body, frame, split, unknown_version};
use crate::store::grants::{Code, CodeGrant, Consent, GraceSuccessor, Grant, RefreshToken};
use crate::store::tables::{CODES, CONSENTS, GRANTS, REFRESH_TOKENS};
use crate::store::StoreError;

const CODE_V1: u8 = 1;
const CODE_V2: u8 = 2;
const GRANT_V1: u8 = 1;
const GRANT_V2: u8 = 2;
const REFRESH_V1: u8 = 1;
const REFRESH_V2: u8 = 2;
const CONSENT_V1: u8 = 1;

/// An authorization code, format 1: what it was issued for, and once redeemed, the grant
/// it produced. The fields from `client_id` to `auth_time` are what the code grants
/// (`CodeGrant`), inline.
#[derive(Serialize, Deserialize)]
struct CodeRecordV1 {
    secret_hash: [u8; 32],
    client_id: [u8; 16],
    user_id: [u8; 16],
    redirect_uri: String,
    redirect_uri_sent: bool,
    scope: Vec<String>,
    /// The S256 challenge, 43 base64url characters.
    code_challenge: Option<String>,
    nonce: Option<String>,
    auth_time: u64,
    expires_at: u64,
    redeemed_into: Option<[u8; 16]>,
}

/// An authorization code, format 2 (schema 3): format 1's fields, then the resources the
/// authorization request asked for and the session it was approved in.
#[derive(Serialize, Deserialize)]
struct CodeRecordV2 {
    secret_hash: [u8; 32],
    client_id: [u8; 16],
    user_id: [u8; 16],
    redirect_uri: String,
    redirect_uri_sent: bool,
    scope: Vec<String>,
    code_challenge: Option<String>,
    nonce: Option<String>,
    auth_time: u64,
    expires_at: u64,
    redeemed_into: Option<[u8; 16]>,
    /// RFC 8707 resource indicators: the tokens' audience.
    resources: Vec<String>,
    /// The opaque session id for the ID token's `sid` claim.
    sid: Option<[u8; 16]>,
}

/// A grant, format 1. `id` repeats the row's key.
#[derive(Serialize, Deserialize)]
struct GrantRecordV1 {
    id: [u8; 16],
    client_id: [u8; 16],
    user_id: [u8; 16],
    scope: Vec<String>,
    created_at: u64,
    auth_time: u64,
    expires_at: u64,
    last_used: u64,
}

/// A grant, format 2 (schema 3): format 1's fields, then, carried over from its code, the
/// resources and the session id.
#[derive(Serialize, Deserialize)]
struct GrantRecordV2 {
    id: [u8; 16],
    client_id: [u8; 16],
    user_id: [u8; 16],
    scope: Vec<String>,
    created_at: u64,
    auth_time: u64,
    expires_at: u64,
    last_used: u64,
    resources: Vec<String>,
    sid: Option<[u8; 16]>,
}

/// A refresh token, format 1.
#[derive(Serialize, Deserialize)]
struct RefreshRecordV1 {
    grant_id: [u8; 16],
    secret_hash: [u8; 32],
    expires_at: u64,
    rotated: bool,
}

/// A refresh token, format 2 (schema 3): format 1's fields, then the successor a just-rotated
/// token may hand out again within `--refresh-reuse-grace`.
#[derive(Serialize, Deserialize)]
struct RefreshRecordV2 {
    grant_id: [u8; 16],
    secret_hash: [u8; 32],
    expires_at: u64,
    rotated: bool,
    grace: Option<RefreshGraceV2>,
}

/// A rotated token's successor, within the grace. The secret is in plain text inside the
/// sealed record: a stated exception to hash-only storage, kept only until `until` (the
/// sweeper erases it then).
#[derive(Serialize, Deserialize)]
struct RefreshGraceV2 {
    successor_id: [u8; 16],
    successor_secret: String,
    until: u64,
}

/// A remembered consent, format 1. The row's key names the user and the client.
#[derive(Serialize, Deserialize)]
struct ConsentRecordV1 {
    scope: Vec<String>,
    granted_at: u64,
}

pub(crate) fn encode_code(code: &Code) -> Vec<u8> {
    let grant = &code.grant;
    frame(
        CODE_V2,
        &CodeRecordV2 {
            secret_hash: *code.secret_hash.as_bytes(),
            client_id: *grant.client_id.0.as_bytes(),
            user_id: *grant.user_id.0.as_bytes(),
            redirect_uri: grant.redirect_uri.clone(),
            redirect_uri_sent: grant.redirect_uri_sent,
            scope: scope_to_stored(&grant.scope),
            code_challenge: grant.code_challenge.clone(),
            nonce: grant.nonce.clone(),
            auth_time: grant.auth_time,
            expires_at: code.expires_at,
            redeemed_into: code.redeemed_into.map(|id| *id.as_bytes()),
            resources: resources_to_stored(&grant.resources),
            sid: grant.sid,
        },
    )
}

/// Format 1, as keyward 0.1 and 0.2 wrote it: for the tests that prove its reader loses
/// nothing.
#[cfg(test)]
pub(crate) fn encode_code_v1(code: &Code) -> Vec<u8> {
    let grant = &code.grant;
    frame(
        CODE_V1,
        &CodeRecordV1 {
            secret_hash: *code.secret_hash.as_bytes(),
            client_id: *grant.client_id.0.as_bytes(),
            user_id: *grant.user_id.0.as_bytes(),
            redirect_uri: grant.redirect_uri.clone(),
            redirect_uri_sent: grant.redirect_uri_sent,
            scope: scope_to_stored(&grant.scope),
            code_challenge: grant.code_challenge.clone(),
            nonce: grant.nonce.clone(),
            auth_time: grant.auth_time,
            expires_at: code.expires_at,
            redeemed_into: code.redeemed_into.map(|id| *id.as_bytes()),
        },
    )
}

pub(crate) fn decode_code(bytes: &[u8]) -> Result<Code, StoreError> {
    match split(CODES, bytes)? {
        (CODE_V2, rest) => {
            let record: CodeRecordV2 = body(CODES, rest)?;
            Ok(Code {
                secret_hash: SecretHash::from_bytes(record.secret_hash),
                grant: CodeGrant {
                    client_id: ClientId(Id::from_bytes(record.client_id)),
                    user_id: UserId(Id::from_bytes(record.user_id)),
                    redirect_uri: record.redirect_uri,
                    redirect_uri_sent: record.redirect_uri_sent,
                    scope: scope_from_stored(record.scope),
                    code_challenge: record.code_challenge,
                    nonce: record.nonce,
                    auth_time: record.auth_time,
                    resources: resources_from_stored(record.resources),
                    sid: record.sid,
                },
                expires_at: record.expires_at,
                redeemed_into: record.redeemed_into.map(Id::from_bytes),
            })
        }
        // Issued before resource indicators and session ids: it asked for neither.
        (CODE_V1, rest) => {
            let record: CodeRecordV1 = body(CODES, rest)?;
            Ok(Code {
                secret_hash: SecretHash::from_bytes(record.secret_hash),
                grant: CodeGrant {
                    client_id: ClientId(Id::from_bytes(record.client_id)),
                    user_id: UserId(Id::from_bytes(record.user_id)),
                    redirect_uri: record.redirect_uri,
                    redirect_uri_sent: record.redirect_uri_sent,
                    scope: scope_from_stored(record.scope),
                    code_challenge: record.code_challenge,
                    nonce: record.nonce,
                    auth_time: record.auth_time,
                    resources: Vec::new(),
                    sid: None,
                },
                expires_at: record.expires_at,
                redeemed_into: record.redeemed_into.map(Id::from_bytes),
            })
        }
        (version, _) => Err(unknown_version(CODES, version, "1 or 2")),
    }
}

pub(crate) fn encode_grant(grant: &Grant) -> Vec<u8> {
    frame(
        GRANT_V2,
        &GrantRecordV2 {
            id: *grant.id.as_bytes(),
            client_id: *grant.client_id.0.as_bytes(),
            user_id: *grant.user_id.0.as_bytes(),
            scope: scope_to_stored(&grant.scope),
            created_at: grant.created_at,
            auth_time: grant.auth_time,
            expires_at: grant.expires_at,
            last_used: grant.last_used,
            resources: resources_to_stored(&grant.resources),
            sid: grant.sid,
        },
    )
}

/// Format 1, as keyward 0.1 and 0.2 wrote it: for the tests that prove its reader loses
/// nothing.
#[cfg(test)]
pub(crate) fn encode_grant_v1(grant: &Grant) -> Vec<u8> {
    frame(
        GRANT_V1,
        &GrantRecordV1 {
            id: *grant.id.as_bytes(),
            client_id: *grant.client_id.0.as_bytes(),
            user_id: *grant.user_id.0.as_bytes(),
            scope: scope_to_stored(&grant.scope),
            created_at: grant.created_at,
            auth_time: grant.auth_time,
            expires_at: grant.expires_at,
            last_used: grant.last_used,
        },
    )
}

pub(crate) fn decode_grant(bytes: &[u8]) -> Result<Grant, StoreError> {
    match split(GRANTS, bytes)? {
        (GRANT_V2, rest) => {
            let record: GrantRecordV2 = body(GRANTS, rest)?;
            Ok(Grant {
                id: Id::from_bytes(record.id),
                client_id: ClientId(Id::from_bytes(record.client_id)),
                user_id: UserId(Id::from_bytes(record.user_id)),
                scope: scope_from_stored(record.scope),
                created_at: record.created_at,
                auth_time: record.auth_time,
                expires_at: record.expires_at,
                last_used: record.last_used,
                resources: resources_from_stored(record.resources),
                sid: record.sid,
            })
        }
        (GRANT_V1, rest) => {
            let record: GrantRecordV1 = body(GRANTS, rest)?;
            Ok(Grant {
                id: Id::from_bytes(record.id),
                client_id: ClientId(Id::from_bytes(record.client_id)),
                user_id: UserId(Id::from_bytes(record.user_id)),
                scope: scope_from_stored(record.scope),
                created_at: record.created_at,
                auth_time: record.auth_time,
                expires_at: record.expires_at,
                last_used: record.last_used,
                resources: Vec::new(),
                sid: None,
            })
        }
        (version, _) => Err(unknown_version(GRANTS, version, "1 or 2")),
    }
}

pub(crate) fn encode_refresh(token: &RefreshToken) -> Vec<u8> {
    frame(
        REFRESH_V2,
        &RefreshRecordV2 {
            grant_id: *token.grant_id.as_bytes(),
            secret_hash: *token.secret_hash.as_bytes(),
            expires_at: token.expires_at,
            rotated: token.rotated,
            grace: token.grace.as_ref().map(|grace| RefreshGraceV2 {
                successor_id: *grace.id.as_bytes(),
                successor_secret: grace.secret.clone(),
                until: grace.until,
            }),
        },
    )
}

/// Format 1, as keyward 0.1 and 0.2 wrote it: for the tests that prove its reader loses
/// nothing.
#[cfg(test)]
pub(crate) fn encode_refresh_v1(token: &RefreshToken) -> Vec<u8> {
    frame(
        REFRESH_V1,
        &RefreshRecordV1 {
            grant_id: *token.grant_id.as_bytes(),
            secret_hash: *token.secret_hash.as_bytes(),
            expires_at: token.expires_at,
            rotated: token.rotated,
        },
    )
}

pub(crate) fn decode_refresh(bytes: &[u8]) -> Result<RefreshToken, StoreError> {
    match split(REFRESH_TOKENS, bytes)? {
        (REFRESH_V2, rest) => {
            let record: RefreshRecordV2 = body(REFRESH_TOKENS, rest)?;
            Ok(RefreshToken {
                grant_id: Id::from_bytes(record.grant_id),
                secret_hash: SecretHash::from_bytes(record.secret_hash),
                expires_at: record.expires_at,
                rotated: record.rotated,
                grace: record.grace.map(|grace| GraceSuccessor {
                    id: Id::from_bytes(grace.successor_id),
                    secret: grace.successor_secret,
                    until: grace.until,
                }),
            })
        }
        // Rotated before the grace existed: no successor to hand out again.
        (REFRESH_V1, rest) => {
            let record: RefreshRecordV1 = body(REFRESH_TOKENS, rest)?;
            Ok(RefreshToken {
                grant_id: Id::from_bytes(record.grant_id),
                secret_hash: SecretHash::from_bytes(record.secret_hash),
                expires_at: record.expires_at,
                rotated: record.rotated,
                grace: None,
            })
        }
        (version, _) => Err(unknown_version(REFRESH_TOKENS, version, "1 or 2")),
    }
}

pub(crate) fn encode_consent(consent: &Consent) -> Vec<u8> {
    frame(
        CONSENT_V1,
        &ConsentRecordV1 {
            scope: scope_to_stored(&consent.scope),
            granted_at: consent.granted_at,
        },
    )
}

pub(crate) fn decode_consent(bytes: &[u8]) -> Result<Consent, StoreError> {
    match split(CONSENTS, bytes)? {
        (CONSENT_V1, rest) => {
            let record: ConsentRecordV1 = body(CONSENTS, rest)?;
            Ok(Consent {
                scope: scope_from_stored(record.scope),
                granted_at: record.granted_at,
            })
        }
        (version, _) => Err(unknown_version(CONSENTS, version, "1")),
    }
}
