//! Access tokens: short-lived HS256 JWTs with issuer, audience, subject and expiry. The
//! algorithm is fixed here, never read from the token: `alg: none`, any other algorithm and any
//! other key are refused.

use std::fmt;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::error::{AccountError, AccountResult};
use super::ids::UserId;

pub const ISSUER: &str = "ragenie";
pub const AUDIENCE: &str = "ragenie-api";
/// Access tokens live 15 minutes; refresh tokens renew them.
pub const ACCESS_TOKEN_TTL_SECS: i64 = 15 * 60;
/// The shortest signing key accepted (HS256 wants at least its 256-bit output size).
pub const MIN_KEY_BYTES: usize = 32;
/// Clock skew tolerated on `exp`.
const LEEWAY_SECS: u64 = 30;

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    /// The session (refresh-token family) the token was issued for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
    /// When the user last proved the password in this session (OpenID Connect's `auth_time`):
    /// sensitive operations want it recent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
}

/// The session an access token belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionClaims {
    pub id: String,
    pub auth_time: i64,
}

/// A signed access token and its lifetime.
#[derive(Clone, Debug)]
pub struct AccessToken {
    pub token: String,
    pub expires_in: i64,
}

/// The signing key, loaded once per process.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKeys(<redacted>)")
    }
}

impl JwtKeys {
    /// Keys from the secret's bytes (the Secrets Manager string, or the embedded store's
    /// generated file).
    pub fn from_secret(secret: &[u8]) -> AccountResult<Self> {
        if secret.len() < MIN_KEY_BYTES {
            return Err(AccountError::Unexpected(anyhow::anyhow!(
                "the JWT signing key must be at least {MIN_KEY_BYTES} bytes"
            )));
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        validation.leeway = LEEWAY_SECS;
        // Expiry is checked in `verify` against RaGenie's clock, the one tokens are issued by.
        validation.validate_exp = false;
        Ok(Self {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        })
    }

    /// A token for `user`, valid for [`ACCESS_TOKEN_TTL_SECS`] from now.
    pub fn issue(&self, user: UserId) -> AccountResult<AccessToken> {
        self.issue_at(user, crate::clock::unix_now())
    }

    /// A token as if issued at `now` (epoch seconds).
    pub fn issue_at(&self, user: UserId, now: i64) -> AccountResult<AccessToken> {
        self.sign(user, now, None)
    }

    /// A token for a session: carries its id and when the password was last proved in it.
    pub fn issue_for_session(
        &self,
        user: UserId,
        session: &SessionClaims,
    ) -> AccountResult<AccessToken> {
        self.sign(user, crate::clock::unix_now(), Some(session))
    }

    fn sign(
        &self,
        user: UserId,
        now: i64,
        session: Option<&SessionClaims>,
    ) -> AccountResult<AccessToken> {
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user.to_string(),
            iat: now,
            exp: now + ACCESS_TOKEN_TTL_SECS,
            sid: session.map(|s| s.id.clone()),
            auth_time: session.map(|s| s.auth_time),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(|e| anyhow::anyhow!("signing an access token: {e}"))?;
        Ok(AccessToken {
            token,
            expires_in: ACCESS_TOKEN_TTL_SECS,
        })
    }

    /// The user a token was issued to, if it is genuine, unexpired and meant for this API.
    pub fn verify(&self, token: &str) -> AccountResult<UserId> {
        let claims = self.claims(token)?;
        UserId::parse(&claims.sub).ok_or(AccountError::InvalidToken)
    }

    /// The claims of a genuine, unexpired token meant for this API.
    pub fn claims(&self, token: &str) -> AccountResult<Claims> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map(|data| data.claims)
            .map_err(|e| {
                tracing::debug!(reason = %e, "access token refused");
                AccountError::InvalidToken
            })?;
        if claims.exp.saturating_add(LEEWAY_SECS as i64) < crate::clock::unix_now() {
            tracing::debug!("access token refused: expired");
            return Err(AccountError::InvalidToken);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use serde_json::json;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test-key";

    fn keys() -> JwtKeys {
        JwtKeys::from_secret(KEY).unwrap()
    }

    fn claims_for(user: UserId) -> serde_json::Value {
        let now = crate::clock::unix_now();
        json!({"iss": ISSUER, "aud": AUDIENCE, "sub": user.to_string(), "iat": now, "exp": now + 600})
    }

    fn b64(v: &serde_json::Value) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(v).unwrap())
    }

