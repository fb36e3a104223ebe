//! The command line: clap definitions, and admin commands run either through a running
//! server's admin socket or directly on the database file when no server runs.

mod upstream;

use std::io::Read;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::admin::{
    self, socket, AdminOutput, AdminRequest, ClientCreateRequest, ClientUpdateRequest,
};
use crate::app;
use crate::config::{
    parse_cors_origin, parse_duration, parse_issuer, parse_resource, parse_reuse_grace,
    parse_trusted_proxy, Lifetimes, ServeConfig,
};
use crate::store::{KeyLocation, OpenError, OpenOptions, Store};

#[derive(Parser)]
#[command(
    name = "keyward",
    version,
    about = "OAuth 2.0 / OpenID Connect authorization server"
)]
pub struct Cli {
    /// Where keyward.redb and master.key live.
    #[arg(
        long,
        global = true,
        env = "KEYWARD_DATA_DIR",
        default_value = "./keyward-data"
    )]
    data_dir: PathBuf,
    /// Print one JSON object instead of text for people.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the authorization server.
    Serve(ServeArgs),
    /// Start a throwaway server with a demo user and client, to try keyward out.
    Demo {
        /// The address and port to serve HTTP on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
    },
    /// Manage OAuth clients.
    #[command(subcommand)]
    Client(ClientCommand),
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Describe scopes for the consent page.
    #[command(subcommand)]
    Scope(ScopeCommand),
    /// Manage users' personal API keys.
    #[command(subcommand)]
    Apikey(ApiKeyCommand),
    /// List and revoke what users have approved.
    #[command(subcommand)]
    Grant(GrantCommand),
    /// Manage the keys that sign ID tokens and JWT access tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Make, list and revoke sign-up invitations (for `serve --signup invite`).
    #[command(subcommand)]
    Invite(InviteCommand),
    /// Initial access tokens for dynamic client registration (`serve --registration token`).
    #[command(subcommand)]
    RegistrationToken(RegistrationTokenCommand),
    /// Manage the providers users may sign in through (Discord, GitHub, Google, GitLab, any
    /// OpenID provider or OAuth 2.0 service).
    #[command(subcommand)]
    Upstream(upstream::UpstreamCommand),
    /// Write a consistent snapshot of the database to a new file, even while serving.
    Backup {
        /// The file to write. It must not exist yet: a backup never overwrites.
        #[arg(long, value_name = "FILE")]
        to: PathBuf,
    },
    /// Verify the file's integrity (on a copy) and that every record opens and decodes.
    Check,
    /// Upgrade the database to this keyward's schema (`serve` does this too, at start).
    /// A snapshot of the database as it was is written beside it first.
    Migrate,
    /// Exit 0 when the server running on this data directory is ready to serve (its
    /// /readyz: storage writable, keys loaded, not shutting down), 1 otherwise: for
    /// container and systemd health checks. The server is found through its admin socket.
    Healthcheck,
    /// Put the database back from a backup (`backup --to`, or one of `serve --backup-dir`),
    /// only while no server runs. The backup is checked first; the database it replaces is
    /// kept beside it. Everything since the backup is undone, so every session and every
    /// access token issued before now is ended (and every grant with --end-grants).
    Restore {
        /// The backup file to restore (it is copied, never changed).
        #[arg(long, value_name = "FILE")]
        from: PathBuf,
        /// End every grant too: refresh tokens the backup holds stop working, and every user
        /// approves their apps again. Without it, grants revoked since the backup work again.
        #[arg(long)]
        end_grants: bool,
    },
}

#[derive(Subcommand)]
enum ApiKeyCommand {
    /// Make a key for a user; it is printed once.
    Create {
        /// The username of the user the key belongs to.
        #[arg(long, value_name = "USERNAME")]
        user: String,
        /// A name that tells the key apart in lists, e.g. laptop.
        #[arg(long)]
        name: String,
        /// How long the key works, like 90s, 30m, 1h or 90d. Without it the key does not
        /// expire.
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<Duration>,
        /// Space-separated scopes the key carries: openid, profile, email, and scopes set
        /// with `scope set --api-keys` (default: openid profile email).
        #[arg(long)]
        scope: Option<String>,
    },
    /// List a user's API keys: name, scope, when made, last used and expires. The keys
    /// themselves are never shown again.
    List {
        /// The username whose keys to list.
        #[arg(long, value_name = "USERNAME")]
        user: String,
    },
    /// Delete an API key: it and the access tokens made with it stop working at once.
    Delete {
        /// The key's id, as `apikey list` shows it.
        id: String,
    },
}

#[derive(Subcommand)]
enum InviteCommand {
    /// Make an invitation and print its link, once: `{issuer}/signup?invite=…`.
    Create {
        /// How long the link works, like 2h or 7d (default 7d, at most 90d).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<Duration>,
        /// How many accounts the link may make (default 1, at most 1000).
        #[arg(long, value_name = "N")]
        uses: Option<u64>,
        /// The address users open keyward at, e.g. https://id.example.com (default: the
        /// issuer the last `keyward serve` ran with).
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
    },
    /// List the invitations: id, when made, when they expire, uses left. Their links are
    /// never shown again.
    List,
    /// Revoke an invitation: its link stops working at once.
    Revoke {
        /// The invitation's id, as `invite list` shows it.
        id: String,
    },
}

#[derive(Subcommand)]
enum RegistrationTokenCommand {
    /// Make an initial access token and print it, once. A program sends it as
    /// `Authorization: Bearer` to /oauth2/register to register a client (RFC 7591).
    Create {
        /// How many clients it may register (default: any number, at most 100000).
        #[arg(long, value_name = "N")]
        uses: Option<u64>,
        /// How long it works, like 2h or 30d (default: until revoked; at most 365d).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<Duration>,
        /// Space-separated scopes the clients it registers may ask for besides the
        /// self-service ones (`scope set --self-service`; openid profile email always).
        #[arg(long)]
        scope: Option<String>,
    },
    /// List the initial access tokens: id, when made, expiry, uses left, scopes. The
    /// tokens themselves are never shown again.
    List,
    /// Revoke an initial access token: it registers nothing more. Clients it registered stay.
    Revoke {
        /// The token's id, as `registration-token list` shows it.
        id: String,
    },
}

