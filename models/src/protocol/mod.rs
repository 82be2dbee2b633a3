//! The MQTT wire protocol, version 1: topic names, the binary frame envelope and its signature,
//! and the JSON payloads of the status, heartbeat, config, acknowledgement and event topics.
//!
//! `docs/mqtt.md` is the reference a third-party camera maker implements from; this module is
//! its executable form and is shared by the hub and the agent.

mod delivery;
mod envelope;
mod payloads;
mod signature;
mod topic;
mod work;

pub use delivery::{AckOutcome, CONFIG_MAX_FPS_KEY, FrameAck, config_payload};
pub use envelope::{
    CONTENT_TYPE_JPEG, FrameHeader, MAX_HEADER_BYTES, PROTOCOL_VERSION, decode_frame, encode_frame,
};
pub use payloads::{
    AttendanceEvent, AttendanceEventKind, DeviceConfig, DeviceState, Heartbeat, StatusPayload,
};
pub use signature::{SigningKey, sign_header, verify_header};
pub use topic::{EVENTS_FILTER, FRAMES_FILTER, HEARTBEAT_FILTER, STATUS_FILTER, TOPIC_ROOT, Topic};
pub use work::{
    MAX_RESULT_HEADER_BYTES, RESULT_VERSION, ResultFace, ResultOutcome, WORKER_CLIENT_PREFIX,
    WORKER_FRAMES_FILTER, WORKER_GROUP, WORKER_RESULTS_FILTER, WORKER_STATUS_FILTER,
    WorkerPresence, WorkerResult, WorkerState, WorkerTopic, worker_client_id, worker_results_topic,
    worker_status_topic,
};

/// Why a topic or payload is not a valid v1 message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// The topic is not one of the v1 topics.
    #[error("unknown topic `{0}`")]
    UnknownTopic(String),
    /// A topic segment (device or classroom id) holds characters outside `[A-Za-z0-9_.-]`.
    #[error("invalid id `{0}` in topic (allowed: 1-64 of A-Z a-z 0-9 _ . -)")]
    InvalidId(String),
    /// The envelope is shorter than its 4-byte header length or the length it announces.
    #[error("truncated frame envelope: {0}")]
    Truncated(String),
    /// The header JSON is larger than [`MAX_HEADER_BYTES`].
    #[error("frame header of {0} bytes exceeds the {MAX_HEADER_BYTES}-byte limit")]
    HeaderTooLarge(usize),
    /// The header is not valid JSON of the expected shape.
    #[error("malformed frame header: {0}")]
    MalformedHeader(String),
    /// The header's `v` is not [`PROTOCOL_VERSION`].
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    /// The envelope carries no image bytes.
    #[error("frame has no image bytes")]
    EmptyImage,
    /// The signature does not match the header and image.
    #[error("bad frame signature")]
    BadSignature,
    /// A JSON payload (status, heartbeat, config) could not be parsed.
    #[error("malformed {kind} payload: {reason}")]
    MalformedPayload {
        /// Which payload kind.
        kind: &'static str,
        /// The parser's message.
        reason: String,
    },
}

/// MQTT client ids with this prefix are the hub's own broker links: no remote client may use
/// one, so no device id may start with it.
pub const RESERVED_CLIENT_PREFIX: &str = "cavs-hub";

/// True when `id` is a valid device or classroom id: 1–64 characters of `[A-Za-z0-9_.-]`.
///
/// Ids appear as MQTT topic segments, so wildcards (`+`, `#`) and `/` are excluded.
pub fn is_valid_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}
