//! Single-use refresh tokens in rotation chains ("families"): each refresh consumes its token
//! and issues the next of the same family; presenting a spent token again revokes the whole
//! family, so a stolen token and the token its thief (or owner) got for it both stop working.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::query::{self, Vars, de_record, run};

/// What presenting a refresh token found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    /// The token was live and is now spent: issue its successor in `family`.
    Fresh {
        /// The token's user.
        user_id: Uuid,
        /// The rotation chain it belongs to.
        family: Uuid,
    },
    /// The token was already spent: its whole family has now been revoked.
    Reused {
        /// The token's user.
        user_id: Uuid,
    },
    /// The token was revoked (its family's reuse, a password change, a deactivation).
    Revoked,
    /// Unknown (never issued, or purged after expiry) or expired.
    Unknown,
}

#[derive(Deserialize)]
struct Row {
    #[serde(deserialize_with = "de_record")]
    user: Uuid,
    family: Option<String>,
    #[serde(default)]
    revoked: Option<bool>,
}

/// Revokes every live refresh token of user `$user_id` (they stay, refused, until the purge).
/// Also run inside the users repository's transactions (deactivation, password change).
pub(super) const REVOKE_USER_TOKENS: &str = "UPDATE refresh_token SET used = true, revoked = true WHERE user = type::record('user', $user_id) AND used = false AND expires_at > time::now()";

/// Repository of `refresh_token` records (keyed by the token's `jti`).
pub struct TokensRepo<'a> {
    db: &'a Surreal<Any>,
}

impl<'a> TokensRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>) -> Self {
        TokensRepo { db }
    }

    /// Remembers an issued refresh token of rotation chain `family` (a sign-in starts a new
    /// family; a refresh continues its token's).
    pub async fn issue(
        &self,
        jti: Uuid,
        user_id: Uuid,
        family: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        run(
            self.db,
            "CREATE type::record('refresh_token', $jti) SET user = type::record('user', $user), expires_at = <datetime>$expires, used = false, revoked = false, family = $family;",
            Vars::new()
                .uuid("jti", jti)
                .uuid("user", user_id)
                .uuid("family", family)
                .time("expires", expires_at),
        )
        .await
        .map(|_| ())
    }

    /// Spends the token. Atomic: of two concurrent refreshes with one token, one finds it
    /// fresh and the other finds it reused (and revokes the family).
    pub async fn consume(&self, jti: Uuid) -> Result<TokenUse, StoreError> {
        let mut response = run(
            self.db,
            "UPDATE type::record('refresh_token', $jti) SET used = true WHERE used = false AND expires_at > time::now() RETURN BEFORE;",
            Vars::new().uuid("jti", jti),
        )
        .await?;
        if let Some(row) = query::rows::<Row>(&mut response, 0, "refresh_token")?.pop() {
            let family = family_of(&row, jti);
            return Ok(TokenUse::Fresh {
                user_id: row.user,
                family,
            });
        }
        let mut response = run(
            self.db,
            "SELECT user, family, revoked FROM ONLY type::record('refresh_token', $jti) WHERE expires_at > time::now();",
            Vars::new().uuid("jti", jti),
        )
        .await?;
        let Some(row) = query::one::<Row>(&mut response, 0, "refresh_token")? else {
            return Ok(TokenUse::Unknown);
        };
        if row.revoked == Some(true) {
            return Ok(TokenUse::Revoked);
        }
        let family = family_of(&row, jti);
        run(
            self.db,
            "UPDATE refresh_token SET used = true, revoked = true WHERE family = $family OR id = type::record('refresh_token', $jti);",
            Vars::new().uuid("family", family).uuid("jti", jti),
        )
        .await?;
        tracing::warn!(user = %row.user, %family, "refresh token reused: its family is revoked");
        Ok(TokenUse::Reused { user_id: row.user })
    }

    /// Signs out one sign-in: revokes token `jti` and every other token of its rotation chain
    /// (spent or live), so neither it nor a successor refreshes again. Other sign-ins of the
    /// user are untouched. False when the token is unknown (never issued, or purged).
    pub async fn revoke_chain(&self, jti: Uuid) -> Result<bool, StoreError> {
        let mut response = run(
            self.db,
            "SELECT user, family, revoked FROM ONLY type::record('refresh_token', $jti);",
            Vars::new().uuid("jti", jti),
        )
        .await?;
        let Some(row) = query::one::<Row>(&mut response, 0, "refresh_token")? else {
            return Ok(false);
        };
        let family = family_of(&row, jti);
        run(
            self.db,
            "UPDATE refresh_token SET used = true, revoked = true WHERE family = $family OR id = type::record('refresh_token', $jti);",
            Vars::new().uuid("family", family).uuid("jti", jti),
        )
        .await?;
        Ok(true)
    }

    /// Revokes every refresh token of a user (password change, deactivation, sign-out
    /// everywhere); returns how many were live.
    pub async fn revoke_user(&self, user_id: Uuid) -> Result<u64, StoreError> {
        let mut response = run(
            self.db,
            format!("{REVOKE_USER_TOKENS} RETURN BEFORE;"),
            Vars::new().uuid("user_id", user_id),
        )
        .await?;
        let live: Vec<serde_json::Value> = response.take(0).map_err(StoreError::storage)?;
        Ok(live.len() as u64)
    }

    /// Deletes expired and revoked tokens; returns how many. Spent tokens of a live family are
    /// kept until they expire, so their reuse is still recognised.
    pub async fn purge(&self) -> Result<u64, StoreError> {
        let mut response = run(
            self.db,
            "DELETE refresh_token WHERE revoked = true OR expires_at <= time::now() RETURN BEFORE;",
            Vars::new(),
        )
        .await?;
        let removed: Vec<serde_json::Value> = response.take(0).map_err(StoreError::storage)?;
        Ok(removed.len() as u64)
    }
}

/// Tokens issued before families existed form a family of their own.
fn family_of(row: &Row, jti: Uuid) -> Uuid {
    row.family
        .as_deref()
        .and_then(|f| Uuid::parse_str(f).ok())
        .unwrap_or(jti)
}
