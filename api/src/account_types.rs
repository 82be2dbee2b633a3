//! The JSON shapes of `/api/auth/...` and `/api/users`: credentials, token pairs, accounts
//! and their roles.

use chrono::{DateTime, Utc};
use poem_openapi::{Enum, Object};
use uuid::Uuid;

use cavs_models::{Role, User};

use crate::text::Text;

/// A role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum RoleName {
    /// May do everything.
    Admin,
    /// Reviews attendance; reads students and devices.
    Teacher,
}

impl From<Role> for RoleName {
    fn from(role: Role) -> Self {
        match role {
            Role::Admin => RoleName::Admin,
            Role::Teacher => RoleName::Teacher,
        }
    }
}

impl From<RoleName> for Role {
    fn from(role: RoleName) -> Self {
        match role {
            RoleName::Admin => Role::Admin,
            RoleName::Teacher => Role::Teacher,
        }
    }
}

/// Credentials.
#[derive(Debug, Object)]
pub struct LoginRequest {
    /// Username.
    #[oai(validator(min_length = 1, max_length = 150))]
    pub username: Text,
    /// Password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub password: Text,
}

/// An access and a refresh token (simplejwt's names).
#[derive(Debug, Object)]
pub struct TokenPair {
    /// Access token: `Authorization: Bearer <access>`.
    pub access: String,
    /// Refresh token, single use: exchange it at `/api/auth/refresh`.
    pub refresh: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// Always `Bearer`.
    pub token_type: String,
}

/// A refresh token to exchange.
#[derive(Debug, Object)]
pub struct RefreshRequest {
    /// The refresh token from login or the previous refresh.
    #[oai(validator(min_length = 1, max_length = 4096))]
    pub refresh: Text,
}

/// A new user.
#[derive(Debug, Object)]
pub struct RegisterRequest {
    /// Unique login name (not blank).
    #[oai(validator(min_length = 1, max_length = 150, pattern = r"\S"))]
    pub username: Text,
    /// At least 8 characters.
    #[oai(validator(min_length = 8, max_length = 1024))]
    pub password: Text,
    /// Role.
    pub role: RoleName,
    /// Classrooms a teacher may see and review (ids as the devices name them); ignored for
    /// admins, who see every classroom.
    #[oai(default, validator(max_items = 256))]
    pub classrooms: Vec<Text>,
}

/// A user account.
#[derive(Debug, Object)]
pub struct UserOut {
    /// Record id.
    pub id: Uuid,
    /// Login name.
    pub username: String,
    /// Role.
    pub role: RoleName,
    /// Inactive users cannot sign in.
    pub active: bool,
    /// Classrooms a teacher is bound to (admins see every classroom).
    pub classrooms: Vec<String>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

impl From<User> for UserOut {
    fn from(user: User) -> Self {
        UserOut {
            id: user.id,
            username: user.username,
            role: user.role.into(),
            active: user.active,
            classrooms: user.classrooms,
            created_at: user.created_at,
        }
    }
}

/// A change of one's own password.
#[derive(Debug, Object)]
pub struct PasswordChange {
    /// The current password.
    #[oai(validator(min_length = 1, max_length = 1024))]
    pub old_password: Text,
    /// The new password, at least 8 characters.
    #[oai(validator(min_length = 8, max_length = 1024))]
    pub new_password: Text,
}
