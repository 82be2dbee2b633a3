//! JSON payloads of the status, heartbeat, config and events topics.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ProtocolError;

/// Connection state of a device, as published (retained) on its status topic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceState {
    /// Connected (published by the agent on every connect).
    Online,
    /// Disconnected (the agent's last will, or a clean shutdown).
    Offline,
    /// Connected or not, but its heartbeats stopped (published by the hub).
    Stale,
    /// Disabled by an admin (published by the hub).
    Disabled,
    /// Never seen since it was registered.
    Unknown,
}

impl DeviceState {
    /// The lowercase name used in payloads, the database and metrics labels.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Online => "online",
            DeviceState::Offline => "offline",
            DeviceState::Stale => "stale",
            DeviceState::Disabled => "disabled",
            DeviceState::Unknown => "unknown",
        }
    }

    /// Parses [`DeviceState::as_str`]'s names.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "online" => DeviceState::Online,
            "offline" => DeviceState::Offline,
            "stale" => DeviceState::Stale,
            "disabled" => DeviceState::Disabled,
            "unknown" => DeviceState::Unknown,
            _ => return None,
        })
    }
}

/// Payload of `cavs/v1/devices/{device}/status` (QoS 1, retained).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusPayload {
    /// The device's state.
    pub state: DeviceState,
    /// When it entered this state.
    pub since: DateTime<Utc>,
    /// Agent software version, when the agent publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_version: Option<String>,
    /// Last time the hub heard from the device, when the hub publishes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen: Option<DateTime<Utc>>,
    /// Why the state changed (e.g. "missed 3 heartbeats"), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl StatusPayload {
    /// A status entered now.
    pub fn now(state: DeviceState) -> Self {
        StatusPayload {
            state,
            since: Utc::now(),
            agent_version: None,
            last_seen: None,
            reason: None,
        }
    }

    /// Parses a status payload.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        parse(bytes, "status")
    }
}

/// Payload of `cavs/v1/devices/{device}/heartbeat` (QoS 0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// Seconds since the agent started.
    pub uptime: u64,
    /// Frames acknowledged by the broker since start.
    pub frames_sent: u64,
    /// Frames waiting in the offline spool.
    pub spool_depth: u64,
    /// SoC temperature in °C, where the platform reports it.
    #[serde(default)]
    pub cpu_temp_c: Option<f32>,
    /// Free bytes on the spool's file system, where known.
    #[serde(default)]
    pub disk_free: Option<u64>,
    /// Frames the spool dropped (oldest first) because it was full, since start.
    #[serde(default)]
    pub spool_dropped: u64,
    /// Frames the change gate skipped as nearly identical to the last one sent, since start.
    #[serde(default)]
    pub frames_skipped: u64,
}

impl Heartbeat {
    /// Parses a heartbeat payload.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        parse(bytes, "heartbeat")
    }
}

/// Payload of `cavs/v1/devices/{device}/config` (QoS 1, retained), published by the hub with
/// every field. Parsing fills missing fields with the defaults; an agent that wants "missing
/// field = keep the current value" merges the raw JSON object instead (as `cavs-agent` does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct DeviceConfig {
    /// Whether the device captures at all.
    pub enabled: bool,
    /// Time between captures, in milliseconds.
    pub capture_interval_ms: u64,
    /// Capture resolution, `WIDTHxHEIGHT`.
    pub resolution: String,
    /// JPEG quality, 1–100.
    pub jpeg_quality: u8,
}

impl Default for DeviceConfig {
    fn default() -> Self {
        DeviceConfig {
            enabled: true,
            capture_interval_ms: 5000,
            resolution: "640x480".to_owned(),
            jpeg_quality: 80,
        }
    }
}

impl DeviceConfig {
    /// Parses a config payload.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        let config: DeviceConfig = parse(bytes, "config")?;
        config.validate()?;
        Ok(config)
    }

    /// Checks ranges: interval 100 ms – 1 h, quality 1–100, resolution `WxH` within 16–8192.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        let bad = |reason: String| ProtocolError::MalformedPayload {
            kind: "config",
            reason,
        };
        if !(100..=3_600_000).contains(&self.capture_interval_ms) {
            return Err(bad(format!(
                "capture_interval_ms {} outside 100..=3600000",
                self.capture_interval_ms
            )));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(bad(format!(
                "jpeg_quality {} outside 1..=100",
                self.jpeg_quality
            )));
        }
        if self.resolution_pair().is_none() {
            return Err(bad(format!(
                "resolution `{}` is not WIDTHxHEIGHT within 16..=8192",
                self.resolution
            )));
        }
        Ok(())
    }

    /// The resolution as `(width, height)`, if well-formed.
    pub fn resolution_pair(&self) -> Option<(u32, u32)> {
        let (w, h) = self.resolution.split_once(['x', 'X'])?;
        let (w, h) = (w.trim().parse().ok()?, h.trim().parse().ok()?);
        let range = 16..=8192;
        (range.contains(&w) && range.contains(&h)).then_some((w, h))
    }
}

