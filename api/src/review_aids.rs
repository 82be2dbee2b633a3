//! Review aids on `/api/attendance`: the nearest students of a record's face (the reassign
//! picker), unknown faces grouped by likeness, labelling a whole group in one action, and the
//! explicit "add this reviewed face to the student's enrollment" action.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use cavs_models::likeness::{GROUP_DISTANCE, group_by_likeness};
use cavs_models::store::{StoreError, UnknownFacesFilter};
use cavs_models::{AttendanceRecord, Review, ReviewStatus, Student};

use crate::ApiState;
use crate::attendance::{AttendanceOut, record_out};
use crate::auth::BearerAuth;
use crate::error::{ApiError, ApiResult};
use crate::events::reviewed;
use crate::photos;
use crate::students::{FaceOut, StudentIn, StudentOut};
use crate::tags::ApiTags;
use crate::text::Text;
use crate::timeparam::time_range;

/// Unknown faces read for grouping, newest first (pairwise distances: 1000 faces take
/// about 50 ms on one core).
const MAX_GROUPED_FACES: usize = 1000;

/// A student near a record's face.
#[derive(Debug, Object)]
pub struct CandidateOut {
    /// The student.
    pub student_id: Uuid,
    /// Their school number.
    pub student_number: String,
    /// Their name.
    pub full_name: String,
    /// Distance from the face to the student's closest enrolled face.
    pub distance: f32,
    /// Match confidence in [0, 1] of that distance.
    pub confidence: f32,
}

/// The students nearest to a record's face, nearest first.
#[derive(Debug, Object)]
pub struct Candidates {
    /// The record.
    pub record_id: Uuid,
    /// Nearest first; empty when the record keeps no descriptor or nobody is enrolled.
    pub candidates: Vec<CandidateOut>,
}

/// Unknown faces that look alike.
#[derive(Debug, Object)]
pub struct UnknownGroup {
    /// Stable while the group's newest record stays the same: that record's id.
    pub group_id: Uuid,
    /// The group's records, newest first.
    pub record_ids: Vec<Uuid>,
    /// How many records.
    pub size: u64,
    /// Classrooms the faces were seen in.
    pub classroom_ids: Vec<String>,
    /// The oldest capture.
    pub first_seen: DateTime<Utc>,
    /// The newest capture.
    pub last_seen: DateTime<Utc>,
    /// The record whose crop stands for the group (its most confident face).
    pub representative_record_id: Uuid,
}

/// Pending unknown faces grouped by likeness.
#[derive(Debug, Object)]
pub struct UnknownGroups {
    /// Faces at most this far apart (descriptor distance) were joined.
    pub threshold: f32,
    /// Largest group first; faces like no other are groups of one.
    pub groups: Vec<UnknownGroup>,
}

/// Labels records as one student: an existing one, or one created for them (admin).
#[derive(Debug, Object)]
pub struct LabelIn {
    /// The records (for example an unknown group), 1-500.
    #[oai(validator(min_items = 1, max_items = 500, unique_items))]
    pub record_ids: Vec<Uuid>,
    /// An enrolled student (id or student number). Exactly one of this and `new_student`.
    #[oai(validator(min_length = 1, max_length = 64))]
    pub student_id: Option<Text>,
    /// A student to create (admin only) and label the records with.
    pub new_student: Option<StudentIn>,
    /// Notes stored with every review.
    #[oai(validator(max_length = 2000))]
    pub notes: Option<Text>,
}

/// The outcome of labelling.
#[derive(Debug, Object)]
pub struct Labelled {
    /// The student the records now name.
    pub student: StudentOut,
    /// Every record, approved as that student.
    pub records: Vec<AttendanceOut>,
}

#[derive(ApiResponse)]
enum FaceAdded {
    /// The face joined the student's enrollment faces.
    #[oai(status = 201)]
    Created(Json<FaceOut>),
}

pub(crate) struct ReviewAidsApi {
    state: ApiState,
}

impl ReviewAidsApi {
    pub(crate) fn new(state: ApiState) -> Self {
        ReviewAidsApi { state }
    }

