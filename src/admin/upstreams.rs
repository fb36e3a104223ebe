//! `upstream add | list | show | set | delete`: the providers users may sign in through.
//! The client secret arrives once (from stdin, through the CLI), is sealed with the record,
//! and no answer ever carries it.

use serde::{Deserialize, Serialize};

use super::views::{UpstreamDeletedView, UpstreamView, UpstreamsView};
use super::{AdminError, AdminErrorKind, AdminOutput, Plan, WritePlan};
use crate::clock;
use crate::model::{DisplayName, Invalid, Scope};
use crate::store::{Store, UpstreamNotStored};
use crate::upstream::{
    parse_client_id, preset, Endpoints, FieldName, ProfileFields, Protocol, Upstream, UpstreamKind,
    UpstreamName, UpstreamSecret, UpstreamUrl,
};

/// The scope an OpenID Connect upstream is asked for unless `--scope` says otherwise.
const OIDC_DEFAULT_SCOPE: &str = "openid profile email";

/// The endpoint flags, as typed: `upstream add` takes those its kind needs, `upstream set`
/// those of the upstream's protocol.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct UpstreamEndpointFlags {
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub authorize_url: Option<String>,
    #[serde(default)]
    pub token_url: Option<String>,
    #[serde(default)]
    pub userinfo_url: Option<String>,
    #[serde(default)]
    pub subject_field: Option<String>,
    #[serde(default)]
    pub username_field: Option<String>,
    #[serde(default)]
    pub email_field: Option<String>,
    #[serde(default)]
    pub email_verified_field: Option<String>,
}

impl UpstreamEndpointFlags {
    /// The OAuth 2.0 flags that were given, by their names on the command line.
    fn oauth2_given(&self) -> Vec<&'static str> {
        [
            ("--authorize-url", &self.authorize_url),
            ("--token-url", &self.token_url),
            ("--userinfo-url", &self.userinfo_url),
            ("--subject-field", &self.subject_field),
            ("--username-field", &self.username_field),
            ("--email-field", &self.email_field),
            ("--email-verified-field", &self.email_verified_field),
        ]
        .into_iter()
        .filter(|(_, value)| value.is_some())
        .map(|(flag, _)| flag)
        .collect()
    }
}

/// `upstream add`, as it travels over the admin socket.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct UpstreamAddRequest {
    pub name: String,
    pub kind: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(flatten)]
    pub endpoints: UpstreamEndpointFlags,
    /// For the presets: another scheme and host for their URLs (a test server).
    #[serde(default)]
    pub base_url: Option<String>,
    pub client_id: String,
    pub client_secret: String,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub create_users: bool,
}

/// `upstream set`, as it travels over the admin socket: what is absent stays as it is.
#[derive(Serialize, Deserialize, Clone, Default)]
pub struct UpstreamSetRequest {
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub create_users: Option<bool>,
    #[serde(default)]
    pub client_id: Option<String>,
    #[serde(default)]
    pub client_secret: Option<String>,
    #[serde(flatten)]
    pub endpoints: UpstreamEndpointFlags,
}

/// What `upstream set` changes, checked against the upstream as `prepare` found it (its
/// kind never changes, so the checks still hold when the write applies them).
pub struct UpstreamChanges {
    display_name: Option<DisplayName>,
    scope: Option<Scope>,
    create_users: Option<bool>,
    client_id: Option<String>,
    client_secret: Option<UpstreamSecret>,
    issuer: Option<UpstreamUrl>,
    authorize_url: Option<UpstreamUrl>,
    token_url: Option<UpstreamUrl>,
    userinfo_url: Option<UpstreamUrl>,
    subject_field: Option<FieldName>,
    username_field: Option<FieldName>,
    email_field: Option<FieldName>,
    email_verified_field: Option<FieldName>,
}

