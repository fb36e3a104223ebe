//! Admin operations: one implementation of each, used by the CLI directly on the database
//! file and by the running server on behalf of the CLI through the admin socket. Validation
//! happens here, so both paths accept and refuse exactly the same things and print the same
//! output.
//!
//! Every command goes through the same two steps. `prepare` validates it and does its reads,
//! and never writes, so the CLI can run it on a read-only handle; it answers a read at once
//! (`Plan::Done`) and turns a write into a checked `WritePlan`. `apply` performs that plan.
//! This file holds the wire format (`AdminRequest`, `AdminOutput`, `AdminError`) and the two
//! dispatchers; each command family lives in its own file, the answers' shapes in `views.rs`
//! and their printing in `render.rs`.

mod apikeys;
mod clients;
mod grants;
mod invites;
mod keys;
mod maintenance;
mod registration;
mod render;
mod scopes;
pub mod socket;
mod upstreams;
mod users;
mod views;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::model::{ClientId, Id, Invalid, ScopeToken, User, UserId, Username};
use crate::oauth::apikeys::NewApiKey;
use crate::store::{ScopeSettings, Store, StoreError};

pub use clients::{
    plan_document_client, plan_registered_client, self_service_scopes, MAX_REDIRECT_URIS,
};
pub use invites::{invite_url, DEFAULT_INVITE_SECONDS, MAX_INVITE_SECONDS, MAX_INVITE_USES};
pub use upstreams::{UpstreamAddRequest, UpstreamEndpointFlags, UpstreamSetRequest};
pub use views::{
    ApiKeyView, ApiKeysView, BackupView, CheckView, ClientSecretView, ClientView, ClientsView,
    DeletedView, GrantView, GrantsView, InviteListItem, InviteView, InvitesView, KeyView, KeysView,
    NewApiKeyView, RegistrationTokenItem, RegistrationTokenView, RegistrationTokensView,
    ResetLinkView, RevokedView, ScopeDescriptionView, ScopesView, ServerInfoView,
    SessionsEndedView, UnlinkedView, UpstreamDeletedView, UpstreamView, UpstreamsView, UserRef,
    UserView, UsersView,
};

