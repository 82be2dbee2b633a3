//! Consent decisions of students: every decision is kept (`consent` table, who gave it, against
//! which notice, who recorded it and when) and the latest one is mirrored on the student
//! (`consent_granted`), which is what enrollment and the matching gallery check. Withdrawing
//! consent deletes the student's enrolled faces in the same transaction.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::StoreError;
use super::query::{self, Vars, de_opt_record, run};
use super::students::StudentsRepo;
use crate::{Actor, Consent, ConsentFields, NewAudit, Student};

/// The longest `given_by` and `notice_version` accepted.
const MAX_GIVEN_BY: usize = 200;
const MAX_NOTICE_VERSION: usize = 64;

/// A `consent` row as the store reads it.
#[derive(Debug, Deserialize)]
pub(super) struct ConsentRow {
    granted: bool,
    given_by: String,
    notice_version: String,
    recorded_at: DateTime<Utc>,
    #[serde(default, deserialize_with = "de_opt_record")]
    recorded_by: Option<Uuid>,
}

impl From<ConsentRow> for Consent {
    fn from(row: ConsentRow) -> Self {
        Consent {
            granted: row.granted,
            given_by: row.given_by,
            notice_version: row.notice_version,
            recorded_at: row.recorded_at,
            recorded_by: row.recorded_by,
        }
    }
}

/// What recording a decision did.
#[derive(Debug, Clone, PartialEq)]
pub struct ConsentRecorded {
    /// The student, with the new decision.
    pub student: Student,
    /// Enrolled faces deleted (a withdrawal).
    pub faces_deleted: u64,
    /// Enrollment photo files of those faces (relative to the data dir), for the caller to
    /// delete.
    pub photo_paths: Vec<String>,
}

fn validate(fields: &ConsentFields) -> Result<(), StoreError> {
    let given_by = fields.given_by.trim();
    if given_by.is_empty() || given_by.chars().count() > MAX_GIVEN_BY {
        return Err(StoreError::Invalid(format!(
            "given_by must be 1-{MAX_GIVEN_BY} characters"
        )));
    }
    let notice = fields.notice_version.trim();
    if notice.is_empty() || notice.chars().count() > MAX_NOTICE_VERSION {
        return Err(StoreError::Invalid(format!(
            "notice_version must be 1-{MAX_NOTICE_VERSION} characters"
        )));
    }
    Ok(())
}

impl StudentsRepo<'_> {
    /// Records a consent decision for student `id` as `actor`; a refusal or withdrawal
    /// (`granted: false`) deletes every enrolled face of the student, and the face descriptors
    /// kept with their attendance records, in the same transaction.
    /// `NotFound` for an unknown student, `Invalid` for empty or over-long fields.
    pub async fn record_consent(
        &self,
        id: Uuid,
        fields: &ConsentFields,
        actor: &Actor,
    ) -> Result<ConsentRecorded, StoreError> {
        validate(fields)?;
        self.get(id).await?;
        #[derive(Deserialize)]
        struct FacePath {
            source_path: Option<String>,
        }
        // Only a withdrawal deletes faces: only then are their photo paths needed.
        let faces: Vec<FacePath> = if fields.granted {
            Vec::new()
        } else {
            let mut response = run(
                self.db,
                "SELECT source_path FROM face WHERE student = type::record('student', $id);",
                Vars::new().uuid("id", id),
            )
            .await?;
            query::rows(&mut response, 0, "face")?
        };
        let recorded_by = match actor {
            Actor::User(user) => Some(user.to_string()),
            _ => None,
        };
        let audit = NewAudit::of(
            actor,
            if fields.granted {
                "consent_granted"
            } else {
                "consent_withdrawn"
            },
            "student",
            id,
            serde_json::json!({
                "given_by": fields.given_by.trim(),
                "notice_version": fields.notice_version.trim(),
            }),
        );
        let who = if recorded_by.is_some() {
            "type::record('user', $recorded_by)"
        } else {
            "NONE"
        };
        let withdraw = if fields.granted {
            ""
        } else {
            "DELETE face WHERE student = $student;
             UPDATE attendance SET descriptor = NONE WHERE predicted_student = $student;"
        };
        let sql = query::transaction(
            &format!(
                "LET $student = type::record('student', $id);
                 CREATE consent SET student = $student, granted = $granted, given_by = $given_by,
                     notice_version = $notice_version, recorded_by = {who};
                 UPDATE $student SET consent_granted = $granted;
                 {withdraw}"
            ),
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .json("granted", serde_json::Value::Bool(fields.granted))
                .str("given_by", fields.given_by.trim())
                .str("notice_version", fields.notice_version.trim())
                .opt_str("recorded_by", recorded_by)
                .audit(&audit),
        )
        .await?;
        Ok(ConsentRecorded {
            student: self.get(id).await?,
            faces_deleted: faces.len() as u64,
            photo_paths: faces.into_iter().filter_map(|f| f.source_path).collect(),
        })
    }

    /// Every consent decision recorded for student `id`, oldest first.
    pub async fn consent_history(&self, id: Uuid) -> Result<Vec<Consent>, StoreError> {
        let mut response = run(
            self.db,
            "SELECT granted, given_by, notice_version, recorded_at, recorded_by FROM consent
             WHERE student = type::record('student', $id) ORDER BY recorded_at;",
            Vars::new().uuid("id", id),
        )
        .await?;
        Ok(query::rows::<ConsentRow>(&mut response, 0, "consent")?
            .into_iter()
            .map(Consent::from)
            .collect())
    }
}
