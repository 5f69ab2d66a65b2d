//! The wake-up call from a committed unit of work to the background worker.

use std::sync::{Condvar, Mutex};
use std::time::Duration;

/// Wakes the sender when a request has committed mail to the outbox.
#[derive(Default)]
pub struct Signal {
    pending: Mutex<bool>,
    ready: Condvar,
}

impl Signal {
    /// Called after the commit that queued mail: the sender looks at once.
    pub fn wake(&self) {
        if let Ok(mut pending) = self.pending.lock() {
            *pending = true;
            self.ready.notify_one();
        }
    }

    /// Waits until woken or `timeout` passed.
    pub fn wait(&self, timeout: Duration) {
        if let Ok(pending) = self.pending.lock() {
            if let Ok((mut pending, _)) = self.ready.wait_timeout_while(pending, timeout, |p| !*p) {
                *pending = false;
            }
        }
    }
}
