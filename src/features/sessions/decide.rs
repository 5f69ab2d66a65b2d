//! The refresh-token policy, as a pure decision: what presenting a refresh token does, from how
//! long ago it was spent (contract v2, "Tokens other services can verify").

/// What a presented refresh token of a live session does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshDecision {
    /// Never spent: spend it and issue the next pair (rotation).
    Rotate,
    /// Spent less than `REFRESH_REUSE_GRACE_SECONDS` ago: two tabs refreshing at once. Refused
    /// (401), the session kept.
    Refuse,
    /// Spent longer ago: someone replays a copied token (stolen, or a copied client). Refused
    /// and the whole session revoked (reuse detection; OAuth 2.0 Security BCP §4.14.2).
    RevokeSession,
}

/// Decides for a token spent `spent_seconds_ago` (`None`: not spent yet), by the database clock.
pub fn decide_refresh(spent_seconds_ago: Option<f64>, grace_seconds: u32) -> RefreshDecision {
    match spent_seconds_ago {
        None => RefreshDecision::Rotate,
        Some(age) if age < f64::from(grace_seconds) => RefreshDecision::Refuse,
        Some(_) => RefreshDecision::RevokeSession,
    }
}

#[cfg(test)]
mod tests {
    use super::RefreshDecision::*;
    use super::*;

    #[test]
    fn a_fresh_token_rotates_a_recent_reuse_is_refused_a_late_one_revokes() {
        assert_eq!(decide_refresh(None, 10), Rotate);
        assert_eq!(decide_refresh(Some(0.0), 10), Refuse);
        assert_eq!(decide_refresh(Some(9.9), 10), Refuse);
        assert_eq!(decide_refresh(Some(10.0), 10), RevokeSession);
        assert_eq!(decide_refresh(Some(86_400.0), 10), RevokeSession);
        assert_eq!(decide_refresh(Some(0.0), 0), RevokeSession, "no grace: every reuse revokes");
    }
}
