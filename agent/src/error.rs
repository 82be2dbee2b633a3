//! The agent library's error type.

/// Why the agent could not start, capture, store or publish.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The frame source could not be opened or read.
    #[error(transparent)]
    Source(#[from] crate::source::SourceError),
    /// The offline spool failed.
    #[error(transparent)]
    Spool(#[from] crate::spool::SpoolError),
    /// An image could not be encoded.
    #[error("encoding a JPEG failed: {0}")]
    Encode(#[from] image::ImageError),
    /// The broker URL is not `mqtt://HOST[:PORT]` or `mqtts://HOST[:PORT]`.
    #[error("bad broker url `{url}`: {reason}")]
    BrokerUrl {
        /// The URL as configured.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The CA file for `mqtts://` cannot be used.
    #[error("TLS CA file {path}: {reason}")]
    Tls {
        /// The file as configured.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The broker refused or dropped the connection, or did not answer in time.
    #[error("broker: {0}")]
    Broker(String),
    /// An encoded frame is larger than the broker accepts.
    #[error("frame of {0} bytes exceeds the {max}-byte limit; lower the resolution or JPEG quality", max = crate::MAX_FRAME_BYTES)]
    FrameTooLarge(usize),
    /// A background task failed.
    #[error("internal task failed: {0}")]
    Task(String),
}
