//! `POST /api/auth/logout`: sign-out. The refresh token given (the proof of the sign-in) and
//! its whole rotation chain are revoked, as simplejwt's blacklist endpoint does; access tokens
//! already issued stay valid until they expire (`jwt_access_minutes`).

use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use crate::ApiState;
use crate::account_types::RefreshRequest;
use crate::error::{ApiError, ApiResult};
use crate::jwt::{TokenError, TokenService, TokenType};
use crate::tags::ApiTags;

#[derive(ApiResponse)]
enum SignedOut {
    /// The sign-in's refresh tokens are revoked (also when they already were).
    #[oai(status = 204)]
    Done,
}

pub(crate) struct SignOutApi {
    state: ApiState,
}

impl SignOutApi {
    pub(crate) fn new(state: ApiState) -> Self {
        SignOutApi { state }
    }
}

#[OpenApi(tag = "ApiTags::Auth")]
impl SignOutApi {
    /// Signs out: revokes the refresh token and every token of its rotation chain (other
    /// sign-ins of the account keep working). An expired token needs no sign-out: 204.
    #[oai(path = "/auth/logout", method = "post")]
    async fn logout(&self, body: Json<RefreshRequest>) -> ApiResult<SignedOut> {
        let claims = match TokenService::new(&self.state.config)
            .verify(&body.refresh.0, TokenType::Refresh)
        {
            Ok(claims) => claims,
            Err(TokenError::Expired) => return Ok(SignedOut::Done),
            Err(other) => return Err(ApiError::with_slug(401, "token-invalid", other.to_string())),
        };
        if self.state.store.tokens().revoke_chain(claims.jti).await? {
            tracing::debug!(user = %claims.user_id, "signed out: the refresh chain is revoked");
        }
        Ok(SignedOut::Done)
    }
}
