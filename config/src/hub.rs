//! Settings of the `cavs-hub` binary.

use std::net::SocketAddr;
use std::path::PathBuf;

use secrecy::SecretString;

/// Shortest accepted `secret_key` (the HMAC key of every JWT): 256 bits.
pub const MIN_SECRET_KEY_BYTES: usize = 32;
use serde::Deserialize;

use crate::broker::{BrokerMode, BrokerProvisioning};
use crate::{ConfigError, Settings, lenient};

/// Which face detector the recognizer runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum DetectorKind {
    /// SSD MobileNet v1: finds small faces, slower.
    #[default]
    Ssd,
    /// Tiny face detector: fast, misses more faces.
    Tiny,
}

/// How the recognizer scans a frame for faces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ScanMode {
    /// The detector's one pass plus finer passes for small faces in large frames (the
    /// whole classroom: faces from `smallest_face` px).
    #[default]
    Multiscale,
    /// The detector's one pass over the frame fitted to its input (small, near cameras).
    Single,
}

/// Everything the hub needs to start. See the README's settings table.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct HubSettings {
    /// Directory for the on-disk database, face crops and the generated secret key.
    pub data_dir: PathBuf,
    /// `surrealkv://PATH` (embedded on disk), `mem://` (tests) or `ws://host:port` (server).
    /// Unset means `surrealkv://{data_dir}/db`.
    #[serde(deserialize_with = "optional_text")]
    pub database_url: Option<String>,
    /// REST API listen address.
    pub http_addr: SocketAddr,
    /// Embedded MQTT broker listen address (plaintext).
    pub mqtt_addr: SocketAddr,
    /// MQTT over TLS listen address, served when `tls_cert_file` and `tls_key_file` are set.
    pub mqtts_addr: SocketAddr,
    /// HTTPS listen address of the REST API, served when the TLS files are set.
    pub https_addr: SocketAddr,
    /// PEM file with the server certificate (and its chain), e.g. from `cavs-hub cert`.
    #[serde(deserialize_with = "lenient::path")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM file with the server certificate's private key.
    #[serde(deserialize_with = "lenient::path")]
    pub tls_key_file: Option<PathBuf>,
    /// Allow the plaintext listeners (`http_addr`, `mqtt_addr`) on a non-loopback address.
    pub allow_plaintext: bool,
    /// JWT signing key; unset means one is generated once and kept in the data dir.
    #[serde(deserialize_with = "lenient::secret")]
    pub secret_key: Option<SecretString>,
    /// Access token lifetime in minutes.
    pub jwt_access_minutes: u32,
    /// Refresh token lifetime in minutes.
    pub jwt_refresh_minutes: u32,
    /// Largest accepted upload (photos, capture) in bytes.
    pub max_upload_bytes: u64,
    /// Confidence at or above which a match is "high" (and auto-approved if enabled).
    pub threshold_high: f32,
    /// Confidence below which a face is recorded as unknown.
    pub threshold_medium: f32,
    /// Approve high-confidence matches without review (off: every match waits for a teacher).
    pub auto_approve: bool,
    /// Origins allowed by CORS (list or comma-separated string); empty allows none.
    #[serde(deserialize_with = "lenient::list")]
    pub cors_allowed_origins: Vec<String>,
    /// Largest MQTT packet the broker accepts, in bytes (frames are JPEGs).
    pub mqtt_max_payload_bytes: usize,
    /// Most simultaneous MQTT connections.
    pub mqtt_max_connections: usize,
    /// Recognition worker threads; 0 means one per CPU core.
    pub recognizer_workers: usize,
    /// Face detector used by the pipeline.
    pub detector: DetectorKind,
    /// Smallest face side, in pixels, that is recognised.
    pub min_face_size: u32,
    /// Frame scan: `multiscale` (default) or `single`.
    pub scan: ScanMode,
    /// Multiscale scan: shorter side in pixels of the smallest face looked for.
    pub smallest_face: u32,
    /// Largest decoded image, in pixels.
    pub max_image_pixels: u64,
    /// Attendance session window: one record per student and classroom within it.
    pub session_window_minutes: u32,
    /// Frames captured further than this from the hub's clock are rejected.
    pub frame_clock_skew_secs: u32,
    /// Frames allowed in the recognition pipeline at once; beyond it the oldest queued are dropped.
    pub max_inflight_frames: usize,
    /// Most frames per second accepted from one device.
    pub device_max_fps: f32,
    /// Heartbeat interval expected from agents, in seconds.
    pub heartbeat_secs: u32,
    /// A device that misses this many heartbeats is marked stale.
    pub stale_after_missed_heartbeats: u32,
    /// The key (64 hex digits) that encrypts face files at rest; unset: generated once into
    /// `{data_dir}/data_key`.
    #[serde(deserialize_with = "lenient::secret")]
    pub data_key: Option<SecretString>,
    /// Days face crops, their descriptors and unknown faces are kept (the daily purge).
    pub crop_retention_days: u32,
    /// Days attendance records are kept.
    pub record_retention_days: u32,
    /// Days a student's enrolled faces are kept after the student was last seen or enrolled.
    pub embedding_retention_days: u32,
    /// `embedded` (rumqttd in the hub) or `external` (the hub joins `broker_url`).
    pub broker: BrokerMode,
    /// The external broker: `mqtt://HOST:PORT` or `mqtts://HOST:PORT`.
    #[serde(deserialize_with = "optional_text")]
    pub broker_url: Option<String>,
    /// The hub's service account on the external broker.
    #[serde(deserialize_with = "optional_text")]
    pub broker_username: Option<String>,
    /// Its password.
    #[serde(deserialize_with = "lenient::secret")]
    pub broker_password: Option<SecretString>,
    /// PEM of the CA that signed an `mqtts://` broker's certificate (the only one trusted).
    #[serde(deserialize_with = "lenient::path")]
    pub broker_ca_file: Option<PathBuf>,
    /// How device and people accounts reach the external broker.
    pub broker_provisioning: BrokerProvisioning,
    /// Seconds the hub waits for a recognition worker's result before recognising the frame
    /// itself (a worker that died never answers).
    pub worker_deadline_secs: u32,
}

