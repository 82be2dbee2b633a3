//! Consent to face recognition (GDPR Art. 9(2)(a)): `POST /api/students/{id}/consent` records a
//! decision (a withdrawal deletes the student's enrolled faces and photos at once and the live
//! gallery forgets them). Students without consent are marked present by hand
//! ([`crate::manual_attendance`]).

use chrono::{DateTime, Utc};
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use uuid::Uuid;

use cavs_models::{Consent, ConsentFields};

use crate::ApiState;
use crate::auth::BearerAuth;
use crate::error::ApiResult;
use crate::retention::remove_enrollment_dir;
use crate::students::StudentOut;
use crate::tags::ApiTags;
use crate::text::Text;

/// A consent decision as the API shows it.
#[derive(Debug, Object)]
pub struct ConsentOut {
    /// Granted (true) or refused / withdrawn (false).
    pub granted: bool,
    /// Who gave or withdrew it (the student, a parent or guardian).
    pub given_by: String,
    /// The privacy notice version it was given against.
    pub notice_version: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The user who recorded it (null: the hub, e.g. a roster import).
    #[oai(nullable)]
    pub recorded_by: Option<Uuid>,
}

impl From<Consent> for ConsentOut {
    fn from(c: Consent) -> Self {
        ConsentOut {
            granted: c.granted,
            given_by: c.given_by,
            notice_version: c.notice_version,
            recorded_at: c.recorded_at,
            recorded_by: c.recorded_by,
        }
    }
}

/// A consent decision to record.
#[derive(Debug, Object)]
pub struct ConsentIn {
    /// Granted (true), or refused / withdrawn (false: the student's enrolled faces and photos
    /// are deleted at once and they are no longer recognised).
    pub granted: bool,
    /// Who gave or withdrew it, as on the form (the student, a parent or guardian).
    #[oai(validator(min_length = 1, max_length = 200))]
    pub given_by: Text,
    /// The version of the privacy notice the decision was made against.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub notice_version: Text,
}

/// The outcome of recording a decision.
#[derive(Debug, Object)]
pub struct ConsentRecordedOut {
    /// The student with the decision recorded.
    pub student: StudentOut,
    /// Enrolled faces deleted (a withdrawal).
    pub faces_deleted: u64,
    /// Enrollment photo files deleted (a withdrawal).
    pub photos_deleted: u64,
}

pub(crate) struct ConsentApi {
    state: ApiState,
}

impl ConsentApi {
    pub(crate) fn new(state: ApiState) -> Self {
        ConsentApi { state }
    }
}

#[OpenApi(tag = "ApiTags::Students")]
impl ConsentApi {
    /// Records a consent decision for a student (admin). Only a student whose latest decision
    /// grants consent can have photos enrolled and is matched by the cameras; a withdrawal
    /// (`granted: false`) deletes their enrolled faces and photos at once. Every decision is
    /// kept (see the export) and audited.
    #[oai(path = "/students/:id/consent", method = "post")]
    async fn record(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
        body: Json<ConsentIn>,
    ) -> ApiResult<Json<ConsentRecordedOut>> {
        auth.0.require_admin()?;
        let store = &self.state.store;
        let student = store.students().find(&id.0).await?;
        let fields = ConsentFields {
            granted: body.0.granted,
            given_by: body.0.given_by.0,
            notice_version: body.0.notice_version.0,
        };
        let recorded = store
            .students()
            .record_consent(student.id, &fields, &auth.0.actor())
            .await?;
        let mut photos_deleted = 0;
        if !fields.granted {
            if recorded.faces_deleted > 0 {
                self.state.pipeline.gallery_changed().await;
            }
            // Every photo of theirs goes, also any a refused upload left behind.
            photos_deleted = remove_enrollment_dir(&self.state.config.data_dir, student.id).await;
        }
        tracing::info!(student = %student.student_number, granted = fields.granted, faces_deleted = recorded.faces_deleted, "consent recorded");
        Ok(Json(ConsentRecordedOut {
            student: recorded.student.into(),
            faces_deleted: recorded.faces_deleted,
            photos_deleted,
        }))
    }
}
