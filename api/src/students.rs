//! `/api/students`: CRUD with search and paging, and enrollment photos.

use chrono::{DateTime, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Multipart, Object, OpenApi};
use uuid::Uuid;

use cavs_models::{Face, Student, StudentFields};

use crate::ApiState;
use crate::auth::BearerAuth;
use crate::consent::ConsentOut;
use crate::error::{ApiError, ApiResult};
use crate::pagination::{Paging, page_type};
use crate::photos::{self, PhotoRejection};
use crate::tags::ApiTags;
use crate::text::Text;

/// An enrolled student.
#[derive(Debug, Object)]
pub struct StudentOut {
    /// Record id.
    pub id: Uuid,
    /// Unique school number.
    pub student_number: String,
    /// Full name.
    pub full_name: String,
    /// E-mail address.
    #[oai(nullable)]
    pub email: Option<String>,
    /// Department.
    #[oai(nullable)]
    pub department: Option<String>,
    /// Year of study.
    #[oai(nullable)]
    pub year: Option<i64>,
    /// When the student was created.
    pub created_at: DateTime<Utc>,
    /// Number of enrolled face descriptors.
    pub face_count: u64,
    /// The latest consent decision (null: none recorded, so no face can be enrolled and the
    /// student is never matched).
    #[oai(nullable)]
    pub consent: Option<ConsentOut>,
}

impl From<Student> for StudentOut {
    fn from(s: Student) -> Self {
        StudentOut {
            id: s.id,
            student_number: s.student_number,
            full_name: s.full_name,
            email: s.email,
            department: s.department,
            year: s.year,
            created_at: s.created_at,
            face_count: s.face_count,
            consent: s.consent.map(ConsentOut::from),
        }
    }
}

/// Fields of a student (create, and full update with `PUT`).
#[derive(Debug, Object)]
pub struct StudentIn {
    /// Unique school number.
    #[oai(validator(min_length = 1, max_length = 64, pattern = r"\S"))]
    pub student_number: Text,
    /// Full name.
    #[oai(validator(min_length = 1, max_length = 200, pattern = r"\S"))]
    pub full_name: Text,
    /// E-mail address.
    #[oai(nullable, validator(max_length = 254, pattern = "^$|@"))]
    pub email: Option<Text>,
    /// Department.
    #[oai(nullable, validator(max_length = 200))]
    pub department: Option<Text>,
    /// Year of study.
    #[oai(nullable, validator(minimum(value = "0"), maximum(value = "100")))]
    pub year: Option<i64>,
}

impl From<StudentIn> for StudentFields {
    fn from(s: StudentIn) -> Self {
        StudentFields {
            student_number: s.student_number.0,
            full_name: s.full_name.0,
            email: s.email.map(Text::into_inner),
            department: s.department.map(Text::into_inner),
            year: s.year,
        }
    }
}

page_type!(StudentPage, StudentOut, "A page of students.");

/// Enrollment photos: one or more files in the `photos` field.
#[derive(Debug, Multipart)]
pub struct PhotosForm {
    /// JPEG or PNG photos, each showing exactly one face.
    #[oai(validator(min_items = 1))]
    pub photos: Vec<Upload>,
}

/// One descriptor stored from an uploaded photo.
#[derive(Debug, Object)]
pub struct EnrolledFace {
    /// Face record id.
    pub id: Uuid,
    /// The uploaded file's name.
    #[oai(nullable)]
    pub file_name: Option<String>,
    /// Where the photo was stored, relative to the data dir.
    #[oai(nullable)]
    pub source_path: Option<String>,
    /// `[x, y, width, height]` of the face in the photo.
    pub bbox: Vec<f32>,
    /// Detector score.
    pub score: f32,
}

/// One enrolled face descriptor (the descriptor itself is not shown).
#[derive(Debug, Object)]
pub struct FaceOut {
    /// Face record id.
    pub id: Uuid,
    /// The student.
    pub student_id: Uuid,
    /// Where the enrollment photo was stored (relative to the data dir), or the file name it
    /// was enrolled from.
    #[oai(nullable)]
    pub source_path: Option<String>,
    /// When it was enrolled.
    pub created_at: DateTime<Utc>,
}

impl From<Face> for FaceOut {
    fn from(f: Face) -> Self {
        FaceOut {
            id: f.id,
            student_id: f.student_id,
            source_path: f.source_path.as_deref().map(photos::shown_path),
            created_at: f.created_at,
        }
    }
}

/// Result of an enrollment upload.
#[derive(Debug, Object)]
pub struct EnrollResult {
    /// The student, with the new face count.
    pub student: StudentOut,
    /// The faces stored.
    pub faces: Vec<EnrolledFace>,
}

