//! Registered camera devices, their credentials and health.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::query::{self, Vars, de_record, page_bounds, run};
use crate::protocol::{DeviceConfig, DeviceState, RESERVED_CLIENT_PREFIX, is_valid_id};
use crate::{
    Actor, ClassroomScope, Device, DeviceCredentials, DeviceFields, DeviceStatus, NewAudit, Page,
    PageRequest,
};

const DEVICE_FIELDS: &str = "id, device_id, classroom_id, location, status, state, last_seen, config, created_at, secret_hash != NONE AS has_secret";

#[derive(Deserialize)]
struct DeviceRow {
    #[serde(deserialize_with = "de_record")]
    id: Uuid,
    device_id: String,
    classroom_id: String,
    location: Option<String>,
    status: String,
    state: String,
    last_seen: Option<DateTime<Utc>>,
    config: Option<serde_json::Value>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    has_secret: bool,
}

impl DeviceRow {
    fn into_device(self) -> Device {
        Device {
            id: self.id,
            device_id: self.device_id,
            classroom_id: self.classroom_id,
            location: self.location,
            status: DeviceStatus::parse(&self.status).unwrap_or(DeviceStatus::Error),
            state: DeviceState::parse(&self.state).unwrap_or(DeviceState::Unknown),
            last_seen: self.last_seen,
            config: self
                .config
                .and_then(|c| serde_json::from_value(c).ok())
                .unwrap_or_default(),
            has_secret: self.has_secret,
            created_at: self.created_at,
        }
    }
}

fn validate(fields: &DeviceFields) -> Result<(), StoreError> {
    if !is_valid_id(&fields.device_id) {
        return Err(StoreError::Invalid(format!(
            "device_id `{}` must be 1-64 of A-Z a-z 0-9 _ . -",
            fields.device_id
        )));
    }
    if fields.device_id.starts_with(RESERVED_CLIENT_PREFIX) {
        return Err(StoreError::Invalid(format!(
            "device_id `{}` must not start with `{RESERVED_CLIENT_PREFIX}` (reserved for the hub)",
            fields.device_id
        )));
    }
    if !is_valid_id(&fields.classroom_id) {
        return Err(StoreError::Invalid(format!(
            "classroom_id `{}` must be 1-64 of A-Z a-z 0-9 _ . -",
            fields.classroom_id
        )));
    }
    fields
        .config
        .validate()
        .map_err(|e| StoreError::Invalid(e.to_string()))
}

fn bind_fields(vars: Vars, fields: &DeviceFields) -> Vars {
    vars.str("device_id", fields.device_id.clone())
        .str("classroom_id", fields.classroom_id.clone())
        .opt_str(
            "location",
            fields.location.clone().filter(|l| !l.is_empty()),
        )
        .str("status", fields.status.as_str())
        .json(
            "config",
            serde_json::to_value(&fields.config).unwrap_or_default(),
        )
}

const SET_FIELDS: &str = "device_id = $device_id, classroom_id = $classroom_id, location = $location, status = $status, config = $config";

/// Repository of `device` records.
pub struct DevicesRepo<'a> {
    db: &'a Surreal<Any>,
}

