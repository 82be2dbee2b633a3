//! The descriptors kept with attendance records: the one face of a record (to offer a reviewer
//! the nearest students) and the unknown faces waiting for review (to group them by likeness).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::StoreError;
use super::attendance::{AttendanceRepo, RECORD_FIELDS, RecordRow, filter_conditions};
use super::descriptors::StoredDescriptor;
use super::query::{self, Vars, run};
use crate::{AttendanceFilter, AttendanceRecord, ClassroomScope, ReviewStatus};

/// Which unknown faces [`AttendanceRepo::unknown_faces`] reads.
#[derive(Debug, Clone, Default)]
pub struct UnknownFacesFilter {
    /// Only this classroom.
    pub classroom_id: Option<String>,
    /// Captured at or after.
    pub from: Option<DateTime<Utc>>,
    /// Captured before.
    pub to: Option<DateTime<Utc>>,
    /// Only classrooms the caller may see.
    pub scope: ClassroomScope,
}

/// A pending record of a face that matched no one, with its descriptor.
#[derive(Debug, Clone)]
pub struct UnknownFace {
    /// The record.
    pub record: AttendanceRecord,
    /// Its face's 128-D descriptor.
    pub descriptor: Vec<f32>,
}

#[derive(Deserialize)]
struct UnknownRow {
    #[serde(flatten)]
    record: RecordRow,
    descriptor: StoredDescriptor,
}

impl AttendanceRepo<'_> {
    /// The descriptor of record `id`'s face (`None` for records written before descriptors were
    /// kept); `NotFound` when there is no such record.
    pub async fn descriptor(&self, id: Uuid) -> Result<Option<Vec<f32>>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            descriptor: Option<StoredDescriptor>,
        }
        let mut response = run(
            self.db,
            "SELECT descriptor FROM ONLY type::record('attendance', $id);",
            Vars::new().uuid("id", id),
        )
        .await?;
        query::one::<Row>(&mut response, 0, "attendance")?
            .ok_or_else(|| StoreError::not_found(format!("attendance record {id}")))?
            .descriptor
            .map(|stored| self.codec.decode(stored))
            .transpose()
    }

    /// The newest `limit` pending records without a predicted student that have a descriptor,
    /// newest first.
    pub async fn unknown_faces(
        &self,
        filter: &UnknownFacesFilter,
        limit: usize,
    ) -> Result<Vec<UnknownFace>, StoreError> {
        let filter = AttendanceFilter {
            classroom_id: filter.classroom_id.clone(),
            review_status: Some(ReviewStatus::Pending),
            from: filter.from,
            to: filter.to,
            scope: filter.scope.clone(),
            ..AttendanceFilter::default()
        };
        let vars = Vars::new().int("limit", limit.min(i64::MAX as usize) as i64);
        let (mut conditions, vars) = filter_conditions(&filter, vars);
        conditions.extend(["predicted_student = NONE", "descriptor != NONE"]);
        let mut response = run(
            self.db,
            format!(
                "SELECT {RECORD_FIELDS}, descriptor FROM attendance WHERE {} \
                 ORDER BY timestamp DESC LIMIT $limit;",
                conditions.join(" AND ")
            ),
            vars,
        )
        .await?;
        query::rows::<UnknownRow>(&mut response, 0, "attendance")?
            .into_iter()
            .map(|row| {
                Ok(UnknownFace {
                    record: row.record.into_record(),
                    descriptor: self.codec.decode(row.descriptor)?,
                })
            })
            .collect()
    }
}
