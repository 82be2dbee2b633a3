//! The FrameRouter's decisions, as plain structs without I/O (the router actor only drives
//! them): which frames are admitted ([`admission`]), how fast a device may send ([`rate`]), which
//! frame ids were seen ([`dedup`]), what waits and what is shed ([`queues`]), what every drop
//! tells the device ([`drops`]), and where recognition workers' results meet their frames
//! ([`results`]).

pub mod admission;
pub mod dedup;
pub mod drops;
pub mod inbox;
pub mod queues;
pub mod rate;
pub mod results;

pub use admission::{Admission, AdmissionLimits, Admitted, KnownDevice, MAX_REPLAY_AGE, Refusal};
pub use dedup::{FrameIds, Seen};
pub use drops::{DropReason, RETRY_AFTER};
pub use inbox::{InboxBudget, InboxTicket};
pub use queues::{FrameQueues, Offer, Queued};
pub use rate::RateLimiter;
pub use results::{Delivery, Expect, ResultBook};
