//! Which recognition workers run, and the meeting point of a frame the hub admitted with the
//! result a worker published for it. Either may come first: a frame waits for its result (the
//! caller bounds the wait with the worker deadline), and a result whose frame the hub has not
//! dispatched yet is parked, a bounded number for a bounded time.

use std::collections::{HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Results parked before their frame, at most (the oldest goes first).
pub const EARLY_RESULTS: usize = 256;
/// How long a parked result waits for its frame.
pub const EARLY_RESULT_TTL: Duration = Duration::from_secs(120);

/// What happened to a delivered result.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery<W, R> {
    /// Its frame waited: hand the result to this waiter.
    Waiter(W, R),
    /// No frame waits yet: parked. `evicted` older parked results had to go.
    Parked {
        /// Parked results dropped to make room (or expired).
        evicted: usize,
    },
}

/// What [`ResultBook::expect`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Expect<W, R> {
    /// No result yet: the waiter waits.
    Waiting,
    /// The result came first: here it is, with the waiter (unused).
    Ready(W, R),
}

/// The registry, generic over the waiter `W` (a reply channel) and the result `R`.
#[derive(Debug)]
pub struct ResultBook<W, R> {
    online: HashSet<String>,
    waiting: HashMap<Uuid, W>,
    early: HashMap<Uuid, (Instant, R)>,
    early_order: VecDeque<Uuid>,
}

impl<W, R> Default for ResultBook<W, R> {
    fn default() -> Self {
        ResultBook {
            online: HashSet::new(),
            waiting: HashMap::new(),
            early: HashMap::new(),
            early_order: VecDeque::new(),
        }
    }
}

impl<W, R> ResultBook<W, R> {
    /// Records a worker's presence.
    pub fn presence(&mut self, worker: &str, online: bool) {
        if online {
            self.online.insert(worker.to_owned());
        } else {
            self.online.remove(worker);
        }
    }

    /// Workers online now.
    pub fn online(&self) -> usize {
        self.online.len()
    }

    /// The frame `id` was dispatched: its parked result if one came first, or the waiter
    /// now waits for it.
    pub fn expect(&mut self, id: Uuid, waiter: W) -> Expect<W, R> {
        if let Some((_, result)) = self.early.remove(&id) {
            self.early_order.retain(|e| *e != id);
            return Expect::Ready(waiter, result);
        }
        self.waiting.insert(id, waiter);
        Expect::Waiting
    }

    /// The frame `id` stops waiting (deadline passed, or recognised elsewhere).
    pub fn give_up(&mut self, id: Uuid) {
        self.waiting.remove(&id);
    }

    /// A result for frame `id` arrived at `now`.
    pub fn deliver(&mut self, id: Uuid, result: R, now: Instant) -> Delivery<W, R> {
        if let Some(waiter) = self.waiting.remove(&id) {
            return Delivery::Waiter(waiter, result);
        }
        let mut evicted = 0;
        while let Some(oldest) = self.early_order.front().copied() {
            let expired = self
                .early
                .get(&oldest)
                .is_none_or(|(at, _)| now.duration_since(*at) > EARLY_RESULT_TTL);
            if !expired && self.early.len() < EARLY_RESULTS {
                break;
            }
            self.early_order.pop_front();
            if self.early.remove(&oldest).is_some() {
                evicted += 1;
            }
        }
        if self.early.insert(id, (now, result)).is_none() {
            self.early_order.push_back(id);
        }
        Delivery::Parked { evicted }
    }

    /// Frames waiting for results now.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Results parked now.
    pub fn parked(&self) -> usize {
        self.early.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Book = ResultBook<&'static str, u32>;

    #[test]
    fn a_result_meets_its_waiting_frame_once() {
        let mut book = Book::default();
        let id = Uuid::now_v7();
        assert_eq!(book.expect(id, "w"), Expect::Waiting);
        assert_eq!(
            book.deliver(id, 7, Instant::now()),
            Delivery::Waiter("w", 7)
        );
        assert_eq!(book.waiting(), 0);
        // A second result for the same frame (a redelivery) is parked, not handed twice.
        assert_eq!(
            book.deliver(id, 7, Instant::now()),
            Delivery::Parked { evicted: 0 }
        );
    }

    #[test]
    fn a_result_that_comes_first_is_parked_until_its_frame() {
        let mut book = Book::default();
        let id = Uuid::now_v7();
        assert_eq!(
            book.deliver(id, 3, Instant::now()),
            Delivery::Parked { evicted: 0 }
        );
        assert_eq!(book.expect(id, "w"), Expect::Ready("w", 3));
        assert_eq!(book.parked(), 0);
        assert_eq!(book.waiting(), 0);
    }

    #[test]
    fn a_frame_given_up_gets_no_result() {
        let mut book = Book::default();
        let id = Uuid::now_v7();
        assert_eq!(book.expect(id, "w"), Expect::Waiting);
        book.give_up(id);
        assert!(matches!(
            book.deliver(id, 1, Instant::now()),
            Delivery::Parked { .. }
        ));
    }

    #[test]
    fn parked_results_are_bounded_and_expire() {
        let mut book = Book::default();
        let start = Instant::now();
        for i in 0..EARLY_RESULTS {
            book.deliver(Uuid::now_v7(), i as u32, start);
        }
        assert_eq!(book.parked(), EARLY_RESULTS);
        assert_eq!(
            book.deliver(Uuid::now_v7(), 0, start),
            Delivery::Parked { evicted: 1 }
        );
        assert_eq!(book.parked(), EARLY_RESULTS);
        let later = start + EARLY_RESULT_TTL + Duration::from_secs(1);
        assert_eq!(
            book.deliver(Uuid::now_v7(), 0, later),
            Delivery::Parked {
                evicted: EARLY_RESULTS
            }
        );
        assert_eq!(book.parked(), 1);
    }

    #[test]
    fn presence_counts_workers_online() {
        let mut book = Book::default();
        book.presence("1", true);
        book.presence("2", true);
        book.presence("1", true);
        assert_eq!(book.online(), 2);
        book.presence("1", false);
        assert_eq!(book.online(), 1);
    }
}
