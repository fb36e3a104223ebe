//! `grant list | revoke`: what users have approved.

use super::users::existing_user;
use super::views::{GrantView, GrantsView, RevokedView};
use super::{parse_id, AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::clock;
use crate::model::Id;
use crate::store::Store;

pub(super) fn list(store: &Store, username: &str) -> Result<Plan, AdminError> {
    let user = existing_user(store, username)?;
    let mut grants = Vec::new();
    for grant in store.grants_of_user(user.id)? {
        // Deleting a client deletes its grants, but these are two reads: a client deleted
        // in between shows as gone rather than failing the listing.
        let client = store.client(grant.client_id)?;
        let client_name = client
            .as_ref()
            .map(|client| client.name.as_str().to_owned());
        grants.push(GrantView {
            grant_id: grant.id.to_string(),
            client_id: client
                .as_ref()
                .map_or_else(|| grant.client_id.to_string(), |client| client.public_id()),
            client_name,
            scope: grant.scope.to_string(),
            created_at: grant.created_at,
            last_used: grant.last_used,
            expires_at: grant.expires_at,
        });
    }
    Ok(Plan::Done(AdminOutput::Grants(GrantsView { grants })))
}

pub(super) fn revoke(store: &Store, id: &str) -> Result<Plan, AdminError> {
    let id = parse_id(id, "grant id")?;
    store.grant(id)?.ok_or_else(|| grant_not_found(id))?;
    Ok(Plan::Write(WritePlan::RevokeGrant(id)))
}

pub(super) async fn apply_revoke(store: &Store, id: Id) -> Result<AdminOutput, AdminError> {
    if !store.revoke_grant(id, None, clock::now_millis()).await? {
        return Err(grant_not_found(id));
    }
    Ok(AdminOutput::Revoked(RevokedView {
        revoked: id.to_string(),
    }))
}

fn grant_not_found(id: Id) -> AdminError {
    AdminError::new(AdminErrorKind::NotFound, format!("no grant with id {id}"))
}
