//! `registration-token create | list | revoke`: initial access tokens for dynamic client
//! registration under `serve --registration token` (RFC 7591 §3: the token a program
//! presents as `Authorization: Bearer` to `/oauth2/register`).
//!
//! `create` makes the `<id>.<secret>` in `prepare`; the secret is printed once and stored
//! only as SHA-256.

use super::views::{
    RegistrationTokenItem, RegistrationTokenView, RegistrationTokensView, RevokedView,
};
use super::{parse_id, AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::clock;
use crate::model::{Id, Invalid, Scope};
use crate::oauth::tokens::OpaqueToken;
use crate::store::{RegistrationToken, Store};

/// The longest `--expires-in`: a year.
pub const MAX_TOKEN_SECONDS: u64 = 365 * 24 * 3600;
/// The most registrations one token allows.
pub const MAX_TOKEN_USES: u64 = 100_000;

/// A checked `registration-token create`: the record, and the token to print once.
pub struct NewRegistrationToken {
    token: RegistrationToken,
    view: RegistrationTokenView,
}

pub(super) fn create(
    expires_in: Option<u64>,
    uses: Option<u64>,
    scope: Option<&str>,
) -> Result<Plan, AdminError> {
    if expires_in.is_some_and(|seconds| seconds == 0 || seconds > MAX_TOKEN_SECONDS) {
        return Err(Invalid(
            "--expires-in for a registration token is at most 365d; no token was made".into(),
        )
        .into());
    }
    if uses.is_some_and(|uses| !(1..=MAX_TOKEN_USES).contains(&uses)) {
        return Err(Invalid(format!(
            "--uses is from 1 to {MAX_TOKEN_USES}; no token was made"
        ))
        .into());
    }
    let scope = scope
        .map(|text| {
            Scope::parse(text).map_err(|invalid| Invalid(format!("--scope: {}", invalid.0)))
        })
        .transpose()?;
    let secret = OpaqueToken::generate();
    let now = clock::now();
    let uses = uses.map(|uses| uses as u32);
    let token = RegistrationToken {
        id: secret.id,
        secret_hash: secret.secret_hash(),
        created_at: now,
        expires_at: expires_in.map(|seconds| now + seconds),
        uses_left: uses,
        uses_total: uses,
        scope,
    };
    let view = RegistrationTokenView {
        token: secret.to_string(),
        id: secret.id.to_string(),
        expires_at: token.expires_at,
        uses,
        scope: token.scope.as_ref().map(Scope::to_string),
    };
    Ok(Plan::Write(WritePlan::CreateRegistrationToken(Box::new(
        NewRegistrationToken { token, view },
    ))))
}

pub(super) fn list(store: &Store) -> Result<Plan, AdminError> {
    Ok(Plan::Done(AdminOutput::RegistrationTokens(
        RegistrationTokensView {
            tokens: store
                .registration_tokens()?
                .into_iter()
                .map(|token| RegistrationTokenItem {
                    id: token.id.to_string(),
                    created_at: token.created_at,
                    expires_at: token.expires_at,
                    uses_left: token.uses_left,
                    uses_total: token.uses_total,
                    scope: token.scope.as_ref().map(Scope::to_string),
                })
                .collect(),
        },
    )))
}

pub(super) fn revoke(store: &Store, id: &str) -> Result<Plan, AdminError> {
    let id = parse_id(id, "registration token id")?;
    store
        .registration_token(id)?
        .ok_or_else(|| token_not_found(id))?;
    Ok(Plan::Write(WritePlan::RevokeRegistrationToken(id)))
}

pub(super) async fn apply_create(
    store: &Store,
    new: NewRegistrationToken,
) -> Result<AdminOutput, AdminError> {
    store.insert_registration_token(new.token).await?;
    Ok(AdminOutput::RegistrationToken(new.view))
}

pub(super) async fn apply_revoke(store: &Store, id: Id) -> Result<AdminOutput, AdminError> {
    if !store.delete_registration_token(id).await? {
        return Err(token_not_found(id));
    }
    Ok(AdminOutput::Revoked(RevokedView {
        revoked: id.to_string(),
    }))
}

fn token_not_found(id: Id) -> AdminError {
    AdminError::new(
        AdminErrorKind::NotFound,
        format!("no registration token with id {id}; nothing was changed"),
    )
}
