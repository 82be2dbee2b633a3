//! `/api/attendance`: pending list, filtered list, get, review, delete and the face crop.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::{Binary, Json};
use poem_openapi::{ApiResponse, Enum, Object, OpenApi};
use uuid::Uuid;

use cavs_models::{AttendanceFilter, AttendanceRecord, ReviewStatus};

use crate::ApiState;
use crate::auth::BearerAuth;
use crate::error::{ApiError, ApiResult};
use crate::manual_attendance::{self, ManualAttendanceIn, ManualCreated};
use crate::pagination::{Paging, page_type};
use crate::photos;
use crate::tags::ApiTags;
use crate::text::Text;
use crate::timeparam::time_range;

/// Review state of a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum ReviewStatusName {
    /// Waiting for a teacher.
    Pending,
    /// Confirmed.
    Approved,
    /// Refused.
    Rejected,
}

impl From<ReviewStatus> for ReviewStatusName {
    fn from(s: ReviewStatus) -> Self {
        match s {
            ReviewStatus::Pending => ReviewStatusName::Pending,
            ReviewStatus::Approved => ReviewStatusName::Approved,
            ReviewStatus::Rejected => ReviewStatusName::Rejected,
        }
    }
}

impl From<ReviewStatusName> for ReviewStatus {
    fn from(s: ReviewStatusName) -> Self {
        match s {
            ReviewStatusName::Pending => ReviewStatus::Pending,
            ReviewStatusName::Approved => ReviewStatus::Approved,
            ReviewStatusName::Rejected => ReviewStatus::Rejected,
        }
    }
}

/// An attendance record.
#[derive(Debug, Object)]
pub struct AttendanceOut {
    /// Record id.
    pub id: Uuid,
    /// The device that saw the face.
    pub device_id: String,
    /// The classroom.
    pub classroom_id: String,
    /// The matched student; null for an unknown face.
    #[oai(nullable)]
    pub predicted_student_id: Option<Uuid>,
    /// The matched student's name.
    #[oai(nullable)]
    pub predicted_name: Option<String>,
    /// Match confidence in [0, 1].
    pub confidence: f32,
    /// Descriptor distance to the best match.
    #[oai(nullable)]
    pub distance: Option<f32>,
    /// Capture time of the best frame.
    pub timestamp: DateTime<Utc>,
    /// Review state.
    pub review_status: ReviewStatusName,
    /// Who reviewed it.
    #[oai(nullable)]
    pub reviewer_id: Option<Uuid>,
    /// When it was reviewed.
    #[oai(nullable)]
    pub review_timestamp: Option<DateTime<Utc>>,
    /// Reviewer's notes.
    #[oai(nullable)]
    pub notes: Option<String>,
    /// URL of the saved face crop, if any.
    #[oai(nullable)]
    pub image_url: Option<String>,
    /// Frames that contributed to this record.
    pub frame_count: u64,
    /// Start of the session window (lesson) the record belongs to: one record per student,
    /// classroom and session.
    pub session_start: DateTime<Utc>,
}

/// Converts a record to its JSON shape.
pub fn record_out(r: AttendanceRecord) -> AttendanceOut {
    AttendanceOut {
        image_url: r
            .captured_image_path
            .as_ref()
            .map(|_| format!("/api/attendance/{}/image", r.id)),
        id: r.id,
        device_id: r.device_id,
        classroom_id: r.classroom_id,
        predicted_student_id: r.predicted_student_id,
        predicted_name: r.predicted_name,
        confidence: r.confidence,
        distance: r.distance,
        timestamp: r.timestamp,
        review_status: r.review_status.into(),
        reviewer_id: r.reviewer_id,
        review_timestamp: r.review_timestamp,
        notes: r.notes,
        frame_count: r.frame_count,
        session_start: r.session_start,
    }
}

page_type!(
    AttendancePage,
    AttendanceOut,
    "A page of attendance records."
);

/// A review decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "lowercase")]
pub enum Decision {
    /// Confirm the record.
    Approve,
    /// Refuse the record.
    Reject,
}

/// A teacher's review.
#[derive(Debug, Object)]
pub struct ReviewIn {
    /// `approve` or `reject`.
    pub decision: Decision,
    /// Reassign the record to this student (id or student number).
    #[oai(nullable, validator(min_length = 1, max_length = 64))]
    pub student_id: Option<Text>,
    /// Notes.
    #[oai(nullable, validator(max_length = 2000))]
    pub notes: Option<Text>,
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

#[derive(ApiResponse)]
enum ImageResponse {
    /// The face crop (JPEG, as the hub writes them).
    #[oai(status = 200, content_type = "image/jpeg")]
    Jpeg(Binary<Vec<u8>>),
}

pub(crate) struct AttendanceApi {
    state: ApiState,
}

impl AttendanceApi {
    pub(crate) fn new(state: ApiState) -> Self {
        AttendanceApi { state }
    }

