//! Checking a code that proves a mailbox, as a pure decision: the activation step of the trust
//! state machine (seed truths #3, #8, #11), and the same rule for reset, sign-in and email-change
//! codes.
//!
//! ```text
//!   AVAILABLE ──register──▶ PENDING ──right code, in time──▶ ACTIVE
//!       ▲                     │  │
//!       │     window passed   │  │  wrong code number MAX_CODE_ATTEMPTS
//!       └─────(released)──────┘◀─┘  (claim and its password hash deleted)
//! ```
//!
//! A feature's SQL reads a locked [`CodeSnapshot`]; [`decide`] says what happens; the feature
//! applies it in the same transaction. Time is never read here: whether the window has passed
//! comes from the database clock (failure scenario 1, "clock drift").

/// What the database says about a code (a claim's, or a mailed code's), read under a row lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeSnapshot {
    /// `now() >= expires_at`, evaluated by PostgreSQL.
    pub expired: bool,
    /// The submitted code hashes to the stored code hash.
    pub code_matches: bool,
    /// Wrong codes already recorded for this claim.
    pub wrong_attempts: u32,
}

/// What a presented code does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeOutcome {
    /// Right code within the window: accepted (for a claim, PENDING → ACTIVE).
    Accepted,
    /// Wrong code with attempts left: record it; `attempts_remaining` ≥ 1.
    WrongCode { attempts_remaining: u32 },
    /// Wrong code number `max_attempts`: the code dies (a claim is released: seed truth #8,
    /// "three strikes").
    Exhausted,
    /// The window has passed: the code dies whatever it is (a claim is released: seed truths #3
    /// and #6).
    Expired,
}

/// Decides what one code evaluation does. `max_attempts` is `MAX_CODE_ATTEMPTS` for a claim,
/// `MAX_RESET_ATTEMPTS` for a mailed code (≥ 1).
///
/// Expiry is checked first, so a right code after the window never activates.
pub fn decide(claim: CodeSnapshot, max_attempts: u32) -> CodeOutcome {
    if claim.expired {
        return CodeOutcome::Expired;
    }
    if claim.code_matches {
        return CodeOutcome::Accepted;
    }
    let wrong_now = claim.wrong_attempts.saturating_add(1);
    if wrong_now >= max_attempts {
        CodeOutcome::Exhausted
    } else {
        CodeOutcome::WrongCode { attempts_remaining: max_attempts - wrong_now }
    }
}

#[cfg(test)]
mod tests {
    use super::CodeOutcome::*;
    use super::*;

    fn claim(expired: bool, code_matches: bool, wrong_attempts: u32) -> CodeSnapshot {
        CodeSnapshot { expired, code_matches, wrong_attempts }
    }

    #[test]
    fn transitions_follow_the_state_machine() {
        let cases = [
            (claim(false, true, 0), Accepted),
            (claim(false, true, 2), Accepted),
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
    fn counters_past_the_limit_stay_exhausted() {
        assert_eq!(decide(claim(false, false, u32::MAX), 3), Exhausted);
    }
}
