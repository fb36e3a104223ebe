//! Codes, grants, refresh tokens and remembered consents: the security state of the
//! authorization code flow. Every change here is one write job, so a redemption, a rotation
//! or a replay's revocation lands whole or not at all.
//!
//! The protocol decides (`oauth/`), the store applies: checks that must be atomic with a
//! state change (is this code still unused, does it belong to this client) arrive as
//! closures and run inside the write job, before it writes.

use super::codec::{seal, unseal};
use super::records::grants::{
    decode_code, decode_consent, decode_grant, decode_refresh, encode_code, encode_consent,
    encode_grant, encode_refresh,
};
use super::records::values::{decode_expiry, decode_fence, encode_expiry, encode_fence};
use super::tables::{
    expiry_key, pair_key, ExpiryKind, Table, CLIENT_GRANTS, CODES, CODE_FENCES, CONSENTS, EXPIRY,
    GRANTS, REFRESH_TOKENS, REVOKED_ACCESS, USED_TICKETS, USERS, USER_GRANTS,
};
use super::writer::Tx;
use super::{Store, StoreError};
use crate::model::{ClientId, Id, ResourceUri, Scope, SecretHash, UnixTime, UserId};

/// What an authorization code was issued for (RFC 6749 §4.1.2, RFC 7636 §4.4).
#[derive(Clone, Debug)]
pub struct CodeGrant {
    pub client_id: ClientId,
    pub user_id: UserId,
    pub redirect_uri: String,
    /// Whether the authorization request named the redirect URI; if so the token request
    /// must repeat it (RFC 6749 §4.1.3).
    pub redirect_uri_sent: bool,
    pub scope: Scope,
    pub code_challenge: Option<String>,
    pub nonce: Option<String>,
    pub auth_time: UnixTime,
    /// The RFC 8707 resources the request asked for: the audience of its tokens.
    pub resources: Vec<ResourceUri>,
    /// An opaque id of the session it was approved in, for the ID token's `sid` claim.
    pub sid: Option<[u8; 16]>,
}

/// A stored authorization code (its bytes: `records::grants::CodeRecordV2`).
pub(super) struct Code {
    pub(super) secret_hash: SecretHash,
    pub(super) grant: CodeGrant,
    pub(super) expires_at: UnixTime,
    /// Set on redemption. A second redemption finds it and ends that grant (RFC 6749 §4.1.2).
    pub(super) redeemed_into: Option<Id>,
}

/// A user's approval of a client, as tokens see it. Deleting it ends every token of it.
/// (Its bytes: `records::grants::GrantRecordV2`.)
#[derive(Clone, Debug)]
pub struct Grant {
    pub id: Id,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub scope: Scope,
    pub created_at: UnixTime,
    pub auth_time: UnixTime,
    /// When its last token dies: the newest refresh token's expiry, or, without refresh
    /// tokens, the first access token's. The sweeper deletes the grant then.
    pub expires_at: UnixTime,
    /// When the client last obtained tokens from it.
    pub last_used: UnixTime,
    /// The resources of the code it was redeemed from.
    pub resources: Vec<ResourceUri>,
    /// The session id of the code it was redeemed from (the ID token's `sid`).
    pub sid: Option<[u8; 16]>,
}

/// A stored refresh token (its bytes: `records::grants::RefreshRecordV2`).
pub(super) struct RefreshToken {
    pub(super) grant_id: Id,
    pub(super) secret_hash: SecretHash,
    pub(super) expires_at: UnixTime,
    pub(super) rotated: bool,
    /// Set on a rotation made with a grace (`Rotation::grace`): the successor it may hand
    /// out again until then.
    pub(super) grace: Option<GraceSuccessor>,
}

/// The successor of a rotated refresh token, kept for `--refresh-reuse-grace`: a second
/// presentation of the rotated token within the grace, by its own client, may be answered
/// with this same successor instead of ending the grant (two tabs refreshing at once).
#[derive(Clone, PartialEq, Eq)]
pub struct GraceSuccessor {
    pub id: Id,
    /// In plain text, inside the sealed record: the one secret keyward keeps other than as
    /// a hash, and only until `until`, after which the sweeper erases it.
    pub secret: String,
    pub until: UnixTime,
}

impl std::fmt::Debug for GraceSuccessor {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("GraceSuccessor")
            .field("id", &self.id)
            .field("secret", &"<redacted>")
            .field("until", &self.until)
            .finish()
    }
}

/// The grace a rotation grants its successor: the successor's secret (the one whose hash is
/// `Rotation::next_secret_hash`) and the end of the grace.
pub struct RefreshGrace {
    pub secret: String,
    pub until: UnixTime,
}

/// A refresh token accepted at the token endpoint: its grant, and the refresh token that
/// answers it.
#[derive(Debug)]
pub struct Refreshed {
    pub grant: Grant,
    /// `None`: the rotation's `next_id` was written and answers. `Some`: the presented token
    /// had already been rotated, within its reuse grace, and this successor (still live) is
    /// handed out again; nothing new was written.
    pub reissued: Option<GraceSuccessor>,
}

/// A remembered consent (its bytes: `records::grants::ConsentRecordV1`).
pub(super) struct Consent {
    pub(super) scope: Scope,
    pub(super) granted_at: UnixTime,
}

/// A new refresh token to store: its id, the hash of its secret, and when it dies.
pub struct NewRefreshToken {
    pub id: Id,
    pub secret_hash: SecretHash,
    pub expires_at: UnixTime,
}

