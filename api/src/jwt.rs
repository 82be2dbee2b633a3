//! JSON Web Tokens (HS256), shaped like djangorestframework-simplejwt's: `token_type`
//! (`access` / `refresh`), `jti`, `exp`, `iat`, `user_id`, plus `username` and `role`.

use chrono::{Duration, Utc};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use cavs_models::User;

use crate::ApiConfig;

/// Kind of token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    /// Short-lived, sent as `Authorization: Bearer`.
    Access,
    /// Longer-lived, single-use, exchanged at `/api/auth/refresh`.
    Refresh,
}

/// The claims of both token kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    /// `access` or `refresh`.
    pub token_type: TokenType,
    /// Expiry (seconds since the epoch).
    pub exp: i64,
    /// Issued at (seconds since the epoch).
    pub iat: i64,
    /// Unique token id (refresh tokens are remembered by it).
    pub jti: Uuid,
    /// The user.
    pub user_id: Uuid,
    /// Their username when issued.
    pub username: String,
    /// Their role when issued (`admin` / `teacher`).
    pub role: String,
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    /// Past its `exp`.
    #[error("token expired")]
    Expired,
    /// Bad signature, bad shape or wrong algorithm.
    #[error("token invalid: {0}")]
    Invalid(String),
    /// An access token where a refresh token was expected, or the reverse.
    #[error("wrong token type: expected {0} token")]
    WrongType(&'static str),
    /// Signing failed (should not happen).
    #[error("cannot sign token: {0}")]
    Sign(String),
}

/// Signs and checks tokens with the configured secret and lifetimes.
pub struct TokenService<'a> {
    config: &'a ApiConfig,
}

impl<'a> TokenService<'a> {
    /// Uses `config`'s secret and lifetimes.
    pub fn new(config: &'a ApiConfig) -> Self {
        TokenService { config }
    }

    fn secret(&self) -> &[u8] {
        self.config.secret_key.expose_secret().as_bytes()
    }

    /// Signs a token of `kind` for `user`; returns the token and its claims.
    pub fn issue(&self, user: &User, kind: TokenType) -> Result<(String, Claims), TokenError> {
        let now = Utc::now();
        let minutes = match kind {
            TokenType::Access => self.config.access_minutes,
            TokenType::Refresh => self.config.refresh_minutes,
        };
        let claims = Claims {
            token_type: kind,
            exp: (now + Duration::minutes(i64::from(minutes.max(1)))).timestamp(),
            iat: now.timestamp(),
            jti: Uuid::new_v4(),
            user_id: user.id,
            username: user.username.clone(),
            role: user.role.as_str().to_owned(),
        };
        let token = self.sign(&claims)?;
        Ok((token, claims))
    }

    /// Signs arbitrary claims (tests use it to forge expired tokens).
    pub fn sign(&self, claims: &Claims) -> Result<String, TokenError> {
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(self.secret()),
        )
        .map_err(|e| TokenError::Sign(e.to_string()))
    }

    /// Verifies signature, algorithm, expiry and type.
    pub fn verify(&self, token: &str, kind: TokenType) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "iat"]);
        let data = jsonwebtoken::decode::<Claims>(
            token,
            &DecodingKey::from_secret(self.secret()),
            &validation,
        )
        .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            other => TokenError::Invalid(format!("{other:?}")),
        })?;
        if data.claims.token_type != kind {
            return Err(TokenError::WrongType(match kind {
                TokenType::Access => "an access",
                TokenType::Refresh => "a refresh",
            }));
        }
        Ok(data.claims)
    }
}
