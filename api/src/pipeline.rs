//! The small interface through which the API reaches the hub's recognition pipeline.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use cavs_models::{AttendanceRecord, Device};

/// A photo posted to `POST /api/capture` by a device.
#[derive(Debug, Clone)]
pub struct CaptureRequest {
    /// The (authenticated) device.
    pub device_id: String,
    /// Its classroom.
    pub classroom_id: String,
    /// Capture time.
    pub captured_at: DateTime<Utc>,
    /// Image bytes (JPEG or PNG).
    pub image: Vec<u8>,
}

/// One face found in a captured photo.
#[derive(Debug, Clone)]
pub struct CaptureFace {
    /// `[x, y, width, height]` in image pixels.
    pub bbox: [f32; 4],
    /// Detector score.
    pub score: f32,
    /// The matched student, if any.
    pub student_id: Option<Uuid>,
    /// Their name.
    pub student_name: Option<String>,
    /// Distance to the best match.
    pub distance: Option<f32>,
    /// Confidence in [0, 1].
    pub confidence: f32,
    /// The attendance record this face was written to.
    pub record: Option<AttendanceRecord>,
}

/// What the pipeline did with a captured photo.
#[derive(Debug, Clone)]
pub struct CaptureOutcome {
    /// Every face found, best match first.
    pub faces: Vec<CaptureFace>,
}

/// One face found in an enrollment photo.
#[derive(Debug, Clone)]
pub struct EnrollmentFace {
    /// `[x, y, width, height]` in image pixels.
    pub bbox: [f32; 4],
    /// Detector score.
    pub score: f32,
    /// 128-D descriptor.
    pub descriptor: Vec<f32>,
}

/// Why the pipeline could not handle a request.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// The bytes are not a supported image.
    #[error("unsupported or corrupt image: {0}")]
    BadImage(String),
    /// The image is larger than the configured pixel limit.
    #[error("image too large: {0}")]
    TooLarge(String),
    /// The pipeline is saturated; try again later.
    #[error("recognition pipeline busy")]
    Busy,
    /// The pipeline is shutting down or failed.
    #[error("recognition pipeline unavailable: {0}")]
    Unavailable(String),
}

/// Implemented by the hub: the API submits captures and enrollment photos through it and tells
/// it when enrolled faces or devices change.
#[async_trait::async_trait]
pub trait Pipeline: Send + Sync + 'static {
    /// Runs a captured photo through recognition and the attendance writer (as an MQTT frame).
    async fn capture(&self, request: CaptureRequest) -> Result<CaptureOutcome, PipelineError>;

    /// Detects and embeds every face of an enrollment photo.
    async fn embed_photo(&self, image: Vec<u8>) -> Result<Vec<EnrollmentFace>, PipelineError>;

    /// Enrolled descriptors changed: rebuild the matching gallery.
    async fn gallery_changed(&self);

    /// A device was created, changed or deleted (`None`): publish its retained config/status
    /// and refresh cached credentials.
    async fn device_changed(&self, device_id: &str, device: Option<&Device>);

    /// An account was deactivated, its password or classrooms changed: end its MQTT sessions
    /// (they reconnect, and are checked again, only with valid credentials).
    async fn account_changed(&self, username: &str);
}
