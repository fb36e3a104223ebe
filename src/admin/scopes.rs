//! `scope set | list | delete`: the operator's settings for a scope (the description users
//! see on the consent page, whether personal API keys may carry it, and whether
//! self-registered apps may ask for it).

use super::views::{DeletedView, ScopeDescriptionView, ScopesView};
use super::{AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::model::{DisplayName, ScopeToken};
use crate::store::{ScopeSettings, Store};

pub(super) fn set(
    name: &str,
    description: &str,
    api_keys: bool,
    self_service: bool,
) -> Result<Plan, AdminError> {
    let scope = ScopeToken::parse(name)?;
    let description = DisplayName::parse("scope description", description)?;
    Ok(Plan::Write(WritePlan::SetScope(
        scope,
        ScopeSettings {
            description: description.as_str().to_owned(),
            api_keys,
            self_service,
        },
    )))
}

pub(super) fn list(store: &Store) -> Result<Plan, AdminError> {
    Ok(Plan::Done(AdminOutput::Scopes(ScopesView {
        scopes: store
            .scopes()?
            .into_iter()
            .map(|(scope, settings)| scope_view(scope, settings))
            .collect(),
    })))
}

pub(super) fn delete(store: &Store, name: &str) -> Result<Plan, AdminError> {
    let scope = ScopeToken::parse(name)?;
    if store.scope_settings(scope.as_str())?.is_none() {
        return Err(scope_not_found(&scope));
    }
    Ok(Plan::Write(WritePlan::DeleteScope(scope)))
}

pub(super) async fn apply_set(
    store: &Store,
    scope: ScopeToken,
    settings: ScopeSettings,
) -> Result<AdminOutput, AdminError> {
    store.set_scope(scope.clone(), settings.clone()).await?;
    Ok(AdminOutput::Scope(scope_view(
        scope.as_str().to_owned(),
        settings,
    )))
}

pub(super) async fn apply_delete(
    store: &Store,
    scope: ScopeToken,
) -> Result<AdminOutput, AdminError> {
    if !store.delete_scope(scope.clone()).await? {
        return Err(scope_not_found(&scope));
    }
    Ok(AdminOutput::Deleted(DeletedView {
        deleted: scope.as_str().to_owned(),
    }))
}

fn scope_not_found(scope: &ScopeToken) -> AdminError {
    AdminError::new(
        AdminErrorKind::NotFound,
        format!("scope '{}' has no description", scope.as_str()),
    )
}

fn scope_view(scope: String, settings: ScopeSettings) -> ScopeDescriptionView {
    ScopeDescriptionView {
        scope,
        description: settings.description,
        api_keys: settings.api_keys,
        self_service: settings.self_service,
    }
}
