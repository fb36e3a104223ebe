//! Signing keys for ID tokens and JWT access tokens: RS256 (RSA 2048), ES256 (P-256) and
//! EdDSA (Ed25519), generated and used through aws-lc-rs, whose private-key operations are
//! constant time.
//!
//! The JOSE side (the compact serialization, headers, JWKs) is `jsonwebtoken`'s. Its default
//! provider parses a private key again for every signature, which for Ed25519 costs as much
//! as the signature itself; so keyward installs a provider of its own (`install_provider`)
//! whose signer takes the already-parsed key pair from `REGISTRY`, found by the key id that
//! the `EncodingKey` carries. Verification is the aws-lc provider's own.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, RwLock};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self as aws, KeyPair as _};
use base64::Engine;
use jsonwebtoken::crypto::{CryptoProvider, JwtSigner};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::Serialize;

use crate::model::SigningAlg;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A private key that could not be made or read.
#[derive(Debug, thiserror::Error)]
#[error("signing key: {0}")]
pub struct KeyError(String);

impl KeyError {
    pub fn new(message: impl Into<String>) -> KeyError {
        KeyError(message.into())
    }
}

enum Private {
    Rsa(aws::RsaKeyPair),
    Ec(aws::EcdsaKeyPair),
    Ed(aws::Ed25519KeyPair),
}

/// One signing key, parsed once.
pub struct SigningKeyPair {
    kid: String,
    alg: SigningAlg,
    private: Private,
    /// The public JWK (RFC 7517), as published at the JWKS endpoint.
    public_jwk: serde_json::Value,
    /// The public key again, for checking tokens this key signed (an `id_token_hint`, a JWT
    /// access token presented back).
    public: DecodingKey,
}

impl std::fmt::Debug for SigningKeyPair {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "SigningKeyPair({} {})",
            self.alg.as_str(),
            self.kid
        )
    }
}

fn jose_alg(alg: SigningAlg) -> Algorithm {
    match alg {
        SigningAlg::Rs256 => Algorithm::RS256,
        SigningAlg::Es256 => Algorithm::ES256,
        SigningAlg::EdDsa => Algorithm::EdDSA,
    }
}

/// A new private key, as PKCS#8 DER (what the store seals).
pub fn generate(alg: SigningAlg) -> Result<Vec<u8>, KeyError> {
    let failed = |what: &str| KeyError(format!("cannot generate a {} key ({what})", alg.as_str()));
    match alg {
        SigningAlg::Rs256 => {
            let pair = aws::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
                .map_err(|_| failed("RSA 2048"))?;
            let der = pair.as_der().map_err(|_| failed("PKCS#8"))?;
            Ok(der.as_ref().to_vec())
        }
        SigningAlg::Es256 => {
            let pair = aws::EcdsaKeyPair::generate(&aws::ECDSA_P256_SHA256_FIXED_SIGNING)
                .map_err(|_| failed("P-256"))?;
            let der = pair.to_pkcs8v1().map_err(|_| failed("PKCS#8"))?;
            Ok(der.as_ref().to_vec())
        }
        SigningAlg::EdDsa => {
            let pair = aws::Ed25519KeyPair::generate().map_err(|_| failed("Ed25519"))?;
            let der = pair.to_pkcs8v1().map_err(|_| failed("PKCS#8"))?;
            Ok(der.as_ref().to_vec())
        }
    }
}

