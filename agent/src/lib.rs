//! The CAVS classroom camera agent as a library: the `cavs-agent` binary is a thin CLI over it,
//! and the integration tests drive it in-process against a real broker.
//!
//! A frame's way through the agent:
//! [`source`] (camera, directory, file or synthetic) → [`pipeline`] (fit to the configured
//! resolution, [`gate`] skips near-identical frames, JPEG encode, sign, envelope) → [`spool`]
//! (written to disk before it is published) → [`runner`] (publishes QoS 1 over MQTT, paced, and
//! removes the frame from the spool only on the hub's final ack; the decisions are in
//! [`delivery`]). [`link`] builds the MQTT options and
//! payloads (credentials, last will, status, heartbeat); [`live`] holds the settings the hub may
//! change through the retained config topic; [`send`] is the one-shot `cavs-agent send`.

pub mod broker;
pub mod delivery;
pub mod error;
pub mod gate;
pub mod link;
pub mod live;
pub mod pipeline;
pub mod runner;
pub mod send;
pub mod source;
pub mod spool;

pub use error::AgentError;
pub use runner::{RunStats, run};
pub use send::send_images;

/// The agent's version, published in its `online` status.
pub const AGENT_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Largest frame envelope the agent publishes, in bytes: the hub's broker accepts payloads of up
/// to 8 MiB, and a little room is left for the topic and packet header.
pub const MAX_FRAME_BYTES: usize = 8 * 1024 * 1024 - 4096;