/// An admin command, as it travels over the admin socket (one JSON line).
#[derive(Serialize, Deserialize, Clone)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum AdminRequest {
    /// Who is serving: asked by a second `serve` and by the CLI.
    ServerInfo,
    ClientCreate(ClientCreateRequest),
    ClientList,
    ClientShow {
        id: String,
    },
    ClientDelete {
        id: String,
        /// Only if it is this user's app (the developer page asks so).
        #[serde(default)]
        owner: Option<String>,
    },
    ClientRotateSecret {
        id: String,
        /// Seconds the previous secret keeps working (default 0).
        #[serde(default)]
        grace: Option<u64>,
        /// Only if it is this user's app (the developer page asks so).
        #[serde(default)]
        owner: Option<String>,
    },
    ClientUpdate(ClientUpdateRequest),
    /// The operator's review mark (`client verify`, `--undo`).
    ClientVerify {
        id: String,
        verified: bool,
    },
    UserCreate {
        username: String,
        email: Option<String>,
        name: Option<String>,
        password: String,
        /// The operator vouches for the address. Absent (an older CLI): no.
        #[serde(default)]
        email_verified: bool,
    },
    UserList,
    UserShow {
        username: String,
    },
    UserDelete {
        username: String,
    },
    UserSetPassword {
        username: String,
        password: String,
    },
    /// What the operator allows a user (`user set`).
    UserSet {
        username: String,
        #[serde(default)]
        developer: Option<bool>,
    },
    /// End every session of a user (they must sign in again).
    UserSignOut {
        username: String,
    },
    /// Remove the user's identity at an upstream.
    UserUnlink {
        username: String,
        upstream: String,
    },
    /// A one-time link that lets the user choose a new password. Makes the link only: it
    /// writes nothing until the link is used.
    UserResetLink {
        username: String,
        /// Seconds the link works (default a day, at most a week).
        #[serde(default)]
        expires_in: Option<u64>,
        /// The issuer the link starts with; without it, the one the last `serve` recorded.
        #[serde(default)]
        issuer: Option<String>,
    },
    ScopeSet {
        name: String,
        description: String,
        /// Users may put the scope on their personal API keys. Absent (an older CLI): no.
        #[serde(default)]
        api_keys: bool,
        /// Self-registered apps may ask for the scope. Absent (an older CLI): no.
        #[serde(default)]
        self_service: bool,
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
    /// The signing keys.
    KeysList,
    /// New signing keys (for one algorithm, or all), the old ones retired.
    KeysRotate {
        #[serde(default)]
        alg: Option<String>,
    },
    /// A new upstream provider (its client secret inside, read from the CLI's stdin).
    UpstreamAdd(UpstreamAddRequest),
    UpstreamList,
    UpstreamShow {
        name: String,
        /// The issuer the callback URL starts with; without it, the one `serve` recorded.
        #[serde(default)]
        issuer: Option<String>,
    },
    UpstreamSet(UpstreamSetRequest),
    /// Deletes an upstream and unlinks every identity linked through it.
    UpstreamDelete {
        name: String,
    },
    /// A sign-up invitation for `serve --signup invite`: its link is printed once.
    InviteCreate {
        /// Seconds it works (default 7 days, at most 90).
        #[serde(default)]
        expires_in: Option<u64>,
        /// Sign-ups it allows (default 1, at most 1000).
        #[serde(default)]
        uses: Option<u64>,
        /// The issuer the link starts with; without it, the one the last `serve` recorded.
        #[serde(default)]
        issuer: Option<String>,
    },
    InviteList,
    /// Deletes an invitation: its link stops working at once.
    InviteRevoke {
        id: String,
    },
    /// An initial access token for dynamic client registration: printed once.
    RegistrationTokenCreate {
        /// Seconds it works (default: it does not expire; at most a year).
        #[serde(default)]
        expires_in: Option<u64>,
        /// Registrations it allows (default: any number).
        #[serde(default)]
        uses: Option<u64>,
        /// Scopes its clients may ask for beyond the self-service ones.
        #[serde(default)]
        scope: Option<String>,
    },
    RegistrationTokenList,
    /// Deletes an initial access token: it registers nothing more.
    RegistrationTokenRevoke {
        id: String,
    },
}

impl AdminRequest {
    /// Whether the command only reads. On a data directory without a database such a
    /// command has nothing to read: it says so, rather than answer "no clients" about a
    /// directory that may be the wrong one, and it never creates one.
    pub fn reads_only(&self) -> bool {
        match self {
            AdminRequest::ServerInfo
            | AdminRequest::ClientList
            | AdminRequest::ClientShow { .. }
            | AdminRequest::UserList
            | AdminRequest::UserShow { .. }
            | AdminRequest::UserResetLink { .. }
            | AdminRequest::ScopeList
            | AdminRequest::ApiKeyList { .. }
            | AdminRequest::GrantList { .. }
            | AdminRequest::Backup { .. }
            | AdminRequest::KeysList
            | AdminRequest::UpstreamList
            | AdminRequest::UpstreamShow { .. }
            | AdminRequest::InviteList
            | AdminRequest::RegistrationTokenList
            | AdminRequest::Check => true,
            AdminRequest::ClientCreate(_)
            | AdminRequest::ClientDelete { .. }
            | AdminRequest::ClientRotateSecret { .. }
            | AdminRequest::ClientUpdate(_)
            | AdminRequest::ClientVerify { .. }
            | AdminRequest::UserSet { .. }
            | AdminRequest::UserCreate { .. }
            | AdminRequest::UserDelete { .. }
            | AdminRequest::UserSetPassword { .. }
            | AdminRequest::UserSignOut { .. }
            | AdminRequest::UserUnlink { .. }
            | AdminRequest::ScopeSet { .. }
            | AdminRequest::ScopeDelete { .. }
            | AdminRequest::ApiKeyCreate { .. }
            | AdminRequest::ApiKeyDelete { .. }
            | AdminRequest::GrantRevoke { .. }
            | AdminRequest::KeysRotate { .. }
            | AdminRequest::UpstreamAdd(_)
            | AdminRequest::UpstreamSet(_)
            | AdminRequest::UpstreamDelete { .. }
            | AdminRequest::InviteCreate { .. }
            | AdminRequest::InviteRevoke { .. }
            | AdminRequest::RegistrationTokenCreate { .. }
            | AdminRequest::RegistrationTokenRevoke { .. } => false,
        }
    }
}

