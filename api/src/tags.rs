//! OpenAPI tags grouping the endpoints.

use poem_openapi::Tags;

/// Endpoint groups.
#[derive(Tags)]
pub enum ApiTags {
    /// Sign-in, token refresh, accounts.
    Auth,
    /// Students and their enrolled faces.
    Students,
    /// Attendance records and their review.
    Attendance,
    /// Cameras and their credentials.
    Devices,
    /// The audit log.
    Audit,
    /// Photos posted by cameras.
    Capture,
}
