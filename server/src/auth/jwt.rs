//! Registry tokens: JWTs signed ES256 (JWS compact form) with a P-256 key created on first start,
//! `kid` = the key's RFC 7638 JWK thumbprint, and `access` claims as in Docker's token spec.
//! The framing is a few lines of base64url and JSON; the cryptography is the `p256` crate's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rand_core::OsRng;
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY: i64 = 30;

/// One grant in a token: actions on a resource.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// `repository` or `registry`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Resource name.
    pub name: String,
    /// Granted actions.
    pub actions: Vec<String>,
}

/// The claims of a registry token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    /// The account name, empty for anonymous tokens.
    pub sub: String,
    pub aud: String,
    pub exp: i64,
    pub nbf: i64,
    pub iat: i64,
    pub jti: String,
    pub access: Vec<Grant>,
    /// Management sessions only: the account's id (an account later created with the same name
    /// is another account, which no old session can act as).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<i64>,
    /// Management sessions only: when it was issued, in Unix milliseconds (compared with the
    /// account's `sessions_valid_after`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat_ms: Option<i64>,
    /// Registry tokens obtained with a personal access token: its scope (`repo:read`, …), so what
    /// the token is later used for (the catalog) is capped as the personal access token was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cap: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct Header {
    alg: String,
    typ: String,
    kid: String,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("malformed token")]
    Malformed,
    #[error("token signed by another key or algorithm")]
    WrongKey,
    #[error("bad token signature")]
    BadSignature,
    #[error("token expired or not yet valid")]
    Expired,
    #[error("token issued for another issuer or service")]
    WrongAudience,
    #[error("key: {0}")]
    Key(String),
}

