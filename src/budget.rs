//! A budget of bytes that a producer takes before handing something to a consumer on another
//! thread, and the consumer gives back once done with it: what bounds a queue by the size of
//! what waits in it rather than by a count, so a run of records near the 1 MB record ceiling
//! holds megabytes, not a count of records times a megabyte.

use std::sync::{Condvar, Mutex, PoisonError};

pub(crate) struct ByteBudget {
    held: Mutex<usize>,
    freed: Condvar,
    limit: usize,
}

impl ByteBudget {
    pub(crate) fn new(limit: usize) -> ByteBudget {
        ByteBudget {
            held: Mutex::new(0),
            freed: Condvar::new(),
            limit,
        }
    }

    /// Waits until `bytes` fit. Anything fits when nothing is held, so one item larger than
    /// the whole budget still passes, alone. Taking nothing costs nothing (no lock).
    pub(crate) fn take(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        let mut held = self
            .freed
            .wait_while(held, |held| {
                *held > 0 && held.saturating_add(bytes) > self.limit
            })
            .unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_add(bytes);
    }

    pub(crate) fn give(&self, bytes: usize) {
        if bytes == 0 {
            return;
        }
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        *held = held.saturating_sub(bytes);
        self.freed.notify_all();
    }

    /// What is held now.
    #[cfg(test)]
    pub(crate) fn held(&self) -> usize {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// A producer faster than its consumer holds at most the budget, plus one item when the
    /// item alone is larger.
    #[test]
    fn a_producer_waits_until_what_it_sends_fits() {
        let budget = Arc::new(ByteBudget::new(1000));
        let (sender, receiver) = std::sync::mpsc::channel::<usize>();
        let producer = {
            let budget = budget.clone();
            std::thread::spawn(move || {
                for size in [400, 400, 400, 5000, 10, 400] {
                    budget.take(size);
                    sender.send(size).unwrap();
                }
            })
        };
        let mut most = 0;
        let mut received = Vec::new();
        while received.len() < 6 {
            // Let the producer run ahead as far as the budget allows.
            std::thread::sleep(std::time::Duration::from_millis(20));
            most = most.max(budget.held());
            let size = receiver.recv().unwrap();
            received.push(size);
            budget.give(size);
        }
        producer.join().unwrap();
        assert_eq!(received, [400, 400, 400, 5000, 10, 400]);
        assert!(most <= 5000, "held {most} bytes at once");
        assert_eq!(budget.held(), 0);
    }
}
