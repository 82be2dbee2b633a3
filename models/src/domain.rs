//! Domain types shared by the hub, the API and the store.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::ClassroomScope;
use crate::protocol::{DeviceConfig, DeviceState};

/// Length of a face descriptor.
pub const EMBEDDING_LEN: usize = 128;

/// What a user may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Manages students, devices and users; may do everything.
    Admin,
    /// Reviews attendance; reads students and devices.
    Teacher,
}

impl Role {
    /// Lowercase name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Teacher => "teacher",
        }
    }

    /// Parses `admin` / `teacher` (case-insensitive).
    pub fn parse(text: &str) -> Option<Self> {
        match text.to_ascii_lowercase().as_str() {
            "admin" => Some(Role::Admin),
            "teacher" => Some(Role::Teacher),
            _ => None,
        }
    }
}

/// A person who signs in to the REST API (or watches MQTT status topics).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct User {
    /// Record id.
    pub id: Uuid,
    /// Unique login name.
    pub username: String,
    /// Role.
    pub role: Role,
    /// Inactive users cannot sign in.
    pub active: bool,
    /// Classrooms a teacher is bound to (sorted, no repeats); admins see every classroom.
    pub classrooms: Vec<String>,
    /// Last password change: access tokens issued before it are refused.
    pub credentials_changed_at: Option<DateTime<Utc>>,
    /// When the user was created.
    pub created_at: DateTime<Utc>,
}

impl User {
    /// The classrooms this user may see.
    pub fn scope(&self) -> ClassroomScope {
        match self.role {
            Role::Admin => ClassroomScope::All,
            Role::Teacher => ClassroomScope::Only(self.classrooms.clone()),
        }
    }
}

/// Fields of a new user; the password arrives as plain text and is stored as an argon2 hash.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Unique login name.
    pub username: String,
    /// Plain-text password (hashed by the store).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Classrooms a teacher is bound to.
    pub classrooms: Vec<String>,
}

/// An enrolled student.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Student {
    /// Record id.
    pub id: Uuid,
    /// Unique school number.
    pub student_number: String,
    /// Full name.
    pub full_name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Year of study.
    pub year: Option<i64>,
    /// When the student was created.
    pub created_at: DateTime<Utc>,
    /// Number of enrolled face descriptors.
    pub face_count: u64,
    /// The latest consent decision recorded for the student (none: never asked).
    pub consent: Option<Consent>,
}

impl Student {
    /// True when the latest recorded decision grants consent: only then may faces of the
    /// student be enrolled and matched.
    pub fn has_consent(&self) -> bool {
        self.consent.as_ref().is_some_and(|c| c.granted)
    }
}

/// One recorded consent decision (GDPR Art. 9(2)(a), BIPA's written release).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consent {
    /// Granted (true) or refused / withdrawn (false).
    pub granted: bool,
    /// Who gave or withdrew it (the student, a parent or guardian), as written on the form.
    pub given_by: String,
    /// The version of the privacy notice it was given against.
    pub notice_version: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// The user who recorded it (none: the hub, e.g. a roster import from the CLI).
    pub recorded_by: Option<Uuid>,
}

/// A consent decision to record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentFields {
    /// Granted (true) or refused / withdrawn (false).
    pub granted: bool,
    /// Who gave or withdrew it.
    pub given_by: String,
    /// The privacy notice version.
    pub notice_version: String,
}

/// Fields of a student that callers set (create and full update).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StudentFields {
    /// Unique school number.
    pub student_number: String,
    /// Full name.
    pub full_name: String,
    /// E-mail address.
    pub email: Option<String>,
    /// Department.
    pub department: Option<String>,
    /// Year of study.
    pub year: Option<i64>,
}

/// One enrolled face descriptor of a student.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Face {
    /// Record id.
    pub id: Uuid,
    /// The student it belongs to.
    pub student_id: Uuid,
    /// 128-D descriptor.
    pub embedding: Vec<f32>,
    /// Where the enrollment photo was stored (or came from).
    pub source_path: Option<String>,
    /// When it was enrolled.
    pub created_at: DateTime<Utc>,
}

/// Administrative status of a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeviceStatus {
    /// May connect and send frames.
    Active,
    /// Refused by the broker.
    Inactive,
    /// Flagged as faulty by an admin.
    Error,
}