/// Outcome of presenting a code or a refresh token.
#[derive(Debug)]
pub enum Presented<R, A = Grant> {
    /// Accepted: the (new or existing) grant, and the refresh token written for it.
    Accepted(A),
    /// No such code or token, or its secret is wrong.
    Unknown,
    Expired,
    /// Already used: the grant it produced has been ended.
    Replayed,
    /// Issued before its user revoked the app, or its user is gone; nothing changed.
    Revoked,
    /// The caller's check refused it; nothing changed.
    Rejected(R),
}

/// A code accepted at the token endpoint: the grant it became, and what the ID token needs
/// of the authorization request that is not kept in the grant.
#[derive(Debug)]
pub struct RedeemedCode {
    pub grant: Grant,
    /// The request's `nonce`, echoed once, in the ID token of this redemption only.
    pub nonce: Option<String>,
}

/// Why `issue_code` stored no code.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CodeNotIssued {
    /// The consent ticket it answers was already used: a replayed consent POST.
    #[error("the consent ticket was already used")]
    TicketUsed,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// Why `consume_ticket` recorded nothing.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TicketNotConsumed {
    /// It was used before.
    #[error("the ticket was already used")]
    AlreadyUsed,
    #[error(transparent)]
    Storage(#[from] StoreError),
}

/// A refresh token presented at the token endpoint, and the one to replace it with. The
/// replacement's expiry is the caller's check's to decide, since it depends on the grant.
pub struct Rotation {
    pub token_id: Id,
    pub secret: String,
    pub now: UnixTime,
    pub next_id: Id,
    pub next_secret_hash: SecretHash,
    /// With `--refresh-reuse-grace`: the presented token keeps its successor (`next_id`)
    /// until then. `None` keeps no successor, as before the grace existed.
    pub grace: Option<RefreshGrace>,
}

/// A code presented at the token endpoint, and what to write if it is accepted.
pub struct Redemption {
    pub code_id: Id,
    pub secret: String,
    pub now: UnixTime,
    /// The id of the grant to create.
    pub grant_id: Id,
    /// The first refresh token, if the client may refresh.
    pub refresh: Option<NewRefreshToken>,
    /// When the first access token expires: the grant's lifetime without refresh tokens.
    pub access_expires_at: UnixTime,
}

/// A code to store, with the consent decision that produced it.
pub struct NewCode {
    pub id: Id,
    pub secret_hash: SecretHash,
    pub grant: CodeGrant,
    pub expires_at: UnixTime,
    /// Remember this consent for (user, client): set when the user approved on the consent
    /// page, for a confidential client.
    pub remember_consent: bool,
    /// The consent ticket this code answers, single use, kept until it expires.
    pub ticket: Option<(Id, UnixTime)>,
}

fn consent_key(user_id: UserId, client_id: ClientId) -> [u8; 32] {
    pair_key(user_id.0.as_bytes(), client_id.0.as_bytes())
}

/// Ends the codes a user was issued for a client until now (`now_millis`): written with
/// every revocation of the app, so a code the client already held cannot be redeemed into a
/// new grant afterwards. Never moves backwards.
fn raise_code_fence(
    tx: &mut Tx<'_>,
    user_id: UserId,
    client_id: ClientId,
    now_millis: u64,
) -> Result<(), StoreError> {
    let key = consent_key(user_id, client_id);
    let earlier = match tx.get(CODE_FENCES, &key)? {
        Some(bytes) => decode_fence(&bytes)?,
        None => 0,
    };
    if earlier < now_millis {
        tx.insert(CODE_FENCES, &key, &encode_fence(now_millis))?;
    }
    Ok(())
}

/// Whether a code was issued at or before the last revocation of its (user, client): its
/// id carries the millisecond it was made (`Id::millis`).
fn code_fenced(tx: &mut Tx<'_>, code_id: Id, grant: &CodeGrant) -> Result<bool, StoreError> {
    let key = consent_key(grant.user_id, grant.client_id);
    Ok(match tx.get(CODE_FENCES, &key)? {
        Some(bytes) => code_id.millis() <= decode_fence(&bytes)?,
        None => false,
    })
}

/// Removes every code fence of a user (the user is being deleted; their codes die with the
/// user record, which redemption checks).
pub(super) fn remove_code_fences(tx: &mut Tx<'_>, user_id: UserId) -> Result<(), StoreError> {
    for key in tx.keys_with_prefix(CODE_FENCES, user_id.0.as_bytes())? {
        tx.remove(CODE_FENCES, &key)?;
    }
    Ok(())
}

fn user_exists(tx: &mut Tx<'_>, user_id: UserId) -> Result<bool, StoreError> {
    Ok(tx.get(USERS, user_id.0.as_bytes())?.is_some())
}

pub(super) fn insert_expiring(
    tx: &mut Tx<'_>,
    table: Table,
    kind: ExpiryKind,
    key: &[u8],
    value: &[u8],
    expires_at: UnixTime,
) -> Result<(), StoreError> {
    tx.insert(table, key, value)?;
    tx.insert(EXPIRY, &expiry_key(expires_at, kind, key), &[])
}

fn load_grant(tx: &mut Tx<'_>, id: Id) -> Result<Option<Grant>, StoreError> {
    load_grant_record(tx, id.as_bytes())
}

pub(super) fn load_grant_record(tx: &mut Tx<'_>, key: &[u8]) -> Result<Option<Grant>, StoreError> {
    tx.get(GRANTS, key)?
        .map(|bytes| decode_grant(&unseal(tx.sealer, GRANTS, key, &bytes)?))
        .transpose()
}