    #[test]
    fn an_issued_token_verifies_to_its_user() {
        let user = UserId::new();
        let t = keys().issue(user).unwrap();
        assert_eq!(t.expires_in, 900);
        assert_eq!(keys().verify(&t.token).unwrap(), user);
    }

    #[test]
    fn a_token_with_alg_none_is_refused() {
        let user = UserId::new();
        for alg in ["none", "None", "NONE"] {
            let token = format!(
                "{}.{}.",
                b64(&json!({"alg": alg, "typ": "JWT"})),
                b64(&claims_for(user))
            );
            assert!(keys().verify(&token).is_err(), "alg {alg} accepted");
        }
    }

    #[test]
    fn a_token_signed_with_another_algorithm_is_refused_even_with_the_same_key() {
        let user = UserId::new();
        for alg in [Algorithm::HS384, Algorithm::HS512] {
            let token = jsonwebtoken::encode(
                &Header::new(alg),
                &claims_for(user),
                &EncodingKey::from_secret(KEY),
            )
            .unwrap();
            assert!(keys().verify(&token).is_err(), "{alg:?} accepted");
        }
    }

    #[test]
    fn a_token_signed_with_another_key_is_refused() {
        let other = JwtKeys::from_secret(b"another-key-another-key-another-key!").unwrap();
        let token = other.issue(UserId::new()).unwrap().token;
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let user = UserId::new();
        let token = keys().issue(user).unwrap().token;
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let mut claims = claims_for(UserId::new());
        claims["exp"] = json!(crate::clock::unix_now() + 86_400);
        parts[1] = b64(&claims);
        assert!(keys().verify(&parts.join(".")).is_err());
        // A flipped signature character.
        let mut sig = token.into_bytes();
        let last = sig.len() - 2;
        sig[last] = if sig[last] == b'A' { b'B' } else { b'A' };
        assert!(keys().verify(&String::from_utf8(sig).unwrap()).is_err());
    }

    #[test]
    fn an_expired_token_is_refused() {
        let long_ago = crate::clock::unix_now() - ACCESS_TOKEN_TTL_SECS - 120;
        let token = keys().issue_at(UserId::new(), long_ago).unwrap().token;
        assert!(keys().verify(&token).is_err());
    }

    #[test]
    fn tokens_expire_by_the_injected_clock() {
        let start = crate::clock::Timestamp::from_unix_seconds(1_800_000_000).unwrap();
        let clock = crate::clock::testing::freeze(start);
        let user = UserId::new();
        let token = keys().issue(user).unwrap().token;
        clock.advance(std::time::Duration::from_secs(ACCESS_TOKEN_TTL_SECS as u64));
        assert_eq!(
            keys().verify(&token).unwrap(),
            user,
            "valid to its last second"
        );
        clock.advance(std::time::Duration::from_secs(LEEWAY_SECS + 1));
        assert!(
            keys().verify(&token).is_err(),
            "expired on the injected clock"
        );
    }

    #[test]
    fn a_token_for_another_issuer_or_audience_or_without_expiry_is_refused() {
        let user = UserId::new();
        let sign = |c: serde_json::Value| {
            jsonwebtoken::encode(
                &Header::new(Algorithm::HS256),
                &c,
                &EncodingKey::from_secret(KEY),
            )
            .unwrap()
        };
        let mut wrong_iss = claims_for(user);
        wrong_iss["iss"] = json!("someone-else");
        let mut wrong_aud = claims_for(user);
        wrong_aud["aud"] = json!("other-api");
        let mut no_exp = claims_for(user);
        no_exp.as_object_mut().unwrap().remove("exp");
        let mut bad_sub = claims_for(user);
        bad_sub["sub"] = json!("USER#x");
        for c in [wrong_iss, wrong_aud, no_exp, bad_sub] {
            assert!(keys().verify(&sign(c.clone())).is_err(), "{c}");
        }
        assert!(keys().verify(&sign(claims_for(user))).is_ok());
        assert!(keys().verify("not.a.jwt").is_err());
        assert!(keys().verify("").is_err());
    }

    #[test]
    fn a_short_key_is_refused() {
        assert!(JwtKeys::from_secret(b"short").is_err());
    }
}
