//! End-to-end delivery of spooled frames, without I/O: which frame to publish next, when, and
//! what the hub's acks (`cavs/v1/devices/{device}/acks`) mean for the spool.
//!
//! * A frame stays in the spool until the hub's ack says its outcome is final (recorded,
//!   duplicate, rejected); the broker's PUBACK only means the broker has it.
//! * At most [`Delivery::window`] frames await their ack at once; one not acknowledged within
//!   the ack timeout, or whose connection was lost, is sent again (the hub counts it once).
//! * A `retry` ack puts the frame back, to be sent after the wait the hub asked for.
//! * Sending is paced below the rate the hub admits (its retained config's `max_fps`): a
//!   backlog replayed after an outage goes out at that pace instead of in one burst.
//! * A frame whose ack timed out [`MAX_SILENT_ATTEMPTS`] times on live connections is given up
//!   (the runner deletes and counts it), so a frame the hub can never read cannot block the
//!   window for ever. Lost connections do not count: the hub being down is not the frame's fault.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use cavs_models::protocol::{AckOutcome, FrameAck};
use tokio::time::Instant;
use uuid::Uuid;

/// Frames awaiting the hub's ack at once.
pub const ACK_WINDOW: usize = 3;
/// How long a sent frame waits for its ack before it is sent again.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(60);
/// Ack timeouts (on live connections) after which a frame is given up.
pub const MAX_SILENT_ATTEMPTS: u32 = 5;
/// Fraction of the hub's advertised rate the agent sends at (room for network jitter).
pub const PACE_MARGIN: f32 = 0.8;
/// Frames per second sent before the hub's config says (the hub's default rate, 5, with margin).
pub const DEFAULT_PACE_FPS: f32 = 4.0;

/// A frame sent and not yet acknowledged.
#[derive(Debug, Clone, Copy)]
struct Awaiting {
    seq: u64,
    sent_at: Instant,
}

/// What an ack means for the spool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckEffect {
    /// Delete spool frame `seq`: its outcome is final.
    Delete {
        /// Spool sequence number.
        seq: u64,
        /// True when the hub recorded it (now or before).
        recorded: bool,
    },
    /// Keep it; it will be sent again after the hub's wait.
    Retry(u64),
    /// Not a frame of ours in flight (an ack repeated, or for a frame already given up).
    Unknown,
}

/// Delivery state of one agent.
#[derive(Debug)]
pub struct Delivery {
    awaiting: HashMap<Uuid, Awaiting>,
    by_seq: HashMap<u64, Uuid>,
    not_before: BTreeMap<u64, Instant>,
    silent_attempts: HashMap<u64, u32>,
    given_up: Vec<u64>,
    pace: Duration,
    next_send: Instant,
    window: usize,
    ack_timeout: Duration,
}

impl Delivery {
    /// Delivery with the default window, timeout and pace.
    pub fn new(now: Instant) -> Self {
        Delivery {
            awaiting: HashMap::new(),
            by_seq: HashMap::new(),
            not_before: BTreeMap::new(),
            silent_attempts: HashMap::new(),
            given_up: Vec::new(),
            pace: pace_for(DEFAULT_PACE_FPS / PACE_MARGIN),
            next_send: now,
            window: ACK_WINDOW,
            ack_timeout: ACK_TIMEOUT,
        }
    }

    /// Frames awaiting their ack at once, at most.
    pub fn window(&self) -> usize {
        self.window
    }

    /// The hub admits `max_fps` frames per second: send below it.
    pub fn set_hub_rate(&mut self, max_fps: f32) {
        if max_fps.is_finite() && max_fps > 0.0 {
            self.pace = pace_for(max_fps);
        }
    }

    /// The time between two sends.
    pub fn pace(&self) -> Duration {
        self.pace
    }

    /// The first of `spool` (sequence numbers, oldest first) to publish now, if the window, the
    /// pace and the frame's own wait allow one. Frames whose ack timed out are sent again.
    pub fn pick(&mut self, spool: impl IntoIterator<Item = u64>, now: Instant) -> Option<u64> {
        self.expire(now);
        if now < self.next_send || self.awaiting.len() >= self.window {
            return None;
        }
        spool.into_iter().find(|seq| {
            !self.by_seq.contains_key(seq)
                && !self.given_up.contains(seq)
                && self.not_before.get(seq).is_none_or(|t| *t <= now)
        })
    }

