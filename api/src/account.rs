//! `/api/auth/...`: login, refresh (rotating, single-use refresh tokens in chains), register
//! (admins create users), me, and one's own password change.

use chrono::{TimeZone, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};
use uuid::Uuid;

use std::time::Instant;

use cavs_models::store::{StoreError, TokenUse};
use cavs_models::throttle::LoginGuard;
use cavs_models::{Actor, NewAudit, NewUser, User};
use poem::web::RemoteAddr;

use crate::ApiState;
use crate::account_types::{
    LoginRequest, PasswordChange, RefreshRequest, RegisterRequest, TokenPair, UserOut,
};
use crate::auth::{BearerAuth, issued_before_password_change};
use crate::error::{ApiError, ApiResult};
use crate::jwt::{TokenError, TokenService, TokenType};
use crate::tags::ApiTags;
use crate::text::Text;

#[derive(ApiResponse)]
enum Created {
    /// The user was created.
    #[oai(status = 201)]
    User(Json<UserOut>),
}

pub(crate) struct AccountApi {
    state: ApiState,
    /// Failed sign-ins by username and by client address.
    guard: LoginGuard,
}

impl AccountApi {
    pub(crate) fn new(state: ApiState) -> Self {
        AccountApi {
            state,
            guard: LoginGuard::default(),
        }
    }

    /// Issues an access + refresh pair and remembers the refresh token as the next of
    /// rotation chain `family`.
    async fn pair_for(&self, user: &User, family: Uuid) -> ApiResult<TokenPair> {
        issue_pair(&self.state, user, family).await
    }
}

#[OpenApi(tag = "ApiTags::Auth")]
impl AccountApi {
    /// Signs in: answers an access and a refresh token.
    #[oai(path = "/auth/login", method = "post")]
    ///
    /// More than 5 failed sign-ins within 5 minutes for a username, or from one client address,
    /// start a lockout: further attempts answer 429 with `Retry-After` (1 minute, doubling while attempts
    /// continue, up to 15 minutes).
    async fn login(
        &self,
        body: Json<LoginRequest>,
        remote: &RemoteAddr,
    ) -> ApiResult<Json<TokenPair>> {
        let username = body.username.0.trim();
        let address = client_address(remote);
        let now = Instant::now();
        self.guard
            .check(username, address.as_deref(), now)
            .map_err(ApiError::too_many_failures)?;
        let verified = self
            .state
            .store
            .users()
            .verify_login(username, &body.password.0)
            .await?;
        let Some(user) = verified else {
            self.guard.failed(username, address.as_deref(), now);
            return Err(ApiError::with_slug(
                401,
                "invalid-credentials",
                "wrong username or password",
            ));
        };
        self.guard.succeeded(username);
        // An external broker learns the password it checks (in the background: sign-in does
        // not wait on the broker).
        let pipeline = std::sync::Arc::clone(&self.state.pipeline);
        let (name, password) = (user.username.clone(), body.password.0.clone());
        tokio::spawn(async move { pipeline.broker_password(&name, &password).await });
        let pair = self.pair_for(&user, Uuid::new_v4()).await?;
        let audit = NewAudit {
            actor: Actor::User(user.id),
            action: "login".into(),
            target_table: "user".into(),
            target_id: Some(user.id.to_string()),
            meta: serde_json::json!({ "username": user.username }),
        };
        if let Err(error) = self.state.store.audit().record(&audit).await {
            tracing::warn!(%error, "cannot audit login");
        }
        tracing::info!(user = %user.username, "login");
        Ok(Json(pair))
    }

    /// Exchanges a refresh token for a new pair; the old refresh token stops working.
    #[oai(path = "/auth/refresh", method = "post")]
    async fn refresh(&self, body: Json<RefreshRequest>) -> ApiResult<Json<TokenPair>> {
        let claims = TokenService::new(&self.state.config)
            .verify(&body.refresh.0, TokenType::Refresh)
            .map_err(|e| match e {
                TokenError::Expired => {
                    ApiError::with_slug(401, "token-expired", "the refresh token has expired")
                }
                other => ApiError::with_slug(401, "token-invalid", other.to_string()),
            })?;
        let (user_id, family) = match self.state.store.tokens().consume(claims.jti).await? {
            TokenUse::Fresh { user_id, family } => (user_id, family),
            TokenUse::Reused { user_id } => {
                tracing::warn!(user = %user_id, "spent refresh token presented again: its chain is revoked");
                return Err(ApiError::with_slug(
                    401,
                    "token-reused",
                    "this refresh token was already used; every token issued from it is revoked, sign in again",
                ));
            }
            TokenUse::Revoked => {
                return Err(ApiError::with_slug(
                    401,
                    "token-revoked",
                    "this refresh token was revoked; sign in again",
                ));
            }
            TokenUse::Unknown => {
                return Err(ApiError::with_slug(
                    401,
                    "token-invalid",
                    "this refresh token is unknown, expired or revoked",
                ));
            }
        };
        let user = match self.state.store.users().get(user_id).await {
            Ok(user) if user.active && !issued_before_password_change(&user, claims.iat) => user,
            Ok(_) | Err(StoreError::NotFound { .. }) => {
                return Err(ApiError::with_slug(
                    401,
                    "user-inactive",
                    "this account is disabled or deleted, or its password was changed",
                ));
            }
            Err(other) => return Err(other.into()),
        };
        Ok(Json(self.pair_for(&user, family).await?))
    }

