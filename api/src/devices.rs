//! `/api/devices`: CRUD and credentials. Every change is announced to the hub through
//! [`Pipeline::device_changed`](crate::Pipeline::device_changed), which publishes the device's
//! retained config and refreshes cached credentials.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use rand::RngCore;
use uuid::Uuid;

use cavs_models::protocol::{DeviceConfig, SigningKey};
use cavs_models::store::hash_secret;
use cavs_models::{Device, DeviceFields, DeviceStatus};

use crate::ApiState;
use crate::auth::BearerAuth;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Paging, page_type};
use crate::tags::ApiTags;
use crate::text::Text;

/// Administrative status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum DeviceStatusName {
    /// May connect and send frames.
    Active,
    /// Refused.
    Inactive,
    /// Flagged as faulty.
    Error,
}

impl From<DeviceStatus> for DeviceStatusName {
    fn from(s: DeviceStatus) -> Self {
        match s {
            DeviceStatus::Active => DeviceStatusName::Active,
            DeviceStatus::Inactive => DeviceStatusName::Inactive,
            DeviceStatus::Error => DeviceStatusName::Error,
        }
    }
}

impl From<DeviceStatusName> for DeviceStatus {
    fn from(s: DeviceStatusName) -> Self {
        match s {
            DeviceStatusName::Active => DeviceStatus::Active,
            DeviceStatusName::Inactive => DeviceStatus::Inactive,
            DeviceStatusName::Error => DeviceStatus::Error,
        }
    }
}

/// Capture settings pushed to the device on its retained config topic.
#[derive(Debug, Clone, Object)]
pub struct DeviceConfigDto {
    /// Whether the device captures at all.
    pub enabled: bool,
    /// Time between captures, 100 ms - 1 h.
    #[oai(validator(minimum(value = "100"), maximum(value = "3600000")))]
    pub capture_interval_ms: u64,
    /// Capture resolution, `WIDTHxHEIGHT` (16-8192 each).
    #[oai(validator(
        pattern = r"^(1[6-9]|[2-9][0-9]|[1-9][0-9]{2}|[1-7][0-9]{3}|80[0-9]{2}|81[0-8][0-9]|819[0-2])x(1[6-9]|[2-9][0-9]|[1-9][0-9]{2}|[1-7][0-9]{3}|80[0-9]{2}|81[0-8][0-9]|819[0-2])$"
    ))]
    pub resolution: Text,
    /// JPEG quality, 1-100.
    #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
    pub jpeg_quality: u8,
}

impl From<DeviceConfig> for DeviceConfigDto {
    fn from(c: DeviceConfig) -> Self {
        DeviceConfigDto {
            enabled: c.enabled,
            capture_interval_ms: c.capture_interval_ms,
            resolution: Text(c.resolution),
            jpeg_quality: c.jpeg_quality,
        }
    }
}

impl From<DeviceConfigDto> for DeviceConfig {
    fn from(c: DeviceConfigDto) -> Self {
        DeviceConfig {
            enabled: c.enabled,
            capture_interval_ms: c.capture_interval_ms,
            resolution: c.resolution.0,
            jpeg_quality: c.jpeg_quality,
        }
    }
}

/// A registered camera.
#[derive(Debug, Object)]
pub struct DeviceOut {
    /// Record id.
    pub id: Uuid,
    /// Unique device id (MQTT username and topic segment).
    pub device_id: String,
    /// The classroom it watches.
    pub classroom_id: String,
    /// Free-text location.
    #[oai(nullable)]
    pub location: Option<String>,
    /// Administrative status.
    pub status: DeviceStatusName,
    /// Connection state last reported (`online`, `offline`, `stale`, `disabled`, `unknown`).
    pub state: String,
    /// Last time the hub heard from it.
    #[oai(nullable)]
    pub last_seen: Option<DateTime<Utc>>,
    /// Capture configuration.
    pub config: DeviceConfigDto,
    /// Whether credentials have been issued.
    pub has_secret: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

impl From<Device> for DeviceOut {
    fn from(d: Device) -> Self {
        DeviceOut {
            id: d.id,
            device_id: d.device_id,
            classroom_id: d.classroom_id,
            location: d.location,
            status: d.status.into(),
            state: d.state.as_str().to_owned(),
            last_seen: d.last_seen,
            config: d.config.into(),
            has_secret: d.has_secret,
            created_at: d.created_at,
        }
    }
}

/// Fields of a device (create, and full update with `PUT`).
#[derive(Debug, Object)]
pub struct DeviceIn {
    /// Unique device id: 1-64 of `A-Z a-z 0-9 _ . -`.
    #[oai(validator(pattern = r"^[A-Za-z0-9_.\-]{1,64}$"))]
    pub device_id: Text,
    /// Classroom id: 1-64 of `A-Z a-z 0-9 _ . -`.
    #[oai(validator(pattern = r"^[A-Za-z0-9_.\-]{1,64}$"))]
    pub classroom_id: Text,
    /// Free-text location.
    #[oai(nullable, validator(max_length = 200))]
    pub location: Option<Text>,
    /// Administrative status (default `active`).
    #[oai(nullable)]
    pub status: Option<DeviceStatusName>,
    /// Capture configuration (default: enabled, 5000 ms, 640x480, quality 80).
    #[oai(nullable)]
    pub config: Option<DeviceConfigDto>,
}

impl From<DeviceIn> for DeviceFields {
    fn from(d: DeviceIn) -> Self {
        DeviceFields {
            device_id: d.device_id.0,
            classroom_id: d.classroom_id.0,
            location: d.location.map(Text::into_inner),
            status: d.status.map_or(DeviceStatus::Active, Into::into),
            config: d.config.map(Into::into).unwrap_or_default(),
        }
    }
}

/// Newly issued device credentials; the secret is shown only this once.
#[derive(Debug, Object)]
pub struct DeviceSecret {
    /// Device id (MQTT username, HTTP Basic username).
    pub device_id: String,
    /// Device secret (MQTT password, HTTP Basic password, frame signing).
    pub secret: String,
}

page_type!(DevicePage, DeviceOut, "A page of devices.");

#[derive(ApiResponse)]
enum DeviceCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<DeviceOut>),
}