/// `client create`, as it travels over the admin socket: the fields of the `client_create`
/// object. Values arrive as typed and are validated by `prepare`, the same for both paths.
/// Fields an older CLI does not send take the defaults.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct ClientCreateRequest {
    pub name: String,
    pub redirect_uris: Vec<String>,
    pub scope: Option<String>,
    pub public: bool,
    pub grant_types: Option<String>,
    /// RS256, ES256 or EdDSA (default RS256).
    #[serde(default)]
    pub id_token_alg: Option<String>,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// opaque or jwt (default opaque).
    #[serde(default)]
    pub access_token_format: Option<String>,
    /// RFC 8707 resource indicators the client may ask tokens for.
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub id_token_claims: bool,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub privacy_policy: Option<String>,
    /// A developer's app, for this username: the self-service rules apply.
    #[serde(default)]
    pub owner: Option<String>,
    /// The most apps the owner may have, counting this one (the developer page's limit;
    /// none for the operator).
    #[serde(default)]
    pub owner_app_limit: Option<u32>,
}

/// `client update ID`: what to change; anything `None` (or empty) stays as it is. Values
/// arrive as typed and are validated by `prepare`.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct ClientUpdateRequest {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    /// Replaces every redirect URI (when given).
    #[serde(default)]
    pub redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub add_redirect_uris: Vec<String>,
    #[serde(default)]
    pub remove_redirect_uris: Vec<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub grant_types: Option<String>,
    #[serde(default)]
    pub id_token_alg: Option<String>,
    /// Replaces every post-logout redirect URI (when given).
    #[serde(default)]
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[serde(default)]
    pub access_token_format: Option<String>,
    /// Replaces every resource (when given).
    #[serde(default)]
    pub resources: Option<Vec<String>>,
    #[serde(default)]
    pub id_token_claims: Option<bool>,
    /// Replaces the homepage; an empty string removes it.
    #[serde(default)]
    pub homepage: Option<String>,
    /// Replaces the privacy policy URL; an empty string removes it.
    #[serde(default)]
    pub privacy_policy: Option<String>,
    /// Only if it is this user's app, and then with the self-service rules (the developer
    /// page asks so).
    #[serde(default)]
    pub owner: Option<String>,
}

/// What an admin command produced. `--json` prints the inner object alone.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
pub enum AdminOutput {
    ClientSecret(ClientSecretView),
    /// Boxed: one of the largest answers, and answers travel by value.
    Client(Box<ClientView>),
    Clients(ClientsView),
    User(UserRef),
    /// One user's details (`user show`).
    UserDetails(UserView),
    Users(UsersView),
    SessionsEnded(SessionsEndedView),
    /// An identity removed (`user unlink`).
    Unlinked(UnlinkedView),
    /// A password reset link (`user reset-link`).
    ResetLink(ResetLinkView),
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
    Keys(KeysView),
    /// Boxed: the largest answer, and answers travel by value.
    Upstream(Box<UpstreamView>),
    Upstreams(UpstreamsView),
    UpstreamDeleted(UpstreamDeletedView),
    /// A new invitation's link (`invite create`).
    Invite(InviteView),
    Invites(InvitesView),
    /// A new initial access token (`registration-token create`).
    RegistrationToken(RegistrationTokenView),
    RegistrationTokens(RegistrationTokensView),
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
    CreateClient(Box<clients::NewClient>),
    DeleteClient(ClientId, Option<UserId>),
    RotateSecret(clients::Rotation),
    UpdateClient(ClientId, Box<clients::ClientChanges>),
    VerifyClient(ClientId, bool),
    SetUser(UserId, Username, users::UserSettings),
    CreateUser(User),
    DeleteUser(Username),
    SetPassword(Username, String),
    EndSessions(UserId, Username),
    Unlink(UserId, Username, crate::upstream::UpstreamName),
    SetScope(ScopeToken, ScopeSettings),
    DeleteScope(ScopeToken),
    CreateApiKey(Box<NewApiKey>),
    DeleteApiKey(Id),
    RevokeGrant(Id),
    RotateKeys(Vec<keys::Rotation>),
    AddUpstream(Box<crate::upstream::Upstream>),
    SetUpstream(
        crate::upstream::UpstreamName,
        Box<upstreams::UpstreamChanges>,
    ),
    DeleteUpstream(crate::upstream::UpstreamName),
    CreateInvite(Box<invites::NewInvite>),
    RevokeInvite(Id),
    CreateRegistrationToken(Box<registration::NewRegistrationToken>),
    RevokeRegistrationToken(Id),
}

