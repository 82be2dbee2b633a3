//! Attendance records.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::descriptors::DescriptorCodec;
use super::query::{self, Vars, de_opt_record, de_record, page_bounds, run};
use crate::{
    Actor, AttendanceFilter, AttendanceRecord, NewAttendance, NewAudit, Page, PageRequest, Review,
    ReviewStatus,
};

pub(super) const RECORD_FIELDS: &str = "id, device_id, classroom_id, captured_image_path, predicted_student, \
     predicted_student.full_name AS predicted_name, confidence, distance, timestamp, session_start, \
     frame_count, review_status, reviewer, review_timestamp, notes";

#[derive(Deserialize)]
pub(super) struct RecordRow {
    #[serde(deserialize_with = "de_record")]
    id: Uuid,
    device_id: String,
    classroom_id: String,
    captured_image_path: Option<String>,
    #[serde(default, deserialize_with = "de_opt_record")]
    predicted_student: Option<Uuid>,
    predicted_name: Option<String>,
    confidence: f64,
    distance: Option<f64>,
    timestamp: DateTime<Utc>,
    session_start: DateTime<Utc>,
    frame_count: u64,
    review_status: String,
    #[serde(default, deserialize_with = "de_opt_record")]
    reviewer: Option<Uuid>,
    review_timestamp: Option<DateTime<Utc>>,
    notes: Option<String>,
}

impl RecordRow {
    pub(super) fn into_record(self) -> AttendanceRecord {
        AttendanceRecord {
            id: self.id,
            device_id: self.device_id,
            classroom_id: self.classroom_id,
            predicted_student_id: self.predicted_student,
            predicted_name: self.predicted_name,
            confidence: self.confidence as f32,
            distance: self.distance.map(|d| d as f32),
            timestamp: self.timestamp,
            review_status: ReviewStatus::parse(&self.review_status)
                .unwrap_or(ReviewStatus::Pending),
            reviewer_id: self.reviewer,
            review_timestamp: self.review_timestamp,
            notes: self.notes,
            captured_image_path: self.captured_image_path,
            session_start: self.session_start,
            frame_count: self.frame_count,
        }
    }
}

pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

pub(super) fn check_confidence(confidence: f32, distance: Option<f32>) -> Result<(), StoreError> {
    if !(0.0..=1.0).contains(&confidence) || distance.is_some_and(|d| !d.is_finite() || d < 0.0) {
        return Err(StoreError::Invalid(format!(
            "confidence {confidence} must be in [0, 1] and distance {distance:?} finite and >= 0"
        )));
    }
    Ok(())
}

/// Repository of `attendance` records.
pub struct AttendanceRepo<'a> {
    pub(super) db: &'a Surreal<Any>,
    pub(super) codec: DescriptorCodec<'a>,
}

