//! What `upstream add --kind discord|github|google|gitlab` fills in: the providers' documented
//! endpoints and userinfo fields, and the scope that gets a stable id, a name and an email.
//! `--base-url` moves every preset URL to another scheme and host (a test server that
//! answers like the provider), keeping the paths.

use super::{Endpoints, FieldName, ProfileFields, UpstreamKind, UpstreamUrl};
use crate::model::{truncate_for_message, Invalid};

/// A preset's settings.
pub struct Preset {
    pub display_name: &'static str,
    pub endpoints: Endpoints,
    pub scope: &'static str,
}

/// An OAuth 2.0 preset: its three URLs and its fields.
struct OAuth2Preset {
    authorize: &'static str,
    token: &'static str,
    userinfo: &'static str,
    subject: &'static str,
    username: &'static str,
    email: &'static str,
    email_verified: Option<&'static str>,
}

/// Discord: https://discord.com/developers/docs/topics/oauth2 and the User object
/// (`verified` is whether the email is verified).
const DISCORD: OAuth2Preset = OAuth2Preset {
    authorize: "https://discord.com/oauth2/authorize",
    token: "https://discord.com/api/oauth2/token",
    userinfo: "https://discord.com/api/users/@me",
    subject: "id",
    username: "username",
    email: "email",
    email_verified: Some("verified"),
};

/// GitHub's OAuth apps. `/user` carries the public profile email, which GitHub does not
/// vouch for there: no email-verified field, so such an email is never taken as verified.
const GITHUB: OAuth2Preset = OAuth2Preset {
    authorize: "https://github.com/login/oauth/authorize",
    token: "https://github.com/login/oauth/access_token",
    userinfo: "https://api.github.com/user",
    subject: "id",
    username: "login",
    email: "email",
    email_verified: None,
};

/// The settings of a preset kind, `None` for `oidc` and `oauth2`, which have none. With
/// `base_url` (`scheme://host[:port]`), every URL keeps its path and takes that origin.
pub fn preset(kind: UpstreamKind, base_url: Option<&str>) -> Result<Option<Preset>, Invalid> {
    let origin = base_url.map(parse_base_url).transpose()?;
    let moved = |url: &str| -> UpstreamUrl {
        match &origin {
            Some(origin) => {
                let path = url::Url::parse(url)
                    .map(|parsed| parsed.path().to_owned())
                    .unwrap_or_default();
                UpstreamUrl::from_stored(format!("{origin}{path}"))
            }
            None => UpstreamUrl::from_stored(url.to_owned()),
        }
    };
    let issuer = |url: &str| -> UpstreamUrl {
        match &origin {
            Some(origin) => UpstreamUrl::from_stored(origin.clone()),
            None => UpstreamUrl::from_stored(url.to_owned()),
        }
    };
    let oauth2 = |preset: &OAuth2Preset| Endpoints::OAuth2 {
        authorize_url: moved(preset.authorize),
        token_url: moved(preset.token),
        userinfo_url: moved(preset.userinfo),
        fields: ProfileFields {
            subject: FieldName::from_stored(preset.subject.to_owned()),
            username: Some(FieldName::from_stored(preset.username.to_owned())),
            email: Some(FieldName::from_stored(preset.email.to_owned())),
            email_verified: preset
                .email_verified
                .map(|field| FieldName::from_stored(field.to_owned())),
        },
    };
    Ok(match kind {
        UpstreamKind::Oidc | UpstreamKind::OAuth2 => None,
        UpstreamKind::Discord => Some(Preset {
            display_name: "Discord",
            endpoints: oauth2(&DISCORD),
            scope: "identify email",
        }),
        UpstreamKind::Github => Some(Preset {
            display_name: "GitHub",
            endpoints: oauth2(&GITHUB),
            scope: "read:user user:email",
        }),
        UpstreamKind::Google => Some(Preset {
            display_name: "Google",
            endpoints: Endpoints::Oidc {
                issuer: issuer("https://accounts.google.com"),
            },
            scope: "openid profile email",
        }),
        UpstreamKind::Gitlab => Some(Preset {
            display_name: "GitLab",
            endpoints: Endpoints::Oidc {
                issuer: issuer("https://gitlab.com"),
            },
            scope: "openid profile email",
        }),
    })
}

/// `--base-url`: an origin alone, under the same rules as every upstream URL.
fn parse_base_url(text: &str) -> Result<String, Invalid> {
    let checked = UpstreamUrl::parse("--base-url", text)?;
    let parsed = url::Url::parse(checked.as_str())
        .map_err(|_| Invalid("--base-url is not an absolute URL".into()))?;
    if parsed.path() != "/" || parsed.query().is_some() {
        return Err(Invalid(format!(
            "--base-url '{}' must be scheme://host[:port] alone: it replaces the preset URLs' \
             scheme and host and keeps their paths",
            truncate_for_message(text)
        )));
    }
    Ok(parsed.origin().ascii_serialization())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(endpoints: &Endpoints) -> Vec<String> {
        match endpoints {
            Endpoints::Oidc { issuer } => vec![issuer.as_str().to_owned()],
            Endpoints::OAuth2 {
                authorize_url,
                token_url,
                userinfo_url,
                ..
            } => [authorize_url, token_url, userinfo_url]
                .iter()
                .map(|url| url.as_str().to_owned())
                .collect(),
        }
    }

    #[test]
    fn a_base_url_moves_the_host_and_keeps_the_paths() {
        let discord = preset(UpstreamKind::Discord, Some("http://127.0.0.1:4567"))
            .unwrap()
            .unwrap();
        assert_eq!(
            urls(&discord.endpoints),
            [
                "http://127.0.0.1:4567/oauth2/authorize",
                "http://127.0.0.1:4567/api/oauth2/token",
                "http://127.0.0.1:4567/api/users/@me",
            ]
        );
        let google = preset(UpstreamKind::Google, Some("http://localhost:9000/"))
            .unwrap()
            .unwrap();
        assert_eq!(urls(&google.endpoints), ["http://localhost:9000"]);
        // Every preset URL as published passes the rules a typed one must.
        for kind in UpstreamKind::ALL {
            if let Some(preset) = preset(kind, None).unwrap() {
                for url in urls(&preset.endpoints) {
                    assert!(UpstreamUrl::parse("preset", &url).is_ok(), "{url}");
                }
            }
        }
        for bad in [
            "http://example.com",
            "https://example.com/prefix",
            "https://example.com/?x",
        ] {
            assert!(preset(UpstreamKind::Github, Some(bad)).is_err(), "{bad}");
        }
    }
}