impl Default for HubSettings {
    fn default() -> Self {
        HubSettings {
            data_dir: PathBuf::from("data"),
            database_url: None,
            http_addr: SocketAddr::from(([127, 0, 0, 1], 8000)),
            mqtt_addr: SocketAddr::from(([127, 0, 0, 1], 1883)),
            mqtts_addr: SocketAddr::from(([127, 0, 0, 1], 8883)),
            https_addr: SocketAddr::from(([127, 0, 0, 1], 8443)),
            tls_cert_file: None,
            tls_key_file: None,
            allow_plaintext: false,
            secret_key: None,
            jwt_access_minutes: 60,
            jwt_refresh_minutes: 7 * 24 * 60,
            max_upload_bytes: 10 * 1024 * 1024,
            threshold_high: 0.8,
            threshold_medium: 0.6,
            auto_approve: false,
            cors_allowed_origins: Vec::new(),
            mqtt_max_payload_bytes: 8 * 1024 * 1024,
            mqtt_max_connections: 1000,
            recognizer_workers: 0,
            detector: DetectorKind::Ssd,
            min_face_size: 20,
            scan: ScanMode::Multiscale,
            smallest_face: 24,
            max_image_pixels: 40_000_000,
            session_window_minutes: 60,
            frame_clock_skew_secs: 600,
            max_inflight_frames: 32,
            device_max_fps: 5.0,
            heartbeat_secs: 30,
            stale_after_missed_heartbeats: 3,
            data_key: None,
            crop_retention_days: 30,
            record_retention_days: 365,
            embedding_retention_days: 3 * 365,
            broker: BrokerMode::Embedded,
            broker_url: None,
            broker_username: None,
            broker_password: None,
            broker_ca_file: None,
            broker_provisioning: BrokerProvisioning::Dynsec,
            worker_deadline_secs: 15,
        }
    }
}

fn optional_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let raw = lenient::text(d)?;
    Ok((!raw.is_empty()).then_some(raw))
}

impl HubSettings {
    /// The database URL in effect: the configured one or the embedded on-disk default.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.clone(),
            None => format!("surrealkv://{}", self.data_dir.join("db").display()),
        }
    }

    /// The certificate and key files when TLS is configured (both set).
    pub fn tls_files(&self) -> Option<(&std::path::Path, &std::path::Path)> {
        match (&self.tls_cert_file, &self.tls_key_file) {
            (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
            _ => None,
        }
    }

    /// Recognition workers in effect (resolves 0 to the number of CPU cores).
    pub fn recognizer_workers(&self) -> usize {
        match self.recognizer_workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        }
    }
}

