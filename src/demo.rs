//! The app that `keyward demo` runs beside the server: a confidential OpenID Connect relying
//! party at `/demo`, so that someone trying keyward sees the whole code flow end to end
//! (PKCE, a nonce, the code redeemed, the ID token verified, userinfo) before writing a
//! client of their own.
//!
//! It does what a relying party must, with one shortcut: it calls the token service and the
//! userinfo claims in-process rather than over HTTP, because the server has no HTTP client
//! and the answer would come from the same code. The ID token is verified the way a relying
//! party verifies it, against the JWKS document and the client's registered algorithm,
//! never the algorithm the token's header claims.
//!
//! Nothing about a browser's flow is kept on the server. The state, the nonce and the PKCE
//! verifier travel in a sealed cookie, so the verifier never appears in a URL, and the
//! callback finishes only a flow that this browser started.

use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use sha2::Digest;

use crate::config::DemoClient;
use crate::model::{random_secret, ClientId, SigningAlg, UnixTime};
use crate::oauth::client_auth::AuthError;
use crate::oauth::lifecycle::userinfo;
use crate::oauth::token::TokenService;
use crate::oauth::Params;
use crate::seal::SealedBox;
use crate::store::{Store, StoreError};

/// The scope the demo asks for: everything keyward can say about a user.
pub const SCOPE: &str = "openid profile email";

/// How long a started sign-in may take before the callback refuses it.
pub const FLOW_SECONDS: u64 = 600;

/// The demo app, built once by `app.rs` when `keyward demo` runs.
pub struct DemoApp {
    client_id: String,
    client_secret: String,
    issuer: String,
    redirect_uri: String,
    flows: SealedBox,
}

/// What one browser's sign-in needs back at the callback; sealed in its cookie.
#[derive(Serialize, Deserialize)]
struct Flow {
    state: String,
    nonce: String,
    verifier: String,
    started_at: UnixTime,
}

/// A sign-in about to begin: where to send the browser, and the cookie to give it first.
pub struct Started {
    pub authorize_url: String,
    /// The authorization request's parameters, in the order sent, to show.
    pub request: Vec<(&'static str, String)>,
    /// The sealed flow, for the cookie.
    pub cookie: String,
}

/// A finished sign-in: what the token endpoint and userinfo returned, after the checks.
pub struct SignedIn {
    pub alg: String,
    pub kid: String,
    pub typ: Option<String>,
    /// The ID token's claims, as verified.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// What was checked, in plain words.
    pub checks: Vec<String>,
    pub userinfo: serde_json::Value,
    pub scope: String,
    pub expires_in: u64,
    pub has_refresh_token: bool,
    pub id_token: String,
}

/// Why a sign-in did not finish.
#[derive(Debug)]
pub enum Failure {
    /// No flow cookie, or one for another `state`: this browser did not start this sign-in.
    NotStarted,
    /// The flow is older than `FLOW_SECONDS`.
    Expired,
    /// keyward sent the browser back with an error (the user pressed Deny, say).
    Refused {
        error: String,
        description: Option<String>,
    },
    /// The authorization response's `iss` is not this server (RFC 9207).
    WrongIssuer,
    /// The callback had neither a code nor an error.
    NoCode,
    /// The token endpoint refused the code.
    Token { error: String, description: String },
    /// The ID token did not pass a check; it must not be believed.
    IdToken(String),
    /// Storage failed while redeeming or reading.
    Unavailable,
}

impl From<StoreError> for Failure {
    fn from(_: StoreError) -> Failure {
        Failure::Unavailable
    }
}

fn jose_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::Rs256 => Algorithm::RS256,
        SigningAlg::Es256 => Algorithm::ES256,
        SigningAlg::EdDsa => Algorithm::EdDSA,
    }
}

/// RFC 7636 §4.2: BASE64URL(SHA256(verifier)).
fn s256(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(verifier))
}