#[derive(Subcommand)]
enum KeysCommand {
    /// List the signing keys: the one of each algorithm that signs, and retired ones still
    /// published in the JWKS until the tokens they signed have expired.
    List,
    /// Make new signing keys, which sign from now on, and retire the ones they replace
    /// (they stay published until every token they signed has expired). Works while
    /// serving.
    Rotate {
        /// Rotate only this algorithm's key: RS256, ES256 or EdDSA (default: all three).
        #[arg(long, value_name = "ALG")]
        alg: Option<String>,
    },
}

#[derive(Subcommand)]
enum GrantCommand {
    /// List what a user has approved: each grant's client, scope, and when it was made
    /// and last used.
    List {
        /// The username whose grants to list.
        #[arg(long, value_name = "USERNAME")]
        user: String,
    },
    /// End a grant: its tokens stop working and the next authorization asks again.
    Revoke {
        /// The grant's id, as `grant list` shows it.
        id: String,
    },
}

#[derive(Subcommand)]
enum ScopeCommand {
    /// Set the description users see for a scope on the consent page.
    Set {
        /// The scope, as clients request it (e.g. files:read).
        name: String,
        /// What users read on the consent page when a client asks for this scope.
        #[arg(long)]
        description: String,
        /// Let users put this scope on their personal API keys (besides openid, profile
        /// and email, which keys may always carry). Without it, they may not.
        #[arg(long)]
        api_keys: bool,
        /// Let apps that users register themselves (the developer page) ask for this scope
        /// (besides openid, profile and email, which they may always ask for). Without it,
        /// they may not.
        #[arg(long)]
        self_service: bool,
    },
    /// List the scopes that have a description, and whether API keys may carry them.
    List,
    /// Remove a scope's description and its API-key permission. Clients that were
    /// registered with the scope may still ask for it.
    Delete {
        /// The scope whose settings to remove.
        name: String,
    },
}

#[derive(Args)]
struct ServeArgs {
    /// The address and port to serve HTTP on. Port 0 picks a free port; the line
    /// `keyward listening on …` on standard output names it.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The issuer URL clients see (default http://<listen>).
    #[arg(long)]
    issuer: Option<String>,
    /// How long an authorization code may be exchanged for tokens, like 90s, 30m, 1h or 7d.
    #[arg(long, value_name = "DURATION", default_value = "30m", value_parser = parse_duration)]
    code_ttl: Duration,
    /// How long an access token works, like 30m or 1h; never past the end of the grant or
    /// API key it comes from.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = parse_duration)]
    access_token_ttl: Duration,
    /// How long a refresh token works unused, like 12h or 7d; each refresh starts the time
    /// again.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    refresh_token_ttl: Duration,
    /// The longest a grant lives from its first token, however recently it was refreshed,
    /// like 30d or 90d.
    #[arg(long, value_name = "DURATION", default_value = "90d", value_parser = parse_duration)]
    refresh_token_max_lifetime: Duration,
    /// For apps that refresh from two tabs at once: for this long after a refresh token is
    /// used (at most 5m, like 10s or 30s), its own client presenting it again gets a new
    /// access token and the same new refresh token the first use got, instead of every token
    /// of the grant being revoked. The cost: a stolen refresh token replayed that soon is
    /// answered instead of ending the grant, and the new refresh token is kept readable
    /// (sealed) in the database until then. 0 (the default) turns it off.
    // A negative grace gets the parser's message, not clap's "unexpected argument '-5'".
    #[arg(long, value_name = "DURATION", default_value = "0", value_parser = parse_reuse_grace,
          allow_hyphen_values = true)]
    refresh_reuse_grace: Duration,
    /// How often expired codes, tokens and sessions are deleted and API keys' last-used
    /// times written, like 90s or 5m.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    sweep_interval: Duration,
    /// The name shown on the sign-in and consent pages.
    #[arg(long, default_value = "keyward")]
    product_name: String,
    /// A reverse proxy in front of keyward (an address or a CIDR range; repeatable). Only
    /// from these peers are X-Forwarded-For, Forwarded and X-Forwarded-Proto believed, for
    /// the client address that sign-in throttling and logs use.
    #[arg(long = "trusted-proxy", value_name = "CIDR", value_parser = parse_trusted_proxy)]
    trusted_proxies: Vec<ipnet::IpNet>,
    /// An origin (scheme://host[:port], like https://app.example.com) whose pages may call
    /// the token, revocation and userinfo endpoints for any client, besides the origins of
    /// registered redirect URIs (repeatable). https, or http on a loopback host.
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_parser = parse_cors_origin)]
    cors_origins: Vec<crate::oauth::cors::Origin>,
    /// A resource server any client may ask tokens for with RFC 8707's `resource` parameter
    /// (an absolute URI without a fragment, like https://api.example.com; repeatable), besides
    /// the resources registered for each client (`client create --resource`).
    #[arg(long = "resource", value_name = "URI", value_parser = parse_resource)]
    resources: Vec<crate::model::ResourceUri>,
    /// Whether visitors may create their own accounts on the sign-up page (`/signup`):
    /// closed; invite (only with a link from `keyward invite create`); or open (anyone,
    /// linked from the sign-in page).
    #[arg(long, value_enum, default_value = "closed")]
    signup: crate::config::SignUp,
    /// Whether users may sign in with a password on the sign-in page. off hides the
    /// password form and refuses it, for platforms that sign in only through an upstream.
    #[arg(long, value_enum, default_value = "on")]
    password_login: crate::config::PasswordLogin,
    /// Who may register their own apps on the developer page (/account/apps): off (only
    /// the operator, with `client create`); everyone signed in; or allowed (users given
    /// `user set U --developer true`). Their apps may ask only for self-service scopes.
    #[arg(long, value_enum, default_value = "off")]
    developer_apps: crate::config::DeveloperApps,
    /// The most apps one user may register on the developer page (1 to 1000).
    #[arg(long, value_name = "N", default_value_t = crate::config::DEFAULT_DEVELOPER_APP_LIMIT,
          value_parser = clap::value_parser!(u32).range(1..=crate::config::MAX_DEVELOPER_APP_LIMIT as i64))]
    developer_app_limit: u32,
    /// Whether programs may register their own clients at /oauth2/register (RFC 7591 and
    /// 7592): off; token (only with an initial access token from `keyward
    /// registration-token create`); or open (anyone, throttled per address). Registered
    /// clients may ask only for self-service scopes and the code flow.
    #[arg(long, value_enum, default_value = "off")]
    registration: crate::config::Registration,
    /// How long a client registered at /oauth2/register is kept while nobody uses it (no
    /// grant names it), like 1d or 7d.
    #[arg(long, value_name = "DURATION", default_value = "7d", value_parser = parse_duration)]
    registration_unused_ttl: Duration,
    /// Whether an authorization request may name its client by the https URL of a client
    /// metadata document (as MCP clients do): off; or on (the document is fetched, checked
    /// and kept; such clients are public and may ask only for self-service scopes).
    #[arg(long, value_enum, default_value = "off")]
    client_metadata_documents: crate::config::ClientMetadataDocuments,
    /// A host client metadata documents may come from (repeatable); without any, every https
    /// host with a public address. Needs --client-metadata-documents on.
    #[arg(long = "client-metadata-allow", value_name = "HOST", value_parser = parse_document_host)]
    client_metadata_allow: Vec<String>,
    /// For tests only: fetch client metadata documents from 127.0.0.1 too, over http or
    /// over https without checking the certificate. Never on a server people use.
    #[arg(long)]
    client_metadata_insecure_loopback: bool,
    /// How log lines are written to stderr: text (one line per event) or json (one JSON
    /// object per line: timestamp, level, target, fields, and the request's client address
    /// under span). Audit events have the target keyward::audit and an event field.
    #[arg(long, value_enum, default_value = "text", env = "KEYWARD_LOG_FORMAT")]
    log_format: crate::logging::LogFormat,
    /// How many requests one client address may make to the token, introspection and
    /// revocation endpoints together, as N/DURATION (like 1000/10s), or off. Behind a
    /// --trusted-proxy the forwarded address counts. Loopback peers are not limited.
    #[arg(long, value_name = "LIMIT", default_value = "1000/10s", value_parser = crate::ratelimit::LimitSetting::parse)]
    rate_limit_address: crate::ratelimit::LimitSetting,
    /// How many requests one authenticated client may make to those endpoints together, as
    /// N/DURATION, or off (requests from loopback peers are not counted).
    #[arg(long, value_name = "LIMIT", default_value = "5000/10s", value_parser = crate::ratelimit::LimitSetting::parse)]
    rate_limit_client: crate::ratelimit::LimitSetting,
    /// Write a consistent backup of the database into this directory on a schedule
    /// (created 0700 if missing), as keyward-<UTC time>.redb, each checked after writing.
    #[arg(long, value_name = "DIR")]
    backup_dir: Option<PathBuf>,
    /// How often to write a scheduled backup, like 6h or 1d (default 1d). Needs --backup-dir.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    backup_every: Option<Duration>,
    /// How many scheduled backups to keep, 1 to 1000 (default 7): the oldest beyond it are
    /// removed. Needs --backup-dir.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1000))]
    backup_keep: Option<u32>,
}

