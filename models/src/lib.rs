//! CAVS domain types, the MQTT wire protocol and (feature `store`, on by default) the SurrealDB
//! schema and repositories.
//!
//! This crate does no network I/O of its own besides the database client and knows no actor;
//! the agent uses it with `default-features = false` (no SurrealDB).

pub mod domain;
pub mod likeness;
#[cfg(feature = "store")]
pub mod pipeline;
pub mod protocol;
pub mod retention;
pub mod scope;
#[cfg(feature = "store")]
pub mod sealing;
pub mod session_window;
#[cfg(feature = "store")]
pub mod store;
pub mod throttle;

pub use domain::*;
pub use scope::{ClassroomScope, UserUpdate};
pub use session_window::session_window_start;
