//! `client create | list | show | update | delete | rotate-secret`.

use super::views::{ClientSecretView, ClientView, ClientsView, DeletedView};
use super::{
    AdminError, AdminErrorKind, AdminOutput, ClientCreateRequest, ClientUpdateRequest, Plan,
    WritePlan,
};
use crate::clock;
use crate::model::{
    random_secret, AccessTokenFormat, Client, ClientId, ClientOrigin, DisplayName, DocumentUrl,
    GrantType, Id, Invalid, PageUrl, RedirectUri, ResourceUri, Scope, SecretHash, SigningAlg,
    UnixTime, UserId,
};
use crate::oauth::registration::{NewRegistration, PlanRefused};
use crate::store::Store;
use crate::store::{ClientNotInserted, ClientNotUpdated, SecretNotSet};

/// The most redirect URIs one client may register (and the most post-logout redirect URIs).
pub const MAX_REDIRECT_URIS: usize = 20;
/// The most resource indicators one client may register.
pub const MAX_RESOURCES: usize = 20;

/// The scopes a self-registered app may always ask for, whatever the operator set: the
/// standard OpenID Connect ones (`offline_access` changes nothing here, see `authorize`).
pub const SELF_SERVICE_ALWAYS: [&str; 4] = ["openid", "profile", "email", "offline_access"];

/// The longest `rotate-secret --grace`.
pub const MAX_GRACE_SECONDS: u64 = 30 * 86_400;

/// A checked new client, its secret (shown once), and for a developer's app the most apps
/// its owner may have.
pub struct NewClient {
    client: Client,
    secret: Option<String>,
    owner_app_limit: Option<u32>,
}

/// A checked `rotate-secret`.
pub struct Rotation {
    id: ClientId,
    secret: String,
    grace: u64,
    owner: Option<UserId>,
}

/// Checks the new client and makes its id and secret. For a developer's app (`owner`) the
/// self-service rules apply: what it may ask for is read here, and its owner's app count is
/// checked again inside the write.
pub(super) fn create(store: &Store, request: &ClientCreateRequest) -> Result<Plan, AdminError> {
    let owner = request
        .owner
        .as_deref()
        .map(|username| super::users::existing_user(store, username))
        .transpose()?;
    let origin = owner.as_ref().map_or(ClientOrigin::Operator, |owner| {
        ClientOrigin::Developer(owner.id)
    });
    let (client, secret) = build_client(store, request, origin, None)?;
    Ok(Plan::Write(WritePlan::CreateClient(Box::new(NewClient {
        client,
        secret,
        owner_app_limit: request.owner_app_limit.filter(|_| owner.is_some()),
    }))))
}

/// A client a program registers (RFC 7591; `oauth::registration::PlanClient`): `create`'s
/// checks and the self-service rules, with `extra_scopes` (its initial access token's
/// allowance) allowed besides. Not stored: the registration inserts it together with the
/// use of its token.
pub fn plan_registered_client(
    store: &Store,
    registration: &NewRegistration,
    extra_scopes: Option<&Scope>,
) -> Result<(Client, Option<String>), PlanRefused> {
    plan_self_registered(store, registration, ClientOrigin::Registered, extra_scopes)
}

/// The stand-in for a client metadata document (`documents`): `create`'s checks and the
/// self-service rules, for a public client whose id is derived from the document's URL.
/// Not stored here.
pub fn plan_document_client(
    store: &Store,
    registration: &NewRegistration,
    url: &DocumentUrl,
) -> Result<Client, PlanRefused> {
    let registration = NewRegistration {
        public: true,
        ..registration.clone()
    };
    let (client, _) = plan_self_registered(store, &registration, ClientOrigin::Document, None)?;
    Ok(Client {
        id: url.client_id(),
        document: Some(url.clone()),
        ..client
    })
}

