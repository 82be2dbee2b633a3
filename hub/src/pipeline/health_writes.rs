//! Ordering of one device's health writes: at most one store write (and retained status
//! publish) in flight per device; while it runs, later writes coalesce into the newest, so they
//! land in the order they were decided and a slow store never piles them up.

use cavs_models::protocol::DeviceState;
use chrono::{DateTime, Utc};

/// One health write: the state to store and, when the hub decides it, the status to publish.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthWrite {
    /// State to store.
    pub state: DeviceState,
    /// `last_seen` to store, if heard from now.
    pub seen_at: Option<DateTime<Utc>>,
    /// Retained status to publish (the reason, and the last time the device was heard from).
    pub publish: Option<StatusNote>,
}

/// A status the hub publishes on the device's retained topic.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusNote {
    /// Why, if the hub says.
    pub reason: Option<String>,
    /// When the device was last heard from.
    pub last_seen: Option<DateTime<Utc>>,
}

impl HealthWrite {
    /// `newer` replacing `self` (not yet written): the newest state wins; a `last_seen` or a
    /// status to publish of the same state is kept.
    fn merged(self, newer: HealthWrite) -> HealthWrite {
        let same_state = self.state == newer.state;
        HealthWrite {
            seen_at: newer.seen_at.or(self.seen_at.filter(|_| same_state)),
            publish: newer.publish.or(self.publish.filter(|_| same_state)),
            state: newer.state,
        }
    }
}

/// The write in flight and the one waiting.
#[derive(Debug, Default)]
pub struct WriteSlot {
    busy: bool,
    pending: Option<HealthWrite>,
}

impl WriteSlot {
    /// Offers a write: returned when it should start now, else kept (merged) until the one in
    /// flight is done.
    pub fn offer(&mut self, write: HealthWrite) -> Option<HealthWrite> {
        if !self.busy {
            self.busy = true;
            return Some(write);
        }
        self.pending = Some(match self.pending.take() {
            Some(older) => older.merged(write),
            None => write,
        });
        None
    }

    /// The write in flight is done: the next one to start, if any.
    pub fn finished(&mut self) -> Option<HealthWrite> {
        let next = self.pending.take();
        self.busy = next.is_some();
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(state: DeviceState, seen: bool, reason: Option<&str>) -> HealthWrite {
        HealthWrite {
            state,
            seen_at: seen.then(Utc::now),
            publish: reason.map(|r| StatusNote {
                reason: Some(r.into()),
                last_seen: None,
            }),
        }
    }

    #[test]
    fn one_write_at_a_time_and_the_newest_waiting_wins() {
        let mut slot = WriteSlot::default();
        let first = write(DeviceState::Online, true, None);
        assert_eq!(slot.offer(first.clone()), Some(first));
        assert_eq!(
            slot.offer(write(
                DeviceState::Stale,
                false,
                Some("missed 3 heartbeats")
            )),
            None
        );
        assert_eq!(slot.offer(write(DeviceState::Offline, false, None)), None);
        let next = slot.finished().expect("the waiting write");
        assert_eq!(next.state, DeviceState::Offline, "latest state");
        assert_eq!(
            next.publish, None,
            "a status of an older state is not published"
        );
        assert_eq!(slot.finished(), None);
        let again = write(DeviceState::Online, false, None);
        assert_eq!(slot.offer(again.clone()), Some(again), "idle again");
    }

    #[test]
    fn coalescing_keeps_last_seen_and_the_status_of_the_same_state() {
        let mut slot = WriteSlot::default();
        slot.offer(write(DeviceState::Stale, false, None));
        slot.offer(write(DeviceState::Online, true, Some("heard from again")));
        slot.offer(write(DeviceState::Online, false, None));
        let next = slot.finished().expect("waiting");
        assert_eq!(next.state, DeviceState::Online);
        assert!(next.seen_at.is_some());
        assert_eq!(
            next.publish.and_then(|p| p.reason).as_deref(),
            Some("heard from again")
        );
    }
}
