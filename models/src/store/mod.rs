//! The SurrealDB store: schema, connection and one repository per table.
//!
//! [`Store::open`] accepts `surrealkv://PATH` (embedded, on disk; opened with `sync=every` unless
//! the URL says otherwise, so an acknowledged write survives a crash), `mem://` (tests) and
//! `ws://[user:pass@]host:port` / `wss://` (a SurrealDB server or cluster). The schema is applied
//! idempotently on every open and its version recorded in `meta:schema`.
//!
//! Every mutation takes the [`Actor`](crate::Actor) who makes it and writes its audit entry in
//! the same transaction.

mod attendance;
mod audit;
mod consent;
mod descriptors;
mod devices;
mod erasure;
mod error;
mod face_descriptors;
mod faces;
mod frames;
mod manual_attendance;
mod query;
mod retention;
mod schema;
mod secrets;
mod students;
mod tokens;
mod users;

pub use attendance::AttendanceRepo;
pub use audit::AuditRepo;
pub use consent::ConsentRecorded;
pub use devices::DevicesRepo;
pub use erasure::Erasure;
pub use error::StoreError;
pub use face_descriptors::{UnknownFace, UnknownFacesFilter};
pub use faces::FacesRepo;
pub use frames::{FaceWrite, FrameCommit, FrameCommitted, FramesRepo};
pub use manual_attendance::MANUAL_DEVICE;
pub use retention::Purge;
pub use schema::SCHEMA_VERSION;
pub use secrets::{hash_secret, hash_secret_bounded, verify_secret, verify_secret_bounded};
pub use students::StudentsRepo;
pub use tokens::{TokenUse, TokensRepo};
pub use users::UsersRepo;

use surrealdb::Surreal;
use surrealdb::engine::any::Any;

use query::Vars;

/// Namespace and database the hub uses.
const NAMESPACE: &str = "cavs";
const DATABASE: &str = "cavs";

/// A handle on the database; cheap to clone and share between tasks.
#[derive(Clone)]
pub struct Store {
    db: Surreal<Any>,
    /// Seals face descriptors (none: stored plain, e.g. in tests).
    sealer: Option<std::sync::Arc<crate::sealing::Sealer>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    /// Connects to `url`, selects the `cavs` namespace and database and applies the schema.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let (endpoint, credentials) = split_credentials(&with_sync_mode(url));
        let db = surrealdb::engine::any::connect(endpoint.as_str())
            .await
            .map_err(|e| StoreError::Connect {
                url: redact(url),
                reason: e.to_string(),
            })?;
        if let Some((username, password)) = credentials {
            db.signin(surrealdb::opt::auth::Root { username, password })
                .await
                .map_err(|e| StoreError::Connect {
                    url: redact(url),
                    reason: format!("sign-in failed: {e}"),
                })?;
        }
        db.use_ns(NAMESPACE)
            .use_db(DATABASE)
            .await
            .map_err(StoreError::storage)?;
        let store = Store { db, sealer: None };
        store.migrate().await?;
        Ok(store)
    }

    /// Applies the schema (idempotent) and records [`SCHEMA_VERSION`]. Refuses a database whose
    /// recorded version is newer than this build's.
    pub async fn migrate(&self) -> Result<i64, StoreError> {
        let mut found = self
            .db
            .query("SELECT VALUE version FROM ONLY meta:schema")
            .await
            .map_err(StoreError::storage)?;
        let recorded: Option<i64> = found.take(0).unwrap_or(None);
        if let Some(version) = recorded
            && version > SCHEMA_VERSION
        {
            return Err(StoreError::Invalid(format!(
                "database schema version {version} is newer than this hub's {SCHEMA_VERSION}; upgrade the hub"
            )));
        }
        let sql = format!(
            "BEGIN TRANSACTION;{}UPSERT meta:schema SET version = $version, applied_at = time::now();COMMIT TRANSACTION;",
            schema::SCHEMA
        );
        self.db
            .query(sql)
            .bind(Vars::new().int("version", SCHEMA_VERSION).into_json())
            .await
            .and_then(|r| r.check())
            .map_err(StoreError::storage)?;
        Ok(SCHEMA_VERSION)
    }

    /// The schema version recorded in the database.
    pub async fn schema_version(&self) -> Result<Option<i64>, StoreError> {
        let mut found = self
            .db
            .query("SELECT VALUE version FROM ONLY meta:schema")
            .await
            .map_err(StoreError::storage)?;
        found.take(0).map_err(StoreError::storage)
    }

    /// Round-trips a trivial query: true when the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        self.db
            .query("RETURN 1")
            .await
            .and_then(|r| r.check())
            .map(|_| ())
            .map_err(StoreError::storage)
    }

    /// This store with face descriptors sealed by `sealer` from now on (encryption at rest);
    /// plain ones already stored stay readable until [`Store::seal_descriptors`] seals them.
    pub fn with_sealer(mut self, sealer: std::sync::Arc<crate::sealing::Sealer>) -> Self {
        self.sealer = Some(sealer);
        self
    }

    fn codec(&self) -> descriptors::DescriptorCodec<'_> {
        descriptors::DescriptorCodec::new(self.sealer.as_deref())
    }

    /// Users.
    pub fn users(&self) -> UsersRepo<'_> {
        UsersRepo::new(&self.db)
    }

    /// Students.
    pub fn students(&self) -> StudentsRepo<'_> {
        StudentsRepo::new(&self.db)
    }

    /// Face descriptors.
    pub fn faces(&self) -> FacesRepo<'_> {
        FacesRepo::new(&self.db, self.codec())
    }

    /// Devices.
    pub fn devices(&self) -> DevicesRepo<'_> {
        DevicesRepo::new(&self.db)
    }

    /// Attendance records.
    pub fn attendance(&self) -> AttendanceRepo<'_> {
        AttendanceRepo::new(&self.db, self.codec())
    }

    /// Processed frames: one transaction per frame, de-duplicated by frame id.
    pub fn frames(&self) -> FramesRepo<'_> {
        FramesRepo::new(&self.db, self.codec())
    }

    /// Audit log.
    pub fn audit(&self) -> AuditRepo<'_> {
        AuditRepo::new(&self.db)
    }

    /// Refresh tokens (single use).
    pub fn tokens(&self) -> TokensRepo<'_> {
        TokensRepo::new(&self.db)
    }

    /// Every row of `table` (one of [`TABLES`]) as JSON, for a full look at what the database
    /// holds (checking an erasure, a backup); `Invalid` for any other name.
    pub async fn table_rows(&self, table: &str) -> Result<Vec<serde_json::Value>, StoreError> {
        if !TABLES.contains(&table) {
            return Err(StoreError::Invalid(format!("no table `{table}`")));
        }
        let mut response =
            query::run(&self.db, format!("SELECT * FROM {table};"), Vars::new()).await?;
        query::rows(&mut response, 0, table)
    }
}

