//! RecognizerPool: a `SyncArbiter` of workers sharing one `Recognizer` (the networks are loaded
//! once, before the pool starts; start-up fails if they do not load). A panic while recognising a
//! frame or embedding a photo is caught and counted (`cavs_worker_panics_total`); the worker goes
//! on with the next message. [`WorkersAlive`] counts live worker threads for `/api/health`.

use std::io::Cursor;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use actix::{Actor, Addr, Handler, Message, SyncArbiter, SyncContext};
use cavs_models::pipeline::{EnrollmentFace, PipelineError};
use cavs_recognizer::{DecodeLimits, Recognizer, RecognizerConfig, RecognizerError, decode_image};

use super::gallery::SharedGallery;
use super::messages::{FrameFailure, FrameJob, RecognizedFace, StudentMatch};
use super::metrics::Metrics;

/// Recognise every face of a frame.
pub struct Recognize(pub FrameJob);

/// A frame after recognition.
pub struct Recognized {
    /// The frame.
    pub job: FrameJob,
    /// Its faces, or why it could not be read.
    pub faces: Result<Vec<RecognizedFace>, FrameFailure>,
}

impl Message for Recognize {
    type Result = Recognized;
}

/// Detect and embed every face of an enrollment photo.
pub struct Embed(pub Vec<u8>);

impl Message for Embed {
    type Result = Result<Vec<EnrollmentFace>, PipelineError>;
}

/// Live worker threads: each worker holds one count and returns it when it is dropped (also
/// when its thread unwinds).
#[derive(Debug, Clone, Default)]
pub struct WorkersAlive(Arc<AtomicUsize>);

impl WorkersAlive {
    /// Workers alive now.
    pub fn count(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }

    fn enter(&self) -> WorkerLife {
        self.0.fetch_add(1, Ordering::AcqRel);
        WorkerLife(Arc::clone(&self.0))
    }
}

/// One worker's share of [`WorkersAlive`].
struct WorkerLife(Arc<AtomicUsize>);

impl Drop for WorkerLife {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// One pool worker.
pub struct RecognizerWorker {
    recognizer: Arc<Recognizer>,
    gallery: SharedGallery,
    limits: DecodeLimits,
    metrics: Arc<Metrics>,
    _life: WorkerLife,
}

impl Actor for RecognizerWorker {
    type Context = SyncContext<Self>;
}

/// Loads the networks once (failing if the weights do not load) and starts `workers` threads
/// sharing them.
pub fn start(
    workers: usize,
    config: RecognizerConfig,
    limits: DecodeLimits,
    gallery: SharedGallery,
    metrics: Arc<Metrics>,
) -> Result<(Addr<RecognizerWorker>, WorkersAlive), RecognizerError> {
    let recognizer = Arc::new(Recognizer::new(config)?);
    let alive = WorkersAlive::default();
    let counter = alive.clone();
    let addr = SyncArbiter::start(workers.max(1), move || RecognizerWorker {
        recognizer: Arc::clone(&recognizer),
        gallery: gallery.clone(),
        limits,
        metrics: Arc::clone(&metrics),
        _life: counter.enter(),
    });
    Ok((addr, alive))
}

impl RecognizerWorker {
    fn recognize(&self, image: &[u8]) -> Result<Vec<RecognizedFace>, RecognizerError> {
        let decoded = decode_image(image, &self.limits)?;
        let faces = self.recognizer.analyze(&decoded)?;
        let descriptors: Vec<_> = faces.iter().map(|f| f.descriptor).collect();
        let matches = student_matches(&self.gallery.snapshot(), &descriptors);
        Ok(faces
            .into_iter()
            .zip(matches)
            .map(|(face, best)| RecognizedFace {
                crop_jpeg: encode_jpeg(&face.crop),
                bbox: face.detection.bbox,
                score: face.detection.score,
                descriptor: face.descriptor,
                best,
            })
            .collect())
    }

    /// Runs `work`, turning a panic into a counted, logged error.
    fn guarded<T>(&self, what: &str, work: impl FnOnce() -> T) -> Result<T, String> {
        catch_panic(&self.metrics, what, work)
    }
}

/// Runs `work`; a panic is caught, counted in `cavs_worker_panics_total`, logged with `what`
/// and returned as its message, so the worker thread goes on with its next message.
pub fn catch_panic<T>(
    metrics: &Metrics,
    what: &str,
    work: impl FnOnce() -> T,
) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(work)).map_err(|panic| {
        metrics.worker_panics.inc();
        let message = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "non-text panic".to_owned());
        tracing::error!(what, panic = %message, "recognition worker panicked; it goes on");
        message
    })
}

/// The best enrolled student for each descriptor (`None` with an empty gallery).
pub fn student_matches(
    gallery: &cavs_recognizer::Gallery<super::gallery::StudentKey>,
    descriptors: &[cavs_recognizer::Descriptor],
) -> Vec<Option<StudentMatch>> {
    gallery
        .best_matches(descriptors)
        .into_iter()
        .map(|best| {
            best.map(|m| StudentMatch {
                student_id: m.subject.id,
                name: m.subject.name.to_string(),
                distance: m.distance,
                confidence: m.confidence,
            })
        })
        .collect()
}

/// A face crop as JPEG (quality 90); empty (and logged) if it cannot be encoded.
pub fn encode_jpeg(crop: &image::RgbImage) -> Vec<u8> {
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
        let faces = match self.guarded("frame", || self.recognize(&job.image)) {
            Ok(result) => result.map_err(FrameFailure::Image),
            Err(panic) => Err(FrameFailure::Panicked(panic)),
        };
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
        self.guarded("enrollment photo", || {
            enrollment_faces(&self.recognizer, &self.limits, &image)
        })
        .map_err(|_| PipelineError::Unavailable("recognition failed on this photo".into()))?
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_is_caught_counted_and_the_thread_goes_on() {
        let metrics = Metrics::new();
        let index = 7usize;
        let caught = catch_panic(&metrics, "frame", || {
            let empty: Vec<u8> = Vec::new();
            empty[index]
        });
        assert!(caught.is_err_and(|message| message.contains("index out of bounds")));
        assert_eq!(metrics.worker_panics.get(), 1);
        assert_eq!(catch_panic(&metrics, "frame", || 42), Ok(42));
        assert_eq!(metrics.worker_panics.get(), 1);
    }

    #[test]
    fn workers_alive_counts_live_workers_and_unwinding_ones_leave() {
        let alive = WorkersAlive::default();
        let first = alive.enter();
        let second = alive.enter();
        assert_eq!(alive.count(), 2);
        let thread = std::thread::spawn(move || {
            let _life = second;
            panic!("a worker thread dies");
        });
        assert!(thread.join().is_err());
        assert_eq!(
            alive.count(),
            1,
            "the dead worker's count was returned while unwinding"
        );
        drop(first);
        assert_eq!(alive.count(), 0);
    }
}