/// The `--backup-*` flags together, with the directory made and tried: a start that could
/// never write a backup fails now, not at the first run.
fn backup_schedule(
    dir: Option<PathBuf>,
    every: Option<Duration>,
    keep: Option<u32>,
) -> Result<Option<crate::backup::BackupSchedule>, Failure> {
    let Some(dir) = dir else {
        if every.is_some() || keep.is_some() {
            return Err(Failure::new(format!(
                "{} needs --backup-dir",
                if every.is_some() {
                    "--backup-every"
                } else {
                    "--backup-keep"
                }
            )));
        }
        return Ok(None);
    };
    let dir = std::path::absolute(&dir)
        .map_err(|error| Failure::new(format!("--backup-dir {}: {error}", dir.display())))?;
    crate::backup::prepare_directory(&dir).map_err(Failure::new)?;
    Ok(Some(crate::backup::BackupSchedule {
        dir,
        every: every.unwrap_or(crate::backup::DEFAULT_EVERY),
        keep: keep.map_or(crate::backup::DEFAULT_KEEP, |keep| keep as usize),
    }))
}

/// A `--client-metadata-allow` host: a DNS name as it appears in a URL, compared in
/// lowercase.
fn parse_document_host(text: &str) -> Result<String, String> {
    let host = text.trim().to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    if valid {
        Ok(host)
    } else {
        Err(format!(
            "'{}' is not a host name (like agent.example.com; no scheme, port or path)",
            crate::model::truncate_for_message(text)
        ))
    }
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Register a client; its secret is printed once.
    Create {
        /// The client's name, which users see on the consent page.
        #[arg(long)]
        name: String,
        /// A URI the client may send users back to, matched exactly (repeatable, at most
        /// 20): https, http on a loopback address (any port), or the app's own scheme.
        /// Required for authorization_code.
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Space-separated scopes the client may request (default: openid profile email).
        #[arg(long)]
        scope: Option<String>,
        /// A client that cannot keep a secret (mobile, single-page app): no secret, PKCE required.
        #[arg(long)]
        public: bool,
        /// Comma-separated: authorization_code, refresh_token, client_credentials
        /// (default: authorization_code,refresh_token).
        #[arg(long)]
        grant_types: Option<String>,
        /// What the client's ID tokens are signed with: RS256 (the default), ES256 or EdDSA.
        #[arg(long, value_name = "ALG")]
        id_token_alg: Option<String>,
        /// A URI the browser may be sent back to after signing out (OpenID Connect
        /// RP-initiated logout), matched exactly, with the same rules as --redirect-uri
        /// (repeatable, at most 20).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// The client's access tokens: opaque (the default; resource servers introspect
        /// them) or jwt (RFC 9068, validated locally against the JWKS).
        #[arg(long, value_name = "FORMAT")]
        access_token_format: Option<String>,
        /// A resource server (RFC 8707 resource indicator: an absolute URI without a
        /// fragment) the client may ask tokens for (repeatable, at most 20). The first is
        /// the audience of a jwt client's tokens when it names none.
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
        /// Put the profile and email claims into ID tokens too, not only into userinfo.
        #[arg(long)]
        id_token_claims: bool,
        /// The app's homepage (http or https), shown by its host on the consent page.
        #[arg(long, value_name = "URL")]
        homepage: Option<String>,
        /// The app's privacy policy (http or https), linked from the consent page.
        #[arg(long, value_name = "URL")]
        privacy_policy: Option<String>,
        /// Register the app for this user, as the developer page would: it is theirs to
        /// change on /account/apps, the consent page says "by" them, and it may ask only for
        /// self-service scopes (`scope set --self-service`) and the authorization_code and
        /// refresh_token grants.
        #[arg(long, value_name = "USERNAME")]
        owner: Option<String>,
    },
    /// List every client, without secrets.
    List,
    /// Show one client's settings. Its secret is not stored, so it cannot be shown.
    Show {
        /// The client's id, as `client create` printed it.
        id: String,
    },
    /// Delete a client, with every grant users made to it: its tokens stop working.
    Delete {
        /// The client's id, as `client list` shows it.
        id: String,
    },
    /// Change a client's settings while it keeps its id, secret and grants; what is not
    /// given stays as it is. Takes effect with the next request.
    Update {
        /// The client's id, as `client list` shows it.
        id: String,
        /// The client's name, which users see on the consent page.
        #[arg(long)]
        name: Option<String>,
        /// Replaces every redirect URI with these (repeatable, at most 20; the rules of
        /// `client create`).
        #[arg(long = "redirect-uri", value_name = "URI")]
        redirect_uris: Vec<String>,
        /// Adds a redirect URI to those it has (repeatable).
        #[arg(long = "add-redirect-uri", value_name = "URI")]
        add_redirect_uris: Vec<String>,
        /// Removes one of its redirect URIs (repeatable); refused if it has no such URI.
        #[arg(long = "remove-redirect-uri", value_name = "URI")]
        remove_redirect_uris: Vec<String>,
        /// Space-separated scopes the client may request.
        #[arg(long)]
        scope: Option<String>,
        /// Comma-separated: authorization_code, refresh_token, client_credentials.
        #[arg(long)]
        grant_types: Option<String>,
        /// What the client's ID tokens are signed with: RS256, ES256 or EdDSA.
        #[arg(long, value_name = "ALG")]
        id_token_alg: Option<String>,
        /// Replaces every post-logout redirect URI with these (repeatable).
        #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
        post_logout_redirect_uris: Vec<String>,
        /// opaque or jwt.
        #[arg(long, value_name = "FORMAT")]
        access_token_format: Option<String>,
        /// Replaces every resource the client may ask tokens for with these (repeatable).
        #[arg(long = "resource", value_name = "URI")]
        resources: Vec<String>,
        /// Whether ID tokens carry the profile and email claims too.
        #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
        id_token_claims: Option<bool>,
        /// The app's homepage (http or https); an empty value removes it.
        #[arg(long, value_name = "URL")]
        homepage: Option<String>,
        /// The app's privacy policy (http or https); an empty value removes it.
        #[arg(long, value_name = "URL")]
        privacy_policy: Option<String>,
    },
    /// Replace a confidential client's secret; the new one is printed once.
    RotateSecret {
        /// The client's id, as `client list` shows it.
        id: String,
        /// How long the previous secret keeps working, like 1h or 7d (at most 30d), so the
        /// app's deployments can be updated meanwhile. Default 0: it stops at once.
        #[arg(long, value_name = "DURATION", value_parser = parse_grace)]
        grace: Option<Duration>,
    },
    /// Mark an app as reviewed by you: the consent page stops telling users that nobody
    /// has reviewed it. (The operator's own apps never carry that notice.)
    Verify {
        /// The client's id, as `client list` shows it.
        id: String,
        /// Take the mark back: the notice shows again.
        #[arg(long)]
        undo: bool,
    },
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create a user; the password is read from standard input.
    Create {
        /// The name the user signs in with: letters, digits, '.', '_' and '-', unique
        /// without regard to case.
        #[arg(long)]
        username: String,
        /// The user's email address, given to clients granted the email scope.
        #[arg(long)]
        email: Option<String>,
        /// You have checked that the address of --email is the user's: clients are told
        /// email_verified true. Without it they are told false.
        #[arg(long)]
        email_verified: bool,
        /// The user's full name, given to clients granted the profile scope.
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// List every user.
    List,
    /// Show one user's details: email (and whether it is verified), name, when made and
    /// last changed, and the identities linked at upstreams.
    Show {
        /// The user's username.
        username: String,
    },
    /// Delete a user, with their grants, remembered consents, API keys and sessions.
    Delete {
        /// The user's username.
        username: String,
    },
    /// Set a user's password (from standard input); signs the user out everywhere.
    SetPassword {
        /// The user's username.
        username: String,
        #[command(flatten)]
        password: PasswordArgs,
    },
    /// Change what the operator allows a user.
    Set {
        /// The user's username.
        username: String,
        /// Whether the user may register apps on the developer page under
        /// `serve --developer-apps allowed`.
        #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
        developer: Option<bool>,
    },
    /// End every session of a user: they must sign in again on every browser.
    SignOut {
        /// The user's username.
        username: String,
    },
    /// Remove the user's identity at an upstream: it no longer signs in to this user.
    /// Refused when it is the user's last way to sign in.
    Unlink {
        /// The user's username.
        username: String,
        /// The upstream's name, as `upstream list` shows it.
        upstream: String,
    },
    /// Print a one-time link that lets a user who forgot their password choose a new one;
    /// send it to them. Using it signs the user out everywhere. Nothing is written until
    /// it is used.
    ResetLink {
        /// The user's username.
        username: String,
        /// How long the link works, like 30m, 24h or 7d (default 24h, at most 7d).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        expires_in: Option<Duration>,
        /// The address users open keyward at, e.g. https://id.example.com (default: the
        /// issuer the last `keyward serve` ran with).
        #[arg(long, value_name = "URL")]
        issuer: Option<String>,
    },
}

#[derive(Args)]
struct PasswordArgs {
    /// Read the password from the first line of standard input.
    #[arg(long)]
    password_stdin: bool,
    /// Refused: a password on the command line is visible to every user of the machine.
    #[arg(long, hide = true)]
    password: Option<String>,
}

/// A failed command: one line for stderr, and the exit code.
pub struct Failure {
    pub message: String,
    pub code: u8,
}

impl Failure {
    fn new(message: impl Into<String>) -> Failure {
        Failure {
            message: message.into(),
            code: 1,
        }
    }
}

pub fn run() -> ExitCode {
    let cli = Cli::parse();
    crate::logging::init(match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => crate::logging::LogFormat::Text,
    });
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {}", failure.message);
            ExitCode::from(failure.code)
        }
    }
}

