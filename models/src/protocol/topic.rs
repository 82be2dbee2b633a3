//! Topic names of protocol v1.

use std::fmt;

use super::{ProtocolError, is_valid_id};

/// Prefix of every v1 topic.
pub const TOPIC_ROOT: &str = "cavs/v1";
/// Filter matching every device's frame topic.
pub const FRAMES_FILTER: &str = "cavs/v1/classrooms/+/devices/+/frames";
/// Filter matching every device's retained status topic.
pub const STATUS_FILTER: &str = "cavs/v1/devices/+/status";
/// Filter matching every device's heartbeat topic.
pub const HEARTBEAT_FILTER: &str = "cavs/v1/devices/+/heartbeat";
/// Filter matching every classroom's attendance events.
pub const EVENTS_FILTER: &str = "cavs/v1/classrooms/+/events";

/// A parsed v1 topic. `Display` renders the topic string; [`Topic::parse`] reads one back.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Topic {
    /// `cavs/v1/classrooms/{classroom}/devices/{device}/frames`: signed frame envelopes.
    Frames {
        /// Classroom id.
        classroom: String,
        /// Device id.
        device: String,
    },
    /// `cavs/v1/devices/{device}/status`: retained status JSON.
    Status {
        /// Device id.
        device: String,
    },
    /// `cavs/v1/devices/{device}/heartbeat`: heartbeat JSON.
    Heartbeat {
        /// Device id.
        device: String,
    },
    /// `cavs/v1/devices/{device}/config`: retained device configuration JSON.
    Config {
        /// Device id.
        device: String,
    },
    /// `cavs/v1/devices/{device}/acks`: the hub's end-to-end frame acknowledgements
    /// ([`FrameAck`](super::FrameAck)), published once a frame's outcome is committed.
    Acks {
        /// Device id.
        device: String,
    },
    /// `cavs/v1/classrooms/{classroom}/events`: attendance events.
    Events {
        /// Classroom id.
        classroom: String,
    },
}

impl Topic {
    /// Frame topic of `device` in `classroom`.
    pub fn frames(classroom: impl Into<String>, device: impl Into<String>) -> Self {
        Topic::Frames {
            classroom: classroom.into(),
            device: device.into(),
        }
    }

    /// Status topic of `device`.
    pub fn status(device: impl Into<String>) -> Self {
        Topic::Status {
            device: device.into(),
        }
    }

    /// Heartbeat topic of `device`.
    pub fn heartbeat(device: impl Into<String>) -> Self {
        Topic::Heartbeat {
            device: device.into(),
        }
    }

    /// Config topic of `device`.
    pub fn config(device: impl Into<String>) -> Self {
        Topic::Config {
            device: device.into(),
        }
    }

    /// Acknowledgement topic of `device`.
    pub fn acks(device: impl Into<String>) -> Self {
        Topic::Acks {
            device: device.into(),
        }
    }

    /// Events topic of `classroom`.
    pub fn events(classroom: impl Into<String>) -> Self {
        Topic::Events {
            classroom: classroom.into(),
        }
    }

    /// The device this topic belongs to, if any.
    pub fn device(&self) -> Option<&str> {
        match self {
            Topic::Frames { device, .. }
            | Topic::Status { device }
            | Topic::Heartbeat { device }
            | Topic::Config { device }
            | Topic::Acks { device } => Some(device),
            Topic::Events { .. } => None,
        }
    }

    /// Parses a topic string; ids must satisfy [`is_valid_id`].
    pub fn parse(topic: &str) -> Result<Self, ProtocolError> {
        let unknown = || ProtocolError::UnknownTopic(topic.to_owned());
        let rest = topic
            .strip_prefix(TOPIC_ROOT)
            .and_then(|rest| rest.strip_prefix('/'))
            .ok_or_else(unknown)?;
        let parts: Vec<&str> = rest.split('/').collect();
        let id = |s: &str| {
            if is_valid_id(s) {
                Ok(s.to_owned())
            } else {
                Err(ProtocolError::InvalidId(s.to_owned()))
            }
        };
        match parts.as_slice() {
            ["classrooms", classroom, "devices", device, "frames"] => Ok(Topic::Frames {
                classroom: id(classroom)?,
                device: id(device)?,
            }),
            ["classrooms", classroom, "events"] => Ok(Topic::Events {
                classroom: id(classroom)?,
            }),
            ["devices", device, "status"] => Ok(Topic::Status {
                device: id(device)?,
            }),
            ["devices", device, "heartbeat"] => Ok(Topic::Heartbeat {
                device: id(device)?,
            }),
            ["devices", device, "config"] => Ok(Topic::Config {
                device: id(device)?,
            }),
            ["devices", device, "acks"] => Ok(Topic::Acks {
                device: id(device)?,
            }),
            _ => Err(unknown()),
        }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Topic::Frames { classroom, device } => {
                write!(
                    f,
                    "{TOPIC_ROOT}/classrooms/{classroom}/devices/{device}/frames"
                )
            }
            Topic::Status { device } => write!(f, "{TOPIC_ROOT}/devices/{device}/status"),
            Topic::Heartbeat { device } => write!(f, "{TOPIC_ROOT}/devices/{device}/heartbeat"),
            Topic::Config { device } => write!(f, "{TOPIC_ROOT}/devices/{device}/config"),
            Topic::Acks { device } => write!(f, "{TOPIC_ROOT}/devices/{device}/acks"),
            Topic::Events { classroom } => write!(f, "{TOPIC_ROOT}/classrooms/{classroom}/events"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_topic_round_trips() {
        for topic in [
            Topic::frames("room-101", "cam-1"),
            Topic::status("cam-1"),
            Topic::heartbeat("cam.1"),
            Topic::config("cam_1"),
            Topic::acks("cam-1"),
            Topic::events("room-101"),
        ] {
            assert_eq!(Topic::parse(&topic.to_string()), Ok(topic));
        }
        assert_eq!(
            Topic::frames("r1", "d1").to_string(),
            "cavs/v1/classrooms/r1/devices/d1/frames"
        );
        assert_eq!(Topic::status("d1").to_string(), "cavs/v1/devices/d1/status");
    }

    #[test]
    fn foreign_and_malformed_topics_are_refused() {
        for bad in [
            "",
            "cavs/v2/devices/d1/status",
            "cavs/v1/devices/d1",
            "cavs/v1/devices/d1/status/extra",
            "cavs/v1devices/d1/status",
            "other/v1/devices/d1/status",
        ] {
            assert!(
                matches!(Topic::parse(bad), Err(ProtocolError::UnknownTopic(_))),
                "{bad}"
            );
        }
        assert_eq!(
            Topic::parse("cavs/v1/devices/d+1/status"),
            Err(ProtocolError::InvalidId("d+1".into()))
        );
        assert_eq!(
            Topic::parse("cavs/v1/devices//status"),
            Err(ProtocolError::InvalidId(String::new()))
        );
    }

    #[test]
    fn device_of_topic() {
        assert_eq!(Topic::frames("r", "d").device(), Some("d"));
        assert_eq!(Topic::events("r").device(), None);
    }
}
