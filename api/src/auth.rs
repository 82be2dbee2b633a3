//! Who is calling: people with a Bearer JWT (admins and teachers), devices with HTTP Basic
//! credentials (device id + device secret). Both are OpenAPI security schemes.

use cavs_models::store::verify_secret_bounded;
use cavs_models::{Actor, ClassroomScope, DeviceCredentials, DeviceStatus, Role, User};
use poem::Request;
use poem_openapi::SecurityScheme;
use poem_openapi::auth::{Basic, Bearer};

use crate::ApiState;
use crate::error::ApiError;
use crate::jwt::{TokenError, TokenService, TokenType};

/// A signed-in person (from a valid access token of an existing, active user).
#[derive(Debug, Clone)]
pub struct Principal {
    /// The user as stored now (role changes apply at once).
    pub user: User,
}

impl Principal {
    /// The audit actor.
    pub fn actor(&self) -> Actor {
        Actor::User(self.user.id)
    }

    /// Fails with 403 unless the user is an admin.
    pub fn require_admin(&self) -> Result<(), ApiError> {
        match self.user.role {
            Role::Admin => Ok(()),
            Role::Teacher => Err(ApiError::forbidden(
                "this action needs the admin role".to_owned(),
            )),
        }
    }

    /// Admins and teachers (every signed-in user) may.
    pub fn require_staff(&self) -> Result<(), ApiError> {
        Ok(())
    }

    /// The classrooms this user may see: every one for admins, their own for teachers.
    pub fn scope(&self) -> ClassroomScope {
        self.user.scope()
    }

    /// Fails with 404 (`what` not found, as if it did not exist) unless `classroom_id` is
    /// within the user's classrooms: a teacher cannot even learn that another classroom's
    /// record or device exists.
    pub fn require_classroom(&self, classroom_id: &str, what: &str) -> Result<(), ApiError> {
        if self.scope().allows(classroom_id) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!("{what} not found")))
        }
    }
}

/// JWT access token from `POST /api/auth/login`, sent as `Authorization: Bearer <access>`.
#[derive(SecurityScheme)]
#[oai(ty = "bearer", bearer_format = "JWT", checker = "check_bearer")]
pub struct BearerAuth(pub Principal);

fn state_of(req: &Request) -> Result<&ApiState, ApiError> {
    req.data::<ApiState>()
        .ok_or_else(|| ApiError::internal("ApiState missing from request data"))
}

async fn check_bearer(req: &Request, bearer: Bearer) -> poem::Result<Principal> {
    let state = state_of(req)?;
    Ok(principal_of(state, &bearer.token).await?)
}

/// Requires an active admin's access token in the request's `Authorization: Bearer` header:
/// for endpoints served beside the OpenAPI routes (the hub's `/metrics` when it is not on a
/// loopback listener).
pub async fn require_admin_bearer(state: &ApiState, req: &Request) -> Result<(), ApiError> {
    let token = req
        .headers()
        .get(poem::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthorized("an admin access token is required"))?;
    principal_of(state, token.trim()).await?.require_admin()
}

async fn principal_of(state: &ApiState, token: &str) -> Result<Principal, ApiError> {
    let claims = TokenService::new(&state.config)
        .verify(token, TokenType::Access)
        .map_err(|e| match e {
            TokenError::Expired => {
                ApiError::with_slug(401, "token-expired", "the access token has expired")
            }
            TokenError::WrongType(_) => ApiError::with_slug(
                401,
                "token-invalid",
                "a refresh token cannot be used as an access token",
            ),
            other => ApiError::with_slug(401, "token-invalid", other.to_string()),
        })?;
    let user = match state.store.users().get(claims.user_id).await {
        Ok(user) => user,
        Err(cavs_models::store::StoreError::NotFound { .. }) => {
            return Err(ApiError::with_slug(
                401,
                "token-invalid",
                "the token's user no longer exists",
            ));
        }
        Err(other) => return Err(ApiError::from(other)),
    };
    if !user.active {
        return Err(ApiError::with_slug(
            401,
            "user-inactive",
            "this account is disabled",
        ));
    }
    if issued_before_password_change(&user, claims.iat) {
        return Err(ApiError::with_slug(
            401,
            "token-revoked",
            "the password was changed after this token was issued; sign in again",
        ));
    }
    Ok(Principal { user })
}

/// True when a token issued at `iat` (seconds) predates the user's last password change.
/// Tokens of the same second as the change stay valid: the pair issued with the change itself
/// must work.
pub fn issued_before_password_change(user: &User, iat: i64) -> bool {
    user.credentials_changed_at
        .is_some_and(|changed| iat < changed.timestamp())
}

/// A camera authenticated with HTTP Basic: username = device id, password = device secret.
#[derive(SecurityScheme)]
#[oai(ty = "basic", checker = "check_basic")]
pub struct DeviceAuth(pub DeviceCredentials);

async fn check_basic(req: &Request, basic: Basic) -> poem::Result<DeviceCredentials> {
    let state = state_of(req)?;
    let refused = || ApiError::device_unauthorized("unknown device or wrong device secret");
    let credentials = state
        .store
        .devices()
        .credentials(&basic.username)
        .await
        .map_err(ApiError::from)?
        .ok_or_else(refused)?;
    let Some(hash) = credentials.secret_hash.clone() else {
        return Err(refused().into());
    };
    let matches = verify_secret_bounded(hash, basic.password).await;
    if !matches {
        return Err(refused().into());
    }
    if credentials.status != DeviceStatus::Active {
        return Err(ApiError::forbidden(format!(
            "device `{}` is {}",
            credentials.device_id,
            credentials.status.as_str()
        ))
        .into());
    }
    Ok(credentials)
}
