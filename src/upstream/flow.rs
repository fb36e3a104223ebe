//! The sign-in flow through an upstream, as protocol code: `start` makes the authorization
//! request, `finish` checks the callback, redeems the code and says who the upstream vouches
//! for (`Profile`). Which keyward account that is, is `accounts.rs`'s business.
//!
//! - Nothing about a browser's flow is kept on the server until its callback: `state`, the
//!   PKCE verifier and (OIDC) the nonce travel in a sealed cookie of their own, scoped per
//!   upstream (`/upstream/NAME`) and naming it, so the session cookie being overwritten
//!   mid-flow (another server on the same host) breaks nothing, and a code delivered to
//!   another upstream's callback finds no flow there. The flow also holds the hash of the
//!   browser's CSRF secret: a flow cookie planted in another browser does not finish there
//!   (login CSRF, or linking the victim's identity to the attacker's account).
//! - `state` is compared before anything else is read: a callback this browser did not ask
//!   for (login CSRF) ends there. Each flow has a one-time id, marked used in
//!   `used_tickets` before the code is redeemed, so a replayed callback fails closed even
//!   with the cookie copied.
//! - Mix-up (RFC 9700 §4.4): each upstream has its own callback URL, the flow names its
//!   upstream, an `iss` in an OpenID upstream's response must be its issuer (and is
//!   required when its discovery document promises it, RFC 9207), and so must the ID
//!   token's `iss`.

use serde::{Deserialize, Serialize};

use super::fetch::{ClientAuth, FetchError, Fetcher};
use super::oidc::{Directory, IdClaims, OidcError};
use super::{Endpoints, ProfileFields, Upstream, UpstreamKind};
use crate::model::{random_secret, Id, UnixTime, UserId};
use crate::oauth::Params;
use crate::seal::SealedBox;
use crate::store::{Store, StoreError};

/// How long a started sign-in may take before its callback is refused.
pub const FLOW_SECONDS: u64 = 600;
/// The longest sealed flow keyward hands a browser: browsers keep cookies up to 4096
/// bytes, name and attributes included.
const MAX_COOKIE_BYTES: usize = 3800;
/// The longest subject keyward keys an account by.
const MAX_SUBJECT_BYTES: usize = 255;

/// What a flow is for.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Intent {
    /// Sign in (or, with `--create-users`, sign up) through the upstream.
    SignIn,
    /// Link the upstream identity to this signed-in user, from `/account`; `session` is the
    /// hash of the session that started it, which must still be live at the callback.
    Link { user: UserId, session: [u8; 32] },
}

/// What one browser's flow needs back at the callback; sealed in its cookie.
#[derive(Serialize, Deserialize)]
struct Flow {
    id: Id,
    upstream: String,
    /// The upstream's `created_at`: a flow started before it was deleted and added again
    /// does not finish against the new one.
    upstream_created_at: UnixTime,
    /// The SHA-256 of this browser's CSRF secret: a flow cookie planted in another browser
    /// (by a server on another port of the host, say) is worth nothing there.
    browser: [u8; 32],
    state: String,
    nonce: String,
    verifier: String,
    return_to: String,
    intent: Intent,
    started_at: UnixTime,
}

/// A flow about to begin: where to send the browser, and the cookie to give it first.
pub struct Started {
    pub authorize_url: String,
    pub cookie: String,
}

/// Who the upstream says the user is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The stable identifier the account is keyed by.
    pub subject: String,
    pub username: Option<String>,
    pub name: Option<String>,
    pub email: Option<String>,
    /// Whether the upstream vouches for `email`.
    pub email_verified: bool,
}

/// A callback that checked out.
#[derive(Debug)]
pub struct Finished {
    pub profile: Profile,
    pub return_to: String,
    pub intent: Intent,
}

/// Why a flow did not finish. Each is shown to the user as a page; none changes an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// No flow cookie for this upstream, or one for another `state` or another browser:
    /// this browser did not start this sign-in here.
    NotStarted,
    /// The request that would come back after the sign-in is too long to carry through it.
    TooLong,
    /// The callback repeats a parameter (RFC 6749 §3.1).
    Malformed,
    /// The flow is older than `FLOW_SECONDS`.
    Expired,
    /// This callback was used already.
    Replayed,
    /// The upstream sent the browser back with an error (the user pressed Cancel, say).
    Refused {
        error: String,
    },
    /// The response's `iss` is not this upstream (or is missing where it was promised).
    WrongIssuer,
    /// The callback carried neither a code nor an error.
    NoCode,
    /// The upstream's token endpoint refused the code.
    TokenRefused {
        error: String,
    },
    /// A call to the upstream failed; `what` names the call.
    Fetch {
        what: &'static str,
        error: FetchError,
    },
    /// An answer of the upstream failed a check (discovery, ID token, profile).
    Untrusted(String),
    Unavailable,
}