impl UpstreamChanges {
    fn apply_to(self, upstream: &mut Upstream) {
        if let Some(display_name) = self.display_name {
            upstream.display_name = display_name;
        }
        if let Some(scope) = self.scope {
            upstream.scope = scope;
        }
        if let Some(create_users) = self.create_users {
            upstream.create_users = create_users;
        }
        if let Some(client_id) = self.client_id {
            upstream.client_id = client_id;
        }
        if let Some(secret) = self.client_secret {
            upstream.client_secret = secret;
        }
        match &mut upstream.endpoints {
            Endpoints::Oidc { issuer } => {
                if let Some(new) = self.issuer {
                    *issuer = new;
                }
            }
            Endpoints::OAuth2 {
                authorize_url,
                token_url,
                userinfo_url,
                fields,
            } => {
                let replace = |slot: &mut UpstreamUrl, new: Option<UpstreamUrl>| {
                    if let Some(new) = new {
                        *slot = new;
                    }
                };
                replace(authorize_url, self.authorize_url);
                replace(token_url, self.token_url);
                replace(userinfo_url, self.userinfo_url);
                if let Some(subject) = self.subject_field {
                    fields.subject = subject;
                }
                fields.username = self.username_field.or(fields.username.take());
                fields.email = self.email_field.or(fields.email.take());
                fields.email_verified = self.email_verified_field.or(fields.email_verified.take());
            }
        }
    }
}

fn url(flag: &str, value: &Option<String>) -> Result<Option<UpstreamUrl>, Invalid> {
    value
        .as_deref()
        .map(|text| UpstreamUrl::parse(flag, text))
        .transpose()
}

fn field(flag: &str, value: &Option<String>) -> Result<Option<FieldName>, Invalid> {
    value
        .as_deref()
        .map(|text| FieldName::parse(flag, text))
        .transpose()
}

/// An upstream's scope: valid scope tokens, and `openid` for an OpenID provider (without
/// it there is no ID token, and so no verified subject).
fn upstream_scope(text: &str, protocol: Protocol) -> Result<Scope, Invalid> {
    let scope = Scope::parse(text).map_err(|invalid| Invalid(format!("--scope: {}", invalid.0)))?;
    if protocol == Protocol::Oidc && !scope.contains("openid") {
        return Err(Invalid(format!(
            "--scope '{}' of an OpenID Connect upstream must include openid",
            crate::model::truncate_for_message(text)
        )));
    }
    Ok(scope)
}

fn not_for(flag: &str, kind: UpstreamKind, why: &str) -> AdminError {
    Invalid(format!("{flag} does not apply to --kind {kind}: {why}")).into()
}

/// The endpoints of a new upstream of `kind`, from the flags its kind takes; any other
/// endpoint flag is refused by name rather than silently ignored.
fn new_endpoints(
    kind: UpstreamKind,
    flags: &UpstreamEndpointFlags,
    base_url: Option<&str>,
) -> Result<Endpoints, AdminError> {
    if let Some(preset) = preset(kind, base_url)? {
        let why = "the preset fills it in (--base-url moves its scheme and host)";
        if flags.issuer.is_some() {
            return Err(not_for("--issuer", kind, why));
        }
        if let Some(flag) = flags.oauth2_given().first() {
            return Err(not_for(flag, kind, why));
        }
        return Ok(preset.endpoints);
    }
    if base_url.is_some() {
        return Err(not_for(
            "--base-url",
            kind,
            "it moves the URLs of the presets (discord, github, google, gitlab) only",
        ));
    }
    match kind.protocol() {
        Protocol::Oidc => {
            if let Some(flag) = flags.oauth2_given().first() {
                return Err(not_for(
                    flag,
                    kind,
                    "an OpenID provider's endpoints and claims come from its issuer's discovery \
                     document",
                ));
            }
            let issuer = url("--issuer", &flags.issuer)?
                .ok_or_else(|| Invalid("--kind oidc needs --issuer URL".into()))?;
            check_issuer(&issuer)?;
            Ok(Endpoints::Oidc { issuer })
        }
        Protocol::OAuth2 => {
            if flags.issuer.is_some() {
                return Err(not_for(
                    "--issuer",
                    kind,
                    "a plain OAuth 2.0 upstream has --authorize-url, --token-url and \
                     --userinfo-url instead",
                ));
            }
            let missing: Vec<&str> = [
                ("--authorize-url", &flags.authorize_url),
                ("--token-url", &flags.token_url),
                ("--userinfo-url", &flags.userinfo_url),
                ("--subject-field", &flags.subject_field),
            ]
            .into_iter()
            .filter(|(_, value)| value.is_none())
            .map(|(flag, _)| flag)
            .collect();
            if !missing.is_empty() {
                return Err(Invalid(format!(
                    "--kind oauth2 needs {} (missing: {})",
                    "--authorize-url, --token-url, --userinfo-url and --subject-field",
                    missing.join(", ")
                ))
                .into());
            }
            let required = |flag: &str, value: &Option<String>| -> Result<UpstreamUrl, Invalid> {
                Ok(url(flag, value)?.expect("checked above"))
            };
            Ok(Endpoints::OAuth2 {
                authorize_url: required("--authorize-url", &flags.authorize_url)?,
                token_url: required("--token-url", &flags.token_url)?,
                userinfo_url: required("--userinfo-url", &flags.userinfo_url)?,
                fields: ProfileFields {
                    subject: field("--subject-field", &flags.subject_field)?
                        .expect("checked above"),
                    username: field("--username-field", &flags.username_field)?,
                    email: field("--email-field", &flags.email_field)?,
                    email_verified: field("--email-verified-field", &flags.email_verified_field)?,
                },
            })
        }
    }
}

