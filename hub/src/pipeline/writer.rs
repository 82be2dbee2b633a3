//! AttendanceWriter: one record per (student, classroom, session window); later frames raise
//! its confidence. Unknown faces become records without a student (one per look-alike face per
//! window). Writes the face crop, the record and its audit entry, then publishes the event.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use actix::prelude::*;
use cavs_api::{CaptureFace, CaptureOutcome};
use cavs_models::protocol::{AttendanceEvent, AttendanceEventKind, Topic};
use cavs_models::store::{Store, StoreError};
use cavs_models::{Actor as AuditActor, AttendanceRecord, NewAttendance, ReviewStatus};
use cavs_recognizer::gallery::REFERENCE_DISTANCE;
use cavs_recognizer::{Descriptor, MatchClass, Thresholds};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::messages::{FrameJob, RecognizedFace};
use super::metrics::Metrics;
use super::pool::{Recognized, image_error};
use crate::broker::Publisher;

/// Write the faces of a recognised frame.
#[derive(Message)]
#[rtype(result = "()")]
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
}

/// Unknown faces already recorded in a classroom session: descriptor → record.
type UnknownFaces = HashMap<(String, DateTime<Utc>), Vec<(Descriptor, Uuid, f32)>>;

/// The AttendanceWriter actor. Frames are written one at a time, in arrival order.
pub struct AttendanceWriter {
    store: Store,
    publisher: Publisher,
    settings: Arc<WriterSettings>,
    metrics: Arc<Metrics>,
    unknowns: Arc<Mutex<UnknownFaces>>,
}

impl AttendanceWriter {
    /// A writer into `store`, publishing events with `publisher`.
    pub fn new(
        store: Store,
        publisher: Publisher,
        settings: WriterSettings,
        metrics: Arc<Metrics>,
    ) -> Self {
        AttendanceWriter {
            store,
            publisher,
            settings: Arc::new(settings),
            metrics,
            unknowns: Arc::new(Mutex::new(HashMap::new())),
        }
    }
}

impl Actor for AttendanceWriter {
    type Context = Context<Self>;
}

impl Handler<WriteFrame> for AttendanceWriter {
    type Result = ();

    fn handle(&mut self, WriteFrame(recognized): WriteFrame, ctx: &mut Context<Self>) {
        let job = FrameWrite {
            store: self.store.clone(),
            publisher: self.publisher.clone(),
            settings: Arc::clone(&self.settings),
            metrics: Arc::clone(&self.metrics),
            unknowns: Arc::clone(&self.unknowns),
        };
        // `wait` keeps later frames in the mailbox until this one is written: the
        // find-or-create of a session record is never raced.
        ctx.wait(job.run(recognized).into_actor(self));
    }
}

/// Start of the session window containing `at` (windows are aligned to the epoch).
pub fn session_start(at: DateTime<Utc>, window: chrono::Duration) -> DateTime<Utc> {
    let window_ms = window.num_milliseconds().max(60_000);
    let ms = at.timestamp_millis();
    let start = ms - ms.rem_euclid(window_ms);
    DateTime::from_timestamp_millis(start).unwrap_or(at)
}

struct FrameWrite {
    store: Store,
    publisher: Publisher,
    settings: Arc<WriterSettings>,
    metrics: Arc<Metrics>,
    unknowns: Arc<Mutex<UnknownFaces>>,
}

impl FrameWrite {
    async fn run(self, recognized: Recognized) {
        let Recognized { mut job, faces } = recognized;
        let reply = job.reply.take();
        let faces = match faces {
            Ok(faces) => faces,
            Err(error) => {
                if let Some(reply) = reply {
                    let _ = reply.send(Err(image_error(error)));
                }
                return;
            }
        };
        let mut outcome = Vec::with_capacity(faces.len());
        for (index, face) in faces.into_iter().enumerate() {
            let record = match self.write_face(&job, index, &face).await {
                Ok(record) => Some(record),
                Err(error) => {
                    tracing::error!(%error, device_id = job.device_id, frame_id = %job.frame_id, "could not store attendance");
                    None
                }
            };
            let class = self.class_of(&face);
            outcome.push(CaptureFace {
                bbox: [face.bbox.x, face.bbox.y, face.bbox.width, face.bbox.height],
                score: face.score,
                student_id: face
                    .best
                    .as_ref()
                    .filter(|_| class != MatchClass::Unknown)
                    .map(|b| b.student_id),
                student_name: face
                    .best
                    .as_ref()
                    .filter(|_| class != MatchClass::Unknown)
                    .map(|b| b.name.clone()),
                distance: face.best.as_ref().map(|b| b.distance),
                confidence: face.best.as_ref().map_or(0.0, |b| b.confidence),
                record,
            });
        }
        let latency = (Utc::now() - job.captured_at).num_milliseconds().max(0) as f64 / 1000.0;
        self.metrics.frame_latency_seconds.observe(latency);
        outcome.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
        if let Some(reply) = reply {
            let _ = reply.send(Ok(CaptureOutcome { faces: outcome }));
        }
    }

    fn class_of(&self, face: &RecognizedFace) -> MatchClass {
        face.best.as_ref().map_or(MatchClass::Unknown, |b| {
            self.settings.thresholds.classify(b.confidence)
        })
    }