impl SigningKeyPair {
    /// Parses a stored private key; `kid` names it in the JWKS and in every token header.
    pub fn load(kid: String, alg: SigningAlg, pkcs8: &[u8]) -> Result<SigningKeyPair, KeyError> {
        let rejected = |error: aws_lc_rs::error::KeyRejected| KeyError(format!("{kid}: {error}"));
        let (private, public_jwk) = match alg {
            SigningAlg::Rs256 => {
                let pair = aws::RsaKeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let components =
                    aws_lc_rs::rsa::PublicKeyComponents::<Vec<u8>>::from(pair.public_key());
                let jwk = serde_json::json!({
                    "kty": "RSA",
                    "n": B64.encode(trim_leading_zeros(&components.n)),
                    "e": B64.encode(trim_leading_zeros(&components.e)),
                });
                (Private::Rsa(pair), jwk)
            }
            SigningAlg::Es256 => {
                let pair =
                    aws::EcdsaKeyPair::from_pkcs8(&aws::ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8)
                        .map_err(rejected)?;
                // An uncompressed point: 0x04 ‖ x (32 bytes) ‖ y (32 bytes).
                let point = pair.public_key().as_ref().to_vec();
                if point.len() != 65 || point[0] != 4 {
                    return Err(KeyError(format!("{kid}: not an uncompressed P-256 point")));
                }
                let jwk = serde_json::json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": B64.encode(&point[1..33]),
                    "y": B64.encode(&point[33..]),
                });
                (Private::Ec(pair), jwk)
            }
            SigningAlg::EdDsa => {
                let pair = aws::Ed25519KeyPair::from_pkcs8(pkcs8).map_err(rejected)?;
                let jwk = serde_json::json!({
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": B64.encode(pair.public_key().as_ref()),
                });
                (Private::Ed(pair), jwk)
            }
        };
        let mut public_jwk = public_jwk;
        public_jwk["kid"] = serde_json::Value::from(kid.as_str());
        public_jwk["use"] = serde_json::Value::from("sig");
        public_jwk["alg"] = serde_json::Value::from(alg.as_str());
        let public = serde_json::from_value::<jsonwebtoken::jwk::Jwk>(public_jwk.clone())
            .ok()
            .and_then(|jwk| DecodingKey::from_jwk(&jwk).ok())
            .ok_or_else(|| KeyError(format!("{kid}: its public key does not read as a JWK")))?;
        Ok(SigningKeyPair {
            kid,
            alg,
            private,
            public_jwk,
            public,
        })
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    pub fn public_jwk(&self) -> &serde_json::Value {
        &self.public_jwk
    }

    fn raw_sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let failed = || KeyError(format!("{}: signing failed", self.kid));
        match &self.private {
            Private::Rsa(pair) => {
                let mut signature = vec![0u8; pair.public_modulus_len()];
                pair.sign(
                    &aws::RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    message,
                    &mut signature,
                )
                .map_err(|_| failed())?;
                Ok(signature)
            }
            Private::Ec(pair) => pair
                .sign(&SystemRandom::new(), message)
                .map(|signature| signature.as_ref().to_vec())
                .map_err(|_| failed()),
            Private::Ed(pair) => Ok(pair.sign(message).as_ref().to_vec()),
        }
    }

    /// A signed JWT (RFC 7519) over `claims`, with this key's `kid` and `typ` if given.
    pub fn sign<T: Serialize>(
        self: &Arc<Self>,
        typ: Option<&str>,
        claims: &T,
    ) -> Result<String, KeyError> {
        install_provider();
        remember(self);
        let mut header = Header::new(jose_alg(self.alg));
        header.kid = Some(self.kid.clone());
        header.typ = typ.map(str::to_owned);
        let handle = match self.alg {
            SigningAlg::Rs256 => EncodingKey::from_rsa_der(self.kid.as_bytes()),
            SigningAlg::Es256 => EncodingKey::from_ec_der(self.kid.as_bytes()),
            SigningAlg::EdDsa => EncodingKey::from_ed_der(self.kid.as_bytes()),
        };
        jsonwebtoken::encode(&header, claims, &handle)
            .map_err(|error| KeyError(format!("{}: {error}", self.kid)))
    }
}

impl SigningKeyPair {
    /// The claims of a JWT that this key signed, if its signature holds and its header names
    /// this key's algorithm. Only the signature and `iss` are checked here (never `exp`: an
    /// expired ID token is still a good hint); the caller judges the claims.
    pub fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        issuer: &str,
    ) -> Result<T, KeyError> {
        install_provider();
        let mut validation = Validation::new(jose_alg(self.alg));
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.required_spec_claims = ["iss".to_owned(), "sub".to_owned()].into();
        validation.set_issuer(&[issuer]);
        jsonwebtoken::decode::<T>(token, &self.public, &validation)
            .map(|data| data.claims)
            .map_err(|error| KeyError(format!("{}: {error}", self.kid)))
    }
}