    async fn list_with(
        &self,
        filter: AttendanceFilter,
        paging: Paging,
    ) -> ApiResult<AttendancePage> {
        let store = &self.state.store;
        let filter = &filter;
        let page = paging
            .fetch(|p| async move { store.attendance().list(filter, &p).await })
            .await?;
        Ok(AttendancePage::from_page(page, record_out))
    }

    fn parse_id(id: &str) -> ApiResult<Uuid> {
        Uuid::parse_str(id)
            .map_err(|_| ApiError::not_found(format!("attendance record {id} not found")))
    }

    /// The record, if it exists and is of a classroom the caller may see (404 otherwise).
    async fn visible(&self, auth: &BearerAuth, id: Uuid) -> ApiResult<AttendanceRecord> {
        let record = self.state.store.attendance().get(id).await?;
        auth.0
            .require_classroom(&record.classroom_id, &format!("attendance record {id}"))?;
        Ok(record)
    }
}

#[OpenApi(tag = "ApiTags::Attendance")]
impl AttendanceApi {
    /// Records a student present by hand (the teacher of that classroom, or an admin): for
    /// students who opted out of recognition or are not enrolled. The record is approved,
    /// reviewed by the caller, and has no face crop. 409 when the student already has a
    /// record in that classroom's session window (review that one instead).
    #[oai(path = "/attendance", method = "post")]
    async fn manual(
        &self,
        auth: BearerAuth,
        body: Json<ManualAttendanceIn>,
    ) -> ApiResult<ManualCreated> {
        let record = manual_attendance::record(&self.state, &auth.0, body.0).await?;
        Ok(ManualCreated::Record(Json(record)))
    }

    /// Records waiting for review, newest first.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/attendance/pending", method = "get")]
    async fn pending(
        &self,
        auth: BearerAuth,
        /// Only this classroom.
        #[oai(validator(max_length = 64))]
        classroom_id: Query<Option<String>>,
        /// 1-based page.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000000000")))]
        page: Query<Option<u64>>,
        /// Items per page (1-500, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        page_size: Query<Option<u64>>,
        /// Items wanted (alternative to `page_size`).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// Items skipped (alternative to `page`).
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
        offset: Query<Option<u64>>,
    ) -> ApiResult<Json<AttendancePage>> {
        auth.0.require_staff()?;
        let filter = AttendanceFilter {
            classroom_id: classroom_id.0,
            review_status: Some(ReviewStatus::Pending),
            scope: auth.0.scope(),
            ..AttendanceFilter::default()
        };
        let paging = Paging::new(page.0, page_size.0, limit.0, offset.0);
        Ok(Json(self.list_with(filter, paging).await?))
    }