#[derive(ApiResponse)]
enum StudentCreated {
    /// Created.
    #[oai(status = 201)]
    Created(Json<StudentOut>),
}

#[derive(ApiResponse)]
enum PhotosAdded {
    /// Every photo was enrolled.
    #[oai(status = 201)]
    Created(Json<EnrollResult>),
}

#[derive(ApiResponse)]
enum Deleted {
    /// Deleted.
    #[oai(status = 204)]
    NoContent,
}

pub(crate) struct StudentsApi {
    state: ApiState,
}

impl StudentsApi {
    pub(crate) fn new(state: ApiState) -> Self {
        StudentsApi { state }
    }

    async fn find(&self, key: &str) -> ApiResult<Student> {
        Ok(self.state.store.students().find(key).await?)
    }
}

#[OpenApi(tag = "ApiTags::Students")]
impl StudentsApi {
    /// The enrolled faces of a student.
    #[oai(path = "/students/:id/faces", method = "get")]
    async fn faces(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
    ) -> ApiResult<Json<Vec<FaceOut>>> {
        auth.0.require_staff()?;
        let student = self.find(&id.0).await?;
        let faces = self.state.store.faces().for_student(student.id).await?;
        Ok(Json(faces.into_iter().map(FaceOut::from).collect()))
    }

    /// Deletes one enrolled face of a student (admin); the live gallery follows.
    #[oai(path = "/students/:id/faces/:face_id", method = "delete")]
    async fn delete_face(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
        /// Face record id.
        face_id: Path<String>,
    ) -> ApiResult<Deleted> {
        auth.0.require_admin()?;
        let student = self.find(&id.0).await?;
        let faces = self.state.store.faces().for_student(student.id).await?;
        let face = faces
            .into_iter()
            .find(|f| f.id.to_string() == face_id.0)
            .ok_or_else(|| {
                ApiError::not_found(format!(
                    "face {} of student {} not found",
                    face_id.0, student.student_number
                ))
            })?;
        self.state
            .store
            .faces()
            .delete(face.id, &auth.0.actor())
            .await?;
        if let Some(path) = face
            .source_path
            .as_deref()
            .filter(|p| p.starts_with("enrollment/"))
            .and_then(|p| photos::resolve_under(&self.state.config.data_dir, p))
            && let Err(error) = tokio::fs::remove_file(&path).await
        {
            tracing::warn!(%error, path = %path.display(), "cannot remove enrollment photo");
        }
        self.state.pipeline.gallery_changed().await;
        Ok(Deleted::NoContent)
    }

    /// Lists students ordered by number; `search` matches number, name, e-mail or department.
    #[allow(clippy::too_many_arguments)]
    #[oai(path = "/students", method = "get")]
    async fn list(
        &self,
        auth: BearerAuth,
        /// Case-insensitive substring of number, name, e-mail or department.
        #[oai(validator(max_length = 200))]
        search: Query<Option<String>>,
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
    ) -> ApiResult<Json<StudentPage>> {
        auth.0.require_staff()?;
        let store = &self.state.store;
        let search = search.0;
        let page = Paging::new(page.0, page_size.0, limit.0, offset.0)
            .fetch(|p| {
                let search = search.clone();
                async move { store.students().list(search.as_deref(), &p).await }
            })
            .await?;
        Ok(Json(StudentPage::from_page(page, StudentOut::from)))
    }

    /// Creates a student (admin).
    #[oai(path = "/students", method = "post")]
    async fn create(&self, auth: BearerAuth, body: Json<StudentIn>) -> ApiResult<StudentCreated> {
        auth.0.require_admin()?;
        let student = self
            .state
            .store
            .students()
            .create(&body.0.into(), &auth.0.actor())
            .await?;
        tracing::info!(student = %student.student_number, "student created");
        Ok(StudentCreated::Created(Json(student.into())))
    }

    /// One student, by id or student number.
    #[oai(path = "/students/:id", method = "get")]
    async fn get(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
    ) -> ApiResult<Json<StudentOut>> {
        auth.0.require_staff()?;
        Ok(Json(self.find(&id.0).await?.into()))
    }

    /// Replaces a student's fields (admin).
    #[oai(path = "/students/:id", method = "put")]
    async fn update(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
        body: Json<StudentIn>,
    ) -> ApiResult<Json<StudentOut>> {
        auth.0.require_admin()?;
        let student = self.find(&id.0).await?;
        let updated = self
            .state
            .store
            .students()
            .update(student.id, &body.0.into(), &auth.0.actor())
            .await?;
        if updated.full_name != student.full_name && updated.face_count > 0 {
            self.state.pipeline.gallery_changed().await;
        }
        Ok(Json(updated.into()))
    }

