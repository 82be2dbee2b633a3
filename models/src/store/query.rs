//! Small helpers shared by the repositories: bound variables, running a query, decoding rows.

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use crate::{Actor, NewAudit};

/// Variables bound to a query. `None` values are left unbound, so `$name` reads as NONE
/// (which `option<...>` fields accept, unlike NULL).
#[derive(Debug, Default, Clone)]
pub(crate) struct Vars(Map<String, Value>);

impl Vars {
    pub(crate) fn new() -> Self {
        Vars::default()
    }

    pub(crate) fn str(mut self, key: &str, value: impl Into<String>) -> Self {
        self.0.insert(key.to_owned(), Value::String(value.into()));
        self
    }

    pub(crate) fn opt_str(self, key: &str, value: Option<impl Into<String>>) -> Self {
        match value {
            Some(v) => self.str(key, v),
            None => self,
        }
    }

    pub(crate) fn int(mut self, key: &str, value: i64) -> Self {
        self.0.insert(key.to_owned(), Value::from(value));
        self
    }

    pub(crate) fn opt_int(self, key: &str, value: Option<i64>) -> Self {
        match value {
            Some(v) => self.int(key, v),
            None => self,
        }
    }

    pub(crate) fn float(mut self, key: &str, value: f64) -> Self {
        // JSON has no NaN/inf: callers validate finiteness first.
        self.0.insert(
            key.to_owned(),
            serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number),
        );
        self
    }

    pub(crate) fn opt_float(self, key: &str, value: Option<f64>) -> Self {
        match value {
            Some(v) => self.float(key, v),
            None => self,
        }
    }

    pub(crate) fn json(mut self, key: &str, value: Value) -> Self {
        self.0.insert(key.to_owned(), value);
        self
    }

    pub(crate) fn opt_json(self, key: &str, value: Option<Value>) -> Self {
        match value {
            Some(v) => self.json(key, v),
            None => self,
        }
    }

    pub(crate) fn uuid(self, key: &str, value: Uuid) -> Self {
        self.str(key, value.to_string())
    }

    pub(crate) fn time(self, key: &str, value: chrono::DateTime<chrono::Utc>) -> Self {
        self.str(
            key,
            value.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        )
    }

    /// Adds the variables of an audit entry (prefixed `audit_`).
    pub(crate) fn audit(self, audit: &NewAudit) -> Self {
        self.audit_as("audit", audit)
    }

    /// Adds the variables of an audit entry prefixed `{prefix}_`, for transactions that write
    /// several entries (see [`audit_statement_as`]).
    pub(crate) fn audit_as(self, prefix: &str, audit: &NewAudit) -> Self {
        let (kind, user, device) = match &audit.actor {
            Actor::User(id) => ("user", Some(id.to_string()), None),
            Actor::Device(id) => ("device", None, Some(id.clone())),
            Actor::System => ("system", None, None),
        };
        let key = |name: &str| format!("{prefix}_{name}");
        self.str(&key("kind"), kind)
            .opt_str(&key("user"), user)
            .opt_str(&key("device"), device)
            .str(&key("action"), audit.action.clone())
            .str(&key("table"), audit.target_table.clone())
            .opt_str(&key("target"), audit.target_id.clone())
            .json(
                &key("meta"),
                match &audit.meta {
                    Value::Object(_) => audit.meta.clone(),
                    Value::Null => Value::Object(Map::new()),
                    other => serde_json::json!({ "value": other }),
                },
            )
    }

    pub(crate) fn into_json(self) -> Value {
        Value::Object(self.0)
    }
}

/// The statement that writes the audit entry bound by [`Vars::audit`].
pub(crate) fn audit_statement(audit: &NewAudit) -> String {
    audit_statement_as("audit", audit)
}

/// The statement that writes the audit entry bound by [`Vars::audit_as`] with `prefix`.
pub(crate) fn audit_statement_as(prefix: &str, audit: &NewAudit) -> String {
    let who = match audit.actor {
        Actor::User(_) => format!("user = type::record('user', ${prefix}_user)"),
        _ => format!("device_id = ${prefix}_device"),
    };
    format!(
        "CREATE type::record('audit', <string> rand::uuid::v7()) SET actor_kind = ${prefix}_kind, {who}, \
         action = ${prefix}_action, target_table = ${prefix}_table, target_id = ${prefix}_target, meta = ${prefix}_meta;"
    )
}

/// Wraps statements and an audit statement in one transaction.
pub(crate) fn transaction(statements: &str, audit: &NewAudit) -> String {
    format!(
        "BEGIN TRANSACTION;\n{statements}\n{}\nCOMMIT TRANSACTION;",
        audit_statement(audit)
    )
}

