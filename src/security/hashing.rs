//! Every bcrypt computation of the service, each on a short-lived thread of its own in Linux's
//! `SCHED_IDLE` class: it gets a core only when no normal thread wants it.
//!
//! While registrations saturate the machine, a woken `/health` or `/me` worker, and PostgreSQL,
//! therefore run at once instead of waiting for a time slice behind bcrypt (≈ 230 ms of CPU at
//! cost 12). Alone on the machine, hashing still gets all of the CPU. The hashing lane's workers
//! (`web::server`) keep normal priority and wait for the bcrypt thread: they also query
//! PostgreSQL, log and count metrics under locks, and an idle-class thread preempted inside a
//! lock stalls every normal thread waiting for it (measured: idle-class lane workers put
//! `/health` at p99 89 ms, see BENCHMARKS.md). A bcrypt thread holds no lock a normal thread could
//! wait for, and an unprivileged thread cannot leave `SCHED_IDLE` once in it, so each computation
//! gets a fresh thread: at most `HASH_THREADS` at once, and starting one (tens of microseconds)
//! is nothing next to the hash.
//!
//! At most `HASH_THREADS` computations run at once ([`limit_parallel_hashes`]); the hashing lane
//! has several workers per computation, so that while one waits for PostgreSQL or the mail server
//! (a registration's code is mailed before its 201) another one's hash keeps the core busy.

use crate::domain::Password;
use crate::error::Error;
use crate::telemetry::metrics::METRICS;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// The turns to run bcrypt: how many computations run, and the tickets handed out and admitted
/// (first come, first served).
struct Turns {
    running: usize,
    issued: u64,
    admitted: u64,
}

static TURNS: Mutex<Turns> = Mutex::new(Turns { running: 0, issued: 0, admitted: 0 });
static CHANGED: Condvar = Condvar::new();
/// How many may run at once (`usize::MAX` until [`limit_parallel_hashes`]).
static LIMIT: AtomicUsize = AtomicUsize::new(usize::MAX);

/// Lets at most `n` (at least 1) bcrypt computations run at once (`HASH_THREADS`, set at start).
pub fn limit_parallel_hashes(n: usize) {
    LIMIT.store(n.max(1), Ordering::Relaxed);
    CHANGED.notify_all();
}

/// A computation's turn: taken in the order asked for once fewer than the limit run, given back
/// when dropped (also after a panic).
struct Turn;

impl Turn {
    fn wait() -> Turn {
        let mut turns = TURNS.lock().unwrap_or_else(PoisonError::into_inner);
        let ticket = turns.issued;
        turns.issued += 1;
        METRICS.bcrypt_waiting(waiting(&turns));
        while ticket != turns.admitted || turns.running >= LIMIT.load(Ordering::Relaxed) {
            turns = CHANGED.wait(turns).unwrap_or_else(PoisonError::into_inner);
        }
        turns.admitted += 1;
        turns.running += 1;
        METRICS.bcrypt_waiting(waiting(&turns));
        CHANGED.notify_all(); // the next ticket may run too
        Turn
    }
}

impl Drop for Turn {
    fn drop(&mut self) {
        TURNS.lock().unwrap_or_else(PoisonError::into_inner).running -= 1;
        CHANGED.notify_all();
    }
}

fn waiting(turns: &Turns) -> usize {
    usize::try_from(turns.issued - turns.admitted).unwrap_or(usize::MAX)
}

/// bcrypt hash of `password` at `cost`, on an idle-class thread. Errors: bcrypt refused the cost
/// (outside 4–31), or no thread could be started.
pub fn hash(password: &Password, cost: u32) -> Result<String, Error> {
    Ok(on_idle_thread(|| bcrypt::hash(password.expose(), cost))?.0?)
}

/// Checks `candidate` against `hash` (see [`verify_here`]) on an idle-class thread. Errors: no
/// thread could be started.
pub fn verify(candidate: &str, hash: &str) -> Result<Verified, Error> {
    Ok(verify_timed(candidate, hash)?.0)
}

