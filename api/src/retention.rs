//! One run of the retention schedule: the store's purge ([`Store::purge`]) and then the files it
//! names (face crops, enrollment photos) under the data dir. Used by the hub's daily purge and
//! by `cavs-hub purge [--dry-run]`.

use std::fmt;
use std::path::{Component, Path};

use cavs_models::Actor;
use cavs_models::retention::RetentionPolicy;
use cavs_models::store::{Purge, Store, StoreError};
use chrono::{DateTime, Utc};

/// What one purge did.
#[derive(Debug, Clone, PartialEq)]
pub struct PurgeSummary {
    /// The database side.
    pub purge: Purge,
    /// Files deleted from the data dir (0 on a dry run).
    pub files_deleted: u64,
}

impl fmt::Display for PurgeSummary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = &self.purge;
        let verb = if p.dry_run { "would delete" } else { "deleted" };
        write!(
            f,
            "retention purge ({}): {verb} {} records older than {}, {} unknown faces and the crops of {} records older than {}, the enrolled faces of {} students ({} faces) not seen since {}; {} files",
            if p.dry_run { "dry run" } else { "applied" },
            p.records_deleted,
            p.cutoffs.records_before.format("%Y-%m-%d"),
            p.unknown_faces_deleted,
            p.crops_expired,
            p.cutoffs.crops_before.format("%Y-%m-%d"),
            p.students_expired,
            p.faces_deleted,
            p.cutoffs.embeddings_before.format("%Y-%m-%d"),
            if p.dry_run {
                p.file_paths.len() as u64
            } else {
                self.files_deleted
            },
        )
    }
}

/// Applies `policy` at `now` as `actor` (or, with `dry_run`, counts what would go). The caller
/// reloads the live gallery when faces were deleted.
pub async fn purge(
    store: &Store,
    data_dir: &Path,
    policy: &RetentionPolicy,
    now: DateTime<Utc>,
    dry_run: bool,
    actor: &Actor,
) -> Result<PurgeSummary, StoreError> {
    let purge = store.purge(&policy.cutoffs(now), dry_run, actor).await?;
    let mut files_deleted = 0;
    if !dry_run {
        for path in &purge.file_paths {
            if remove_data_file(data_dir, path).await {
                files_deleted += 1;
            }
        }
    }
    Ok(PurgeSummary {
        purge,
        files_deleted,
    })
}

/// Deletes `relative` under `data_dir`; true when a file was removed. Paths that would leave
/// the data dir are refused (logged), never followed; a file already gone is not an error.
pub async fn remove_data_file(data_dir: &Path, relative: &str) -> bool {
    let path = Path::new(relative);
    if !path.components().all(|c| matches!(c, Component::Normal(_))) {
        tracing::warn!(path = relative, "not deleting a path outside the data dir");
        return false;
    }
    match tokio::fs::remove_file(data_dir.join(path)).await {
        Ok(()) => true,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => false,
        Err(error) => {
            tracing::warn!(%error, path = relative, "cannot delete a data file");
            false
        }
    }
}

/// Deletes the enrollment folder of `student_id` under `data_dir` (every photo of theirs, also
/// one written by an upload that the store then refused); answers how many files it held.
pub async fn remove_enrollment_dir(data_dir: &Path, student_id: uuid::Uuid) -> u64 {
    let dir = data_dir.join("enrollment").join(student_id.to_string());
    let mut files = 0;
    if let Ok(mut entries) = tokio::fs::read_dir(&dir).await {
        while let Ok(Some(entry)) = entries.next_entry().await {
            if entry.file_type().await.is_ok_and(|t| t.is_file()) {
                files += 1;
            }
        }
    }
    if let Err(error) = tokio::fs::remove_dir_all(&dir).await
        && error.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(%error, dir = %dir.display(), "cannot remove enrollment photos");
    }
    files
}
