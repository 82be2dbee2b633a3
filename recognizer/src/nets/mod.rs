//! The four face-api networks on burn.

pub mod depthwise;
pub mod fused;
pub mod landmarks;
pub mod ops;
pub mod recognition;
pub mod ssd;
pub mod tiny;