impl<'a> AttendanceRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>, codec: DescriptorCodec<'a>) -> Self {
        AttendanceRepo { db, codec }
    }

    /// Writes a new record and its audit entry in one transaction.
    pub async fn create(
        &self,
        new: &NewAttendance,
        actor: &Actor,
    ) -> Result<AttendanceRecord, StoreError> {
        check_confidence(new.confidence, new.distance)?;
        let id = Uuid::now_v7();
        let audit = NewAudit::of(
            actor,
            "create",
            "attendance",
            id,
            serde_json::json!({
                "student_id": new.predicted_student_id,
                "confidence": new.confidence,
                "review_status": new.review_status.as_str(),
            }),
        );
        let student = if new.predicted_student_id.is_some() {
            "type::record('student', $student)"
        } else {
            "NONE"
        };
        let sql = query::transaction(
            &format!(
                "CREATE type::record('attendance', $id) SET device_id = $device_id, classroom_id = $classroom_id, \
                 captured_image_path = $image, predicted_student = {student}, confidence = $confidence, \
                 distance = $distance, timestamp = <datetime>$timestamp, session_start = <datetime>$session_start, \
                 frame_count = 1, review_status = $status, descriptor = $descriptor;"
            ),
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .str("device_id", new.device_id.clone())
                .str("classroom_id", new.classroom_id.clone())
                .opt_str("image", new.captured_image_path.clone())
                .opt_str("student", new.predicted_student_id.map(|s| s.to_string()))
                .float("confidence", f64::from(new.confidence))
                .opt_float("distance", new.distance.map(f64::from))
                .str("timestamp", rfc3339(new.timestamp))
                .str("session_start", rfc3339(new.session_start))
                .str("status", new.review_status.as_str())
                .opt_json(
                    "descriptor",
                    self.codec.encode_opt(new.descriptor.as_deref())?,
                )
                .audit(&audit),
        )
        .await?;
        self.get(id).await
    }

    /// The record of `student` in `classroom` for the session window starting at `session_start`.
    pub async fn find_session(
        &self,
        classroom_id: &str,
        student_id: Uuid,
        session_start: DateTime<Utc>,
    ) -> Result<Option<AttendanceRecord>, StoreError> {
        let mut response = run(
            self.db,
            format!(
                "SELECT {RECORD_FIELDS} FROM attendance WHERE classroom_id = $classroom \
                 AND predicted_student = type::record('student', $student) \
                 AND session_start = <datetime>$session_start LIMIT 1;"
            ),
            Vars::new()
                .str("classroom", classroom_id)
                .uuid("student", student_id)
                .str("session_start", rfc3339(session_start)),
        )
        .await?;
        Ok(query::rows::<RecordRow>(&mut response, 0, "attendance")?
            .pop()
            .map(RecordRow::into_record))
    }

    /// Counts one more frame for a record; when `confidence` beats the stored one, the record
    /// takes this frame's confidence, distance, time and face crop.
    pub async fn observe_again(
        &self,
        id: Uuid,
        confidence: f32,
        distance: Option<f32>,
        timestamp: DateTime<Utc>,
        image_path: Option<&str>,
    ) -> Result<AttendanceRecord, StoreError> {
        check_confidence(confidence, distance)?;
        run(
            self.db,
            "LET $record = type::record('attendance', $id);
             IF $record.id = NONE { THROW 'attendance not found' };
             IF $confidence > $record.confidence {
                 UPDATE $record SET frame_count += 1, confidence = $confidence, distance = $distance,
                     timestamp = <datetime>$timestamp, captured_image_path = $image ?? captured_image_path;
             } ELSE {
                 UPDATE $record SET frame_count += 1;
             };",
            Vars::new()
                .uuid("id", id)
                .float("confidence", f64::from(confidence))
                .opt_float("distance", distance.map(f64::from))
                .str("timestamp", rfc3339(timestamp))
                .opt_str("image", image_path),
        )
        .await
        .map_err(|e| not_found(e, id))?;
        self.get(id).await
    }

    /// The record with this id.
    pub async fn get(&self, id: Uuid) -> Result<AttendanceRecord, StoreError> {
        let mut response = run(
            self.db,
            format!("SELECT {RECORD_FIELDS} FROM ONLY type::record('attendance', $id);"),
            Vars::new().uuid("id", id),
        )
        .await?;
        query::one::<RecordRow>(&mut response, 0, "attendance")?
            .map(RecordRow::into_record)
            .ok_or_else(|| StoreError::not_found(format!("attendance record {id}")))
    }

    /// One page of records matching `filter`, newest first.
    pub async fn list(
        &self,
        filter: &AttendanceFilter,
        page: &PageRequest,
    ) -> Result<Page<AttendanceRecord>, StoreError> {
        let (limit, start) = page_bounds(page);
        let vars = Vars::new().int("limit", limit).int("start", start);
        let (conditions, vars) = filter_conditions(filter, vars);
        let where_clause = if conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", conditions.join(" AND "))
        };
        let mut response = run(
            self.db,
            format!(
                "SELECT {RECORD_FIELDS} FROM attendance {where_clause} ORDER BY timestamp DESC LIMIT $limit START $start;
                 SELECT count() FROM attendance {where_clause} GROUP ALL;"
            ),
            vars,
        )
        .await?;
        query::page(
            &mut response,
            "attendance",
            page,
            limit,
            |row: RecordRow| Ok(RecordRow::into_record(row)),
        )
    }

    /// Applies a teacher's review (approve / reject, optionally reassigning the student) and
    /// writes its audit entry in the same transaction.
    pub async fn review(&self, id: Uuid, review: &Review) -> Result<AttendanceRecord, StoreError> {
        if review.decision == ReviewStatus::Pending {
            return Err(StoreError::Invalid(
                "a review decision is approve or reject".into(),
            ));
        }
        let before = self.get(id).await?;
        let audit = NewAudit {
            actor: Actor::User(review.reviewer_id),
            action: "review".into(),
            target_table: "attendance".into(),
            target_id: Some(id.to_string()),
            meta: serde_json::json!({
                "decision": review.decision.as_str(),
                "previous_status": before.review_status.as_str(),
                "previous_student_id": before.predicted_student_id,
                "student_id": review.student_id.or(before.predicted_student_id),
                "notes": review.notes,
            }),
        };
        let reassign = if review.student_id.is_some() {
            "IF type::record('student', $student).id = NONE { THROW 'student not found' };
             UPDATE $record SET predicted_student = type::record('student', $student);"
        } else {
            ""
        };
        let sql = query::transaction(
            &format!(
                "LET $record = type::record('attendance', $id);
                 {reassign}
                 UPDATE $record SET review_status = $status, reviewer = type::record('user', $reviewer),
                     review_timestamp = time::now(), notes = $notes;"
            ),
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .str("status", review.decision.as_str())
                .uuid("reviewer", review.reviewer_id)
                .opt_str("student", review.student_id.map(|s| s.to_string()))
                .opt_str("notes", review.notes.clone())
                .audit(&audit),
        )
        .await
        .map_err(|e| match e {
            StoreError::Storage(msg) if msg.contains("student not found") => {
                StoreError::not_found(format!("student {}", review.student_id.unwrap_or_default()))
            }
            other => other,
        })?;
        self.get(id).await
    }

    /// Deletes a record.
    pub async fn delete(&self, id: Uuid, actor: &Actor) -> Result<AttendanceRecord, StoreError> {
        let record = self.get(id).await?;
        let audit = NewAudit::of(
            actor,
            "delete",
            "attendance",
            id,
            serde_json::json!({
                "student_id": record.predicted_student_id,
                "classroom_id": record.classroom_id,
                "timestamp": record.timestamp,
            }),
        );
        let sql = query::transaction("DELETE type::record('attendance', $id);", &audit);
        run(self.db, sql, Vars::new().uuid("id", id).audit(&audit)).await?;
        Ok(record)
    }
}

