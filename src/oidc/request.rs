//! The OpenID Connect parameters of an authorization request (Core §3.1.2.1): `prompt`,
//! `max_age`, `login_hint`, `id_token_hint`; the ones accepted without effect (`display`,
//! `ui_locales`, `claims_locales`, `acr_values`); and `request` / `request_uri`, refused.

use serde::{Deserialize, Serialize};

use crate::oauth::{ErrorCode, OAuthError, Params};

/// The longest `login_hint` used; a longer one is ignored (a hint, never an error).
const MAX_LOGIN_HINT: usize = 256;
/// The longest `id_token_hint` read: an ID token of ours is well under a kilobyte.
const MAX_ID_TOKEN_HINT: usize = 8192;
/// The longest `max_age` taken: ten years, like every other duration here.
const MAX_MAX_AGE: u64 = 10 * 365 * 86_400;

/// What the request asks of the interaction.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct OidcRequest {
    /// `prompt=none`: no page at all; an error to the client instead of any.
    pub prompt_none: bool,
    /// `prompt=login`: sign in again, even with a session.
    pub prompt_login: bool,
    /// `prompt=consent`: ask, even when consent is remembered.
    pub prompt_consent: bool,
    /// Sign in again when the session's sign-in is older than this many seconds.
    pub max_age: Option<u64>,
    /// A username to prefill on the sign-in page.
    pub login_hint: Option<String>,
    /// An ID token keyward issued earlier, naming the user the client expects.
    pub id_token_hint: Option<String>,
}

impl OidcRequest {
    /// Parses the parameters; an error is one to send to the client's redirect URI.
    pub fn parse(params: &Params) -> Result<OidcRequest, OAuthError> {
        if params.contains("request") {
            return Err(OAuthError::new(
                ErrorCode::RequestNotSupported,
                "request objects are not supported; send the parameters themselves",
            ));
        }
        if params.contains("request_uri") {
            return Err(OAuthError::new(
                ErrorCode::RequestUriNotSupported,
                "request_uri is not supported; send the parameters themselves",
            ));
        }
        let mut request = OidcRequest::default();
        if let Some(prompt) = params.get("prompt")? {
            let values: Vec<&str> = prompt
                .split(' ')
                .filter(|value| !value.is_empty())
                .collect();
            for value in &values {
                match *value {
                    "none" => request.prompt_none = true,
                    "login" => request.prompt_login = true,
                    "consent" => request.prompt_consent = true,
                    // There is one account per browser here: nothing to select. Accepted
                    // (Core lists it), but not advertised in prompt_values_supported.
                    "select_account" => {}
                    _ => {
                        return Err(OAuthError::invalid_request(format!(
                        "prompt value '{}' is not supported (none, login, consent, select_account)",
                        crate::model::truncate_for_message(value)
                    )))
                    }
                }
            }
            // Core §3.1.2.1: "none" must not be combined with any other value.
            if request.prompt_none && values.len() > 1 {
                return Err(OAuthError::invalid_request(
                    "prompt=none cannot be combined with other prompt values",
                ));
            }
        }
        if let Some(max_age) = params.get("max_age")? {
            let seconds = max_age
                .parse::<u64>()
                .ok()
                .filter(|seconds| *seconds <= MAX_MAX_AGE)
                .ok_or_else(|| {
                    OAuthError::invalid_request(
                        "max_age must be a whole number of seconds, at most ten years",
                    )
                })?;
            request.max_age = Some(seconds);
        }
        request.login_hint = params
            .get("login_hint")?
            .filter(|hint| hint.len() <= MAX_LOGIN_HINT)
            .map(str::to_owned);
        if let Some(hint) = params.get("id_token_hint")? {
            if hint.len() > MAX_ID_TOKEN_HINT {
                return Err(OAuthError::invalid_request("id_token_hint is too long"));
            }
            request.id_token_hint = Some(hint.to_owned());
        }
        Ok(request)
    }