    /// Records filtered by classroom, student, device, status and time range, newest first.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/attendance", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Only this classroom.
        #[oai(validator(max_length = 64))]
        classroom_id: Query<Option<String>>,
        /// Only this predicted student (id or student number).
        #[oai(validator(max_length = 64))]
        student_id: Query<Option<String>>,
        /// Only this device.
        #[oai(validator(max_length = 64))]
        device_id: Query<Option<String>>,
        /// Only this review state.
        status: Query<Option<ReviewStatusName>>,
        /// Captured at or after (YYYY-MM-DD or RFC 3339).
        #[oai(validator(
            pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
        ))]
        date_from: Query<Option<String>>,
        /// Captured up to (YYYY-MM-DD: that whole day; RFC 3339: before that instant).
        #[oai(validator(
            pattern = r"^[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])([Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]{1,9})?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9]))?$"
        ))]
        date_to: Query<Option<String>>,
        /// 1-based page.
        #[oai(validator(minimum(value = "1"), maximum(value = "1000000000")))]
        page: Query<Option<u64>>,
        /// Items per page (1-500, default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        page_size: Query<Option<u64>>,
        /// Items wanted (alternative to `page_size`).
        #[oai(validator(minimum(value = "1"), maximum(value = "500")))]
        limit: Query<Option<u64>>,
        /// Items skipped (alternative to `page`).
        #[oai(validator(minimum(value = "0"), maximum(value = "1000000000")))]
        offset: Query<Option<u64>>,
    ) -> ApiResult<Json<AttendancePage>> {
        auth.0.require_staff()?;
        let student = match student_id.0.as_deref() {
            None => None,
            Some(key) => Some(self.state.store.students().find(key).await?.id),
        };
        let (from, to) = time_range(date_from.0.as_deref(), date_to.0.as_deref())?;
        let filter = AttendanceFilter {
            classroom_id: classroom_id.0,
            student_id: student,
            device_id: device_id.0,
            review_status: status.0.map(Into::into),
            from,
            to,
            scope: auth.0.scope(),
        };
        let paging = Paging::new(page.0, page_size.0, limit.0, offset.0);
        Ok(Json(self.list_with(filter, paging).await?))
    }

    /// One record.
    #[oai(path = "/attendance/:id", method = "get")]
    async fn get(
        &self,
        auth: BearerAuth,
        /// Record id.
        id: Path<String>,
    ) -> ApiResult<Json<AttendanceOut>> {
        auth.0.require_staff()?;
        let id = Self::parse_id(&id.0)?;
        Ok(Json(record_out(self.visible(&auth, id).await?)))
    }

    /// Approves or rejects a record, optionally reassigning it to another student; stamps
    /// the reviewer and time and writes an audit entry.
    #[oai(path = "/attendance/:id/review", method = "post")]
    async fn review(
        &self,
        auth: BearerAuth,
        /// Record id.
        id: Path<String>,
        body: Json<ReviewIn>,
    ) -> ApiResult<Json<AttendanceOut>> {
        auth.0.require_staff()?;
        let id = Self::parse_id(&id.0)?;
        self.visible(&auth, id).await?;
        let body = body.0;
        let student_id = match body.student_id.as_ref().map(|t| t.0.as_str()) {
            None => None,
            Some(key) => Some(
                self.state
                    .store
                    .students()
                    .find(key)
                    .await
                    .map_err(|e| match e {
                        cavs_models::store::StoreError::NotFound { .. } => ApiError::with_slug(
                            422,
                            "unknown-student",
                            format!("student `{key}` does not exist"),
                        ),
                        other => other.into(),
                    })?
                    .id,
            ),
        };
        let review = cavs_models::Review {
            decision: match body.decision {
                Decision::Approve => ReviewStatus::Approved,
                Decision::Reject => ReviewStatus::Rejected,
            },
            student_id,
            notes: body.notes.map(Text::into_inner),
            reviewer_id: auth.0.user.id,
        };
        let record = self.state.store.attendance().review(id, &review).await?;
        self.state.events.send(crate::events::reviewed(&record));
        tracing::info!(record = %id, decision = record.review_status.as_str(), reviewer = %auth.0.user.username, "attendance reviewed");
        Ok(Json(record_out(record)))
    }

    /// Deletes a record (admin).
    #[oai(path = "/attendance/:id", method = "delete")]
    async fn delete(
        &self,
        auth: BearerAuth,
        /// Record id.
        id: Path<String>,
    ) -> ApiResult<Deleted> {
        auth.0.require_admin()?;
        let id = Self::parse_id(&id.0)?;
        let record = self
            .state
            .store
            .attendance()
            .delete(id, &auth.0.actor())
            .await?;
        if let Some(path) = record
            .captured_image_path
            .as_deref()
            .and_then(|p| photos::resolve_under(&self.state.config.data_dir, p))
            && let Err(error) = tokio::fs::remove_file(&path).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, path = %path.display(), "cannot remove face crop");
        }
        Ok(Deleted::NoContent)
    }

    /// The saved face crop of a record.
    #[oai(path = "/attendance/:id/image", method = "get")]
    async fn image(
        &self,
        auth: BearerAuth,
        /// Record id.
        id: Path<String>,
    ) -> ApiResult<ImageResponse> {
        auth.0.require_staff()?;
        let id = Self::parse_id(&id.0)?;
        let record = self.visible(&auth, id).await?;
        let missing = || ApiError::not_found(format!("attendance record {id} has no image"));
        let path = record
            .captured_image_path
            .as_deref()
            .and_then(|p| photos::resolve_under(&self.state.config.data_dir, p))
            .ok_or_else(missing)?;
        let sealed = tokio::fs::read(&path).await.map_err(|_| missing())?;
        // Crops are sealed at rest; one that no key opens is logged and answered as missing.
        let bytes = self.state.config.sealer.open(&sealed).map_err(|error| {
            tracing::warn!(%error, record = %id, "cannot open a sealed face crop");
            missing()
        })?;
        Ok(ImageResponse::Jpeg(Binary(bytes)))
    }
}