fn plan_self_registered(
    store: &Store,
    registration: &NewRegistration,
    origin: ClientOrigin,
    extra_scopes: Option<&Scope>,
) -> Result<(Client, Option<String>), PlanRefused> {
    let request = ClientCreateRequest {
        name: registration.name.clone(),
        redirect_uris: registration.redirect_uris.clone(),
        scope: registration.scope.clone(),
        public: registration.public,
        grant_types: Some(registration.grant_types.clone()),
        id_token_alg: registration.id_token_alg.clone(),
        post_logout_redirect_uris: registration.post_logout_redirect_uris.clone(),
        homepage: registration.homepage.clone(),
        privacy_policy: registration.privacy_policy.clone(),
        ..ClientCreateRequest::default()
    };
    build_client(store, &request, origin, extra_scopes).map_err(|error| {
        // RFC 7591 §3.2.2 names a bad redirect URI apart from any other bad metadata.
        if error.kind == AdminErrorKind::Unavailable {
            PlanRefused::Storage(crate::store::StoreError::Unavailable(error.message))
        } else if error.message.contains("redirect URI") || error.message.contains("--redirect-uri")
        {
            PlanRefused::RedirectUri(error.message)
        } else {
            PlanRefused::Metadata(error.message)
        }
    })
}

/// The new client `request` describes, checked (`check_client`, and the self-service rules
/// for any origin but the operator), and its secret.
fn build_client(
    store: &Store,
    request: &ClientCreateRequest,
    origin: ClientOrigin,
    extra_scopes: Option<&Scope>,
) -> Result<(Client, Option<String>), AdminError> {
    let name = DisplayName::parse("client name", &request.name)?;
    let grant_types = match &request.grant_types {
        Some(list) => GrantType::parse_list(list)?,
        None => vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
    };
    let id_token_alg = match &request.id_token_alg {
        Some(alg) => id_token_alg(alg)?,
        None => SigningAlg::default(),
    };
    let access_token_format = match &request.access_token_format {
        Some(format) => access_token_format(format)?,
        None => AccessTokenFormat::default(),
    };
    let scope = Scope::parse(request.scope.as_deref().unwrap_or("openid profile email"))?;
    let secret = (!request.public).then(random_secret);
    let client = Client {
        id: ClientId(Id::generate(clock::now_millis())),
        name,
        redirect_uris: redirect_uris(&request.redirect_uris)?,
        scope,
        grant_types,
        secret_hash: secret.as_deref().map(SecretHash::of),
        created_at: clock::now(),
        id_token_alg,
        post_logout_redirect_uris: post_logout_redirect_uris(&request.post_logout_redirect_uris)?,
        access_token_format,
        resources: resources(&request.resources)?,
        id_token_claims: request.id_token_claims,
        origin,
        homepage: page_url("--homepage", request.homepage.as_deref())?,
        privacy_policy: page_url("--privacy-policy", request.privacy_policy.as_deref())?,
        verified: false,
        previous_secret: None,
        registration_token_hash: None,
        document: None,
    };
    check_client(&client)?;
    if client.is_self_registered() {
        let mut allowed = self_service_scopes(store)?;
        if let Some(extra) = extra_scopes {
            allowed.extend(extra.tokens().iter().map(|token| token.as_str().to_owned()));
        }
        check_self_service(&client, &allowed)?;
    }
    Ok((client, secret))
}

/// A homepage or privacy policy URL as given; an empty one is none.
fn page_url(flag: &str, given: Option<&str>) -> Result<Option<PageUrl>, Invalid> {
    match given {
        None | Some("") => Ok(None),
        Some(text) => PageUrl::parse(flag, text).map(Some),
    }
}

/// Every scope a self-registered app may ask for now: the standard ones, and those the
/// operator set with `scope set --self-service`.
pub fn self_service_scopes(store: &Store) -> Result<Vec<String>, AdminError> {
    let mut allowed: Vec<String> = SELF_SERVICE_ALWAYS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    allowed.extend(
        store
            .scopes()?
            .into_iter()
            .filter(|(_, settings)| settings.self_service)
            .map(|(scope, _)| scope),
    );
    Ok(allowed)
}