fn key_location(data_dir: &Path) -> KeyLocation {
    KeyLocation::resolve(
        data_dir,
        std::env::var("KEYWARD_MASTER_KEY_FILE").ok().as_deref(),
        std::env::var("CREDENTIALS_DIRECTORY").ok().as_deref(),
    )
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    let options = OpenOptions {
        key: key_location(&cli.data_dir),
        data_dir: cli.data_dir,
    };
    let request = match cli.command {
        Command::Serve(args) => return serve(options, serve_config(args)?),
        Command::Demo { listen } => return demo(listen),
        Command::Client(command) => client_request(command),
        Command::User(command) => user_request(command)?,
        Command::Scope(ScopeCommand::Set {
            name,
            description,
            api_keys,
            self_service,
        }) => AdminRequest::ScopeSet {
            name,
            description,
            api_keys,
            self_service,
        },
        Command::Scope(ScopeCommand::List) => AdminRequest::ScopeList,
        Command::Scope(ScopeCommand::Delete { name }) => AdminRequest::ScopeDelete { name },
        Command::Apikey(ApiKeyCommand::Create {
            user,
            name,
            expires_in,
            scope,
        }) => AdminRequest::ApiKeyCreate {
            username: user,
            name,
            expires_in: expires_in.map(|duration| duration.as_secs()),
            scope,
        },
        Command::Apikey(ApiKeyCommand::List { user }) => {
            AdminRequest::ApiKeyList { username: user }
        }
        Command::Apikey(ApiKeyCommand::Delete { id }) => AdminRequest::ApiKeyDelete { id },
        Command::Grant(GrantCommand::List { user }) => AdminRequest::GrantList { username: user },
        Command::Grant(GrantCommand::Revoke { id }) => AdminRequest::GrantRevoke { id },
        Command::Backup { to } => AdminRequest::Backup {
            to: std::path::absolute(&to)
                .map_err(|error| Failure::new(format!("backup path {}: {error}", to.display())))?
                .display()
                .to_string(),
        },
        Command::Check => AdminRequest::Check,
        Command::Keys(KeysCommand::List) => AdminRequest::KeysList,
        Command::Keys(KeysCommand::Rotate { alg }) => AdminRequest::KeysRotate { alg },
        Command::Upstream(command) => upstream::request(command)?,
        Command::Invite(InviteCommand::Create {
            expires_in,
            uses,
            issuer,
        }) => AdminRequest::InviteCreate {
            expires_in: expires_in.map(|duration| duration.as_secs()),
            uses,
            issuer,
        },
        Command::Invite(InviteCommand::List) => AdminRequest::InviteList,
        Command::RegistrationToken(RegistrationTokenCommand::Create {
            uses,
            expires_in,
            scope,
        }) => AdminRequest::RegistrationTokenCreate {
            expires_in: expires_in.map(|duration| duration.as_secs()),
            uses,
            scope,
        },
        Command::RegistrationToken(RegistrationTokenCommand::List) => {
            AdminRequest::RegistrationTokenList
        }
        Command::RegistrationToken(RegistrationTokenCommand::Revoke { id }) => {
            AdminRequest::RegistrationTokenRevoke { id }
        }
        Command::Invite(InviteCommand::Revoke { id }) => AdminRequest::InviteRevoke { id },
        Command::Migrate => return migrate(&options, cli.json),
        Command::Restore { from, end_grants } => {
            return restore(&options, &from, end_grants, cli.json)
        }
        Command::Healthcheck => return healthcheck(&options, cli.json),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::new(format!("cannot start the runtime: {error}")))?;
    let output = runtime.block_on(run_admin(&options, request))?;
    print_output(&output, cli.json)?;
    if let AdminOutput::Check(view) = &output {
        if !view.ok {
            return Err(Failure::new(format!(
                "check found {} problem(s) in {} (check changes nothing)",
                view.problems.len(),
                options.data_dir.join("keyward.redb").display()
            )));
        }
    }
    Ok(())
}

