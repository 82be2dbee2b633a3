//! Students (their face descriptors live in `face`, see [`super::FacesRepo`]).

use chrono::{DateTime, Utc};
use serde::Deserialize;
use surrealdb::Surreal;
use surrealdb::engine::any::Any;
use uuid::Uuid;

use super::StoreError;
use super::consent::ConsentRow;
use super::query::{self, Vars, de_record, page_bounds, run};
use crate::{Actor, Consent, NewAudit, Page, PageRequest, Student, StudentFields};

const STUDENT_FIELDS: &str = "id, student_number, full_name, email, department, year, created_at, \
     array::len((SELECT VALUE id FROM face WHERE student = $parent.id)) AS face_count, \
     (SELECT granted, given_by, notice_version, recorded_at, recorded_by FROM consent \
      WHERE student = $parent.id ORDER BY recorded_at DESC LIMIT 1)[0] AS consent";

#[derive(Deserialize)]
struct StudentRow {
    #[serde(deserialize_with = "de_record")]
    id: Uuid,
    student_number: String,
    full_name: String,
    email: Option<String>,
    department: Option<String>,
    year: Option<i64>,
    created_at: DateTime<Utc>,
    #[serde(default)]
    face_count: u64,
    #[serde(default)]
    consent: Option<ConsentRow>,
}

impl From<StudentRow> for Student {
    fn from(row: StudentRow) -> Self {
        Student {
            id: row.id,
            student_number: row.student_number,
            full_name: row.full_name,
            email: row.email,
            department: row.department,
            year: row.year,
            created_at: row.created_at,
            face_count: row.face_count,
            consent: row.consent.map(Consent::from),
        }
    }
}

fn validate(fields: &StudentFields) -> Result<(), StoreError> {
    if fields.student_number.trim().is_empty() || fields.student_number.chars().count() > 64 {
        return Err(StoreError::Invalid(
            "student_number must be 1-64 characters".into(),
        ));
    }
    if fields.full_name.trim().is_empty() || fields.full_name.chars().count() > 200 {
        return Err(StoreError::Invalid(
            "full_name must be 1-200 characters".into(),
        ));
    }
    if let Some(email) = &fields.email
        && !email.is_empty()
        && !email.contains('@')
    {
        return Err(StoreError::Invalid(format!("email `{email}` has no @")));
    }
    Ok(())
}

fn bind_fields(vars: Vars, fields: &StudentFields) -> Vars {
    vars.str("student_number", fields.student_number.trim())
        .str("full_name", fields.full_name.trim())
        .opt_str("email", fields.email.clone().filter(|e| !e.is_empty()))
        .opt_str(
            "department",
            fields.department.clone().filter(|d| !d.is_empty()),
        )
        .opt_int("year", fields.year)
}

const SET_FIELDS: &str = "student_number = $student_number, full_name = $full_name, email = $email, department = $department, year = $year";

/// Repository of `student` records.
pub struct StudentsRepo<'a> {
    pub(super) db: &'a Surreal<Any>,
}

impl<'a> StudentsRepo<'a> {
    pub(crate) fn new(db: &'a Surreal<Any>) -> Self {
        StudentsRepo { db }
    }

    /// Creates a student; `Conflict` if the student number is taken.
    pub async fn create(
        &self,
        fields: &StudentFields,
        actor: &Actor,
    ) -> Result<Student, StoreError> {
        validate(fields)?;
        let id = Uuid::now_v7();
        let audit = NewAudit::of(
            actor,
            "create",
            "student",
            id,
            serde_json::json!({ "student_number": fields.student_number }),
        );
        let sql = query::transaction(
            &format!("CREATE type::record('student', $id) SET {SET_FIELDS};"),
            &audit,
        );
        run(
            self.db,
            sql,
            bind_fields(Vars::new().uuid("id", id), fields).audit(&audit),
        )
        .await
        .map_err(|e| conflict(e, &fields.student_number))?;
        self.get(id).await
    }

