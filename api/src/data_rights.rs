//! The data subject's rights over a student's data (admin only): erasure (GDPR Art. 17,
//! `POST /api/students/{id}/erase`) and access / portability (Art. 15 and 20,
//! `GET /api/students/{id}/export`).

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use cavs_models::{AttendanceFilter, PageRequest};

use crate::ApiState;
use crate::attendance::{AttendanceOut, record_out};
use crate::audit::AuditOut;
use crate::auth::BearerAuth;
use crate::consent::ConsentOut;
use crate::error::ApiResult;
use crate::retention::{remove_data_file, remove_enrollment_dir};
use crate::students::{FaceOut, StudentOut};
use crate::tags::ApiTags;

/// What an erasure removed.
#[derive(Debug, Object)]
pub struct ErasureReport {
    /// The erased student's id (unknown to the hub from now on).
    pub student_id: Uuid,
    /// Attendance records that named the student, deleted with their face descriptors.
    pub records_deleted: u64,
    /// Face crop files of those records deleted from the data dir.
    pub crops_deleted: u64,
    /// Enrolled face descriptors deleted (the live gallery no longer holds them).
    pub faces_deleted: u64,
    /// Enrollment photo files deleted from the data dir.
    pub photos_deleted: u64,
    /// Audit entries whose details (names, numbers, scores) were replaced by
    /// `{"erased": true}`; the entries themselves (who did what, when) stay.
    pub audit_entries_redacted: u64,
}

/// One attendance record of the student with its review history.
#[derive(Debug, Object)]
pub struct ExportedRecord {
    /// The record as the API shows it.
    pub record: AttendanceOut,
    /// Its audit entries (creation, reviews), oldest first.
    pub history: Vec<AuditOut>,
}

/// Everything the hub holds about a student.
#[derive(Debug, Object)]
pub struct StudentExport {
    /// When this export was made.
    pub exported_at: DateTime<Utc>,
    /// The profile (with the latest consent decision).
    pub student: StudentOut,
    /// Every consent decision recorded, oldest first.
    pub consent_history: Vec<ConsentOut>,
    /// The enrolled faces' metadata (the 128-number descriptors are derived data and are not
    /// exported; the photos are under the student's enrollment folder).
    pub faces: Vec<FaceOut>,
    /// Every attendance record that names the student, newest first.
    pub attendance: Vec<ExportedRecord>,
    /// Audit entries about the student record itself (creation, edits), oldest first.
    pub audit: Vec<AuditOut>,
}

pub(crate) struct DataRightsApi {
    state: ApiState,
}

impl DataRightsApi {
    pub(crate) fn new(state: ApiState) -> Self {
        DataRightsApi { state }
    }
}

#[OpenApi(tag = "ApiTags::Students")]
impl DataRightsApi {
    /// Erases a student (admin): the student, their enrolled faces and enrollment photos, every
    /// attendance record that named them with its face crop, and their details in the audit
    /// log (the entries stay, without the person). Afterwards a frame of them is an unknown
    /// face. Cannot be undone.
    #[oai(path = "/students/:id/erase", method = "post")]
    async fn erase(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
    ) -> ApiResult<Json<ErasureReport>> {
        auth.0.require_admin()?;
        let store = &self.state.store;
        let student = store.students().find(&id.0).await?;
        let erasure = store.students().erase(student.id, &auth.0.actor()).await?;
        // The gallery forgets the student; a frame that was in flight may still have written a
        // record naming them, which the second sweep removes.
        self.state.pipeline.gallery_changed().await;
        let late = store.students().erase_late_records(student.id).await?;
        let mut crops_deleted = 0;
        for path in erasure.crop_paths.iter().chain(&late) {
            if remove_data_file(&self.state.config.data_dir, path).await {
                crops_deleted += 1;
            }
        }
        let photos_deleted = remove_enrollment_dir(&self.state.config.data_dir, student.id).await;
        tracing::info!(student = %student.id, records = erasure.records_deleted + late.len() as u64, "student erased");
        Ok(Json(ErasureReport {
            student_id: student.id,
            records_deleted: erasure.records_deleted + late.len() as u64,
            crops_deleted,
            faces_deleted: erasure.faces_deleted,
            photos_deleted,
            audit_entries_redacted: erasure.audit_entries_redacted,
        }))
    }

    /// Everything held about a student (admin), as one JSON document: profile, enrolled faces'
    /// metadata, every attendance record naming them with its review history, and the audit
    /// entries about the student.
    #[oai(path = "/students/:id/export", method = "get")]
    async fn export(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
    ) -> ApiResult<Json<StudentExport>> {
        auth.0.require_admin()?;
        let store = &self.state.store;
        let student = store.students().find(&id.0).await?;
        let faces = store.faces().for_student(student.id).await?;
        let consent_history = store.students().consent_history(student.id).await?;
        let filter = AttendanceFilter {
            student_id: Some(student.id),
            ..AttendanceFilter::default()
        };
        let mut records = Vec::new();
        for page in 1.. {
            let request = PageRequest {
                page,
                page_size: 500,
            };
            let batch = store.attendance().list(&filter, &request).await?;
            let done = batch.items.len() < 500;
            records.extend(batch.items);
            if done {
                break;
            }
        }
        let record_ids: Vec<String> = records.iter().map(|r| r.id.to_string()).collect();
        let mut history: HashMap<String, Vec<AuditOut>> = HashMap::new();
        for entry in store.audit().about("attendance", &record_ids).await? {
            let key = entry.target_id.clone().unwrap_or_default();
            history.entry(key).or_default().push(entry.into());
        }
        let audit = store
            .audit()
            .about("student", &[student.id.to_string()])
            .await?;
        let attendance = records
            .into_iter()
            .map(|record| ExportedRecord {
                history: history.remove(&record.id.to_string()).unwrap_or_default(),
                record: record_out(record),
            })
            .collect();
        Ok(Json(StudentExport {
            exported_at: Utc::now(),
            student: student.into(),
            consent_history: consent_history.into_iter().map(ConsentOut::from).collect(),
            faces: faces.into_iter().map(FaceOut::from).collect(),
            attendance,
            audit: audit.into_iter().map(AuditOut::from).collect(),
        }))
    }
}