/// One line to stdout. Unlike `println!`, a reader that has gone (`| head`) or a full disk
/// is an error to handle, not a panic.
fn write_line(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{text}").and_then(|()| stdout.flush())
}

/// A line for whoever reads stdout; a closed or full stdout loses it and nothing else.
fn announce(text: &str) {
    let _ = write_line(text);
}

/// Writes the answer to stdout. The operation is done by then, so a closed pipe ends
/// quietly and anything else is an error.
fn print_output(output: &AdminOutput, json: bool) -> Result<(), Failure> {
    let text = if json {
        output.json().to_string()
    } else {
        output.human()
    };
    match write_line(&text) {
        Ok(()) => Ok(()),
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(Failure::new(format!("cannot write the output: {error}"))),
    }
}

/// `rotate-secret --grace`: a duration, or 0 (no grace, as without the flag).
fn parse_grace(text: &str) -> Result<Duration, String> {
    match text.trim() {
        "0" | "0s" | "0m" | "0h" | "0d" => Ok(Duration::ZERO),
        other => parse_duration(other),
    }
}

fn client_request(command: ClientCommand) -> AdminRequest {
    match command {
        ClientCommand::Create {
            name,
            redirect_uris,
            scope,
            public,
            grant_types,
            id_token_alg,
            post_logout_redirect_uris,
            access_token_format,
            resources,
            id_token_claims,
            homepage,
            privacy_policy,
            owner,
        } => AdminRequest::ClientCreate(ClientCreateRequest {
            name,
            redirect_uris,
            scope,
            public,
            grant_types,
            id_token_alg,
            post_logout_redirect_uris,
            access_token_format,
            resources,
            id_token_claims,
            homepage,
            privacy_policy,
            owner,
            ..ClientCreateRequest::default()
        }),
        ClientCommand::List => AdminRequest::ClientList,
        ClientCommand::Show { id } => AdminRequest::ClientShow { id },
        ClientCommand::Delete { id } => AdminRequest::ClientDelete { id, owner: None },
        ClientCommand::RotateSecret { id, grace } => AdminRequest::ClientRotateSecret {
            id,
            grace: grace
                .map(|grace| grace.as_secs())
                .filter(|seconds| *seconds > 0),
            owner: None,
        },
        ClientCommand::Verify { id, undo } => AdminRequest::ClientVerify {
            id,
            verified: !undo,
        },
        ClientCommand::Update {
            id,
            name,
            redirect_uris,
            add_redirect_uris,
            remove_redirect_uris,
            scope,
            grant_types,
            id_token_alg,
            post_logout_redirect_uris,
            access_token_format,
            resources,
            id_token_claims,
            homepage,
            privacy_policy,
        } => {
            let given = |list: Vec<String>| (!list.is_empty()).then_some(list);
            AdminRequest::ClientUpdate(ClientUpdateRequest {
                id,
                name,
                redirect_uris: given(redirect_uris),
                add_redirect_uris,
                remove_redirect_uris,
                scope,
                grant_types,
                id_token_alg,
                post_logout_redirect_uris: given(post_logout_redirect_uris),
                access_token_format,
                resources: given(resources),
                id_token_claims,
                homepage,
                privacy_policy,
                owner: None,
            })
        }
    }
}