/// RFC 7518 §6.3.1: `n` and `e` are unsigned big-endian integers without leading zeros.
fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|byte| *byte != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[start..]
}

/// Parsed keys by kid, for the signer the provider hands `jsonwebtoken`.
static REGISTRY: OnceLock<RwLock<HashMap<String, Arc<SigningKeyPair>>>> = OnceLock::new();

fn registry() -> &'static RwLock<HashMap<String, Arc<SigningKeyPair>>> {
    REGISTRY.get_or_init(Default::default)
}

fn remember(key: &Arc<SigningKeyPair>) {
    let known = registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .contains_key(&key.kid);
    if !known {
        registry()
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.kid.clone(), key.clone());
    }
}

struct RegisteredSigner(Arc<SigningKeyPair>);

impl jsonwebtoken::signature::Signer<Vec<u8>> for RegisteredSigner {
    fn try_sign(&self, message: &[u8]) -> Result<Vec<u8>, jsonwebtoken::signature::Error> {
        self.0
            .raw_sign(message)
            .map_err(|_| jsonwebtoken::signature::Error::new())
    }
}

impl JwtSigner for RegisteredSigner {
    fn algorithm(&self) -> Algorithm {
        jose_alg(self.0.alg)
    }
}

fn signer_factory(
    algorithm: &Algorithm,
    key: &EncodingKey,
) -> jsonwebtoken::errors::Result<Box<dyn JwtSigner>> {
    let kid = std::str::from_utf8(key.inner()).unwrap_or("");
    let found = registry()
        .read()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .get(kid)
        .cloned();
    match found {
        Some(pair) if jose_alg(pair.alg) == *algorithm => Ok(Box::new(RegisteredSigner(pair))),
        _ => Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into()),
    }
}

/// Makes keyward's provider `jsonwebtoken`'s, once per process.
pub fn install_provider() {
    static PROVIDER: OnceLock<CryptoProvider> = OnceLock::new();
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let default = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
        let provider = PROVIDER.get_or_init(|| CryptoProvider {
            signer_factory,
            verifier_factory: default.verifier_factory,
            jwk_utils: default.jwk_utils.clone(),
        });
        let _ = provider.install_default();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_algorithm_signs_what_its_public_jwk_verifies() {
        for alg in [SigningAlg::Rs256, SigningAlg::Es256, SigningAlg::EdDsa] {
            let pkcs8 = generate(alg).unwrap();
            let key = Arc::new(
                SigningKeyPair::load(format!("kid-{}", alg.as_str()), alg, &pkcs8).unwrap(),
            );
            let token = key
                .sign(
                    Some("JWT"),
                    &serde_json::json!({ "sub": "alice", "exp": 4_000_000_000u64 }),
                )
                .unwrap();
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(key.public_jwk().clone()).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            let mut validation = jsonwebtoken::Validation::new(jose_alg(alg));
            validation.validate_aud = false;
            let data =
                jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).unwrap();
            assert_eq!(data.claims["sub"], "alice");
            assert_eq!(data.header.kid.as_deref(), Some(key.kid()));
            // Another key of the same kind does not verify it.
            let other = SigningKeyPair::load("other".into(), alg, &generate(alg).unwrap()).unwrap();
            let jwk: jsonwebtoken::jwk::Jwk =
                serde_json::from_value(other.public_jwk().clone()).unwrap();
            let decoding = jsonwebtoken::DecodingKey::from_jwk(&jwk).unwrap();
            assert!(
                jsonwebtoken::decode::<serde_json::Value>(&token, &decoding, &validation).is_err()
            );
        }
    }

    #[test]
    fn a_damaged_key_is_an_error_not_a_panic() {
        assert!(SigningKeyPair::load("x".into(), SigningAlg::Rs256, b"not a key").is_err());
        let ec = generate(SigningAlg::Es256).unwrap();
        assert!(SigningKeyPair::load("x".into(), SigningAlg::EdDsa, &ec).is_err());
    }
}
