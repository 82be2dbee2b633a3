//! AttendanceWriter: one frame at a time, decides each face ([`super::session`]), saves the
//! crops worth keeping, then writes the frame's marker, records and audit entries in one store
//! transaction ([`FramesRepo::commit`](cavs_models::store::FramesRepo::commit)), and only after
//! it commits publishes the attendance events and answers the router (which acknowledges the
//! frame to its device).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use actix::prelude::*;
use cavs_models::AttendanceRecord;
use cavs_models::NewAttendance;
use cavs_models::pipeline::{CaptureFace, CaptureOutcome, RecordEvents};
use cavs_models::protocol::{AttendanceEvent, AttendanceEventKind, Topic};
use cavs_models::store::{FaceWrite, FrameCommit, FrameCommitted, Store, StoreError};
use cavs_recognizer::{MatchClass, Thresholds};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::messages::{FrameJob, RecognizedFace, WriteOutcome};
use super::metrics::Metrics;
use super::pool::{Recognized, image_error};
use super::session::{FaceDecision, FaceFacts, OpenRecord, UnknownFaces, decide, session_start};
use crate::broker::Publisher;

/// Write the faces of a recognised frame; answers what was committed.
#[derive(Message)]
#[rtype(result = "WriteOutcome")]
pub struct WriteFrame(pub Recognized);

/// Settings of the writer.
#[derive(Debug, Clone)]
pub struct WriterSettings {
    /// Match thresholds.
    pub thresholds: Thresholds,
    /// Approve high-confidence matches without review.
    pub auto_approve: bool,
    /// Session window length.
    pub session_window: chrono::Duration,
    /// Data directory (crops go under `crops/`).
    pub data_dir: PathBuf,
    /// Seals every crop before it is written (encryption at rest).
    pub sealer: Arc<cavs_models::sealing::Sealer>,
}

/// The AttendanceWriter actor. Frames are written one at a time, in arrival order.
pub struct AttendanceWriter {
    writer: Arc<FrameWriter>,
}

impl AttendanceWriter {
    /// A writer into `store`, publishing events with `publisher` (MQTT) and to `events`
    /// (in-process subscribers: the API's live stream).
    pub fn new(
        store: Store,
        publisher: Publisher,
        events: RecordEvents,
        settings: WriterSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        AttendanceWriter {
            writer: Arc::new(FrameWriter {
                store,
                publisher,
                events,
                settings,
                metrics,
                unknowns: Mutex::new(UnknownFaces::default()),
            }),
        }
    }
}

impl Actor for AttendanceWriter {
    type Context = Context<Self>;
}

impl Handler<WriteFrame> for AttendanceWriter {
    type Result = AtomicResponse<Self, WriteOutcome>;

    fn handle(
        &mut self,
        WriteFrame(recognized): WriteFrame,
        _: &mut Context<Self>,
    ) -> Self::Result {
        let writer = Arc::clone(&self.writer);
        // Atomic: later frames stay in the mailbox until this one is committed, so the
        // find-or-create of a session record is never raced.
        AtomicResponse::new(Box::pin(
            async move {
                let started = std::time::Instant::now();
                let outcome = writer.write(recognized).await;
                writer
                    .metrics
                    .write_seconds
                    .observe(started.elapsed().as_secs_f64());
                outcome
            }
            .into_actor(self),
        ))
    }
}

struct FrameWriter {
    store: Store,
    publisher: Publisher,
    events: RecordEvents,
    settings: WriterSettings,
    metrics: Arc<Metrics>,
    unknowns: Mutex<UnknownFaces>,
}

