//! The session decision, without I/O: for each face of a frame, does it start a new attendance
//! record or count again for one already open in its classroom's session window? A matched
//! student has one record per (classroom, session); unknown faces have one per look-alike face
//! ([`UnknownFaces`]). Faces of the same frame see each other's decisions, so a student detected
//! twice in one frame still has one record.

use std::collections::HashMap;

use cavs_models::ReviewStatus;
use cavs_recognizer::gallery::REFERENCE_DISTANCE;
use cavs_recognizer::{Descriptor, MatchClass};
use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Unknown faces tracked per classroom session, at most.
const MAX_UNKNOWN_PER_SESSION: usize = 10_000;

/// Start of the session window containing `at` (windows are aligned to the epoch).
pub use cavs_models::session_window_start as session_start;

/// What the decision needs of one face.
#[derive(Debug, Clone)]
pub struct FaceFacts {
    /// How sure the match is.
    pub class: MatchClass,
    /// The best match (used when `class` is high or medium).
    pub student: Option<Uuid>,
    /// Confidence in [0, 1].
    pub confidence: f32,
    /// The face's descriptor (for unknown faces).
    pub descriptor: Descriptor,
}

/// A record already stored for a student in this session.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OpenRecord {
    /// Record id.
    pub id: Uuid,
    /// Its confidence.
    pub confidence: f32,
}

/// What one face does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FaceDecision {
    /// Starts a record.
    New {
        /// The new record's id.
        id: Uuid,
        /// Matched student, none for an unknown face.
        student: Option<Uuid>,
        /// Pending, or approved (high confidence with auto-approval).
        status: ReviewStatus,
    },
    /// Counts again for an open record.
    Again {
        /// The record.
        id: Uuid,
        /// True when this face beats the record's confidence (its crop replaces the old one).
        better: bool,
        /// True for an unknown face's record.
        unknown: bool,
    },
}

impl FaceDecision {
    /// The record the face writes to.
    pub fn record_id(&self) -> Uuid {
        match self {
            FaceDecision::New { id, .. } | FaceDecision::Again { id, .. } => *id,
        }
    }

    /// True when the face's crop is worth saving.
    pub fn saves_crop(&self) -> bool {
        matches!(
            self,
            FaceDecision::New { .. } | FaceDecision::Again { better: true, .. }
        )
    }

    /// The `cavs_attendance_records_total{outcome}` label.
    pub fn outcome(&self) -> &'static str {
        match self {
            FaceDecision::New { student: None, .. } => "unknown",
            FaceDecision::New {
                status: ReviewStatus::Approved,
                ..
            } => "auto_approved",
            FaceDecision::New { .. } => "created",
            FaceDecision::Again { .. } => "updated",
        }
    }
}

/// One unknown face's record: its first descriptor, the record, the best confidence.
type UnknownEntry = (Descriptor, Uuid, f32);

/// Unknown faces recorded per classroom session.
#[derive(Debug, Default)]
pub struct UnknownFaces {
    sessions: HashMap<(String, DateTime<Utc>), Vec<UnknownEntry>>,
}

impl UnknownFaces {
    /// The record of the closest look-alike of `descriptor` in the session, if close enough.
    pub fn nearest(
        &self,
        classroom: &str,
        session: DateTime<Utc>,
        descriptor: &Descriptor,
    ) -> Option<OpenRecord> {
        self.sessions
            .get(&(classroom.to_owned(), session))?
            .iter()
            .map(|(d, id, confidence)| (d.distance(descriptor), *id, *confidence))
            .filter(|(distance, _, _)| *distance < REFERENCE_DISTANCE)
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, id, confidence)| OpenRecord { id, confidence })
    }

    /// Remembers (or raises the confidence of) an unknown face's record. Sessions older than
    /// the previous window are forgotten, so the map stays bounded.
    pub fn remember(
        &mut self,
        classroom: &str,
        session: DateTime<Utc>,
        window: chrono::Duration,
        descriptor: Descriptor,
        record: Uuid,
        confidence: f32,
    ) {
        let horizon = session - window;
        self.sessions.retain(|(_, start), _| *start >= horizon);
        let entries = self
            .sessions
            .entry((classroom.to_owned(), session))
            .or_default();
        let full = entries.len() >= MAX_UNKNOWN_PER_SESSION;
        match entries.iter_mut().find(|(_, id, _)| *id == record) {
            Some(entry) => entry.2 = entry.2.max(confidence),
            None if !full => entries.push((descriptor, record, confidence)),
            None => {}
        }
    }

    /// Forgets a classroom session (its records may have been deleted).
    pub fn forget(&mut self, classroom: &str, session: DateTime<Utc>) {
        self.sessions.remove(&(classroom.to_owned(), session));
    }
}

/// Decides every face of one frame of `classroom` in `session`. `open` holds the stored records
/// of the matched students in this session; `new_id` hands out record ids.
pub fn decide(
    faces: &[FaceFacts],
    open: &HashMap<Uuid, OpenRecord>,
    unknowns: &UnknownFaces,
    classroom: &str,
    session: DateTime<Utc>,
    auto_approve: bool,
    mut new_id: impl FnMut() -> Uuid,
) -> Vec<FaceDecision> {
    let mut students: HashMap<Uuid, OpenRecord> = open.clone();
    let mut frame_unknowns: Vec<(Descriptor, OpenRecord)> = Vec::new();
    faces
        .iter()
        .map(|face| {
            let matched = match (face.class, face.student) {
                (MatchClass::High | MatchClass::Medium, Some(student)) => Some(student),
                _ => None,
            };
            if let Some(student) = matched {
                if let Some(record) = students.get_mut(&student) {
                    let better = face.confidence > record.confidence;
                    record.confidence = record.confidence.max(face.confidence);
                    return FaceDecision::Again {
                        id: record.id,
                        better,
                        unknown: false,
                    };
                }
                let id = new_id();
                students.insert(
                    student,
                    OpenRecord {
                        id,
                        confidence: face.confidence,
                    },
                );
                let status = if face.class == MatchClass::High && auto_approve {
                    ReviewStatus::Approved
                } else {
                    ReviewStatus::Pending
                };
                return FaceDecision::New {
                    id,
                    student: Some(student),
                    status,
                };
            }
            let in_frame = frame_unknowns
                .iter_mut()
                .map(|(d, record)| (d.distance(&face.descriptor), record))
                .filter(|(distance, _)| *distance < REFERENCE_DISTANCE)
                .min_by(|a, b| a.0.total_cmp(&b.0))
                .map(|(_, record)| record);
            let known = match in_frame {
                Some(record) => Some(*record),
                None => unknowns.nearest(classroom, session, &face.descriptor),
            };
            let decision = match known {
                Some(record) => FaceDecision::Again {
                    id: record.id,
                    better: face.confidence > record.confidence,
                    unknown: true,
                },
                None => FaceDecision::New {
                    id: new_id(),
                    student: None,
                    status: ReviewStatus::Pending,
                },
            };
            let id = decision.record_id();
            match frame_unknowns.iter_mut().find(|(_, r)| r.id == id) {
                Some((_, record)) => record.confidence = record.confidence.max(face.confidence),
                None => frame_unknowns.push((
                    face.descriptor,
                    OpenRecord {
                        id,
                        confidence: known
                            .map_or(face.confidence, |k| k.confidence.max(face.confidence)),
                    },
                )),
            }
            decision
        })
        .collect()
}

#[cfg(test)]
#[path = "session_tests.rs"]
mod tests;
