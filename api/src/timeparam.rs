//! Time query parameters: a date (`2025-01-31`) or an RFC 3339 instant.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{ApiError, ApiResult};

/// Parses `2025-01-31` (start of that day, UTC; with `end_of_day` the start of the next day)
/// or an RFC 3339 time.
pub(crate) fn parse_time(name: &str, text: &str, end_of_day: bool) -> ApiResult<DateTime<Utc>> {
    if let Ok(time) = DateTime::parse_from_rfc3339(text) {
        return Ok(time.with_timezone(&Utc));
    }
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
        ApiError::bad_request(format!(
            "`{name}` must be a date (YYYY-MM-DD) or an RFC 3339 time, got `{text}`"
        ))
    })?;
    let date = if end_of_day {
        date.succ_opt().unwrap_or(date)
    } else {
        date
    };
    Ok(date
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default())
}
