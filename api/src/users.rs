//! `/api/users` (admin): list accounts, read one, change its role, classrooms or active state,
//! and reset its password. Deactivation and password resets end the account's refresh tokens
//! and MQTT sessions at once.

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use cavs_models::{User, UserUpdate};

use crate::ApiState;
use crate::account_types::{RoleName, UserOut};
use crate::auth::BearerAuth;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Paging, page_type};
use crate::tags::ApiTags;
use crate::text::Text;

page_type!(UserPage, UserOut, "One page of user accounts.");

/// An admin's change to an account; fields left out keep their value.
#[derive(Debug, Object)]
pub struct UserChange {
    /// New role.
    pub role: Option<RoleName>,
    /// `false` disables the account: its tokens are refused and its MQTT sessions end at once.
    pub active: Option<bool>,
    /// The classrooms a teacher may see (replaces the previous set).
    #[oai(validator(max_items = 256))]
    pub classrooms: Option<Vec<Text>>,
}

/// A new password set by an admin.
#[derive(Debug, Object)]
pub struct PasswordReset {
    /// At least 8 characters.
    #[oai(validator(min_length = 8, max_length = 1024))]
    pub new_password: Text,
}

pub(crate) struct UsersApi {
    state: ApiState,
}

impl UsersApi {
    pub(crate) fn new(state: ApiState) -> Self {
        UsersApi { state }
    }

    async fn find(&self, id: &str) -> ApiResult<User> {
        let missing = || ApiError::not_found(format!("user {id} not found"));
        let id = Uuid::parse_str(id).map_err(|_| missing())?;
        Ok(self.state.store.users().get(id).await?)
    }
}

#[OpenApi(tag = "ApiTags::Auth")]
impl UsersApi {
    /// Lists accounts ordered by username (admin).
    #[oai(path = "/users", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        /// 1-based page.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000000000")))]
        page: Query<Option<u64>>,
        /// Items per page (1-500, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        page_size: Query<Option<u64>>,
        /// Items wanted (alternative to `page_size`).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// Items skipped (alternative to `page`).
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
        offset: Query<Option<u64>>,
    ) -> ApiResult<Json<UserPage>> {
        auth.0.require_admin()?;
        let store = &self.state.store;
        let page = Paging::new(page.0, page_size.0, limit.0, offset.0)
            .fetch(|p| async move { store.users().list(&p).await })
            .await?;
        Ok(Json(UserPage::from_page(page, UserOut::from)))
    }

    /// One account (admin).
    #[oai(path = "/users/:id", method = "get")]
    async fn get(
        &self,
        auth: BearerAuth,
        /// User id.
        id: Path<String>,
    ) -> ApiResult<Json<UserOut>> {
        auth.0.require_admin()?;
        Ok(Json(self.find(&id.0).await?.into()))
    }

    /// Changes an account's role, active state or classrooms (admin). Answers 409 when the
    /// change would leave the hub without an active admin.
    #[oai(path = "/users/:id", method = "put")]
    async fn update(
        &self,
        auth: BearerAuth,
        /// User id.
        id: Path<String>,
        body: Json<UserChange>,
    ) -> ApiResult<Json<UserOut>> {
        auth.0.require_admin()?;
        let before = self.find(&id.0).await?;
        let body = body.0;
        let change = UserUpdate {
            role: body.role.map(Into::into),
            active: body.active,
            classrooms: body
                .classrooms
                .map(|ids| ids.into_iter().map(Text::into_inner).collect()),
        };
        let user = self
            .state
            .store
            .users()
            .update(before.id, &change, &auth.0.actor())
            .await?;
        if user.active != before.active
            || user.role != before.role
            || user.classrooms != before.classrooms
        {
            self.state.pipeline.account_changed(&user.username).await;
        }
        tracing::info!(user = %user.username, role = user.role.as_str(), active = user.active, "user updated");
        Ok(Json(user.into()))
    }

    /// Sets a new password for an account (admin reset): its refresh tokens, access tokens
    /// issued before and MQTT sessions end.
    #[oai(path = "/users/:id/password", method = "post")]
    async fn reset_password(
        &self,
        auth: BearerAuth,
        /// User id.
        id: Path<String>,
        body: Json<PasswordReset>,
    ) -> ApiResult<Json<UserOut>> {
        auth.0.require_admin()?;
        let user = self.find(&id.0).await?;
        let user = self
            .state
            .store
            .users()
            .set_password(user.id, &body.0.new_password.0, &auth.0.actor())
            .await?;
        self.state.pipeline.account_changed(&user.username).await;
        self.state
            .pipeline
            .broker_password(&user.username, &body.0.new_password.0)
            .await;
        tracing::info!(user = %user.username, "password reset by an admin");
        Ok(Json(user.into()))
    }
}