/// [`verify`], and how long the verification itself took: from its turn to its end, without
/// the wait for the turn (which depends on the load, not on the hash).
pub fn verify_timed(candidate: &str, hash: &str) -> Result<(Verified, Duration), Error> {
    on_idle_thread(|| verify_here(candidate, hash))
}

/// Runs `job` on a new `SCHED_IDLE` thread, once its turn has come, and waits for it; returns
/// its result and the time from the turn to the end. A panic in `job` is an error.
fn on_idle_thread<T: Send>(job: impl FnOnce() -> T + Send) -> Result<(T, Duration), Error> {
    let _turn = Turn::wait();
    let started = Instant::now();
    let result = std::thread::scope(|scope| {
        let thread = std::thread::Builder::new()
            .name("bcrypt".into())
            .spawn_scoped(scope, || {
                lower_priority();
                job()
            })
            .map_err(|e| Error::internal_from("cannot start a bcrypt thread", e))?;
        thread.join().map_err(|_| Error::internal("a bcrypt computation panicked"))
    })?;
    Ok((result, started.elapsed()))
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
fn verify_here(candidate: &str, hash: &str) -> Verified {
    let normalized = Password::parse_existing(candidate.to_owned()).ok();
    let password =
        normalized.as_ref().map_or("placeholder for a malformed password", Password::expose);
    if hash.starts_with("$argon2") {
        return verify_argon2(candidate, password, hash, normalized.is_some());
    }
    if bcrypt::verify(password, hash).unwrap_or(false) && normalized.is_some() {
        return Verified::Yes;
    }
    match Password::legacy_form(candidate) {
        Some(typed) if bcrypt::verify(typed.expose(), hash).unwrap_or(false) => Verified::AsTyped,
        _ => Verified::No,
    }
}

/// An imported Argon2id hash (PHC string), under the same rules as bcrypt: the normalized form
/// first, then the form as typed when it differs (the other system hashed what was typed); a
/// password outside 8–72 bytes or with NUL never matches (one verification is still spent). A
/// match is re-made with bcrypt at once, since `hash_cost` of a PHC string is none.
fn verify_argon2(candidate: &str, normalized: &str, hash: &str, well_formed: bool) -> Verified {
    use argon2::{Argon2, PasswordHash, PasswordVerifier};
    let Ok(parsed) = PasswordHash::new(hash) else { return Verified::No };
    let matches =
        |password: &str| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
    if matches(normalized) && well_formed {
        return Verified::Yes;
    }
    match Password::legacy_form(candidate) {
        Some(typed) if matches(typed.expose()) => Verified::AsTyped,
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
        crate::telemetry::log::error(
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
        let password = Password::parse_existing("correct horse".into()).unwrap();
        let hash = hash(&password, 4).unwrap();
        assert_eq!(verify("correct horse", &hash).unwrap(), Verified::Yes);
        assert_eq!(verify_here("wrong horse", &hash), Verified::No);
        assert_eq!(verify_here(&"x".repeat(100), &hash), Verified::No);
        assert_eq!(verify_here("correct horse", "not a hash"), Verified::No);
        let typed = "\u{ff43}orrect horse";
        let legacy = bcrypt::hash(typed, 4).unwrap();
        assert_eq!(verify_here(typed, &legacy), Verified::AsTyped);
    }

    #[test]
    fn no_more_computations_run_at_once_than_the_limit() {
        limit_parallel_hashes(2);
        let peak = std::sync::Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let peak = std::sync::Arc::clone(&peak);
                std::thread::spawn(move || {
                    on_idle_thread(|| {
                        let now = TURNS.lock().unwrap().running;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(20));
                    })
                    .unwrap();
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(peak.load(Ordering::SeqCst), 2, "two at once, never three");
        limit_parallel_hashes(usize::MAX);
    }
}