/// Deletes a grant and its index entries; its tokens die with it. Returns whether it existed.
pub(super) fn remove_grant(tx: &mut Tx<'_>, key: &[u8]) -> Result<bool, StoreError> {
    let Some(grant) = load_grant_record(tx, key)? else {
        return Ok(false);
    };
    tx.remove(GRANTS, key)?;
    tx.remove(
        USER_GRANTS,
        &pair_key(grant.user_id.0.as_bytes(), grant.id.as_bytes()),
    )?;
    tx.remove(
        CLIENT_GRANTS,
        &pair_key(grant.client_id.0.as_bytes(), grant.id.as_bytes()),
    )?;
    Ok(true)
}

/// Whether the successor a rotated token kept for its grace still works as a refresh token
/// of `grant`: not rotated in turn, not expired, and its user still there.
fn successor_live(
    tx: &mut Tx<'_>,
    successor: &GraceSuccessor,
    grant: &Grant,
    now: UnixTime,
) -> Result<bool, StoreError> {
    let key = successor.id.as_bytes();
    let Some(bytes) = tx.get(REFRESH_TOKENS, key)? else {
        return Ok(false);
    };
    let record = decode_refresh(&unseal(tx.sealer, REFRESH_TOKENS, key, &bytes)?)?;
    Ok(!record.rotated
        && now < record.expires_at
        && record.grant_id == grant.id
        && record.secret_hash.matches(&successor.secret)
        && user_exists(tx, grant.user_id)?)
}

/// What the sweeper needs to know of an expired refresh token.
pub(super) enum RefreshMarker {
    Missing,
    Unrotated,
    /// Rotated: the expiry of its grant, if that grant still exists, and the end of the
    /// grace its successor is kept for, if any.
    Rotated {
        grant_expires_at: Option<UnixTime>,
        grace_until: Option<UnixTime>,
    },
}

impl RefreshMarker {
    pub(super) fn of(tx: &mut Tx<'_>, key: &[u8]) -> Result<RefreshMarker, StoreError> {
        let Some(bytes) = tx.get(REFRESH_TOKENS, key)? else {
            return Ok(RefreshMarker::Missing);
        };
        let record = decode_refresh(&unseal(tx.sealer, REFRESH_TOKENS, key, &bytes)?)?;
        if !record.rotated {
            return Ok(RefreshMarker::Unrotated);
        }
        Ok(RefreshMarker::Rotated {
            grant_expires_at: load_grant(tx, record.grant_id)?.map(|grant| grant.expires_at),
            grace_until: record.grace.map(|grace| grace.until),
        })
    }
}

/// Forgets the successor a rotated refresh token kept for its grace, once the grace is
/// over: its secret is in the record in plain text, and must not stay there. The row stays,
/// as the replay marker it is.
pub(super) fn end_grace(tx: &mut Tx<'_>, key: &[u8]) -> Result<(), StoreError> {
    let Some(bytes) = tx.get(REFRESH_TOKENS, key)? else {
        return Ok(());
    };
    let mut record = decode_refresh(&unseal(tx.sealer, REFRESH_TOKENS, key, &bytes)?)?;
    if record.grace.take().is_some() {
        let value = seal(tx.sealer, REFRESH_TOKENS, key, &encode_refresh(&record));
        tx.insert(REFRESH_TOKENS, key, &value)?;
    }
    Ok(())
}

/// What the sweeper needs to know of an expired code.
pub(super) enum CodeMarker {
    Missing,
    Unredeemed,
    /// Redeemed; the expiry of the grant it produced, if that grant still exists.
    RedeemedInto(Option<UnixTime>),
}

impl CodeMarker {
    pub(super) fn of(tx: &mut Tx<'_>, key: &[u8]) -> Result<CodeMarker, StoreError> {
        let Some(bytes) = tx.get(CODES, key)? else {
            return Ok(CodeMarker::Missing);
        };
        let record = decode_code(&unseal(tx.sealer, CODES, key, &bytes)?)?;
        Ok(match record.redeemed_into {
            None => CodeMarker::Unredeemed,
            Some(grant_id) => {
                CodeMarker::RedeemedInto(load_grant(tx, grant_id)?.map(|grant| grant.expires_at))
            }
        })
    }
}

/// Writes a new grant and indexes its expiry. The sweeper checks the grant's own
/// `expires_at` before deleting, and re-indexes a grant whose lifetime slid meanwhile.
fn write_grant(tx: &mut Tx<'_>, grant: &Grant) -> Result<(), StoreError> {
    let key = grant.id.as_bytes();
    let value = seal(tx.sealer, GRANTS, key, &encode_grant(grant));
    insert_expiring(tx, GRANTS, ExpiryKind::Grant, key, &value, grant.expires_at)
}

fn write_refresh(tx: &mut Tx<'_>, grant_id: Id, token: &NewRefreshToken) -> Result<(), StoreError> {
    let record = RefreshToken {
        grant_id,
        secret_hash: token.secret_hash,
        expires_at: token.expires_at,
        rotated: false,
        grace: None,
    };
    let key = token.id.as_bytes();
    let value = seal(tx.sealer, REFRESH_TOKENS, key, &encode_refresh(&record));
    insert_expiring(
        tx,
        REFRESH_TOKENS,
        ExpiryKind::RefreshToken,
        key,
        &value,
        token.expires_at,
    )
}