impl From<StoreError> for Failure {
    fn from(_: StoreError) -> Failure {
        Failure::Unavailable
    }
}

/// The sign-in flows of every upstream: one outbound client, one discovery cache.
pub struct Flows {
    fetcher: Fetcher,
    directory: Directory,
    cookies: SealedBox,
    store: Store,
    issuer: String,
}

/// The endpoints of one sign-in, resolved (OIDC: from discovery).
struct Resolved {
    authorize_url: String,
    token_url: String,
    token_auth: ClientAuth,
    /// OIDC: the provider, to verify the ID token with.
    provider: Option<std::sync::Arc<super::oidc::Provider>>,
}

impl Flows {
    pub fn new(store: Store, issuer: &str) -> Flows {
        let fetcher = Fetcher::new();
        Flows {
            directory: Directory::new(fetcher.clone()),
            fetcher,
            cookies: SealedBox::new(
                store.derived_key("upstream flow v1"),
                "keyward upstream flow v1",
            ),
            store,
            issuer: issuer.trim_end_matches('/').to_owned(),
        }
    }

    async fn resolve(&self, upstream: &Upstream, now: UnixTime) -> Result<Resolved, Failure> {
        match &upstream.endpoints {
            Endpoints::Oidc { issuer } => {
                let provider = self
                    .directory
                    .provider(issuer.as_str(), now)
                    .await
                    .map_err(|error| oidc_failure("discovery", error))?;
                Ok(Resolved {
                    authorize_url: provider.authorization_endpoint.clone(),
                    token_url: provider.token_endpoint.clone(),
                    token_auth: provider.token_auth,
                    provider: Some(provider),
                })
            }
            Endpoints::OAuth2 {
                authorize_url,
                token_url,
                ..
            } => Ok(Resolved {
                authorize_url: authorize_url.as_str().to_owned(),
                token_url: token_url.as_str().to_owned(),
                // GitHub documents only credentials in the body; RFC 6749 §2.3.1 makes
                // every other server take Basic.
                token_auth: if upstream.kind == UpstreamKind::Github {
                    ClientAuth::Post
                } else {
                    ClientAuth::Basic
                },
                provider: None,
            }),
        }
    }

    /// A new flow: fresh state, nonce and verifier (256 random bits each), and the
    /// authorization request for them.
    /// `browser` is the hash of the browser's CSRF secret (`finish` wants it back).
    pub async fn start(
        &self,
        upstream: &Upstream,
        return_to: String,
        intent: Intent,
        browser: [u8; 32],
        now: UnixTime,
    ) -> Result<Started, Failure> {
        let flow = Flow {
            id: Id::generate(crate::clock::now_millis()),
            upstream: upstream.name.as_str().to_owned(),
            upstream_created_at: upstream.created_at,
            browser,
            state: random_secret(),
            nonce: random_secret(),
            verifier: random_secret(),
            return_to,
            intent,
            started_at: now,
        };
        let cookie = self.cookies.seal(&flow);
        if cookie.len() > MAX_COOKIE_BYTES {
            return Err(Failure::TooLong);
        }
        let resolved = self.resolve(upstream, now).await?;
        let challenge = s256(&flow.verifier);
        let redirect_uri = upstream.callback_url(&self.issuer);
        let mut query = form_urlencoded::Serializer::new(String::new());
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", &upstream.client_id)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &upstream.scope.to_string())
            .append_pair("state", &flow.state)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if resolved.provider.is_some() {
            query.append_pair("nonce", &flow.nonce);
        }
        let separator = if resolved.authorize_url.contains('?') {
            '&'
        } else {
            '?'
        };
        Ok(Started {
            authorize_url: format!("{}{separator}{}", resolved.authorize_url, query.finish()),
            cookie,
        })
    }

