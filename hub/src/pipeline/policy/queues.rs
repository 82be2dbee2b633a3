//! In-flight slots and per-classroom waiting queues. A frame holds its slot from dispatch until
//! its outcome is committed; past `max_queued` waiting frames the oldest frame of the newcomer's
//! classroom (or of the longest queue) is shed, so one busy classroom cannot starve the others.

use std::collections::{HashMap, VecDeque};

/// What the queues hold: anything that knows its classroom and arrival order.
pub trait Queued {
    /// The classroom whose queue it waits in.
    fn classroom(&self) -> &str;
    /// Arrival order (smaller is older).
    fn arrival(&self) -> u64;
}

/// What became of an offered frame.
#[derive(Debug, PartialEq)]
pub enum Offer<T> {
    /// A slot was free: dispatch it now (the slot is taken).
    Dispatch(T),
    /// It waits.
    Queued,
    /// It waits, and this older frame was shed to make room.
    Shed(T),
}

/// Slots and queues.
#[derive(Debug)]
pub struct FrameQueues<T> {
    queues: HashMap<String, VecDeque<T>>,
    queued: usize,
    inflight: usize,
    max_inflight: usize,
    max_queued: usize,
}

impl<T: Queued> FrameQueues<T> {
    /// `max_inflight` slots (at least 1), `max_queued` waiting frames (at least 1).
    pub fn new(max_inflight: usize, max_queued: usize) -> Self {
        FrameQueues {
            queues: HashMap::new(),
            queued: 0,
            inflight: 0,
            max_inflight: max_inflight.max(1),
            max_queued: max_queued.max(1),
        }
    }

    /// Offers a new frame.
    pub fn offer(&mut self, item: T) -> Offer<T> {
        if self.inflight < self.max_inflight && self.queued == 0 {
            self.inflight += 1;
            return Offer::Dispatch(item);
        }
        let classroom = item.classroom().to_owned();
        self.queues
            .entry(classroom.clone())
            .or_default()
            .push_back(item);
        self.queued += 1;
        if self.queued <= self.max_queued {
            return Offer::Queued;
        }
        match self.shed(&classroom) {
            Some(victim) => Offer::Shed(victim),
            None => Offer::Queued,
        }
    }

    fn shed(&mut self, classroom: &str) -> Option<T> {
        let victim = match self.queues.get(classroom) {
            Some(queue) if queue.len() > 1 => classroom.to_owned(),
            // The newcomer is alone: shed the oldest frame of the longest other queue.
            _ => self
                .queues
                .iter()
                .filter(|(c, q)| c.as_str() != classroom && !q.is_empty())
                .max_by_key(|(_, q)| {
                    let oldest = q.front().map_or(u64::MAX, Queued::arrival);
                    (q.len(), std::cmp::Reverse(oldest))
                })
                .map(|(c, _)| c.clone())
                .unwrap_or_else(|| classroom.to_owned()),
        };
        let item = self.queues.get_mut(&victim)?.pop_front()?;
        self.queued -= 1;
        Some(item)
    }

    /// A dispatched frame's outcome is committed: its slot is free.
    pub fn complete(&mut self) {
        self.inflight = self.inflight.saturating_sub(1);
    }

    /// The oldest waiting frame (across classrooms) if a slot is free; the slot is taken.
    pub fn take_next(&mut self) -> Option<T> {
        if self.inflight >= self.max_inflight || self.queued == 0 {
            return None;
        }
        let classroom = self
            .queues
            .iter()
            .filter_map(|(c, q)| q.front().map(|item| (c, item.arrival())))
            .min_by_key(|(_, arrival)| *arrival)
            .map(|(c, _)| c.clone())?;
        let queue = self.queues.get_mut(&classroom)?;
        let item = queue.pop_front()?;
        if queue.is_empty() {
            self.queues.remove(&classroom);
        }
        self.queued -= 1;
        self.inflight += 1;
        Some(item)
    }

    /// Takes every waiting frame (the hub is stopping); slots are untouched.
    pub fn drain_waiting(&mut self) -> Vec<T> {
        self.queued = 0;
        self.queues.drain().flat_map(|(_, q)| q).collect()
    }

    /// Frames holding a slot.
    pub fn inflight(&self) -> usize {
        self.inflight
    }

    /// Frames waiting.
    pub fn queued(&self) -> usize {
        self.queued
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Job(&'static str, u64);

    impl Queued for Job {
        fn classroom(&self) -> &str {
            self.0
        }
        fn arrival(&self) -> u64 {
            self.1
        }
    }

    #[test]
    fn frames_dispatch_until_the_slots_are_full_then_wait_in_order() {
        let mut q = FrameQueues::new(2, 10);
        assert_eq!(q.offer(Job("a", 1)), Offer::Dispatch(Job("a", 1)));
        assert_eq!(q.offer(Job("a", 2)), Offer::Dispatch(Job("a", 2)));
        assert_eq!(q.offer(Job("b", 3)), Offer::Queued);
        assert_eq!(q.offer(Job("a", 4)), Offer::Queued);
        assert_eq!(q.take_next(), None, "no slot is free");
        q.complete();
        assert_eq!(q.take_next(), Some(Job("b", 3)), "oldest across classrooms");
        q.complete();
        assert_eq!(q.take_next(), Some(Job("a", 4)));
        assert_eq!((q.inflight(), q.queued()), (2, 0));
    }

    #[test]
    fn a_full_queue_sheds_the_oldest_of_the_busy_classroom() {
        let mut q = FrameQueues::new(1, 2);
        assert!(matches!(q.offer(Job("a", 1)), Offer::Dispatch(_)));
        assert_eq!(q.offer(Job("a", 2)), Offer::Queued);
        assert_eq!(q.offer(Job("b", 3)), Offer::Queued);
        assert_eq!(q.offer(Job("a", 4)), Offer::Shed(Job("a", 2)));
        // A classroom with only the newcomer waiting sheds from the longest other queue (the
        // oldest frame on a tie) instead.
        assert_eq!(q.offer(Job("c", 5)), Offer::Shed(Job("b", 3)));
        assert_eq!(q.offer(Job("a", 6)), Offer::Shed(Job("a", 4)));
        assert_eq!(q.queued(), 2);
        let waiting = q.drain_waiting();
        assert_eq!(waiting.len(), 2);
        assert_eq!(q.queued(), 0);
        assert_eq!(q.inflight(), 1);
    }
}