impl Settings for HubSettings {
    const KEYS: &'static [&'static str] = &[
        "data_dir",
        "database_url",
        "http_addr",
        "mqtt_addr",
        "mqtts_addr",
        "https_addr",
        "tls_cert_file",
        "tls_key_file",
        "allow_plaintext",
        "secret_key",
        "jwt_access_minutes",
        "jwt_refresh_minutes",
        "max_upload_bytes",
        "threshold_high",
        "threshold_medium",
        "auto_approve",
        "cors_allowed_origins",
        "mqtt_max_payload_bytes",
        "mqtt_max_connections",
        "recognizer_workers",
        "detector",
        "min_face_size",
        "scan",
        "smallest_face",
        "max_image_pixels",
        "session_window_minutes",
        "frame_clock_skew_secs",
        "max_inflight_frames",
        "device_max_fps",
        "heartbeat_secs",
        "stale_after_missed_heartbeats",
        "data_key",
        "crop_retention_days",
        "record_retention_days",
        "embedding_retention_days",
        "broker",
        "broker_url",
        "broker_username",
        "broker_password",
        "broker_ca_file",
        "broker_provisioning",
        "worker_deadline_secs",
    ];

    const ALIASES: &'static [(&'static str, &'static str)] = &[
        ("SECRET_KEY", "secret_key"),
        ("DATABASE_URL", "database_url"),
        ("JWT_ACCESS_TOKEN_LIFETIME", "jwt_access_minutes"),
        ("JWT_REFRESH_TOKEN_LIFETIME", "jwt_refresh_minutes"),
        ("MAX_UPLOAD_SIZE", "max_upload_bytes"),
        ("CONFIDENCE_THRESHOLD_HIGH", "threshold_high"),
        ("CONFIDENCE_THRESHOLD_MEDIUM", "threshold_medium"),
        ("CORS_ALLOWED_ORIGINS", "cors_allowed_origins"),
    ];

    fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |setting: &'static str, value: String, reason: &str| ConfigError::Invalid {
            setting,
            value,
            reason: reason.to_owned(),
        };
        for (name, value) in [
            ("threshold_high", self.threshold_high),
            ("threshold_medium", self.threshold_medium),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(invalid(name, value.to_string(), "must be between 0 and 1"));
            }
        }
        if self.threshold_medium > self.threshold_high {
            return Err(invalid(
                "threshold_medium",
                self.threshold_medium.to_string(),
                "must not exceed threshold_high",
            ));
        }
        crate::listeners::check(self)?;
        crate::broker::check(self)?;
        if let Some(key) = &self.secret_key {
            use secrecy::ExposeSecret;
            let len = key.expose_secret().len();
            if len < MIN_SECRET_KEY_BYTES {
                // The value itself is never echoed.
                return Err(invalid(
                    "secret_key",
                    format!("({len} bytes)"),
                    "must be at least 32 bytes (e.g. `openssl rand -hex 32`); leave it unset to have one generated in the data dir",
                ));
            }
        }
        if let Some(key) = &self.data_key {
            use secrecy::ExposeSecret;
            let key = key.expose_secret().trim();
            if key.len() != 64 || !key.chars().all(|c| c.is_ascii_hexdigit()) {
                // The value itself is never echoed.
                return Err(invalid(
                    "data_key",
                    format!("({} characters)", key.len()),
                    "must be 64 hex digits (256 bits, e.g. `openssl rand -hex 32`); leave it unset to have one generated in the data dir",
                ));
            }
        }
        let url = self.database_url();
        let known_scheme = ["surrealkv://", "mem://", "ws://", "wss://"]
            .iter()
            .any(|scheme| url.starts_with(scheme));
        if !known_scheme {
            return Err(invalid(
                "database_url",
                url,
                "expected surrealkv://PATH, mem:// or ws://HOST:PORT",
            ));
        }
        let positive = [
            ("jwt_access_minutes", u64::from(self.jwt_access_minutes)),
            ("jwt_refresh_minutes", u64::from(self.jwt_refresh_minutes)),
            ("max_upload_bytes", self.max_upload_bytes),
            ("max_image_pixels", self.max_image_pixels),
            (
                "session_window_minutes",
                u64::from(self.session_window_minutes),
            ),
            ("max_inflight_frames", self.max_inflight_frames as u64),
            ("heartbeat_secs", u64::from(self.heartbeat_secs)),
            (
                "stale_after_missed_heartbeats",
                u64::from(self.stale_after_missed_heartbeats),
            ),
            ("mqtt_max_connections", self.mqtt_max_connections as u64),
            ("crop_retention_days", u64::from(self.crop_retention_days)),
            (
                "record_retention_days",
                u64::from(self.record_retention_days),
            ),
            (
                "embedding_retention_days",
                u64::from(self.embedding_retention_days),
            ),
        ];
        if let Some((name, value)) = positive.iter().find(|(_, v)| *v == 0) {
            return Err(invalid(name, value.to_string(), "must be greater than 0"));
        }
        if !(8..=4096).contains(&self.smallest_face) {
            return Err(invalid(
                "smallest_face",
                self.smallest_face.to_string(),
                "must be between 8 and 4096 pixels",
            ));
        }
        if self.mqtt_max_payload_bytes < 64 * 1024 {
            return Err(invalid(
                "mqtt_max_payload_bytes",
                self.mqtt_max_payload_bytes.to_string(),
                "must be at least 65536 (frames are JPEG images)",
            ));
        }
        if !(self.device_max_fps > 0.0 && self.device_max_fps.is_finite()) {
            return Err(invalid(
                "device_max_fps",
                self.device_max_fps.to_string(),
                "must be a positive number",
            ));
        }
        Ok(())
    }
}
