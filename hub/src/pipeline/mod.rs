//! The actor pipeline that turns MQTT frames (and REST captures) into attendance records:
//!
//! `BrokerBridge → FrameRouter → RecognizerPool → AttendanceWriter`, with `DeviceHealth`
//! beside it. See `ARCHITECTURE.md` for the roles; each actor lives in its own module.

pub mod bridge;
pub mod gallery;
pub mod health;
pub mod messages;
pub mod metrics;
pub mod pool;
pub mod router;
pub mod service;
pub mod writer;

pub use service::{HubPipeline, PipelineParts};