impl Store {
    /// Stores a code (and the consent it came from) durably. A ticket that was already used
    /// writes nothing: a replayed consent POST issues no second code.
    pub async fn issue_code(&self, code: NewCode) -> Result<(), CodeNotIssued> {
        self.write(move |tx| {
            if let Some((ticket, _)) = code.ticket {
                if tx.get(USED_TICKETS, ticket.as_bytes())?.is_some() {
                    return Ok(Err(CodeNotIssued::TicketUsed));
                }
            }
            let record = Code {
                secret_hash: code.secret_hash,
                grant: code.grant.clone(),
                expires_at: code.expires_at,
                redeemed_into: None,
            };
            let key = code.id.as_bytes();
            let value = seal(tx.sealer, CODES, key, &encode_code(&record));
            insert_expiring(tx, CODES, ExpiryKind::Code, key, &value, code.expires_at)?;
            if code.remember_consent {
                // What the user approved now adds to what they approved before: a later,
                // narrower request must not shrink the remembered consent.
                let key = consent_key(code.grant.user_id, code.grant.client_id);
                let earlier = match tx.get(CONSENTS, &key)? {
                    Some(bytes) => {
                        Some(decode_consent(&unseal(tx.sealer, CONSENTS, &key, &bytes)?)?.scope)
                    }
                    None => None,
                };
                let consent = Consent {
                    scope: earlier.map_or_else(
                        || code.grant.scope.clone(),
                        |earlier| earlier.union(&code.grant.scope),
                    ),
                    granted_at: code.grant.auth_time,
                };
                let value = seal(tx.sealer, CONSENTS, &key, &encode_consent(&consent));
                tx.insert(CONSENTS, &key, &value)?;
            }
            if let Some((ticket, expires_at)) = code.ticket {
                let value = encode_expiry(expires_at);
                insert_expiring(
                    tx,
                    USED_TICKETS,
                    ExpiryKind::UsedTicket,
                    ticket.as_bytes(),
                    &value,
                    expires_at,
                )?;
            }
            Ok(Ok(()))
        })
        .await?
    }

    /// Marks a consent ticket used without issuing anything (the user denied).
    pub async fn consume_ticket(
        &self,
        ticket: Id,
        expires_at: UnixTime,
    ) -> Result<(), TicketNotConsumed> {
        self.write(move |tx| {
            if tx.get(USED_TICKETS, ticket.as_bytes())?.is_some() {
                return Ok(Err(TicketNotConsumed::AlreadyUsed));
            }
            let value = encode_expiry(expires_at);
            insert_expiring(
                tx,
                USED_TICKETS,
                ExpiryKind::UsedTicket,
                ticket.as_bytes(),
                &value,
                expires_at,
            )?;
            Ok(Ok(()))
        })
        .await?
    }

