//! Admin operations: one implementation of each, used by the CLI directly on the database
//! file and by the running server on behalf of the CLI through the admin socket. Validation
//! happens here, so both paths accept and refuse exactly the same things and print the same
//! output.

pub mod socket;

use serde::{Deserialize, Serialize};

use crate::clock;
use crate::model::{
    random_secret, Client, ClientId, DisplayName, Email, GrantType, Id, Invalid, Password,
    RedirectUri, Scope, ScopeToken, SecretHash, User, UserId, Username,
};
use crate::oauth::apikeys::{new_api_key, KeyRefused, NewApiKey};
use crate::password;
use crate::store::{ApiKey, KeyNotStored, ScopeSettings, Store, StoreError};

/// The most redirect URIs one client may register.
pub const MAX_REDIRECT_URIS: usize = 20;

/// An admin command, as it travels over the admin socket (one JSON line).
#[derive(Serialize, Deserialize, Clone)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Who is serving: asked by a second `serve` and by the CLI.
    ServerInfo,
    ClientCreate {
        name: String,
        redirect_uris: Vec<String>,
        scope: Option<String>,
        public: bool,
        grant_types: Option<String>,
    },
    ClientList,
    ClientShow {
        id: String,
    },
    ClientDelete {
        id: String,
    },
    ClientRotateSecret {
        id: String,
    },
    UserCreate {
        username: String,
        email: Option<String>,
        name: Option<String>,
        password: String,
    },
    UserList,
    UserDelete {
        username: String,
    },
    UserSetPassword {
        username: String,
        password: String,
    },
    /// End every session of a user (they must sign in again).
    UserSignOut {
        username: String,
    },
    ScopeSet {
        name: String,
        description: String,
        /// Users may put the scope on their personal API keys. Absent (an older CLI): no.
        #[serde(default)]
        api_keys: bool,
    },
    ScopeList,
    ScopeDelete {
        name: String,
    },
    ApiKeyCreate {
        username: String,
        name: String,
        expires_in: Option<u64>,
        scope: Option<String>,
    },
    ApiKeyList {
        username: String,
    },
    ApiKeyDelete {
        id: String,
    },
    GrantList {
        username: String,
    },
    GrantRevoke {
        id: String,
    },
    /// A consistent snapshot to a new file (an absolute path, as the server resolves it).
    Backup {
        to: String,
    },
    /// Open and decode every record.
    Check,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ClientSecretView {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ClientView {
    pub client_id: String,
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scope: String,
    pub grant_types: Vec<String>,
    pub public: bool,
    pub created_at: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ClientsView {
    pub clients: Vec<ClientView>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UserRef {
    pub user_id: String,
    pub username: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UserView {
    pub user_id: String,
    pub username: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub created_at: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UsersView {
    pub users: Vec<UserView>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct SessionsEndedView {
    pub user_id: String,
    pub username: String,
    pub sessions_ended: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct DeletedView {
    pub deleted: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ScopeDescriptionView {
    pub scope: String,
    pub description: String,
    /// Whether personal API keys may carry the scope.
    #[serde(default)]
    pub api_keys: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ScopesView {
    pub scopes: Vec<ScopeDescriptionView>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct NewApiKeyView {
    pub id: String,
    pub api_key: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ApiKeyView {
    pub id: String,
    pub name: String,
    pub scope: String,
    pub created_at: u64,
    pub last_used: Option<u64>,
    pub expires_at: Option<u64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ApiKeysView {
    pub api_keys: Vec<ApiKeyView>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct GrantView {
    pub grant_id: String,
    pub client_id: String,
    pub client_name: Option<String>,
    pub scope: String,
    pub created_at: u64,
    pub last_used: u64,
    pub expires_at: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct GrantsView {
    pub grants: Vec<GrantView>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RevokedView {
    pub revoked: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct BackupView {
    pub backup: String,
    pub records: u64,
    pub bytes: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct CheckView {
    pub ok: bool,
    /// The schema of the database file.
    #[serde(default)]
    pub schema_version: u32,
    /// Snapshots a migration kept of the database as it was, in the data directory.
    #[serde(default)]
    pub migration_snapshots: Vec<String>,
    pub tables: std::collections::BTreeMap<String, u64>,
    pub problems: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ServerInfoView {
    pub pid: u32,
    pub listen: String,
    pub issuer: String,
    pub version: String,
}

/// What an admin command produced. `--json` prints the inner object alone.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum AdminOutput {
    ClientSecret(ClientSecretView),
    Client(ClientView),
    Clients(ClientsView),
    User(UserRef),
    Users(UsersView),
    SessionsEnded(SessionsEndedView),
    Deleted(DeletedView),
    Scope(ScopeDescriptionView),
    Scopes(ScopesView),
    NewApiKey(NewApiKeyView),
    ApiKeys(ApiKeysView),
    Grants(GrantsView),
    Revoked(RevokedView),
    Backup(BackupView),
    Check(CheckView),
    ServerInfo(ServerInfoView),
}

#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum AdminErrorKind {
    /// The input is malformed or breaks a rule; nothing was written.
    Invalid,
    NotFound,
    Conflict,
    /// The storage failed; nothing was written.
    Unavailable,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct AdminError {
    pub kind: AdminErrorKind,
    pub message: String,
}

impl AdminError {
    fn new(kind: AdminErrorKind, message: impl Into<String>) -> AdminError {
        AdminError {
            kind,
            message: message.into(),
        }
    }
}

impl From<Invalid> for AdminError {
    fn from(invalid: Invalid) -> AdminError {
        AdminError::new(AdminErrorKind::Invalid, invalid.0)
    }
}

impl From<StoreError> for AdminError {
    fn from(error: StoreError) -> AdminError {
        AdminError::new(AdminErrorKind::Unavailable, error.to_string())
    }
}

/// What an admin command will do once it has been checked: either it is already answered
/// (reads), or it is a write that `apply` performs.
pub enum Plan {
    Done(AdminOutput),
    Write(WritePlan),
}

/// A checked write. Built by `prepare` without writing anything, so a refused command never
/// needs the database opened for writing.
pub enum WritePlan {
    CreateClient(Client, Option<String>),
    DeleteClient(ClientId),
    RotateSecret(ClientId, String),
    CreateUser(User),
    DeleteUser(Username),
    SetPassword(Username, String),
    EndSessions(UserId, Username),
    SetScope(ScopeToken, ScopeSettings),
    DeleteScope(ScopeToken),
    CreateApiKey(Box<NewApiKey>),
    DeleteApiKey(Id),
    RevokeGrant(Id),
}

/// Runs one admin command against the store: `prepare`, then `apply`.
pub async fn execute(store: &Store, request: AdminRequest) -> Result<AdminOutput, AdminError> {
    match prepare(store, request).await? {
        Plan::Done(output) => Ok(output),
        Plan::Write(plan) => apply(store, plan).await,
    }
}

/// Validates a command and does its reads. Never writes: the CLI runs this on a read-only
/// handle, so malformed input leaves every byte of the data directory as it was.
pub async fn prepare(store: &Store, request: AdminRequest) -> Result<Plan, AdminError> {
    let write = |plan| Ok(Plan::Write(plan));
    match request {
        AdminRequest::ServerInfo => Err(AdminError::new(
            AdminErrorKind::NotFound,
            "no keyward server is running on this data directory",
        )),
        AdminRequest::ClientCreate {
            name,
            redirect_uris,
            scope,
            public,
            grant_types,
        } => {
            let (client, secret) = new_client(
                &name,
                &redirect_uris,
                scope.as_deref(),
                public,
                grant_types.as_deref(),
            )?;
            write(WritePlan::CreateClient(client, secret))
        }
        AdminRequest::ClientList => Ok(Plan::Done(AdminOutput::Clients(ClientsView {
            clients: store.clients()?.iter().map(client_view).collect(),
        }))),
        AdminRequest::ClientShow { id } => {
            let id = ClientId::parse(&id)?;
            let client = store.client(id)?.ok_or_else(|| client_not_found(id))?;
            Ok(Plan::Done(AdminOutput::Client(client_view(&client))))
        }
        AdminRequest::ClientDelete { id } => {
            let id = ClientId::parse(&id)?;
            store.client(id)?.ok_or_else(|| client_not_found(id))?;
            write(WritePlan::DeleteClient(id))
        }
        AdminRequest::ClientRotateSecret { id } => {
            let id = ClientId::parse(&id)?;
            let client = store.client(id)?.ok_or_else(|| client_not_found(id))?;
            if client.is_public() {
                return Err(public_has_no_secret(id));
            }
            write(WritePlan::RotateSecret(id, random_secret()))
        }
        AdminRequest::UserCreate {
            username,
            email,
            name,
            password,
        } => {
            let username = Username::parse(&username)?;
            let email = email.as_deref().map(Email::parse).transpose()?;
            let name = name
                .as_deref()
                .map(|name| DisplayName::parse("name", name))
                .transpose()?;
            let password = Password::parse(&password)?;
            // Checked before the slow hash; the insert checks again inside its transaction.
            if store.user_by_username(&username)?.is_some() {
                return Err(username_taken(&username));
            }
            write(WritePlan::CreateUser(User {
                id: UserId(Id::generate(clock::now_millis())),
                username,
                email,
                name,
                password_hash: hash_password(password).await?,
                created_at: clock::now(),
            }))
        }
        AdminRequest::UserList => Ok(Plan::Done(AdminOutput::Users(UsersView {
            users: store.users()?.iter().map(user_view).collect(),
        }))),
        AdminRequest::UserDelete { username } => {
            let username = Username::parse(&username)?;
            store
                .user_by_username(&username)?
                .ok_or_else(|| user_not_found(&username))?;
            write(WritePlan::DeleteUser(username))
        }
        AdminRequest::UserSetPassword { username, password } => {
            let username = Username::parse(&username)?;
            let password = Password::parse(&password)?;
            store
                .user_by_username(&username)?
                .ok_or_else(|| user_not_found(&username))?;
            let hash = hash_password(password).await?;
            write(WritePlan::SetPassword(username, hash))
        }
        AdminRequest::UserSignOut { username } => {
            let user = existing_user(store, &username)?;
            write(WritePlan::EndSessions(user.id, user.username))
        }
        AdminRequest::ScopeSet {
            name,
            description,
            api_keys,
        } => {
            let scope = ScopeToken::parse(&name)?;
            let description = DisplayName::parse("scope description", &description)?;
            write(WritePlan::SetScope(
                scope,
                ScopeSettings {
                    description: description.as_str().to_owned(),
                    api_keys,
                },
            ))
        }
        AdminRequest::ScopeList => Ok(Plan::Done(AdminOutput::Scopes(ScopesView {
            scopes: store
                .scopes()?
                .into_iter()
                .map(|(scope, settings)| scope_view(scope, settings))
                .collect(),
        }))),
        AdminRequest::ScopeDelete { name } => {
            let scope = ScopeToken::parse(&name)?;
            if store.scope_settings(scope.as_str())?.is_none() {
                return Err(scope_not_found(&scope));
            }
            write(WritePlan::DeleteScope(scope))
        }
        AdminRequest::ApiKeyCreate {
            username,
            name,
            expires_in,
            scope,
        } => {
            let user = existing_user(store, &username)?;
            let new = plan_api_key(store, user.id, &name, scope.as_deref(), expires_in)?
                .map_err(|refused| AdminError::new(AdminErrorKind::Invalid, refused.message()))?;
            write(WritePlan::CreateApiKey(Box::new(new)))
        }
        AdminRequest::ApiKeyList { username } => {
            let user = existing_user(store, &username)?;
            Ok(Plan::Done(AdminOutput::ApiKeys(ApiKeysView {
                api_keys: store
                    .api_keys_of_user(user.id)?
                    .iter()
                    .map(api_key_view)
                    .collect(),
            })))
        }
        AdminRequest::ApiKeyDelete { id } => {
            let id = parse_id(&id, "API key id")?;
            store.api_key(id)?.ok_or_else(|| api_key_not_found(id))?;
            write(WritePlan::DeleteApiKey(id))
        }
        AdminRequest::GrantList { username } => {
            let user = existing_user(store, &username)?;
            let mut grants = Vec::new();
            for grant in store.grants_of_user(user.id)? {
                let client_name = store
                    .client(grant.client_id)?
                    .map(|client| client.name.as_str().to_owned());
                grants.push(GrantView {
                    grant_id: grant.id.to_string(),
                    client_id: grant.client_id.to_string(),
                    client_name,
                    scope: grant.scope.to_string(),
                    created_at: grant.created_at,
                    last_used: grant.last_used,
                    expires_at: grant.expires_at,
                });
            }
            Ok(Plan::Done(AdminOutput::Grants(GrantsView { grants })))
        }
        AdminRequest::Backup { .. } | AdminRequest::Check if !store.path().exists() => {
            Err(AdminError::new(
                AdminErrorKind::NotFound,
                format!("there is no database at {}", store.path().display()),
            ))
        }
        AdminRequest::Backup { to } => {
            let path = std::path::PathBuf::from(&to);
            if !path.is_absolute() {
                return Err(Invalid(format!("backup path '{to}' must be absolute")).into());
            }
            let report = store.backup_to(&path).map_err(|error| match error {
                crate::store::BackupError::Store(error) => AdminError::from(error),
                other => AdminError::new(AdminErrorKind::Invalid, other.to_string()),
            })?;
            Ok(Plan::Done(AdminOutput::Backup(BackupView {
                backup: report.path.display().to_string(),
                records: report.records,
                bytes: report.bytes,
            })))
        }
        AdminRequest::Check => {
            let report = store.check().await?;
            Ok(Plan::Done(AdminOutput::Check(CheckView {
                ok: report.problems.is_empty(),
                schema_version: store.schema_version(),
                migration_snapshots: report
                    .migration_snapshots
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect(),
                tables: report.tables.into_iter().collect(),
                problems: report.problems,
            })))
        }
        AdminRequest::GrantRevoke { id } => {
            let id = parse_id(&id, "grant id")?;
            store.grant(id)?.ok_or_else(|| grant_not_found(id))?;
            write(WritePlan::RevokeGrant(id))
        }
    }
}

/// Makes and checks a new personal API key for `user_id`, reading which scopes the
/// operator lets API keys carry: the one implementation behind `apikey create` (directly or
/// through the admin socket) and the account page. `apply` stores it.
pub fn plan_api_key(
    store: &Store,
    user_id: UserId,
    name: &str,
    scope: Option<&str>,
    expires_in: Option<u64>,
) -> Result<Result<NewApiKey, KeyRefused>, StoreError> {
    let allowed: Vec<String> = store
        .scopes()?
        .into_iter()
        .filter(|(_, settings)| settings.api_keys)
        .map(|(name, _)| name)
        .collect();
    Ok(new_api_key(
        user_id,
        name,
        scope,
        expires_in,
        &allowed,
        clock::now(),
        clock::now_millis(),
    ))
}

fn scope_view(scope: String, settings: ScopeSettings) -> ScopeDescriptionView {
    ScopeDescriptionView {
        scope,
        description: settings.description,
        api_keys: settings.api_keys,
    }
}

fn existing_user(store: &Store, username: &str) -> Result<User, AdminError> {
    let username = Username::parse(username)?;
    store
        .user_by_username(&username)?
        .ok_or_else(|| user_not_found(&username))
}

fn parse_id(text: &str, what: &str) -> Result<Id, AdminError> {
    Id::parse(text).ok_or_else(|| {
        Invalid(format!(
            "'{}' is not a {what} (expected 32 lowercase hex characters)",
            crate::model::truncate_for_message(text)
        ))
        .into()
    })
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

fn api_key_not_found(id: Id) -> AdminError {
    AdminError::new(AdminErrorKind::NotFound, format!("no API key with id {id}"))
}

fn grant_not_found(id: Id) -> AdminError {
    AdminError::new(AdminErrorKind::NotFound, format!("no grant with id {id}"))
}

/// Performs a checked write. Whatever changed since `prepare` (a concurrent delete, a
/// username taken a moment ago) is checked again inside the write transaction.
pub async fn apply(store: &Store, plan: WritePlan) -> Result<AdminOutput, AdminError> {
    match plan {
        WritePlan::CreateClient(client, secret) => {
            let client_id = client.id;
            store.insert_client(client).await?;
            Ok(AdminOutput::ClientSecret(ClientSecretView {
                client_id: client_id.to_string(),
                client_secret: secret,
            }))
        }
        WritePlan::DeleteClient(id) => {
            if !store.delete_client(id).await? {
                return Err(client_not_found(id));
            }
            Ok(AdminOutput::Deleted(DeletedView {
                deleted: id.to_string(),
            }))
        }
        WritePlan::RotateSecret(id, secret) => {
            match store.set_client_secret(id, SecretHash::of(&secret)).await? {
                None => Err(client_not_found(id)),
                Some(false) => Err(public_has_no_secret(id)),
                Some(true) => Ok(AdminOutput::ClientSecret(ClientSecretView {
                    client_id: id.to_string(),
                    client_secret: Some(secret),
                })),
            }
        }
        WritePlan::CreateUser(user) => {
            let user_ref = UserRef {
                user_id: user.id.to_string(),
                username: user.username.as_str().to_owned(),
            };
            let username = user.username.clone();
            store
                .insert_user(user)
                .await?
                .map_err(|_| username_taken(&username))?;
            Ok(AdminOutput::User(user_ref))
        }
        WritePlan::DeleteUser(username) => match store.delete_user(username.clone()).await? {
            Some(_) => Ok(AdminOutput::Deleted(DeletedView {
                deleted: username.as_str().to_owned(),
            })),
            None => Err(user_not_found(&username)),
        },
        WritePlan::SetScope(scope, settings) => {
            store.set_scope(scope.clone(), settings.clone()).await?;
            Ok(AdminOutput::Scope(scope_view(
                scope.as_str().to_owned(),
                settings,
            )))
        }
        WritePlan::DeleteScope(scope) => {
            if !store.delete_scope(scope.clone()).await? {
                return Err(scope_not_found(&scope));
            }
            Ok(AdminOutput::Deleted(DeletedView {
                deleted: scope.as_str().to_owned(),
            }))
        }
        WritePlan::CreateApiKey(new) => {
            let NewApiKey {
                record,
                token,
                needs_api_keys,
            } = *new;
            let id = record.id;
            match store.insert_api_key(record, needs_api_keys).await? {
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
            }
        }
        WritePlan::DeleteApiKey(id) => {
            if !store.delete_api_key(id, None).await? {
                return Err(api_key_not_found(id));
            }
            Ok(AdminOutput::Deleted(DeletedView {
                deleted: id.to_string(),
            }))
        }
        WritePlan::RevokeGrant(id) => {
            if !store.revoke_grant(id, None, clock::now_millis()).await? {
                return Err(grant_not_found(id));
            }
            Ok(AdminOutput::Revoked(RevokedView {
                revoked: id.to_string(),
            }))
        }
        WritePlan::EndSessions(user_id, username) => {
            let ended = store.end_user_sessions(user_id).await?;
            Ok(AdminOutput::SessionsEnded(SessionsEndedView {
                user_id: user_id.to_string(),
                username: username.as_str().to_owned(),
                sessions_ended: ended,
            }))
        }
        WritePlan::SetPassword(username, hash) => {
            match store.set_password_hash(username.clone(), hash).await? {
                Some(id) => Ok(AdminOutput::User(UserRef {
                    user_id: id.to_string(),
                    username: username.as_str().to_owned(),
                })),
                None => Err(user_not_found(&username)),
            }
        }
    }
}

fn new_client(
    name: &str,
    redirect_uris: &[String],
    scope: Option<&str>,
    public: bool,
    grant_types: Option<&str>,
) -> Result<(Client, Option<String>), AdminError> {
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
    Ok((client, secret))
}

fn public_has_no_secret(id: ClientId) -> AdminError {
    AdminError::new(
        AdminErrorKind::Invalid,
        format!("client {id} is public and has no secret to rotate"),
    )
}

async fn hash_password(password: Password) -> Result<String, AdminError> {
    password::hash(password)
        .await
        .map_err(|error| AdminError::new(AdminErrorKind::Unavailable, error.to_string()))
}

fn client_not_found(id: ClientId) -> AdminError {
    AdminError::new(AdminErrorKind::NotFound, format!("no client with id {id}"))
}

fn user_not_found(username: &Username) -> AdminError {
    AdminError::new(
        AdminErrorKind::NotFound,
        format!("no user named '{}'", username.as_str()),
    )
}

fn scope_not_found(scope: &ScopeToken) -> AdminError {
    AdminError::new(
        AdminErrorKind::NotFound,
        format!("scope '{}' has no description", scope.as_str()),
    )
}

fn username_taken(username: &Username) -> AdminError {
    AdminError::new(
        AdminErrorKind::Conflict,
        format!("username '{}' is already taken", username.as_str()),
    )
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

fn user_view(user: &User) -> UserView {
    UserView {
        user_id: user.id.to_string(),
        username: user.username.as_str().to_owned(),
        email: user.email.as_ref().map(|email| email.as_str().to_owned()),
        name: user.name.as_ref().map(|name| name.as_str().to_owned()),
        created_at: user.created_at,
    }
}

impl AdminOutput {
    /// The object `--json` prints.
    pub fn json(&self) -> serde_json::Value {
        let value = match self {
            AdminOutput::ClientSecret(view) => serde_json::to_value(view),
            AdminOutput::Client(view) => serde_json::to_value(view),
            AdminOutput::Clients(view) => serde_json::to_value(view),
            AdminOutput::User(view) => serde_json::to_value(view),
            AdminOutput::Users(view) => serde_json::to_value(view),
            AdminOutput::SessionsEnded(view) => serde_json::to_value(view),
            AdminOutput::Deleted(view) => serde_json::to_value(view),
            AdminOutput::Scope(view) => serde_json::to_value(view),
            AdminOutput::Scopes(view) => serde_json::to_value(view),
            AdminOutput::NewApiKey(view) => serde_json::to_value(view),
            AdminOutput::ApiKeys(view) => serde_json::to_value(view),
            AdminOutput::Grants(view) => serde_json::to_value(view),
            AdminOutput::Revoked(view) => serde_json::to_value(view),
            AdminOutput::Backup(view) => serde_json::to_value(view),
            AdminOutput::Check(view) => serde_json::to_value(view),
            AdminOutput::ServerInfo(view) => serde_json::to_value(view),
        };
        value.expect("admin views serialize to JSON")
    }

    /// The text a person reads.
    pub fn human(&self) -> String {
        match self {
            AdminOutput::ClientSecret(view) => match &view.client_secret {
                Some(secret) => format!(
                    "client_id:     {}\nclient_secret: {secret}\n\nThe secret is shown once and never again: store it now.",
                    view.client_id
                ),
                None => format!("client_id: {}\n(public client: no secret)", view.client_id),
            },
            AdminOutput::Client(view) => human_client(view),
            AdminOutput::Clients(view) if view.clients.is_empty() => "no clients".to_owned(),
            AdminOutput::Clients(view) => view
                .clients
                .iter()
                .map(human_client)
                .collect::<Vec<_>>()
                .join("\n\n"),
            AdminOutput::User(view) => {
                format!("user_id:  {}\nusername: {}", view.user_id, view.username)
            }
            AdminOutput::Users(view) if view.users.is_empty() => "no users".to_owned(),
            AdminOutput::Users(view) => view
                .users
                .iter()
                .map(|user| {
                    let mut line = format!("{}  {}", user.user_id, user.username);
                    if let Some(email) = &user.email {
                        line.push_str(&format!("  <{email}>"));
                    }
                    if let Some(name) = &user.name {
                        line.push_str(&format!("  {name}"));
                    }
                    line
                })
                .collect::<Vec<_>>()
                .join("\n"),
            AdminOutput::SessionsEnded(view) => format!(
                "signed out {} everywhere ({} session(s) ended)",
                view.username, view.sessions_ended
            ),
            AdminOutput::Deleted(view) => format!("deleted {}", view.deleted),
            AdminOutput::Scope(view) => human_scope(view),
            AdminOutput::Scopes(view) if view.scopes.is_empty() => {
                "no scope descriptions".to_owned()
            }
            AdminOutput::Scopes(view) => view
                .scopes
                .iter()
                .map(human_scope)
                .collect::<Vec<_>>()
                .join("\n"),
            AdminOutput::NewApiKey(view) => format!(
                "id:      {}\napi_key: {}\n\nThe key is shown once and never again: store it now.",
                view.id, view.api_key
            ),
            AdminOutput::ApiKeys(view) if view.api_keys.is_empty() => "no API keys".to_owned(),
            AdminOutput::ApiKeys(view) => view
                .api_keys
                .iter()
                .map(|key| {
                    format!(
                        "{}  {}  scope: {}  created: {}  last used: {}  expires: {}",
                        key.id,
                        key.name,
                        key.scope,
                        key.created_at,
                        key.last_used.map_or("never".to_owned(), |at| at.to_string()),
                        key.expires_at.map_or("never".to_owned(), |at| at.to_string())
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            AdminOutput::Grants(view) if view.grants.is_empty() => "no grants".to_owned(),
            AdminOutput::Grants(view) => view
                .grants
                .iter()
                .map(|grant| {
                    format!(
                        "{}  {} ({})  scope: {}  since: {}  last used: {}",
                        grant.grant_id,
                        grant.client_name.as_deref().unwrap_or("deleted client"),
                        grant.client_id,
                        grant.scope,
                        grant.created_at,
                        grant.last_used
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            AdminOutput::Revoked(view) => format!("revoked {}", view.revoked),
            AdminOutput::Backup(view) => format!(
                "backed up {} records ({} bytes) to {}\nKeep master.key backed up separately: the backup cannot be read without it.",
                view.records, view.bytes, view.backup
            ),
            AdminOutput::Check(view) => {
                let mut lines: Vec<String> = view
                    .tables
                    .iter()
                    .map(|(table, rows)| format!("{table}: {rows} records"))
                    .collect();
                lines.push(format!("schema version: {}", view.schema_version));
                for snapshot in &view.migration_snapshots {
                    lines.push(format!("pre-migration snapshot: {snapshot}"));
                }
                if view.ok {
                    lines.push("ok: every record opens and decodes".to_owned());
                } else {
                    lines.extend(view.problems.iter().map(|problem| format!("problem: {problem}")));
                }
                lines.join("\n")
            }
            AdminOutput::ServerInfo(view) => format!(
                "keyward {} (pid {}) listening on {}, issuer {}",
                view.version, view.pid, view.listen, view.issuer
            ),
        }
    }
}

fn human_scope(view: &ScopeDescriptionView) -> String {
    let api_keys = if view.api_keys {
        "  (allowed on API keys)"
    } else {
        ""
    };
    format!("{}: {}{api_keys}", view.scope, view.description)
}

fn human_client(view: &ClientView) -> String {
    format!(
        "client_id:     {}\nname:          {}\ntype:          {}\nredirect_uris: {}\nscope:         {}\ngrant_types:   {}\ncreated_at:    {}",
        view.client_id,
        view.name,
        if view.public { "public" } else { "confidential" },
        view.redirect_uris.join(" "),
        view.scope,
        view.grant_types.join(","),
        view.created_at
    )
}