    /// Whether a session whose user signed in at `auth_time` must sign in again at `now`.
    /// Both are whole seconds, so a session that reached `max_age` counts as older than
    /// it: 1.9 s may read as 1 s, and erring towards a new sign-in is the safe side (the
    /// return after that sign-in drops `max_age`, so this cannot loop).
    pub fn needs_fresh_sign_in(&self, auth_time: u64, now: u64) -> bool {
        self.prompt_login
            || self
                .max_age
                .is_some_and(|max_age| now >= auth_time.saturating_add(max_age))
    }
}

/// The query to come back to after the sign-in a request led to: the same request without
/// what that sign-in has just satisfied (`login` in its prompt, `max_age`, `id_token_hint`),
/// or the sign-in page would be asked for again and again (`max_age=0` is older than any
/// sign-in a second later). Pairs are kept in order; a pair that does not decode is
/// dropped (the request was validated from the same bytes, so none is).
pub fn after_sign_in(raw_query: &str) -> String {
    let mut out = form_urlencoded::Serializer::new(String::new());
    for (name, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        match &*name {
            "prompt" => {
                let rest: Vec<&str> = value
                    .split(' ')
                    .filter(|prompt| !prompt.is_empty() && *prompt != "login")
                    .collect();
                if !rest.is_empty() {
                    out.append_pair("prompt", &rest.join(" "));
                }
            }
            "max_age" | "id_token_hint" => {}
            _ => {
                out.append_pair(&name, &value);
            }
        }
    }
    out.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(query: &str) -> Result<OidcRequest, OAuthError> {
        OidcRequest::parse(&Params::parse(query.as_bytes()).unwrap())
    }

    #[test]
    fn prompt_values() {
        let request = parse("prompt=login+consent").unwrap();
        assert!(request.prompt_login && request.prompt_consent && !request.prompt_none);
        assert!(parse("prompt=none").unwrap().prompt_none);
        assert!(parse("prompt=select_account").is_ok());
        assert_eq!(
            parse("prompt=none+login").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse("prompt=bogus").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
        assert_eq!(
            parse("prompt=none&prompt=login").unwrap_err().code,
            ErrorCode::InvalidRequest
        );
    }

    #[test]
    fn max_age_and_hints() {
        assert_eq!(parse("max_age=0").unwrap().max_age, Some(0));
        for bad in [
            "max_age=-1",
            "max_age=1.5",
            "max_age=x",
            "max_age=999999999999",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            parse("login_hint=alice").unwrap().login_hint.as_deref(),
            Some("alice")
        );
        let long = format!("login_hint={}", "a".repeat(300));
        assert_eq!(parse(&long).unwrap().login_hint, None);
        let hint = format!("id_token_hint={}", "a".repeat(9000));
        assert!(parse(&hint).is_err());
        // Accepted, whatever they say.
        assert!(parse("display=popup&ui_locales=xx-YY&acr_values=urn:x&claims_locales=zz").is_ok());
        assert_eq!(
            parse("request=eyJ").unwrap_err().code,
            ErrorCode::RequestNotSupported
        );
        assert_eq!(
            parse("request_uri=https://x").unwrap_err().code,
            ErrorCode::RequestUriNotSupported
        );
    }

    #[test]
    fn a_fresh_sign_in_is_needed_for_prompt_login_or_an_old_session() {
        let request = parse("max_age=60").unwrap();
        assert!(!request.needs_fresh_sign_in(1000, 1059));
        assert!(request.needs_fresh_sign_in(1000, 1060));
        assert!(parse("prompt=login")
            .unwrap()
            .needs_fresh_sign_in(1000, 1000));
        assert!(!parse("").unwrap().needs_fresh_sign_in(0, u64::MAX));
    }

    #[test]
    fn the_return_after_sign_in_drops_what_the_sign_in_satisfied() {
        assert_eq!(
            after_sign_in("client_id=a&prompt=login+consent&state=s%20t&max_age=0"),
            "client_id=a&prompt=consent&state=s+t"
        );
        assert_eq!(after_sign_in("prompt=login&x=1&id_token_hint=e.y.z"), "x=1");
    }
}
