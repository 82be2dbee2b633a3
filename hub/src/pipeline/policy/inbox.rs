//! The byte budget of the bridge → router mailbox. The mailbox also has a message bound; this one
//! keeps a flood of large publishes (8 MiB each) from holding gigabytes between the broker and
//! the router. The bridge takes a [`InboxTicket`] per publish; the router drops it once it has
//! handled the frame, which returns the bytes.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Bytes in transit from the bridge to the router, at most `limit`.
#[derive(Debug, Clone)]
pub struct InboxBudget {
    used: Arc<AtomicUsize>,
    limit: usize,
}

/// Bytes of one publish in transit; returned to the budget when dropped.
#[derive(Debug)]
pub struct InboxTicket {
    used: Arc<AtomicUsize>,
    bytes: usize,
}

impl InboxBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        InboxBudget {
            used: Arc::new(AtomicUsize::new(0)),
            limit,
        }
    }

    /// Takes `bytes` from the budget; `None` when they do not fit. A single publish larger than
    /// the whole budget still passes when nothing else is in transit.
    pub fn take(&self, bytes: usize) -> Option<InboxTicket> {
        let mut used = self.used.load(Ordering::Acquire);
        loop {
            if used > 0 && used.saturating_add(bytes) > self.limit {
                return None;
            }
            match self.used.compare_exchange_weak(
                used,
                used + bytes,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    return Some(InboxTicket {
                        used: Arc::clone(&self.used),
                        bytes,
                    });
                }
                Err(now) => used = now,
            }
        }
    }

    /// Bytes in transit now.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

impl Drop for InboxTicket {
    fn drop(&mut self) {
        self.used.fetch_sub(self.bytes, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publishes_pass_until_the_budget_is_spent_and_tickets_return_it() {
        let budget = InboxBudget::new(100);
        let a = budget.take(60).expect("fits");
        assert!(budget.take(50).is_none(), "over budget");
        let b = budget.take(40).expect("fits exactly");
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        drop(b);
        let huge = budget.take(500).expect("alone, even a huge publish passes");
        assert!(budget.take(1).is_none());
        drop(huge);
        assert_eq!(budget.used(), 0);
    }
}