    /// The callback at `/upstream/NAME/callback`: the checks in the module's docs, the code
    /// redeemed with the verifier, and the profile read from the ID token or the userinfo
    /// document. `browser` is the hash of the CSRF secret the browser presents now.
    pub async fn finish(
        &self,
        upstream: &Upstream,
        cookie: Option<&str>,
        browser: Option<[u8; 32]>,
        params: &Params,
        now: UnixTime,
    ) -> Result<Finished, Failure> {
        let flow: Flow = cookie
            .and_then(|sealed| self.cookies.open(sealed))
            .ok_or(Failure::NotStarted)?;
        let text = |name: &str| params.get(name).ok().flatten().map(str::to_owned);
        let state_matches = text("state").is_some_and(|state| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                state.as_bytes(),
                flow.state.as_bytes(),
            ))
        });
        let same_browser = browser.is_some_and(|browser| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                &browser[..],
                &flow.browser[..],
            ))
        });
        if !state_matches
            || !same_browser
            || flow.upstream != upstream.name.as_str()
            || flow.upstream_created_at != upstream.created_at
        {
            return Err(Failure::NotStarted);
        }
        if params.reject_duplicates().is_err() {
            return Err(Failure::Malformed);
        }
        let expires_at = flow.started_at.saturating_add(FLOW_SECONDS);
        if now >= expires_at {
            return Err(Failure::Expired);
        }
        // Marked used before anything is redeemed: two copies of a callback racing each
        // other cannot both get this far.
        match self.store.consume_ticket(flow.id, expires_at).await {
            Ok(()) => {}
            Err(crate::store::TicketNotConsumed::AlreadyUsed) => return Err(Failure::Replayed),
            Err(crate::store::TicketNotConsumed::Storage(_)) => return Err(Failure::Unavailable),
        }
        let resolved = self.resolve(upstream, now).await?;
        let expected_iss = match &upstream.endpoints {
            Endpoints::Oidc { issuer } => Some(issuer.as_str()),
            Endpoints::OAuth2 { .. } => None,
        };
        // A plain OAuth 2.0 upstream has no issuer keyward knows to compare an `iss` with;
        // its own callback URL and path-scoped flow cookie are what keep mix-up out.
        if let Some(expected) = expected_iss {
            let promised = resolved.provider.as_ref().is_some_and(|p| p.sends_iss);
            match text("iss") {
                Some(iss) if iss == expected => {}
                None if !promised => {}
                _ => return Err(Failure::WrongIssuer),
            }
        }
        if let Some(error) = text("error") {
            return Err(Failure::Refused {
                error: printable(&error),
            });
        }
        let code = text("code")
            .filter(|code| !code.is_empty())
            .ok_or(Failure::NoCode)?;
        let redirect_uri = upstream.callback_url(&self.issuer);
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", redirect_uri.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ];
        let (status, answer) = self
            .fetcher
            .post_token_request(
                &resolved.token_url,
                &form,
                &upstream.client_id,
                upstream.client_secret.expose(),
                resolved.token_auth,
            )
            .await
            .map_err(|error| Failure::Fetch {
                what: "token",
                error,
            })?;
        // GitHub answers a refused code with 200 and an `error` member.
        if let Some(error) = answer.get("error").and_then(serde_json::Value::as_str) {
            return Err(Failure::TokenRefused {
                error: printable(error),
            });
        }
        if status != 200 {
            return Err(Failure::Fetch {
                what: "token",
                error: FetchError::Status(status),
            });
        }
        let access_token = answer
            .get("access_token")
            .and_then(serde_json::Value::as_str)
            .filter(|token| !token.is_empty());
        // RFC 6749 requires `token_type`, yet some providers leave it out: only a type that
        // is there and is not Bearer (a token keyward could not present) is refused.
        let bearer = match answer.get("token_type") {
            None => true,
            Some(kind) => kind
                .as_str()
                .is_some_and(|kind| kind.eq_ignore_ascii_case("bearer")),
        };
        let profile = match (&upstream.endpoints, resolved.provider) {
            (Endpoints::Oidc { .. }, Some(provider)) => {
                let id_token = answer
                    .get("id_token")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| Failure::Untrusted("it sent no ID token".into()))?;
                let claims = self
                    .directory
                    .verify_id_token(&provider, id_token, &upstream.client_id, &flow.nonce, now)
                    .await
                    .map_err(|error| oidc_failure("keys", error))?;
                let mut profile = profile_from_claims(claims)?;
                // Many providers (keyward among them) keep profile claims out of the ID
                // token: they are read from userinfo, whose `sub` must be the ID token's
                // (OpenID Connect Core §5.3.2), or nothing of it is believed.
                let incomplete = profile.username.is_none() || profile.email.is_none();
                if let (true, Some(url), Some(token), true) = (
                    incomplete,
                    provider.userinfo_endpoint.as_deref(),
                    access_token,
                    bearer,
                ) {
                    let document =
                        self.fetcher
                            .get_json(url, Some(token))
                            .await
                            .map_err(|error| Failure::Fetch {
                                what: "userinfo",
                                error,
                            })?;
                    merge_userinfo(&mut profile, &document)?;
                }
                profile
            }
            (
                Endpoints::OAuth2 {
                    userinfo_url,
                    fields,
                    ..
                },
                _,
            ) => {
                let (Some(access_token), true) = (access_token, bearer) else {
                    return Err(Failure::Untrusted(
                        "its token response has no Bearer access token".into(),
                    ));
                };
                let document = self
                    .fetcher
                    .get_json(userinfo_url.as_str(), Some(access_token))
                    .await
                    .map_err(|error| Failure::Fetch {
                        what: "userinfo",
                        error,
                    })?;
                profile_from_document(&document, fields)?
            }
            (Endpoints::Oidc { .. }, None) => return Err(Failure::Unavailable),
        };
        Ok(Finished {
            profile,
            return_to: flow.return_to,
            intent: flow.intent,
        })
    }
}

