//! Attendance taken by hand (a teacher marks a student present): for students who opted out of
//! face recognition, or are not enrolled. The record is approved and reviewed by the teacher
//! at once, has no face crop or descriptor, and counts once per session window like a
//! camera's record.

use uuid::Uuid;

use super::StoreError;
use super::attendance::{AttendanceRepo, rfc3339};
use super::query::{self, Vars, run};
use crate::{Actor, AttendanceRecord, ManualAttendance, NewAudit};

/// The `device_id` of records taken by hand.
pub const MANUAL_DEVICE: &str = "manual";

impl AttendanceRepo<'_> {
    /// Writes an approved record of `manual.student_id` reviewed by `reviewer`, with its audit
    /// entry, in one transaction; `Conflict` when the student already has a record in that
    /// classroom's session window (camera or hand), `NotFound` for an unknown student.
    pub async fn create_manual(
        &self,
        manual: &ManualAttendance,
        reviewer: Uuid,
        actor: &Actor,
    ) -> Result<AttendanceRecord, StoreError> {
        let id = Uuid::now_v7();
        let audit = NewAudit::of(
            actor,
            "create_manual",
            "attendance",
            id,
            serde_json::json!({
                "student_id": manual.student_id,
                "classroom_id": manual.classroom_id,
            }),
        );
        let sql = query::transaction(
            "LET $student = type::record('student', $student_id);
             IF $student.id = NONE { THROW 'student not found' };
             IF array::len((SELECT VALUE id FROM attendance WHERE classroom_id = $classroom_id
                 AND predicted_student = $student AND session_start = <datetime>$session_start LIMIT 1)) > 0
                 { THROW 'already recorded in this session' };
             CREATE type::record('attendance', $id) SET device_id = $device_id, classroom_id = $classroom_id,
                 predicted_student = $student, confidence = 1.0, timestamp = <datetime>$timestamp,
                 session_start = <datetime>$session_start, frame_count = 0, review_status = 'approved',
                 reviewer = type::record('user', $reviewer), review_timestamp = time::now(), notes = $notes;",
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .uuid("student_id", manual.student_id)
                .str("device_id", MANUAL_DEVICE)
                .str("classroom_id", manual.classroom_id.clone())
                .str("timestamp", rfc3339(manual.timestamp))
                .str("session_start", rfc3339(manual.session_start))
                .uuid("reviewer", reviewer)
                .opt_str("notes", manual.notes.clone())
                .audit(&audit),
        )
        .await
        .map_err(|e| match e {
            StoreError::Storage(msg) if msg.contains("student not found") => {
                StoreError::not_found(format!("student {}", manual.student_id))
            }
            StoreError::Storage(msg) if msg.contains("already recorded") => StoreError::Conflict(
                "the student already has a record in this classroom's session: review that one"
                    .to_owned(),
            ),
            other => other,
        })?;
        self.get(id).await
    }
}