/// An issuer is compared byte for byte with the `iss` of the ID tokens (OpenID Connect
/// Discovery §4.3), and discovery appends a path to it: no query, no fragment.
fn check_issuer(issuer: &UpstreamUrl) -> Result<(), Invalid> {
    let parsed = url::Url::parse(issuer.as_str())
        .map_err(|_| Invalid("--issuer is not an absolute URL".into()))?;
    if parsed.query().is_some() {
        return Err(Invalid(format!(
            "--issuer '{}' must not have a query (OpenID Connect Discovery §4.3)",
            crate::model::truncate_for_message(issuer.as_str())
        )));
    }
    Ok(())
}

pub(super) fn add(store: &Store, request: &UpstreamAddRequest) -> Result<Plan, AdminError> {
    let name = UpstreamName::parse(&request.name)?;
    let kind = UpstreamKind::parse(&request.kind)?;
    let endpoints = new_endpoints(kind, &request.endpoints, request.base_url.as_deref())?;
    let client_id = parse_client_id(&request.client_id)
        .map_err(|invalid| Invalid(format!("--client-id: {}", invalid.0)))?;
    let client_secret = UpstreamSecret::parse(&request.client_secret)?;
    let preset = preset(kind, None)?;
    let scope = match (&request.scope, &preset) {
        (Some(scope), _) => upstream_scope(scope, kind.protocol())?,
        (None, Some(preset)) => Scope::parse(preset.scope)?,
        (None, None) if kind.protocol() == Protocol::Oidc => Scope::parse(OIDC_DEFAULT_SCOPE)?,
        (None, None) => Scope::default(),
    };
    let display_name = match (&request.display_name, &preset) {
        (Some(display_name), _) => DisplayName::parse("--display-name", display_name)?,
        (None, Some(preset)) => DisplayName::parse("--display-name", preset.display_name)?,
        (None, None) => DisplayName::parse("--display-name", name.as_str())?,
    };
    if store.upstream(&name)?.is_some() {
        return Err(exists(&name));
    }
    Ok(Plan::Write(WritePlan::AddUpstream(Box::new(Upstream {
        name,
        kind,
        display_name,
        endpoints,
        client_id,
        client_secret,
        scope,
        create_users: request.create_users,
        created_at: clock::now(),
    }))))
}

pub(super) fn list(store: &Store) -> Result<Plan, AdminError> {
    let issuer = recorded_issuer(store)?;
    Ok(Plan::Done(AdminOutput::Upstreams(UpstreamsView {
        upstreams: store
            .upstreams()?
            .iter()
            .map(|upstream| upstream_view(upstream, issuer.as_deref()))
            .collect(),
    })))
}

