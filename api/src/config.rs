//! Settings the API needs, extracted from the hub's settings.

use std::path::PathBuf;

use secrecy::SecretString;

/// API settings.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// JWT signing key (HS256).
    pub secret_key: SecretString,
    /// Access token lifetime in minutes.
    pub access_minutes: u32,
    /// Refresh token lifetime in minutes.
    pub refresh_minutes: u32,
    /// Largest accepted upload in bytes.
    pub max_upload_bytes: u64,
    /// Origins allowed by CORS.
    pub cors_allowed_origins: Vec<String>,
    /// The hub's data directory (face crops and enrollment photos live under it).
    pub data_dir: PathBuf,
    /// The attendance session window (records taken by hand count once per window, like the
    /// cameras' records).
    pub session_window: chrono::Duration,
    /// Seals the face files the API writes (enrollment photos) and opens those it serves.
    pub sealer: std::sync::Arc<cavs_models::sealing::Sealer>,
}
