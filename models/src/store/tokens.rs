//! Single-use refresh tokens: each refresh consumes its token, so a reused one is refused.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::query::{self, Vars, de_record, run};

/// Repository of `refresh_token` records (keyed by the token's `jti`).
pub struct TokensRepo<'a> {
    db: &'a Surreal<Any>,
}

impl<'a> TokensRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>) -> Self {
        TokensRepo { db }
    }

    /// Remembers an issued refresh token.
    pub async fn issue(
        &self,
        jti: Uuid,
        user_id: Uuid,
        expires_at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        run(
            self.db,
            "CREATE type::record('refresh_token', $jti) SET user = type::record('user', $user), expires_at = <datetime>$expires, used = false;",
            Vars::new()
                .uuid("jti", jti)
                .uuid("user", user_id)
                .time("expires", expires_at),
        )
        .await
        .map(|_| ())
    }

    /// Marks the token used and returns its user, or `None` if it is unknown, already used or
    /// expired. Atomic: of two concurrent refreshes with one token, one wins.
    pub async fn consume(&self, jti: Uuid) -> Result<Option<Uuid>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            #[serde(deserialize_with = "de_record")]
            user: Uuid,
        }
        let mut response = run(
            self.db,
            "UPDATE type::record('refresh_token', $jti) SET used = true WHERE used = false AND expires_at > time::now() RETURN BEFORE;",
            Vars::new().uuid("jti", jti),
        )
        .await?;
        Ok(query::rows::<Row>(&mut response, 0, "refresh_token")?
            .pop()
            .map(|row| row.user))
    }

    /// Deletes expired and used tokens; returns how many.
    pub async fn purge(&self) -> Result<u64, StoreError> {
        let mut response = run(
            self.db,
            "DELETE refresh_token WHERE used = true OR expires_at <= time::now() RETURN BEFORE;",
            Vars::new(),
        )
        .await?;
        let removed: Vec<serde_json::Value> = response.take(0).map_err(StoreError::storage)?;
        Ok(removed.len() as u64)
    }
}