pub(super) fn show(store: &Store, name: &str, issuer: Option<&str>) -> Result<Plan, AdminError> {
    let name = UpstreamName::parse(name)?;
    let issuer = match issuer {
        Some(issuer) => Some(crate::config::parse_issuer(issuer).map_err(Invalid)?),
        None => recorded_issuer(store)?,
    };
    let upstream = store.upstream(&name)?.ok_or_else(|| not_found(&name))?;
    Ok(Plan::Done(AdminOutput::Upstream(Box::new(upstream_view(
        &upstream,
        issuer.as_deref(),
    )))))
}

pub(super) fn set(store: &Store, request: &UpstreamSetRequest) -> Result<Plan, AdminError> {
    let name = UpstreamName::parse(&request.name)?;
    let upstream = store.upstream(&name)?.ok_or_else(|| not_found(&name))?;
    let kind = upstream.kind;
    let flags = &request.endpoints;
    match kind.protocol() {
        Protocol::Oidc => {
            if let Some(flag) = flags.oauth2_given().first() {
                return Err(not_for(
                    flag,
                    kind,
                    "its endpoints come from its issuer's discovery document",
                ));
            }
        }
        Protocol::OAuth2 => {
            if flags.issuer.is_some() {
                return Err(not_for(
                    "--issuer",
                    kind,
                    "it has --authorize-url, --token-url and --userinfo-url instead",
                ));
            }
        }
    }
    let issuer = url("--issuer", &flags.issuer)?;
    if let Some(issuer) = &issuer {
        check_issuer(issuer)?;
    }
    let changes = UpstreamChanges {
        display_name: request
            .display_name
            .as_deref()
            .map(|text| DisplayName::parse("--display-name", text))
            .transpose()?,
        scope: request
            .scope
            .as_deref()
            .map(|text| upstream_scope(text, kind.protocol()))
            .transpose()?,
        create_users: request.create_users,
        client_id: request
            .client_id
            .as_deref()
            .map(|text| {
                parse_client_id(text)
                    .map_err(|invalid| Invalid(format!("--client-id: {}", invalid.0)))
            })
            .transpose()?,
        client_secret: request
            .client_secret
            .as_deref()
            .map(UpstreamSecret::parse)
            .transpose()?,
        issuer,
        authorize_url: url("--authorize-url", &flags.authorize_url)?,
        token_url: url("--token-url", &flags.token_url)?,
        userinfo_url: url("--userinfo-url", &flags.userinfo_url)?,
        subject_field: field("--subject-field", &flags.subject_field)?,
        username_field: field("--username-field", &flags.username_field)?,
        email_field: field("--email-field", &flags.email_field)?,
        email_verified_field: field("--email-verified-field", &flags.email_verified_field)?,
    };
    let nothing = changes.display_name.is_none()
        && changes.scope.is_none()
        && changes.create_users.is_none()
        && changes.client_id.is_none()
        && changes.client_secret.is_none()
        && changes.issuer.is_none()
        && flags.oauth2_given().is_empty();
    if nothing {
        return Err(Invalid(format!(
            "nothing to change for upstream '{name}': name a setting (see `keyward upstream set \
             --help`)"
        ))
        .into());
    }
    Ok(Plan::Write(WritePlan::SetUpstream(name, Box::new(changes))))
}

pub(super) fn delete(store: &Store, name: &str) -> Result<Plan, AdminError> {
    let name = UpstreamName::parse(name)?;
    store.upstream(&name)?.ok_or_else(|| not_found(&name))?;
    Ok(Plan::Write(WritePlan::DeleteUpstream(name)))
}

pub(super) async fn apply_add(
    store: &Store,
    upstream: Upstream,
) -> Result<AdminOutput, AdminError> {
    let name = upstream.name.clone();
    let view = upstream_view(&upstream, recorded_issuer(store)?.as_deref());
    match store.insert_upstream(upstream).await {
        Ok(()) => Ok(AdminOutput::Upstream(Box::new(view))),
        Err(UpstreamNotStored::Exists) => Err(exists(&name)),
        Err(UpstreamNotStored::NoSuchUpstream | UpstreamNotStored::IdentitiesLinked(_)) => {
            Err(not_found(&name))
        }
        Err(UpstreamNotStored::Storage(error)) => Err(error.into()),
    }
}

