//! An OpenID upstream as keyward uses it: its discovery document and key set, fetched over
//! `Fetcher` and kept for `CACHE_SECONDS`, and the checks an ID token must pass before
//! anything in it is believed (OpenID Connect Core §3.1.3.7).
//!
//! - The discovery document must name exactly the configured issuer (Discovery §4.3), and
//!   every endpoint in it must be a URL `UpstreamUrl` accepts: a document cannot send the
//!   code, the secret or the browser over plain http.
//! - The ID token's algorithm must be an asymmetric one the document lists (never `none`,
//!   never HMAC with a public key as the secret), its key is found by `kid` in the key set
//!   (fetched again, at most once a minute, when a `kid` is not there: the upstream rotated),
//!   and `iss`, `aud` (and `azp` when there are several audiences), `exp` and `nonce` are
//!   checked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonwebtoken::jwk::Jwk;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;

use super::fetch::{ClientAuth, FetchError, Fetcher};
use super::UpstreamUrl;
use crate::model::UnixTime;

/// How long a discovery document or key set is used before it is fetched again.
pub const CACHE_SECONDS: u64 = 15 * 60;
/// The shortest time between two key-set fetches for an unknown `kid`: a stream of forged
/// tokens with made-up `kid`s must not turn keyward into a load generator.
const REFETCH_SECONDS: u64 = 60;
/// Clock skew allowed on `exp`.
const LEEWAY_SECONDS: u64 = 60;

/// Signature algorithms an upstream's ID token may use: asymmetric only.
const ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// What keyward needs from a discovery document.
#[derive(Debug, Clone)]
pub struct Provider {
    pub issuer: String,
    pub authorization_endpoint: String,
    pub token_endpoint: String,
    pub jwks_uri: String,
    /// Where the claims an ID token leaves out are read (OpenID Connect Core §5.3).
    pub userinfo_endpoint: Option<String>,
    pub token_auth: ClientAuth,
    /// `id_token_signing_alg_values_supported`, as algorithms keyward accepts.
    pub algorithms: Vec<Algorithm>,
    /// RFC 9207: the provider puts `iss` in its authorization responses.
    pub sends_iss: bool,
}

/// Why an upstream's OpenID answer was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    #[error("{0}")]
    Fetch(#[from] FetchError),
    /// The discovery document is unusable; the text says why.
    #[error("its discovery document is not usable: {0}")]
    Discovery(String),
    /// The ID token failed a check; the text says which.
    #[error("its ID token failed a check: {0}")]
    IdToken(String),
}