fn oidc_failure(what: &'static str, error: OidcError) -> Failure {
    match error {
        OidcError::Fetch(error) => Failure::Fetch { what, error },
        other => Failure::Untrusted(other.to_string()),
    }
}

/// RFC 7636 §4.2: BASE64URL(SHA256(verifier)).
fn s256(verifier: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

/// An upstream's error code as a page may show it: RFC 6749's error codes are printable
/// ASCII; anything else, or anything long, is not repeated.
fn printable(text: &str) -> String {
    if text.len() <= 64 && text.bytes().all(|b| b.is_ascii_graphic()) {
        text.to_owned()
    } else {
        "an error".to_owned()
    }
}

fn subject(text: String) -> Result<String, Failure> {
    if text.is_empty() || text.len() > MAX_SUBJECT_BYTES {
        return Err(Failure::Untrusted(format!(
            "it names the user with an empty subject or one longer than {MAX_SUBJECT_BYTES} bytes"
        )));
    }
    Ok(text)
}

/// A boolean claim that some providers send as the string "true".
fn is_true(value: Option<&serde_json::Value>) -> bool {
    match value {
        Some(serde_json::Value::Bool(flag)) => *flag,
        Some(serde_json::Value::String(text)) => text == "true",
        _ => false,
    }
}

fn profile_from_claims(claims: IdClaims) -> Result<Profile, Failure> {
    Ok(Profile {
        subject: subject(claims.sub)?,
        username: claims.preferred_username.or(claims.nickname),
        name: claims.name,
        email_verified: is_true(claims.email_verified.as_ref()),
        email: claims.email,
    })
}

/// Fills what the ID token left out from an OpenID userinfo document about the same
/// subject; what the ID token said stands.
fn merge_userinfo(profile: &mut Profile, document: &serde_json::Value) -> Result<(), Failure> {
    let text = |name: &str| {
        document
            .get(name)
            .and_then(serde_json::Value::as_str)
            .filter(|text| !text.is_empty())
            .map(str::to_owned)
    };
    if text("sub").as_deref() != Some(profile.subject.as_str()) {
        return Err(Failure::Untrusted(
            "its userinfo document is about another subject".into(),
        ));
    }
    if profile.username.is_none() {
        profile.username = text("preferred_username").or_else(|| text("nickname"));
    }
    if profile.name.is_none() {
        profile.name = text("name");
    }
    if profile.email.is_none() {
        profile.email = text("email");
        profile.email_verified = is_true(document.get("email_verified"));
    }
    Ok(())
}

/// A field of a userinfo document; `a.b` reaches into a nested object.
fn field<'a>(document: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    name.split('.')
        .try_fold(document, |value, part| value.get(part))
}

