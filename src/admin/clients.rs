//! `client create | list | show | delete | rotate-secret`.

use super::views::{ClientSecretView, ClientView, ClientsView, DeletedView};
use super::{AdminError, AdminErrorKind, AdminOutput, ClientCreateRequest, Plan, WritePlan};
use crate::clock;
use crate::model::{
    random_secret, AccessTokenFormat, Client, ClientId, DisplayName, GrantType, Id, Invalid,
    RedirectUri, ResourceUri, Scope, SecretHash, SigningAlg,
};
use crate::store::SecretNotSet;
use crate::store::Store;

/// The most redirect URIs one client may register (and the most post-logout redirect URIs).
pub const MAX_REDIRECT_URIS: usize = 20;
/// The most resource indicators one client may register.
pub const MAX_RESOURCES: usize = 20;

/// Checks the new client and makes its id and secret; nothing is read, so nothing can be
/// stale by the time `apply_create` inserts it.
pub(super) fn create(request: &ClientCreateRequest) -> Result<Plan, AdminError> {
    let name = DisplayName::parse("client name", &request.name)?;
    let grant_types = match &request.grant_types {
        Some(list) => GrantType::parse_list(list)?,
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
    };
    if request.public && grant_types.contains(&GrantType::ClientCredentials) {
        return Err(Invalid(
            "a public client has no secret, so it cannot use client_credentials".into(),
        )
        .into());
    }
    let redirect_uris = uri_list(&request.redirect_uris, "redirect URIs", |uri| {
        RedirectUri::parse(uri)
    })?;
    if redirect_uris.is_empty() && grant_types.contains(&GrantType::AuthorizationCode) {
        return Err(Invalid(
            "at least one --redirect-uri is required for the authorization_code grant".into(),
        )
        .into());
    }
    // The same rules as for redirect URIs: logout sends the browser there just the same.
    let post_logout_redirect_uris = uri_list(
        &request.post_logout_redirect_uris,
        "post-logout redirect URIs",
        |uri| {
            RedirectUri::parse(uri)
                .map_err(|invalid| Invalid(format!("--post-logout-redirect-uri: {}", invalid.0)))
        },
    )?;
    let id_token_alg = match &request.id_token_alg {
        Some(alg) => SigningAlg::parse(alg)
            .map_err(|invalid| Invalid(format!("--id-token-alg: {}", invalid.0)))?,
        None => SigningAlg::default(),
    };
    let access_token_format = match &request.access_token_format {
        Some(format) => AccessTokenFormat::parse(format)
            .map_err(|invalid| Invalid(format!("--access-token-format: {}", invalid.0)))?,
        None => AccessTokenFormat::default(),
    };
    if request.resources.len() > MAX_RESOURCES {
        return Err(Invalid(format!("more than {MAX_RESOURCES} resources")).into());
    }
    let mut resources: Vec<ResourceUri> = Vec::with_capacity(request.resources.len());
    for resource in &request.resources {
        let resource = ResourceUri::parse(resource)
            .map_err(|invalid| Invalid(format!("--resource: {}", invalid.0)))?;
        // The order is kept: the first is a JWT-format client's default audience.
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    if access_token_format == AccessTokenFormat::Jwt && resources.is_empty() {
        return Err(Invalid(
            "--access-token-format jwt needs a --resource: the audience of its tokens, which \
             resource servers check"
                .into(),
        )
        .into());
    }
    let scope = Scope::parse(request.scope.as_deref().unwrap_or("openid profile email"))?;
    let secret = (!request.public).then(random_secret);
    let client = Client {
        id: ClientId(Id::generate(clock::now_millis())),
        name,
        redirect_uris,
        scope,
        grant_types,
        secret_hash: secret.as_deref().map(SecretHash::of),
        created_at: clock::now(),
        id_token_alg,
        post_logout_redirect_uris,
        access_token_format,
        resources,
        id_token_claims: request.id_token_claims,
    };
    Ok(Plan::Write(WritePlan::CreateClient(client, secret)))
}

/// Parses a list of URIs, without duplicates, in the order given, at most
/// `MAX_REDIRECT_URIS` of them.
fn uri_list(
    uris: &[String],
    what: &str,
    parse: impl Fn(&str) -> Result<RedirectUri, Invalid>,
) -> Result<Vec<RedirectUri>, AdminError> {
    if uris.len() > MAX_REDIRECT_URIS {
        return Err(Invalid(format!("more than {MAX_REDIRECT_URIS} {what}")).into());
    }
    let mut parsed: Vec<RedirectUri> = Vec::with_capacity(uris.len());
    for uri in uris {
        let uri = parse(uri)?;
        if !parsed.contains(&uri) {
            parsed.push(uri);
        }
    }
    Ok(parsed)
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
        id_token_alg: client.id_token_alg.as_str().to_owned(),
        post_logout_redirect_uris: client
            .post_logout_redirect_uris
            .iter()
            .map(|uri| uri.as_str().to_owned())
            .collect(),
        access_token_format: client.access_token_format.as_str().to_owned(),
        resources: client
            .resources
            .iter()
            .map(|resource| resource.as_str().to_owned())
            .collect(),
        id_token_claims: client.id_token_claims,
    }
}