pub(super) async fn apply_set(
    store: &Store,
    name: UpstreamName,
    changes: UpstreamChanges,
) -> Result<AdminOutput, AdminError> {
    match store
        .update_upstream(name.clone(), move |upstream| changes.apply_to(upstream))
        .await
    {
        Ok(upstream) => Ok(AdminOutput::Upstream(Box::new(upstream_view(
            &upstream,
            recorded_issuer(store)?.as_deref(),
        )))),
        Err(UpstreamNotStored::NoSuchUpstream) => Err(not_found(&name)),
        Err(UpstreamNotStored::Exists) => Err(exists(&name)),
        Err(UpstreamNotStored::IdentitiesLinked(count)) => Err(AdminError::new(
            AdminErrorKind::Conflict,
            format!(
                "upstream '{name}' has {count} linked identit{}; nothing was changed. Its \
                 issuer, userinfo URL and subject field say whose accounts those are: changed, \
                 each would sign in whoever has the same subject at the new provider. To move \
                 to another provider, `keyward upstream delete {name}` (which unlinks them) \
                 and add it again",
                if count == 1 { "y" } else { "ies" }
            ),
        )),
        Err(UpstreamNotStored::Storage(error)) => Err(error.into()),
    }
}

pub(super) async fn apply_delete(
    store: &Store,
    name: UpstreamName,
) -> Result<AdminOutput, AdminError> {
    match store.delete_upstream(name.clone()).await? {
        Some(deleted) => Ok(AdminOutput::UpstreamDeleted(UpstreamDeletedView {
            deleted: name.as_str().to_owned(),
            identities_unlinked: deleted.identities_unlinked,
            users_without_a_way_in: deleted.users_stranded,
        })),
        None => Err(not_found(&name)),
    }
}

/// The issuer the last `serve` recorded, for the callback URL.
fn recorded_issuer(store: &Store) -> Result<Option<String>, AdminError> {
    Ok(store.server_settings()?.map(|settings| settings.issuer))
}

fn exists(name: &UpstreamName) -> AdminError {
    AdminError::new(
        AdminErrorKind::Conflict,
        format!("upstream '{name}' already exists; change it with `keyward upstream set {name}`"),
    )
}

fn not_found(name: &UpstreamName) -> AdminError {
    AdminError::new(
        AdminErrorKind::NotFound,
        format!("no upstream named '{name}'"),
    )
}

fn upstream_view(upstream: &Upstream, issuer: Option<&str>) -> UpstreamView {
    let text = |url: &UpstreamUrl| Some(url.as_str().to_owned());
    let name = |field: &Option<FieldName>| field.as_ref().map(|field| field.as_str().to_owned());
    let mut view = UpstreamView {
        name: upstream.name.as_str().to_owned(),
        kind: upstream.kind.as_str().to_owned(),
        display_name: upstream.display_name.as_str().to_owned(),
        issuer: None,
        authorize_url: None,
        token_url: None,
        userinfo_url: None,
        subject_field: None,
        username_field: None,
        email_field: None,
        email_verified_field: None,
        client_id: upstream.client_id.clone(),
        scope: upstream.scope.to_string(),
        create_users: upstream.create_users,
        created_at: upstream.created_at,
        callback: issuer.map(|issuer| upstream.callback_url(issuer)),
        loopback: upstream.uses_loopback(),
    };
    match &upstream.endpoints {
        Endpoints::Oidc { issuer } => view.issuer = text(issuer),
        Endpoints::OAuth2 {
            authorize_url,
            token_url,
            userinfo_url,
            fields,
        } => {
            view.authorize_url = text(authorize_url);
            view.token_url = text(token_url);
            view.userinfo_url = text(userinfo_url);
            view.subject_field = Some(fields.subject.as_str().to_owned());
            view.username_field = name(&fields.username);
            view.email_field = name(&fields.email);
            view.email_verified_field = name(&fields.email_verified);
        }
    }
    view
}
