//! Access and refresh tokens: HS256 JWTs with the PRD's claims plus a token id (`jti`) and the
//! device session (`sid`) they belong to. Expiry is checked against the server's [`Clock`].

use chrono::{NaiveDateTime, TimeDelta};
use courier_actors::Clock;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::api::auth::TokenPair;
use crate::error::ApiError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenKind {
    Access,
    Refresh,
}

/// What a token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub user_id: i64,
    pub phone_number: String,
    pub exp: i64,
    pub iat: i64,
    #[serde(rename = "type")]
    pub kind: TokenKind,
    pub jti: String,
    /// The device session this token belongs to.
    pub sid: i64,
}

/// A freshly signed token and when it expires.
pub struct Signed {
    pub token: String,
    pub expires_at: NaiveDateTime,
}

/// Signs and checks tokens with one key.
pub struct Tokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    pub access_ttl: TimeDelta,
    pub refresh_ttl: TimeDelta,
}

impl Tokens {
    pub fn new(secret: &[u8], access_ttl_secs: u64, refresh_ttl_secs: u64) -> Tokens {
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against our clock (which tests control), not the library's.
        validation.validate_exp = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        Tokens {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            access_ttl: TimeDelta::seconds(access_ttl_secs as i64),
            refresh_ttl: TimeDelta::seconds(refresh_ttl_secs as i64),
        }
    }

    /// Signs a token of `kind` for a user's device session.
    pub fn sign(
        &self,
        kind: TokenKind,
        user_id: i64,
        phone_number: &str,
        sid: i64,
        jti: &str,
        now: NaiveDateTime,
    ) -> Result<Signed, ApiError> {
        let ttl = match kind {
            TokenKind::Access => self.access_ttl,
            TokenKind::Refresh => self.refresh_ttl,
        };
        let expires_at = now + ttl;
        let claims = Claims {
            user_id,
            phone_number: phone_number.to_string(),
            exp: expires_at.and_utc().timestamp(),
            iat: now.and_utc().timestamp(),
            kind,
            jti: jti.to_string(),
            sid,
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(ApiError::internal)?;
        Ok(Signed { token, expires_at })
    }

    /// The pair a sign-in or a refresh answers: a new access token, and the refresh token
    /// whose id (`refresh_jti`) the device session now records.
    pub fn pair(
        &self,
        user_id: i64,
        phone_number: &str,
        sid: i64,
        refresh_jti: &str,
        now: NaiveDateTime,
    ) -> Result<TokenPair, ApiError> {
        let access = self.sign(
            TokenKind::Access,
            user_id,
            phone_number,
            sid,
            &new_jti(),
            now,
        )?;
        let refresh = self.sign(
            TokenKind::Refresh,
            user_id,
            phone_number,
            sid,
            refresh_jti,
            now,
        )?;
        Ok(TokenPair {
            access_token: access.token,
            refresh_token: refresh.token,
            expires_at: access.expires_at.and_utc(),
            refresh_expires_at: refresh.expires_at.and_utc(),
        })
    }

    /// Checks signature, algorithm, kind and expiry. Any failure is a 401.
    pub fn verify(&self, token: &str, kind: TokenKind, clock: &Clock) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| ApiError::unauthorized("invalid token"))?;
        let claims = data.claims;
        if claims.kind != kind {
            return Err(ApiError::unauthorized(match kind {
                TokenKind::Access => "an access token is required",
                TokenKind::Refresh => "a refresh token is required",
            }));
        }
        if claims.exp <= clock.now().and_utc().timestamp() {
            return Err(ApiError::unauthorized("token expired"));
        }
        Ok(claims)
    }
}

/// A random token id (128 bits, hex).
pub fn new_jti() -> String {
    let bytes: [u8; 16] = rand::random();
    hex::encode(bytes)
}