    async fn write_face(
        &self,
        job: &FrameJob,
        index: usize,
        face: &RecognizedFace,
    ) -> Result<AttendanceRecord, StoreError> {
        let session = session_start(job.captured_at, self.settings.session_window);
        let class = self.class_of(face);
        let confidence = face
            .best
            .as_ref()
            .map_or(0.0, |b| b.confidence)
            .clamp(0.0, 1.0);
        let distance = face.best.as_ref().map(|b| b.distance);
        let actor = AuditActor::Device(job.device_id.clone());
        let attendance = self.store.attendance();

        let (student, existing) = match (class, &face.best) {
            (MatchClass::High | MatchClass::Medium, Some(best)) => {
                let existing = attendance
                    .find_session(&job.classroom_id, best.student_id, session)
                    .await?
                    .map(|r| (r.id, r.confidence));
                (Some(best.student_id), existing)
            }
            _ => (
                None,
                self.known_unknown(&job.classroom_id, session, &face.descriptor),
            ),
        };

        let (record, kind, outcome) = match existing {
            Some((id, stored_confidence)) => {
                let crop = if confidence > stored_confidence {
                    self.save_crop(job, index, face).await
                } else {
                    None
                };
                let record = attendance
                    .observe_again(id, confidence, distance, job.captured_at, crop.as_deref())
                    .await?;
                if student.is_none() {
                    self.remember_unknown(&job.classroom_id, session, face, id, record.confidence);
                }
                (record, AttendanceEventKind::Updated, "updated")
            }
            None => {
                let crop = self.save_crop(job, index, face).await;
                let status = if class == MatchClass::High && self.settings.auto_approve {
                    ReviewStatus::Approved
                } else {
                    ReviewStatus::Pending
                };
                let record = attendance
                    .create(
                        &NewAttendance {
                            device_id: job.device_id.clone(),
                            classroom_id: job.classroom_id.clone(),
                            predicted_student_id: student,
                            confidence,
                            distance,
                            timestamp: job.captured_at,
                            review_status: status,
                            captured_image_path: crop,
                            session_start: session,
                        },
                        &actor,
                    )
                    .await?;
                let outcome = match (student, status) {
                    (None, _) => {
                        self.remember_unknown(
                            &job.classroom_id,
                            session,
                            face,
                            record.id,
                            confidence,
                        );
                        "unknown"
                    }
                    (Some(_), ReviewStatus::Approved) => "auto_approved",
                    _ => "created",
                };
                (record, AttendanceEventKind::Created, outcome)
            }
        };
        self.metrics.record(outcome);
        self.publish_event(&record, kind, job.frame_id).await;
        Ok(record)
    }

    fn known_unknown(
        &self,
        classroom: &str,
        session: DateTime<Utc>,
        descriptor: &Descriptor,
    ) -> Option<(Uuid, f32)> {
        let unknowns = self.unknowns.lock().ok()?;
        unknowns
            .get(&(classroom.to_owned(), session))?
            .iter()
            .map(|(d, id, conf)| (d.distance(descriptor), *id, *conf))
            .filter(|(distance, _, _)| *distance < REFERENCE_DISTANCE)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id, conf)| (id, conf))
    }

    fn remember_unknown(
        &self,
        classroom: &str,
        session: DateTime<Utc>,
        face: &RecognizedFace,
        record: Uuid,
        confidence: f32,
    ) {
        let Ok(mut unknowns) = self.unknowns.lock() else {
            return;
        };
        // Forget sessions that ended: keep the map bounded.
        let horizon = session - self.settings.session_window;
        unknowns.retain(|(_, start), _| *start >= horizon);
        let entries = unknowns.entry((classroom.to_owned(), session)).or_default();
        let full = entries.len() >= 10_000;
        match entries.iter_mut().find(|(_, id, _)| *id == record) {
            Some(entry) => entry.2 = entry.2.max(confidence),
            None if !full => entries.push((face.descriptor, record, confidence)),
            None => {}
        }
    }

    /// Saves the face crop under `crops/{classroom}/{date}/` and returns its path relative to
    /// the data dir, or `None` (logged) if it could not be written.
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
        let write = async {
            if let Some(dir) = path.parent() {
                tokio::fs::create_dir_all(dir).await?;
            }
            tokio::fs::write(&path, &face.crop_jpeg).await
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
        let event = AttendanceEvent {
            kind,
            record_id: record.id,
            frame_id: Some(frame_id),
            classroom_id: record.classroom_id.clone(),
            device_id: record.device_id.clone(),
            student_id: record.predicted_student_id,
            predicted_name: record.predicted_name.clone(),
            confidence: record.confidence,
            review_status: record.review_status.as_str().to_owned(),
            at: Utc::now(),
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_windows_are_aligned() {
        let window = chrono::Duration::minutes(60);
        let at = DateTime::parse_from_rfc3339("2026-03-02T09:41:07Z")
            .expect("time")
            .with_timezone(&Utc);
        let start = session_start(at, window);
        assert_eq!(start.to_rfc3339(), "2026-03-02T09:00:00+00:00");
        let later = at + chrono::Duration::minutes(18);
        assert_eq!(session_start(later, window), start);
        let next = at + chrono::Duration::minutes(19);
        assert_ne!(session_start(next, window), start);
    }
}