impl DeviceStatus {
    /// Lowercase name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Active => "active",
            DeviceStatus::Inactive => "inactive",
            DeviceStatus::Error => "error",
        }
    }

    /// Parses [`DeviceStatus::as_str`]'s names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "active" => Some(DeviceStatus::Active),
            "inactive" => Some(DeviceStatus::Inactive),
            "error" => Some(DeviceStatus::Error),
            _ => None,
        }
    }
}

/// A registered camera.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    /// Record id.
    pub id: Uuid,
    /// Unique device id (MQTT username and topic segment).
    pub device_id: String,
    /// The classroom it watches.
    pub classroom_id: String,
    /// Free-text location.
    pub location: Option<String>,
    /// Administrative status.
    pub status: DeviceStatus,
    /// Connection state last reported.
    pub state: DeviceState,
    /// Last time the hub heard from it.
    pub last_seen: Option<DateTime<Utc>>,
    /// Capture configuration pushed on its retained config topic.
    pub config: DeviceConfig,
    /// Whether credentials have been issued.
    pub has_secret: bool,
    /// When it was registered.
    pub created_at: DateTime<Utc>,
}

/// Fields of a device that admins set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceFields {
    /// Unique device id.
    pub device_id: String,
    /// The classroom it watches.
    pub classroom_id: String,
    /// Free-text location.
    pub location: Option<String>,
    /// Administrative status.
    pub status: DeviceStatus,
    /// Capture configuration.
    pub config: DeviceConfig,
}

/// What the hub needs to authenticate a device and verify its frames.
#[derive(Debug, Clone)]
pub struct DeviceCredentials {
    /// Unique device id.
    pub device_id: String,
    /// Registered classroom.
    pub classroom_id: String,
    /// Administrative status (only `active` may connect).
    pub status: DeviceStatus,
    /// argon2 hash of the secret, if issued.
    pub secret_hash: Option<String>,
    /// Hex frame-signing key derived from the secret, if issued.
    pub signing_key: Option<String>,
}

/// Review state of an attendance record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReviewStatus {
    /// Waiting for a teacher.
    Pending,
    /// Confirmed.
    Approved,
    /// Refused.
    Rejected,
}

impl ReviewStatus {
    /// Lowercase name as stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
        }
    }

    /// Parses [`ReviewStatus::as_str`]'s names.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "pending" => Some(ReviewStatus::Pending),
            "approved" => Some(ReviewStatus::Approved),
            "rejected" => Some(ReviewStatus::Rejected),
            _ => None,
        }
    }
}

/// An attendance record: one face seen by a device, matched to a student or unknown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AttendanceRecord {
    /// Record id.
    pub id: Uuid,
    /// The device that saw the face.
    pub device_id: String,
    /// The classroom.
    pub classroom_id: String,
    /// The matched student; none for an unknown face.
    pub predicted_student_id: Option<Uuid>,
    /// The matched student's name.
    pub predicted_name: Option<String>,
    /// Match confidence in [0, 1].
    pub confidence: f32,
    /// Descriptor distance to the best match.
    pub distance: Option<f32>,
    /// Capture time of the best frame.
    pub timestamp: DateTime<Utc>,
    /// Review state.
    pub review_status: ReviewStatus,
    /// Who reviewed it.
    pub reviewer_id: Option<Uuid>,
    /// When it was reviewed.
    pub review_timestamp: Option<DateTime<Utc>>,
    /// Reviewer's notes.
    pub notes: Option<String>,
    /// Path of the saved face crop, relative to the data dir.
    pub captured_image_path: Option<String>,
    /// Start of the session window this record belongs to.
    pub session_start: DateTime<Utc>,
    /// Frames that contributed to this record.
    pub frame_count: u64,
}

/// A new attendance record written by the pipeline.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAttendance {
    /// The device that saw the face.
    pub device_id: String,
    /// The classroom.
    pub classroom_id: String,
    /// The matched student; none for an unknown face.
    pub predicted_student_id: Option<Uuid>,
    /// Match confidence in [0, 1].
    pub confidence: f32,
    /// Descriptor distance to the best match.
    pub distance: Option<f32>,
    /// Capture time.
    pub timestamp: DateTime<Utc>,
    /// Initial review state (pending, or approved when auto-approval applies).
    pub review_status: ReviewStatus,
    /// Path of the saved face crop, relative to the data dir.
    pub captured_image_path: Option<String>,
    /// Start of the session window.
    pub session_start: DateTime<Utc>,
    /// The face's 128-D descriptor (kept so a reviewer is offered the nearest students and
    /// unknown faces can be grouped by likeness); never served by the API.
    pub descriptor: Option<Vec<f32>>,
}

