//! The pipeline behind `cavs-hub enroll DIR`: the offline command embeds photos with its own
//! recognizer (one per core, on blocking threads); there is no live gallery or broker in that
//! process, so the serving hub picks the new descriptors up when it next loads its gallery
//! (at start, or on any enrollment change through the API).

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use cavs_models::Device;
use cavs_models::pipeline::{
    Candidate, CaptureOutcome, CaptureRequest, EnrollmentFace, Pipeline, PipelineError,
};
use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerConfig};

use crate::pipeline::pool::enrollment_faces;

/// Embeds enrollment photos in-process.
pub struct OfflineEmbedder {
    recognizer: Arc<Mutex<Recognizer>>,
    limits: DecodeLimits,
}

impl OfflineEmbedder {
    /// Loads the networks.
    pub fn new(config: RecognizerConfig, limits: DecodeLimits) -> Result<Self, PipelineError> {
        let recognizer =
            Recognizer::new(config).map_err(|e| PipelineError::Unavailable(e.to_string()))?;
        Ok(OfflineEmbedder {
            recognizer: Arc::new(Mutex::new(recognizer)),
            limits,
        })
    }
}

#[async_trait]
impl Pipeline for OfflineEmbedder {
    async fn capture(&self, _request: CaptureRequest) -> Result<CaptureOutcome, PipelineError> {
        Err(PipelineError::Unavailable(
            "captures are handled by a serving hub, not by `cavs-hub enroll`".into(),
        ))
    }

    async fn embed_photo(&self, image: Vec<u8>) -> Result<Vec<EnrollmentFace>, PipelineError> {
        let recognizer = Arc::clone(&self.recognizer);
        let limits = self.limits;
        tokio::task::spawn_blocking(move || {
            let recognizer = recognizer
                .lock()
                .map_err(|_| PipelineError::Unavailable("recognizer poisoned".into()))?;
            enrollment_faces(&recognizer, &limits, &image)
        })
        .await
        .map_err(|e| PipelineError::Unavailable(e.to_string()))?
    }

    async fn gallery_changed(&self) {}

    async fn device_changed(&self, _device_id: &str, _device: Option<&Device>) {}

    /// Offline: no broker runs, so there are no sessions to end.
    async fn account_changed(&self, _username: &str) {}

    /// Offline: there is no live gallery to search (enrollment never asks).
    async fn candidates(&self, _descriptor: Vec<f32>, _limit: usize) -> Vec<Candidate> {
        Vec::new()
    }
}
