//! End-to-end delivery of frames: the hub's acknowledgement of each frame's committed outcome
//! (`cavs/v1/devices/{device}/acks`) and the pace it admits frames at.
//!
//! A frame leaves an agent's spool only on a [`FrameAck`] whose outcome is final
//! ([`AckOutcome::is_final`]): recorded, already recorded, or refused for a reason that sending it
//! again cannot fix. A `retry` ack, or no ack at all (hub down, frame shed in transit), leaves it
//! in the spool to be sent again; the hub de-duplicates by `frame_id` (stored), so a frame sent
//! twice is counted once.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DeviceConfig, ProtocolError};

/// Key of the retained config payload in which the hub advertises the frames per second it
/// admits from one device. Agents pace what they send (live frames and replayed backlog alike)
/// below it, so admission never has to refuse a frame for its rate.
pub const CONFIG_MAX_FPS_KEY: &str = "max_fps";

/// The retained config payload the hub publishes: the device's config plus the admitted rate
/// under [`CONFIG_MAX_FPS_KEY`].
pub fn config_payload(config: &DeviceConfig, max_fps: f32) -> Vec<u8> {
    let mut value = serde_json::to_value(config).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert(CONFIG_MAX_FPS_KEY.to_owned(), serde_json::json!(max_fps));
    }
    serde_json::to_vec(&value).unwrap_or_default()
}

/// What the hub did with a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AckOutcome {
    /// Its faces were written to attendance records (zero faces included).
    Recorded,
    /// The same `frame_id` was recorded before: nothing was counted again.
    Duplicate,
    /// Refused for a reason that re-sending cannot fix (bad signature, clock skew, undecodable
    /// image, device disabled or moved...): `reason` says which.
    Rejected,
    /// Not recorded for now (pipeline full, over the rate, store failure): send it again after
    /// `retry_after_ms`.
    Retry,
}

impl AckOutcome {
    /// True when the agent may delete the frame.
    pub fn is_final(self) -> bool {
        !matches!(self, AckOutcome::Retry)
    }
}

/// Payload of `cavs/v1/devices/{device}/acks` (JSON, QoS 1, never retained).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FrameAck {
    /// The frame's id (from its envelope header).
    pub frame_id: Uuid,
    /// What happened to it.
    pub outcome: AckOutcome,
    /// Why, for `rejected` and `retry` (a `cavs_frames_dropped_total` reason label).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// For `retry`: wait at least this long before sending the frame again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// For `recorded`: faces written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faces: Option<u32>,
}

impl FrameAck {
    /// Parses an acknowledgement payload.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, ProtocolError> {
        serde_json::from_slice(bytes).map_err(|e| ProtocolError::MalformedPayload {
            kind: "ack",
            reason: e.to_string(),
        })
    }

    /// The JSON payload.
    pub fn to_vec(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ack_json_shape_and_finality() {
        let id = Uuid::now_v7();
        let ack = FrameAck {
            frame_id: id,
            outcome: AckOutcome::Retry,
            reason: Some("overloaded".into()),
            retry_after_ms: Some(2000),
            faces: None,
        };
        let json: serde_json::Value = serde_json::from_slice(&ack.to_vec()).expect("json");
        assert_eq!(json["outcome"], "retry");
        assert_eq!(json["frame_id"], id.to_string());
        assert!(json.get("faces").is_none());
        assert_eq!(FrameAck::from_slice(&ack.to_vec()).expect("parse"), ack);
        assert!(!AckOutcome::Retry.is_final());
        for outcome in [
            AckOutcome::Recorded,
            AckOutcome::Duplicate,
            AckOutcome::Rejected,
        ] {
            assert!(outcome.is_final());
        }
        assert!(FrameAck::from_slice(b"{\"outcome\":\"recorded\"}").is_err());
        let config: serde_json::Value =
            serde_json::from_slice(&config_payload(&DeviceConfig::default(), 5.0)).expect("json");
        assert_eq!(config[CONFIG_MAX_FPS_KEY], 5.0);
        assert_eq!(config["capture_interval_ms"], 5000);
    }
}
