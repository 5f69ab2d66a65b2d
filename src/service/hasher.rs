//! Every bcrypt computation of the service runs here, on `HASH_THREADS` threads of Linux's
//! `SCHED_IDLE` scheduling class: they get the CPU only when no normal thread wants it.
//!
//! While registrations saturate the cores with hashing, a woken request worker (answering
//! `/health` or `/me`) therefore runs at once instead of waiting for a time slice behind bcrypt.
//! Alone on the machine, hashing still gets all of the CPU. The hashing threads run nothing but
//! bcrypt and hold no lock another thread could wait for (an idle-class thread preempted while
//! holding a lock would stall normal threads: priority inversion), which is why hashing is not
//! simply done at low priority by the request threads themselves.

use crate::domain::Password;
use crate::error::Error;
use serde_json::json;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A pool of idle-priority threads that run bcrypt jobs.
pub struct Hasher {
    jobs: Sender<Job>,
}

impl Hasher {
    /// Starts `threads` hashing threads. Errors: a thread could not be started.
    pub fn start(threads: usize) -> Result<Hasher, Error> {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || run_jobs(&receiver))
                .map_err(|e| Error::Internal(format!("cannot start hashing threads: {e}")))?;
        }
        Ok(Hasher { jobs })
    }

    /// Runs `job` on a hashing thread and waits for its result.
    fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let (result_tx, result_rx) = mpsc::sync_channel(1);
        self.jobs
            .send(Box::new(move || {
                let _ = result_tx.send(job());
            }))
            .map_err(|_| Error::Internal("the hashing threads have stopped".into()))?;
        result_rx
            .recv()
            .map_err(|_| Error::Internal("a hashing job failed".into()))
    }

    /// bcrypt hash of `password` at `cost`.
    pub fn hash(&self, password: &Password, cost: u32) -> Result<String, Error> {
        let password = password.clone();
        Ok(self.run(move || bcrypt::hash(password.expose(), cost))??)
    }

    /// True when `candidate` is a well-formed password (8–72 bytes) whose bcrypt verification
    /// against `hash` succeeds. A malformed candidate still costs one verification, of a
    /// placeholder, so its answer takes as long as any other (no length oracle; cf.
    /// CVE-2025-22234). Over-long passwords never reach bcrypt, which would silently compare only
    /// their first 72 bytes.
    pub fn verify(&self, candidate: &str, hash: &str) -> Result<bool, Error> {
        let candidate = Password::parse_existing(candidate.to_owned()).ok();
        let hash = hash.to_owned();
        self.run(move || match candidate {
            Some(password) => bcrypt::verify(password.expose(), &hash).unwrap_or(false),
            None => {
                let _ = bcrypt::verify("placeholder for a malformed password", &hash);
                false
            }
        })
    }
}

fn run_jobs(receiver: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            // A panicking job drops its result sender: the caller gets an error, the thread lives.
            Ok(job) => drop(catch_unwind(AssertUnwindSafe(job))),
            Err(_) => return,
        }
    }
}

/// Moves the calling thread to `SCHED_IDLE`. Failure (not Linux, or forbidden) is logged and
/// leaves the thread at normal priority.
fn lower_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a system call on the calling thread (pid 0) with a valid, initialized parameter.
    let result = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if result != 0 {
        let error = std::io::Error::last_os_error().to_string();
        crate::log::error("sched_setscheduler_failed", json!({"error": error}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_and_verifies_on_the_pool() {
        let hasher = Hasher::start(2).unwrap();
        let password = Password::parse_existing("correct horse".into()).unwrap();
        let hash = hasher.hash(&password, 4).unwrap();
        assert!(hasher.verify("correct horse", &hash).unwrap());
        assert!(!hasher.verify("wrong horse", &hash).unwrap());
        assert!(
            !hasher.verify(&"x".repeat(100), &hash).unwrap(),
            "over-long is never truncated"
        );
    }
}
