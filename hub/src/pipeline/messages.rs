//! Messages passed between the pipeline's actors.

use std::time::Instant;

use bytes::Bytes;
use cavs_recognizer::{BoundingBox, Descriptor};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

use cavs_api::{CaptureOutcome, PipelineError};

/// A frame accepted by the router, on its way to recognition.
#[derive(Debug)]
pub struct FrameJob {
    /// Frame id (the envelope's, or a new one for REST captures).
    pub frame_id: Uuid,
    /// Sending device.
    pub device_id: String,
    /// Classroom.
    pub classroom_id: String,
    /// Capture time.
    pub captured_at: DateTime<Utc>,
    /// Image bytes.
    pub image: Bytes,
    /// When the hub received it.
    pub received_at: Instant,
    /// Where to send the outcome (REST captures wait for it).
    pub reply: Option<oneshot::Sender<Result<CaptureOutcome, PipelineError>>>,
}

/// The best enrolled match of a face.
#[derive(Debug, Clone, PartialEq)]
pub struct StudentMatch {
    /// Student id.
    pub student_id: Uuid,
    /// Student name.
    pub name: String,
    /// Descriptor distance.
    pub distance: f32,
    /// Confidence in [0, 1].
    pub confidence: f32,
}

/// One recognised face.
#[derive(Debug, Clone)]
pub struct RecognizedFace {
    /// Detector box.
    pub bbox: BoundingBox,
    /// Detector score.
    pub score: f32,
    /// Descriptor.
    pub descriptor: Descriptor,
    /// The aligned face crop as JPEG.
    pub crop_jpeg: Vec<u8>,
    /// Best enrolled match, if the gallery is not empty.
    pub best: Option<StudentMatch>,
}
