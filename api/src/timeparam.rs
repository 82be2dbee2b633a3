//! Time query parameters: a date (`2025-01-31`) or an RFC 3339 instant.

use chrono::{DateTime, NaiveDate, Utc};

use crate::error::{ApiError, ApiResult};

/// The `date_from` / `date_to` query pair as instants: `date_from` from the start of its day,
/// `date_to` up to the end of its day (an RFC 3339 time is taken as it is).
pub(crate) type TimeRange = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// Parses the `date_from` / `date_to` query pair (see [`TimeRange`]); a bad value is a 400
/// naming its parameter.
pub(crate) fn time_range(date_from: Option<&str>, date_to: Option<&str>) -> ApiResult<TimeRange> {
    let from = date_from
        .map(|t| parse_time("date_from", t, false))
        .transpose()?;
    let to = date_to
        .map(|t| parse_time("date_to", t, true))
        .transpose()?;
    Ok((from, to))
}

/// Parses `2025-01-31` (start of that day, UTC; with `end_of_day` the start of the next day)
/// or an RFC 3339 time.
fn parse_time(name: &str, text: &str, end_of_day: bool) -> ApiResult<DateTime<Utc>> {
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