/// Runs `sql` with `vars`, failing on the first statement error. In a failed transaction every
/// statement reports "not executed due to a failed transaction"; the error returned is the one
/// that caused it (a THROW, a unique index, a schema assertion).
pub(crate) async fn run(
    db: &Surreal<Any>,
    sql: impl Into<String>,
    vars: Vars,
) -> Result<surrealdb::IndexedResults, StoreError> {
    let mut response = db
        .query(sql.into())
        .bind(vars.into_json())
        .await
        .map_err(StoreError::storage)?;
    let mut errors: Vec<(usize, surrealdb::Error)> = response.take_errors().into_iter().collect();
    if errors.is_empty() {
        return Ok(response);
    }
    errors.sort_by_key(|(index, _)| *index);
    let cause = errors
        .iter()
        .position(|(_, e)| !e.to_string().contains("failed transaction"))
        .unwrap_or(0);
    Err(StoreError::storage(errors.swap_remove(cause).1))
}

/// Takes statement `index`'s rows and decodes each as `T`.
pub(crate) fn rows<T: DeserializeOwned>(
    response: &mut surrealdb::IndexedResults,
    index: usize,
    table: &str,
) -> Result<Vec<T>, StoreError> {
    let values: Vec<Value> = response.take(index).map_err(StoreError::storage)?;
    values
        .into_iter()
        .map(|v| serde_json::from_value(v).map_err(|e| StoreError::decode(table, e)))
        .collect()
}

/// Takes statement `index`'s single row (from `SELECT ... FROM ONLY`), if any.
pub(crate) fn one<T: DeserializeOwned>(
    response: &mut surrealdb::IndexedResults,
    index: usize,
    table: &str,
) -> Result<Option<T>, StoreError> {
    let value: Option<Value> = response.take(index).map_err(StoreError::storage)?;
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(mut items)) => match items.pop() {
            Some(v) => serde_json::from_value(v)
                .map(Some)
                .map_err(|e| StoreError::decode(table, e)),
            None => Ok(None),
        },
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| StoreError::decode(table, e)),
    }
}

/// Builds a page from a list query: statement 0 holds the rows, statement 1 the
/// `SELECT count() ... GROUP ALL` total.
pub(crate) fn page<R: DeserializeOwned, T>(
    response: &mut surrealdb::IndexedResults,
    table: &str,
    request: &crate::PageRequest,
    limit: i64,
    convert: impl FnMut(R) -> Result<T, StoreError>,
) -> Result<crate::Page<T>, StoreError> {
    let items = rows::<R>(response, 0, table)?
        .into_iter()
        .map(convert)
        .collect::<Result<Vec<_>, _>>()?;
    Ok(crate::Page {
        items,
        total: count(response, 1)?,
        page: request.page.max(1),
        page_size: limit as u64,
    })
}

/// Takes a `SELECT count() ... GROUP ALL` result.
pub(crate) fn count(
    response: &mut surrealdb::IndexedResults,
    index: usize,
) -> Result<u64, StoreError> {
    let values: Vec<Value> = response.take(index).map_err(StoreError::storage)?;
    Ok(values
        .first()
        .and_then(|row| row.get("count"))
        .and_then(Value::as_u64)
        .unwrap_or(0))
}

/// The UUID key of a record id rendered as text (`table:⟨uuid⟩`, `table:uuid`, `table:u'uuid'`).
pub(crate) fn record_key(text: &str) -> Option<Uuid> {
    let key = text.split_once(':').map_or(text, |(_, key)| key);
    let key = key
        .trim_start_matches(['⟨', '`', 'u'])
        .trim_start_matches('\'')
        .trim_end_matches(['⟩', '`', '\'']);
    Uuid::parse_str(key).ok()
}

/// Decodes a record id field into its UUID key.
pub(crate) fn de_record<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Uuid, D::Error> {
    let text = String::deserialize(d)?;
    record_key(&text).ok_or_else(|| serde::de::Error::custom(format!("not a record id: {text}")))
}

/// Decodes an optional record id field into its UUID key.
pub(crate) fn de_opt_record<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Uuid>, D::Error> {
    let text = Option::<String>::deserialize(d)?;
    match text {
        None => Ok(None),
        Some(text) => record_key(&text)
            .map(Some)
            .ok_or_else(|| serde::de::Error::custom(format!("not a record id: {text}"))),
    }
}

use serde::Deserialize;

/// LIMIT/START clause values of a page request, clamped.
pub(crate) fn page_bounds(page: &crate::PageRequest) -> (i64, i64) {
    let size = page.page_size.clamp(1, crate::PageRequest::MAX_PAGE_SIZE);
    let start = page.page.max(1).saturating_sub(1).saturating_mul(size);
    (size as i64, start.min(i64::MAX as u64) as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_keys() {
        let id = Uuid::now_v7();
        for text in [
            format!("student:⟨{id}⟩"),
            format!("student:`{id}`"),
            format!("student:u'{id}'"),
            format!("student:{id}"),
            id.to_string(),
        ] {
            assert_eq!(record_key(&text), Some(id), "{text}");
        }
        assert_eq!(record_key("student:abc"), None);
    }
}
