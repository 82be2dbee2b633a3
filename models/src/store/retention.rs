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
struct SeenRow {
    student: String,
    timestamp: DateTime<Utc>,
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
                     WHERE predicted_student != NONE AND timestamp >= <datetime>$embeddings));
                 SELECT VALUE <string> record::id(id) FROM student
                     WHERE last_seen_at != NONE AND last_seen_at >= <datetime>$embeddings;
                 SELECT <string> record::id(predicted_student) AS student, timestamp FROM attendance
                     WHERE predicted_student != NONE AND {EXPIRED_RECORDS};"
            ),
            vars.clone(),
        )
        .await?;
        let records: Vec<CropRow> = query::rows(&mut response, 0, "attendance")?;
        let unknown: Vec<CropRow> = query::rows(&mut response, 1, "attendance")?;
        let crops: Vec<CropRow> = query::rows(&mut response, 2, "attendance")?;
        let faces: Vec<FaceRow> = query::rows(&mut response, 3, "face")?;
        let seen: Vec<String> = response.take(4).map_err(StoreError::storage)?;
        // Seen since the cutoff: a record names them, or one did that an earlier purge deleted
        // (its time is kept as the student's `last_seen_at`).
        let seen_before_purges: Vec<String> = response.take(5).map_err(StoreError::storage)?;
        let seen_since: HashSet<Uuid> = seen
            .iter()
            .chain(&seen_before_purges)
            .filter_map(|s| s.parse().ok())
            .collect();
        let expiring: Vec<SeenRow> = query::rows(&mut response, 6, "attendance")?;
        let mut last_seen: std::collections::HashMap<String, DateTime<Utc>> =
            std::collections::HashMap::new();
        for row in expiring {
            let at = last_seen.entry(row.student).or_insert(row.timestamp);
            *at = (*at).max(row.timestamp);
        }
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
        let last_seen: Vec<serde_json::Value> = last_seen
            .into_iter()
            .map(|(student, at)| serde_json::json!({ "student": student, "at": super::attendance::rfc3339(at) }))
            .collect();
        let sql = query::transaction(
            &format!(
                "FOR $seen IN $last_seen {{
                     UPDATE type::record('student', $seen.student) SET last_seen_at = <datetime>($seen.at)
                         WHERE last_seen_at = NONE OR last_seen_at < <datetime>($seen.at);
                 }};
                 DELETE attendance WHERE {EXPIRED_UNKNOWN};
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
                .json("last_seen", serde_json::Value::Array(last_seen))
                .audit(&audit),
        )
        .await?;
        Ok(purge)
    }
}