impl DemoApp {
    /// `base` is where the browser reaches this server (a loopback address), which the
    /// demo client registered its redirect URI under.
    pub fn new(client: &DemoClient, issuer: &str, base: &str, key: [u8; 32]) -> DemoApp {
        DemoApp {
            client_id: client.client_id.clone(),
            client_secret: client.client_secret.clone(),
            issuer: issuer.to_owned(),
            redirect_uri: format!("{base}/demo/callback"),
            flows: SealedBox::new(key, "keyward demo flow v1"),
        }
    }

    /// A new sign-in: fresh state, nonce and verifier (256 random bits each; the verifier's
    /// 43 base64url characters are what RFC 7636 §4.1 asks for).
    pub fn start(&self, now: UnixTime) -> Started {
        let flow = Flow {
            state: random_secret(),
            nonce: random_secret(),
            verifier: random_secret(),
            started_at: now,
        };
        let request = vec![
            ("response_type", "code".to_owned()),
            ("client_id", self.client_id.clone()),
            ("redirect_uri", self.redirect_uri.clone()),
            ("scope", SCOPE.to_owned()),
            ("state", flow.state.clone()),
            ("nonce", flow.nonce.clone()),
            ("code_challenge", s256(&flow.verifier)),
            ("code_challenge_method", "S256".to_owned()),
        ];
        let query = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(request.iter().map(|(name, value)| (*name, value.as_str())))
            .finish();
        Started {
            authorize_url: format!("{}/oauth2/authorize?{query}", self.issuer),
            request,
            cookie: self.flows.seal(&flow),
        }
    }

    /// The flow this callback belongs to: the browser's sealed cookie, for the `state` that
    /// came back, not yet expired. The state is compared before anything else is read, so a
    /// callback this browser did not ask for (login CSRF) ends here.
    fn flow(&self, cookie: Option<&str>, params: &Params, now: UnixTime) -> Result<Flow, Failure> {
        let flow: Flow = cookie
            .and_then(|sealed| self.flows.open(sealed))
            .ok_or(Failure::NotStarted)?;
        let state = params.get("state").ok().flatten();
        let matches = state.is_some_and(|state| {
            bool::from(subtle::ConstantTimeEq::ct_eq(
                state.as_bytes(),
                flow.state.as_bytes(),
            ))
        });
        if !matches {
            return Err(Failure::NotStarted);
        }
        if now.saturating_sub(flow.started_at) > FLOW_SECONDS {
            return Err(Failure::Expired);
        }
        Ok(flow)
    }