/// What happened to an attendance record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttendanceEventKind {
    /// A new record.
    Created,
    /// A later frame raised the record's confidence.
    Updated,
    /// A teacher approved, rejected or corrected it.
    Reviewed,
}

/// Payload of `cavs/v1/classrooms/{classroom}/events` (QoS 1), published by the hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceEvent {
    /// What happened.
    pub kind: AttendanceEventKind,
    /// The record's id.
    pub record_id: Uuid,
    /// The frame that caused the event (none for reviews).
    #[serde(default)]
    pub frame_id: Option<Uuid>,
    /// The classroom.
    pub classroom_id: String,
    /// The device that saw the face.
    pub device_id: String,
    /// The matched student, none for an unknown face.
    pub student_id: Option<Uuid>,
    /// The matched student's name.
    pub predicted_name: Option<String>,
    /// Match confidence in [0, 1].
    pub confidence: f32,
    /// `pending`, `approved` or `rejected`.
    pub review_status: String,
    /// When it happened.
    pub at: DateTime<Utc>,
}

impl AttendanceEvent {
    /// The event `kind` reports about `record` (as it now stands), now; `frame_id` is the frame
    /// that caused it, none for reviews.
    pub fn of(
        kind: AttendanceEventKind,
        record: &crate::AttendanceRecord,
        frame_id: Option<Uuid>,
    ) -> Self {
        Self {
            kind,
            record_id: record.id,
            frame_id,
            classroom_id: record.classroom_id.clone(),
            device_id: record.device_id.clone(),
            student_id: record.predicted_student_id,
            predicted_name: record.predicted_name.clone(),
            confidence: record.confidence,
            review_status: record.review_status.as_str().to_owned(),
            at: Utc::now(),
        }
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    kind: &'static str,
) -> Result<T, ProtocolError> {
    serde_json::from_slice(bytes).map_err(|e| ProtocolError::MalformedPayload {
        kind,
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_json_shape() {
        let status = StatusPayload {
            agent_version: Some("0.1.0".into()),
            ..StatusPayload::now(DeviceState::Online)
        };
        let json: serde_json::Value = serde_json::to_value(&status).expect("serialises");
        assert_eq!(json["state"], "online");
        assert_eq!(json["agent_version"], "0.1.0");
        assert!(json.get("reason").is_none());
        let back =
            StatusPayload::from_slice(&serde_json::to_vec(&status).expect("json")).expect("parses");
        assert_eq!(back, status);
        assert!(StatusPayload::from_slice(br#"{"state":"sleeping","since":"x"}"#).is_err());
    }

    #[test]
    fn config_partial_and_invalid() {
        let partial = DeviceConfig::from_slice(br#"{"capture_interval_ms": 1000}"#).expect("ok");
        assert_eq!(partial.capture_interval_ms, 1000);
        assert!(partial.enabled);
        assert_eq!(partial.resolution_pair(), Some((640, 480)));
        for bad in [
            br#"{"capture_interval_ms": 5}"#.as_slice(),
            br#"{"jpeg_quality": 0}"#,
            br#"{"resolution": "big"}"#,
            br#"{"resolution": "10x10"}"#,
            b"not json",
        ] {
            assert!(
                matches!(
                    DeviceConfig::from_slice(bad),
                    Err(ProtocolError::MalformedPayload { kind: "config", .. })
                ),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn heartbeat_optional_fields() {
        let hb = Heartbeat::from_slice(br#"{"uptime":5,"frames_sent":2,"spool_depth":0}"#)
            .expect("parses");
        assert_eq!(hb.cpu_temp_c, None);
        assert_eq!(DeviceState::parse("stale"), Some(DeviceState::Stale));
        assert_eq!(DeviceState::Stale.as_str(), "stale");
    }
}
