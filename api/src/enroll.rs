//! Bulk enrollment from a directory (`cavs-hub enroll DIR`): one sub-folder per student
//! number holding that student's photos, and an optional `students.csv` at the root with
//! columns `student_number,full_name[,email,department,year,consent,consent_given_by,consent_notice]`
//! (in that order, or any order under a header row).
//!
//! Missing students are created (named from the CSV, else after their folder). A `consent`
//! cell (`yes`/`granted`/`true`/`1` or `no`/`withdrawn`/`false`/`0`) records that decision
//! when it differs from the student's latest one. Only students whose latest decision grants
//! consent are enrolled: the others' folders are skipped with a line saying so. Each photo
//! must show exactly one face; photos already enrolled (same source path) are skipped, so a
//! second run adds only new photos. The summary lists every rejected photo and why.

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::{Path, PathBuf};

use cavs_models::store::{Store, StoreError};
use cavs_models::{Actor, ConsentFields, StudentFields};
use indicatif::{ProgressBar, ProgressStyle};

use crate::photos::{self, PhotoRejection};
use cavs_models::pipeline::{Pipeline, PipelineError};

/// Name of the optional roster file at the root of the directory.
pub const ROSTER_FILE: &str = "students.csv";

/// Why bulk enrollment stopped.
#[derive(Debug, thiserror::Error)]
pub enum EnrollError {
    /// A directory or file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `students.csv` is malformed.
    #[error("bad students.csv: {0}")]
    Roster(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The recognition pipeline failed (busy or unavailable).
    #[error(transparent)]
    Pipeline(#[from] PipelineError),
}

/// A photo that was not enrolled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectedPhoto {
    /// The photo.
    pub path: PathBuf,
    /// Why.
    pub reason: PhotoRejection,
}

/// What bulk enrollment did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnrollSummary {
    /// Student folders seen.
    pub students_seen: usize,
    /// Students created (not in the database before).
    pub students_created: usize,
    /// Consent decisions recorded from the roster's `consent` column.
    pub consents_recorded: usize,
    /// Photo files seen.
    pub photos_seen: usize,
    /// Descriptors stored.
    pub faces_added: usize,
    /// Photos skipped because they were enrolled by an earlier run.
    pub already_enrolled: usize,
    /// Photos rejected, with the reason.
    pub rejected: Vec<RejectedPhoto>,
    /// Folders skipped (not a valid student number, or a student that could not be created).
    pub skipped_folders: Vec<(PathBuf, String)>,
}

impl fmt::Display for EnrollSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} student folder(s), {} student(s) created, {} consent decision(s) recorded; {} photo(s): {} enrolled, {} already enrolled, {} rejected",
            self.students_seen,
            self.students_created,
            self.consents_recorded,
            self.photos_seen,
            self.faces_added,
            self.already_enrolled,
            self.rejected.len()
        )?;
        for (folder, reason) in &self.skipped_folders {
            writeln!(f, "  skipped folder {}: {reason}", folder.display())?;
        }
        for rejected in &self.rejected {
            writeln!(
                f,
                "  rejected {}: {}",
                rejected.path.display(),
                rejected.reason
            )?;
        }
        Ok(())
    }
}

/// One row of `students.csv`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct RosterRow {
    full_name: String,
    email: Option<String>,
    department: Option<String>,
    year: Option<i64>,
    consent: Option<ConsentFields>,
}

/// Given-by and notice version of a roster consent that names neither.
const ROSTER_GIVEN_BY: &str = "as recorded in students.csv";
const ROSTER_NOTICE: &str = "unstated";

/// A `consent` cell: granted, refused / withdrawn, or not a decision.
fn parse_consent(cell: &str) -> Option<bool> {
    match cell.to_ascii_lowercase().as_str() {
        "yes" | "y" | "granted" | "true" | "1" => Some(true),
        "no" | "n" | "refused" | "withdrawn" | "false" | "0" => Some(false),
        _ => None,
    }
}

fn io_error(path: &Path) -> impl FnOnce(std::io::Error) -> EnrollError + '_ {
    move |source| EnrollError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Reads `students.csv` (header row optional) into student number → fields.
