//! Every bcrypt computation of the service, and the priority it runs at.
//!
//! The endpoints that run bcrypt (≈ 230 ms of CPU at cost 12) are served by the hashing lane's
//! own threads (`HASH_THREADS`, see `http::server`), and on Linux those threads run in the
//! `SCHED_IDLE` class ([`lower_priority`]): they get a core only when no normal thread wants it,
//! so while registrations saturate the machine a woken `/health` or `/me` worker, and PostgreSQL,
//! run at once. Alone on the machine, hashing still gets all of the CPU. (With the kernel's
//! autogroup on a plain host, idle-class threads still compete as one group with PostgreSQL's;
//! measured, the `/health` p99 under saturation stays well under the 20 ms target either way, and
//! in containers a CPU cgroup per service overrides autogrouping: see BENCHMARKS.md.)

use crate::domain::Password;
use crate::error::Error;

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

/// bcrypt hash of `password` at `cost`. Errors: bcrypt refused the cost (outside 4–31).
pub fn hash(password: &Password, cost: u32) -> Result<String, Error> {
    Ok(bcrypt::hash(password.expose(), cost)?)
}

/// Checks `candidate` against `hash`: first its NFKC form (what every hash is made from now), then,
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

/// Moves the calling thread to Linux's `SCHED_IDLE` class. Called once by each hashing-lane
/// thread at start. An unprivileged thread cannot come back, which is why the lane's threads are
/// its own. Failure is logged and leaves the thread at normal priority.
#[cfg(target_os = "linux")]
pub fn lower_priority() {
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

/// Elsewhere the hashing threads keep normal priority.
#[cfg(not(target_os = "linux"))]
pub fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_malformed_candidates_never_match() {
        let password = Password::parse_existing("correct horse".into()).unwrap();
        let hash = hash(&password, 4).unwrap();
        assert_eq!(verify("correct horse", &hash), Verified::Yes);
        assert_eq!(verify("wrong horse", &hash), Verified::No);
        assert_eq!(verify(&"x".repeat(100), &hash), Verified::No);
        assert_eq!(verify("correct horse", "not a hash"), Verified::No);
        let typed = "\u{ff43}orrect horse";
        let legacy = bcrypt::hash(typed, 4).unwrap();
        assert_eq!(verify(typed, &legacy), Verified::AsTyped);
    }
}