    /// Redeems a code: `check` sees what the code was issued for and may refuse (wrong
    /// client, redirect URI, PKCE verifier). On success the code is marked redeemed and a
    /// grant with its first refresh token is written, all in one durable commit.
    pub async fn redeem_code<R, F>(
        &self,
        redemption: Redemption,
        check: F,
    ) -> Result<Presented<R, RedeemedCode>, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&CodeGrant) -> Result<(), R> + Send + 'static,
    {
        let Redemption {
            code_id,
            secret,
            now,
            grant_id,
            refresh,
            access_expires_at,
        } = redemption;
        self.write(move |tx| {
            let key = code_id.as_bytes();
            let Some(bytes) = tx.get(CODES, key)? else {
                return Ok(Presented::Unknown);
            };
            let mut record = decode_code(&unseal(tx.sealer, CODES, key, &bytes)?)?;
            if !record.secret_hash.matches(&secret) {
                return Ok(Presented::Unknown);
            }
            // OAuth 2.1 §4.1.3 and §7.5.2: client, redirect URI and PKCE first. Anyone who saw
            // a code (a log, a Referer, browser history) could otherwise end the user's grant
            // by replaying it with a wrong verifier or another client's credentials: only a
            // replay that would otherwise have been valid revokes.
            if let Err(refusal) = check(&record.grant) {
                return Ok(Presented::Rejected(refusal));
            }
            if let Some(issued) = record.redeemed_into {
                // RFC 6749 §4.1.2: a code used twice revokes what it issued.
                remove_grant(tx, issued.as_bytes())?;
                return Ok(Presented::Replayed);
            }
            if now >= record.expires_at {
                return Ok(Presented::Expired);
            }
            // A deleted user's codes die with the user; a revoked app's outstanding codes
            // die with the revocation. Both checked here, in the write, so a deletion or a
            // revocation that lands first always wins.
            if !user_exists(tx, record.grant.user_id)? || code_fenced(tx, code_id, &record.grant)? {
                return Ok(Presented::Revoked);
            }
            let grant = Grant {
                id: grant_id,
                client_id: record.grant.client_id,
                user_id: record.grant.user_id,
                scope: record.grant.scope.clone(),
                created_at: now,
                auth_time: record.grant.auth_time,
                last_used: now,
                expires_at: refresh.as_ref().map_or(access_expires_at, |refresh| {
                    refresh.expires_at.max(access_expires_at)
                }),
                resources: record.grant.resources.clone(),
                sid: record.grant.sid,
            };
            record.redeemed_into = Some(grant_id);
            let value = seal(tx.sealer, CODES, key, &encode_code(&record));
            tx.insert(CODES, key, &value)?;
            write_grant(tx, &grant)?;
            tx.insert(
                USER_GRANTS,
                &pair_key(grant.user_id.0.as_bytes(), grant_id.as_bytes()),
                &[],
            )?;
            tx.insert(
                CLIENT_GRANTS,
                &pair_key(grant.client_id.0.as_bytes(), grant_id.as_bytes()),
                &[],
            )?;
            if let Some(refresh) = &refresh {
                write_refresh(tx, grant_id, refresh)?;
            }
            Ok(Presented::Accepted(RedeemedCode {
                grant,
                nonce: record.grant.nonce.clone(),
            }))
        })
        .await
    }

    /// Rotates a refresh token: the presented one is marked rotated and a new one replaces
    /// it. `check` sees the grant and may refuse; otherwise it returns when the new token
    /// expires. A token that was already rotated ends its grant (RFC 9700 §4.14.2), unless
    /// it kept a reuse grace that has not ended and its successor is still live: then that
    /// successor is the answer (`Refreshed::reissued`) and nothing new is written.
    pub async fn rotate_refresh_token<R, F>(
        &self,
        rotation: Rotation,
        check: F,
    ) -> Result<Presented<R, Refreshed>, StoreError>
    where
        R: Send + 'static,
        F: FnOnce(&Grant) -> Result<UnixTime, R> + Send + 'static,
    {
        let Rotation {
            token_id,
            secret,
            now,
            next_id,
            next_secret_hash,
            grace,
        } = rotation;
        // A grace hands this secret out again as the successor's: it must be the secret of
        // the token written below, or the reused answer would carry a token that never works.
        debug_assert!(grace.as_ref().is_none_or(
            |grace| SecretHash::of(&grace.secret).as_bytes() == next_secret_hash.as_bytes()
        ));
        self.write(move |tx| {
            let key = token_id.as_bytes();
            let Some(bytes) = tx.get(REFRESH_TOKENS, key)? else {
                return Ok(Presented::Unknown);
            };
            let mut record = decode_refresh(&unseal(tx.sealer, REFRESH_TOKENS, key, &bytes)?)?;
            if !record.secret_hash.matches(&secret) {
                return Ok(Presented::Unknown);
            }
            if record.rotated {
                // A rotated token presented again means two parties hold it: end the grant,
                // expired or not (RFC 9700 §4.14.2). But only when the presentation would
                // otherwise have been valid (its client's, as the check says), as for a
                // replayed code: anyone who saw an old token must not be able to sign the
                // user out of the app with another client's credentials.
                let Some(grant) = load_grant(tx, record.grant_id)? else {
                    return Ok(Presented::Unknown);
                };
                if let Err(refusal) = check(&grant) {
                    return Ok(Presented::Rejected(refusal));
                }
                // Within a reuse grace the second holder is most likely the same app in
                // another tab, which lost the race to the first: it gets the successor the
                // first got, never one of its own, so one live refresh token remains. Once
                // that successor has moved on (rotated in turn), the race explanation no
                // longer holds and this is a replay like any other.
                if let Some(successor) = record.grace.take() {
                    if now < successor.until && successor_live(tx, &successor, &grant, now)? {
                        let mut grant = grant;
                        grant.last_used = now;
                        let key = grant.id.as_bytes();
                        let value = seal(tx.sealer, GRANTS, key, &encode_grant(&grant));
                        tx.insert(GRANTS, key, &value)?;
                        return Ok(Presented::Accepted(Refreshed {
                            grant,
                            reissued: Some(successor),
                        }));
                    }
                    // The grant ends below, and the successor's secret with it, not at the
                    // grace's end.
                    let value = seal(tx.sealer, REFRESH_TOKENS, key, &encode_refresh(&record));
                    tx.insert(REFRESH_TOKENS, key, &value)?;
                }
                remove_grant(tx, record.grant_id.as_bytes())?;
                return Ok(Presented::Replayed);
            }
            if now >= record.expires_at {
                return Ok(Presented::Expired);
            }
            let Some(grant) = load_grant(tx, record.grant_id)? else {
                // The grant was revoked; its tokens died with it.
                return Ok(Presented::Unknown);
            };
            // Deleting a user deletes their grants in the same write; this holds even if a
            // grant were ever left behind.
            if !user_exists(tx, grant.user_id)? {
                return Ok(Presented::Revoked);
            }
            let next = match check(&grant) {
                Ok(expires_at) => NewRefreshToken {
                    id: next_id,
                    secret_hash: next_secret_hash,
                    expires_at,
                },
                Err(refusal) => return Ok(Presented::Rejected(refusal)),
            };
            record.rotated = true;
            record.grace = grace.map(|grace| GraceSuccessor {
                id: next_id,
                secret: grace.secret,
                until: grace.until,
            });
            let value = seal(tx.sealer, REFRESH_TOKENS, key, &encode_refresh(&record));
            tx.insert(REFRESH_TOKENS, key, &value)?;
            if let Some(grace) = &record.grace {
                // The successor's secret must not outlive the grace: the sweeper comes back
                // then to erase it (the row itself stays, as every rotated token does).
                tx.insert(
                    EXPIRY,
                    &expiry_key(grace.until, ExpiryKind::RefreshToken, key),
                    &[],
                )?;
            }
            write_refresh(tx, grant.id, &next)?;
            // The refresh lifetime slides: the grant lives as long as its newest token.
            let mut grant = grant;
            grant.expires_at = grant.expires_at.max(next.expires_at);
            grant.last_used = now;
            // No new expiry-index entry: when the grant's first entry comes due, the
            // sweeper finds the later expiry and re-indexes it then. One index write per
            // grant lifetime instead of one per rotation.
            let key = grant.id.as_bytes();
            let value = seal(tx.sealer, GRANTS, key, &encode_grant(&grant));
            tx.insert(GRANTS, key, &value)?;
            Ok(Presented::Accepted(Refreshed {
                grant,
                reissued: None,
            }))
        })
        .await
    }

    /// Whether a code with this id exists and its secret matches: a read, so a made-up code
    /// is refused without costing a place in a write batch. Redemption checks again.
    pub fn code_presentable(&self, code_id: Id, secret: &str) -> Result<bool, StoreError> {
        self.read(|reader| {
            let key = code_id.as_bytes();
            Ok(match reader.get(CODES, key)? {
                Some(bytes) => decode_code(&unseal(reader.sealer, CODES, key, &bytes)?)?
                    .secret_hash
                    .matches(secret),
                None => false,
            })
        })
    }

    /// Whether a refresh token with this id exists and its secret matches (rotated or not):
    /// a read, so a made-up token is refused without a write. Rotation checks again.
    pub fn refresh_token_presentable(
        &self,
        token_id: Id,
        secret: &str,
    ) -> Result<bool, StoreError> {
        self.read(|reader| {
            let key = token_id.as_bytes();
            Ok(match reader.get(REFRESH_TOKENS, key)? {
                Some(bytes) => {
                    decode_refresh(&unseal(reader.sealer, REFRESH_TOKENS, key, &bytes)?)?
                        .secret_hash
                        .matches(secret)
                }
                None => false,
            })
        })
    }

    /// RFC 7009 for a refresh token: if it exists, its secret matches and it belongs to
    /// `client_id`, its whole grant ends. Returns whether anything was revoked; a foreign or
    /// unknown token changes nothing.
    pub async fn revoke_refresh_token(
        &self,
        token_id: Id,
        secret: String,
        client_id: ClientId,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let key = token_id.as_bytes();
            let Some(bytes) = tx.get(REFRESH_TOKENS, key)? else {
                return Ok(false);
            };
            let record = decode_refresh(&unseal(tx.sealer, REFRESH_TOKENS, key, &bytes)?)?;
            if !record.secret_hash.matches(&secret) {
                return Ok(false);
            }
            match load_grant(tx, record.grant_id)? {
                Some(grant) if grant.client_id == client_id => {
                    remove_grant(tx, record.grant_id.as_bytes())?;
                    Ok(true)
                }
                _ => Ok(false),
            }
        })
        .await
    }

    /// Revokes one access token until it would have expired.
    pub async fn revoke_access_token(
        &self,
        token_id: Id,
        expires_at: UnixTime,
    ) -> Result<(), StoreError> {
        // Raised before the write: a check that could see the row must not skip the lookup.
        self.adjust_revoked_access(|count| count.saturating_add(1));
        let inserted = self
            .write(move |tx| {
                if tx.get(REVOKED_ACCESS, token_id.as_bytes())?.is_some() {
                    return Ok(false);
                }
                insert_expiring(
                    tx,
                    REVOKED_ACCESS,
                    ExpiryKind::RevokedAccess,
                    token_id.as_bytes(),
                    &encode_expiry(expires_at),
                    expires_at,
                )?;
                Ok(true)
            })
            .await;
        // A failed write leaves the bound high, which only costs lookups.
        if let Ok(false) = inserted {
            self.adjust_revoked_access(|count| count.saturating_sub(1));
        }
        inserted.map(|_| ())
    }

    /// The live state of a refresh token, for introspection: its grant, if the token is
    /// current (not rotated, not expired) and the grant still stands.
    pub fn refresh_token_grant(
        &self,
        token_id: Id,
        secret: &str,
        now: UnixTime,
    ) -> Result<Option<(Grant, UnixTime)>, StoreError> {
        let record: Option<RefreshToken> = self.read(|reader| {
            reader
                .get(REFRESH_TOKENS, token_id.as_bytes())?
                .map(|bytes| {
                    decode_refresh(&unseal(
                        reader.sealer,
                        REFRESH_TOKENS,
                        token_id.as_bytes(),
                        &bytes,
                    )?)
                })
                .transpose()
        })?;
        let Some(record) = record else {
            return Ok(None);
        };
        if record.rotated || now >= record.expires_at || !record.secret_hash.matches(secret) {
            return Ok(None);
        }
        Ok(self
            .grant(record.grant_id)?
            .map(|grant| (grant, record.expires_at)))
    }

    /// A user's grants, oldest first.
    pub fn grants_of_user(&self, user_id: UserId) -> Result<Vec<Grant>, StoreError> {
        let ids = self.read(|reader| reader.with_prefix(USER_GRANTS, user_id.0.as_bytes()))?;
        let mut grants = Vec::with_capacity(ids.len());
        for (key, _) in ids {
            let grant_id: [u8; 16] = key[16..]
                .try_into()
                .map_err(|_| StoreError::Corrupt("user_grants key is not 32 bytes".into()))?;
            if let Some(grant) = self.grant(Id::from_bytes(grant_id))? {
                grants.push(grant);
            }
        }
        Ok(grants)
    }

    /// Ends a grant: its refresh tokens and access tokens stop working at once, and the
    /// remembered consent for that client goes too, so the next authorization asks again.
    /// Codes the user was issued for that client until `now_millis` and has not redeemed
    /// yet are fenced off: they never become a new grant.
    /// With `owner`, only a grant of that user is ended. Returns whether one was.
    pub async fn revoke_grant(
        &self,
        grant_id: Id,
        owner: Option<UserId>,
        now_millis: u64,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let Some(grant) = load_grant(tx, grant_id)? else {
                return Ok(false);
            };
            if owner.is_some_and(|owner| owner != grant.user_id) {
                return Ok(false);
            }
            remove_grant(tx, grant_id.as_bytes())?;
            tx.remove(CONSENTS, &consent_key(grant.user_id, grant.client_id))?;
            raise_code_fence(tx, grant.user_id, grant.client_id, now_millis)?;
            Ok(true)
        })
        .await
    }

    /// The account page's "revoke access": ends every grant `owner` gave the client that
    /// `grant_id` belongs to (each authorization makes a grant, and the user sees one app),
    /// forgets the consent, and fences off the codes issued until `now_millis` that the app
    /// holds but has not redeemed. Another user's grant id changes nothing.
    pub async fn revoke_app(
        &self,
        owner: UserId,
        grant_id: Id,
        now_millis: u64,
    ) -> Result<bool, StoreError> {
        self.write(move |tx| {
            let Some(named) = load_grant(tx, grant_id)? else {
                return Ok(false);
            };
            if named.user_id != owner {
                return Ok(false);
            }
            let mut doomed = Vec::new();
            for index_key in tx.keys_with_prefix(USER_GRANTS, owner.0.as_bytes())? {
                if let Some(grant) = load_grant_record(tx, &index_key[16..])? {
                    if grant.client_id == named.client_id {
                        doomed.push(grant.id);
                    }
                }
            }
            for id in doomed {
                remove_grant(tx, id.as_bytes())?;
            }
            tx.remove(CONSENTS, &consent_key(owner, named.client_id))?;
            raise_code_fence(tx, owner, named.client_id, now_millis)?;
            Ok(true)
        })
        .await
    }

    pub fn grant(&self, id: Id) -> Result<Option<Grant>, StoreError> {
        self.read(|reader| read_grant(reader, id))
    }

    /// The scope a user has already approved for a client, if any.
    pub fn remembered_consent(
        &self,
        user_id: UserId,
        client_id: ClientId,
    ) -> Result<Option<Scope>, StoreError> {
        let key = consent_key(user_id, client_id);
        self.read(|reader| {
            reader
                .get(CONSENTS, &key)?
                .map(|bytes| {
                    decode_consent(&unseal(reader.sealer, CONSENTS, &key, &bytes)?)
                        .map(|record| record.scope)
                })
                .transpose()
        })
    }

    /// Whether a consent ticket has been used already.
    pub fn ticket_used(&self, ticket: Id) -> Result<bool, StoreError> {
        self.read(|reader| {
            Ok(reader
                .get(USED_TICKETS, ticket.as_bytes())?
                .map(|bytes| decode_expiry(USED_TICKETS, &bytes))
                .transpose()?
                .is_some())
        })
    }
}

