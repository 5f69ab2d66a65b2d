//! The activation step of the trust state machine, as a pure decision (seed truths #3, #8, #11).
//!
//! ```text
//!   AVAILABLE ──register──▶ PENDING ──right code, in time──▶ ACTIVE
//!       ▲                     │  │
//!       │     window passed   │  │  wrong code number MAX_CODE_ATTEMPTS
//!       └─────(released)──────┘◀─┘  (claim and its password hash deleted)
//! ```
//!
//! The store reads a locked [`ClaimSnapshot`]; [`decide`] says what happens; the store applies it in
//! the same transaction. Time is never read here: whether the window has passed comes from the
//! database clock (failure scenario 1, "clock drift").

/// What the database says about a pending claim, read under a row lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimSnapshot {
    /// `now() >= expires_at`, evaluated by PostgreSQL.
    pub expired: bool,
    /// The submitted code hashes to the stored code hash.
    pub code_matches: bool,
    /// Wrong codes already recorded for this claim.
    pub wrong_attempts: u32,
}

/// The transition to apply to a pending claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivationOutcome {
    /// Right code within the window: PENDING → ACTIVE.
    Activate,
    /// Wrong code with attempts left: record it; `attempts_remaining` ≥ 1.
    WrongCode { attempts_remaining: u32 },
    /// Wrong code number `max_attempts`: release the claim (seed truth #8, "three strikes").
    Exhausted,
    /// The window has passed: release the claim whatever the code (seed truths #3 and #6).
    Expired,
}

/// Decides the transition for one code evaluation. `max_attempts` is `MAX_CODE_ATTEMPTS` (≥ 1).
///
/// Expiry is checked first, so a right code after the window never activates.
pub fn decide(claim: ClaimSnapshot, max_attempts: u32) -> ActivationOutcome {
    if claim.expired {
        return ActivationOutcome::Expired;
    }
    if claim.code_matches {
        return ActivationOutcome::Activate;
    }
    let wrong_now = claim.wrong_attempts.saturating_add(1);
    if wrong_now >= max_attempts {
        ActivationOutcome::Exhausted
    } else {
        ActivationOutcome::WrongCode { attempts_remaining: max_attempts - wrong_now }
    }
}

/// What `POST /resend` may do with a locked pending claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResendOutcome {
    /// Mail a new code; the old one stops working and the window restarts.
    Resend,
    /// The window has passed: release the claim (as activation would).
    Expired,
    /// `MAX_RESENDS` already used: a squatter holds an email for at most
    /// (1 + MAX_RESENDS) × the window.
    TooMany,
}

/// Decides a resend. Wrong attempts are deliberately not an input: a new code never resets them
/// (NIST SP 800-63B §5.2.2: a new secret must not reset the failure count).
pub fn decide_resend(expired: bool, resends_so_far: u32, max_resends: u32) -> ResendOutcome {
    if expired {
        ResendOutcome::Expired
    } else if resends_so_far >= max_resends {
        ResendOutcome::TooMany
    } else {
        ResendOutcome::Resend
    }
}

#[cfg(test)]
mod tests {
    use super::ActivationOutcome::*;
    use super::*;

    fn claim(expired: bool, code_matches: bool, wrong_attempts: u32) -> ClaimSnapshot {
        ClaimSnapshot { expired, code_matches, wrong_attempts }
    }

    #[test]
    fn transitions_follow_the_state_machine() {
        let cases = [
            (claim(false, true, 0), Activate),
            (claim(false, true, 2), Activate),
            (claim(false, false, 0), WrongCode { attempts_remaining: 2 }),
            (claim(false, false, 1), WrongCode { attempts_remaining: 1 }),
            (claim(false, false, 2), Exhausted),
            (claim(true, true, 0), Expired),
            (claim(true, false, 2), Expired),
        ];
        for (snapshot, expected) in cases {
            assert_eq!(decide(snapshot, 3), expected, "{snapshot:?}");
        }
    }

    #[test]
    fn a_single_allowed_attempt_releases_on_the_first_wrong_code() {
        assert_eq!(decide(claim(false, false, 0), 1), Exhausted);
    }

    #[test]
    fn resends_are_bounded_and_expired_claims_are_released() {
        assert_eq!(decide_resend(false, 0, 3), ResendOutcome::Resend);
        assert_eq!(decide_resend(false, 2, 3), ResendOutcome::Resend);
        assert_eq!(decide_resend(false, 3, 3), ResendOutcome::TooMany);
        assert_eq!(decide_resend(false, 0, 0), ResendOutcome::TooMany);
        assert_eq!(decide_resend(true, 0, 3), ResendOutcome::Expired);
    }

    #[test]
    fn counters_past_the_limit_stay_exhausted() {
        assert_eq!(decide(claim(false, false, u32::MAX), 3), Exhausted);
    }
}