/// Runs one admin command against the store: `prepare`, then `apply`.
pub async fn execute(store: &Store, request: AdminRequest) -> Result<AdminOutput, AdminError> {
    let op = op_name(&request);
    let deleted_key = match &request {
        AdminRequest::ApiKeyDelete { id } => Some(id.clone()),
        _ => None,
    };
    let result = match prepare(store, request).await {
        Ok(Plan::Done(output)) => Ok(output),
        Ok(Plan::Write(plan)) => apply(store, plan).await,
        Err(error) => Err(error),
    };
    audit_command(&op, deleted_key.as_deref(), &result);
    result
}

/// An admin command's name, as the socket protocol spells it (`client_create`, …): the
/// request itself, which may carry a password, is never logged.
fn op_name(request: &AdminRequest) -> String {
    serde_json::to_value(request)
        .ok()
        .and_then(|value| {
            value
                .get("op")
                .and_then(|op| op.as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "unknown".to_owned())
}

/// The audit lines of a command run in the server (through its admin socket, or a page's
/// form): the command and its outcome, and the security events some commands are.
fn audit_command(op: &str, deleted_key: Option<&str>, result: &Result<AdminOutput, AdminError>) {
    let error = match result {
        Ok(_) => {
            crate::audit!("admin_command", command = op, outcome = "done");
            None
        }
        Err(error) => Some(error),
    };
    if let Some(error) = error {
        crate::audit!("admin_command", command = op, outcome = "refused", kind = ?error.kind);
        return;
    }
    match (op, result) {
        ("api_key_create", Ok(AdminOutput::NewApiKey(view))) => {
            crate::audit!("api_key_created", key_id = %view.id);
        }
        ("api_key_delete", Ok(_)) => {
            crate::audit!("api_key_deleted", key_id = deleted_key.unwrap_or_default());
        }
        ("client_rotate_secret", Ok(AdminOutput::ClientSecret(view))) => {
            crate::audit!(
                "client_secret_rotated",
                client_id = %view.client_id,
                previous_valid_until = ?view.previous_secret_valid_until
            );
        }
        _ => {}
    }
}

/// Validates a command and does its reads. Never writes: the CLI runs this on a read-only
/// handle, so malformed input leaves every byte of the data directory as it was.
pub async fn prepare(store: &Store, request: AdminRequest) -> Result<Plan, AdminError> {
    // The CLI's read-only handle on a directory without a database is an empty stand-in
    // (so that a write can be checked before anything is created); a read must not mistake
    // it for an empty installation.
    if request.reads_only() && !store.path().exists() {
        return Err(no_database(
            store
                .path()
                .parent()
                .filter(|dir| !dir.as_os_str().is_empty())
                .unwrap_or(Path::new(".")),
        ));
    }
    match request {
        AdminRequest::ServerInfo => Err(AdminError::new(
            AdminErrorKind::NotFound,
            "no keyward server is running on this data directory",
        )),
        AdminRequest::ClientCreate(request) => clients::create(store, &request),
        AdminRequest::ClientList => clients::list(store),
        AdminRequest::ClientShow { id } => clients::show(store, &id),
        AdminRequest::ClientDelete { id, owner } => clients::delete(store, &id, owner.as_deref()),
        AdminRequest::ClientRotateSecret { id, grace, owner } => {
            clients::rotate_secret(store, &id, grace, owner.as_deref())
        }
        AdminRequest::ClientUpdate(request) => clients::update(store, &request),
        AdminRequest::ClientVerify { id, verified } => clients::verify(store, &id, verified),
        AdminRequest::UserSet {
            username,
            developer,
        } => users::set(store, &username, developer),
        AdminRequest::UserCreate {
            username,
            email,
            name,
            password,
            email_verified,
        } => {
            users::create(
                store,
                users::NewUser {
                    username: &username,
                    email: email.as_deref(),
                    email_verified,
                    name: name.as_deref(),
                    password: &password,
                },
            )
            .await
        }
        AdminRequest::UserList => users::list(store),
        AdminRequest::UserShow { username } => users::show(store, &username),
        AdminRequest::UserDelete { username } => users::delete(store, &username),
        AdminRequest::UserSetPassword { username, password } => {
            users::set_password(store, &username, &password).await
        }
        AdminRequest::UserSignOut { username } => users::sign_out(store, &username),
        AdminRequest::UserUnlink { username, upstream } => {
            users::unlink(store, &username, &upstream)
        }
        AdminRequest::UserResetLink {
            username,
            expires_in,
            issuer,
        } => users::reset_link(store, &username, expires_in, issuer.as_deref()),
        AdminRequest::ScopeSet {
            name,
            description,
            api_keys,
            self_service,
        } => scopes::set(&name, &description, api_keys, self_service),
        AdminRequest::ScopeList => scopes::list(store),
        AdminRequest::ScopeDelete { name } => scopes::delete(store, &name),
        AdminRequest::ApiKeyCreate {
            username,
            name,
            expires_in,
            scope,
        } => apikeys::create(store, &username, &name, expires_in, scope.as_deref()),
        AdminRequest::ApiKeyList { username } => apikeys::list(store, &username),
        AdminRequest::ApiKeyDelete { id } => apikeys::delete(store, &id),
        AdminRequest::GrantList { username } => grants::list(store, &username),
        AdminRequest::GrantRevoke { id } => grants::revoke(store, &id),
        AdminRequest::Backup { to } => maintenance::backup(store, &to),
        AdminRequest::Check => maintenance::check(store).await,
        AdminRequest::KeysList => keys::list(store),
        AdminRequest::KeysRotate { alg } => keys::rotate(store, alg.as_deref()),
        AdminRequest::UpstreamAdd(request) => upstreams::add(store, &request),
        AdminRequest::UpstreamList => upstreams::list(store),
        AdminRequest::UpstreamShow { name, issuer } => {
            upstreams::show(store, &name, issuer.as_deref())
        }
        AdminRequest::UpstreamSet(request) => upstreams::set(store, &request),
        AdminRequest::UpstreamDelete { name } => upstreams::delete(store, &name),
        AdminRequest::InviteCreate {
            expires_in,
            uses,
            issuer,
        } => invites::create(store, expires_in, uses, issuer.as_deref()),
        AdminRequest::InviteList => invites::list(store),
        AdminRequest::InviteRevoke { id } => invites::revoke(store, &id),
        AdminRequest::RegistrationTokenCreate {
            expires_in,
            uses,
            scope,
        } => registration::create(expires_in, uses, scope.as_deref()),
        AdminRequest::RegistrationTokenList => registration::list(store),
        AdminRequest::RegistrationTokenRevoke { id } => registration::revoke(store, &id),
    }
}

/// Performs a checked write. Whatever changed since `prepare` (a concurrent delete, a
/// username taken a moment ago) is checked again inside the write transaction.
pub async fn apply(store: &Store, plan: WritePlan) -> Result<AdminOutput, AdminError> {
    match plan {
        WritePlan::CreateClient(new) => clients::apply_create(store, *new).await,
        WritePlan::DeleteClient(id, owner) => clients::apply_delete(store, id, owner).await,
        WritePlan::RotateSecret(rotation) => clients::apply_rotate_secret(store, rotation).await,
        WritePlan::UpdateClient(id, changes) => clients::apply_update(store, id, *changes).await,
        WritePlan::VerifyClient(id, verified) => clients::apply_verify(store, id, verified).await,
        WritePlan::SetUser(id, username, settings) => {
            users::apply_set(store, id, username, settings).await
        }
        WritePlan::CreateUser(user) => users::apply_create(store, user).await,
        WritePlan::DeleteUser(username) => users::apply_delete(store, username).await,
        WritePlan::SetPassword(username, hash) => {
            users::apply_set_password(store, username, hash).await
        }
        WritePlan::EndSessions(user_id, username) => {
            users::apply_end_sessions(store, user_id, username).await
        }
        WritePlan::Unlink(user_id, username, upstream) => {
            users::apply_unlink(store, user_id, username, upstream).await
        }
        WritePlan::SetScope(scope, settings) => scopes::apply_set(store, scope, settings).await,
        WritePlan::DeleteScope(scope) => scopes::apply_delete(store, scope).await,
        WritePlan::CreateApiKey(new) => apikeys::apply_create(store, *new).await,
        WritePlan::DeleteApiKey(id) => apikeys::apply_delete(store, id).await,
        WritePlan::RevokeGrant(id) => grants::apply_revoke(store, id).await,
        WritePlan::RotateKeys(rotations) => keys::apply_rotate(store, rotations).await,
        WritePlan::AddUpstream(upstream) => upstreams::apply_add(store, *upstream).await,
        WritePlan::SetUpstream(name, changes) => upstreams::apply_set(store, name, *changes).await,
        WritePlan::DeleteUpstream(name) => upstreams::apply_delete(store, name).await,
        WritePlan::CreateInvite(new) => invites::apply_create(store, *new).await,
        WritePlan::RevokeInvite(id) => invites::apply_revoke(store, id).await,
        WritePlan::CreateRegistrationToken(new) => registration::apply_create(store, *new).await,
        WritePlan::RevokeRegistrationToken(id) => registration::apply_revoke(store, id).await,
    }
}

/// `user create` as the sign-up page runs it: the same checks, hash and checked insert as
/// the command (see `users::create_signed_up`), and the user it made.
pub async fn create_signed_up_user(
    store: &Store,
    account: crate::oauth::signup::NewAccount,
) -> Result<User, crate::oauth::signup::AccountNotCreated> {
    users::create_signed_up(store, account).await
}

/// The sign-up page's account through an invitation (`serve --signup invite`): `user
/// create`'s checks and hash, then one write that takes a use of the invitation and inserts
/// the user (see `users::create_invited`).
pub async fn create_invited_user(
    store: &Store,
    account: crate::oauth::signup::NewAccount,
    invite: crate::oauth::tokens::OpaqueToken,
) -> Result<User, crate::oauth::signup::AccountNotCreated> {
    users::create_invited(store, account, invite).await
}

/// The answer of a command that reads, on a data directory without a database.
pub fn no_database(data_dir: &Path) -> AdminError {
    AdminError::new(
        AdminErrorKind::NotFound,
        format!(
            "no keyward database at {}; nothing was changed (check --data-dir or \
             KEYWARD_DATA_DIR)",
            data_dir.display()
        ),
    )
}

/// An id as the operator typed it: the message quotes the input, cut short, and says what
/// an id looks like.
fn parse_id(text: &str, what: &str) -> Result<Id, AdminError> {
    Id::parse(text).ok_or_else(|| {
        Invalid(format!(
            "'{}' is not a {what} (expected 32 lowercase hex characters)",
            crate::model::truncate_for_message(text)
        ))
        .into()
    })
}
