//! Enrolled face descriptors.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::descriptors::{DescriptorCodec, StoredDescriptor};
use super::query::{self, Vars, de_record, run};
use crate::{Actor, Face, NewAudit};

#[derive(Deserialize)]
struct FaceRow {
    #[serde(deserialize_with = "de_record")]
    id: Uuid,
    #[serde(deserialize_with = "de_record")]
    student: Uuid,
    embedding: StoredDescriptor,
    source_path: Option<String>,
    created_at: DateTime<Utc>,
}

impl FaceRow {
    fn into_face(self, codec: &DescriptorCodec<'_>) -> Result<Face, StoreError> {
        Ok(Face {
            id: self.id,
            student_id: self.student,
            embedding: codec.decode(self.embedding)?,
            source_path: self.source_path,
            created_at: self.created_at,
        })
    }
}

/// Repository of `face` records.
pub struct FacesRepo<'a> {
    db: &'a Surreal<Any>,
    codec: DescriptorCodec<'a>,
}

impl<'a> FacesRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>, codec: DescriptorCodec<'a>) -> Self {
        FacesRepo { db, codec }
    }

    /// Stores a descriptor for a student; `Invalid` unless it has 128 finite values,
    /// `NotFound` if the student does not exist, `ConsentRequired` unless the student's latest
    /// consent decision grants it.
    pub async fn add(
        &self,
        student_id: Uuid,
        embedding: &[f32],
        source_path: Option<&str>,
        actor: &Actor,
    ) -> Result<Face, StoreError> {
        let embedding_json = self.codec.encode(embedding)?;
        let id = Uuid::now_v7();
        let audit = NewAudit::of(
            actor,
            "enroll",
            "face",
            id,
            serde_json::json!({ "student_id": student_id, "source_path": source_path }),
        );
        let sql = query::transaction(
            "LET $student = type::record('student', $student_id);
             IF $student.id = NONE { THROW 'student not found' };
             IF $student.consent_granted != true { THROW 'consent required' };
             CREATE type::record('face', $id) SET student = $student, embedding = $embedding, source_path = $source_path;",
            &audit,
        );
        run(
            self.db,
            sql,
            Vars::new()
                .uuid("id", id)
                .uuid("student_id", student_id)
                .json("embedding", embedding_json)
                .opt_str("source_path", source_path)
                .audit(&audit),
        )
        .await
        .map_err(|e| match e {
            StoreError::Storage(msg) if msg.contains("student not found") => {
                StoreError::not_found(format!("student {student_id}"))
            }
            StoreError::Storage(msg) if msg.contains("consent required") => {
                StoreError::ConsentRequired {
                    student: student_id.to_string(),
                }
            }
            other => other,
        })?;
        let mut response = run(
            self.db,
            "SELECT * FROM ONLY type::record('face', $id);",
            Vars::new().uuid("id", id),
        )
        .await?;
        query::one::<FaceRow>(&mut response, 0, "face")?
            .ok_or_else(|| StoreError::not_found(format!("face {id}")))?
            .into_face(&self.codec)
    }

    /// Every descriptor of one student.
    pub async fn for_student(&self, student_id: Uuid) -> Result<Vec<Face>, StoreError> {
        let mut response = run(
            self.db,
            "SELECT * FROM face WHERE student = type::record('student', $student_id) ORDER BY created_at;",
            Vars::new().uuid("student_id", student_id),
        )
        .await?;
        query::rows::<FaceRow>(&mut response, 0, "face")?
            .into_iter()
            .map(|row| row.into_face(&self.codec))
            .collect()
    }

    /// Every enrolled descriptor of a student whose latest consent decision grants it, with
    /// the student's name: the matching gallery. A student without consent is never matched.
    pub async fn all(&self) -> Result<Vec<(Face, String)>, StoreError> {
        #[derive(Deserialize)]
        struct Row {
            #[serde(flatten)]
            face: FaceRow,
            full_name: Option<String>,
        }
        let mut response = run(
            self.db,
            "SELECT *, student.full_name AS full_name FROM face WHERE student.consent_granted = true;",
            Vars::new(),
        )
        .await?;
        query::rows::<Row>(&mut response, 0, "face")?
            .into_iter()
            .map(|row| {
                Ok((
                    row.face.into_face(&self.codec)?,
                    row.full_name.unwrap_or_default(),
                ))
            })
            .collect()
    }

    /// Deletes one descriptor.
    pub async fn delete(&self, id: Uuid, actor: &Actor) -> Result<(), StoreError> {
        let audit = NewAudit::of(actor, "delete", "face", id, serde_json::json!({}));
        let sql = query::transaction(
            "IF type::record('face', $id).id = NONE { THROW 'face not found' };
             DELETE type::record('face', $id);",
            &audit,
        );
        run(self.db, sql, Vars::new().uuid("id", id).audit(&audit))
            .await
            .map_err(|e| match e {
                StoreError::Storage(msg) if msg.contains("face not found") => {
                    StoreError::not_found(format!("face {id}"))
                }
                other => other,
            })?;
        Ok(())
    }
}