/// What a self-registered app may be: the code flow and refresh only (client_credentials
/// would hand its owner tokens that no user approved), and self-service scopes only.
fn check_self_service(client: &Client, allowed: &[String]) -> Result<(), Invalid> {
    if client.grant_types.contains(&GrantType::ClientCredentials) {
        return Err(Invalid(
            "an app registered by a user may use only the authorization_code and \
             refresh_token grants, not client_credentials"
                .into(),
        ));
    }
    let refused: Vec<&str> = client
        .scope
        .tokens()
        .iter()
        .map(|token| token.as_str())
        .filter(|token| !allowed.iter().any(|allowed| allowed == token))
        .collect();
    if !refused.is_empty() {
        return Err(Invalid(format!(
            "an app registered by a user may not ask for {}: the operator has not allowed it \
             for self-service (allowed: {})",
            refused.join(" "),
            allowed.join(" ")
        )));
    }
    Ok(())
}

/// The rules that tie a client's settings together, for `create` and for every `update`
/// (checked again on the record as it is inside the write).
fn check_client(client: &Client) -> Result<(), Invalid> {
    let grants = &client.grant_types;
    if client.is_public() && grants.contains(&GrantType::ClientCredentials) {
        return Err(Invalid(
            "a public client has no secret, so it cannot use client_credentials".into(),
        ));
    }
    if client.redirect_uris.is_empty() && grants.contains(&GrantType::AuthorizationCode) {
        return Err(Invalid(
            "at least one --redirect-uri is required for the authorization_code grant".into(),
        ));
    }
    if client.access_token_format == AccessTokenFormat::Jwt && client.resources.is_empty() {
        return Err(Invalid(
            "--access-token-format jwt needs a --resource: the audience of its tokens, which \
             resource servers check"
                .into(),
        ));
    }
    Ok(())
}

fn redirect_uris(uris: &[String]) -> Result<Vec<RedirectUri>, AdminError> {
    uri_list(uris, "redirect URIs", RedirectUri::parse)
}

/// The same rules as for redirect URIs: logout sends the browser there just the same.
fn post_logout_redirect_uris(uris: &[String]) -> Result<Vec<RedirectUri>, AdminError> {
    uri_list(uris, "post-logout redirect URIs", |uri| {
        RedirectUri::parse(uri)
            .map_err(|invalid| Invalid(format!("--post-logout-redirect-uri: {}", invalid.0)))
    })
}

fn id_token_alg(text: &str) -> Result<SigningAlg, Invalid> {
    SigningAlg::parse(text).map_err(|invalid| Invalid(format!("--id-token-alg: {}", invalid.0)))
}

fn access_token_format(text: &str) -> Result<AccessTokenFormat, Invalid> {
    AccessTokenFormat::parse(text)
        .map_err(|invalid| Invalid(format!("--access-token-format: {}", invalid.0)))
}

/// Resource indicators in the order given (the first is a JWT-format client's default
/// audience), without duplicates, at most `MAX_RESOURCES`.
fn resources(given: &[String]) -> Result<Vec<ResourceUri>, AdminError> {
    if given.len() > MAX_RESOURCES {
        return Err(Invalid(format!("more than {MAX_RESOURCES} resources")).into());
    }
    let mut resources: Vec<ResourceUri> = Vec::with_capacity(given.len());
    for resource in given {
        let resource = ResourceUri::parse(resource)
            .map_err(|invalid| Invalid(format!("--resource: {}", invalid.0)))?;
        if !resources.contains(&resource) {
            resources.push(resource);
        }
    }
    Ok(resources)
}

/// `client update`'s changes, parsed; applied to the client as stored inside the write.
pub struct ClientChanges {
    name: Option<DisplayName>,
    redirect_uris: Option<Vec<RedirectUri>>,
    add_redirect_uris: Vec<RedirectUri>,
    remove_redirect_uris: Vec<RedirectUri>,
    scope: Option<Scope>,
    grant_types: Option<Vec<GrantType>>,
    id_token_alg: Option<SigningAlg>,
    post_logout_redirect_uris: Option<Vec<RedirectUri>>,
    access_token_format: Option<AccessTokenFormat>,
    resources: Option<Vec<ResourceUri>>,
    id_token_claims: Option<bool>,
    homepage: Option<Option<PageUrl>>,
    privacy_policy: Option<Option<PageUrl>>,
    /// The developer page's changes: only to this user's app, and within what
    /// self-service allows (the scopes allowed when the change was checked).
    owner: Option<(UserId, Vec<String>)>,
}

