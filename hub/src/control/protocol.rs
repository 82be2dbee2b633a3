//! What the admin commands send to the running hub, and what it answers.

use serde::{Deserialize, Serialize};

/// The longest request line the hub reads (a password and a few names fit many times over).
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// One admin command, as `cavs-hub` would run it against the store itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum ControlRequest {
    /// `cavs-hub user create`.
    CreateUser {
        /// Login name.
        username: String,
        /// Plain-text password (hashed by the store).
        password: String,
        /// `admin` or `teacher`.
        role: String,
        /// Classrooms of a teacher.
        classrooms: Vec<String>,
    },
    /// `cavs-hub enroll DIR` (the hub reads the folder: same machine, same account).
    Enroll {
        /// Absolute path of the folder.
        dir: String,
    },
    /// `cavs-hub migrate`.
    Migrate,
    /// `cavs-hub purge [--dry-run]`: the retention schedule, now.
    Purge {
        /// Only count what would go.
        dry_run: bool,
    },
    /// `cavs-hub broker sync`: reconcile the external broker's accounts with the database.
    BrokerSync,
    /// `cavs-hub broker add-worker --id N`: create (or rotate) a worker's broker account.
    AddWorker {
        /// The worker's id.
        id: String,
    },
}

/// The hub's answer: what the command printed, or why it failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ControlReply {
    /// True when the command succeeded.
    pub ok: bool,
    /// The command's output (success) or error message (failure).
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_travel_as_tagged_json() {
        let request = ControlRequest::CreateUser {
            username: "ada".into(),
            password: "pw".into(),
            role: "admin".into(),
            classrooms: vec!["room-1".into()],
        };
        let line = serde_json::to_string(&request).expect("encodes");
        assert!(line.starts_with(r#"{"command":"create_user""#), "{line}");
        assert_eq!(
            serde_json::from_str::<ControlRequest>(&line).expect("decodes"),
            request
        );
        assert_eq!(
            serde_json::from_str::<ControlRequest>(r#"{"command":"migrate"}"#).expect("decodes"),
            ControlRequest::Migrate
        );
        assert!(serde_json::from_str::<ControlRequest>(r#"{"command":"drop"}"#).is_err());
    }
}
