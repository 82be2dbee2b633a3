//! Recognition by worker processes (`cavs-hub worker`), with the in-process pool as the
//! fallback. With an external broker, every device frame reaches the hub (which admits it and
//! writes its record) and one worker (through the `cavs-workers` shared subscription), which
//! publishes the faces it found. The hub matches them against its own gallery — descriptors of
//! enrolled students never leave the hub — and writes as usual. A frame whose result does not
//! come within the worker deadline (its worker died, or the broker queued it for a worker that
//! will not come back) is recognised in-process; the writer commits each `frame_id` once, so
//! a late result changes nothing.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use actix::{Addr, MailboxError};
use cavs_models::protocol::{ResultOutcome, WorkerPresence, WorkerResult, WorkerState};
use cavs_recognizer::{BoundingBox, Descriptor};
use tokio::sync::oneshot;

use super::gallery::SharedGallery;
use super::messages::{FrameFailure, FrameFailureKind, FrameJob, RecognizedFace};
use super::metrics::Metrics;
use super::policy::{Delivery, Expect, ResultBook};
use super::pool::{Recognize, Recognized, RecognizerWorker, student_matches};

type Book = ResultBook<oneshot::Sender<WorkerResult>, WorkerResult>;

/// The workers' presence and the frames waiting for their results. Cheap to clone.
#[derive(Clone)]
pub struct RemoteWorkers {
    book: Arc<Mutex<Book>>,
    metrics: Arc<Metrics>,
}

impl RemoteWorkers {
    /// An empty registry.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        RemoteWorkers {
            book: Arc::default(),
            metrics,
        }
    }

    fn book(&self) -> std::sync::MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Workers online now.
    pub fn online(&self) -> usize {
        self.book().online()
    }

    /// A worker's retained presence (an empty payload clears it: offline).
    pub fn presence(&self, worker: &str, payload: &[u8]) {
        let online = match payload {
            [] => false,
            bytes => match WorkerPresence::from_slice(bytes) {
                Ok(presence) => presence.state == WorkerState::Online,
                Err(error) => {
                    tracing::warn!(worker, %error, "unreadable worker status ignored");
                    return;
                }
            },
        };
        let now_online = {
            let mut book = self.book();
            book.presence(worker, online);
            book.online()
        };
        self.metrics.workers_online.set(now_online as i64);
        tracing::info!(
            worker,
            online,
            workers_online = now_online,
            "recognition worker presence"
        );
    }

    /// A worker's result (the payload of its results topic).
    pub fn result(&self, worker: &str, payload: &[u8]) {
        let result = match WorkerResult::from_slice(payload) {
            Ok(result) => result,
            Err(error) => {
                self.metrics.worker_results_refused.inc();
                tracing::warn!(worker, %error, "malformed worker result refused");
                return;
            }
        };
        let delivery = self.book().deliver(result.frame_id, result, Instant::now());
        match delivery {
            Delivery::Waiter(waiter, result) => {
                if waiter.send(result).is_err() {
                    tracing::debug!(worker, "result came as its frame stopped waiting");
                }
            }
            Delivery::Parked { evicted } => {
                if evicted > 0 {
                    self.metrics.worker_results_unmatched.inc_by(evicted as u64);
                }
            }
        }
    }

    /// Waits (at most `deadline`) for a worker's result for `frame_id`; `None` when none came.
    async fn wait_for(&self, frame_id: uuid::Uuid, deadline: Duration) -> Option<WorkerResult> {
        let (waiter, result) = oneshot::channel();
        if let Expect::Ready(_, result) = self.book().expect(frame_id, waiter) {
            return Some(result);
        }
        match tokio::time::timeout(deadline, result).await {
            Ok(Ok(result)) => Some(result),
            _ => {
                self.book().give_up(frame_id);
                None
            }
        }
    }
}

/// How the router has frames recognised.
#[derive(Clone)]
pub enum Recognition {
    /// The in-process pool only (embedded broker).
    InProcess(Addr<RecognizerWorker>),
    /// Workers when any is online, the pool otherwise and after the deadline.
    Workers {
        /// The in-process pool.
        local: Addr<RecognizerWorker>,
        /// The workers.
        remote: RemoteWorkers,
        /// How long a frame waits for its worker's result.
        deadline: Duration,
        /// The hub's gallery, matched against the workers' descriptors.
        gallery: SharedGallery,
        /// Metrics.
        metrics: Arc<Metrics>,
    },
}

impl Recognition {
    /// Recognises `job`'s frame.
    pub async fn recognize(self, job: FrameJob) -> Result<Recognized, MailboxError> {
        match self {
            Recognition::InProcess(pool) => pool.send(Recognize(job)).await,
            Recognition::Workers {
                local,
                remote,
                deadline,
                gallery,
                metrics,
            } => {
                // REST captures never reach the workers; MQTT frames do while any runs.
                if job.is_mqtt() && remote.online() > 0 {
                    if let Some(result) = remote.wait_for(job.frame_id, deadline).await {
                        metrics.worker_results.inc();
                        metrics.faces_detected.inc_by(result.faces.len() as u64);
                        let faces = faces_of(result, &gallery);
                        return Ok(Recognized { job, faces });
                    }
                    metrics.worker_deadline_missed.inc();
                    tracing::warn!(
                        device_id = job.device_id,
                        frame_id = %job.frame_id,
                        ?deadline,
                        "no worker result in time: recognising the frame in the hub"
                    );
                }
                local.send(Recognize(job)).await
            }
        }
    }
}

/// A worker's result as the writer takes it: faces matched against the hub's gallery.
fn faces_of(
    result: WorkerResult,
    gallery: &SharedGallery,
) -> Result<Vec<RecognizedFace>, FrameFailure> {
    let detail = result.detail.unwrap_or_default();
    match result.outcome {
        ResultOutcome::Undecodable => {
            return Err(FrameFailure::Worker(FrameFailureKind::Undecodable, detail));
        }
        ResultOutcome::Failed => {
            return Err(FrameFailure::Worker(FrameFailureKind::Panicked, detail));
        }
        ResultOutcome::Faces => {}
    }
    // `WorkerResult::from_slice` checked every descriptor has 128 finite values.
    let faces: Vec<_> = result
        .faces
        .into_iter()
        .filter_map(|(face, crop)| Some((Descriptor::from_slice(&face.descriptor)?, face, crop)))
        .collect();
    let descriptors: Vec<Descriptor> = faces.iter().map(|(d, _, _)| *d).collect();
    let matches = student_matches(&gallery.snapshot(), &descriptors);
    Ok(faces
        .into_iter()
        .zip(matches)
        .map(|((descriptor, face, crop), best)| RecognizedFace {
            bbox: BoundingBox {
                x: face.bbox[0],
                y: face.bbox[1],
                width: face.bbox[2],
                height: face.bbox[3],
            },
            score: face.score,
            descriptor,
            crop_jpeg: crop,
            best,
        })
        .collect())
}
