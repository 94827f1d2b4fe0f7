//! `TokenService` with jsonwebtoken: HS256, HS384 or HS512 over a shared secret. Only the
//! configured algorithm is accepted, so a token whose header names another one (or `none`)
//! is refused.

use std::str::FromStr;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, decode, encode};
use movies_domain::auth::{Claims, IssuedToken, TokenService};
use movies_domain::clock::now_secs;
use movies_domain::users::{Role, User};
use movies_domain::{Error, Result};
use serde::{Deserialize, Serialize};

/// Clock skew tolerated on `exp`, in seconds.
const LEEWAY_SECS: u64 = 5;

/// The HMAC algorithms a token may be signed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JwtAlgorithm {
    Hs256,
    Hs384,
    Hs512,
}

impl FromStr for JwtAlgorithm {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "HS256" => Ok(Self::Hs256),
            "HS384" => Ok(Self::Hs384),
            "HS512" => Ok(Self::Hs512),
            other => Err(format!("{other:?} is not supported; use HS256, HS384 or HS512")),
        }
    }
}

impl From<JwtAlgorithm> for Algorithm {
    fn from(a: JwtAlgorithm) -> Self {
        match a {
            JwtAlgorithm::Hs256 => Algorithm::HS256,
            JwtAlgorithm::Hs384 => Algorithm::HS384,
            JwtAlgorithm::Hs512 => Algorithm::HS512,
        }
    }
}

/// The wire form of the claims.
#[derive(Debug, Serialize, Deserialize)]
struct Wire {
    sub: String,
    uid: i64,
    role: Role,
    iat: i64,
    exp: i64,
    jti: String,
}

pub struct JwtTokens {
    algorithm: Algorithm,
    encoding: EncodingKey,
    decoding: DecodingKey,
    /// The key signing before a rotation: its tokens still verify until they expire.
    previous: Option<DecodingKey>,
    lifetime_secs: i64,
}

impl JwtTokens {
    pub fn new(secret: &[u8], algorithm: JwtAlgorithm, lifetime_minutes: u32) -> Self {
        Self {
            algorithm: algorithm.into(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            previous: None,
            lifetime_secs: i64::from(lifetime_minutes) * 60,
        }
    }

    /// The same signer, also accepting tokens signed with `previous` (never signing with it):
    /// the key can be rotated without logging everyone out.
    #[must_use]
    pub fn accepting_previous(mut self, previous: &[u8]) -> Self {
        self.previous = Some(DecodingKey::from_secret(previous));
        self
    }

    /// Signs arbitrary claims: for tests of expired tokens.
    pub fn sign(&self, claims: &Claims) -> Result<String> {
        let wire = Wire {
            sub: claims.sub.clone(),
            uid: claims.uid,
            role: claims.role,
            iat: claims.iat,
            exp: claims.exp,
            jti: claims.jti.clone(),
        };
        encode(&Header::new(self.algorithm), &wire, &self.encoding).map_err(Error::internal)
    }
}

impl std::fmt::Debug for JwtTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtTokens").field("algorithm", &self.algorithm).finish_non_exhaustive()
    }
}