fn user_request(command: UserCommand) -> Result<AdminRequest, Failure> {
    Ok(match command {
        UserCommand::Create {
            username,
            email,
            email_verified,
            name,
            password,
        } => AdminRequest::UserCreate {
            username,
            email,
            name,
            password: read_password(&password)?,
            email_verified,
        },
        UserCommand::List => AdminRequest::UserList,
        UserCommand::Show { username } => AdminRequest::UserShow { username },
        UserCommand::Delete { username } => AdminRequest::UserDelete { username },
        UserCommand::SetPassword { username, password } => AdminRequest::UserSetPassword {
            username,
            password: read_password(&password)?,
        },
        UserCommand::Set {
            username,
            developer,
        } => AdminRequest::UserSet {
            username,
            developer,
        },
        UserCommand::SignOut { username } => AdminRequest::UserSignOut { username },
        UserCommand::Unlink { username, upstream } => {
            AdminRequest::UserUnlink { username, upstream }
        }
        UserCommand::ResetLink {
            username,
            expires_in,
            issuer,
        } => AdminRequest::UserResetLink {
            username,
            expires_in: expires_in.map(|duration| duration.as_secs()),
            issuer,
        },
    })
}

fn read_password(args: &PasswordArgs) -> Result<String, Failure> {
    if args.password.is_some() {
        return Err(Failure {
            message: "passwords are never accepted on the command line (other users can see \
                      it); pipe it in with --password-stdin"
                .into(),
            code: 2,
        });
    }
    if !args.password_stdin {
        return Err(Failure {
            message: "--password-stdin is required: pipe the password in on standard input".into(),
            code: 2,
        });
    }
    read_first_line("password")
}

/// The first line of standard input (without its line ending): how secrets reach the CLI.
fn read_first_line(what: &str) -> Result<String, Failure> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_end(&mut bytes)
        .map_err(|error| Failure::new(format!("cannot read the {what} from stdin: {error}")))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Failure::new(format!("the {what} on stdin is not valid UTF-8")))?;
    let line = text.split('\n').next().unwrap_or("");
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

/// Runs an admin command through the running server if there is one, else on the file.
async fn run_admin(options: &OpenOptions, request: AdminRequest) -> Result<AdminOutput, Failure> {
    let from_server = |answer: Result<AdminOutput, admin::AdminError>| {
        answer.map_err(|error| Failure::new(error.message))
    };
    // A server that has just locked the database binds its socket a moment later, so
    // "in use but no socket yet" is retried briefly before it is reported.
    for _attempt in 0..50 {
        match socket::request(&options.data_dir, &request).await {
            Ok(Some(answer)) => return from_server(answer),
            Ok(None) => {}
            Err(error) => {
                return Err(Failure::new(format!(
                    "admin socket {}: {error}",
                    socket::socket_path(&options.data_dir).display()
                )))
            }
        }
        match run_direct(options, request.clone()).await {
            Err(DirectError::Open(OpenError::InUse(_))) => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(DirectError::Open(error)) => return Err(Failure::new(error.to_string())),
            Err(DirectError::Closing(error)) => return Err(Failure::new(error.to_string())),
            Ok(answer) => return from_server(answer),
        }
    }
    Err(Failure::new(format!(
        "the database in {} is held by another process that does not answer on its admin socket",
        options.data_dir.display()
    )))
}

enum DirectError {
    Open(OpenError),
    Closing(crate::store::StoreError),
}

/// Checks the command on a read-only handle, and opens the database for writing only if
/// the command passed and needs to write: a refused command leaves every byte unchanged.
async fn run_direct(
    options: &OpenOptions,
    request: AdminRequest,
) -> Result<Result<AdminOutput, admin::AdminError>, DirectError> {
    let reader = Store::open_read_only(options).map_err(DirectError::Open)?;
    // A database of an older schema is read as it is only to check or back it up; anything
    // else waits for the migration, which keeps a snapshot first.
    let inspects = matches!(request, AdminRequest::Check | AdminRequest::Backup { .. });
    if reader.schema_version() < crate::store::SCHEMA_VERSION && !inspects {
        let refusal = OpenError::NeedsMigration {
            path: reader.path().to_path_buf(),
            found: reader.schema_version(),
            current: crate::store::SCHEMA_VERSION,
        };
        let _ = reader.close();
        return Err(DirectError::Open(refusal));
    }
    let plan = admin::prepare(&reader, request).await;
    reader.close().map_err(DirectError::Closing)?;
    let plan = match plan {
        Ok(admin::Plan::Write(plan)) => plan,
        Ok(admin::Plan::Done(output)) => return Ok(Ok(output)),
        Err(error) => return Ok(Err(error)),
    };
    // The first write on an empty directory starts a new installation; the plan above was
    // checked against nothing, so this is the first moment anything exists.
    let store = Store::open(options).map_err(DirectError::Open)?;
    app::announce_created(&store);
    let answer = admin::apply(&store, plan).await;
    store.close().map_err(DirectError::Closing)?;
    Ok(answer)
}

