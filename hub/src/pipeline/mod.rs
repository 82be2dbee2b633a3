//! The actor pipeline that turns MQTT frames (and REST captures) into attendance records:
//!
//! `BrokerBridge → FrameRouter → RecognizerPool → AttendanceWriter`, with `DeviceHealth`
//! beside it and the frame acknowledgements going back to devices ([`acks`]). See
//! `ARCHITECTURE.md` for the roles; each actor lives in its own module, the decisions they drive
//! in [`policy`], [`session`] and [`lifecycle`].

pub mod acks;
pub mod bridge;
pub mod feed;
pub mod gallery;
pub mod health;
pub mod health_writes;
pub mod lifecycle;
pub mod messages;
pub mod metrics;
pub mod policy;
pub mod pool;
pub mod remote;
pub mod router;
pub mod service;
pub mod session;
pub mod writer;

pub use service::{HubPipeline, PipelineParts};
