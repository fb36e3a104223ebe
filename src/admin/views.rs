//! The answers admin commands give, as they cross the admin socket inside `AdminOutput` and
//! as `--json` prints them. Field names and their order are the wire format and the JSON
//! that scripts read: change them only with a reason.

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ClientSecretView {
    pub client_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// After `rotate-secret --grace`: until when (Unix seconds) the previous secret works.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_secret_valid_until: Option<u64>,
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
    /// The fields below came with OpenID Connect; a server of an earlier version does not
    /// send them, and its clients have the defaults.
    #[serde(default = "default_id_token_alg")]
    pub id_token_alg: String,
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    #[serde(default = "default_access_token_format")]
    pub access_token_format: String,
    #[serde(default)]
    pub resources: Vec<String>,
    #[serde(default)]
    pub id_token_claims: bool,
    /// The fields below came with the developer page (0.5).
    /// The username of the user who registered it on the developer page; `None` for the
    /// operator's own.
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub homepage: Option<String>,
    #[serde(default)]
    pub privacy_policy: Option<String>,
    /// The operator reviewed it (`client verify`); the operator's own need no review.
    #[serde(default)]
    pub verified: bool,
    /// Until when (Unix seconds) the secret before the last rotation still works.
    #[serde(default)]
    pub previous_secret_valid_until: Option<u64>,
    /// Who registered it: operator, developer (the developer page), registration (RFC
    /// 7591) or document (a client metadata document, whose URL is its client_id). Came
    /// with 0.6.
    #[serde(default = "default_registered_by")]
    pub registered_by: String,
}

fn default_registered_by() -> String {
    "operator".to_owned()
}

fn default_id_token_alg() -> String {
    crate::model::SigningAlg::default().as_str().to_owned()
}

fn default_access_token_format() -> String {
    crate::model::AccessTokenFormat::default()
        .as_str()
        .to_owned()
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

/// `user reset-link`: the link to send, and when it stops working (Unix seconds).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct ResetLinkView {
    pub url: String,
    pub expires_at: u64,
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
    /// Whether the operator vouched for the email address (`--email-verified`).
    #[serde(default)]
    pub email_verified: bool,
    /// When the profile last changed. (A server of an earlier version does not send it.)
    #[serde(default)]
    pub updated_at: u64,
    /// May register apps under `serve --developer-apps allowed` (`user set --developer`).
    #[serde(default)]
    pub developer: bool,
    /// The identities linked to the user, by upstream (`user show` only; `user list`
    /// leaves it out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<IdentityView>>,
}

/// One linked identity: the upstream's name, the subject it knows the user by, and when
/// it was linked (Unix seconds).
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct IdentityView {
    pub upstream: String,
    pub subject: String,
    pub linked_at: u64,
}

/// `user unlink`: the identity removed.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UnlinkedView {
    pub username: String,
    pub upstream: String,
    pub subject: String,
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
    /// Whether self-registered apps may ask for the scope.
    #[serde(default)]
    pub self_service: bool,
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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct KeyView {
    pub kid: String,
    pub alg: String,
    pub created_at: u64,
    /// Whether it signs (else it is retired and only published).
    pub signs: bool,
    pub retired_at: Option<u64>,
    pub published_until: Option<u64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct KeysView {
    pub keys: Vec<KeyView>,
}

/// One upstream provider, without its client secret, which no answer carries.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UpstreamView {
    pub name: String,
    pub kind: String,
    pub display_name: String,
    /// An OpenID Connect upstream's issuer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// The endpoints and fields of an OAuth 2.0 upstream (and of the discord and github
    /// presets).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorize_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub userinfo_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_verified_field: Option<String>,
    pub client_id: String,
    pub scope: String,
    pub create_users: bool,
    pub created_at: u64,
    /// The redirect URI to register at the provider: `{issuer}/upstream/NAME/callback`.
    /// `null` while no issuer is known (no `serve` has run, and no `--issuer` was given).
    pub callback: Option<String>,
    /// Some URL of it is on a loopback host (accepted for tests and local setups).
    pub loopback: bool,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UpstreamsView {
    pub upstreams: Vec<UpstreamView>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct UpstreamDeletedView {
    pub deleted: String,
    /// Linked identities removed with it: those users no longer sign in through it.
    pub identities_unlinked: u64,
    /// Those of them left with no way to sign in (no password, no other identity).
    #[serde(default)]
    pub users_without_a_way_in: u64,
}

/// `invite create`: the link to send (shown once), and what it allows.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InviteView {
    pub url: String,
    pub id: String,
    pub expires_at: u64,
    pub uses: u32,
}

/// One invitation in `invite list`: never its secret, which is not kept.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InviteListItem {
    pub id: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub uses_left: u32,
    pub uses_total: u32,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct InvitesView {
    pub invites: Vec<InviteListItem>,
}

/// A new initial access token (`registration-token create`): printed once.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RegistrationTokenView {
    pub token: String,
    pub id: String,
    pub expires_at: Option<u64>,
    pub uses: Option<u32>,
    pub scope: Option<String>,
}

/// One initial access token in `registration-token list`: never its secret.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RegistrationTokenItem {
    pub id: String,
    pub created_at: u64,
    pub expires_at: Option<u64>,
    pub uses_left: Option<u32>,
    pub uses_total: Option<u32>,
    pub scope: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct RegistrationTokensView {
    pub tokens: Vec<RegistrationTokenItem>,
}
