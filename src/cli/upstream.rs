//! `keyward upstream …`: the clap definitions, and their requests. The client secret is read
//! from standard input only, like a password: an argument is visible to every user of the
//! machine (`ps`, /proc) and stays in shell history.

use clap::{Args, Subcommand};

use super::{read_first_line, Failure};
use crate::admin::{AdminRequest, UpstreamAddRequest, UpstreamEndpointFlags, UpstreamSetRequest};

#[derive(Subcommand)]
pub(super) enum UpstreamCommand {
    /// Register a provider users may sign in through (an OpenID provider, a plain OAuth 2.0
    /// service, or a preset); its client secret is read from standard input.
    Add {
        /// A short name: lowercase letters, digits and '-', at most 32. It is part of the
        /// callback URL to register at the provider, `{issuer}/upstream/NAME/callback`.
        name: String,
        /// oidc (any OpenID provider, by its issuer), oauth2 (OAuth 2.0 with a userinfo
        /// document), or a preset that fills the endpoints in: discord, github, google,
        /// gitlab.
        #[arg(long)]
        kind: String,
        /// What the sign-in button names (default: the preset's name, else NAME).
        #[arg(long)]
        display_name: Option<String>,
        #[command(flatten)]
        endpoints: EndpointArgs,
        /// For the presets: scheme://host[:port] that replaces the scheme and host of every
        /// preset URL, keeping their paths (a test server that answers like the provider).
        #[arg(long, value_name = "URL")]
        base_url: Option<String>,
        /// The client id the provider issued to keyward.
        #[arg(long)]
        client_id: String,
        #[command(flatten)]
        secret: SecretArgs,
        /// Space-separated scopes to ask the provider for (default: openid profile email for
        /// OpenID providers, the preset's for discord and github, none for oauth2).
        #[arg(long)]
        scope: Option<String>,
        /// The first sign-in of someone not known here creates a keyward user. Without it,
        /// only identities already linked to a user may sign in.
        #[arg(long)]
        create_users: bool,
    },
    /// List the upstream providers (never their secrets).
    List,
    /// Show one upstream's settings, and the callback URL to register at the provider.
    Show {
        /// The upstream's name.
        name: String,
        /// The address users open keyward at, for the callback URL (default: the issuer
        /// the last `keyward serve` ran with).
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
    },
    /// Change an upstream's settings; what is not given stays as it is. Its kind cannot
    /// change: delete it and add it again.
    Set {
        /// The upstream's name.
        name: String,
        /// What the sign-in button names.
        #[arg(long)]
        display_name: Option<String>,
        /// Space-separated scopes to ask the provider for.
        #[arg(long)]
        scope: Option<String>,
        /// Whether the first sign-in of someone not known here creates a keyward user.
        #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
        create_users: Option<bool>,
        /// A new client id from the provider.
        #[arg(long)]
        client_id: Option<String>,
        #[command(flatten)]
        secret: SecretArgs,
        #[command(flatten)]
        endpoints: EndpointArgs,
    },
    /// Delete an upstream: nobody signs in through it any more, and every identity linked
    /// through it is unlinked.
    Delete {
        /// The upstream's name.
        name: String,
    },
}

/// Where an upstream is reached: `--issuer` for OpenID providers, the rest for oauth2.
#[derive(Args)]
pub(super) struct EndpointArgs {
    /// The OpenID provider's issuer (kind oidc): its discovery document is at
    /// ISSUER/.well-known/openid-configuration. https, or http on a loopback host.
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// Where the browser is sent to sign in (kind oauth2).
    #[arg(long, value_name = "URL")]
    authorize_url: Option<String>,
    /// Where keyward exchanges the code for a token (kind oauth2).
    #[arg(long, value_name = "URL")]
    token_url: Option<String>,
    /// Where keyward reads who signed in, with that token (kind oauth2).
    #[arg(long, value_name = "URL")]
    userinfo_url: Option<String>,
    /// The userinfo field that identifies the account for good, e.g. id (kind oauth2).
    /// Accounts are keyed by it, never by an email.
    #[arg(long, value_name = "FIELD")]
    subject_field: Option<String>,
    /// The userinfo field a new user's username is made from (kind oauth2).
    #[arg(long, value_name = "FIELD")]
    username_field: Option<String>,
    /// The userinfo field that holds the email address (kind oauth2).
    #[arg(long, value_name = "FIELD")]
    email_field: Option<String>,
    /// A true/false userinfo field that says the email is verified (kind oauth2). Without
    /// one, an email from the upstream is never taken as verified.
    #[arg(long, value_name = "FIELD")]
    email_verified_field: Option<String>,
}

impl EndpointArgs {
    fn into_flags(self) -> UpstreamEndpointFlags {
        UpstreamEndpointFlags {
            issuer: self.issuer,
            authorize_url: self.authorize_url,
            token_url: self.token_url,
            userinfo_url: self.userinfo_url,
            subject_field: self.subject_field,
            username_field: self.username_field,
            email_field: self.email_field,
            email_verified_field: self.email_verified_field,
        }
    }
}

#[derive(Args)]
pub(super) struct SecretArgs {
    /// Read the client secret the provider issued from the first line of standard input.
    #[arg(long)]
    client_secret_stdin: bool,
    /// Refused: a secret on the command line is visible to every user of the machine.
    #[arg(long, hide = true)]
    client_secret: Option<String>,
}

impl SecretArgs {
    /// The secret from stdin; `None` when it was not asked for and `required` is false.
    fn read(&self, required: bool) -> Result<Option<String>, Failure> {
        if self.client_secret.is_some() {
            return Err(Failure {
                message: "client secrets are never accepted on the command line (other users \
                          can see it); pipe it in with --client-secret-stdin"
                    .into(),
                code: 2,
            });
        }
        if !self.client_secret_stdin {
            if required {
                return Err(Failure {
                    message: "--client-secret-stdin is required: pipe the client secret in on \
                              standard input"
                        .into(),
                    code: 2,
                });
            }
            return Ok(None);
        }
        read_first_line("client secret").map(Some)
    }
}

pub(super) fn request(command: UpstreamCommand) -> Result<AdminRequest, Failure> {
    Ok(match command {
        UpstreamCommand::Add {
            name,
            kind,
            display_name,
            endpoints,
            base_url,
            client_id,
            secret,
            scope,
            create_users,
        } => AdminRequest::UpstreamAdd(UpstreamAddRequest {
            client_secret: secret.read(true)?.unwrap_or_default(),
            name,
            kind,
            display_name,
            endpoints: endpoints.into_flags(),
            base_url,
            client_id,
            scope,
            create_users,
        }),
        UpstreamCommand::List => AdminRequest::UpstreamList,
        UpstreamCommand::Show { name, issuer } => AdminRequest::UpstreamShow { name, issuer },
        UpstreamCommand::Set {
            name,
            display_name,
            scope,
            create_users,
            client_id,
            secret,
            endpoints,
        } => AdminRequest::UpstreamSet(UpstreamSetRequest {
            client_secret: secret.read(false)?,
            name,
            display_name,
            scope,
            create_users,
            client_id,
            endpoints: endpoints.into_flags(),
        }),
        UpstreamCommand::Delete { name } => AdminRequest::UpstreamDelete { name },
    })
}
