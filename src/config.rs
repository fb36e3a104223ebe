//! Validated settings for `serve`, from flags and environment.

use std::net::SocketAddr;
use std::time::Duration;

/// Parses `90s`, `30m`, `1h`, `7d`: a positive whole number and one unit.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .ok_or_else(|| format!("duration '{text}' needs a unit: s, m, h or d (e.g. 30m)"))?;
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("duration '{text}' must start with a whole number (e.g. 30m)"))?;
    let seconds_per_unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "duration '{text}' has unknown unit '{unit}': use s, m, h or d"
            ))
        }
    };
    if number == 0 {
        return Err(format!("duration '{text}' must be greater than zero"));
    }
    // Ten years is longer than any TTL an operator means; a larger number is a typo.
    let seconds = number
        .checked_mul(seconds_per_unit)
        .filter(|seconds| *seconds <= 10 * 365 * 86_400)
        .ok_or_else(|| format!("duration '{text}' is longer than ten years"))?;
    Ok(Duration::from_secs(seconds))
}

/// The longest `--refresh-reuse-grace`: it is meant for requests racing each other, which
/// settle in seconds. A longer one would keep a usable secret in the database, and let a
/// stolen token go unnoticed, for longer than any race needs.
pub const MAX_REFRESH_REUSE_GRACE: Duration = Duration::from_secs(5 * 60);

/// Parses `--refresh-reuse-grace`: a duration as `parse_duration` reads it, at most
/// `MAX_REFRESH_REUSE_GRACE`, or zero (`0`, `0s`, …) for none, which is the default.
pub fn parse_reuse_grace(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    let digits = trimmed
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(trimmed.len());
    let (number, unit) = trimmed.split_at(digits);
    if !number.is_empty()
        && number.bytes().all(|digit| digit == b'0')
        && matches!(unit, "" | "s" | "m" | "h" | "d")
    {
        return Ok(Duration::ZERO);
    }
    let grace = parse_duration(text)?;
    if grace > MAX_REFRESH_REUSE_GRACE {
        return Err(format!(
            "a reuse grace of '{trimmed}' is too long: at most 5m"
        ));
    }
    Ok(grace)
}

/// Checks an issuer identifier (RFC 8414 §2): an absolute http(s) URL without query or
/// fragment. Returned without a trailing slash, so `{issuer}/oauth2/token` is well formed.
pub fn parse_issuer(text: &str) -> Result<String, String> {
    let parsed =
        url::Url::parse(text).map_err(|error| format!("issuer '{text}' is not a URL: {error}"))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(format!("issuer '{text}' must be an http or https URL"));
    }
    if parsed.query().is_some() || parsed.fragment().is_some() {
        return Err(format!(
            "issuer '{text}' must not have a query or fragment (RFC 8414 §2)"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!("issuer '{text}' must not contain user information"));
    }
    Ok(parsed.as_str().trim_end_matches('/').to_owned())
}

/// A `--trusted-proxy` range: `10.0.0.0/8`, `::1/128`, or a bare address (one host).
pub fn parse_trusted_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    if let Ok(range) = text.parse::<ipnet::IpNet>() {
        // `10.1.2.3/8` names the range 10.0.0.0/8; say it the way it will be read.
        return Ok(range.trunc());
    }
    text.parse::<std::net::IpAddr>()
        .map(ipnet::IpNet::from)
        .map_err(|_| {
            format!(
                "trusted proxy '{}' is not an address or a range (e.g. 127.0.0.1, 10.0.0.0/8, ::1/128)",
                crate::model::truncate_for_message(text)
            )
        })
}

/// A `--cors-origin`: an origin (`https://app.example.com`), checked and serialized as
/// browsers send it (`oauth::cors::Origin::parse`).
pub fn parse_cors_origin(text: &str) -> Result<crate::oauth::cors::Origin, String> {
    crate::oauth::cors::Origin::parse(text)
}

/// A `--resource`: an RFC 8707 resource indicator.
pub fn parse_resource(text: &str) -> Result<crate::model::ResourceUri, String> {
    crate::model::ResourceUri::parse(text).map_err(|invalid| invalid.0)
}

/// Lifetimes of what the server issues.
#[derive(Debug, Clone)]
pub struct Lifetimes {
    pub code: Duration,
    pub access_token: Duration,
    /// How long a refresh token lives; each rotation starts it again (it slides).
    pub refresh_token: Duration,
    /// How long a grant lives at most, from its code's redemption, however recently it was
    /// used: no refresh token or access token of it lives past then (RFC 9700 §4.14.2
    /// leaves the bound to the server; without one, a grant used every few minutes never
    /// ends). API keys are not grants and are exempt.
    pub refresh_token_max_lifetime: Duration,
    /// `--refresh-reuse-grace`: how long after a rotation the rotated token, presented again
    /// by its own client, is answered with the same successor instead of ending the grant.
    /// Zero: never (every replay ends the grant).
    pub refresh_reuse_grace: Duration,
}