    /// The record if the caller may see it; 404 for a bad id, a missing record or another
    /// classroom's.
    async fn visible(&self, auth: &BearerAuth, id: &str) -> ApiResult<AttendanceRecord> {
        let missing = || ApiError::not_found(format!("attendance record {id} not found"));
        let uuid = Uuid::parse_str(id).map_err(|_| missing())?;
        let record = self
            .state
            .store
            .attendance()
            .get(uuid)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => missing(),
                other => other.into(),
            })?;
        auth.0
            .require_classroom(&record.classroom_id, &format!("attendance record {id}"))?;
        Ok(record)
    }

    /// The student named by `key` (id or number), 422 `unknown-student` if none.
    async fn known_student(&self, key: &str) -> ApiResult<Student> {
        self.state
            .store
            .students()
            .find(key)
            .await
            .map_err(|e| match e {
                StoreError::NotFound { .. } => ApiError::with_slug(
                    422,
                    "unknown-student",
                    format!("student `{key}` does not exist"),
                ),
                other => other.into(),
            })
    }
}

#[OpenApi(tag = "ApiTags::Attendance")]
impl ReviewAidsApi {
    /// The enrolled students nearest to a record's face, with distance and confidence, for
    /// the reviewer's reassign picker.
    #[oai(path = "/attendance/:id/candidates", method = "get")]
    async fn candidates(
        &self,
        auth: BearerAuth,
        /// Record id.
        id: Path<String>,
        /// How many students (1-20, default 5).
        #[oai(validator(minimum(value = "1"), maximum(value = "20")))]
        limit: Query<Option<u32>>,
    ) -> ApiResult<Json<Candidates>> {
        let record = self.visible(&auth, &id.0).await?;
        let store = &self.state.store;
        let mut candidates = Vec::new();
        if let Some(descriptor) = store.attendance().descriptor(record.id).await? {
            let limit = limit.0.unwrap_or(5) as usize;
            for near in self.state.pipeline.candidates(descriptor, limit).await {
                // A student deleted since the gallery was built is simply left out.
                match store.students().get(near.student_id).await {
                    Ok(student) => candidates.push(CandidateOut {
                        student_id: student.id,
                        student_number: student.student_number,
                        full_name: student.full_name,
                        distance: near.distance,
                        confidence: near.confidence,
                    }),
                    Err(StoreError::NotFound { .. }) => {}
                    Err(other) => return Err(other.into()),
                }
            }
        }
        Ok(Json(Candidates {
            record_id: record.id,
            candidates,
        }))
    }

    /// Pending records of faces that matched no one, grouped by likeness (descriptor
    /// distance, across sessions and days), largest group first. At most the newest 1000
    /// such records are grouped.
    #[oai(path = "/attendance/unknown-groups", method = "get")]
    async fn unknown_groups(
        &self,
        auth: BearerAuth,
        /// Only this classroom.
        #[oai(validator(max_length = 64))]
        classroom_id: Query<Option<String>>,
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
    ) -> ApiResult<Json<UnknownGroups>> {
        let (from, to) = time_range(date_from.0.as_deref(), date_to.0.as_deref())?;
        let filter = UnknownFacesFilter {
            classroom_id: classroom_id.0,
            from,
            to,
            scope: auth.0.scope(),
        };
        let faces = self
            .state
            .store
            .attendance()
            .unknown_faces(&filter, MAX_GROUPED_FACES)
            .await?;
        let descriptors: Vec<Vec<f32>> = faces.iter().map(|f| f.descriptor.clone()).collect();
        let grouped =
            tokio::task::spawn_blocking(move || group_by_likeness(&descriptors, GROUP_DISTANCE))
                .await
                .map_err(ApiError::internal)?;
        let groups = grouped
            .into_iter()
            .map(|members| {
                let records: Vec<&AttendanceRecord> =
                    members.iter().map(|&i| &faces[i].record).collect();
                let mut classroom_ids: Vec<String> =
                    records.iter().map(|r| r.classroom_id.clone()).collect();
                classroom_ids.sort();
                classroom_ids.dedup();
                let best = records
                    .iter()
                    .max_by(|a, b| a.confidence.total_cmp(&b.confidence))
                    .map_or(records[0].id, |r| r.id);
                UnknownGroup {
                    group_id: records[0].id,
                    record_ids: records.iter().map(|r| r.id).collect(),
                    size: records.len() as u64,
                    classroom_ids,
                    first_seen: records
                        .iter()
                        .map(|r| r.timestamp)
                        .min()
                        .unwrap_or_default(),
                    last_seen: records
                        .iter()
                        .map(|r| r.timestamp)
                        .max()
                        .unwrap_or_default(),
                    representative_record_id: best,
                }
            })
            .collect();
        Ok(Json(UnknownGroups {
            threshold: GROUP_DISTANCE,
            groups,
        }))
    }