fn text_field(document: &serde_json::Value, name: Option<&super::FieldName>) -> Option<String> {
    field(document, name?.as_str())
        .and_then(serde_json::Value::as_str)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// The profile in a userinfo document, by the upstream's field names. The subject may be a
/// string or an integer (GitHub's `id` is a number); nothing else names a user.
fn profile_from_document(
    document: &serde_json::Value,
    fields: &ProfileFields,
) -> Result<Profile, Failure> {
    let subject_value = match field(document, fields.subject.as_str()) {
        Some(serde_json::Value::String(text)) => text.clone(),
        Some(serde_json::Value::Number(number)) if number.is_u64() || number.is_i64() => {
            number.to_string()
        }
        _ => {
            return Err(Failure::Untrusted(format!(
                "its user document has no usable '{}' field",
                fields.subject.as_str()
            )))
        }
    };
    Ok(Profile {
        subject: subject(subject_value)?,
        username: text_field(document, fields.username.as_ref()),
        name: None,
        email: text_field(document, fields.email.as_ref()),
        email_verified: fields
            .email_verified
            .as_ref()
            .is_some_and(|name| is_true(field(document, name.as_str()))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::upstream::FieldName;
    use serde_json::json;

    fn discord_fields() -> ProfileFields {
        ProfileFields {
            subject: FieldName::parse("f", "id").unwrap(),
            username: Some(FieldName::parse("f", "username").unwrap()),
            email: Some(FieldName::parse("f", "email").unwrap()),
            email_verified: Some(FieldName::parse("f", "verified").unwrap()),
        }
    }

    #[test]
    fn a_userinfo_document_is_read_by_field_names() {
        let document = json!({"id": "80351110224678912", "username": "nelly",
            "email": "nelly@discord.com", "verified": true});
        let profile = profile_from_document(&document, &discord_fields()).unwrap();
        assert_eq!(profile.subject, "80351110224678912");
        assert_eq!(profile.username.as_deref(), Some("nelly"));
        assert!(profile.email_verified);
        let unverified = json!({"id": 42, "email": "x@y.z", "verified": "yes"});
        let profile = profile_from_document(&unverified, &discord_fields()).unwrap();
        assert_eq!(profile.subject, "42");
        assert!(!profile.email_verified);
        assert_eq!(profile.username, None);
    }

    #[test]
    fn nested_fields_and_bad_subjects() {
        let mut fields = discord_fields();
        fields.subject = FieldName::parse("f", "data.user.id").unwrap();
        let nested = json!({"data": {"user": {"id": "7"}}});
        assert_eq!(
            profile_from_document(&nested, &fields).unwrap().subject,
            "7"
        );
        for bad in [
            json!({"data": {"user": {"id": ""}}}),
            json!({"data": {"user": {"id": 1.5}}}),
            json!({"data": {"user": {"id": true}}}),
            json!({"data": {"user": {"id": {"x": 1}}}}),
            json!({"data": {"user": {"id": "x".repeat(256)}}}),
            json!({}),
        ] {
            assert!(matches!(
                profile_from_document(&bad, &fields),
                Err(Failure::Untrusted(_))
            ));
        }
    }

    #[test]
    fn userinfo_fills_only_what_the_id_token_left_out_and_only_for_its_subject() {
        let mut profile = Profile {
            subject: "u1".into(),
            username: None,
            name: Some("From the ID token".into()),
            email: None,
            email_verified: false,
        };
        let document = json!({"sub": "u1", "preferred_username": "alice",
            "name": "From userinfo", "email": "a@corp.example", "email_verified": true});
        merge_userinfo(&mut profile, &document).unwrap();
        assert_eq!(profile.username.as_deref(), Some("alice"));
        assert_eq!(profile.name.as_deref(), Some("From the ID token"));
        assert_eq!(profile.email.as_deref(), Some("a@corp.example"));
        assert!(profile.email_verified);
        for other in [
            json!({"sub": "u2", "email": "x@y.z"}),
            json!({"email": "x@y.z"}),
        ] {
            let mut profile = Profile {
                subject: "u1".into(),
                username: None,
                name: None,
                email: None,
                email_verified: false,
            };
            assert!(matches!(
                merge_userinfo(&mut profile, &other),
                Err(Failure::Untrusted(_))
            ));
        }
    }

    #[test]
    fn error_codes_are_repeated_only_when_plain() {
        assert_eq!(printable("access_denied"), "access_denied");
        assert_eq!(printable("<script>"), "<script>");
        assert_eq!(printable("a b"), "an error");
        assert_eq!(printable(&"x".repeat(65)), "an error");
    }
}
