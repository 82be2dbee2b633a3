//! Users: accounts, their argon2 password hashes, the classrooms a teacher is bound to, and the
//! account changes that end sessions (deactivation, password change).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::query::{self, Vars, de_record, page_bounds, run};
use super::secrets::{DUMMY_HASH, hash_secret_bounded, verify_secret_bounded};
use super::tokens::REVOKE_USER_TOKENS;
use crate::scope::normalize_classrooms;
use crate::{Actor, NewAudit, NewUser, Page, PageRequest, Role, User, UserUpdate};

const USER_FIELDS: &str =
    "id, username, role, active, classrooms, credentials_changed_at, created_at";

/// The marker THROWn when a change would leave no active admin.
const LAST_ADMIN: &str = "last active admin";

/// Shortest password accepted.
pub const MIN_PASSWORD_CHARS: usize = 8;

#[derive(Deserialize)]
struct UserRow {
    #[serde(deserialize_with = "de_record")]
    id: Uuid,
    username: String,
    role: String,
    active: bool,
    #[serde(default)]
    classrooms: Option<Vec<String>>,
    #[serde(default)]
    credentials_changed_at: Option<DateTime<Utc>>,
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
            classrooms: self.classrooms.unwrap_or_default(),
            credentials_changed_at: self.credentials_changed_at,
            created_at: self.created_at,
        })
    }
}

fn check_password(password: &str) -> Result<(), StoreError> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(StoreError::Invalid(format!(
            "password must be at least {MIN_PASSWORD_CHARS} characters"
        )));
    }
    Ok(())
}

fn classrooms_of(ids: &[String]) -> Result<Vec<String>, StoreError> {
    normalize_classrooms(ids).map_err(|bad| {
        StoreError::Invalid(format!(
            "classroom id `{bad}` must be 1-64 characters of A-Z a-z 0-9 . _ -"
        ))
    })
}

/// Refuses the transaction when it leaves no active admin.
const KEEP_AN_ADMIN: &str = "IF array::len((SELECT VALUE id FROM user WHERE role = 'admin' AND active = true)) < 1 { THROW 'last active admin' };";

/// Repository of `user` records.
pub struct UsersRepo<'a> {
    db: &'a Surreal<Any>,
}

impl<'a> UsersRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>) -> Self {
        UsersRepo { db }
    }

    /// Creates a user; `Conflict` if the username is taken, `Invalid` for an empty name, a
    /// password shorter than 8 characters or a malformed classroom id.
    pub async fn create(&self, new: &NewUser, actor: &Actor) -> Result<User, StoreError> {
        let username = new.username.trim();
        if username.is_empty() || username.chars().count() > 150 {
            return Err(StoreError::Invalid(
                "username must be 1-150 characters".into(),
            ));
        }
        check_password(&new.password)?;
        let classrooms = classrooms_of(&new.classrooms)?;
        let id = Uuid::now_v7();
        let hash = hash_secret_bounded(new.password.clone()).await?;
        let audit = NewAudit::of(
            actor,
            "create",
            "user",
            id,
            serde_json::json!({ "username": username, "role": new.role.as_str(), "classrooms": classrooms }),
        );
        let sql = query::transaction(
            "CREATE type::record('user', $id) SET username = $username, password_hash = $hash, role = $role, active = true, classrooms = $classrooms;",
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
                .json("classrooms", serde_json::json!(classrooms))
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

    /// Applies an admin's change. Deactivating revokes every refresh token of the account in
    /// the same transaction. `Conflict` when the change would leave no active admin.
    pub async fn update(
        &self,
        id: Uuid,
        change: &UserUpdate,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        let before = self.get(id).await?;
        let role = change.role.unwrap_or(before.role);
        let active = change.active.unwrap_or(before.active);
        let classrooms = match &change.classrooms {
            Some(ids) => classrooms_of(ids)?,
            None => before.classrooms.clone(),
        };
        let audit = NewAudit::of(
            actor,
            "update",
            "user",
            id,
            serde_json::json!({
                "username": before.username,
                "role": role.as_str(),
                "active": active,
                "classrooms": classrooms,
                "previous": {
                    "role": before.role.as_str(),
                    "active": before.active,
                    "classrooms": before.classrooms,
                },
            }),
        );
        let revoke = if active {
            String::new()
        } else {
            format!("{REVOKE_USER_TOKENS};")
        };
        let sql = query::transaction(
            &format!(
                "UPDATE type::record('user', $id) SET role = $role, active = $active, classrooms = $classrooms;
                 {KEEP_AN_ADMIN}
                 {revoke}"
            ),
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .uuid("user_id", id)
                .str("role", role.as_str())
                .json("active", serde_json::json!(active))
                .json("classrooms", serde_json::json!(classrooms))
                .audit(&audit),
        )
        .await
        .map_err(last_admin)?;
        self.get(id).await
    }

    /// Sets a new password (own change or admin reset), revokes every refresh token of the
    /// account and stamps `credentials_changed_at`, so access tokens issued before are refused.
    pub async fn set_password(
        &self,
        id: Uuid,
        password: &str,
        actor: &Actor,
    ) -> Result<User, StoreError> {
        check_password(password)?;
        let before = self.get(id).await?;
        let hash = hash_secret_bounded(password.to_owned()).await?;
        let audit = NewAudit::of(
            actor,
            "set-password",
            "user",
            id,
            serde_json::json!({ "username": before.username }),
        );
        let sql = query::transaction(
            &format!(
                "UPDATE type::record('user', $id) SET password_hash = $hash, credentials_changed_at = time::now();
                 {REVOKE_USER_TOKENS};"
            ),
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .uuid("user_id", id)
                .str("hash", hash)
                .audit(&audit),
        )
        .await?;
        self.get(id).await
    }

    /// True when `password` is the current password of user `id` (any active state).
    pub async fn password_matches(&self, id: Uuid, password: &str) -> Result<bool, StoreError> {
        let mut response = run(
            self.db,
            "SELECT VALUE password_hash FROM ONLY type::record('user', $id);",
            Vars::new().uuid("id", id),
        )
        .await?;
        let hash: Option<String> = response.take(0).map_err(StoreError::storage)?;
        let hash = hash.ok_or_else(|| StoreError::not_found(format!("user {id}")))?;
        Ok(verify_secret_bounded(hash, password.to_owned()).await)
    }
}

fn last_admin(error: StoreError) -> StoreError {
    match error {
        StoreError::Storage(message) if message.contains(LAST_ADMIN) => {
            StoreError::Conflict("the hub must keep at least one active admin".to_owned())
        }
        other => other,
    }
}
