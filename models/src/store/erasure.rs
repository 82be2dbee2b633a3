//! Erasure of a student (GDPR Art. 17): the student, their face descriptors, every attendance
//! record that names them, and the personal details of every audit entry about them, in one
//! transaction. The audit log keeps the fact of each change (action, table, id, time) but not
//! the person. Files on disk (face crops, enrollment photos) are the caller's to delete: this
//! answers the crop paths the deleted records held.

use serde::Deserialize;
use uuid::Uuid;

use super::StoreError;
use super::query::{self, Vars, run};
use super::students::StudentsRepo;
use crate::{Actor, NewAudit};

/// What an erasure removed from the database.
#[derive(Debug, Clone, PartialEq)]
pub struct Erasure {
    /// The erased student's id (now unknown to the store).
    pub student_id: Uuid,
    /// Attendance records that named the student, deleted.
    pub records_deleted: u64,
    /// Face descriptors deleted.
    pub faces_deleted: u64,
    /// Audit entries whose details were replaced by `{"erased": true}`.
    pub audit_entries_redacted: u64,
    /// Face crop files the deleted records pointed at (relative to the data dir).
    pub crop_paths: Vec<String>,
}

/// The audit entries about the student `$id` or one of the records `$records`.
const ABOUT_THE_STUDENT: &str = "(target_table = 'student' AND target_id = $id) \
     OR (target_table = 'attendance' AND target_id IN $records) \
     OR (target_table = 'face' AND target_id IN $faces) \
     OR meta.student_id = $id OR meta.previous_student_id = $id";

#[derive(Deserialize)]
struct NamingRow {
    #[serde(deserialize_with = "super::query::de_record")]
    id: Uuid,
    captured_image_path: Option<String>,
}

impl StudentsRepo<'_> {
    /// Erases student `id` (see the module docs); `NotFound` when there is no such student.
    /// Records written for the student while this runs (a frame in flight) are left for
    /// [`StudentsRepo::erase_late_records`], which the caller runs once the live gallery no
    /// longer knows the student.
    pub async fn erase(&self, id: Uuid, actor: &Actor) -> Result<Erasure, StoreError> {
        let student = self.get(id).await?;
        let records = self.records_naming(id).await?;
        let record_ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let face_ids = self.face_ids(id).await?;
        let vars = Vars::new()
            .uuid("id", id)
            .json("records", serde_json::json!(record_ids))
            .json("faces", serde_json::json!(face_ids));
        let mut response = run(
            self.db,
            format!("SELECT count() FROM audit WHERE {ABOUT_THE_STUDENT} GROUP ALL;"),
            vars.clone(),
        )
        .await?;
        let redacted = query::count(&mut response, 0)?;
        let audit = NewAudit::of(
            actor,
            "erase",
            "student",
            id,
            serde_json::json!({
                "records_deleted": records.len(),
                "faces_deleted": student.face_count,
                "audit_entries_redacted": redacted,
            }),
        );
        let sql = query::transaction(
            &format!(
                "LET $student = type::record('student', $id);
                 DELETE attendance WHERE predicted_student = $student;
                 DELETE face WHERE student = $student;
                 DELETE consent WHERE student = $student;
                 UPDATE audit SET meta = {{ erased: true }} WHERE {ABOUT_THE_STUDENT};
                 DELETE $student;"
            ),
            &audit,
        );
        run(self.db, sql, vars.audit(&audit)).await?;
        Ok(Erasure {
            student_id: id,
            records_deleted: records.len() as u64,
            faces_deleted: face_ids.len() as u64,
            audit_entries_redacted: redacted,
            crop_paths: records
                .into_iter()
                .filter_map(|r| r.captured_image_path)
                .collect(),
        })
    }

    /// Deletes the records that still name the erased student `id` (written by a frame that was
    /// in flight during [`StudentsRepo::erase`]) and redacts their audit entries; answers their
    /// crop paths. Nothing to do is the usual case.
    pub async fn erase_late_records(&self, id: Uuid) -> Result<Vec<String>, StoreError> {
        let records = self.records_naming(id).await?;
        if records.is_empty() {
            return Ok(Vec::new());
        }
        let record_ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let vars = Vars::new()
            .uuid("id", id)
            .json("records", serde_json::json!(record_ids))
            .json("faces", serde_json::json!([]));
        run(
            self.db,
            format!(
                "BEGIN TRANSACTION;
                 DELETE attendance WHERE predicted_student = type::record('student', $id);
                 UPDATE audit SET meta = {{ erased: true }} WHERE {ABOUT_THE_STUDENT};
                 COMMIT TRANSACTION;"
            ),
            vars,
        )
        .await?;
        Ok(records
            .into_iter()
            .filter_map(|r| r.captured_image_path)
            .collect())
    }

    async fn records_naming(&self, id: Uuid) -> Result<Vec<NamingRow>, StoreError> {
        let mut response = run(
            self.db,
            "SELECT id, captured_image_path FROM attendance WHERE predicted_student = type::record('student', $id);",
            Vars::new().uuid("id", id),
        )
        .await?;
        query::rows(&mut response, 0, "attendance")
    }

    async fn face_ids(&self, id: Uuid) -> Result<Vec<String>, StoreError> {
        let mut response = run(
            self.db,
            "SELECT VALUE <string> record::id(id) FROM face WHERE student = type::record('student', $id);",
            Vars::new().uuid("id", id),
        )
        .await?;
        query::rows(&mut response, 0, "face")
    }
}
