//! Processed frames. A frame's outcome is written in one transaction: the `frame` marker (whose
//! id is the envelope's `frame_id`) together with every attendance record it creates or
//! observes again and their audit entries. A frame id already stored makes the whole transaction
//! a no-op reported as [`FrameCommitted::Duplicate`], so a frame an agent sends again (after a
//! hub restart, or because its acknowledgement was lost) is never counted twice.

use chrono::{DateTime, Utc};
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::attendance::{RECORD_FIELDS, RecordRow, check_confidence, rfc3339};
use super::descriptors::DescriptorCodec;
use super::query::{self, Vars, record_key, run};
use crate::{Actor, AttendanceRecord, NewAttendance, NewAudit};

/// Marker thrown inside the transaction when the frame id is already stored.
const DUPLICATE_FRAME: &str = "cavs:duplicate-frame";

/// What one face of a frame writes.
#[derive(Debug, Clone, PartialEq)]
pub enum FaceWrite {
    /// A new record, with the id the caller chose (a later face of the same frame may observe it).
    Create {
        /// Record id.
        id: Uuid,
        /// Its fields.
        new: NewAttendance,
    },
    /// One more frame for an existing record (or one created earlier in the same frame): it
    /// counts the frame and, when `confidence` beats the stored one, takes this face's
    /// confidence, distance, time and crop.
    Observe {
        /// Record id.
        id: Uuid,
        /// This face's confidence.
        confidence: f32,
        /// Its descriptor distance.
        distance: Option<f32>,
        /// Capture time.
        timestamp: DateTime<Utc>,
        /// Its saved crop, if any.
        image_path: Option<String>,
        /// Its descriptor (kept with the crop when this face becomes the record's best).
        descriptor: Option<Vec<f32>>,
    },
}

impl FaceWrite {
    /// The record this face writes to.
    pub fn record_id(&self) -> Uuid {
        match self {
            FaceWrite::Create { id, .. } | FaceWrite::Observe { id, .. } => *id,
        }
    }
}

/// Everything one frame writes.
#[derive(Debug, Clone)]
pub struct FrameCommit {
    /// The envelope's frame id.
    pub frame_id: Uuid,
    /// Sending device.
    pub device_id: String,
    /// Its classroom.
    pub classroom_id: String,
    /// Capture time.
    pub captured_at: DateTime<Utc>,
    /// One write per face, in order.
    pub faces: Vec<FaceWrite>,
}

/// The outcome of [`FramesRepo::commit`].
#[derive(Debug, Clone)]
pub enum FrameCommitted {
    /// Written: the records as they are now, one per face (in the order of the faces).
    Recorded(Vec<AttendanceRecord>),
    /// The frame id was stored before; nothing was written.
    Duplicate,
}

/// Repository of `frame` markers.
pub struct FramesRepo<'a> {
    db: &'a Surreal<Any>,
    codec: DescriptorCodec<'a>,
}

