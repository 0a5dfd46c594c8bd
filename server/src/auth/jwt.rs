//! Registry and session tokens: JWTs signed ES256 with a P-256 key created on first start, `kid` =
//! the key's RFC 7638 JWK thumbprint, and `access` claims as in Docker's token spec. `jsonwebtoken`
//! signs and verifies them (signature, algorithm, issuer, audience, `exp` and `nbf` with 30 s of
//! leeway); `p256` creates the key and gives the public point for the thumbprint.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use p256::ecdsa::{SigningKey, VerifyingKey};
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
    encoding: EncodingKey,
    decoding: DecodingKey,
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
        let (x, y) = public_point(signing.verifying_key());
        let kid = thumbprint(&x, &y);
        let encoding = EncodingKey::from_ec_pem(pem.as_bytes()).map_err(|e| TokenError::Key(e.to_string()))?;
        let decoding = DecodingKey::from_ec_components(&x, &y).map_err(|e| TokenError::Key(e.to_string()))?;
        Ok(TokenKeys {
            encoding,
            decoding,
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
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("JWT".into());
        header.kid = Some(self.kid.clone());
        // Signing with a valid EC key and serialisable claims does not fail; were it to, the empty
        // token is refused by every verifier.
        let token = jsonwebtoken::encode(&header, &claims, &self.encoding).unwrap_or_else(|e| {
            tracing::error!(error = %e, "signing a token failed");
            String::new()
        });
        (token, claims)
    }

    /// Verifies a token's signature, issuer, audience and validity period.
    pub fn verify(&self, token: &str, aud: &str) -> Result<Claims, TokenError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Malformed)?;
        if header.alg != Algorithm::ES256 || header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::WrongKey);
        }
        let mut v = Validation::new(Algorithm::ES256);
        v.leeway = LEEWAY.unsigned_abs();
        v.validate_nbf = true;
        v.set_audience(&[aud]);
        v.set_issuer(&[self.issuer.as_str()]);
        v.set_required_spec_claims(&["exp", "nbf", "iss", "aud"]);
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                ErrorKind::ExpiredSignature | ErrorKind::ImmatureSignature => TokenError::Expired,
                ErrorKind::InvalidAudience | ErrorKind::InvalidIssuer => TokenError::WrongAudience,
                ErrorKind::InvalidAlgorithm => TokenError::WrongKey,
                _ => TokenError::Malformed,
            })?
            .claims;
        // A token issued in the future is refused as one not yet valid.
        if claims.iat - LEEWAY > now() {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}

/// The public point of a P-256 key: base64url `x` and `y`, as in its JWK.
fn public_point(key: &VerifyingKey) -> (String, String) {
    let point = key.to_encoded_point(false);
    let x = point.x().map(|x| B64.encode(x)).unwrap_or_default();
    let y = point.y().map(|y| B64.encode(y)).unwrap_or_default();
    (x, y)
}

/// RFC 7638 thumbprint of a P-256 public key: SHA-256 of the canonical JWK, base64url.
fn thumbprint(x: &str, y: &str) -> String {
    let jwk = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let digest = rreg_oci::Digest::sha256(jwk.as_bytes());
    let raw = hex::decode(digest.hex()).unwrap_or_default();
    B64.encode(raw)
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
        // Another algorithm is refused before any key is used: `none`, and HMAC keyed with
        // something public (the kid).
        let claims = parts[1];
        for alg in ["none", "HS256"] {
            let header = B64.encode(format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"{}"}}"#, k.kid()));
            let sig = if alg == "none" {
                String::new()
            } else {
                let key = jsonwebtoken::EncodingKey::from_secret(k.kid().as_bytes());
                let h = Header::new(Algorithm::HS256);
                let t = jsonwebtoken::encode(&h, &serde_json::json!({"sub": "admin"}), &key).expect("hs256");
                t.rsplit('.').next().expect("sig").to_owned()
            };
            let forged = format!("{header}.{claims}.{sig}");
            assert!(
                matches!(
                    k.verify(&forged, "svc"),
                    Err(TokenError::WrongKey | TokenError::Malformed)
                ),
                "{alg} accepted"
            );
        }
    }

    /// A token framed and signed as rreg did before `jsonwebtoken` (header `alg`, `typ`, `kid` in
    /// that order, the raw 64-byte P-256 signature): tokens issued before an upgrade stay valid.
    fn previous_format(pem: &str, kid: &str, claims: &serde_json::Value) -> String {
        use p256::ecdsa::signature::Signer;
        use p256::ecdsa::Signature;
        let key = SigningKey::from_pkcs8_pem(pem).expect("key");
        let header = format!(r#"{{"alg":"ES256","typ":"JWT","kid":"{kid}"}}"#);
        let input = format!(
            "{}.{}",
            B64.encode(header),
            B64.encode(serde_json::to_vec(claims).expect("claims"))
        );
        let sig: Signature = key.sign(input.as_bytes());
        format!("{input}.{}", B64.encode(sig.to_bytes()))
    }

    #[test]
    fn tokens_of_the_previous_format_stay_valid() {
        let pem = generate_pem().expect("pem");
        let k = TokenKeys::from_pem(&pem, "rreg", 300).expect("keys");
        let t = now();
        let claims = serde_json::json!({
            "iss": "rreg", "sub": "alice", "aud": "svc", "exp": t + 300, "nbf": t - 1, "iat": t,
            "jti": "abc", "access": [{"type": "repository", "name": "a/b", "actions": ["pull", "push"]}],
        });
        let old = previous_format(&pem, k.kid(), &claims);
        let c = k.verify(&old, "svc").expect("a token of the previous format is valid");
        assert_eq!(c.sub, "alice");
        assert_eq!(c.access[0].actions, vec!["pull", "push"]);
        // Session tokens (with `uid` and `iat_ms`) too.
        let mut session = claims.clone();
        session["aud"] = "svc-api".into();
        session["uid"] = 7.into();
        session["iat_ms"] = (t * 1000).into();
        let c = k
            .verify(&previous_format(&pem, k.kid(), &session), "svc-api")
            .expect("session");
        assert_eq!((c.uid, c.iat_ms), (Some(7), Some(t * 1000)));
        // And a token of the new code verifies with the old framing's rules: same header fields.
        let (new, _) = k.issue("bob", "svc", Vec::new());
        let h: serde_json::Value =
            serde_json::from_slice(&B64.decode(new.split('.').next().expect("header")).expect("b64")).expect("json");
        assert_eq!((h["alg"].as_str(), h["typ"].as_str()), (Some("ES256"), Some("JWT")));
        assert_eq!(h["kid"].as_str(), Some(k.kid()));
        // Expired, future and foreign tokens are refused.
        let mut expired = claims.clone();
        expired["exp"] = (t - 100).into();
        assert!(matches!(
            k.verify(&previous_format(&pem, k.kid(), &expired), "svc"),
            Err(TokenError::Expired)
        ));
        let mut future = claims.clone();
        future["iat"] = (t + 1000).into();
        future["nbf"] = (t + 1000).into();
        assert!(matches!(
            k.verify(&previous_format(&pem, k.kid(), &future), "svc"),
            Err(TokenError::Expired)
        ));
        let other = generate_pem().expect("pem");
        assert!(matches!(
            k.verify(&previous_format(&other, k.kid(), &claims), "svc"),
            Err(TokenError::BadSignature)
        ));
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
