//! `client create | list | show | delete | rotate-secret`.

use super::views::{ClientSecretView, ClientView, ClientsView, DeletedView};
use super::{AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::clock;
use crate::model::{
    random_secret, Client, ClientId, DisplayName, GrantType, Id, Invalid, RedirectUri, Scope,
    SecretHash,
};
use crate::store::SecretNotSet;
use crate::store::Store;

/// The most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 20;

/// Checks the new client and makes its id and secret; nothing is read, so nothing can be
/// stale by the time `apply_create` inserts it.
pub(super) fn create(
    name: &str,
    redirect_uris: &[String],
    scope: Option<&str>,
    public: bool,
    grant_types: Option<&str>,
) -> Result<Plan, AdminError> {
    let name = DisplayName::parse("client name", name)?;
    let grant_types = match grant_types {
        Some(list) => GrantType::parse_list(list)?,
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
    };
    if public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(Invalid(
            "a public client has no secret, so it cannot use client_credentials".into(),
        )
        .into());
    }
    if redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(Invalid(format!("more than {MAX_REDIRECT_URIS} redirect URIs")).into());
    }
    let mut parsed_uris = Vec::with_capacity(redirect_uris.len());
    for uri in redirect_uris {
        let uri = RedirectUri::parse(uri)?;
        if !parsed_uris.contains(&uri) {
            parsed_uris.push(uri);
        }
    }
    if parsed_uris.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(Invalid(
            "at least one --redirect-uri is required for the authorization_code grant".into(),
        )
        .into());
    }
    let scope = Scope::parse(scope.unwrap_or("openid profile email"))?;
    let secret = (!public).then(random_secret);
    let client = Client {
        id: ClientId(Id::generate(clock::now_millis())),
        name,
        redirect_uris: parsed_uris,
        scope,
        grant_types,
        secret_hash: secret.as_deref().map(SecretHash::of),
        created_at: clock::now(),
    };
    Ok(Plan::Write(WritePlan::CreateClient(client, secret)))
}

pub(super) fn list(store: &Store) -> Result<Plan, AdminError> {
    Ok(Plan::Done(AdminOutput::Clients(ClientsView {
        clients: store.clients()?.iter().map(client_view).collect(),
    })))
}

pub(super) fn show(store: &Store, id: &str) -> Result<Plan, AdminError> {
    let id = ClientId::parse(id)?;
    let client = store.client(id)?.ok_or_else(|| client_not_found(id))?;
    Ok(Plan::Done(AdminOutput::Client(client_view(&client))))
}

pub(super) fn delete(store: &Store, id: &str) -> Result<Plan, AdminError> {
    let id = ClientId::parse(id)?;
    store.client(id)?.ok_or_else(|| client_not_found(id))?;
    Ok(Plan::Write(WritePlan::DeleteClient(id)))
}

pub(super) fn rotate_secret(store: &Store, id: &str) -> Result<Plan, AdminError> {
    let id = ClientId::parse(id)?;
    let client = store.client(id)?.ok_or_else(|| client_not_found(id))?;
    if client.is_public() {
        return Err(public_has_no_secret(id));
    }
    Ok(Plan::Write(WritePlan::RotateSecret(id, random_secret())))
}

pub(super) async fn apply_create(
    store: &Store,
    client: Client,
    secret: Option<String>,
) -> Result<AdminOutput, AdminError> {
    let client_id = client.id;
    store.insert_client(client).await?;
    Ok(AdminOutput::ClientSecret(ClientSecretView {
        client_id: client_id.to_string(),
        client_secret: secret,
    }))
}

pub(super) async fn apply_delete(store: &Store, id: ClientId) -> Result<AdminOutput, AdminError> {
    if !store.delete_client(id).await? {
        return Err(client_not_found(id));
    }
    Ok(AdminOutput::Deleted(DeletedView {
        deleted: id.to_string(),
    }))
}

/// The client may have been deleted, or made public, since `rotate_secret` looked; the store
/// checks again in the write.
pub(super) async fn apply_rotate_secret(
    store: &Store,
    id: ClientId,
    secret: String,
) -> Result<AdminOutput, AdminError> {
    match store.set_client_secret(id, SecretHash::of(&secret)).await {
        Ok(()) => Ok(AdminOutput::ClientSecret(ClientSecretView {
            client_id: id.to_string(),
            client_secret: Some(secret),
        })),
        Err(SecretNotSet::NoSuchClient) => Err(client_not_found(id)),
        Err(SecretNotSet::PublicClient) => Err(public_has_no_secret(id)),
        Err(SecretNotSet::Storage(error)) => Err(error.into()),
    }
}

fn public_has_no_secret(id: ClientId) -> AdminError {
    AdminError::new(
        AdminErrorKind::Invalid,
        format!("client {id} is public and has no secret to rotate"),
    )
}

fn client_not_found(id: ClientId) -> AdminError {
    AdminError::new(AdminErrorKind::NotFound, format!("no client with id {id}"))
}

fn client_view(client: &Client) -> ClientView {
    ClientView {
        client_id: client.id.to_string(),
        name: client.name.as_str().to_owned(),
        redirect_uris: client
            .redirect_uris
            .iter()
            .map(|uri| uri.as_str().to_owned())
            .collect(),
        scope: client.scope.to_string(),
        grant_types: client
            .grant_types
            .iter()
            .map(|grant| grant.as_str().to_owned())
            .collect(),
        public: client.is_public(),
        created_at: client.created_at,
    }
}
