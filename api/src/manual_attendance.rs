//! Attendance taken by hand (`POST /api/attendance`): a teacher marks a student present in one of
//! their classrooms, for students not recognised by camera (they opted out of face
//! recognition, or are not enrolled). The record is approved and reviewed by the caller, has no
//! face crop, and counts once per session window like a camera's record.

use chrono::{DateTime, Utc};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object};

use cavs_models::scope::normalize_classrooms;
use cavs_models::{ManualAttendance, session_window_start};

use crate::ApiState;
use crate::attendance::{AttendanceOut, record_out};
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::text::Text;

/// How far ahead of the hub's clock a hand-taken record may be dated.
const MAX_AHEAD_MINUTES: i64 = 10;

/// Attendance taken by hand.
#[derive(Debug, Object)]
pub struct ManualAttendanceIn {
    /// The student (record id or student number).
    #[oai(validator(min_length = 1, max_length = 64))]
    pub student_id: Text,
    /// The classroom (one of the caller's, for a teacher).
    #[oai(validator(min_length = 1, max_length = 64))]
    pub classroom_id: Text,
    /// When the student was present (default: now); at most 10 minutes ahead.
    pub timestamp: Option<DateTime<Utc>>,
    /// A note (e.g. "opted out of recognition").
    #[oai(validator(max_length = 2000))]
    pub notes: Option<Text>,
}

#[derive(ApiResponse)]
pub(crate) enum ManualCreated {
    /// The record, approved and reviewed by the caller.
    #[oai(status = 201)]
    Record(Json<AttendanceOut>),
}

/// Records `body` as `user` (see the module docs): 403 for a classroom not theirs, 404 for an
/// unknown student, 409 when the student already has a record in that session window, 422 for
/// a bad classroom id or a time ahead of the clock.
pub(crate) async fn record(
    state: &ApiState,
    user: &Principal,
    body: ManualAttendanceIn,
) -> ApiResult<AttendanceOut> {
    let classroom = body.classroom_id.0.trim().to_owned();
    if normalize_classrooms(std::slice::from_ref(&classroom)).is_err() {
        return Err(ApiError::invalid(format!(
            "classroom_id `{classroom}` must be 1-64 of A-Z a-z 0-9 _ -"
        )));
    }
    if !user.scope().allows(&classroom) {
        return Err(ApiError::forbidden(format!(
            "classroom `{classroom}` is not one of yours"
        )));
    }
    let student = state
        .store
        .students()
        .find(body.student_id.0.trim())
        .await?;
    let now = Utc::now();
    let at = body.timestamp.unwrap_or(now);
    if at > now + chrono::Duration::minutes(MAX_AHEAD_MINUTES) {
        return Err(ApiError::invalid("timestamp is in the future"));
    }
    let manual = ManualAttendance {
        student_id: student.id,
        classroom_id: classroom,
        timestamp: at,
        session_start: session_window_start(at, state.config.session_window),
        notes: body
            .notes
            .map(Text::into_inner)
            .filter(|n| !n.trim().is_empty()),
    };
    let record = state
        .store
        .attendance()
        .create_manual(&manual, user.user.id, &user.actor())
        .await?;
    tracing::info!(record = %record.id, classroom = %record.classroom_id, reviewer = %user.user.username, "attendance taken by hand");
    Ok(record_out(record))
}