    /// Creates a teacher or admin account (admin only).
    #[oai(path = "/auth/register", method = "post")]
    async fn register(&self, auth: BearerAuth, body: Json<RegisterRequest>) -> ApiResult<Created> {
        auth.0.require_admin()?;
        let body = body.0;
        let password = body.password.0;
        let user = self
            .state
            .store
            .users()
            .create(
                &NewUser {
                    username: body.username.0,
                    password: password.clone(),
                    role: body.role.into(),
                    classrooms: body.classrooms.into_iter().map(Text::into_inner).collect(),
                },
                &auth.0.actor(),
            )
            .await?;
        self.state
            .pipeline
            .broker_password(&user.username, &password)
            .await;
        tracing::info!(user = %user.username, role = user.role.as_str(), "user registered");
        Ok(Created::User(Json(user.into())))
    }

    /// The signed-in user.
    #[oai(path = "/auth/me", method = "get")]
    async fn me(&self, auth: BearerAuth) -> ApiResult<Json<UserOut>> {
        Ok(Json(auth.0.user.into()))
    }

    /// Changes one's own password (the current one is required). Every refresh token and
    /// every access token issued before is revoked and MQTT sessions end; the answer is a
    /// fresh token pair for this client.
    #[oai(path = "/auth/password", method = "post")]
    async fn change_password(
        &self,
        auth: BearerAuth,
        body: Json<PasswordChange>,
        remote: &RemoteAddr,
    ) -> ApiResult<Json<TokenPair>> {
        let user = auth.0.user;
        let users = self.state.store.users();
        // Wrong current passwords count as failed sign-ins: a stolen access token must not
        // become a way to guess the password.
        let address = client_address(remote);
        let now = Instant::now();
        self.guard
            .check(&user.username, address.as_deref(), now)
            .map_err(ApiError::too_many_failures)?;
        if !users
            .password_matches(user.id, &body.old_password.0)
            .await?
        {
            self.guard.failed(&user.username, address.as_deref(), now);
            return Err(ApiError::with_slug(
                403,
                "wrong-password",
                "the current password is wrong",
            ));
        }
        let user = users
            .set_password(user.id, &body.new_password.0, &Actor::User(user.id))
            .await?;
        self.state.pipeline.account_changed(&user.username).await;
        self.state
            .pipeline
            .broker_password(&user.username, &body.new_password.0)
            .await;
        tracing::info!(user = %user.username, "password changed");
        Ok(Json(self.pair_for(&user, Uuid::new_v4()).await?))
    }
}

/// The client's IP address as the sign-in throttle keys it (none for non-TCP transports).
pub(crate) fn client_address(remote: &RemoteAddr) -> Option<String> {
    remote.as_socket_addr().map(|a| a.ip().to_string())
}

/// A new access and refresh token for `user`, the refresh token stored in chain `family`.
pub(crate) async fn issue_pair(
    state: &ApiState,
    user: &User,
    family: Uuid,
) -> ApiResult<TokenPair> {
    let tokens = TokenService::new(&state.config);
    let (access, access_claims) = tokens
        .issue(user, TokenType::Access)
        .map_err(ApiError::internal)?;
    let (refresh, refresh_claims) = tokens
        .issue(user, TokenType::Refresh)
        .map_err(ApiError::internal)?;
    let expires_at = Utc
        .timestamp_opt(refresh_claims.exp, 0)
        .single()
        .unwrap_or_else(Utc::now);
    state
        .store
        .tokens()
        .issue(refresh_claims.jti, user.id, family, expires_at)
        .await?;
    Ok(TokenPair {
        access,
        refresh,
        expires_in: (access_claims.exp - access_claims.iat).max(0) as u64,
        token_type: "Bearer".into(),
    })
}