impl FrameWriter {
    fn unknowns(&self) -> MutexGuard<'_, UnknownFaces> {
        self.unknowns.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn write(&self, recognized: Recognized) -> WriteOutcome {
        let Recognized { mut job, faces } = recognized;
        let reply = job.reply.take();
        let faces = match faces {
            Ok(faces) => faces,
            Err(failure) => {
                let kind = failure.kind();
                tracing::warn!(device_id = job.device_id, frame_id = %job.frame_id, error = %failure, "frame not recognised");
                if let Some(reply) = reply {
                    let _ = reply.send(Err(match failure {
                        super::messages::FrameFailure::Image(error) => image_error(error),
                        super::messages::FrameFailure::Worker(_, detail) => {
                            cavs_models::pipeline::PipelineError::BadImage(detail)
                        }
                        super::messages::FrameFailure::Panicked(_) => {
                            cavs_models::pipeline::PipelineError::Unavailable(
                                "recognition failed on this image".into(),
                            )
                        }
                    }));
                }
                return WriteOutcome::Rejected(kind);
            }
        };
        let session = session_start(job.captured_at, self.settings.session_window);
        let mut result = self.commit(&job, &faces, session).await;
        if matches!(&result, Err(StoreError::Storage(m)) if m.contains("attendance not found")) {
            // A record this session knew of was deleted meanwhile: decide again from the store.
            self.unknowns().forget(&job.classroom_id, session);
            result = self.commit(&job, &faces, session).await;
        }
        let (decisions, committed) = match result {
            Ok(done) => done,
            Err(error) => {
                tracing::error!(%error, device_id = job.device_id, frame_id = %job.frame_id, "could not store the frame's attendance");
                if let Some(reply) = reply {
                    let _ = reply.send(Err(cavs_models::pipeline::PipelineError::Unavailable(
                        "could not store attendance".into(),
                    )));
                }
                return WriteOutcome::Failed(error.to_string());
            }
        };
        let records = match committed {
            FrameCommitted::Duplicate => return WriteOutcome::Duplicate,
            FrameCommitted::Recorded(records) => records,
        };
        self.after_commit(&job, session, &faces, &decisions, &records)
            .await;
        if let Some(reply) = reply {
            let _ = reply.send(Ok(self.capture_outcome(&faces, &records)));
        }
        WriteOutcome::Recorded {
            faces: faces.len() as u32,
        }
    }

    fn class_of(&self, face: &RecognizedFace) -> MatchClass {
        face.best.as_ref().map_or(MatchClass::Unknown, |b| {
            self.settings.thresholds.classify(b.confidence)
        })
    }

    fn confidence_of(face: &RecognizedFace) -> f32 {
        face.best
            .as_ref()
            .map_or(0.0, |b| b.confidence)
            .clamp(0.0, 1.0)
    }

    /// Decides, saves crops and commits the frame in one transaction.
    async fn commit(
        &self,
        job: &FrameJob,
        faces: &[RecognizedFace],
        session: DateTime<Utc>,
    ) -> Result<(Vec<FaceDecision>, FrameCommitted), StoreError> {
        let facts: Vec<FaceFacts> = faces
            .iter()
            .map(|face| FaceFacts {
                class: self.class_of(face),
                student: face.best.as_ref().map(|b| b.student_id),
                confidence: Self::confidence_of(face),
                descriptor: face.descriptor,
            })
            .collect();
        let mut open = HashMap::new();
        for fact in &facts {
            let Some(student) = fact.student.filter(|_| fact.class != MatchClass::Unknown) else {
                continue;
            };
            if open.contains_key(&student) {
                continue;
            }
            if let Some(record) = self
                .store
                .attendance()
                .find_session(&job.classroom_id, student, session)
                .await?
            {
                open.insert(
                    student,
                    OpenRecord {
                        id: record.id,
                        confidence: record.confidence,
                    },
                );
            }
        }
        let decisions = decide(
            &facts,
            &open,
            &self.unknowns(),
            &job.classroom_id,
            session,
            self.settings.auto_approve,
            Uuid::now_v7,
        );
        let mut writes = Vec::with_capacity(faces.len());
        for (index, (face, decision)) in faces.iter().zip(&decisions).enumerate() {
            let crop = if decision.saves_crop() {
                self.save_crop(job, index, face).await
            } else {
                None
            };
            let confidence = Self::confidence_of(face);
            let distance = face.best.as_ref().map(|b| b.distance);
            writes.push(match *decision {
                FaceDecision::New {
                    id,
                    student,
                    status,
                } => FaceWrite::Create {
                    id,
                    new: NewAttendance {
                        device_id: job.device_id.clone(),
                        classroom_id: job.classroom_id.clone(),
                        predicted_student_id: student,
                        confidence,
                        distance,
                        timestamp: job.captured_at,
                        review_status: status,
                        captured_image_path: crop,
                        session_start: session,
                        descriptor: Some(face.descriptor.0.to_vec()),
                    },
                },
                FaceDecision::Again { id, .. } => FaceWrite::Observe {
                    id,
                    confidence,
                    distance,
                    timestamp: job.captured_at,
                    image_path: crop,
                    descriptor: Some(face.descriptor.0.to_vec()),
                },
            });
        }
        let committed = self
            .store
            .frames()
            .commit(&FrameCommit {
                frame_id: job.frame_id,
                device_id: job.device_id.clone(),
                classroom_id: job.classroom_id.clone(),
                captured_at: job.captured_at,
                faces: writes,
            })
            .await?;
        Ok((decisions, committed))
    }