fn read_roster(path: &Path) -> Result<HashMap<String, RosterRow>, EnrollError> {
    let text = std::fs::read_to_string(path).map_err(io_error(path))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = HashMap::new();
    let mut columns: Vec<String> = [
        "student_number",
        "full_name",
        "email",
        "department",
        "year",
        "consent",
        "consent_given_by",
        "consent_notice",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    for (line, record) in reader.records().enumerate() {
        let record = record.map_err(|e| EnrollError::Roster(e.to_string()))?;
        if line == 0
            && record
                .iter()
                .any(|cell| cell.eq_ignore_ascii_case("student_number"))
        {
            columns = record.iter().map(|c| c.to_ascii_lowercase()).collect();
            continue;
        }
        let field = |name: &str| {
            columns
                .iter()
                .position(|c| c == name)
                .and_then(|i| record.get(i))
                .map(str::to_owned)
                .filter(|v| !v.is_empty())
        };
        let Some(number) = field("student_number") else {
            continue;
        };
        let year = match field("year") {
            None => None,
            Some(text) => Some(text.parse::<i64>().map_err(|_| {
                EnrollError::Roster(format!("line {}: year `{text}` is not a number", line + 1))
            })?),
        };
        let consent = match field("consent") {
            None => None,
            Some(text) => {
                let granted = parse_consent(&text).ok_or_else(|| {
                    EnrollError::Roster(format!(
                        "line {}: consent `{text}` is not yes or no",
                        line + 1
                    ))
                })?;
                Some(ConsentFields {
                    granted,
                    given_by: field("consent_given_by").unwrap_or_else(|| ROSTER_GIVEN_BY.into()),
                    notice_version: field("consent_notice").unwrap_or_else(|| ROSTER_NOTICE.into()),
                })
            }
        };
        rows.insert(
            number.clone(),
            RosterRow {
                full_name: field("full_name").unwrap_or(number),
                email: field("email"),
                department: field("department"),
                year,
                consent,
            },
        );
    }
    Ok(rows)
}

/// Sorted entries of `dir` (hidden names skipped): (sub-directories, files).
fn entries(dir: &Path) -> Result<(Vec<PathBuf>, Vec<PathBuf>), EnrollError> {
    let mut dirs = Vec::new();
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io_error(dir))? {
        let entry = entry.map_err(io_error(dir))?;
        let path = entry.path();
        if entry.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        if path.is_dir() {
            dirs.push(path);
        } else if path.is_file() {
            files.push(path);
        }
    }
    dirs.sort();
    files.sort();
    Ok((dirs, files))
}

fn progress_bar(total: usize, visible: bool) -> ProgressBar {
    if !visible {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total as u64);
    if let Ok(style) = ProgressStyle::with_template(
        "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} photos {msg}",
    ) {
        bar.set_style(style);
    }
    bar
}