#[derive(Deserialize)]
struct DiscoveryDocument {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
    #[serde(default)]
    userinfo_endpoint: Option<String>,
    #[serde(default)]
    token_endpoint_auth_methods_supported: Option<Vec<String>>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Option<Vec<String>>,
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

/// The claims of an upstream ID token keyward reads.
#[derive(Deserialize, Debug, Clone)]
pub struct IdClaims {
    pub sub: String,
    #[serde(default)]
    pub nonce: Option<String>,
    #[serde(default)]
    pub azp: Option<String>,
    #[serde(default)]
    pub preferred_username: Option<String>,
    #[serde(default)]
    pub nickname: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
    /// A boolean; some providers send the string "true".
    #[serde(default)]
    pub email_verified: Option<serde_json::Value>,
}

struct Cached<T> {
    value: T,
    fetched_at: UnixTime,
}

/// How long a failed discovery is answered from memory: an upstream that is down costs
/// one outbound attempt per this many seconds, not one per visitor.
const FAILURE_SECONDS: u64 = 10;

#[derive(Default)]
struct Entry {
    provider: Option<Cached<Arc<Provider>>>,
    failure: Option<Cached<OidcError>>,
    keys: Option<Cached<Arc<Vec<Jwk>>>>,
}

/// Discovery documents and key sets, by issuer.
pub struct Directory {
    fetcher: Fetcher,
    entries: Mutex<HashMap<String, Entry>>,
}

impl Directory {
    pub fn new(fetcher: Fetcher) -> Directory {
        Directory {
            fetcher,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, HashMap<String, Entry>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The provider at `issuer`, from the cache while it is fresh.
    pub async fn provider(&self, issuer: &str, now: UnixTime) -> Result<Arc<Provider>, OidcError> {
        if let Some(cached) = self
            .entries()
            .get(issuer)
            .and_then(|entry| entry.provider.as_ref())
            .filter(|cached| now < cached.fetched_at + CACHE_SECONDS)
        {
            return Ok(cached.value.clone());
        }
        if let Some(failed) = self
            .entries()
            .get(issuer)
            .and_then(|entry| entry.failure.as_ref())
            .filter(|failed| now < failed.fetched_at + FAILURE_SECONDS)
        {
            return Err(failed.value.clone());
        }
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let fetched = match self.fetcher.get_json(&url, None).await {
            Ok(document) => read_discovery(issuer, document),
            Err(error) => Err(error.into()),
        };
        let mut entries = self.entries();
        let entry = entries.entry(issuer.to_owned()).or_default();
        match fetched {
            Ok(provider) => {
                let provider = Arc::new(provider);
                entry.provider = Some(Cached {
                    value: provider.clone(),
                    fetched_at: now,
                });
                entry.failure = None;
                Ok(provider)
            }
            Err(error) => {
                entry.failure = Some(Cached {
                    value: error.clone(),
                    fetched_at: now,
                });
                Err(error)
            }
        }
    }

    /// The provider's keys; fetched again when `stale` and the last fetch is over a minute
    /// old.
    async fn keys(
        &self,
        provider: &Provider,
        stale: bool,
        now: UnixTime,
    ) -> Result<Arc<Vec<Jwk>>, OidcError> {
        if let Some(cached) = self
            .entries()
            .get(&provider.issuer)
            .and_then(|entry| entry.keys.as_ref())
            .filter(|cached| {
                let age = now.saturating_sub(cached.fetched_at);
                age < CACHE_SECONDS && !(stale && age >= REFETCH_SECONDS)
            })
        {
            return Ok(cached.value.clone());
        }
        let document = self.fetcher.get_json(&provider.jwks_uri, None).await?;
        let keys = Arc::new(read_key_set(document)?);
        self.entries()
            .entry(provider.issuer.clone())
            .or_default()
            .keys = Some(Cached {
            value: keys.clone(),
            fetched_at: now,
        });
        Ok(keys)
    }

    /// Verifies an ID token from `provider` for `client_id` and `nonce`, and returns its
    /// claims.
    pub async fn verify_id_token(
        &self,
        provider: &Provider,
        token: &str,
        client_id: &str,
        nonce: &str,
        now: UnixTime,
    ) -> Result<IdClaims, OidcError> {
        // Before jsonwebtoken's first use in the process: it would otherwise install its
        // own default provider, and keyward's signing keys (`oidc::keys`) would stop working.
        crate::oidc::keys::install_provider();
        let refused = |text: &str| OidcError::IdToken(text.to_owned());
        let header =
            jsonwebtoken::decode_header(token).map_err(|_| refused("it is not a signed JWT"))?;
        if !ALGORITHMS.contains(&header.alg) || !provider.algorithms.contains(&header.alg) {
            return Err(refused(
                "it is signed with an algorithm that is not allowed",
            ));
        }
        let mut keys = self.keys(provider, false, now).await?;
        let mut key = pick_key(&keys, header.kid.as_deref(), header.alg);
        if key.is_none() && header.kid.is_some() {
            keys = self.keys(provider, true, now).await?;
            key = pick_key(&keys, header.kid.as_deref(), header.alg);
        }
        let key = key.ok_or_else(|| refused("no key of the provider's key set signed it"))?;
        let key = DecodingKey::from_jwk(key).map_err(|_| refused("its signing key is unusable"))?;
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[&provider.issuer]);
        validation.set_audience(&[client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECONDS;
        // `exp` is checked here against `now`, not the system clock, like the rest of
        // keyward's protocol code.
        validation.validate_exp = false;
        let data = jsonwebtoken::decode::<serde_json::Value>(token, &key, &validation).map_err(
            |error| match error.kind() {
                jsonwebtoken::errors::ErrorKind::InvalidIssuer => {
                    refused("it was issued by another issuer")
                }
                jsonwebtoken::errors::ErrorKind::InvalidAudience => {
                    refused("it was issued to another client")
                }
                jsonwebtoken::errors::ErrorKind::MissingRequiredClaim(_) => {
                    refused("it lacks a required claim")
                }
                _ => refused("its signature does not verify"),
            },
        )?;
        let exp = data.claims.get("exp").and_then(serde_json::Value::as_f64);
        if exp.is_none_or(|exp| now as f64 >= exp + LEEWAY_SECONDS as f64) {
            return Err(refused("it has expired"));
        }
        let audiences = match data.claims.get("aud") {
            Some(serde_json::Value::Array(all)) => all.len(),
            Some(_) => 1,
            None => 0,
        };
        let claims: IdClaims = serde_json::from_value(data.claims)
            .map_err(|_| refused("its claims are not readable"))?;
        if claims.sub.is_empty() {
            return Err(refused("its subject is empty"));
        }
        // OpenID Connect Core §3.1.3.7 (3): audiences keyward does not know are not
        // trusted, so a token meant for others as well is refused.
        if audiences > 1 {
            return Err(refused("it was issued to other clients as well"));
        }
        if claims.azp.as_deref().is_some_and(|azp| azp != client_id) {
            return Err(refused("it was issued to another client"));
        }
        let nonce_matches = claims.nonce.as_deref().is_some_and(|sent| {
            subtle::ConstantTimeEq::ct_eq(sent.as_bytes(), nonce.as_bytes()).into()
        });
        if !nonce_matches {
            return Err(refused("its nonce is missing or not the one keyward sent"));
        }
        Ok(claims)
    }
}

/// The document's endpoints and capabilities, after the checks in the module's docs.
fn read_discovery(issuer: &str, document: serde_json::Value) -> Result<Provider, OidcError> {
    let bad = |text: String| OidcError::Discovery(text);
    let document: DiscoveryDocument = serde_json::from_value(document).map_err(|_| {
        bad("it lacks issuer, authorization_endpoint, token_endpoint or jwks_uri".into())
    })?;
    if document.issuer != issuer {
        return Err(bad(format!(
            "it names the issuer '{}', not '{issuer}'",
            crate::model::truncate_for_message(&document.issuer)
        )));
    }
    // An issuer elsewhere may not point keyward (and its client secret) at this host's own
    // loopback services.
    let issuer_on_loopback = UpstreamUrl::from_stored(issuer.to_owned()).is_loopback();
    let endpoints = [
        (
            "authorization_endpoint",
            Some(&document.authorization_endpoint),
        ),
        ("token_endpoint", Some(&document.token_endpoint)),
        ("jwks_uri", Some(&document.jwks_uri)),
        ("userinfo_endpoint", document.userinfo_endpoint.as_ref()),
    ];
    for (what, url) in endpoints {
        let Some(url) = url else { continue };
        let url = UpstreamUrl::parse(what, url).map_err(|error| bad(error.0))?;
        if url.is_loopback() && !issuer_on_loopback {
            return Err(bad(format!(
                "its {what} is on a loopback host while the issuer is not"
            )));
        }
    }
    let methods = document
        .token_endpoint_auth_methods_supported
        .unwrap_or_else(|| vec!["client_secret_basic".to_owned()]);
    let token_auth = if methods.iter().any(|method| method == "client_secret_basic") {
        ClientAuth::Basic
    } else if methods.iter().any(|method| method == "client_secret_post") {
        ClientAuth::Post
    } else {
        return Err(bad(
            "its token endpoint takes neither client_secret_basic nor client_secret_post".into(),
        ));
    };
    // Discovery §3: RS256 is the default when the document lists none.
    let listed = document
        .id_token_signing_alg_values_supported
        .unwrap_or_else(|| vec!["RS256".to_owned()]);
    let algorithms: Vec<Algorithm> = ALGORITHMS
        .into_iter()
        .filter(|alg| listed.iter().any(|name| name == alg_name(*alg)))
        .collect();
    if algorithms.is_empty() {
        return Err(bad(
            "it signs ID tokens with no algorithm keyward accepts".into()
        ));
    }
    Ok(Provider {
        issuer: document.issuer,
        authorization_endpoint: document.authorization_endpoint,
        token_endpoint: document.token_endpoint,
        jwks_uri: document.jwks_uri,
        userinfo_endpoint: document.userinfo_endpoint,
        token_auth,
        algorithms,
        sends_iss: document.authorization_response_iss_parameter_supported,
    })
}

fn alg_name(alg: Algorithm) -> &'static str {
    match alg {
        Algorithm::RS256 => "RS256",
        Algorithm::RS384 => "RS384",
        Algorithm::RS512 => "RS512",
        Algorithm::PS256 => "PS256",
        Algorithm::PS384 => "PS384",
        Algorithm::PS512 => "PS512",
        Algorithm::ES256 => "ES256",
        Algorithm::ES384 => "ES384",
        Algorithm::EdDSA => "EdDSA",
        _ => "",
    }
}

/// The signing keys of a JWKS document. A key of a type keyward does not know (a new
/// algorithm, an encryption key) is skipped rather than failing the whole set.
fn read_key_set(document: serde_json::Value) -> Result<Vec<Jwk>, OidcError> {
    let Some(keys) = document.get("keys").and_then(serde_json::Value::as_array) else {
        return Err(OidcError::Fetch(FetchError::Garbage(
            "the key set has no \"keys\" array".into(),
        )));
    };
    Ok(keys
        .iter()
        .filter_map(|key| serde_json::from_value::<Jwk>(key.clone()).ok())
        .filter(|key| {
            !matches!(
                key.common.public_key_use,
                Some(jsonwebtoken::jwk::PublicKeyUse::Encryption)
            )
        })
        .collect())
}

/// The key that signed a token: by `kid` when the header has one, else the only key that
/// fits the algorithm. A key that names another algorithm never fits.
fn pick_key<'a>(keys: &'a [Jwk], kid: Option<&str>, alg: Algorithm) -> Option<&'a Jwk> {
    let fits = |key: &&Jwk| {
        key.common
            .key_algorithm
            .is_none_or(|named| serde_json::to_value(named).ok() == serde_json::to_value(alg).ok())
    };
    match kid {
        Some(kid) => keys
            .iter()
            .filter(fits)
            .find(|key| key.common.key_id.as_deref() == Some(kid)),
        None => {
            let mut fitting = keys.iter().filter(fits).filter(|key| family_fits(key, alg));
            let only = fitting.next()?;
            fitting.next().is_none().then_some(only)
        }
    }
}

fn family_fits(key: &Jwk, alg: Algorithm) -> bool {
    use jsonwebtoken::jwk::AlgorithmParameters;
    match &key.algorithm {
        AlgorithmParameters::RSA(_) => matches!(
            alg,
            Algorithm::RS256
                | Algorithm::RS384
                | Algorithm::RS512
                | Algorithm::PS256
                | Algorithm::PS384
                | Algorithm::PS512
        ),
        AlgorithmParameters::EllipticCurve(_) => {
            matches!(alg, Algorithm::ES256 | Algorithm::ES384)
        }
        AlgorithmParameters::OctetKeyPair(_) => alg == Algorithm::EdDSA,
        AlgorithmParameters::OctetKey(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document(issuer: &str) -> serde_json::Value {
        json!({
            "issuer": issuer,
            "authorization_endpoint": format!("{issuer}/authorize"),
            "token_endpoint": format!("{issuer}/token"),
            "jwks_uri": format!("{issuer}/jwks"),
        })
    }

    #[test]
    fn discovery_must_name_the_configured_issuer_exactly() {
        let issuer = "https://id.example.com";
        assert!(read_discovery(issuer, document(issuer)).is_ok());
        for other in ["https://id.example.com/", "https://evil.example.com"] {
            assert!(matches!(
                read_discovery(issuer, document(other)),
                Err(OidcError::Discovery(_))
            ));
        }
    }

    #[test]
    fn an_issuer_elsewhere_may_not_point_at_loopback_endpoints() {
        let mut inward = document("https://a.example");
        inward["token_endpoint"] = json!("http://127.0.0.1:8080/token");
        assert!(read_discovery("https://a.example", inward).is_err());
        let mut inward = document("https://a.example");
        inward["userinfo_endpoint"] = json!("https://localhost/userinfo");
        assert!(read_discovery("https://a.example", inward).is_err());
        // A loopback issuer (tests, local setups) keeps its loopback endpoints.
        assert!(read_discovery("http://127.0.0.1:9", document("http://127.0.0.1:9")).is_ok());
    }

    #[test]
    fn discovery_defaults_to_basic_auth_and_rs256() {
        let provider = read_discovery("https://a.example", document("https://a.example")).unwrap();
        assert_eq!(provider.token_auth, ClientAuth::Basic);
        assert_eq!(provider.algorithms, [Algorithm::RS256]);
        assert!(!provider.sends_iss);
        let mut post_only = document("https://a.example");
        post_only["token_endpoint_auth_methods_supported"] = json!(["client_secret_post"]);
        post_only["id_token_signing_alg_values_supported"] = json!(["ES256", "HS256", "none"]);
        let provider = read_discovery("https://a.example", post_only).unwrap();
        assert_eq!(provider.token_auth, ClientAuth::Post);
        assert_eq!(provider.algorithms, [Algorithm::ES256]);
    }

    #[test]
    fn discovery_refuses_plain_http_endpoints_and_symmetric_only_signing() {
        let mut leaky = document("https://a.example");
        leaky["token_endpoint"] = json!("http://a.example/token");
        assert!(read_discovery("https://a.example", leaky).is_err());
        let mut hmac = document("https://a.example");
        hmac["id_token_signing_alg_values_supported"] = json!(["HS256"]);
        assert!(read_discovery("https://a.example", hmac).is_err());
        assert!(
            read_discovery("https://a.example", json!({"issuer": "https://a.example"})).is_err()
        );
    }

    #[test]
    fn unknown_keys_are_skipped_and_keys_are_picked_by_kid_and_algorithm() {
        let set = json!({"keys": [
            {"kty": "AKP", "kid": "pq", "alg": "ML-DSA-44", "pub": "AAAA"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty": "EC", "crv": "P-256", "kid": "ec", "alg": "ES256", "use": "sig",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
            {"kty": "EC", "crv": "P-256", "kid": "enc", "use": "enc",
             "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
             "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}
        ]});
        let keys = read_key_set(set).unwrap();
        assert_eq!(keys.len(), 2);
        assert!(pick_key(&keys, Some("ec"), Algorithm::ES256).is_some());
        assert!(pick_key(&keys, Some("ec"), Algorithm::RS256).is_none());
        assert!(pick_key(&keys, Some("enc"), Algorithm::ES256).is_none());
        assert!(pick_key(&keys, Some("nope"), Algorithm::ES256).is_none());
        assert!(pick_key(&keys, None, Algorithm::EdDSA).is_some());
        assert!(read_key_set(json!({"no": []})).is_err());
    }
}
