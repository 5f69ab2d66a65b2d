//! A lane: a fixed set of worker threads behind a bounded queue, with one wake-up per request.
//!
//! A `Mutex<VecDeque>` and a `Condvar`: the dispatcher pushes and wakes one idle worker. (A std
//! `sync_channel` shared through `Mutex<Receiver>` costs a second wake-up per request, the hand-off
//! of the mutex between workers; on two cores wake-ups dominate the cost of a cheap request.)

use crate::telemetry::metrics::{Lane, METRICS};
use std::collections::VecDeque;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// The queue of one lane. At most `threads + depth` requests are in it at once, running or
/// waiting, so at most `depth` wait for a worker whatever the timing of the workers.
pub struct LaneQueue<T> {
    lane: Lane,
    limit: usize,
    state: Mutex<State<T>>,
    ready: Condvar,
}

struct State<T> {
    waiting: VecDeque<T>,
    running: usize,
    closed: bool,
}

impl<T> LaneQueue<T> {
    /// A queue for `threads` workers and `depth` waiting requests.
    pub fn new(lane: Lane, threads: usize, depth: usize) -> LaneQueue<T> {
        LaneQueue {
            lane,
            limit: threads + depth,
            state: Mutex::new(State {
                waiting: VecDeque::with_capacity(depth),
                running: 0,
                closed: false,
            }),
            ready: Condvar::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `item`; gives it back when the lane is full (or closed).
    pub fn admit(&self, item: T) -> Option<T> {
        let mut state = self.lock();
        if state.closed || state.running + state.waiting.len() >= self.limit {
            return Some(item);
        }
        state.waiting.push_back(item);
        METRICS.enqueued(self.lane);
        drop(state);
        self.ready.notify_one();
        None
    }

    /// For a worker: the next item, blocking while the queue is empty; `None` once the queue is
    /// closed and drained. Pair every item with a call to [`finished`](Self::finished).
    pub fn take(&self) -> Option<T> {
        let mut state = self.lock();
        loop {
            if let Some(item) = state.waiting.pop_front() {
                state.running += 1;
                METRICS.dequeued(self.lane);
                return Some(item);
            }
            if state.closed {
                return None;
            }
            state = self.ready.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// For a worker: the item it took is done.
    pub fn finished(&self) {
        self.lock().running -= 1;
    }

    /// No more items: workers finish what is queued, then [`take`](Self::take) returns `None`.
    pub fn close(&self) {
        self.lock().closed = true;
        self.ready.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admits_threads_plus_depth_then_refuses() {
        let queue = LaneQueue::new(Lane::Requests, 2, 1);
        assert_eq!((queue.admit(1), queue.admit(2), queue.admit(3)), (None, None, None));
        assert_eq!(queue.admit(4), Some(4));
        assert_eq!(queue.take(), Some(1));
        assert_eq!(queue.admit(5), Some(5), "running items still count");
        queue.finished();
        assert_eq!(queue.admit(6), None);
        queue.close();
        assert_eq!((queue.take(), queue.take(), queue.take()), (Some(2), Some(3), Some(6)));
        assert_eq!(queue.take(), None);
        assert_eq!(queue.admit(7), Some(7));
    }
}
