//! Frame ids the router has seen: in progress (admitted, outcome not yet committed) or done
//! (committed). Seeded from the store's `frame` markers at start-up, so a frame sent again after
//! a restart is known; the writer's transaction stays the authority for ids evicted from here.

use std::collections::{HashMap, VecDeque};

use uuid::Uuid;

/// What the router knows of a frame id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Never seen (now marked in progress).
    New,
    /// Admitted earlier, outcome not committed yet: its ack is still to come.
    InProgress,
    /// Committed before.
    Done,
}

/// In-progress and done frame ids, the done ones bounded (oldest forgotten first).
#[derive(Debug)]
pub struct FrameIds {
    states: HashMap<Uuid, bool>,
    done_order: VecDeque<Uuid>,
    capacity: usize,
}

impl FrameIds {
    /// Remembers up to `capacity` done ids.
    pub fn new(capacity: usize) -> Self {
        FrameIds {
            states: HashMap::new(),
            done_order: VecDeque::new(),
            capacity: capacity.max(1),
        }
    }

    /// Looks `id` up, marking it in progress when new.
    pub fn begin(&mut self, id: Uuid) -> Seen {
        match self.states.get(&id) {
            Some(true) => Seen::Done,
            Some(false) => Seen::InProgress,
            None => {
                self.states.insert(id, false);
                Seen::New
            }
        }
    }

    /// The frame's outcome is committed: later copies are duplicates.
    pub fn done(&mut self, id: Uuid) {
        if self.states.insert(id, true) != Some(true) {
            self.done_order.push_back(id);
        }
        while self.done_order.len() > self.capacity {
            if let Some(old) = self.done_order.pop_front() {
                self.states.remove(&old);
            }
        }
    }

    /// The frame was not recorded (shed, over the rate, store failure): a copy sent again is new.
    pub fn abandon(&mut self, id: Uuid) {
        if self.states.get(&id) == Some(&false) {
            self.states.remove(&id);
        }
    }

    /// Ids in progress now.
    pub fn in_progress(&self) -> usize {
        self.states.len() - self.done_order.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_frame_is_new_then_in_progress_then_done() {
        let mut ids = FrameIds::new(10);
        let id = Uuid::now_v7();
        assert_eq!(ids.begin(id), Seen::New);
        assert_eq!(ids.begin(id), Seen::InProgress);
        assert_eq!(ids.in_progress(), 1);
        ids.done(id);
        assert_eq!(ids.begin(id), Seen::Done);
        assert_eq!(ids.in_progress(), 0);
    }

    #[test]
    fn an_abandoned_frame_is_new_again_but_a_done_one_stays_done() {
        let mut ids = FrameIds::new(10);
        let shed = Uuid::now_v7();
        assert_eq!(ids.begin(shed), Seen::New);
        ids.abandon(shed);
        assert_eq!(ids.begin(shed), Seen::New);
        let recorded = Uuid::now_v7();
        ids.done(recorded);
        ids.abandon(recorded);
        assert_eq!(ids.begin(recorded), Seen::Done);
    }

    #[test]
    fn the_oldest_done_ids_are_forgotten_past_capacity() {
        let mut ids = FrameIds::new(2);
        let all: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        for id in &all {
            ids.done(*id);
        }
        assert_eq!(ids.begin(all[0]), Seen::New, "evicted");
        assert_eq!(ids.begin(all[2]), Seen::Done);
    }
}