#[derive(ApiResponse)]
enum SecretIssued {
    /// New credentials; the previous secret no longer works.
    #[oai(status = 201)]
    Created(Json<DeviceSecret>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

pub(crate) struct DevicesApi {
    state: ApiState,
}

impl DevicesApi {
    pub(crate) fn new(state: ApiState) -> Self {
        DevicesApi { state }
    }

    async fn find(&self, key: &str) -> ApiResult<Device> {
        Ok(self.state.store.devices().find(key).await?)
    }
}

/// A new random device secret: 32 bytes, hex.
fn new_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

#[OpenApi(tag = "ApiTags::Devices")]
impl DevicesApi {
    /// Lists devices ordered by device id, optionally of one classroom.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/devices", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Only this classroom.
        #[oai(validator(max_length = 64))]
        classroom_id: Query<Option<String>>,
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
    ) -> ApiResult<Json<DevicePage>> {
        auth.0.require_staff()?;
        let store = &self.state.store;
        let classroom = classroom_id.0;
        let classroom = classroom.as_deref();
        let scope = &auth.0.scope();
        let page = Paging::new(page.0, page_size.0, limit.0, offset.0)
            .fetch(|p| async move { store.devices().list(classroom, scope, &p).await })
            .await?;
        Ok(Json(DevicePage::from_page(page, DeviceOut::from)))
    }

    /// Registers a device (admin). Issue its secret with `POST /api/devices/{id}/credentials`.
    #[oai(path = "/devices", method = "post")]
    async fn create(&self, auth: BearerAuth, body: Json<DeviceIn>) -> ApiResult<DeviceCreated> {
        auth.0.require_admin()?;
        let device = self
            .state
            .store
            .devices()
            .create(&body.0.into(), &auth.0.actor())
            .await?;
        self.state
            .pipeline
            .device_changed(&device.device_id, Some(&device))
            .await;
        tracing::info!(device = %device.device_id, "device registered");
        Ok(DeviceCreated::Created(Json(device.into())))
    }

    /// One device, by id or device id.
    #[oai(path = "/devices/:id", method = "get")]
    async fn get(
        &self,
        auth: BearerAuth,
        /// Record id or device id.
        id: Path<String>,
    ) -> ApiResult<Json<DeviceOut>> {
        auth.0.require_staff()?;
        let device = self.find(&id.0).await?;
        // Worded as the store's own miss for an unknown key (a record id that does not
        // exist falls back to the device-id lookup), so the two cannot be told apart.
        auth.0
            .require_classroom(&device.classroom_id, &format!("device `{}`", id.0))?;
        Ok(Json(device.into()))
    }

    /// Replaces a device's fields (admin); the new config is published on its retained config
    /// topic.
    #[oai(path = "/devices/:id", method = "put")]
    async fn update(
        &self,
        auth: BearerAuth,
        /// Record id or device id.
        id: Path<String>,
        body: Json<DeviceIn>,
    ) -> ApiResult<Json<DeviceOut>> {
        auth.0.require_admin()?;
        let before = self.find(&id.0).await?;
        let device = self
            .state
            .store
            .devices()
            .update(before.id, &body.0.into(), &auth.0.actor())
            .await?;
        if before.device_id != device.device_id {
            self.state
                .pipeline
                .device_changed(&before.device_id, None)
                .await;
        }
        self.state
            .pipeline
            .device_changed(&device.device_id, Some(&device))
            .await;
        Ok(Json(device.into()))
    }

    /// Deletes a device (admin); its attendance records stay.
    #[oai(path = "/devices/:id", method = "delete")]
    async fn delete(
        &self,
        auth: BearerAuth,
        /// Record id or device id.
        id: Path<String>,
    ) -> ApiResult<Deleted> {
        auth.0.require_admin()?;
        let device = self.find(&id.0).await?;
        self.state
            .store
            .devices()
            .delete(device.id, &auth.0.actor())
            .await?;
        self.state
            .pipeline
            .device_changed(&device.device_id, None)
            .await;
        tracing::info!(device = %device.device_id, "device deleted");
        Ok(Deleted::NoContent)
    }

    /// Issues a new secret (admin). It is shown only in this answer and stored hashed; the
    /// previous secret stops working at once.
    #[oai(path = "/devices/:id/credentials", method = "post")]
    async fn credentials(
        &self,
        auth: BearerAuth,
        /// Record id or device id.
        id: Path<String>,
    ) -> ApiResult<SecretIssued> {
        auth.0.require_admin()?;
        let device = self.find(&id.0).await?;
        let secret = new_secret();
        let hashed = {
            let secret = secret.clone();
            tokio::task::spawn_blocking(move || hash_secret(&secret))
                .await
                .map_err(ApiError::internal)??
        };
        let signing_key = SigningKey::derive(&secret).to_hex();
        let device = self
            .state
            .store
            .devices()
            .set_credentials(device.id, &hashed, &signing_key, &auth.0.actor())
            .await?;
        self.state
            .pipeline
            .broker_password(&device.device_id, &secret)
            .await;
        self.state
            .pipeline
            .device_changed(&device.device_id, Some(&device))
            .await;
        tracing::info!(device = %device.device_id, "device credentials issued");
        Ok(SecretIssued::Created(Json(DeviceSecret {
            device_id: device.device_id,
            secret,
        })))
    }
}