    /// Remembers unknown faces, counts, and publishes one event per face.
    async fn after_commit(
        &self,
        job: &FrameJob,
        session: DateTime<Utc>,
        faces: &[RecognizedFace],
        decisions: &[FaceDecision],
        records: &[AttendanceRecord],
    ) {
        self.metrics
            .frame_latency_seconds
            .observe((Utc::now() - job.captured_at).num_milliseconds().max(0) as f64 / 1000.0);
        for ((face, decision), record) in faces.iter().zip(decisions).zip(records) {
            let unknown = matches!(
                decision,
                FaceDecision::New { student: None, .. } | FaceDecision::Again { unknown: true, .. }
            );
            if unknown {
                self.unknowns().remember(
                    &job.classroom_id,
                    session,
                    self.settings.session_window,
                    face.descriptor,
                    record.id,
                    record.confidence,
                );
            }
            self.metrics.record(decision.outcome());
            let kind = match decision {
                FaceDecision::New { .. } => AttendanceEventKind::Created,
                FaceDecision::Again { .. } => AttendanceEventKind::Updated,
            };
            self.publish_event(record, kind, job.frame_id).await;
        }
    }

    fn capture_outcome(
        &self,
        faces: &[RecognizedFace],
        records: &[AttendanceRecord],
    ) -> CaptureOutcome {
        let mut outcome: Vec<CaptureFace> = faces
            .iter()
            .zip(records)
            .map(|(face, record)| {
                let named = face
                    .best
                    .as_ref()
                    .filter(|_| self.class_of(face) != MatchClass::Unknown);
                CaptureFace {
                    bbox: [face.bbox.x, face.bbox.y, face.bbox.width, face.bbox.height],
                    score: face.score,
                    student_id: named.map(|b| b.student_id),
                    student_name: named.map(|b| b.name.clone()),
                    distance: face.best.as_ref().map(|b| b.distance),
                    confidence: face.best.as_ref().map_or(0.0, |b| b.confidence),
                    record: Some(record.clone()),
                }
            })
            .collect();
        outcome.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        CaptureOutcome { faces: outcome }
    }

    /// Saves the face crop under `crops/{classroom}/{date}/` and returns its path relative to
    /// the data dir, or `None` (logged) if it could not be written. The name derives from the
    /// frame id, so a frame written again overwrites its own crops.
    async fn save_crop(
        &self,
        job: &FrameJob,
        index: usize,
        face: &RecognizedFace,
    ) -> Option<String> {
        if face.crop_jpeg.is_empty() {
            return None;
        }
        let relative = format!(
            "crops/{}/{}/{}-{index}.jpg",
            job.classroom_id,
            job.captured_at.format("%Y-%m-%d"),
            job.frame_id
        );
        let path = self.settings.data_dir.join(&relative);
        let sealed = match self.settings.sealer.seal(&face.crop_jpeg) {
            Ok(sealed) => sealed,
            Err(error) => {
                tracing::error!(%error, device_id = job.device_id, "could not seal face crop");
                return None;
            }
        };
        let write = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::write(&path, &sealed).await
        };
        match write.await {
            Ok(()) => Some(relative),
            Err(error) => {
                tracing::error!(%error, path = %path.display(), device_id = job.device_id, "could not save face crop");
                None
            }
        }
    }

    async fn publish_event(
        &self,
        record: &AttendanceRecord,
        kind: AttendanceEventKind,
        frame_id: Uuid,
    ) {
        let event = AttendanceEvent::of(kind, record, Some(frame_id));
        self.events.send(event.clone());
        match serde_json::to_vec(&event) {
            Ok(payload) => {
                self.publisher
                    .publish(
                        Topic::events(record.classroom_id.clone()).to_string(),
                        payload,
                        false,
                    )
                    .await
            }
            Err(error) => tracing::warn!(%error, "could not encode attendance event"),
        }
    }
}