    /// Deletes a student and their enrolled faces; the live gallery follows (admin).
    #[oai(path = "/students/:id", method = "delete")]
    async fn delete(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
    ) -> ApiResult<Deleted> {
        auth.0.require_admin()?;
        let student = self.find(&id.0).await?;
        self.state
            .store
            .students()
            .delete(student.id, &auth.0.actor())
            .await?;
        let dir = self
            .state
            .config
            .data_dir
            .join("enrollment")
            .join(student.id.to_string());
        if let Err(error) = tokio::fs::remove_dir_all(&dir).await
            && error.kind() != std::io::ErrorKind::NotFound
        {
            tracing::warn!(%error, dir = %dir.display(), "cannot remove enrollment photos");
        }
        self.state.pipeline.gallery_changed().await;
        tracing::info!(student = %student.student_number, faces = student.face_count, "student deleted");
        Ok(Deleted::NoContent)
    }

    /// Enrolls photos of a student (admin, multipart field `photos`, one or more files). Each
    /// photo must show exactly one face; if any does not, nothing is stored and the 422 names
    /// every rejected photo and why.
    #[oai(path = "/students/:id/photos", method = "post")]
    async fn add_photos(
        &self,
        auth: BearerAuth,
        /// Record id or student number.
        id: Path<String>,
        form: PhotosForm,
    ) -> ApiResult<PhotosAdded> {
        auth.0.require_admin()?;
        let student = self.find(&id.0).await?;
        if !student.has_consent() {
            return Err(ApiError::consent_required(format!(
                "student {} has not granted consent to face recognition: record it with POST /api/students/{{id}}/consent first",
                student.student_number
            )));
        }
        if form.photos.is_empty() {
            return Err(ApiError::bad_request("no photo in the `photos` field"));
        }
        let mut accepted = Vec::new();
        let mut rejected: Vec<(String, PhotoRejection)> = Vec::new();
        for (index, upload) in form.photos.into_iter().enumerate() {
            let name = upload
                .file_name()
                .map(str::to_owned)
                .unwrap_or_else(|| format!("photo #{}", index + 1));
            let bytes = upload
                .into_vec()
                .await
                .map_err(|e| ApiError::bad_request(format!("cannot read upload: {e}")))?;
            let kind = photos::sniff(&bytes);
            match photos::single_face(self.state.pipeline.as_ref(), bytes.clone()).await? {
                Ok(face) => accepted.push((name, bytes, kind, face)),
                Err(reason) => rejected.push((name, reason)),
            }
        }
        if !rejected.is_empty() {
            let all_same = rejected
                .iter()
                .all(|(_, r)| r.slug() == rejected[0].1.slug());
            let detail = rejected
                .iter()
                .map(|(name, reason)| format!("{name}: {reason}"))
                .collect::<Vec<_>>()
                .join("; ");
            let status = if all_same && rejected[0].1 == PhotoRejection::NotAnImage {
                415
            } else {
                422
            };
            let slug = if all_same {
                rejected[0].1.slug()
            } else {
                "photos-rejected"
            };
            return Err(ApiError::with_slug(
                status,
                slug,
                format!("no photo was enrolled; rejected: {detail}"),
            ));
        }
        let dir = self
            .state
            .config
            .data_dir
            .join("enrollment")
            .join(student.id.to_string());
        let mut faces = Vec::new();
        for (name, bytes, kind, face) in accepted {
            let ext = kind.map_or("bin", |k| k.extension());
            let file = format!("{}.{ext}", Uuid::now_v7());
            let relative = format!("enrollment/{}/{file}", student.id);
            // Sealed at rest, like the crops.
            let stored = match (
                tokio::fs::create_dir_all(&dir).await,
                self.state.config.sealer.seal(&bytes),
            ) {
                (Ok(()), Ok(sealed)) => tokio::fs::write(dir.join(&file), &sealed).await,
                (Err(e), _) => Err(e),
                (_, Err(e)) => Err(std::io::Error::other(e)),
            };
            let source_path = match stored {
                Ok(()) => Some(relative),
                Err(error) => {
                    tracing::warn!(%error, "cannot keep enrollment photo");
                    None
                }
            };
            let record = self
                .state
                .store
                .faces()
                .add(
                    student.id,
                    &face.descriptor,
                    source_path.as_deref(),
                    &auth.0.actor(),
                )
                .await?;
            faces.push(EnrolledFace {
                id: record.id,
                file_name: Some(name),
                source_path,
                bbox: face.bbox.to_vec(),
                score: face.score,
            });
        }
        self.state.pipeline.gallery_changed().await;
        let student = self.state.store.students().get(student.id).await?;
        tracing::info!(student = %student.student_number, added = faces.len(), "photos enrolled");
        Ok(PhotosAdded::Created(Json(EnrollResult {
            student: student.into(),
            faces,
        })))
    }
}
