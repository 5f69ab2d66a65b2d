//! The resend rule of the trust state machine, as a pure decision.

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
    use super::*;

    #[test]
    fn resends_are_bounded_and_expired_claims_are_released() {
        assert_eq!(decide_resend(false, 0, 3), ResendOutcome::Resend);
        assert_eq!(decide_resend(false, 2, 3), ResendOutcome::Resend);
        assert_eq!(decide_resend(false, 3, 3), ResendOutcome::TooMany);
        assert_eq!(decide_resend(false, 0, 0), ResendOutcome::TooMany);
        assert_eq!(decide_resend(true, 0, 3), ResendOutcome::Expired);
    }
}
