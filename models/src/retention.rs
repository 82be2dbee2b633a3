//! The retention schedule (BIPA's "published retention schedule", GDPR Art. 5(1)(e)) as plain
//! decisions: how long face crops, attendance records and enrolled faces are kept, the cutoffs
//! that follows from a clock reading, and which students' enrolled faces have expired. The store
//! applies the cutoffs ([`crate::store::Store::purge`]); nothing here does I/O.

use std::collections::HashSet;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use uuid::Uuid;

/// How long each kind of personal data is kept, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Face crops of attendance records, their face descriptors, and unknown faces (records that
    /// matched no student) as a whole.
    pub crop_days: u32,
    /// Attendance records (with their review state).
    pub record_days: u32,
    /// Enrolled faces (embeddings and enrollment photos) of a student not seen by a camera and
    /// not enrolled again for this long.
    pub embedding_days: u32,
}

impl Default for RetentionPolicy {
    /// 30 days of crops, a school year of records, 3 years of enrolled faces (BIPA's limit).
    fn default() -> Self {
        RetentionPolicy {
            crop_days: 30,
            record_days: 365,
            embedding_days: 3 * 365,
        }
    }
}

/// The instants before which data expires, for one clock reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct RetentionCutoffs {
    /// Crops, record descriptors and unknown faces captured before this expire.
    pub crops_before: DateTime<Utc>,
    /// Records captured before this expire.
    pub records_before: DateTime<Utc>,
    /// A student last seen (or enrolled) before this loses their enrolled faces.
    pub embeddings_before: DateTime<Utc>,
}

impl RetentionPolicy {
    /// The cutoffs at `now`.
    pub fn cutoffs(&self, now: DateTime<Utc>) -> RetentionCutoffs {
        // Saturating: a schedule longer than the calendar keeps everything.
        let before = |days: u32| {
            now.checked_sub_signed(Duration::days(i64::from(days)))
                .unwrap_or(DateTime::<Utc>::MIN_UTC)
        };
        RetentionCutoffs {
            crops_before: before(self.crop_days),
            records_before: before(self.record_days),
            embeddings_before: before(self.embedding_days),
        }
    }
}

/// One enrolled face as the embedding rule sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrolledFace {
    /// The student it belongs to.
    pub student_id: Uuid,
    /// When it was enrolled.
    pub created_at: DateTime<Utc>,
}

/// The students whose enrolled faces expire: every one with faces, none enrolled on or after
/// `cutoffs.embeddings_before`, and not in `seen_since` (the students a record named since that
/// cutoff). Sorted, each once.
pub fn expired_enrollments(
    faces: &[EnrolledFace],
    seen_since: &HashSet<Uuid>,
    cutoffs: &RetentionCutoffs,
) -> Vec<Uuid> {
    let recently_enrolled: HashSet<Uuid> = faces
        .iter()
        .filter(|f| f.created_at >= cutoffs.embeddings_before)
        .map(|f| f.student_id)
        .collect();
    let mut expired: Vec<Uuid> = faces
        .iter()
        .map(|f| f.student_id)
        .filter(|s| !recently_enrolled.contains(s) && !seen_since.contains(s))
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    expired.sort();
    expired
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: i64) -> DateTime<Utc> {
        DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap() + Duration::days(day)
    }

    #[test]
    fn cutoffs_count_whole_days_back_from_the_clock() {
        let policy = RetentionPolicy {
            crop_days: 30,
            record_days: 365,
            embedding_days: 1095,
        };
        let cutoffs = policy.cutoffs(at(2000));
        assert_eq!(cutoffs.crops_before, at(1970));
        assert_eq!(cutoffs.records_before, at(1635));
        assert_eq!(cutoffs.embeddings_before, at(905));
    }

    #[test]
    fn a_schedule_longer_than_the_calendar_keeps_everything_instead_of_panicking() {
        let policy = RetentionPolicy {
            crop_days: u32::MAX,
            record_days: u32::MAX,
            embedding_days: u32::MAX,
        };
        assert_eq!(
            policy.cutoffs(at(0)).records_before,
            DateTime::<Utc>::MIN_UTC
        );
    }

    #[test]
    fn the_default_schedule_is_the_documented_one() {
        assert_eq!(
            RetentionPolicy::default(),
            RetentionPolicy {
                crop_days: 30,
                record_days: 365,
                embedding_days: 1095
            }
        );
    }

    #[test]
    fn enrolled_faces_expire_only_for_students_neither_seen_nor_enrolled_since_the_cutoff() {
        let cutoffs = RetentionPolicy {
            crop_days: 1,
            record_days: 1,
            embedding_days: 100,
        }
        .cutoffs(at(1000));
        let (stale, seen, re_enrolled, fresh) = (
            Uuid::from_u128(1),
            Uuid::from_u128(2),
            Uuid::from_u128(3),
            Uuid::from_u128(4),
        );
        let face = |student_id, day| EnrolledFace {
            student_id,
            created_at: at(day),
        };
        let faces = [
            face(stale, 10),
            face(stale, 20),
            face(seen, 10),
            face(re_enrolled, 10),
            face(re_enrolled, 950),
            face(fresh, 900), // exactly at the cutoff: kept
        ];
        let seen_since = HashSet::from([seen]);
        assert_eq!(
            expired_enrollments(&faces, &seen_since, &cutoffs),
            vec![stale]
        );
    }

    #[test]
    fn no_faces_expire_nothing() {
        let cutoffs = RetentionPolicy::default().cutoffs(at(0));
        assert!(expired_enrollments(&[], &HashSet::new(), &cutoffs).is_empty());
    }
}