impl ClientChanges {
    /// The changed client, or why it would break a rule (`check_client`, the self-service
    /// rules, or a redirect URI to remove that it does not have).
    fn apply_to(&self, client: &Client) -> Result<Client, AdminError> {
        if let Some((owner, _)) = &self.owner {
            if client.owner() != Some(*owner) {
                return Err(client_not_found(client.id));
            }
        }
        let mut changed = client.clone();
        if let Some(name) = &self.name {
            changed.name = name.clone();
        }
        if let Some(uris) = &self.redirect_uris {
            changed.redirect_uris = uris.clone();
        }
        for uri in &self.remove_redirect_uris {
            if !changed.redirect_uris.contains(uri) {
                return Err(Invalid(format!(
                    "the client has no redirect URI {}; nothing was changed",
                    uri.as_str()
                ))
                .into());
            }
            changed.redirect_uris.retain(|kept| kept != uri);
        }
        for uri in &self.add_redirect_uris {
            if !changed.redirect_uris.contains(uri) {
                changed.redirect_uris.push(uri.clone());
            }
        }
        if changed.redirect_uris.len() > MAX_REDIRECT_URIS {
            return Err(Invalid(format!("more than {MAX_REDIRECT_URIS} redirect URIs")).into());
        }
        if let Some(scope) = &self.scope {
            changed.scope = scope.clone();
        }
        if let Some(grants) = &self.grant_types {
            changed.grant_types = grants.clone();
        }
        if let Some(alg) = self.id_token_alg {
            changed.id_token_alg = alg;
        }
        if let Some(uris) = &self.post_logout_redirect_uris {
            changed.post_logout_redirect_uris = uris.clone();
        }
        if let Some(format) = self.access_token_format {
            changed.access_token_format = format;
        }
        if let Some(resources) = &self.resources {
            changed.resources = resources.clone();
        }
        if let Some(claims) = self.id_token_claims {
            changed.id_token_claims = claims;
        }
        if let Some(homepage) = &self.homepage {
            changed.homepage = homepage.clone();
        }
        if let Some(policy) = &self.privacy_policy {
            changed.privacy_policy = policy.clone();
        }
        check_client(&changed)?;
        if let Some((_, allowed)) = &self.owner {
            check_self_service(&changed, allowed)?;
        }
        Ok(changed)
    }
}

/// Parses and checks `client update` against the client as it is now; `apply_update`
/// applies the same changes again to the record inside the write.
pub(super) fn update(store: &Store, request: &ClientUpdateRequest) -> Result<Plan, AdminError> {
    let id = ClientId::parse_any(&request.id)?;
    let client = store.client(id)?.ok_or_else(|| client_not_found(id))?;
    if client.origin == ClientOrigin::Document {
        return Err(Invalid(format!(
            "client {} is described by its metadata document, which decides its settings \
             (it is read again when it goes stale); change the document instead",
            client.public_id()
        ))
        .into());
    }
    let each = |uris: &[String], flag: &str| -> Result<Vec<RedirectUri>, AdminError> {
        uri_list(uris, "redirect URIs", |uri| {
            RedirectUri::parse(uri).map_err(|invalid| Invalid(format!("{flag}: {}", invalid.0)))
        })
    };
    let changes = ClientChanges {
        name: request
            .name
            .as_deref()
            .map(|name| DisplayName::parse("client name", name))
            .transpose()?,
        redirect_uris: request
            .redirect_uris
            .as_deref()
            .map(redirect_uris)
            .transpose()?,
        add_redirect_uris: each(&request.add_redirect_uris, "--add-redirect-uri")?,
        remove_redirect_uris: each(&request.remove_redirect_uris, "--remove-redirect-uri")?,
        scope: request.scope.as_deref().map(Scope::parse).transpose()?,
        grant_types: request
            .grant_types
            .as_deref()
            .map(GrantType::parse_list)
            .transpose()?,
        id_token_alg: request
            .id_token_alg
            .as_deref()
            .map(id_token_alg)
            .transpose()?,
        post_logout_redirect_uris: request
            .post_logout_redirect_uris
            .as_deref()
            .map(post_logout_redirect_uris)
            .transpose()?,
        access_token_format: request
            .access_token_format
            .as_deref()
            .map(access_token_format)
            .transpose()?,
        resources: request.resources.as_deref().map(resources).transpose()?,
        id_token_claims: request.id_token_claims,
        homepage: request
            .homepage
            .as_deref()
            .map(|given| page_url("--homepage", Some(given)))
            .transpose()?,
        privacy_policy: request
            .privacy_policy
            .as_deref()
            .map(|given| page_url("--privacy-policy", Some(given)))
            .transpose()?,
        owner: match request.owner.as_deref() {
            Some(username) => Some((
                super::users::existing_user(store, username)?.id,
                self_service_scopes(store)?,
            )),
            None => None,
        },
    };
    let nothing = request.name.is_none()
        && request.redirect_uris.is_none()
        && request.add_redirect_uris.is_empty()
        && request.remove_redirect_uris.is_empty()
        && request.scope.is_none()
        && request.grant_types.is_none()
        && request.id_token_alg.is_none()
        && request.post_logout_redirect_uris.is_none()
        && request.access_token_format.is_none()
        && request.resources.is_none()
        && request.id_token_claims.is_none()
        && request.homepage.is_none()
        && request.privacy_policy.is_none();
    if nothing {
        return Err(Invalid(format!(
            "nothing to change for client {id}: give at least one setting (see `keyward \
             client update --help`)"
        ))
        .into());
    }
    changes.apply_to(&client)?;
    Ok(Plan::Write(WritePlan::UpdateClient(id, Box::new(changes))))
}

