//! Users and their argon2 password hashes.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::query::{self, Vars, de_record, page_bounds, run};
use crate::{Actor, NewAudit, NewUser, Page, PageRequest, Role, User};

/// Hashes a password or device secret with argon2id (random salt, PHC string).
pub fn hash_secret(secret: &str) -> Result<String, StoreError> {
    let salt_bytes: [u8; 16] = rand::random();
    let salt = SaltString::encode_b64(&salt_bytes)
        .map_err(|e| StoreError::Storage(format!("salt: {e}")))?;
    Argon2::default()
        .hash_password(secret.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| StoreError::Storage(format!("argon2: {e}")))
}

/// True when `secret` matches the argon2 PHC `hash`; a malformed hash never matches.
pub fn verify_secret(hash: &str, secret: &str) -> bool {
    PasswordHash::new(hash)
        .map(|parsed| {
            Argon2::default()
                .verify_password(secret.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

/// At most this many argon2 verifications run at once: each costs ~19 MiB and tens of ms of a
/// core, so a burst of sign-ins queues here instead of taking every core and the memory.
static ARGON2_SLOTS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// [`verify_secret`] on tokio's blocking pool (never on an async worker), at most
/// two at a time process-wide.
pub async fn verify_secret_bounded(hash: String, secret: String) -> bool {
    let Ok(_slot) = ARGON2_SLOTS.acquire().await else {
        return false;
    };
    tokio::task::spawn_blocking(move || verify_secret(&hash, &secret))
        .await
        .unwrap_or(false)
}

const USER_FIELDS: &str = "id, username, role, active, created_at";

#[derive(Deserialize)]
struct UserRow {
    #[serde(deserialize_with = "de_record")]
    id: Uuid,
    username: String,
    role: String,
    active: bool,
    created_at: DateTime<Utc>,
}

impl UserRow {
    fn into_user(self) -> Result<User, StoreError> {
        let role = Role::parse(&self.role)
            .ok_or_else(|| StoreError::Storage(format!("unknown role {}", self.role)))?;
        Ok(User {
            id: self.id,
            username: self.username,
            role,
            active: self.active,
            created_at: self.created_at,
        })
    }
}

/// Repository of `user` records.
pub struct UsersRepo<'a> {
    db: &'a Surreal<Any>,
}

impl<'a> UsersRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>) -> Self {
        UsersRepo { db }
    }

    /// Creates a user; `Conflict` if the username is taken, `Invalid` for an empty name or a
    /// password shorter than 8 characters.
    pub async fn create(&self, new: &NewUser, actor: &Actor) -> Result<User, StoreError> {
        let username = new.username.trim();
        if username.is_empty() || username.chars().count() > 150 {
            return Err(StoreError::Invalid(
                "username must be 1-150 characters".into(),
            ));
        }
        if new.password.chars().count() < 8 {
            return Err(StoreError::Invalid(
                "password must be at least 8 characters".into(),
            ));
        }
        let id = Uuid::now_v7();
        let hash = hash_secret(&new.password)?;
        let audit = NewAudit::of(
            actor,
            "create",
            "user",
            id,
            serde_json::json!({ "username": username, "role": new.role.as_str() }),
        );
        let sql = query::transaction(
            "CREATE type::record('user', $id) SET username = $username, password_hash = $hash, role = $role, active = true;",
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .str("username", username)
                .str("hash", hash)
                .str("role", new.role.as_str())
                .audit(&audit),
        )
        .await
        .map_err(|e| match e {
            StoreError::Conflict(_) => {
                StoreError::Conflict(format!("username `{username}` is taken"))
            }
            other => other,
        })?;
        self.get(id).await
    }

    /// The user with this id.
    pub async fn get(&self, id: Uuid) -> Result<User, StoreError> {
        let mut response = run(
            self.db,
            format!("SELECT {USER_FIELDS} FROM ONLY type::record('user', $id);"),
            Vars::new().uuid("id", id),
        )
        .await?;
        query::one::<UserRow>(&mut response, 0, "user")?
            .ok_or_else(|| StoreError::not_found(format!("user {id}")))?
            .into_user()
    }

    /// The user with this username.
    pub async fn by_username(&self, username: &str) -> Result<User, StoreError> {
        self.auth_row(username)
            .await?
            .map(|(user, _)| user)
            .ok_or_else(|| StoreError::not_found(format!("user `{username}`")))
    }

    async fn auth_row(&self, username: &str) -> Result<Option<(User, String)>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            #[serde(flatten)]
            user: UserRow,
            password_hash: String,
        }
        let mut response = run(
            self.db,
            format!(
                "SELECT {USER_FIELDS}, password_hash FROM user WHERE username = $username LIMIT 1;"
            ),
            Vars::new().str("username", username),
        )
        .await?;
        match query::rows::<Row>(&mut response, 0, "user")?.pop() {
            Some(row) => Ok(Some((row.user.into_user()?, row.password_hash))),
            None => Ok(None),
        }
    }

    /// The active user with these credentials, or `None` (unknown user, inactive user or wrong
    /// password look the same to the caller).
    pub async fn verify_login(
        &self,
        username: &str,
        password: &str,
    ) -> Result<Option<User>, StoreError> {
        let Some((user, hash)) = self.auth_row(username).await? else {
            // Spend the same time as a real check so usernames cannot be probed by timing.
            let _ = verify_secret_bounded(DUMMY_HASH.to_owned(), password.to_owned()).await;
            return Ok(None);
        };
        let matches = verify_secret_bounded(hash, password.to_owned()).await;
        Ok((matches && user.active).then_some(user))
    }

    /// One page of users, ordered by username.
    pub async fn list(&self, page: &PageRequest) -> Result<Page<User>, StoreError> {
        let (limit, start) = page_bounds(page);
        let mut response = run(
            self.db,
            format!(
                "SELECT {USER_FIELDS} FROM user ORDER BY username LIMIT $limit START $start;
                 SELECT count() FROM user GROUP ALL;"
            ),
            Vars::new().int("limit", limit).int("start", start),
        )
        .await?;
        query::page(&mut response, "user", page, limit, UserRow::into_user)
    }

    /// Number of users (any role).
    pub async fn count(&self) -> Result<u64, StoreError> {
        let mut response = run(self.db, "SELECT count() FROM user GROUP ALL;", Vars::new()).await?;
        query::count(&mut response, 0)
    }
}

/// A valid argon2 hash of a random string, checked against when a username is unknown.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$1kJcOlUsQNL0J2QBvq8MmyzsxYxHQ6z9pt2vqgQ3Jk4";