    /// Frame `seq` (`frame_id`) was handed to the MQTT client at `now`.
    pub fn sent(&mut self, seq: u64, frame_id: Uuid, now: Instant) {
        self.not_before.remove(&seq);
        self.awaiting
            .insert(frame_id, Awaiting { seq, sent_at: now });
        self.by_seq.insert(seq, frame_id);
        self.next_send = self.next_send.max(now) + self.pace;
    }

    /// Frames given up since the last call (their acks timed out too often): the caller
    /// deletes them from the spool and counts them.
    pub fn take_given_up(&mut self) -> Vec<u64> {
        let seqs = std::mem::take(&mut self.given_up);
        for seq in &seqs {
            self.silent_attempts.remove(seq);
            self.not_before.remove(seq);
        }
        seqs
    }

    /// The hub's ack `ack` arrived at `now`.
    pub fn acked(&mut self, ack: &FrameAck, now: Instant) -> AckEffect {
        let Some(awaiting) = self.awaiting.remove(&ack.frame_id) else {
            return AckEffect::Unknown;
        };
        let seq = awaiting.seq;
        self.by_seq.remove(&seq);
        self.silent_attempts.remove(&seq);
        match ack.outcome {
            AckOutcome::Retry => {
                let wait = Duration::from_millis(ack.retry_after_ms.unwrap_or(1000));
                self.not_before.insert(seq, now + wait);
                AckEffect::Retry(seq)
            }
            outcome => {
                self.not_before.remove(&seq);
                AckEffect::Delete {
                    seq,
                    recorded: matches!(outcome, AckOutcome::Recorded | AckOutcome::Duplicate),
                }
            }
        }
    }

    /// The connection was lost: acks of frames in flight will not come on it, so every one of
    /// them may be sent again on the next connection.
    pub fn connection_lost(&mut self) {
        self.awaiting.clear();
        self.by_seq.clear();
    }

    /// The frame was deleted from the spool (acknowledged, given up or dropped by the cap).
    pub fn forget(&mut self, seq: u64) {
        if let Some(id) = self.by_seq.remove(&seq) {
            self.awaiting.remove(&id);
        }
        self.not_before.remove(&seq);
        self.silent_attempts.remove(&seq);
    }

    /// Frames awaiting their ack.
    pub fn awaiting(&self) -> usize {
        self.awaiting.len()
    }

    /// When something may change without an event: an ack timing out, a retry wait ending,
    /// or (with `unsent` frames in the spool and room in the window) the next send slot.
    pub fn next_wakeup(&self, unsent: bool) -> Option<Instant> {
        let timeouts = self.awaiting.values().map(|a| a.sent_at + self.ack_timeout);
        let retries = self.not_before.values().map(|t| (*t).max(self.next_send));
        let slot = (unsent && self.awaiting.len() < self.window).then_some(self.next_send);
        timeouts.chain(retries).chain(slot).min()
    }

    fn expire(&mut self, now: Instant) {
        let timeout = self.ack_timeout;
        let expired: Vec<Uuid> = self
            .awaiting
            .iter()
            .filter(|(_, a)| a.sent_at + timeout <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in expired {
            let Some(a) = self.awaiting.remove(&id) else {
                continue;
            };
            self.by_seq.remove(&a.seq);
            let timeouts = self.silent_attempts.entry(a.seq).or_insert(0);
            *timeouts += 1;
            if *timeouts >= MAX_SILENT_ATTEMPTS {
                self.given_up.push(a.seq);
            } else {
                tracing::debug!(seq = a.seq, "no ack in time; sending the frame again");
            }
        }
    }
}

fn pace_for(hub_fps: f32) -> Duration {
    Duration::from_secs_f32(1.0 / (hub_fps * PACE_MARGIN).max(0.001))
}

#[cfg(test)]
#[path = "delivery_tests.rs"]
mod tests;