/// Enrolls every student folder of `dir` (see the module docs). `progress` shows a progress
/// bar on stderr. Calls [`Pipeline::gallery_changed`] when descriptors were added.
pub async fn enroll_directory(
    store: &Store,
    pipeline: &dyn Pipeline,
    dir: &Path,
    progress: bool,
) -> Result<EnrollSummary, EnrollError> {
    let roster_path = dir.join(ROSTER_FILE);
    let roster = if roster_path.is_file() {
        read_roster(&roster_path)?
    } else {
        HashMap::new()
    };
    let (folders, _) = entries(dir)?;
    let mut plan = Vec::new();
    for folder in folders {
        let (_, files) = entries(&folder)?;
        plan.push((folder, files));
    }
    let total = plan.iter().map(|(_, files)| files.len()).sum();
    let bar = progress_bar(total, progress);
    let actor = Actor::System;
    let mut summary = EnrollSummary::default();
    for (folder, files) in plan {
        summary.students_seen += 1;
        let number = folder
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        bar.set_message(number.clone());
        let student = match store.students().find(&number).await {
            Ok(student) => student,
            Err(StoreError::NotFound { .. }) => {
                let row = roster.get(&number).cloned().unwrap_or_else(|| RosterRow {
                    full_name: number.clone(),
                    ..RosterRow::default()
                });
                let fields = StudentFields {
                    student_number: number.clone(),
                    full_name: row.full_name,
                    email: row.email,
                    department: row.department,
                    year: row.year,
                };
                match store.students().create(&fields, &actor).await {
                    Ok(student) => {
                        summary.students_created += 1;
                        student
                    }
                    Err(StoreError::Invalid(reason)) | Err(StoreError::Conflict(reason)) => {
                        summary.photos_seen += files.len();
                        bar.inc(files.len() as u64);
                        summary.skipped_folders.push((folder.clone(), reason));
                        continue;
                    }
                    Err(other) => return Err(other.into()),
                }
            }
            Err(other) => return Err(other.into()),
        };
        let mut student = student;
        if let Some(consent) = roster.get(&number).and_then(|row| row.consent.as_ref())
            && student.consent.as_ref().map(|c| c.granted) != Some(consent.granted)
        {
            let recorded = store
                .students()
                .record_consent(student.id, consent, &actor)
                .await?;
            summary.consents_recorded += 1;
            if recorded.faces_deleted > 0 {
                pipeline.gallery_changed().await;
            }
            student = recorded.student;
        }
        if !student.has_consent() {
            summary.photos_seen += files.len();
            bar.inc(files.len() as u64);
            summary.skipped_folders.push((
                folder.clone(),
                format!(
                    "{number} has not granted consent to face recognition (give `yes` in the consent column of {ROSTER_FILE}, or record it with POST /api/students/{{id}}/consent)"
                ),
            ));
            continue;
        }
        let known: HashSet<String> = store
            .faces()
            .for_student(student.id)
            .await?
            .into_iter()
            .filter_map(|f| f.source_path)
            .collect();
        for file in files {
            summary.photos_seen += 1;
            bar.inc(1);
            let source = file.display().to_string();
            if known.contains(&source) {
                summary.already_enrolled += 1;
                continue;
            }
            let bytes = tokio::fs::read(&file).await.map_err(io_error(&file))?;
            match photos::single_face(pipeline, bytes).await? {
                Ok(face) => {
                    store
                        .faces()
                        .add(student.id, &face.descriptor, Some(&source), &actor)
                        .await?;
                    summary.faces_added += 1;
                }
                Err(reason) => {
                    tracing::info!(photo = %source, %reason, "photo rejected");
                    summary.rejected.push(RejectedPhoto { path: file, reason });
                }
            }
        }
    }
    bar.finish_and_clear();
    if summary.faces_added > 0 {
        pipeline.gallery_changed().await;
    }
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roster_with_and_without_header() {
        let dir = std::env::temp_dir().join(format!("cavs-roster-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(ROSTER_FILE);
        std::fs::write(
            &path,
            "student_number,full_name,email,department,year\nS1,\"Obama, Barack\",b@x.org,Law,3\nS2,Joe Biden,,,\n",
        )
        .unwrap();
        let rows = read_roster(&path).unwrap();
        assert_eq!(rows["S1"].full_name, "Obama, Barack");
        assert_eq!(rows["S1"].year, Some(3));
        assert_eq!(rows["S2"].email, None);
        std::fs::write(&path, "S3,Kit Harington\n").unwrap();
        let rows = read_roster(&path).unwrap();
        assert_eq!(rows["S3"].full_name, "Kit Harington");
        std::fs::write(&path, "S4,Name,,,notayear\n").unwrap();
        assert!(read_roster(&path).is_err());
        std::fs::write(
            &path,
            "S5,Ada,,,,yes,her mother,v2\nS6,Bo,,,,withdrawn\nS7,Cy\n",
        )
        .unwrap();
        let rows = read_roster(&path).unwrap();
        let ada = rows["S5"].consent.as_ref().unwrap();
        assert!(ada.granted);
        assert_eq!(
            (ada.given_by.as_str(), ada.notice_version.as_str()),
            ("her mother", "v2")
        );
        let bo = rows["S6"].consent.as_ref().unwrap();
        assert!(!bo.granted);
        assert_eq!(bo.given_by, ROSTER_GIVEN_BY);
        assert_eq!(rows["S7"].consent, None);
        std::fs::write(&path, "student_number,consent\nS8,maybe\n").unwrap();
        assert!(
            read_roster(&path).is_err(),
            "an unclear consent cell is refused"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