impl<'a> FramesRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>, codec: DescriptorCodec<'a>) -> Self {
        FramesRepo { db, codec }
    }

    /// Writes the frame marker and every face's record in one transaction (see the module).
    pub async fn commit(&self, commit: &FrameCommit) -> Result<FrameCommitted, StoreError> {
        let actor = Actor::Device(commit.device_id.clone());
        let mut sql = format!(
            "BEGIN TRANSACTION;\n\
             IF type::record('frame', $frame_id).id != NONE {{ THROW '{DUPLICATE_FRAME}' }};\n\
             CREATE type::record('frame', $frame_id) SET device_id = $device_id, \
             classroom_id = $classroom_id, captured_at = <datetime>$captured_at, faces = $faces;\n"
        );
        let mut vars = Vars::new()
            .uuid("frame_id", commit.frame_id)
            .str("device_id", commit.device_id.clone())
            .str("classroom_id", commit.classroom_id.clone())
            .str("captured_at", rfc3339(commit.captured_at))
            .int("faces", commit.faces.len() as i64);
        for (index, face) in commit.faces.iter().enumerate() {
            let p = format!("f{index}");
            vars = vars.uuid(&format!("{p}_id"), face.record_id());
            match face {
                FaceWrite::Create { id, new } => {
                    check_confidence(new.confidence, new.distance)?;
                    let student = if new.predicted_student_id.is_some() {
                        format!("type::record('student', ${p}_student)")
                    } else {
                        "NONE".to_owned()
                    };
                    sql.push_str(&format!(
                        "CREATE type::record('attendance', ${p}_id) SET device_id = $device_id, \
                         classroom_id = $classroom_id, captured_image_path = ${p}_image, \
                         predicted_student = {student}, confidence = ${p}_confidence, \
                         distance = ${p}_distance, timestamp = <datetime>${p}_timestamp, \
                         session_start = <datetime>${p}_session, frame_count = 1, \
                         review_status = ${p}_status, descriptor = ${p}_descriptor;\n"
                    ));
                    let audit = NewAudit::of(
                        &actor,
                        "create",
                        "attendance",
                        *id,
                        serde_json::json!({
                            "student_id": new.predicted_student_id,
                            "confidence": new.confidence,
                            "review_status": new.review_status.as_str(),
                            "frame_id": commit.frame_id,
                        }),
                    );
                    sql.push_str(&query::audit_statement_as(&format!("{p}_audit"), &audit));
                    sql.push('\n');
                    vars = vars
                        .opt_str(&format!("{p}_image"), new.captured_image_path.clone())
                        .opt_str(
                            &format!("{p}_student"),
                            new.predicted_student_id.map(|s| s.to_string()),
                        )
                        .float(&format!("{p}_confidence"), f64::from(new.confidence))
                        .opt_float(&format!("{p}_distance"), new.distance.map(f64::from))
                        .str(&format!("{p}_timestamp"), rfc3339(new.timestamp))
                        .str(&format!("{p}_session"), rfc3339(new.session_start))
                        .str(&format!("{p}_status"), new.review_status.as_str())
                        .opt_json(
                            &format!("{p}_descriptor"),
                            self.codec.encode_opt(new.descriptor.as_deref())?,
                        )
                        .audit_as(&format!("{p}_audit"), &audit);
                }
                FaceWrite::Observe {
                    confidence,
                    distance,
                    timestamp,
                    image_path,
                    descriptor,
                    ..
                } => {
                    check_confidence(*confidence, *distance)?;
                    sql.push_str(&format!(
                        "IF type::record('attendance', ${p}_id).id = NONE {{ THROW 'attendance not found' }};\n\
                         IF ${p}_confidence > type::record('attendance', ${p}_id).confidence {{\n\
                             UPDATE type::record('attendance', ${p}_id) SET frame_count += 1, \
                             confidence = ${p}_confidence, distance = ${p}_distance, \
                             timestamp = <datetime>${p}_timestamp, \
                             captured_image_path = ${p}_image ?? captured_image_path, \
                             descriptor = ${p}_descriptor ?? descriptor;\n\
                         }} ELSE {{\n\
                             UPDATE type::record('attendance', ${p}_id) SET frame_count += 1;\n\
                         }};\n"
                    ));
                    vars = vars
                        .float(&format!("{p}_confidence"), f64::from(*confidence))
                        .opt_float(&format!("{p}_distance"), distance.map(f64::from))
                        .str(&format!("{p}_timestamp"), rfc3339(*timestamp))
                        .opt_str(&format!("{p}_image"), image_path.clone())
                        .opt_json(
                            &format!("{p}_descriptor"),
                            self.codec.encode_opt(descriptor.as_deref())?,
                        );
                }
            }
        }
        sql.push_str("COMMIT TRANSACTION;");
        match run(self.db, sql, vars).await {
            Ok(_) => {}
            Err(StoreError::Storage(message)) if message.contains(DUPLICATE_FRAME) => {
                return Ok(FrameCommitted::Duplicate);
            }
            Err(error) => return Err(error),
        }
        self.records_of(&commit.faces)
            .await
            .map(FrameCommitted::Recorded)
    }

    /// The records written by `faces`, in their order (a record observed twice appears twice).
    async fn records_of(&self, faces: &[FaceWrite]) -> Result<Vec<AttendanceRecord>, StoreError> {
        if faces.is_empty() {
            return Ok(Vec::new());
        }
        let mut vars = Vars::new();
        let mut targets = Vec::with_capacity(faces.len());
        for (index, face) in faces.iter().enumerate() {
            vars = vars.uuid(&format!("r{index}"), face.record_id());
            targets.push(format!("type::record('attendance', $r{index})"));
        }
        let mut response = run(
            self.db,
            format!("SELECT {RECORD_FIELDS} FROM {};", targets.join(", ")),
            vars,
        )
        .await?;
        let rows: Vec<RecordRow> = query::rows(&mut response, 0, "attendance")?;
        let records: Vec<AttendanceRecord> = rows.into_iter().map(RecordRow::into_record).collect();
        faces
            .iter()
            .map(|face| {
                let id = face.record_id();
                records
                    .iter()
                    .find(|r| r.id == id)
                    .cloned()
                    .ok_or_else(|| StoreError::not_found(format!("attendance record {id}")))
            })
            .collect()
    }

    /// True when frame `frame_id` was committed.
    pub async fn exists(&self, frame_id: Uuid) -> Result<bool, StoreError> {
        let mut response = run(
            self.db,
            "RETURN type::record('frame', $id).id != NONE;",
            Vars::new().uuid("id", frame_id),
        )
        .await?;
        let found: Option<bool> = response.take(0).map_err(StoreError::storage)?;
        Ok(found.unwrap_or(false))
    }

    /// Ids of the newest `limit` frames captured at or after `since` (to seed the router's
    /// de-duplication after a restart).
    pub async fn ids_since(
        &self,
        since: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<Uuid>, StoreError> {
        let mut response = run(
            self.db,
            "SELECT VALUE <string> id FROM frame WHERE captured_at >= <datetime>$since \
             ORDER BY captured_at DESC LIMIT $limit;",
            Vars::new()
                .str("since", rfc3339(since))
                .int("limit", limit.min(i64::MAX as usize) as i64),
        )
        .await?;
        let ids: Vec<String> = response.take(0).map_err(StoreError::storage)?;
        Ok(ids.iter().filter_map(|text| record_key(text)).collect())
    }

    /// Deletes the markers of frames captured before `before` (older frames are refused for
    /// their age anyway); returns how many.
    pub async fn purge_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut response = run(
            self.db,
            "DELETE frame WHERE captured_at < <datetime>$before RETURN BEFORE;",
            Vars::new().str("before", rfc3339(before)),
        )
        .await?;
        let removed: Vec<serde_json::Value> = response.take(0).map_err(StoreError::storage)?;
        Ok(removed.len() as u64)
    }
}