/// The signing key and the token parameters.
#[derive(Clone)]
pub struct TokenKeys {
    signing: SigningKey,
    verifying: VerifyingKey,
    kid: String,
    issuer: String,
    ttl: i64,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenKeys")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

/// A new private key in PKCS#8 PEM.
pub fn generate_pem() -> Result<String, TokenError> {
    let key = SigningKey::random(&mut OsRng);
    key.to_pkcs8_pem(LineEnding::LF)
        .map(|p| p.to_string())
        .map_err(|e| TokenError::Key(e.to_string()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl TokenKeys {
    /// Loads a PKCS#8 PEM private key.
    pub fn from_pem(pem: &str, issuer: &str, ttl_secs: i64) -> Result<TokenKeys, TokenError> {
        let signing = SigningKey::from_pkcs8_pem(pem).map_err(|e| TokenError::Key(e.to_string()))?;
        let verifying = *signing.verifying_key();
        let kid = thumbprint(&verifying);
        Ok(TokenKeys {
            signing,
            verifying,
            kid,
            issuer: issuer.to_owned(),
            ttl: ttl_secs.max(1),
        })
    }

    /// The key id (RFC 7638 thumbprint).
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// Token lifetime in seconds.
    pub fn ttl(&self) -> i64 {
        self.ttl
    }

    /// Issues a token for `sub` (empty = anonymous) and audience `aud`.
    pub fn issue(&self, sub: &str, aud: &str, access: Vec<Grant>) -> (String, Claims) {
        self.issue_for(sub, aud, self.ttl, access)
    }

    /// Like [`issue`](Self::issue), for a caller capped by a personal access token's scope.
    pub fn issue_capped(&self, sub: &str, aud: &str, access: Vec<Grant>, cap: Option<String>) -> (String, Claims) {
        let mut claims = self.claims(sub, aud, self.ttl, access);
        claims.cap = cap;
        self.sign(claims)
    }

    /// Issues a token for `sub` and audience `aud` valid for `ttl_secs` (API session tokens live
    /// longer than registry tokens and carry another audience, so neither is accepted for the other).
    pub fn issue_for(&self, sub: &str, aud: &str, ttl_secs: i64, access: Vec<Grant>) -> (String, Claims) {
        self.sign(self.claims(sub, aud, ttl_secs, access))
    }

    /// Issues a management session token for account `uid` named `sub`.
    pub fn issue_session(&self, sub: &str, uid: i64, aud: &str, ttl_secs: i64) -> (String, Claims) {
        let mut claims = self.claims(sub, aud, ttl_secs, Vec::new());
        claims.uid = Some(uid);
        claims.iat_ms = Some(crate::db::now_ms());
        self.sign(claims)
    }

    fn claims(&self, sub: &str, aud: &str, ttl_secs: i64, access: Vec<Grant>) -> Claims {
        let iat = now();
        Claims {
            iss: self.issuer.clone(),
            sub: sub.to_owned(),
            aud: aud.to_owned(),
            exp: iat + ttl_secs.max(1),
            nbf: iat - 1,
            iat,
            jti: super::random_secret(12),
            access,
            uid: None,
            iat_ms: None,
            cap: None,
        }
    }

    fn sign(&self, claims: Claims) -> (String, Claims) {
        let header = Header {
            alg: "ES256".into(),
            typ: "JWT".into(),
            kid: self.kid.clone(),
        };
        let enc = |v: &dyn erased::Json| B64.encode(v.to_json());
        let signing_input = format!("{}.{}", enc(&header), enc(&claims));
        let sig: Signature = self.signing.sign(signing_input.as_bytes());
        (format!("{signing_input}.{}", B64.encode(sig.to_bytes())), claims)
    }

    /// Verifies a token's signature, issuer, audience and validity period.
    pub fn verify(&self, token: &str, aud: &str) -> Result<Claims, TokenError> {
        let mut parts = token.split('.');
        let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(h)?;
        if header.alg != "ES256" || header.kid != self.kid {
            return Err(TokenError::WrongKey);
        }
        let sig_bytes = B64.decode(s).map_err(|_| TokenError::Malformed)?;
        let sig = Signature::from_slice(&sig_bytes).map_err(|_| TokenError::Malformed)?;
        let signing_input = &token[..h.len() + 1 + c.len()];
        self.verifying
            .verify(signing_input.as_bytes(), &sig)
            .map_err(|_| TokenError::BadSignature)?;
        let claims: Claims = decode_json(c)?;
        let t = now();
        if claims.exp + LEEWAY < t || claims.nbf - LEEWAY > t || claims.iat - LEEWAY > t {
            return Err(TokenError::Expired);
        }
        if claims.iss != self.issuer || claims.aud != aud {
            return Err(TokenError::WrongAudience);
        }
        Ok(claims)
    }
}

fn decode_json<T: for<'de> Deserialize<'de>>(part: &str) -> Result<T, TokenError> {
    let bytes = B64.decode(part).map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// RFC 7638 thumbprint of a P-256 public key: SHA-256 of the canonical JWK, base64url.
fn thumbprint(key: &VerifyingKey) -> String {
    let point = key.to_encoded_point(false);
    let x = point.x().map(|x| B64.encode(x)).unwrap_or_default();
    let y = point.y().map(|y| B64.encode(y)).unwrap_or_default();
    let jwk = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let digest = rreg_oci::Digest::sha256(jwk.as_bytes());
    let raw = hex::decode(digest.hex()).unwrap_or_default();
    B64.encode(raw)
}

mod erased {
    /// Serializes header and claims alike.
    pub trait Json {
        fn to_json(&self) -> Vec<u8>;
    }
    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> Vec<u8> {
            serde_json::to_vec(self).unwrap_or_default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::from_pem(&generate_pem().expect("pem"), "rreg", 300).expect("keys")
    }

    #[test]
    fn issues_and_verifies() {
        let k = keys();
        let grant = Grant {
            kind: "repository".into(),
            name: "a/b".into(),
            actions: vec!["pull".into()],
        };
        let (tok, _) = k.issue("alice", "svc", vec![grant.clone()]);
        let c = k.verify(&tok, "svc").expect("valid");
        assert_eq!(c.sub, "alice");
        assert_eq!(c.access, vec![grant]);
        assert!(matches!(k.verify(&tok, "other"), Err(TokenError::WrongAudience)));
        assert!(matches!(keys().verify(&tok, "svc"), Err(TokenError::WrongKey)));
        // Tamper with the claims.
        let mut parts: Vec<&str> = tok.split('.').collect();
        let forged = B64.encode(
            br#"{"iss":"rreg","sub":"admin","aud":"svc","exp":9999999999,"nbf":0,"iat":0,"jti":"x","access":[]}"#,
        );
        parts[1] = &forged;
        assert!(matches!(
            k.verify(&parts.join("."), "svc"),
            Err(TokenError::BadSignature)
        ));
        assert!(matches!(k.verify("a.b", "svc"), Err(TokenError::Malformed)));
    }

    #[test]
    fn kid_is_a_thumbprint() {
        let k = keys();
        assert_eq!(k.kid().len(), 43);
        assert_eq!(
            TokenKeys::from_pem(&generate_pem().expect("pem"), "rreg", 1)
                .expect("k")
                .kid()
                .len(),
            43
        );
    }
}