    /// The callback: check the state, redeem the code with the verifier, verify the ID
    /// token, and ask for userinfo with the access token.
    pub async fn finish(
        &self,
        tokens: &TokenService,
        store: &Store,
        cookie: Option<&str>,
        params: &Params,
        now: UnixTime,
    ) -> Result<SignedIn, Failure> {
        let flow = self.flow(cookie, params, now)?;
        let text = |name: &str| params.get(name).ok().flatten().map(str::to_owned);
        // RFC 9207 §2.4: the response, an error too, says who sent it. A client of one
        // provider still checks, as one of several must against mix-up attacks.
        if text("iss").as_deref() != Some(self.issuer.as_str()) {
            return Err(Failure::WrongIssuer);
        }
        if let Some(error) = text("error") {
            return Err(Failure::Refused {
                error,
                description: text("error_description"),
            });
        }
        let Some(code) = text("code") else {
            return Err(Failure::NoCode);
        };
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", &code)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("code_verifier", &flow.verifier)
            .finish();
        let request = Params::parse(body.as_bytes()).map_err(|error| Failure::Token {
            error: error.code.as_str().to_owned(),
            description: error.description().to_owned(),
        })?;
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.client_id, self.client_secret))
        );
        let response = tokens
            .token(Some(&basic), request, now, false)
            .await
            .map_err(|AuthError { error, .. }| Failure::Token {
                error: error.code.as_str().to_owned(),
                description: error.description().to_owned(),
            })?;
        let id_token = response.id_token.clone().ok_or_else(|| {
            Failure::IdToken("the token response has no ID token, though openid was asked".into())
        })?;
        // The algorithm the client registered, as a relying party configures it: a token
        // whose header names another is refused, whatever its signature.
        let alg = match ClientId::parse(&self.client_id) {
            Ok(id) => store.client(id)?.map(|client| client.id_token_alg),
            Err(_) => None,
        }
        .ok_or_else(|| Failure::Token {
            error: "invalid_client".into(),
            description: "the demo app's client is gone".into(),
        })?;
        let jwks = tokens
            .id_tokens()
            .key_ring()
            .keys()
            .map_err(|_| Failure::Unavailable)?
            .jwks();
        let verified = self
            .verify(&id_token, &jwks, alg, &flow.nonce, &response.access_token)
            .map_err(Failure::IdToken)?;
        let active = tokens
            .verify_access(&response.access_token, now)
            .map_err(|_| Failure::Unavailable)?;
        let userinfo = match active {
            Some(crate::oauth::token::ActiveToken {
                user: Some(user),
                claims,
            }) => userinfo(&user, &claims.scope),
            _ => {
                return Err(Failure::Token {
                    error: "invalid_token".into(),
                    description: "the new access token was not accepted by userinfo".into(),
                })
            }
        };
        let mut checks = verified.checks;
        checks.insert(
            0,
            "PKCE: the code was redeemed with the verifier whose S256 hash the authorization request carried".into(),
        );
        Ok(SignedIn {
            alg: alg.as_str().to_owned(),
            kid: verified.kid,
            typ: verified.typ,
            claims: verified.claims,
            checks,
            userinfo,
            scope: response.scope.to_string(),
            expires_in: response.expires_in,
            has_refresh_token: response.refresh_token.is_some(),
            id_token,
        })
    }

    /// OpenID Connect Core §3.1.3.7: the signature (by a key of the JWKS, with the
    /// algorithm the client registered), `iss`, `aud`, `azp`, `exp`, the `nonce` this
    /// browser sent, and §3.1.3.8's `at_hash`.
    fn verify(
        &self,
        id_token: &str,
        jwks: &[u8],
        alg: SigningAlg,
        nonce: &str,
        access_token: &str,
    ) -> Result<Verified, String> {
        // Signing set keyward's provider; verification must not be the first to pick one.
        crate::oidc::keys::install_provider();
        let header = jsonwebtoken::decode_header(id_token)
            .map_err(|error| format!("the ID token's header does not read: {error}"))?;
        let kid = header
            .kid
            .clone()
            .ok_or("the ID token's header names no key (kid)")?;
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_slice(jwks)
            .map_err(|error| format!("the JWKS does not read: {error}"))?;
        let jwk = set
            .find(&kid)
            .ok_or_else(|| format!("the JWKS has no key {kid}"))?;
        let key = DecodingKey::from_jwk(jwk)
            .map_err(|error| format!("the JWKS key {kid} is not usable: {error}"))?;
        let mut validation = Validation::new(jose_alg(alg));
        validation.set_audience(&[&self.client_id]);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        let data = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
            id_token,
            &key,
            &validation,
        )
        .map_err(|error| format!("the ID token did not verify: {error}"))?;
        let claims = data.claims;
        let claim = |name: &str| claims.get(name).and_then(serde_json::Value::as_str);
        if claim("nonce") != Some(nonce) {
            return Err("the ID token's nonce is not the one this browser sent".into());
        }
        if claim("azp").is_some_and(|azp| azp != self.client_id) {
            return Err("the ID token's azp is another client".into());
        }
        let mut checks = vec![
            format!(
                "Signature: {alg} by key {kid}, found in the JWKS",
                alg = alg.as_str()
            ),
            "iss is this server, aud is this app, exp is in the future".into(),
            "nonce is the one this browser sent".into(),
        ];
        if let Some(at_hash) = claim("at_hash") {
            if at_hash != crate::oidc::claims::at_hash(alg, access_token) {
                return Err("the ID token's at_hash does not match the access token".into());
            }
            checks.push("at_hash matches the access token".into());
        }
        Ok(Verified {
            kid,
            typ: header.typ,
            claims,
            checks,
        })
    }
}

struct Verified {
    kid: String,
    typ: Option<String>,
    claims: serde_json::Map<String, serde_json::Value>,
    checks: Vec<String>,
}