    /// The student with this id.
    pub async fn get(&self, id: Uuid) -> Result<Student, StoreError> {
        let mut response = run(
            self.db,
            format!("SELECT {STUDENT_FIELDS} FROM ONLY type::record('student', $id);"),
            Vars::new().uuid("id", id),
        )
        .await?;
        query::one::<StudentRow>(&mut response, 0, "student")?
            .map(Student::from)
            .ok_or_else(|| StoreError::not_found(format!("student {id}")))
    }

    /// The student with this record id or, failing that, this student number.
    pub async fn find(&self, key: &str) -> Result<Student, StoreError> {
        if let Ok(id) = Uuid::parse_str(key) {
            match self.get(id).await {
                Err(StoreError::NotFound { .. }) => {}
                other => return other,
            }
        }
        let mut response = run(
            self.db,
            format!("SELECT {STUDENT_FIELDS} FROM student WHERE student_number = $number LIMIT 1;"),
            Vars::new().str("number", key),
        )
        .await?;
        query::rows::<StudentRow>(&mut response, 0, "student")?
            .pop()
            .map(Student::from)
            .ok_or_else(|| StoreError::not_found(format!("student `{key}`")))
    }

    /// One page of students ordered by student number; `search` matches number, name, email
    /// or department (case-insensitive substring).
    pub async fn list(
        &self,
        search: Option<&str>,
        page: &PageRequest,
    ) -> Result<Page<Student>, StoreError> {
        let (limit, start) = page_bounds(page);
        let search = search.map(str::trim).filter(|s| !s.is_empty());
        let filter = if search.is_some() {
            "WHERE string::contains(string::lowercase(student_number), $q) \
             OR string::contains(string::lowercase(full_name), $q) \
             OR string::contains(string::lowercase(email ?? ''), $q) \
             OR string::contains(string::lowercase(department ?? ''), $q)"
        } else {
            ""
        };
        let mut response = run(
            self.db,
            format!(
                "SELECT {STUDENT_FIELDS} FROM student {filter} ORDER BY student_number LIMIT $limit START $start;
                 SELECT count() FROM student {filter} GROUP ALL;"
            ),
            Vars::new()
                .int("limit", limit)
                .int("start", start)
                .opt_str("q", search.map(str::to_lowercase)),
        )
        .await?;
        query::page(&mut response, "student", page, limit, |row: StudentRow| {
            Ok(Student::from(row))
        })
    }

    /// Replaces a student's fields.
    pub async fn update(
        &self,
        id: Uuid,
        fields: &StudentFields,
        actor: &Actor,
    ) -> Result<Student, StoreError> {
        validate(fields)?;
        self.get(id).await?;
        let audit = NewAudit::of(
            actor,
            "update",
            "student",
            id,
            serde_json::to_value(fields).unwrap_or_default(),
        );
        let sql = query::transaction(
            &format!("UPDATE type::record('student', $id) SET {SET_FIELDS};"),
            &audit,
        );
        run(
            self.db,
            sql,
            bind_fields(Vars::new().uuid("id", id), fields).audit(&audit),
        )
        .await
        .map_err(|e| conflict(e, &fields.student_number))?;
        self.get(id).await
    }

    /// Deletes a student and every face descriptor of theirs; attendance records keep their
    /// history but lose the link. Returns the deleted student.
    pub async fn delete(&self, id: Uuid, actor: &Actor) -> Result<Student, StoreError> {
        let student = self.get(id).await?;
        let audit = NewAudit::of(
            actor,
            "delete",
            "student",
            id,
            serde_json::json!({
                "student_number": student.student_number,
                "full_name": student.full_name,
                "faces_deleted": student.face_count,
            }),
        );
        let sql = query::transaction(
            "LET $student = type::record('student', $id);
             DELETE face WHERE student = $student;
             DELETE consent WHERE student = $student;
             UPDATE attendance SET predicted_student = NONE WHERE predicted_student = $student;
             DELETE $student;",
            &audit,
        );
        run(self.db, sql, Vars::new().uuid("id", id).audit(&audit)).await?;
        Ok(student)
    }
}

fn conflict(error: StoreError, number: &str) -> StoreError {
    match error {
        StoreError::Conflict(_) => {
            StoreError::Conflict(format!("student_number `{number}` already exists"))
        }
        other => other,
    }
}
