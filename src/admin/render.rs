//! How an answer prints: the object `--json` prints, and the text a person reads. The same
//! for both paths, since the CLI renders whatever the server or the file answered.

use super::views::{ClientView, ScopeDescriptionView, UpstreamView, UserView};
use super::AdminOutput;

impl AdminOutput {
    /// The object `--json` prints.
    pub fn json(&self) -> serde_json::Value {
        let value = match self {
            AdminOutput::ClientSecret(view) => serde_json::to_value(view),
            AdminOutput::Client(view) => serde_json::to_value(view),
            AdminOutput::Clients(view) => serde_json::to_value(view),
            AdminOutput::User(view) => serde_json::to_value(view),
            AdminOutput::UserDetails(view) => serde_json::to_value(view),
            AdminOutput::Users(view) => serde_json::to_value(view),
            AdminOutput::SessionsEnded(view) => serde_json::to_value(view),
            AdminOutput::Unlinked(view) => serde_json::to_value(view),
            AdminOutput::ResetLink(view) => serde_json::to_value(view),
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
            AdminOutput::Keys(view) => serde_json::to_value(view),
            AdminOutput::Upstream(view) => serde_json::to_value(view),
            AdminOutput::Upstreams(view) => serde_json::to_value(view),
            AdminOutput::UpstreamDeleted(view) => serde_json::to_value(view),
            AdminOutput::Invite(view) => serde_json::to_value(view),
            AdminOutput::Invites(view) => serde_json::to_value(view),
            AdminOutput::RegistrationToken(view) => serde_json::to_value(view),
            AdminOutput::RegistrationTokens(view) => serde_json::to_value(view),
        };
        value.expect("admin views serialize to JSON")
    }

