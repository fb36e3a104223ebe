//! `invite create | list | revoke`: sign-up invitations for `serve --signup invite`.
//!
//! `create` makes the `<id>.<secret>` here, in `prepare`, and the plan carries the secret's
//! hash to the write and the link to the answer: the secret is printed once and stored only
//! as SHA-256. No view of a stored invitation can carry the secret.

use super::users::link_issuer;
use super::views::{InviteListItem, InviteView, InvitesView, RevokedView};
use super::{parse_id, AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::clock;
use crate::model::{Id, Invalid};
use crate::oauth::tokens::OpaqueToken;
use crate::store::{Invite, Store};

/// How long an invitation works unless `--expires-in` says otherwise: a week.
pub const DEFAULT_INVITE_SECONDS: u64 = 7 * 24 * 3600;
/// The longest `--expires-in`: 90 days.
pub const MAX_INVITE_SECONDS: u64 = 90 * 24 * 3600;
/// The most sign-ups one invitation allows.
pub const MAX_INVITE_USES: u64 = 1000;

/// The path of the sign-up page an invitation link opens.
pub fn invite_url(issuer: &str, token: &str) -> String {
    format!("{issuer}/signup?invite={token}")
}

/// A checked `invite create`: the record to store and the answer to print once stored.
pub struct NewInvite {
    invite: Invite,
    view: InviteView,
}

pub(super) fn create(
    store: &Store,
    expires_in: Option<u64>,
    uses: Option<u64>,
    issuer: Option<&str>,
) -> Result<Plan, AdminError> {
    let lifetime = expires_in.unwrap_or(DEFAULT_INVITE_SECONDS);
    if lifetime == 0 || lifetime > MAX_INVITE_SECONDS {
        return Err(Invalid(
            "--expires-in for an invitation is at most 90d; no invitation was made".into(),
        )
        .into());
    }
    let uses = uses.unwrap_or(1);
    if !(1..=MAX_INVITE_USES).contains(&uses) {
        return Err(Invalid(format!(
            "--uses is from 1 to {MAX_INVITE_USES}; no invitation was made"
        ))
        .into());
    }
    let issuer = link_issuer(store, issuer)?;
    let token = OpaqueToken::generate();
    let now = clock::now();
    let uses = uses as u32;
    let invite = Invite {
        id: token.id,
        secret_hash: token.secret_hash(),
        created_at: now,
        expires_at: now + lifetime,
        uses_left: uses,
        uses_total: uses,
    };
    let view = InviteView {
        url: invite_url(&issuer, &token.to_string()),
        id: token.id.to_string(),
        expires_at: invite.expires_at,
        uses,
    };
    Ok(Plan::Write(WritePlan::CreateInvite(Box::new(NewInvite {
        invite,
        view,
    }))))
}

pub(super) fn list(store: &Store) -> Result<Plan, AdminError> {
    Ok(Plan::Done(AdminOutput::Invites(InvitesView {
        invites: store
            .invites()?
            .into_iter()
            .map(|invite| InviteListItem {
                id: invite.id.to_string(),
                created_at: invite.created_at,
                expires_at: invite.expires_at,
                uses_left: invite.uses_left,
                uses_total: invite.uses_total,
            })
            .collect(),
    })))
}

pub(super) fn revoke(store: &Store, id: &str) -> Result<Plan, AdminError> {
    let id = parse_id(id, "invitation id")?;
    store.invite(id)?.ok_or_else(|| invite_not_found(id))?;
    Ok(Plan::Write(WritePlan::RevokeInvite(id)))
}

pub(super) async fn apply_create(store: &Store, new: NewInvite) -> Result<AdminOutput, AdminError> {
    store.insert_invite(new.invite).await?;
    Ok(AdminOutput::Invite(new.view))
}

pub(super) async fn apply_revoke(store: &Store, id: Id) -> Result<AdminOutput, AdminError> {
    if !store.delete_invite(id).await? {
        return Err(invite_not_found(id));
    }
    Ok(AdminOutput::Revoked(RevokedView {
        revoked: id.to_string(),
    }))
}

fn invite_not_found(id: Id) -> AdminError {
    AdminError::new(
        AdminErrorKind::NotFound,
        format!("no invitation with id {id}; nothing was changed"),
    )
}
