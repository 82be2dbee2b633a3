//! Messages passed between the pipeline's actors.

use std::time::Instant;

use bytes::Bytes;
use cavs_recognizer::{BoundingBox, Descriptor, RecognizerError};
use chrono::{DateTime, Utc};
use tokio::sync::oneshot;
use uuid::Uuid;

use cavs_models::pipeline::{CaptureOutcome, PipelineError};

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
    /// Arrival order at the router (oldest first when slots free up).
    pub arrival: u64,
    /// Where to send the outcome: REST captures wait for it; MQTT frames (`None`) are answered
    /// with an ack on their device's acks topic instead.
    pub reply: Option<oneshot::Sender<Result<CaptureOutcome, PipelineError>>>,
}

impl FrameJob {
    /// True for frames that came over MQTT (and are acknowledged there).
    pub fn is_mqtt(&self) -> bool {
        self.reply.is_none()
    }
}

impl super::policy::Queued for FrameJob {
    fn classroom(&self) -> &str {
        &self.classroom_id
    }

    fn arrival(&self) -> u64 {
        self.arrival
    }
}

/// Why recognition produced no faces for a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameFailure {
    /// The image could not be decoded or analysed.
    #[error(transparent)]
    Image(#[from] RecognizerError),
    /// Recognition panicked (caught; the worker goes on).
    #[error("recognition panicked: {0}")]
    Panicked(String),
    /// A recognition worker process reported it could not read the frame.
    #[error("recognition worker: {1}")]
    Worker(FrameFailureKind, String),
}

impl FrameFailure {
    /// Which kind of rejection this failure is.
    pub fn kind(&self) -> FrameFailureKind {
        match self {
            FrameFailure::Image(_) => FrameFailureKind::Undecodable,
            FrameFailure::Panicked(_) => FrameFailureKind::Panicked,
            FrameFailure::Worker(kind, _) => *kind,
        }
    }
}

/// What the writer did with a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Committed with this many faces.
    Recorded {
        /// Faces written.
        faces: u32,
    },
    /// The frame id was committed before: nothing was written.
    Duplicate,
    /// Recognition failed for good: nothing to write.
    Rejected(FrameFailureKind),
    /// The store failed: nothing was written; the device should send the frame again.
    Failed(String),
}

/// Which [`FrameFailure`] rejected a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameFailureKind {
    /// Undecodable image.
    Undecodable,
    /// Recognition panicked.
    Panicked,
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