/// A student marked present by hand (see `AttendanceRepo::create_manual`).
#[derive(Debug, Clone, PartialEq)]
pub struct ManualAttendance {
    /// The student.
    pub student_id: Uuid,
    /// The classroom.
    pub classroom_id: String,
    /// When the student was present.
    pub timestamp: DateTime<Utc>,
    /// Start of the session window of `timestamp`.
    pub session_start: DateTime<Utc>,
    /// The teacher's note.
    pub notes: Option<String>,
}

/// Filters of the attendance list.
#[derive(Debug, Clone, Default)]
pub struct AttendanceFilter {
    /// Only this classroom.
    pub classroom_id: Option<String>,
    /// Only this predicted student.
    pub student_id: Option<Uuid>,
    /// Only this device.
    pub device_id: Option<String>,
    /// Only this review state.
    pub review_status: Option<ReviewStatus>,
    /// Captured at or after.
    pub from: Option<DateTime<Utc>>,
    /// Captured before.
    pub to: Option<DateTime<Utc>>,
    /// Only classrooms the caller may see.
    pub scope: ClassroomScope,
}

/// A teacher's decision on a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Review {
    /// Approve or reject.
    pub decision: ReviewStatus,
    /// Reassign to this student (a correction), if set.
    pub student_id: Option<Uuid>,
    /// Notes.
    pub notes: Option<String>,
    /// The reviewing user.
    pub reviewer_id: Uuid,
}

/// Who caused an audited change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "id", rename_all = "lowercase")]
pub enum Actor {
    /// A signed-in user.
    User(Uuid),
    /// A camera (by device id).
    Device(String),
    /// The hub itself (CLI, pipeline housekeeping).
    System,
}

/// One audit log entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Record id.
    pub id: Uuid,
    /// Who did it.
    pub actor: Actor,
    /// What was done (`create`, `update`, `delete`, `review`, `login`, ...).
    pub action: String,
    /// Which table.
    pub target_table: String,
    /// Which record.
    pub target_id: Option<String>,
    /// Details.
    pub meta: serde_json::Value,
    /// When.
    pub timestamp: DateTime<Utc>,
}

/// A new audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    /// Who did it.
    pub actor: Actor,
    /// What was done.
    pub action: String,
    /// Which table.
    pub target_table: String,
    /// Which record.
    pub target_id: Option<String>,
    /// Details.
    pub meta: serde_json::Value,
}

impl NewAudit {
    /// An entry by `actor` doing `action` on record `id` of `table`.
    pub fn of(
        actor: &Actor,
        action: &str,
        table: &str,
        id: impl ToString,
        meta: serde_json::Value,
    ) -> Self {
        NewAudit {
            actor: actor.clone(),
            action: action.to_owned(),
            target_table: table.to_owned(),
            target_id: Some(id.to_string()),
            meta,
        }
    }
}

/// Filters of the audit list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries by this user.
    pub user_id: Option<Uuid>,
    /// Only this action.
    pub action: Option<String>,
    /// Only this table.
    pub target_table: Option<String>,
    /// Only this record.
    pub target_id: Option<String>,
    /// At or after.
    pub from: Option<DateTime<Utc>>,
    /// Before.
    pub to: Option<DateTime<Utc>>,
}

/// A page request: 1-based page number and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page.
    pub page: u64,
    /// Items per page (1–500).
    pub page_size: u64,
}

impl Default for PageRequest {
    fn default() -> Self {
        PageRequest {
            page: 1,
            page_size: 50,
        }
    }
}

impl PageRequest {
    /// Largest page size served.
    pub const MAX_PAGE_SIZE: u64 = 500;

    /// Rows to skip.
    pub fn offset(&self) -> u64 {
        self.page.saturating_sub(1).saturating_mul(self.page_size)
    }
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Items matching in total.
    pub total: u64,
    /// 1-based page.
    pub page: u64,
    /// Items per page.
    pub page_size: u64,
}
