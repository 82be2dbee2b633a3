//! Errors of the store.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No record with this id (or unique key).
    #[error("{what} not found")]
    NotFound {
        /// What was looked for, e.g. "student S123".
        what: String,
    },
    /// A unique field already holds this value.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The student has not granted consent (or withdrew it): no face of theirs may be enrolled.
    #[error("student {student} has not granted consent to face recognition")]
    ConsentRequired {
        /// The student's id or number.
        student: String,
    },
    /// The data is not acceptable (schema assertion, bad reference, wrong version).
    #[error("invalid: {0}")]
    Invalid(String),
    /// The database could not be reached.
    #[error("cannot open database {url}: {reason}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's message.
        reason: String,
    },
    /// Any other database failure.
    #[error("storage error: {0}")]
    Storage(String),
}

impl StoreError {
    /// Not found, naming what.
    pub fn not_found(what: impl Into<String>) -> Self {
        StoreError::NotFound { what: what.into() }
    }

    /// Classifies a driver error: unique-index violations become [`StoreError::Conflict`],
    /// schema assertion and type failures [`StoreError::Invalid`], the rest
    /// [`StoreError::Storage`]. Conflicts and invalid data carry a plain sentence (they reach
    /// API clients); the driver's own message, which names tables, fields and record ids, only
    /// goes to the log. `Storage` keeps it: it is never shown to clients (a 500 says no more
    /// than "internal server error") and repositories match their THROWs in it.
    pub(crate) fn storage(error: surrealdb::Error) -> Self {
        let message = error.to_string();
        let lower = message.to_ascii_lowercase();
        if lower.contains("already contains") || lower.contains("already exists") {
            tracing::debug!(%message, "unique index violated");
            StoreError::Conflict("a record with the same unique value already exists".to_owned())
        } else if lower.contains("couldn't coerce")
            || lower.contains("expected a")
            || lower.contains("assert")
            || lower.contains("but found")
        {
            tracing::warn!(%message, "the database refused a value");
            StoreError::Invalid("a value does not fit the stored schema".to_owned())
        } else {
            StoreError::Storage(message)
        }
    }

    /// A row came back in a shape the repository did not expect.
    pub(crate) fn decode(table: &str, error: serde_json::Error) -> Self {
        StoreError::Storage(format!("unexpected {table} row: {error}"))
    }
}