impl<'a> DevicesRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>) -> Self {
        DevicesRepo { db }
    }

    /// Registers a device; `Conflict` if the device id is taken.
    pub async fn create(&self, fields: &DeviceFields, actor: &Actor) -> Result<Device, StoreError> {
        validate(fields)?;
        let id = Uuid::now_v7();
        let audit = NewAudit::of(
            actor,
            "create",
            "device",
            id,
            serde_json::json!({ "device_id": fields.device_id, "classroom_id": fields.classroom_id }),
        );
        let sql = query::transaction(
            &format!("CREATE type::record('device', $id) SET {SET_FIELDS}, state = 'unknown';"),
            &audit,
        );
        run(
            self.db,
            sql,
            bind_fields(Vars::new().uuid("id", id), fields).audit(&audit),
        )
        .await
        .map_err(|e| conflict(e, &fields.device_id))?;
        self.get(id).await
    }

    /// The device with this record id.
    pub async fn get(&self, id: Uuid) -> Result<Device, StoreError> {
        let mut response = run(
            self.db,
            format!("SELECT {DEVICE_FIELDS} FROM ONLY type::record('device', $id);"),
            Vars::new().uuid("id", id),
        )
        .await?;
        query::one::<DeviceRow>(&mut response, 0, "device")?
            .map(DeviceRow::into_device)
            .ok_or_else(|| StoreError::not_found(format!("device {id}")))
    }

    /// The device with this device id.
    pub async fn by_device_id(&self, device_id: &str) -> Result<Device, StoreError> {
        let mut response = run(
            self.db,
            format!("SELECT {DEVICE_FIELDS} FROM device WHERE device_id = $device_id LIMIT 1;"),
            Vars::new().str("device_id", device_id),
        )
        .await?;
        query::rows::<DeviceRow>(&mut response, 0, "device")?
            .pop()
            .map(DeviceRow::into_device)
            .ok_or_else(|| StoreError::not_found(format!("device `{device_id}`")))
    }

    /// The device with this record id or, failing that, this device id.
    pub async fn find(&self, key: &str) -> Result<Device, StoreError> {
        if let Ok(id) = Uuid::parse_str(key) {
            match self.get(id).await {
                Err(StoreError::NotFound { .. }) => {}
                other => return other,
            }
        }
        self.by_device_id(key).await
    }

    /// One page of devices ordered by device id, optionally of one classroom, within `scope`.
    pub async fn list(
        &self,
        classroom_id: Option<&str>,
        scope: &ClassroomScope,
        page: &PageRequest,
    ) -> Result<Page<Device>, StoreError> {
        let (limit, start) = page_bounds(page);
        let mut conditions = Vec::new();
        if classroom_id.is_some() {
            conditions.push("classroom_id = $classroom");
        }
        if scope.classrooms().is_some() {
            conditions.push("classroom_id IN $scope");
        }
        let filter = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let mut vars = Vars::new()
            .int("limit", limit)
            .int("start", start)
            .opt_str("classroom", classroom_id);
        if let Some(scope) = scope.classrooms() {
            vars = vars.json("scope", serde_json::json!(scope));
        }
        let mut response = run(
            self.db,
            format!(
                "SELECT {DEVICE_FIELDS} FROM device {filter} ORDER BY device_id LIMIT $limit START $start;
                 SELECT count() FROM device {filter} GROUP ALL;"
            ),
            vars,
        )
        .await?;
        query::page(&mut response, "device", page, limit, |row: DeviceRow| {
            Ok(DeviceRow::into_device(row))
        })
    }

    /// Device ids of the devices in these classrooms (a teacher's cameras, for the broker's
    /// topic ACL).
    pub async fn ids_in(&self, classrooms: &[String]) -> Result<Vec<String>, StoreError> {
        let mut response = run(
            self.db,
            "SELECT VALUE device_id FROM device WHERE classroom_id IN $classrooms ORDER BY device_id;",
            Vars::new().json("classrooms", serde_json::json!(classrooms)),
        )
        .await?;
        response.take(0).map_err(StoreError::storage)
    }

    /// Every device (for start-up status republishing and health tracking).
    pub async fn all(&self) -> Result<Vec<Device>, StoreError> {
        let mut response = run(
            self.db,
            format!("SELECT {DEVICE_FIELDS} FROM device ORDER BY device_id;"),
            Vars::new(),
        )
        .await?;
        Ok(query::rows::<DeviceRow>(&mut response, 0, "device")?
            .into_iter()
            .map(DeviceRow::into_device)
            .collect())
    }

    /// Replaces a device's fields.
    pub async fn update(
        &self,
        id: Uuid,
        fields: &DeviceFields,
        actor: &Actor,
    ) -> Result<Device, StoreError> {
        validate(fields)?;
        self.get(id).await?;
        let audit = NewAudit::of(
            actor,
            "update",
            "device",
            id,
            serde_json::to_value(fields).unwrap_or_default(),
        );
        let sql = query::transaction(
            &format!("UPDATE type::record('device', $id) SET {SET_FIELDS};"),
            &audit,
        );
        run(
            self.db,
            sql,
            bind_fields(Vars::new().uuid("id", id), fields).audit(&audit),
        )
        .await
        .map_err(|e| conflict(e, &fields.device_id))?;
        self.get(id).await
    }

    /// Deletes a device (its attendance records keep their device id).
    pub async fn delete(&self, id: Uuid, actor: &Actor) -> Result<Device, StoreError> {
        let device = self.get(id).await?;
        let audit = NewAudit::of(
            actor,
            "delete",
            "device",
            id,
            serde_json::json!({ "device_id": device.device_id }),
        );
        let sql = query::transaction("DELETE type::record('device', $id);", &audit);
        run(self.db, sql, Vars::new().uuid("id", id).audit(&audit)).await?;
        Ok(device)
    }

    /// Stores new credentials (argon2 hash of the secret and the derived signing key),
    /// replacing the old ones.
    pub async fn set_credentials(
        &self,
        id: Uuid,
        secret_hash: &str,
        signing_key_hex: &str,
        actor: &Actor,
    ) -> Result<Device, StoreError> {
        let device = self.get(id).await?;
        let audit = NewAudit::of(
            actor,
            "issue_credentials",
            "device",
            id,
            serde_json::json!({ "device_id": device.device_id }),
        );
        let sql = query::transaction(
            "UPDATE type::record('device', $id) SET secret_hash = $hash, signing_key = $key;",
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .str("hash", secret_hash)
                .str("key", signing_key_hex)
                .audit(&audit),
        )
        .await?;
        self.get(id).await
    }

    /// What the broker and frame router need to trust a device, if it exists.
    pub async fn credentials(
        &self,
        device_id: &str,
    ) -> Result<Option<DeviceCredentials>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            device_id: String,
            classroom_id: String,
            status: String,
            secret_hash: Option<String>,
            signing_key: Option<String>,
        }
        let mut response = run(
            self.db,
            "SELECT device_id, classroom_id, status, secret_hash, signing_key FROM device WHERE device_id = $device_id LIMIT 1;",
            Vars::new().str("device_id", device_id),
        )
        .await?;
        Ok(query::rows::<Row>(&mut response, 0, "device")?
            .pop()
            .map(|row| DeviceCredentials {
                device_id: row.device_id,
                classroom_id: row.classroom_id,
                status: DeviceStatus::parse(&row.status).unwrap_or(DeviceStatus::Error),
                secret_hash: row.secret_hash,
                signing_key: row.signing_key,
            }))
    }

    /// Records a device's connection state and when it was last heard from (no audit entry:
    /// health updates are frequent and come from the device itself).
    pub async fn set_health(
        &self,
        device_id: &str,
        state: DeviceState,
        last_seen: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        let set_last_seen = if last_seen.is_some() {
            ", last_seen = <datetime>$last_seen"
        } else {
            ""
        };
        run(
            self.db,
            format!(
                "UPDATE device SET state = $state{set_last_seen} WHERE device_id = $device_id;"
            ),
            Vars::new()
                .str("device_id", device_id)
                .str("state", state.as_str())
                .opt_str(
                    "last_seen",
                    last_seen.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)),
                ),
        )
        .await?;
        Ok(())
    }

    /// The device's stored capture configuration.
    pub async fn config(&self, device_id: &str) -> Result<DeviceConfig, StoreError> {
        Ok(self.by_device_id(device_id).await?.config)
    }
}

fn conflict(error: StoreError, device_id: &str) -> StoreError {
    match error {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("device_id `{device_id}` already exists"))
        }
        other => other,
    }
}
