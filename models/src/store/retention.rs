//! Applies the retention schedule ([`crate::retention`]) to the database: expired records are
//! deleted, expired crops and descriptors of named records are dropped from them, unknown faces
//! past the crop retention are deleted whole, and students not seen for the embedding retention
//! lose their enrolled faces. One transaction, one audit entry. Files on disk (crops,
//! enrollment photos) are the caller's to delete: the purge answers their paths.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::query::{self, Vars, run};
use super::{Store, StoreError};
use crate::retention::{EnrolledFace, RetentionCutoffs, expired_enrollments};
use crate::{Actor, NewAudit};

/// What a purge removed (or, for a dry run, would remove).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Purge {
    /// The cutoffs applied.
    pub cutoffs: RetentionCutoffs,
    /// True when nothing was changed (the counts say what would go).
    pub dry_run: bool,
    /// Records past the record retention, deleted.
    pub records_deleted: u64,
    /// Unknown faces (records naming no student) past the crop retention, deleted.
    pub unknown_faces_deleted: u64,
    /// Named records past the crop retention whose crop and descriptor were dropped (the
    /// record itself stays until the record retention).
    pub crops_expired: u64,
    /// Students whose enrolled faces expired.
    pub students_expired: u64,
    /// Enrolled faces (embeddings) deleted.
    pub faces_deleted: u64,
    /// Files to delete, relative to the data dir: the crops of the records above and the
    /// enrollment photos of the faces above.
    pub file_paths: Vec<String>,
}

impl Purge {
    /// True when the purge found nothing expired.
    pub fn is_empty(&self) -> bool {
        self.records_deleted + self.unknown_faces_deleted + self.crops_expired + self.faces_deleted
            == 0
    }
}

#[derive(Deserialize)]
struct CropRow {
    captured_image_path: Option<String>,
}

#[derive(Deserialize)]
struct FaceRow {
    student: String,
    created_at: DateTime<Utc>,
    source_path: Option<String>,
}

/// Records past the record retention.
const EXPIRED_RECORDS: &str = "timestamp < <datetime>$records";
/// Unknown faces past the crop retention (and not already past the record retention).
const EXPIRED_UNKNOWN: &str =
    "predicted_student = NONE AND timestamp < <datetime>$crops AND timestamp >= <datetime>$records";
/// Named records past the crop retention that still hold a crop or a descriptor.
const EXPIRED_CROPS: &str = "predicted_student != NONE AND timestamp < <datetime>$crops \
     AND timestamp >= <datetime>$records AND (captured_image_path != NONE OR descriptor != NONE)";

impl Store {
    /// Applies `cutoffs` (see the module docs) as `actor`, or with `dry_run` only counts what
    /// would go. The audit entry (action `purge`, table `retention`) holds the counts and the
    /// cutoffs.
    pub async fn purge(
        &self,
        cutoffs: &RetentionCutoffs,
        dry_run: bool,
        actor: &Actor,
    ) -> Result<Purge, StoreError> {
        let vars = Vars::new()
            .time("records", cutoffs.records_before)
            .time("crops", cutoffs.crops_before)
            .time("embeddings", cutoffs.embeddings_before);
        let mut response = run(
            &self.db,
            format!(
                "SELECT captured_image_path FROM attendance WHERE {EXPIRED_RECORDS};
                 SELECT captured_image_path FROM attendance WHERE {EXPIRED_UNKNOWN};
                 SELECT captured_image_path FROM attendance WHERE {EXPIRED_CROPS};
                 SELECT <string> record::id(student) AS student, created_at, source_path FROM face;
                 RETURN array::distinct((SELECT VALUE <string> record::id(predicted_student) FROM attendance
                     WHERE predicted_student != NONE AND timestamp >= <datetime>$embeddings));"
            ),
            vars.clone(),
        )
        .await?;
        let records: Vec<CropRow> = query::rows(&mut response, 0, "attendance")?;
        let unknown: Vec<CropRow> = query::rows(&mut response, 1, "attendance")?;
        let crops: Vec<CropRow> = query::rows(&mut response, 2, "attendance")?;
        let faces: Vec<FaceRow> = query::rows(&mut response, 3, "face")?;
        let seen: Vec<String> = response.take(4).map_err(StoreError::storage)?;
        let seen_since: HashSet<Uuid> = seen.iter().filter_map(|s| s.parse().ok()).collect();
        let enrolled: Vec<(EnrolledFace, Option<String>)> = faces
            .into_iter()
            .filter_map(|f| {
                let student_id = f.student.parse().ok()?;
                Some((
                    EnrolledFace {
                        student_id,
                        created_at: f.created_at,
                    },
                    f.source_path,
                ))
            })
            .collect();
        let just_faces: Vec<EnrolledFace> = enrolled.iter().map(|(f, _)| f.clone()).collect();
        let expired = expired_enrollments(&just_faces, &seen_since, cutoffs);
        let expired_set: HashSet<Uuid> = expired.iter().copied().collect();
        let expired_faces: Vec<&(EnrolledFace, Option<String>)> = enrolled
            .iter()
            .filter(|(f, _)| expired_set.contains(&f.student_id))
            .collect();

        let mut file_paths: Vec<String> = records
            .iter()
            .chain(&unknown)
            .chain(&crops)
            .filter_map(|r| r.captured_image_path.clone())
            .collect();
        file_paths.extend(
            expired_faces
                .iter()
                .filter_map(|(_, path)| path.clone())
                .filter(|p| p.starts_with("enrollment/")),
        );
        let purge = Purge {
            cutoffs: *cutoffs,
            dry_run,
            records_deleted: records.len() as u64,
            unknown_faces_deleted: unknown.len() as u64,
            crops_expired: crops.len() as u64,
            students_expired: expired.len() as u64,
            faces_deleted: expired_faces.len() as u64,
            file_paths,
        };
        if dry_run {
            return Ok(purge);
        }
        let audit = NewAudit::of(
            actor,
            "purge",
            "retention",
            cutoffs.records_before.format("%Y-%m-%d").to_string(),
            serde_json::json!({
                "records_deleted": purge.records_deleted,
                "unknown_faces_deleted": purge.unknown_faces_deleted,
                "crops_expired": purge.crops_expired,
                "students_expired": purge.students_expired,
                "faces_deleted": purge.faces_deleted,
                "cutoffs": cutoffs,
            }),
        );
        let expired_ids: Vec<String> = expired.iter().map(Uuid::to_string).collect();
        let sql = query::transaction(
            &format!(
                "DELETE attendance WHERE {EXPIRED_UNKNOWN};
                 UPDATE attendance SET captured_image_path = NONE, descriptor = NONE WHERE {EXPIRED_CROPS};
                 DELETE attendance WHERE {EXPIRED_RECORDS};
                 FOR $student IN $expired {{ DELETE face WHERE student = type::record('student', $student) AND created_at < <datetime>$embeddings; }};"
            ),
            &audit,
        );
        run(
            &self.db,
            sql,
            vars.json("expired", serde_json::json!(expired_ids))
                .audit(&audit),
        )
        .await?;
        Ok(purge)
    }
}
