//! `GET /api/audit` (admin): the audit log with filters.

use chrono::{DateTime, Utc};
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use cavs_models::{Actor, AuditEntry, AuditFilter};

use crate::ApiState;
use crate::auth::BearerAuth;
use crate::error::ApiResult;
use crate::pagination::{Paging, page_type};
use crate::tags::ApiTags;
use crate::timeparam::time_range;

/// One audit log entry.
#[derive(Debug, Object)]
pub struct AuditOut {
    /// Entry id.
    pub id: Uuid,
    /// `user`, `device` or `system`.
    pub actor_kind: String,
    /// The user who did it (actor `user`).
    #[oai(nullable)]
    pub user_id: Option<Uuid>,
    /// The device that did it (actor `device`).
    #[oai(nullable)]
    pub device_id: Option<String>,
    /// What was done (`create`, `update`, `delete`, `review`, `enroll`, `login`, ...).
    pub action: String,
    /// Which table.
    pub target_table: String,
    /// Which record.
    #[oai(nullable)]
    pub target_id: Option<String>,
    /// Details.
    pub meta: serde_json::Value,
    /// When.
    pub timestamp: DateTime<Utc>,
}

impl From<AuditEntry> for AuditOut {
    fn from(e: AuditEntry) -> Self {
        let (actor_kind, user_id, device_id) = match e.actor {
            Actor::User(id) => ("user", Some(id), None),
            Actor::Device(id) => ("device", None, Some(id)),
            Actor::System => ("system", None, None),
        };
        AuditOut {
            id: e.id,
            actor_kind: actor_kind.to_owned(),
            user_id,
            device_id,
            action: e.action,
            target_table: e.target_table,
            target_id: e.target_id,
            meta: e.meta,
            timestamp: e.timestamp,
        }
    }
}

page_type!(AuditPage, AuditOut, "A page of audit entries.");

pub(crate) struct AuditApi {
    state: ApiState,
}

impl AuditApi {
    pub(crate) fn new(state: ApiState) -> Self {
        AuditApi { state }
    }
}

#[OpenApi(tag = "ApiTags::Audit")]
impl AuditApi {
    /// Audit entries, newest first (admin).
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/audit", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Only entries by this user.
        user_id: Query<Option<Uuid>>,
        /// Only this action (`create`, `update`, `delete`, `review`, `enroll`, `login`, ...).
        #[oai(validator(max_length = 64))]
        action: Query<Option<String>>,
        /// Only this table (`student`, `face`, `device`, `attendance`, `user`).
        #[oai(validator(max_length = 64))]
        target_table: Query<Option<String>>,
        /// Only this record.
        #[oai(validator(max_length = 128))]
        target_id: Query<Option<String>>,
        /// At or after (YYYY-MM-DD or RFC 3339).
        #[oai(validator(
            pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
        ))]
        date_from: Query<Option<String>>,
        /// Up to (YYYY-MM-DD: that whole day; RFC 3339: before that instant).
        #[oai(validator(
            pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
        ))]
        date_to: Query<Option<String>>,
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
    ) -> ApiResult<Json<AuditPage>> {
        auth.0.require_admin()?;
        let (from, to) = time_range(date_from.0.as_deref(), date_to.0.as_deref())?;
        let filter = AuditFilter {
            user_id: user_id.0,
            action: action.0,
            target_table: target_table.0,
            target_id: target_id.0,
            from,
            to,
        };
        let store = &self.state.store;
        let filter = &filter;
        let page = Paging::new(page.0, page_size.0, limit.0, offset.0)
            .fetch(|p| async move { store.audit().list(filter, &p).await })
            .await?;
        Ok(Json(AuditPage::from_page(page, AuditOut::from)))
    }
}