/// The client may have changed since `update` looked: the changes are applied to, and the
/// rules checked on, the record as it is inside the write.
pub(super) async fn apply_update(
    store: &Store,
    id: ClientId,
    changes: ClientChanges,
) -> Result<AdminOutput, AdminError> {
    match store
        .update_client(id, move |client| changes.apply_to(client))
        .await
    {
        Ok(Ok(client)) => Ok(AdminOutput::Client(Box::new(client_view(store, &client)))),
        Ok(Err(refused)) => Err(refused),
        Err(ClientNotUpdated::NoSuchClient) => Err(client_not_found(id)),
        Err(ClientNotUpdated::Storage(error)) => Err(error.into()),
    }
}

/// `client verify`: the operator's review mark, on the client as it is inside the write.
pub(super) fn verify(store: &Store, id: &str, verified: bool) -> Result<Plan, AdminError> {
    let id = ClientId::parse_any(id)?;
    store.client(id)?.ok_or_else(|| client_not_found(id))?;
    Ok(Plan::Write(WritePlan::VerifyClient(id, verified)))
}

pub(super) async fn apply_verify(
    store: &Store,
    id: ClientId,
    verified: bool,
) -> Result<AdminOutput, AdminError> {
    let marked = store
        .update_client(id, move |client| {
            Ok::<_, AdminError>(Client {
                verified,
                ..client.clone()
            })
        })
        .await;
    match marked {
        Ok(Ok(client)) => Ok(AdminOutput::Client(Box::new(client_view(store, &client)))),
        Ok(Err(refused)) => Err(refused),
        Err(ClientNotUpdated::NoSuchClient) => Err(client_not_found(id)),
        Err(ClientNotUpdated::Storage(error)) => Err(error.into()),
    }
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
        clients: store
            .clients()?
            .iter()
            .map(|client| client_view(store, client))
            .collect(),
    })))
}

pub(super) fn show(store: &Store, id: &str) -> Result<Plan, AdminError> {
    let id = ClientId::parse_any(id)?;
    let client = store.client(id)?.ok_or_else(|| client_not_found(id))?;
    Ok(Plan::Done(AdminOutput::Client(Box::new(client_view(
        store, &client,
    )))))
}

/// The client, which must exist and, when `owner` names a user, be theirs: to anyone else a
/// developer's app does not exist.
fn owned_client(
    store: &Store,
    id: &str,
    owner: Option<&str>,
) -> Result<(Client, Option<UserId>), AdminError> {
    let id = ClientId::parse_any(id)?;
    let client = store.client(id)?.ok_or_else(|| client_not_found(id))?;
    let owner = owner
        .map(|username| super::users::existing_user(store, username))
        .transpose()?
        .map(|user| user.id);
    if owner.is_some_and(|owner| client.owner() != Some(owner)) {
        return Err(client_not_found(id));
    }
    Ok(((*client).clone(), owner))
}