/// Every table of the schema.
pub const TABLES: [&str; 10] = [
    "meta",
    "user",
    "student",
    "consent",
    "face",
    "device",
    "attendance",
    "frame",
    "audit",
    "refresh_token",
];

/// Adds `?sync=every` to a `surrealkv://` URL that sets no options, so each commit is fsynced.
fn with_sync_mode(url: &str) -> String {
    if url.starts_with("surrealkv://") && !url.contains('?') {
        format!("{url}?sync=every")
    } else {
        url.to_owned()
    }
}

/// Splits `ws://user:pass@host:port` into the URL without credentials and the credentials.
fn split_credentials(url: &str) -> (String, Option<(String, String)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_owned(), None);
    };
    if !matches!(scheme, "ws" | "wss" | "http" | "https") {
        return (url.to_owned(), None);
    }
    match rest.split_once('@') {
        Some((userinfo, host)) => {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            (
                format!("{scheme}://{host}"),
                Some((user.to_owned(), pass.to_owned())),
            )
        }
        None => (url.to_owned(), None),
    }
}

/// The URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    match split_credentials(url) {
        (endpoint, Some((user, _))) => endpoint.replacen("://", &format!("://{user}:***@"), 1),
        (endpoint, None) => endpoint,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            with_sync_mode("surrealkv://data/db"),
            "surrealkv://data/db?sync=every"
        );
        assert_eq!(
            with_sync_mode("surrealkv://d?sync=1s"),
            "surrealkv://d?sync=1s"
        );
        assert_eq!(with_sync_mode("mem://"), "mem://");
        assert_eq!(
            split_credentials("ws://root:pw@db:8000"),
            ("ws://db:8000".into(), Some(("root".into(), "pw".into())))
        );
        assert_eq!(split_credentials("ws://db:8000").1, None);
        assert_eq!(redact("ws://root:pw@db:8000"), "ws://root:***@db:8000");
    }
}
