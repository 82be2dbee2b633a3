//! Attendance session windows: one record per student and classroom within a window. Shared by
//! the pipeline (camera records) and the API (records taken by hand), so both count a student
//! once per lesson.

use chrono::{DateTime, Duration, Utc};

/// Start of the session window of length `window` (at least a minute) containing `at`; windows
/// are aligned to the epoch, so every part of the hub agrees on them.
pub fn session_window_start(at: DateTime<Utc>, window: Duration) -> DateTime<Utc> {
    let window_ms = window.num_milliseconds().max(60_000);
    let ms = at.timestamp_millis();
    let start = ms - ms.rem_euclid(window_ms);
    DateTime::from_timestamp_millis(start).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_of_one_window_share_its_start_and_the_next_window_starts_after_it() {
        let window = Duration::minutes(60);
        let start = DateTime::<Utc>::from_timestamp(1_800_000_000 / 3600 * 3600, 0).unwrap();
        assert_eq!(session_window_start(start, window), start);
        assert_eq!(
            session_window_start(start + Duration::minutes(59), window),
            start
        );
        assert_eq!(
            session_window_start(start + Duration::minutes(60), window),
            start + Duration::minutes(60)
        );
    }

    #[test]
    fn a_window_shorter_than_a_minute_counts_as_a_minute() {
        let at = DateTime::<Utc>::from_timestamp(1_800_000_030, 0).unwrap();
        assert_eq!(
            session_window_start(at, Duration::seconds(5)),
            DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap()
        );
    }
}