pub(super) fn delete(store: &Store, id: &str, owner: Option<&str>) -> Result<Plan, AdminError> {
    let (client, owner) = owned_client(store, id, owner)?;
    Ok(Plan::Write(WritePlan::DeleteClient(client.id, owner)))
}

pub(super) fn rotate_secret(
    store: &Store,
    id: &str,
    grace: Option<u64>,
    owner: Option<&str>,
) -> Result<Plan, AdminError> {
    let (client, owner) = owned_client(store, id, owner)?;
    if client.is_public() {
        return Err(public_has_no_secret(client.id));
    }
    let grace = grace.unwrap_or(0);
    if grace > MAX_GRACE_SECONDS {
        return Err(Invalid(
            "--grace is at most 30d: a previous secret should not outlive the update of the \
             app's deployments; no secret was changed"
                .into(),
        )
        .into());
    }
    Ok(Plan::Write(WritePlan::RotateSecret(Rotation {
        id: client.id,
        secret: random_secret(),
        grace,
        owner,
    })))
}

pub(super) async fn apply_create(store: &Store, new: NewClient) -> Result<AdminOutput, AdminError> {
    let NewClient {
        client,
        secret,
        owner_app_limit,
    } = new;
    let client_id = client.id;
    if client.is_self_registered() {
        match store.insert_owned_client(client, owner_app_limit).await {
            Ok(()) => {}
            Err(ClientNotInserted::LimitReached(limit)) => {
                return Err(AdminError::new(
                    AdminErrorKind::Conflict,
                    format!(
                        "the owner has {limit} apps already, the most one user may have; \
                         delete one first"
                    ),
                ))
            }
            Err(ClientNotInserted::NoOwner) => {
                return Err(AdminError::new(
                    AdminErrorKind::NotFound,
                    "the app's owner no longer exists",
                ))
            }
            Err(ClientNotInserted::Storage(error)) => return Err(error.into()),
        }
    } else {
        store.insert_client(client).await?;
    }
    Ok(AdminOutput::ClientSecret(ClientSecretView {
        client_id: client_id.to_string(),
        client_secret: secret,
        previous_secret_valid_until: None,
    }))
}

pub(super) async fn apply_delete(
    store: &Store,
    id: ClientId,
    owner: Option<UserId>,
) -> Result<AdminOutput, AdminError> {
    if !store.delete_client_if(id, owner).await? {
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
    rotation: Rotation,
) -> Result<AdminOutput, AdminError> {
    let Rotation {
        id,
        secret,
        grace,
        owner,
    } = rotation;
    let until: Option<UnixTime> = (grace > 0).then(|| clock::now() + grace);
    match store
        .set_client_secret(id, SecretHash::of(&secret), until, owner)
        .await
    {
        Ok(_) => Ok(AdminOutput::ClientSecret(ClientSecretView {
            client_id: id.to_string(),
            client_secret: Some(secret),
            previous_secret_valid_until: until,
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
    if id.is_document() {
        return AdminError::new(
            AdminErrorKind::NotFound,
            "no client has been seen with that metadata document URL",
        );
    }
    AdminError::new(AdminErrorKind::NotFound, format!("no client with id {id}"))
}

fn client_view(store: &Store, client: &Client) -> ClientView {
    // A name for the owner; one whose user cannot be read is shown by id.
    let owner = client.owner().map(|owner| match store.user(owner) {
        Ok(Some(user)) => user.username.as_str().to_owned(),
        _ => format!("user {owner}"),
    });
    ClientView {
        client_id: client.public_id(),
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
        owner,
        homepage: client.homepage.as_ref().map(|url| url.as_str().to_owned()),
        privacy_policy: client
            .privacy_policy
            .as_ref()
            .map(|url| url.as_str().to_owned()),
        verified: client.verified,
        previous_secret_valid_until: client
            .previous_secret
            .filter(|previous| clock::now() < previous.until)
            .map(|previous| previous.until),
        registered_by: match client.origin {
            ClientOrigin::Operator => "operator",
            ClientOrigin::Developer(_) => "developer",
            ClientOrigin::Registered => "registration",
            ClientOrigin::Document => "document",
        }
        .to_owned(),
    }
}
