//! Why a frame was dropped, and what the device is told: every reason is a
//! `cavs_frames_dropped_total{reason}` label and maps to one acknowledgement (or none).

use std::time::Duration;

use cavs_models::protocol::AckOutcome;

/// Why a frame was dropped: the `reason` label of `cavs_frames_dropped_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Not a valid v1 envelope.
    Malformed,
    /// Header ids differ from the topic's.
    TopicMismatch,
    /// Device not registered or without credentials.
    UnknownDevice,
    /// Device disabled by an admin.
    DeviceDisabled,
    /// Classroom differs from the device's registered one.
    WrongClassroom,
    /// Signature does not verify.
    BadSignature,
    /// Image type other than JPEG.
    UnsupportedType,
    /// Image larger than the limits.
    Oversize,
    /// Capture time too far from the hub's clock.
    ClockSkew,
    /// A frame id recorded before.
    Duplicate,
    /// A frame id still being processed (the device sent it again before its ack came).
    InProgress,
    /// Device over its frame rate.
    RateLimited,
    /// Pipeline full: oldest queued frame of the classroom dropped.
    Overloaded,
    /// The bridge's mailbox to the router was full (or over its byte budget).
    BridgeFull,
    /// The hub is stopping and takes no more frames.
    ShuttingDown,
    /// The image could not be decoded.
    Undecodable,
    /// Recognition panicked on this frame (counted in `cavs_worker_panics_total` too).
    RecognitionFailed,
    /// The store refused or failed the frame's transaction.
    StoreFailed,
}

/// How long a device waits before sending a frame again after a `retry` ack.
pub const RETRY_AFTER: Duration = Duration::from_secs(2);

impl DropReason {
    /// Label value.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::TopicMismatch => "topic_mismatch",
            DropReason::UnknownDevice => "unknown_device",
            DropReason::DeviceDisabled => "device_disabled",
            DropReason::WrongClassroom => "wrong_classroom",
            DropReason::BadSignature => "bad_signature",
            DropReason::UnsupportedType => "unsupported_type",
            DropReason::Oversize => "oversize",
            DropReason::ClockSkew => "clock_skew",
            DropReason::Duplicate => "duplicate",
            DropReason::InProgress => "in_progress",
            DropReason::RateLimited => "rate_limited",
            DropReason::Overloaded => "overloaded",
            DropReason::BridgeFull => "bridge_full",
            DropReason::ShuttingDown => "shutting_down",
            DropReason::Undecodable => "undecodable",
            DropReason::RecognitionFailed => "recognition_failed",
            DropReason::StoreFailed => "store_failed",
        }
    }

    /// What the device is told: a final outcome for reasons re-sending cannot fix, `retry` for
    /// transient ones, nothing when the frame's own ack is still to come (in progress) or the
    /// hub cannot answer (stopping, shed before it was read).
    pub fn ack(self) -> Option<AckOutcome> {
        match self {
            DropReason::Duplicate => Some(AckOutcome::Duplicate),
            DropReason::RateLimited | DropReason::Overloaded | DropReason::StoreFailed => {
                Some(AckOutcome::Retry)
            }
            DropReason::InProgress | DropReason::BridgeFull | DropReason::ShuttingDown => None,
            DropReason::Malformed
            | DropReason::TopicMismatch
            | DropReason::UnknownDevice
            | DropReason::DeviceDisabled
            | DropReason::WrongClassroom
            | DropReason::BadSignature
            | DropReason::UnsupportedType
            | DropReason::Oversize
            | DropReason::ClockSkew
            | DropReason::Undecodable
            | DropReason::RecognitionFailed => Some(AckOutcome::Rejected),
        }
    }

    /// True for drops that are part of normal flow control (logged at debug, not warn).
    pub fn is_routine(self) -> bool {
        matches!(
            self,
            DropReason::Duplicate
                | DropReason::InProgress
                | DropReason::RateLimited
                | DropReason::Overloaded
                | DropReason::ShuttingDown
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_drops_ask_for_a_retry_and_lasting_ones_are_final() {
        for reason in [
            DropReason::RateLimited,
            DropReason::Overloaded,
            DropReason::StoreFailed,
        ] {
            assert_eq!(reason.ack(), Some(AckOutcome::Retry), "{reason:?}");
        }
        for reason in [
            DropReason::BadSignature,
            DropReason::ClockSkew,
            DropReason::Undecodable,
            DropReason::WrongClassroom,
            DropReason::RecognitionFailed,
        ] {
            assert_eq!(reason.ack(), Some(AckOutcome::Rejected), "{reason:?}");
        }
        assert_eq!(DropReason::Duplicate.ack(), Some(AckOutcome::Duplicate));
        for reason in [
            DropReason::InProgress,
            DropReason::BridgeFull,
            DropReason::ShuttingDown,
        ] {
            assert_eq!(
                reason.ack(),
                None,
                "{reason:?}: the device re-sends on its own"
            );
        }
    }
}