    /// The text a person reads.
    pub fn human(&self) -> String {
        match self {
            AdminOutput::ClientSecret(view) => {
                let mut text = match &view.client_secret {
                    Some(secret) => format!(
                        "client_id:     {}\nclient_secret: {secret}\n\nThe secret is shown once and never again: store it now.",
                        view.client_id
                    ),
                    None => {
                        format!("client_id: {}\n(public client: no secret)", view.client_id)
                    }
                };
                if let Some(until) = view.previous_secret_valid_until {
                    text.push_str(&format!(
                        "\nThe previous secret keeps working until {} ({until}); after that only this one does.",
                        crate::clock::format_time(until)
                    ));
                }
                text
            }
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
            AdminOutput::UserDetails(view) => human_user(view),
            AdminOutput::Users(view) => view
                .users
                .iter()
                .map(|user| {
                    let mut line = format!("{}  {}", user.user_id, user.username);
                    if let Some(email) = &user.email {
                        line.push_str(&format!("  <{email}>"));
                        if user.email_verified {
                            line.push_str(" (verified)");
                        }
                    }
                    if let Some(name) = &user.name {
                        line.push_str(&format!("  {name}"));
                    }
                    line
                })
                .collect::<Vec<_>>()
                .join("\n"),
            AdminOutput::Unlinked(view) => format!(
                "unlinked {} from {} (subject {}): it no longer signs in through {}",
                view.username, view.upstream, view.subject, view.upstream
            ),
            AdminOutput::SessionsEnded(view) => format!(
                "signed out {} everywhere ({} session(s) ended)",
                view.username, view.sessions_ended
            ),
            AdminOutput::ResetLink(view) => format!(
                "{}\n\nSend this link to the user: it sets a new password once, until {}. \
                 Anyone who has it can use it.",
                view.url,
                crate::clock::format_time(view.expires_at)
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
            AdminOutput::Invite(view) => format!(
                "{}\n\nSend this link to whoever may make an account: it works {} until {}. \
                 Anyone who has it can use it; it is shown once and never again.",
                view.url,
                match view.uses {
                    1 => "once".to_owned(),
                    uses => format!("{uses} times"),
                },
                crate::clock::format_time(view.expires_at)
            ),
            AdminOutput::RegistrationToken(view) => {
                let uses = match view.uses {
                    Some(1) => "one registration".to_owned(),
                    Some(uses) => format!("{uses} registrations"),
                    None => "any number of registrations".to_owned(),
                };
                let until = match view.expires_at {
                    Some(at) => format!("until {}", crate::clock::format_time(at)),
                    None => "without expiry".to_owned(),
                };
                format!(
                    "{}\n\nAn initial access token for /oauth2/register (send it as \
                     Authorization: Bearer): it allows {uses}, {until}{}. It is shown once \
                     and never again.",
                    view.token,
                    view.scope
                        .as_deref()
                        .map(|scope| format!(", with the scopes {scope} besides the \
                             self-service ones"))
                        .unwrap_or_default()
                )
            }
            AdminOutput::RegistrationTokens(view) if view.tokens.is_empty() => {
                "no registration tokens".to_owned()
            }
            AdminOutput::RegistrationTokens(view) => view
                .tokens
                .iter()
                .map(|token| {
                    format!(
                        "{}  created: {}  expires: {}  uses left: {}  scope: {}",
                        token.id,
                        crate::clock::format_time(token.created_at),
                        token
                            .expires_at
                            .map(crate::clock::format_time)
                            .unwrap_or_else(|| "never".to_owned()),
                        match (token.uses_left, token.uses_total) {
                            (Some(left), Some(total)) => format!("{left} of {total}"),
                            _ => "any".to_owned(),
                        },
                        token.scope.as_deref().unwrap_or("(self-service only)")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            AdminOutput::Invites(view) if view.invites.is_empty() => "no invitations".to_owned(),
            AdminOutput::Invites(view) => view
                .invites
                .iter()
                .map(|invite| {
                    format!(
                        "{}  created: {}  expires: {}  uses left: {} of {}",
                        invite.id,
                        crate::clock::format_time(invite.created_at),
                        crate::clock::format_time(invite.expires_at),
                        invite.uses_left,
                        invite.uses_total
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            AdminOutput::Keys(view) if view.keys.is_empty() => {
                "no signing keys (serve makes them at its first start)".to_owned()
            }
            AdminOutput::Keys(view) => view
                .keys
                .iter()
                .map(|key| match (key.signs, key.published_until) {
                    (true, _) => format!("{}  {}  signs  (since {})", key.kid, key.alg, key.created_at),
                    (false, until) => format!(
                        "{}  {}  retired at {}, published until {}",
                        key.kid,
                        key.alg,
                        key.retired_at.unwrap_or(0),
                        until.map_or("-".to_owned(), |until| until.to_string())
                    ),
                })
                .collect::<Vec<_>>()
                .join("\n"),
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
            AdminOutput::Upstream(view) => human_upstream(view),
            AdminOutput::Upstreams(view) if view.upstreams.is_empty() => "no upstreams".to_owned(),
            AdminOutput::Upstreams(view) => view
                .upstreams
                .iter()
                .map(|upstream| {
                    let at = upstream
                        .issuer
                        .as_deref()
                        .or(upstream.authorize_url.as_deref())
                        .unwrap_or("");
                    let creates = if upstream.create_users {
                        "  (creates users)"
                    } else {
                        ""
                    };
                    format!(
                        "{}  {}  \"{}\"  {at}{creates}",
                        upstream.name, upstream.kind, upstream.display_name
                    )
                })
                .collect::<Vec<_>>()
                .join("\n"),
            AdminOutput::UpstreamDeleted(view) => {
                let mut text = format!(
                    "deleted {} ({} linked identit{} removed)",
                    view.deleted,
                    view.identities_unlinked,
                    if view.identities_unlinked == 1 { "y" } else { "ies" }
                );
                if view.users_without_a_way_in > 0 {
                    text.push_str(&format!(
                        "\n{} user{} signed in only through it and now cannot sign in: give \
                         them a password with `keyward user reset-link` or `user set-password`",
                        view.users_without_a_way_in,
                        if view.users_without_a_way_in == 1 { "" } else { "s" }
                    ));
                }
                text
            }
            AdminOutput::ServerInfo(view) => format!(
                "keyward {} (pid {}) listening on {}, issuer {}",
                view.version, view.pid, view.listen, view.issuer
            ),
        }
    }
}

fn human_scope(view: &ScopeDescriptionView) -> String {
    let allowed: Vec<&str> = [
        (view.api_keys, "API keys"),
        (view.self_service, "self-registered apps"),
    ]
    .into_iter()
    .filter_map(|(allowed, what)| allowed.then_some(what))
    .collect();
    let allowed = if allowed.is_empty() {
        String::new()
    } else {
        format!("  (allowed on {})", allowed.join(" and "))
    };
    format!("{}: {}{allowed}", view.scope, view.description)
}

/// `key: value` lines with the values aligned, for one record shown alone.
fn aligned(fields: &[(&str, String)]) -> String {
    let width = fields.iter().map(|(key, _)| key.len()).max().unwrap_or(0) + 1;
    fields
        .iter()
        .map(|(key, value)| format!("{:width$} {value}", format!("{key}:")))
        .collect::<Vec<_>>()
        .join("\n")
}

fn yes_no(value: bool) -> String {
    if value { "yes" } else { "no" }.to_owned()
}

fn human_client(view: &ClientView) -> String {
    let list = |list: &[String]| {
        if list.is_empty() {
            "(none)".to_owned()
        } else {
            list.join(" ")
        }
    };
    let kind = if view.public {
        "public"
    } else {
        "confidential"
    };
    aligned(&[
        ("client_id", view.client_id.clone()),
        ("name", view.name.clone()),
        ("type", kind.to_owned()),
        ("redirect_uris", view.redirect_uris.join(" ")),
        ("scope", view.scope.clone()),
        ("grant_types", view.grant_types.join(",")),
        ("created_at", view.created_at.to_string()),
        ("id_token_alg", view.id_token_alg.clone()),
        ("id_token_claims", yes_no(view.id_token_claims)),
        ("access_token_format", view.access_token_format.clone()),
        ("resources", list(&view.resources)),
        (
            "post_logout_redirect_uris",
            list(&view.post_logout_redirect_uris),
        ),
        ("registered_by", view.registered_by.clone()),
        (
            "owner",
            view.owner.clone().unwrap_or_else(|| {
                if view.registered_by == "operator" {
                    "(the operator)".to_owned()
                } else {
                    "(none)".to_owned()
                }
            }),
        ),
        ("verified", yes_no(view.verified)),
        (
            "homepage",
            view.homepage.clone().unwrap_or_else(|| "(none)".to_owned()),
        ),
        (
            "privacy_policy",
            view.privacy_policy
                .clone()
                .unwrap_or_else(|| "(none)".to_owned()),
        ),
        (
            "previous_secret_until",
            view.previous_secret_valid_until
                .map(crate::clock::format_time)
                .unwrap_or_else(|| "(none)".to_owned()),
        ),
    ])
}

fn human_user(view: &UserView) -> String {
    let or_none = |value: &Option<String>| value.clone().unwrap_or_else(|| "(none)".to_owned());
    let mut fields = vec![
        ("user_id", view.user_id.clone()),
        ("username", view.username.clone()),
        ("email", or_none(&view.email)),
        ("email_verified", yes_no(view.email_verified)),
        ("name", or_none(&view.name)),
        ("created_at", view.created_at.to_string()),
        ("updated_at", view.updated_at.to_string()),
        ("developer", yes_no(view.developer)),
    ];
    let identities = view.identities.as_deref().unwrap_or_default();
    if identities.is_empty() {
        fields.push(("identities", "(none)".to_owned()));
    }
    let mut text = aligned(&fields);
    if !identities.is_empty() {
        text.push_str("\nidentities:");
        for identity in identities {
            text.push_str(&format!(
                "\n  {}  {}  linked_at {}",
                identity.upstream, identity.subject, identity.linked_at
            ));
        }
    }
    text
}

fn human_upstream(view: &UpstreamView) -> String {
    let mut fields = vec![
        ("name", view.name.clone()),
        ("kind", view.kind.clone()),
        ("display_name", view.display_name.clone()),
    ];
    let optional = [
        ("issuer", &view.issuer),
        ("authorize_url", &view.authorize_url),
        ("token_url", &view.token_url),
        ("userinfo_url", &view.userinfo_url),
        ("subject_field", &view.subject_field),
        ("username_field", &view.username_field),
        ("email_field", &view.email_field),
        ("email_verified_field", &view.email_verified_field),
    ];
    fields.extend(
        optional
            .into_iter()
            .filter_map(|(key, value)| value.clone().map(|value| (key, value))),
    );
    fields.extend([
        ("client_id", view.client_id.clone()),
        ("client_secret", "(sealed; never shown)".to_owned()),
        ("scope", view.scope.clone()),
        ("create_users", yes_no(view.create_users)),
        ("created_at", view.created_at.to_string()),
        (
            "callback",
            view.callback
                .clone()
                .unwrap_or_else(|| "(run serve once, or pass --issuer)".to_owned()),
        ),
    ]);
    let mut text = aligned(&fields);
    if view.loopback {
        text.push_str("\n\nIts URLs are on a loopback host: for tests and local setups only.");
    }
    text
}