impl TokenService for JwtTokens {
    fn issue(&self, user: &User) -> Result<IssuedToken> {
        let iat = now_secs();
        let claims = Claims {
            sub: user.username.clone(),
            uid: user.id,
            role: user.role,
            iat,
            exp: iat + self.lifetime_secs,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        Ok(IssuedToken { token: self.sign(&claims)?, claims })
    }

    fn verify(&self, token: &str) -> Result<Claims> {
        let mut validation = Validation::new(self.algorithm);
        validation.leeway = LEEWAY_SECS;
        validation.set_required_spec_claims(&["exp", "sub"]);
        let data = decode::<Wire>(token, &self.decoding, &validation)
            .or_else(|e| match (&self.previous, e.kind()) {
                (Some(previous), ErrorKind::InvalidSignature) => {
                    decode::<Wire>(token, previous, &validation)
                }
                _ => Err(e),
            })
            .map_err(|_| Error::Unauthorized("Could not validate credentials"))?;
        let w = data.claims;
        Ok(Claims { sub: w.sub, uid: w.uid, role: w.role, iat: w.iat, exp: w.exp, jti: w.jti })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    fn user() -> User {
        User { id: 3, username: "ana".into(), role: Role::Admin }
    }

    #[test]
    fn an_issued_token_verifies_into_its_claims() {
        let tokens = JwtTokens::new(KEY, JwtAlgorithm::Hs256, 30);
        let issued = tokens.issue(&user()).unwrap();
        let claims = tokens.verify(&issued.token).unwrap();
        assert_eq!(claims, issued.claims);
        assert_eq!((claims.uid, claims.role, claims.exp - claims.iat), (3, Role::Admin, 1800));
    }

    #[test]
    fn every_algorithm_round_trips_and_each_token_has_its_own_jti() {
        for alg in ["HS256", "HS384", "HS512"] {
            let tokens = JwtTokens::new(KEY, alg.parse().unwrap(), 30);
            let a = tokens.issue(&user()).unwrap();
            let b = tokens.issue(&user()).unwrap();
            assert!(tokens.verify(&a.token).is_ok(), "{alg}");
            assert_ne!(a.claims.jti, b.claims.jti);
        }
        assert!("RS256".parse::<JwtAlgorithm>().is_err());
        assert!("none".parse::<JwtAlgorithm>().is_err());
    }

    #[test]
    fn another_key_another_algorithm_an_expired_or_altered_token_are_refused() {
        let tokens = JwtTokens::new(KEY, JwtAlgorithm::Hs256, 30);
        let token = tokens.issue(&user()).unwrap().token;

        let other_key =
            JwtTokens::new(b"another key, also 32 bytes long!", JwtAlgorithm::Hs256, 30);
        assert!(other_key.verify(&token).is_err());
        let other_alg = JwtTokens::new(KEY, JwtAlgorithm::Hs512, 30);
        assert!(other_alg.verify(&token).is_err());

        let mut claims = tokens.verify(&token).unwrap();
        claims.exp = now_secs() - 60;
        assert!(tokens.verify(&tokens.sign(&claims).unwrap()).is_err());

        let mut altered = token.clone();
        altered.insert(token.len() / 2, 'x');
        assert!(tokens.verify(&altered).is_err());
        assert!(tokens.verify("not a token").is_err());
    }

    #[test]
    fn after_a_rotation_the_previous_keys_tokens_verify_but_new_ones_use_the_new_key() {
        let old = JwtTokens::new(KEY, JwtAlgorithm::Hs256, 30);
        let old_token = old.issue(&user()).unwrap().token;
        let new_key = b"the new key, also 32 bytes long!";
        let rotated = JwtTokens::new(new_key, JwtAlgorithm::Hs256, 30).accepting_previous(KEY);
        assert_eq!(rotated.verify(&old_token).unwrap().uid, 3);
        let new_token = rotated.issue(&user()).unwrap().token;
        assert!(old.verify(&new_token).is_err(), "signed with the new key");
        let mut expired = rotated.verify(&old_token).unwrap();
        expired.exp = now_secs() - 60;
        assert!(rotated.verify(&old.sign(&expired).unwrap()).is_err(), "still checked in full");
        let unrelated =
            JwtTokens::new(b"a third key, again 32 bytes long", JwtAlgorithm::Hs256, 30);
        assert!(rotated.verify(&unrelated.issue(&user()).unwrap().token).is_err());
    }

    #[test]
    fn an_unsigned_token_is_refused() {
        // {"alg":"none","typ":"JWT"} . {"sub":"ana","uid":3,"role":"admin",...} . (no signature)
        let tokens = JwtTokens::new(KEY, JwtAlgorithm::Hs256, 30);
        let header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let body = "eyJzdWIiOiJhbmEiLCJ1aWQiOjMsInJvbGUiOiJhZG1pbiIsImlhdCI6MSwiZXhwIjo5OTk5OTk5OTk5LCJqdGkiOiJ4In0";
        assert!(tokens.verify(&format!("{header}.{body}.")).is_err());
    }
}
