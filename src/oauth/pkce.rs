//! PKCE (RFC 7636) with S256 only: `plain` lets anyone who sees the authorization request
//! redeem the code, so RFC 9700 §2.1.1 rules it out.

use base64::Engine;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::OAuthError;

/// A `code_challenge`: BASE64URL(SHA256(verifier)), 43 characters without padding.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeChallenge(String);

impl CodeChallenge {
    pub fn parse(challenge: &str, method: Option<&str>) -> Result<CodeChallenge, OAuthError> {
        match method {
            Some("S256") => {}
            None => {
                // RFC 7636 §4.3 defaults to plain, which we do not accept.
                return Err(OAuthError::invalid_request(
                    "code_challenge_method is required and must be S256",
                ));
            }
            Some(other) => {
                return Err(OAuthError::invalid_request(format!(
                    "code_challenge_method '{}' is not supported; use S256",
                    crate::model::truncate_for_message(other)
                )))
            }
        }
        let well_formed = challenge.len() == 43
            && challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !well_formed {
            return Err(OAuthError::invalid_request(
                "code_challenge must be 43 base64url characters (the S256 hash of the verifier)",
            ));
        }
        Ok(CodeChallenge(challenge.to_owned()))
    }

    pub fn from_stored(challenge: String) -> CodeChallenge {
        CodeChallenge(challenge)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// RFC 7636 §4.6, compared in constant time.
    pub fn verify(&self, verifier: &str) -> bool {
        let well_formed = (43..=128).contains(&verifier.len())
            && verifier
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'));
        let computed =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier));
        well_formed && bool::from(computed.as_bytes().ct_eq(self.0.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b() {
        let challenge =
            CodeChallenge::parse("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", Some("S256"))
                .unwrap();
        assert!(challenge.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"));
        assert!(!challenge.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXx"));
        assert!(!challenge.verify("short"));
    }

    #[test]
    fn plain_and_malformed_are_refused() {
        let challenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
        assert!(CodeChallenge::parse(challenge, Some("plain")).is_err());
        assert!(CodeChallenge::parse(challenge, None).is_err());
        assert!(CodeChallenge::parse("too-short", Some("S256")).is_err());
        assert!(CodeChallenge::parse(&format!("{challenge}="), Some("S256")).is_err());
    }
}
