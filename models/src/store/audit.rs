//! The audit log (entries are written by the other repositories, in their transactions).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::query::{self, Vars, de_opt_record, de_record, page_bounds, run};
use crate::{Actor, AuditEntry, AuditFilter, NewAudit, Page, PageRequest};

#[derive(Deserialize)]
struct AuditRow {
    #[serde(deserialize_with = "de_record")]
    id: Uuid,
    actor_kind: String,
    #[serde(default, deserialize_with = "de_opt_record")]
    user: Option<Uuid>,
    device_id: Option<String>,
    action: String,
    target_table: String,
    target_id: Option<String>,
    meta: Option<serde_json::Value>,
    timestamp: DateTime<Utc>,
}

impl AuditRow {
    fn into_entry(self) -> AuditEntry {
        let actor = match (self.actor_kind.as_str(), self.user, self.device_id) {
            ("user", Some(user), _) => Actor::User(user),
            ("device", _, Some(device)) => Actor::Device(device),
            _ => Actor::System,
        };
        AuditEntry {
            id: self.id,
            actor,
            action: self.action,
            target_table: self.target_table,
            target_id: self.target_id,
            meta: self.meta.unwrap_or_else(|| serde_json::json!({})),
            timestamp: self.timestamp,
        }
    }
}

/// Repository of `audit` entries.
pub struct AuditRepo<'a> {
    db: &'a Surreal<Any>,
}

impl<'a> AuditRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>) -> Self {
        AuditRepo { db }
    }

    /// Every entry about the rows `ids` of `table`, oldest first.
    pub async fn about(&self, table: &str, ids: &[String]) -> Result<Vec<AuditEntry>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut response = run(
            self.db,
            "SELECT * FROM audit WHERE target_table = $table AND target_id IN $ids ORDER BY timestamp, id;",
            Vars::new()
                .str("table", table)
                .json("ids", serde_json::json!(ids)),
        )
        .await?;
        let rows: Vec<AuditRow> = query::rows(&mut response, 0, "audit")?;
        Ok(rows.into_iter().map(AuditRow::into_entry).collect())
    }

    /// Records an event that changes no other table (a login, a refused frame).
    pub async fn record(&self, entry: &NewAudit) -> Result<(), StoreError> {
        run(
            self.db,
            query::audit_statement(entry),
            Vars::new().audit(entry),
        )
        .await
        .map(|_| ())
    }

    /// One page of entries matching `filter`, newest first.
    pub async fn list(
        &self,
        filter: &AuditFilter,
        page: &PageRequest,
    ) -> Result<Page<AuditEntry>, StoreError> {
        let (limit, start) = page_bounds(page);
        let mut conditions = Vec::new();
        let mut vars = Vars::new().int("limit", limit).int("start", start);
        if let Some(user) = filter.user_id {
            conditions.push("user = type::record('user', $user)");
            vars = vars.uuid("user", user);
        }
        if let Some(action) = &filter.action {
            conditions.push("action = $action");
            vars = vars.str("action", action.clone());
        }
        if let Some(table) = &filter.target_table {
            conditions.push("target_table = $table");
            vars = vars.str("table", table.clone());
        }
        if let Some(target) = &filter.target_id {
            conditions.push("target_id = $target");
            vars = vars.str("target", target.clone());
        }
        if let Some(from) = filter.from {
            conditions.push("timestamp >= <datetime>$from");
            vars = vars.time("from", from);
        }
        if let Some(to) = filter.to {
            conditions.push("timestamp < <datetime>$to");
            vars = vars.time("to", to);
        }
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let mut response = run(
            self.db,
            format!(
                "SELECT * FROM audit {where_clause} ORDER BY timestamp DESC, id DESC LIMIT $limit START $start;
                 SELECT count() FROM audit {where_clause} GROUP ALL;"
            ),
            vars,
        )
        .await?;
        query::page(&mut response, "audit", page, limit, |row: AuditRow| {
            Ok(AuditRow::into_entry(row))
        })
    }
}
