//! Every bcrypt computation of the service, on `HASH_THREADS` threads of their own that run in
//! Linux's `SCHED_IDLE` class: they get a core only when no normal thread wants it.
//!
//! While registrations saturate the machine, a woken `/health` or `/me` worker, and PostgreSQL,
//! therefore run at once instead of waiting for a time slice behind bcrypt (≈ 230 ms of CPU at
//! cost 12). Alone on the machine, hashing still gets all of the CPU. The hashing lane's workers
//! (`http::server`) hand each computation to these threads and wait: they keep normal priority,
//! because they also query PostgreSQL, log and count metrics under locks, and an idle-class
//! thread preempted inside a lock stalls every normal thread waiting for it (measured: making
//! the lane's own workers idle-class put `/health` at p99 89 ms, see BENCHMARKS.md). The bcrypt
//! threads hold no lock a normal thread could wait for. An unprivileged thread cannot leave
//! `SCHED_IDLE` once in it, which is one more reason they are threads of their own.

use crate::domain::Password;
use crate::error::Error;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// The pool of idle-priority bcrypt threads.
pub struct Hasher {
    jobs: Mutex<Sender<Job>>,
}

impl Hasher {
    /// Starts `threads` bcrypt threads. Errors: a thread could not be started.
    pub fn start(threads: usize) -> Result<Hasher, Error> {
        let (jobs, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for i in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("bcrypt-{i}"))
                .spawn(move || run_jobs(&receiver))
                .map_err(|e| Error::Internal(format!("cannot start bcrypt threads: {e}")))?;
        }
        Ok(Hasher {
            jobs: Mutex::new(jobs),
        })
    }

    /// Runs `job` on a bcrypt thread and waits for its result.
    fn run<T: Send + 'static>(&self, job: impl FnOnce() -> T + Send + 'static) -> Result<T, Error> {
        let (result_tx, result_rx) = mpsc::sync_channel(1);
        let job: Job = Box::new(move || {
            let _ = result_tx.send(job());
        });
        let sent = match self.jobs.lock() {
            Ok(jobs) => jobs.send(job),
            Err(poisoned) => poisoned.into_inner().send(job),
        };
        sent.map_err(|_| Error::Internal("the bcrypt threads have stopped".into()))?;
        result_rx
            .recv()
            .map_err(|_| Error::Internal("a bcrypt job failed".into()))
    }

    /// bcrypt hash of `password` at `cost`. Errors: bcrypt refused the cost (outside 4–31).
    pub fn hash(&self, password: &Password, cost: u32) -> Result<String, Error> {
        let password = password.clone();
        Ok(self.run(move || bcrypt::hash(password.expose(), cost))??)
    }

    /// Checks `candidate` against `hash` (see [`verify`]) on a bcrypt thread.
    pub fn verify(&self, candidate: &str, hash: &str) -> Result<Verified, Error> {
        let (candidate, hash) = (candidate.to_owned(), hash.to_owned());
        self.run(move || verify(&candidate, &hash))
    }
}

/// A bcrypt thread: idle class, then jobs until the service stops. A panicking job drops its
/// result sender (the caller gets an error); the thread lives on.
fn run_jobs(receiver: &Mutex<Receiver<Job>>) {
    lower_priority();
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match job {
            Ok(job) => drop(catch_unwind(AssertUnwindSafe(job))),
            Err(_) => return,
        }
    }
}

/// How a presented password compares with a stored bcrypt hash.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verified {
    /// Wrong, or malformed.
    No,
    /// Right, in its normalized form.
    Yes,
    /// Right only exactly as typed, not normalized: an old hash, to be re-made from the
    /// normalized form.
    AsTyped,
}

/// Checks `candidate` against `hash`, on the calling thread: first its NFKC form (what every hash is made from now), then,
/// only if that fails and the password as typed differs, the form as typed (hashes made before
/// passwords were normalized). A malformed candidate (outside 8–72 bytes, or with NUL) still costs
/// one verification, of a placeholder, so its answer takes as long as any other (no length oracle;
/// cf. CVE-2025-22234); over-long passwords never reach bcrypt, which would silently compare only
/// their first 72 bytes. A hash bcrypt cannot read counts as a mismatch.
pub fn verify(candidate: &str, hash: &str) -> Verified {
    let normalized = Password::parse_existing(candidate.to_owned()).ok();
    let password = normalized
        .as_ref()
        .map_or("placeholder for a malformed password", Password::expose);
    if bcrypt::verify(password, hash).unwrap_or(false) && normalized.is_some() {
        return Verified::Yes;
    }
    match Password::legacy_form(candidate) {
        Some(typed) if bcrypt::verify(typed.expose(), hash).unwrap_or(false) => Verified::AsTyped,
        _ => Verified::No,
    }
}

/// Moves the calling thread to Linux's `SCHED_IDLE` class. Failure is logged and leaves the
/// thread at normal priority.
#[cfg(target_os = "linux")]
fn lower_priority() {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: a system call on the calling thread (pid 0) with a valid, initialized parameter.
    if unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) } != 0 {
        let error = std::io::Error::last_os_error().to_string();
        crate::log::error(
            "sched_setscheduler_failed",
            serde_json::json!({"error": error}),
        );
    }
}

/// Elsewhere the bcrypt threads keep normal priority.
#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_malformed_candidates_never_match() {
        let hasher = Hasher::start(2).unwrap();
        let password = Password::parse_existing("correct horse".into()).unwrap();
        let hash = hasher.hash(&password, 4).unwrap();
        assert_eq!(
            hasher.verify("correct horse", &hash).unwrap(),
            Verified::Yes
        );
        assert_eq!(verify("correct horse", &hash), Verified::Yes);
        assert_eq!(verify("wrong horse", &hash), Verified::No);
        assert_eq!(verify(&"x".repeat(100), &hash), Verified::No);
        assert_eq!(verify("correct horse", "not a hash"), Verified::No);
        let typed = "\u{ff43}orrect horse";
        let legacy = bcrypt::hash(typed, 4).unwrap();
        assert_eq!(verify(typed, &legacy), Verified::AsTyped);
    }
}