/// `keyward healthcheck`: the running server's address from its admin socket, then its
/// `/readyz` over loopback, within five seconds in all.
fn healthcheck(options: &OpenOptions, json: bool) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::new(format!("cannot start the runtime: {error}")))?;
    let asked = runtime.block_on(async {
        tokio::time::timeout(
            Duration::from_secs(5),
            socket::request(&options.data_dir, &AdminRequest::ServerInfo),
        )
        .await
    });
    let listen = match asked {
        Ok(Ok(Some(Ok(AdminOutput::ServerInfo(info))))) => info.listen,
        Ok(Ok(Some(Ok(_)))) => {
            return Err(Failure::new("the admin socket answered something else"))
        }
        Ok(Ok(Some(Err(error)))) => return Err(Failure::new(error.message)),
        Ok(Ok(None)) => {
            return Err(Failure::new(format!(
                "not ready: no keyward server is running on {}",
                options.data_dir.display()
            )))
        }
        Ok(Err(error)) => return Err(Failure::new(format!("not ready: admin socket: {error}"))),
        Err(_) => {
            return Err(Failure::new(
                "not ready: the admin socket did not answer in 5 seconds",
            ))
        }
    };
    let (status, body) = probe_readyz(&listen)
        .map_err(|error| Failure::new(format!("not ready: {listen}/readyz: {error}")))?;
    let line = if json {
        body.trim().to_owned()
    } else if status == 200 {
        format!("ready: {listen}")
    } else {
        format!(
            "not ready: {listen}/readyz answered {status} {}",
            body.trim()
        )
    };
    if status != 200 {
        return Err(Failure::new(line));
    }
    write_line(&line).map_err(|error| Failure::new(format!("cannot write the output: {error}")))
}

/// `GET /readyz` on the server's own address (a wildcard listener is asked on loopback).
fn probe_readyz(listen: &str) -> Result<(u16, String), String> {
    use std::io::{Read, Write};
    let address: SocketAddr = listen
        .strip_prefix("http://")
        .unwrap_or(listen)
        .parse()
        .map_err(|_| format!("the server's address '{listen}' is not an address"))?;
    let address = match address.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, address.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, address.port()))
        }
        _ => address,
    };
    let timeout = Duration::from_secs(5);
    let mut stream = std::net::TcpStream::connect_timeout(&address, timeout)
        .map_err(|error| error.to_string())?;
    stream
        .set_read_timeout(Some(timeout))
        .and_then(|()| stream.set_write_timeout(Some(timeout)))
        .map_err(|error| error.to_string())?;
    write!(
        stream,
        "GET /readyz HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|error| error.to_string())?;
    let mut answer = Vec::new();
    stream
        .take(64 * 1024)
        .read_to_end(&mut answer)
        .map_err(|error| error.to_string())?;
    let answer = String::from_utf8_lossy(&answer);
    let status = answer
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| "the answer is not HTTP".to_owned())?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    Ok((status, body))
}

/// `keyward restore`: `store::restore`, then what it undid, in words.
fn restore(
    options: &OpenOptions,
    from: &std::path::Path,
    end_grants: bool,
    json: bool,
) -> Result<(), Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| Failure::new(format!("cannot start the runtime: {error}")))?;
    let report = runtime
        .block_on(crate::store::restore(
            options,
            from,
            end_grants,
            crate::clock::now_millis(),
        ))
        .map_err(|error| Failure::new(error.to_string()))?;
    let count = |rows: &[(String, u64)], table: &str| {
        rows.iter()
            .find(|(name, _)| name == table)
            .map_or(0, |(_, count)| *count)
    };
    if json {
        let rows = |rows: &[(String, u64)]| {
            rows.iter()
                .map(|(name, count)| (name.clone(), serde_json::Value::from(*count)))
                .collect::<serde_json::Map<_, _>>()
        };
        let value = serde_json::json!({
            "restored": report.database.display().to_string(),
            "from": report.from.display().to_string(),
            "backup_written_at": report.backup_written_at,
            "backup_schema": report.backup_schema,
            "replaced": report.replaced.as_ref().map(|path| path.display().to_string()),
            "before": rows(&report.before),
            "after": rows(&report.after),
            "sessions_ended": report.sessions_ended,
            "grants_ended": report.grants_ended,
            "access_tokens_before": report.restored_at,
        });
        return write_line(&value.to_string())
            .map_err(|error| Failure::new(format!("cannot write the output: {error}")));
    }
    let mut lines = vec![format!(
        "restored {} from {}{}",
        report.database.display(),
        report.from.display(),
        report
            .backup_written_at
            .map(|at| format!(" (written {})", crate::clock::format_time(at)))
            .unwrap_or_default()
    )];
    match &report.replaced {
        Some(path) => lines.push(format!(
            "the database it replaced is kept as {}",
            path.display()
        )),
        None => lines.push("there was no database to replace".into()),
    }
    lines.push(
        "undone: everything since the backup was written; revocations, password changes, \
         secret rotations, new and deleted users, clients and API keys are as the backup has them"
            .into(),
    );
    for (table, what) in [
        ("users", "users"),
        ("clients", "clients"),
        ("grants", "grants"),
        ("api_keys", "API keys"),
    ] {
        lines.push(format!(
            "  {what}: {} before, {} now",
            count(&report.before, table),
            count(&report.after, table)
        ));
    }
    lines.push(format!(
        "ended: {} sessions (everyone signs in again), and every access token issued before {} \
         (JWT access tokens that resource servers check themselves work until they expire)",
        report.sessions_ended,
        crate::clock::format_time(report.restored_at)
    ));
    lines.push(match report.grants_ended {
        Some(grants) => format!(
            "ended: {grants} grants (--end-grants): every refresh token stops, and users approve \
             their apps again"
        ),
        None => "kept: the backup's grants and refresh tokens, including any revoked since it \
                 was written (run restore with --end-grants to end them all)"
            .into(),
    });
    write_line(&lines.join("\n"))
        .map_err(|error| Failure::new(format!("cannot write the output: {error}")))
}

/// `keyward migrate`: opens the database for writing, which runs any migration it needs.
fn migrate(options: &OpenOptions, json: bool) -> Result<(), Failure> {
    let path = options.data_dir.join("keyward.redb");
    if !path.exists() {
        return Err(Failure::new(admin::no_database(&options.data_dir).message));
    }
    let in_use = |path: &std::path::Path| {
        Failure::new(format!(
            "database {} is in use by a running keyward server, which migrated it when it \
             started; nothing to do",
            path.display()
        ))
    };
    // A database already at this schema is looked at read-only: a read-write open lets redb
    // write on close, and a command with nothing to do must change no byte.
    match Store::open_read_only(options) {
        Ok(store) if store.schema_version() == crate::store::SCHEMA_VERSION => {
            store
                .close()
                .map_err(|error| Failure::new(error.to_string()))?;
            return print_migration(&path, None, json);
        }
        Err(OpenError::InUse(path)) => return Err(in_use(&path)),
        // Older (to migrate), newer, or unreadable: the read-write open says what it is.
        Ok(store) => drop(store),
        Err(_) => {}
    }
    let store = match Store::open(options) {
        Ok(store) => store,
        Err(OpenError::InUse(path)) => return Err(in_use(&path)),
        Err(error) => return Err(Failure::new(error.to_string())),
    };
    let report = store.migration().cloned();
    store
        .close()
        .map_err(|error| Failure::new(error.to_string()))?;
    print_migration(&path, report, json)
}

