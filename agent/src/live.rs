//! The settings the hub may change at run time through the retained config topic.

use std::time::Duration;

use cavs_config::{AgentSettings, Resolution};
use cavs_models::protocol::{DeviceConfig, ProtocolError};

/// Capture settings in force now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Live {
    /// Whether to capture at all.
    pub enabled: bool,
    /// Time between captures.
    pub interval: Duration,
    /// Capture resolution (frames are fitted within it).
    pub resolution: Resolution,
    /// JPEG quality, 1..=100.
    pub jpeg_quality: u8,
}

impl Live {
    /// The values from the agent's own settings (before any config message).
    pub fn from_settings(settings: &AgentSettings) -> Self {
        Live {
            enabled: settings.enabled,
            interval: Duration::from_millis(settings.capture_interval_ms),
            resolution: settings.resolution,
            jpeg_quality: settings.jpeg_quality,
        }
    }

    /// Applies a config-topic payload: it must be a valid [`DeviceConfig`]; only the fields it
    /// names change (a missing field keeps the current value, as the protocol says). An invalid
    /// payload changes nothing and returns the reason.
    pub fn apply(&self, payload: &[u8]) -> Result<Live, ProtocolError> {
        let config = DeviceConfig::from_slice(payload)?;
        let present: serde_json::Map<String, serde_json::Value> =
            serde_json::from_slice(payload).map_err(|e| ProtocolError::MalformedPayload {
                kind: "config",
                reason: e.to_string(),
            })?;
        let mut next = *self;
        if present.contains_key("enabled") {
            next.enabled = config.enabled;
        }
        if present.contains_key("capture_interval_ms") {
            next.interval = Duration::from_millis(config.capture_interval_ms);
        }
        if present.contains_key("jpeg_quality") {
            next.jpeg_quality = config.jpeg_quality;
        }
        if present.contains_key("resolution")
            && let Some((width, height)) = config.resolution_pair()
        {
            next.resolution = Resolution { width, height };
        }
        Ok(next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Live {
        Live {
            enabled: true,
            interval: Duration::from_millis(2000),
            resolution: Resolution {
                width: 1280,
                height: 720,
            },
            jpeg_quality: 90,
        }
    }

    #[test]
    fn partial_config_changes_only_named_fields() {
        let next = base()
            .apply(br#"{"capture_interval_ms": 1000, "resolution": "320x240"}"#)
            .expect("valid");
        assert_eq!(next.interval, Duration::from_millis(1000));
        assert_eq!(
            next.resolution,
            Resolution {
                width: 320,
                height: 240
            }
        );
        assert_eq!(next.jpeg_quality, 90);
        assert!(next.enabled);
        let off = next.apply(br#"{"enabled": false}"#).expect("valid");
        assert!(!off.enabled);
        assert_eq!(off.interval, Duration::from_millis(1000));
    }

    #[test]
    fn invalid_config_is_refused() {
        for bad in [
            br#"{"jpeg_quality": 0}"#.as_slice(),
            br#"{"capture_interval_ms": 1}"#,
            b"[1,2]",
            b"garbage",
        ] {
            assert!(
                base().apply(bad).is_err(),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