impl Default for Lifetimes {
    fn default() -> Lifetimes {
        Lifetimes {
            code: Duration::from_secs(30 * 60),
            access_token: Duration::from_secs(3600),
            refresh_token: Duration::from_secs(7 * 86_400),
            refresh_token_max_lifetime: Duration::from_secs(90 * 86_400),
            refresh_reuse_grace: Duration::ZERO,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    /// `None`: derived from the address actually bound (`http://<addr>`).
    pub issuer: Option<String>,
    pub lifetimes: Lifetimes,
    pub sweep_interval: Duration,
    /// Shown on the sign-in and consent pages.
    pub product_name: String,
    /// Peers whose `X-Forwarded-For` / `Forwarded` / `X-Forwarded-Proto` are believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// Origins that may call the browser-facing endpoints besides those of registered
    /// redirect URIs (`--cors-origin`).
    pub cors_origins: Vec<crate::oauth::cors::Origin>,
    /// Resources any client may ask tokens for (`--resource`).
    pub resources: Vec<crate::model::ResourceUri>,
    /// Whether visitors may create their own accounts at `/signup` (`--signup`).
    pub signup: SignUp,
    /// Whether users may sign in with a password on `/login` (`--password-login`).
    pub password_login: PasswordLogin,
    /// Who may register apps on the developer page (`--developer-apps`), and how many
    /// each (`--developer-app-limit`).
    pub developer_apps: DeveloperApps,
    pub developer_app_limit: u32,
    /// Whether programs may register clients at `/oauth2/register` (`--registration`), and
    /// how long a registered client nobody uses is kept (`--registration-unused-ttl`).
    pub registration: Registration,
    pub registration_unused_ttl: Duration,
    /// `--client-metadata-documents`, `--client-metadata-allow` and
    /// `--client-metadata-insecure-loopback`.
    pub client_documents: crate::documents::DocumentPolicy,
    /// `--backup-dir`, `--backup-every`, `--backup-keep`.
    pub backups: Option<crate::backup::BackupSchedule>,
    /// `--rate-limit-address`, `--rate-limit-client` (`None`: off).
    pub rate_limit_address: Option<crate::ratelimit::Limit>,
    pub rate_limit_client: Option<crate::ratelimit::Limit>,
    /// Set by `keyward demo`: the demo client, for the page that shows a received code.
    pub demo: Option<DemoClient>,
}

/// `serve --developer-apps`: who may register their own apps on `/account/apps`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DeveloperApps {
    /// Nobody: only the operator registers clients (`keyward client create`).
    #[default]
    Off,
    /// Every signed-in user.
    Everyone,
    /// Users the operator allowed with `keyward user set U --developer true`.
    Allowed,
}

/// `serve --registration`: dynamic client registration (RFC 7591) at `/oauth2/register`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Registration {
    /// Not offered: the endpoint answers 404 and the metadata does not name it.
    #[default]
    Off,
    /// Only with an initial access token from `keyward registration-token create`.
    Token,
    /// Anyone may register, throttled per client address.
    Open,
}

/// `serve --client-metadata-documents`: clients named by the URL of their metadata document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum ClientMetadataDocuments {
    /// A URL as `client_id` is refused; the metadata does not offer it.
    #[default]
    Off,
    /// Such documents are fetched, checked and used.
    On,
}

/// The default of `serve --registration-unused-ttl`: a week.
pub const DEFAULT_REGISTRATION_UNUSED_TTL: Duration = Duration::from_secs(7 * 86_400);

/// The default of `serve --developer-app-limit`.
pub const DEFAULT_DEVELOPER_APP_LIMIT: u32 = 10;
/// The most `serve --developer-app-limit` may be.
pub const MAX_DEVELOPER_APP_LIMIT: u32 = 1000;

/// `serve --signup`: who may create an account on the sign-up page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum SignUp {
    /// Only the operator makes accounts (`keyward user create`); `/signup` is not served.
    #[default]
    Closed,
    /// Whoever has a valid invitation link (`keyward invite create`) may create an account
    /// at `/signup`; each sign-up takes one of the invitation's uses.
    Invite,
    /// Anyone may create an account at `/signup`, throttled per client address.
    Open,
}

/// `serve --password-login`: whether `/login` shows and accepts the password form. Off is
/// for platforms whose users sign in only through an upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PasswordLogin {
    #[default]
    On,
    /// No password form; a posted one is refused (403) and no password is checked.
    Off,
}

#[derive(Debug, Clone)]
pub struct DemoClient {
    pub client_id: String,
    pub client_secret: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("30m"), Ok(Duration::from_secs(1800)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7d"), Ok(Duration::from_secs(604_800)));
        for bad in [
            "",
            "10",
            "m",
            "0s",
            "-5s",
            "5 m",
            "5w",
            "1.5h",
            "99999999999999999999d",
            "5000d",
        ] {
            assert!(parse_duration(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn reuse_graces() {
        assert_eq!(parse_reuse_grace("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_reuse_grace("5m"), Ok(Duration::from_secs(300)));
        for off in ["0", "0s", "00m", " 0d "] {
            assert_eq!(parse_reuse_grace(off), Ok(Duration::ZERO), "{off}");
        }
        for bad in [
            "", "s", "banana", "-5s", "-0s", "0ss", "30", "301s", "6m", "1h", "1.5s",
        ] {
            assert!(parse_reuse_grace(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn issuers() {
        assert_eq!(
            parse_issuer("https://auth.example.com/").as_deref(),
            Ok("https://auth.example.com")
        );
        assert!(parse_issuer("https://auth.example.com/?a=b").is_err());
        assert!(parse_issuer("ftp://auth.example.com").is_err());
        assert!(parse_issuer("auth.example.com").is_err());
    }

    #[test]
    fn trusted_proxies() {
        let parsed = |text: &str| parse_trusted_proxy(text).map(|range| range.to_string());
        assert_eq!(parsed("127.0.0.1").as_deref(), Ok("127.0.0.1/32"));
        assert_eq!(parsed("10.1.2.3/8").as_deref(), Ok("10.0.0.0/8"));
        assert_eq!(parsed("::1").as_deref(), Ok("::1/128"));
        assert_eq!(parsed("fd00::/8").as_deref(), Ok("fd00::/8"));
        for bad in [
            "",
            "10.0.0.0/33",
            "proxy.example",
            "10.0.0.0/",
            "1.2.3.4/8/8",
        ] {
            assert!(parse_trusted_proxy(bad).is_err(), "{bad} should be refused");
        }
    }
}
