//! RecognizerPool: a `SyncArbiter` of workers, each owning a `Recognizer` (one per thread).

use std::io::Cursor;
use std::sync::Arc;
use std::time::Instant;

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use cavs_api::{EnrollmentFace, PipelineError};
use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerConfig, RecognizerError, decode_image};

use super::gallery::SharedGallery;
use super::messages::{FrameJob, RecognizedFace, StudentMatch};
use super::metrics::Metrics;

/// Recognise every face of a frame.
pub struct Recognize(pub FrameJob);

/// A frame after recognition.
pub struct Recognized {
    /// The frame.
    pub job: FrameJob,
    /// Its faces, or why it could not be read.
    pub faces: Result<Vec<RecognizedFace>, RecognizerError>,
}

impl Message for Recognize {
    type Result = Recognized;
}

/// Detect and embed every face of an enrollment photo.
pub struct Embed(pub Vec<u8>);

impl Message for Embed {
    type Result = Result<Vec<EnrollmentFace>, PipelineError>;
}

/// One pool worker.
pub struct RecognizerWorker {
    recognizer: Option<Recognizer>,
    gallery: SharedGallery,
    limits: DecodeLimits,
    metrics: Arc<Metrics>,
}

impl Actor for RecognizerWorker {
    type Context = SyncContext<Self>;
}

/// Starts `workers` threads, each loading its own copy of the networks.
pub fn start(
    workers: usize,
    config: RecognizerConfig,
    limits: DecodeLimits,
    gallery: SharedGallery,
    metrics: Arc<Metrics>,
) -> Addr<RecognizerWorker> {
    SyncArbiter::start(workers.max(1), move || {
        let recognizer = match Recognizer::new(config.clone()) {
            Ok(recognizer) => Some(recognizer),
            Err(error) => {
                tracing::error!(%error, "recognizer worker could not load the networks");
                None
            }
        };
        RecognizerWorker {
            recognizer,
            gallery: gallery.clone(),
            limits,
            metrics: Arc::clone(&metrics),
        }
    })
}

impl RecognizerWorker {
    fn recognizer(&self) -> Result<&Recognizer, RecognizerError> {
        self.recognizer
            .as_ref()
            .ok_or_else(|| RecognizerError::Config("recognizer networks not loaded".into()))
    }

    fn recognize(&self, image: &[u8]) -> Result<Vec<RecognizedFace>, RecognizerError> {
        let recognizer = self.recognizer()?;
        let decoded = decode_image(image, &self.limits)?;
        let faces = recognizer.analyze(&decoded)?;
        let gallery = self.gallery.snapshot();
        let descriptors: Vec<_> = faces.iter().map(|f| f.descriptor).collect();
        let matches = gallery.best_matches(&descriptors);
        Ok(faces
            .into_iter()
            .zip(matches)
            .map(|(face, best)| RecognizedFace {
                crop_jpeg: encode_jpeg(&face.crop),
                bbox: face.detection.bbox,
                score: face.detection.score,
                descriptor: face.descriptor,
                best: best.map(|m| StudentMatch {
                    student_id: m.subject.id,
                    name: m.subject.name.to_string(),
                    distance: m.distance,
                    confidence: m.confidence,
                }),
            })
            .collect())
    }
}

fn encode_jpeg(crop: &image::RgbImage) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    let encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90);
    if let Err(error) = crop.write_with_encoder(encoder) {
        tracing::warn!(%error, "could not encode a face crop");
        return Vec::new();
    }
    out.into_inner()
}

impl Handler<Recognize> for RecognizerWorker {
    type Result = actix::MessageResult<Recognize>;

    fn handle(&mut self, Recognize(job): Recognize, _: &mut SyncContext<Self>) -> Self::Result {
        let started = Instant::now();
        let faces = self.recognize(&job.image);
        self.metrics
            .recognition_seconds
            .observe(started.elapsed().as_secs_f64());
        if let Ok(faces) = &faces {
            self.metrics.faces_detected.inc_by(faces.len() as u64);
        }
        actix::MessageResult(Recognized { job, faces })
    }
}

impl Handler<Embed> for RecognizerWorker {
    type Result = Result<Vec<EnrollmentFace>, PipelineError>;

    fn handle(&mut self, Embed(image): Embed, _: &mut SyncContext<Self>) -> Self::Result {
        let recognizer = self
            .recognizer()
            .map_err(|e| PipelineError::Unavailable(e.to_string()))?;
        enrollment_faces(recognizer, &self.limits, &image)
    }
}

/// Detects and embeds every face of an enrollment photo (tight ID-style crops are retried
/// with a margin, see `Recognizer::analyze_portrait`).
pub fn enrollment_faces(
    recognizer: &Recognizer,
    limits: &DecodeLimits,
    image: &[u8],
) -> Result<Vec<EnrollmentFace>, PipelineError> {
    let decoded = decode_image(image, limits).map_err(image_error)?;
    let faces = recognizer.analyze_portrait(&decoded).map_err(image_error)?;
    Ok(faces
        .into_iter()
        .map(|face| EnrollmentFace {
            bbox: [
                face.detection.bbox.x,
                face.detection.bbox.y,
                face.detection.bbox.width,
                face.detection.bbox.height,
            ],
            score: face.detection.score,
            descriptor: face.descriptor.0.to_vec(),
        })
        .collect())
}

/// Maps a recognizer error on a caller's image to the API's error.
pub fn image_error(error: RecognizerError) -> PipelineError {
    match error {
        RecognizerError::TooLarge { .. } => PipelineError::TooLarge(error.to_string()),
        RecognizerError::Weights(_) | RecognizerError::Config(_) | RecognizerError::Io(_) => {
            PipelineError::Unavailable(error.to_string())
        }
        other => PipelineError::BadImage(other.to_string()),
    }
}
