//! The contract between the REST API and the hub's recognition pipeline: the requests the API
//! submits, what the pipeline answers, its health, and the [`Pipeline`] trait the hub implements.
//! It lives here, outside both the HTTP crate and the actors, so neither imports the other.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::protocol::AttendanceEvent;
use crate::{AttendanceRecord, Device};

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

/// An enrolled student near a face, offered to a reviewer.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// The student.
    pub student_id: Uuid,
    /// Their name as the gallery holds it.
    pub full_name: String,
    /// Distance from the face to the student's closest enrolled face.
    pub distance: f32,
    /// Match confidence in [0, 1] of that distance (the recognizer's mapping).
    pub confidence: f32,
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

/// Which parts of the pipeline are gone (`/api/health` answers 503 naming them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineHealth {
    /// Parts that stopped: `bridge`, `router`, `writer`, `workers`.
    pub down: Vec<String>,
    /// Recognition workers alive.
    pub workers_alive: usize,
}

impl PipelineHealth {
    /// True when every part runs.
    pub fn is_ok(&self) -> bool {
        self.down.is_empty()
    }
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

    /// A device's secret was just issued, or a person's password set or verified at sign-in:
    /// an external broker that checks passwords itself gets it (the hub keeps only hashes, so
    /// this is its one chance). Nothing to do for the embedded broker, which asks the store.
    async fn broker_password(&self, _username: &str, _password: &str) {}

    /// The `limit` enrolled students nearest to `descriptor` in the live gallery, nearest
    /// first, one entry per student (their closest enrolled face). Empty for pipelines
    /// without a gallery.
    async fn candidates(&self, descriptor: Vec<f32>, limit: usize) -> Vec<Candidate>;

    /// Which parts run. Pipelines without actors of their own are always healthy.
    fn health(&self) -> PipelineHealth {
        PipelineHealth::default()
    }
}

/// The hub's attendance events for in-process subscribers (the API's live stream): the same
/// events the writer publishes on the classrooms' MQTT `events` topics, plus reviews. Bounded:
/// a subscriber that falls more than [`RecordEvents::CAPACITY`] events behind loses the oldest
/// and is told how many (it reloads), and senders never wait.
#[derive(Debug, Clone)]
pub struct RecordEvents {
    sender: tokio::sync::broadcast::Sender<AttendanceEvent>,
}

impl Default for RecordEvents {
    fn default() -> Self {
        RecordEvents {
            sender: tokio::sync::broadcast::channel(Self::CAPACITY).0,
        }
    }
}

impl RecordEvents {
    /// Events kept for a subscriber that has not read them yet.
    pub const CAPACITY: usize = 1024;

    /// Hands `event` to every current subscriber (none listening is fine).
    pub fn send(&self, event: AttendanceEvent) {
        let _ = self.sender.send(event);
    }

    /// A receiver of every event sent from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<AttendanceEvent> {
        self.sender.subscribe()
    }
}