fn not_found(error: StoreError, id: Uuid) -> StoreError {
    match error {
        StoreError::Storage(msg) if msg.contains("attendance not found") => {
            StoreError::not_found(format!("attendance record {id}"))
        }
        other => other,
    }
}

/// The `WHERE` conditions of `filter` (joined with `AND`), with their variables added to `vars`.
pub(super) fn filter_conditions(
    filter: &AttendanceFilter,
    mut vars: Vars,
) -> (Vec<&'static str>, Vars) {
    let mut conditions = Vec::new();
    if let Some(classroom) = &filter.classroom_id {
        conditions.push("classroom_id = $classroom");
        vars = vars.str("classroom", classroom.clone());
    }
    if let Some(scope) = filter.scope.classrooms() {
        conditions.push("classroom_id IN $scope");
        vars = vars.json("scope", serde_json::json!(scope));
    }
    if let Some(student) = filter.student_id {
        conditions.push("predicted_student = type::record('student', $student)");
        vars = vars.uuid("student", student);
    }
    if let Some(device) = &filter.device_id {
        conditions.push("device_id = $device");
        vars = vars.str("device", device.clone());
    }
    if let Some(status) = filter.review_status {
        conditions.push("review_status = $status");
        vars = vars.str("status", status.as_str());
    }
    if let Some(from) = filter.from {
        conditions.push("timestamp >= <datetime>$from");
        vars = vars.str("from", rfc3339(from));
    }
    if let Some(to) = filter.to {
        conditions.push("timestamp < <datetime>$to");
        vars = vars.str("to", rfc3339(to));
    }
    (conditions, vars)
}