pub(super) fn read_grant(reader: &super::Reader<'_>, id: Id) -> Result<Option<Grant>, StoreError> {
    reader
        .get(GRANTS, id.as_bytes())?
        .map(|bytes| decode_grant(&unseal(reader.sealer, GRANTS, id.as_bytes(), &bytes)?))
        .transpose()
}

pub(super) fn access_revoked(reader: &super::Reader<'_>, token_id: Id) -> Result<bool, StoreError> {
    Ok(reader.get(REVOKED_ACCESS, token_id.as_bytes())?.is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: [u8; 16] = [2; 16];
    const OTHER_CLIENT: [u8; 16] = [3; 16];
    /// When the first rotation happens, and how long its grace lasts.
    const ROTATED_AT: UnixTime = 100;
    const GRACE: UnixTime = 30;

    /// A store holding one grant of `CLIENT` whose first refresh token (`first`) was rotated
    /// at `ROTATED_AT` with a grace, into `second`.
    struct Rotated {
        _dir: tempfile::TempDir,
        store: Store,
        grant_id: Id,
        first: (Id, &'static str),
        second: (Id, &'static str),
    }

    impl Rotated {
        async fn new() -> Rotated {
            let (dir, store) = crate::store::test_store();
            let user_id = UserId(Id::generate(1));
            crate::store::insert_test_user(&store, user_id, "alice").await;
            let code = Id::generate(10);
            store
                .issue_code(NewCode {
                    id: code,
                    secret_hash: SecretHash::of("code"),
                    grant: CodeGrant {
                        client_id: ClientId(Id::from_bytes(CLIENT)),
                        user_id,
                        redirect_uri: "https://app.example/cb".into(),
                        redirect_uri_sent: true,
                        scope: Scope::parse("openid").unwrap(),
                        code_challenge: None,
                        nonce: None,
                        auth_time: 0,
                        resources: Vec::new(),
                        sid: None,
                    },
                    expires_at: 60,
                    remember_consent: false,
                    ticket: None,
                })
                .await
                .unwrap();
            let first = (Id::generate(11), "first");
            let grant_id = Id::generate(12);
            let redeemed = store
                .redeem_code(
                    Redemption {
                        code_id: code,
                        secret: "code".into(),
                        now: 50,
                        grant_id,
                        refresh: Some(NewRefreshToken {
                            id: first.0,
                            secret_hash: SecretHash::of(first.1),
                            expires_at: 10_000,
                        }),
                        access_expires_at: 200,
                    },
                    |_| Ok::<(), ()>(()),
                )
                .await
                .unwrap();
            assert!(matches!(redeemed, Presented::Accepted(_)), "{redeemed:?}");
            let rotated = Rotated {
                _dir: dir,
                store,
                grant_id,
                first,
                second: (Id::generate(13), "second"),
            };
            let outcome = rotated
                .present(first, ROTATED_AT, CLIENT, rotated.second)
                .await;
            let Presented::Accepted(Refreshed {
                reissued: None,
                grant,
            }) = outcome
            else {
                panic!("{outcome:?}")
            };
            assert_eq!(grant.id, grant_id);
            rotated
        }

        /// Presents `token` as `client` at `now`, to be replaced by `next` with a grace.
        async fn present(
            &self,
            token: (Id, &str),
            now: UnixTime,
            client: [u8; 16],
            next: (Id, &str),
        ) -> Presented<&'static str, Refreshed> {
            self.store
                .rotate_refresh_token(
                    Rotation {
                        token_id: token.0,
                        secret: token.1.into(),
                        now,
                        next_id: next.0,
                        next_secret_hash: SecretHash::of(next.1),
                        grace: Some(RefreshGrace {
                            secret: next.1.into(),
                            until: now + GRACE,
                        }),
                    },
                    move |grant| {
                        if grant.client_id == ClientId(Id::from_bytes(client)) {
                            Ok(10_000)
                        } else {
                            Err("another client")
                        }
                    },
                )
                .await
                .unwrap()
        }

        fn record(&self, id: Id) -> Option<RefreshToken> {
            self.store
                .read(|reader| {
                    reader
                        .get(REFRESH_TOKENS, id.as_bytes())?
                        .map(|bytes| {
                            decode_refresh(&unseal(
                                reader.sealer,
                                REFRESH_TOKENS,
                                id.as_bytes(),
                                &bytes,
                            )?)
                        })
                        .transpose()
                })
                .unwrap()
        }

        fn grant_exists(&self) -> bool {
            self.store.grant(self.grant_id).unwrap().is_some()
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn within_the_grace_a_rotated_token_gets_the_same_successor_again() {
        let world = Rotated::new().await;
        let unused = (Id::generate(20), "unused");
        let again = world
            .present(world.first, ROTATED_AT + GRACE - 1, CLIENT, unused)
            .await;
        let Presented::Accepted(Refreshed {
            grant,
            reissued: Some(successor),
        }) = again
        else {
            panic!("{again:?}")
        };
        assert_eq!(grant.id, world.grant_id);
        assert_eq!(grant.last_used, ROTATED_AT + GRACE - 1);
        assert_eq!(
            (successor.id, successor.secret.as_str()),
            (world.second.0, world.second.1)
        );
        // Nothing new was written: one live successor, still unrotated.
        assert!(world.record(unused.0).is_none());
        let second = world.record(world.second.0).unwrap();
        assert!(!second.rotated);
        assert!(world.grant_exists());
        // The successor carries the grant on, as if the second presentation never happened.
        let third = (Id::generate(21), "third");
        let moved_on = world
            .present(world.second, ROTATED_AT + GRACE, CLIENT, third)
            .await;
        assert!(
            matches!(
                moved_on,
                Presented::Accepted(Refreshed { reissued: None, .. })
            ),
            "{moved_on:?}"
        );
        assert!(world.record(third.0).is_some());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_successor_already_rotated_makes_the_reuse_a_replay() {
        let world = Rotated::new().await;
        let third = (Id::generate(21), "third");
        let moved_on = world
            .present(world.second, ROTATED_AT + 1, CLIENT, third)
            .await;
        assert!(matches!(moved_on, Presented::Accepted(_)), "{moved_on:?}");
        let replay = world
            .present(world.first, ROTATED_AT + 2, CLIENT, (Id::generate(22), "x"))
            .await;
        assert!(matches!(replay, Presented::Replayed), "{replay:?}");
        assert!(!world.grant_exists());
        // The grace ended with the grant: the successor's secret is gone now, not at
        // `until`.
        let first = world.record(world.first.0).unwrap();
        assert!(first.rotated && first.grace.is_none());
        let latest = world
            .present(third, ROTATED_AT + 3, CLIENT, (Id::generate(23), "y"))
            .await;
        assert!(matches!(latest, Presented::Unknown), "{latest:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn after_the_grace_a_rotated_token_ends_the_grant() {
        let world = Rotated::new().await;
        let replay = world
            .present(
                world.first,
                ROTATED_AT + GRACE,
                CLIENT,
                (Id::generate(22), "x"),
            )
            .await;
        assert!(matches!(replay, Presented::Replayed), "{replay:?}");
        assert!(!world.grant_exists());
        let successor = world
            .present(
                world.second,
                ROTATED_AT + GRACE,
                CLIENT,
                (Id::generate(23), "y"),
            )
            .await;
        assert!(matches!(successor, Presented::Unknown), "{successor:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn another_client_within_the_grace_is_refused_and_changes_nothing() {
        let world = Rotated::new().await;
        let before = world.record(world.first.0).unwrap();
        let refused = world
            .present(
                world.first,
                ROTATED_AT + 1,
                OTHER_CLIENT,
                (Id::generate(22), "x"),
            )
            .await;
        assert!(
            matches!(refused, Presented::Rejected("another client")),
            "{refused:?}"
        );
        assert!(world.grant_exists());
        assert_eq!(world.record(world.first.0).unwrap().grace, before.grace);
        // Its own client still gets the successor, and the successor still works.
        let again = world
            .present(world.first, ROTATED_AT + 2, CLIENT, (Id::generate(23), "y"))
            .await;
        assert!(
            matches!(
                again,
                Presented::Accepted(Refreshed {
                    reissued: Some(_),
                    ..
                })
            ),
            "{again:?}"
        );
        let moved_on = world
            .present(
                world.second,
                ROTATED_AT + 3,
                CLIENT,
                (Id::generate(24), "z"),
            )
            .await;
        assert!(matches!(moved_on, Presented::Accepted(_)), "{moved_on:?}");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_revoked_grants_grace_gives_nothing_and_its_row_goes_at_the_graces_end() {
        let world = Rotated::new().await;
        assert!(world
            .store
            .revoke_grant(world.grant_id, None, 1_000)
            .await
            .unwrap());
        let after = world
            .present(world.first, ROTATED_AT + 1, CLIENT, (Id::generate(22), "x"))
            .await;
        assert!(matches!(after, Presented::Unknown), "{after:?}");
        // The sweeper's entry at the grace's end finds no grant to protect: the row, and the
        // successor's secret in it, go then.
        assert!(world.record(world.first.0).unwrap().grace.is_some());
        let (swept, _) = world
            .store
            .sweep_batch(ROTATED_AT + GRACE, 1000)
            .await
            .unwrap();
        assert!(swept.refresh_tokens >= 1, "{swept:?}");
        assert!(world.record(world.first.0).is_none());
    }
}
