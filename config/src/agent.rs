//! Settings of the `cavs-agent` camera binary.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use secrecy::SecretString;
use serde::Deserialize;

use crate::{ConfigError, Settings, lenient};

/// A capture resolution such as `640x480`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resolution {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
}

impl FromStr for Resolution {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (w, h) = s
            .split_once(['x', 'X'])
            .ok_or_else(|| format!("expected WIDTHxHEIGHT, got {s:?}"))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u32>()
                .ok()
                .filter(|n| (16..=8192).contains(n))
                .ok_or_else(|| format!("expected WIDTHxHEIGHT with sides 16..=8192, got {s:?}"))
        };
        Ok(Resolution {
            width: parse(w)?,
            height: parse(h)?,
        })
    }
}

impl fmt::Display for Resolution {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}x{}", self.width, self.height)
    }
}

impl<'de> Deserialize<'de> for Resolution {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        lenient::text(d)?.parse().map_err(serde::de::Error::custom)
    }
}

impl serde::Serialize for Resolution {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Everything a classroom camera agent needs.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct AgentSettings {
    /// The hub's broker: `mqtts://host[:8883]` (TLS, with `ca_file`) or `mqtt://host[:1883]`.
    pub broker_url: String,
    /// PEM file of the CA that signed the hub's certificate (`ca.pem` from `cavs-hub cert`):
    /// the only authority trusted for `mqtts://` (pinned; the system's roots are not used).
    #[serde(deserialize_with = "lenient::path")]
    pub ca_file: Option<PathBuf>,
    /// This device's id (MQTT client id and username), issued by an admin.
    #[serde(deserialize_with = "lenient::text")]
    pub device_id: String,
    /// This device's secret (MQTT password and frame signing key).
    #[serde(deserialize_with = "lenient::secret")]
    pub device_secret: Option<SecretString>,
    /// The classroom this camera watches.
    #[serde(deserialize_with = "lenient::text")]
    pub classroom_id: String,
    /// `v4l2:/dev/video0`, `dir:PATH`, `file:PATH` or `synthetic`.
    pub source: String,
    /// Milliseconds between captures.
    pub capture_interval_ms: u64,
    /// JPEG quality of published frames, 1..=100.
    pub jpeg_quality: u8,
    /// Capture resolution, `WIDTHxHEIGHT`.
    pub resolution: Resolution,
    /// Directory of the offline spool.
    pub spool_dir: PathBuf,
    /// Spool size cap in MiB; the oldest frames are dropped beyond it.
    pub spool_max_mb: u64,
    /// Seconds between heartbeats.
    pub heartbeat_secs: u64,
    /// Mean absolute pixel difference (0..1) below which a frame counts as unchanged and is skipped;
    /// 0 sends every frame.
    pub change_threshold: f32,
    /// Whether capturing is on (the hub may switch it through the config topic).
    pub enabled: bool,
    /// For a `dir:PATH` source: start again from the first image after the last one.
    pub source_loop: bool,
    /// Longest wait between reconnect attempts, in milliseconds (the wait doubles from 500 ms).
    pub reconnect_max_ms: u64,
}

impl Default for AgentSettings {
    fn default() -> Self {
        AgentSettings {
            broker_url: "mqtt://127.0.0.1:1883".into(),
            ca_file: None,
            device_id: String::new(),
            device_secret: None,
            classroom_id: String::new(),
            source: "v4l2:/dev/video0".into(),
            capture_interval_ms: 5000,
            jpeg_quality: 80,
            resolution: Resolution {
                width: 640,
                height: 480,
            },
            spool_dir: PathBuf::from("spool"),
            spool_max_mb: 256,
            heartbeat_secs: 30,
            change_threshold: 0.02,
            enabled: true,
            source_loop: false,
            reconnect_max_ms: 30_000,
        }
    }
}

/// Characters that may not appear in ids used as MQTT topic levels.
fn valid_topic_level(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
}

impl Settings for AgentSettings {
    const KEYS: &'static [&'static str] = &[
        "broker_url",
        "ca_file",
        "device_id",
        "device_secret",
        "classroom_id",
        "source",
        "capture_interval_ms",
        "jpeg_quality",
        "resolution",
        "spool_dir",
        "spool_max_mb",
        "heartbeat_secs",
        "change_threshold",
        "enabled",
        "source_loop",
        "reconnect_max_ms",
    ];

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &'static str, value: String, reason: &str| ConfigError::Invalid {
            setting,
            value,
            reason: reason.to_owned(),
        };
        for (name, id) in [
            ("device_id", &self.device_id),
            ("classroom_id", &self.classroom_id),
        ] {
            if !valid_topic_level(id) {
                return Err(invalid(
                    name,
                    id.clone(),
                    "required: 1-64 characters of A-Z, a-z, 0-9, '-', '_' or '.'",
                ));
            }
        }
        if self.device_secret.is_none() {
            return Err(invalid("device_secret", String::new(), "required"));
        }
        if !(self.broker_url.starts_with("mqtt://") || self.broker_url.starts_with("mqtts://")) {
            return Err(invalid(
                "broker_url",
                self.broker_url.clone(),
                "expected mqtt://HOST:PORT or mqtts://HOST:PORT",
            ));
        }
        if self.broker_url.starts_with("mqtts://") && self.ca_file.is_none() {
            return Err(invalid(
                "ca_file",
                String::new(),
                "required for mqtts://: the PEM file of the CA that signed the hub's certificate (ca.pem from `cavs-hub cert`)",
            ));
        }
        let known_source = ["v4l2:", "dir:", "file:"]
            .iter()
            .any(|p| self.source.starts_with(p))
            || self.source == "synthetic";
        if !known_source {
            return Err(invalid(
                "source",
                self.source.clone(),
                "expected v4l2:DEVICE, dir:PATH, file:PATH or synthetic",
            ));
        }
        if !(1..=100).contains(&self.jpeg_quality) {
            return Err(invalid(
                "jpeg_quality",
                self.jpeg_quality.to_string(),
                "must be 1..=100",
            ));
        }
        if self.reconnect_max_ms < 100 {
            return Err(invalid(
                "reconnect_max_ms",
                self.reconnect_max_ms.to_string(),
                "must be at least 100",
            ));
        }
        if self.capture_interval_ms == 0 || self.heartbeat_secs == 0 || self.spool_max_mb == 0 {
            return Err(invalid(
                "capture_interval_ms / heartbeat_secs / spool_max_mb",
                format!(
                    "{} / {} / {}",
                    self.capture_interval_ms, self.heartbeat_secs, self.spool_max_mb
                ),
                "must be greater than 0",
            ));
        }
        if !(0.0..=1.0).contains(&self.change_threshold) {
            return Err(invalid(
                "change_threshold",
                self.change_threshold.to_string(),
                "must be between 0 and 1",
            ));
        }
        Ok(())
    }
}

/// Whether `id` can be used as a device or classroom id (one MQTT topic level).
pub fn is_valid_id(id: &str) -> bool {
    valid_topic_level(id)
}