    /// Approves every listed record as one student: an enrolled one (`student_id`) or a new
    /// one (`new_student`, admin only). Every record is checked before any is changed; each
    /// review is stamped and audited like a single review. Labelling does not enroll the
    /// faces: that is `POST /api/attendance/{id}/enroll`.
    #[oai(path = "/attendance/label", method = "post")]
    async fn label(&self, auth: BearerAuth, body: Json<LabelIn>) -> ApiResult<Json<Labelled>> {
        let body = body.0;
        let mut records = Vec::with_capacity(body.record_ids.len());
        for id in &body.record_ids {
            records.push(self.visible(&auth, &id.to_string()).await?);
        }
        let student = match (body.student_id, body.new_student) {
            (Some(key), None) => self.known_student(&key.0).await?,
            (None, Some(new)) => {
                auth.0.require_admin()?;
                self.state
                    .store
                    .students()
                    .create(&new.into(), &auth.0.actor())
                    .await?
            }
            _ => {
                return Err(ApiError::invalid(
                    "give exactly one of `student_id` and `new_student`",
                ));
            }
        };
        let review = Review {
            decision: ReviewStatus::Approved,
            student_id: Some(student.id),
            notes: body.notes.map(Text::into_inner),
            reviewer_id: auth.0.user.id,
        };
        let mut labelled = Vec::with_capacity(records.len());
        for record in records {
            let record = self
                .state
                .store
                .attendance()
                .review(record.id, &review)
                .await?;
            self.state.events.send(reviewed(&record));
            labelled.push(record_out(record));
        }
        tracing::info!(student = %student.student_number, records = labelled.len(), reviewer = %auth.0.user.username, "records labelled");
        Ok(Json(Labelled {
            student: student.into(),
            records: labelled,
        }))
    }

    /// Adds an approved record's face to its student's enrollment faces (admin): its
    /// descriptor joins the gallery and its crop is kept as an enrollment photo. A separate,
    /// explicit action: approving a record never enrolls its face.
    #[oai(path = "/attendance/:id/enroll", method = "post")]
    async fn enroll(&self, auth: BearerAuth, id: Path<String>) -> ApiResult<FaceAdded> {
        auth.0.require_admin()?;
        let record = self.visible(&auth, &id.0).await?;
        let student_id = match (record.review_status, record.predicted_student_id) {
            (ReviewStatus::Approved, Some(student)) => student,
            _ => {
                return Err(ApiError::with_slug(
                    409,
                    "conflict",
                    "only a record approved as a student can be added to enrollment",
                ));
            }
        };
        let descriptor = self
            .state
            .store
            .attendance()
            .descriptor(record.id)
            .await?
            .ok_or_else(|| ApiError::invalid("this record keeps no face descriptor"))?;
        let student = self.state.store.students().get(student_id).await?;
        if !student.has_consent() {
            return Err(ApiError::consent_required(format!(
                "student {} has not granted consent to face recognition: no face of theirs can be enrolled",
                student.student_number
            )));
        }
        let source_path = self.keep_crop(&record, student_id).await;
        let face = self
            .state
            .store
            .faces()
            .add(
                student_id,
                &descriptor,
                source_path.as_deref(),
                &auth.0.actor(),
            )
            .await?;
        self.state.pipeline.gallery_changed().await;
        tracing::info!(record = %record.id, student = %student_id, "reviewed face enrolled");
        Ok(FaceAdded::Created(Json(face.into())))
    }
}

impl ReviewAidsApi {
    /// Copies the record's crop into the student's enrollment photos (crops expire with
    /// their records; enrollment photos stay with the student). `None` when there is no crop
    /// or it cannot be copied (the descriptor is enrolled anyway).
    async fn keep_crop(&self, record: &AttendanceRecord, student_id: Uuid) -> Option<String> {
        let data_dir = &self.state.config.data_dir;
        let crop = record
            .captured_image_path
            .as_deref()
            .and_then(|p| photos::resolve_under(data_dir, p))?;
        let relative = format!("enrollment/{student_id}/from-record-{}.jpg", record.id);
        let target = data_dir.join(&relative);
        let copied = match target.parent() {
            Some(dir) => match tokio::fs::create_dir_all(dir).await {
                Ok(()) => tokio::fs::copy(&crop, &target).await.map(|_| ()),
                Err(error) => Err(error),
            },
            None => Ok(()),
        };
        match copied {
            Ok(()) => Some(relative),
            Err(error) => {
                tracing::warn!(%error, record = %record.id, "cannot keep the crop as an enrollment photo");
                None
            }
        }
    }
}