/// What `migrate` did, as a line (or JSON).
fn print_migration(
    path: &std::path::Path,
    report: Option<crate::store::MigrationReport>,
    json: bool,
) -> Result<(), Failure> {
    let (text, value) = match report {
        Some(report) => (
            format!(
                "migrated {} from schema {} to {}\nsnapshot of the database as it was: {}",
                path.display(),
                report.from,
                report.to,
                report.snapshot.display()
            ),
            serde_json::json!({
                "migrated": true,
                "from": report.from,
                "to": report.to,
                "snapshot": report.snapshot.display().to_string(),
            }),
        ),
        None => (
            format!(
                "{} is already at schema {}; nothing to do",
                path.display(),
                crate::store::SCHEMA_VERSION
            ),
            serde_json::json!({ "migrated": false, "schema_version": crate::store::SCHEMA_VERSION }),
        ),
    };
    let line = if json { value.to_string() } else { text };
    match write_line(&line) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::new(format!("cannot write the output: {error}")))
        }
        _ => Ok(()),
    }
}

fn serve_config(args: ServeArgs) -> Result<ServeConfig, Failure> {
    let issuer = args
        .issuer
        .as_deref()
        .map(parse_issuer)
        .transpose()
        .map_err(Failure::new)?;
    Ok(ServeConfig {
        listen: args.listen,
        issuer,
        lifetimes: Lifetimes {
            code: args.code_ttl,
            access_token: args.access_token_ttl,
            refresh_token: args.refresh_token_ttl,
            refresh_token_max_lifetime: args.refresh_token_max_lifetime,
            refresh_reuse_grace: args.refresh_reuse_grace,
        },
        sweep_interval: args.sweep_interval,
        product_name: crate::model::DisplayName::parse("--product-name", &args.product_name)
            .map_err(|invalid| Failure::new(invalid.0))?
            .as_str()
            .to_owned(),
        trusted_proxies: args.trusted_proxies,
        cors_origins: args.cors_origins,
        resources: args.resources,
        signup: args.signup,
        password_login: args.password_login,
        developer_apps: args.developer_apps,
        developer_app_limit: args.developer_app_limit,
        registration: args.registration,
        registration_unused_ttl: args.registration_unused_ttl,
        client_documents: client_documents(
            args.client_metadata_documents,
            args.client_metadata_allow,
            args.client_metadata_insecure_loopback,
            args.listen,
        )?,
        backups: backup_schedule(args.backup_dir, args.backup_every, args.backup_keep)?,
        rate_limit_address: args.rate_limit_address.0,
        rate_limit_client: args.rate_limit_client.0,
        demo: None,
    })
}

/// The `--client-metadata-*` flags together: the allow list and the loopback exception
/// mean nothing while documents are off, so naming them then is a mistake said out loud.
fn client_documents(
    mode: crate::config::ClientMetadataDocuments,
    allow: Vec<String>,
    insecure_loopback: bool,
    listen: SocketAddr,
) -> Result<crate::documents::DocumentPolicy, Failure> {
    let enabled = mode == crate::config::ClientMetadataDocuments::On;
    // The exception is for a test's server, which listens on loopback; a server that
    // people reach must never fetch from its own host.
    if insecure_loopback && !listen.ip().is_loopback() {
        return Err(Failure::new(format!(
            "--client-metadata-insecure-loopback is for tests, and needs --listen on a \
             loopback address (not {listen})"
        )));
    }
    if !enabled && (!allow.is_empty() || insecure_loopback) {
        return Err(Failure::new(format!(
            "{} needs --client-metadata-documents on",
            if allow.is_empty() {
                "--client-metadata-insecure-loopback"
            } else {
                "--client-metadata-allow"
            }
        )));
    }
    Ok(crate::documents::DocumentPolicy {
        enabled,
        allow,
        insecure_loopback,
    })
}

fn serve(options: OpenOptions, config: ServeConfig) -> Result<(), Failure> {
    actix_web::rt::System::new()
        .block_on(app::serve_with(
            options,
            config,
            app::shutdown_signal(),
            |bound| {
                // Scripts and tests read this line to learn the port when --listen used port 0.
                // Nobody reading it is no reason to stop serving.
                announce(&format!("keyward listening on http://{bound}"));
            },
        ))
        .map_err(|error| Failure::new(error.to_string()))
}

fn demo(listen: SocketAddr) -> Result<(), Failure> {
    let data_dir = std::env::temp_dir().join(format!(
        "keyward-demo-{}",
        &crate::model::random_secret()[..12].replace(['-', '_'], "x")
    ));
    let options = OpenOptions {
        key: KeyLocation::Default(data_dir.join("master.key")),
        data_dir: data_dir.clone(),
    };
    let result = actix_web::rt::System::new().block_on(async {
        let setup = app::demo_setup(&options, listen)
            .await
            .map_err(|error| Failure::new(error.to_string()))?;
        let config = ServeConfig {
            listen,
            issuer: None,
            lifetimes: Lifetimes::default(),
            sweep_interval: Duration::from_secs(60),
            product_name: "keyward demo".to_owned(),
            trusted_proxies: Vec::new(),
            cors_origins: Vec::new(),
            resources: Vec::new(),
            signup: crate::config::SignUp::Closed,
            password_login: crate::config::PasswordLogin::On,
            developer_apps: crate::config::DeveloperApps::Off,
            developer_app_limit: crate::config::DEFAULT_DEVELOPER_APP_LIMIT,
            registration: crate::config::Registration::Off,
            registration_unused_ttl: crate::config::DEFAULT_REGISTRATION_UNUSED_TTL,
            client_documents: crate::documents::DocumentPolicy::default(),
            backups: None,
            rate_limit_address: None,
            rate_limit_client: None,
            demo: Some(setup.client()),
        };
        app::serve_with(options, config, app::shutdown_signal(), move |bound| {
            announce(&setup.banner(bound));
        })
        .await
        .map_err(|error| Failure::new(error.to_string()))
    });
    let _ = std::fs::remove_dir_all(&data_dir);
    result
}
