//! `apikey create | list | delete`: users' personal API keys. The account page makes keys
//! through the same `oauth::apikeys::plan` and `Store::insert_api_key`, so both accept and
//! refuse the same keys.

use super::users::existing_user;
use super::views::{ApiKeyView, ApiKeysView, DeletedView, NewApiKeyView};
use super::{parse_id, AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::clock;
use crate::model::Id;
use crate::oauth::apikeys::{KeyNotPlanned, KeyRefused, NewApiKey};
use crate::store::{ApiKey, KeyNotStored, Store};

pub(super) fn create(
    store: &Store,
    username: &str,
    name: &str,
    expires_in: Option<u64>,
    scope: Option<&str>,
) -> Result<Plan, AdminError> {
    let user = existing_user(store, username)?;
    let planned = crate::oauth::apikeys::plan(
        store,
        user.id,
        name,
        scope,
        expires_in,
        clock::now(),
        clock::now_millis(),
    );
    match planned {
        Ok(new) => Ok(Plan::Write(WritePlan::CreateApiKey(Box::new(new)))),
        Err(KeyNotPlanned::Refused(refused)) => {
            Err(AdminError::new(AdminErrorKind::Invalid, refused.message()))
        }
        Err(KeyNotPlanned::Storage(error)) => Err(error.into()),
    }
}

pub(super) fn list(store: &Store, username: &str) -> Result<Plan, AdminError> {
    let user = existing_user(store, username)?;
    Ok(Plan::Done(AdminOutput::ApiKeys(ApiKeysView {
        api_keys: store
            .api_keys_of_user(user.id)?
            .iter()
            .map(api_key_view)
            .collect(),
    })))
}

pub(super) fn delete(store: &Store, id: &str) -> Result<Plan, AdminError> {
    let id = parse_id(id, "API key id")?;
    store.api_key(id)?.ok_or_else(|| api_key_not_found(id))?;
    Ok(Plan::Write(WritePlan::DeleteApiKey(id)))
}

/// The user may have gone, or the operator may have stopped allowing a scope on keys, since
/// the plan was made; the store checks both again in the write.
pub(super) async fn apply_create(store: &Store, new: NewApiKey) -> Result<AdminOutput, AdminError> {
    let NewApiKey {
        record,
        token,
        needs_api_keys,
    } = new;
    let id = record.id;
    match store.insert_api_key(record, needs_api_keys).await {
        Ok(()) => Ok(AdminOutput::NewApiKey(NewApiKeyView {
            id: id.to_string(),
            api_key: token,
        })),
        Err(KeyNotStored::UserGone) => Err(AdminError::new(
            AdminErrorKind::NotFound,
            "the user was deleted meanwhile; no API key was made",
        )),
        Err(KeyNotStored::ScopeNotAllowed(scope)) => Err(AdminError::new(
            AdminErrorKind::Invalid,
            KeyRefused::ScopeNotAllowed(scope).message(),
        )),
        Err(KeyNotStored::Storage(error)) => Err(error.into()),
    }
}

pub(super) async fn apply_delete(store: &Store, id: Id) -> Result<AdminOutput, AdminError> {
    if !store.delete_api_key(id, None).await? {
        return Err(api_key_not_found(id));
    }
    Ok(AdminOutput::Deleted(DeletedView {
        deleted: id.to_string(),
    }))
}

fn api_key_not_found(id: Id) -> AdminError {
    AdminError::new(AdminErrorKind::NotFound, format!("no API key with id {id}"))
}

fn api_key_view(api_key: &ApiKey) -> ApiKeyView {
    ApiKeyView {
        id: api_key.id.to_string(),
        name: api_key.name.as_str().to_owned(),
        scope: api_key.scope.to_string(),
        created_at: api_key.created_at,
        last_used: api_key.last_used,
        expires_at: api_key.expires_at,
    }
}
