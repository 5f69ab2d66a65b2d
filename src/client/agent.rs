//! The agent of the outbound calls that need HTTPS (identity providers, webhook receivers): ureq
//! with rustls, every request bounded by one overall timeout, redirects not followed (a moved
//! endpoint is a configuration change, not something to follow), and any status returned as an
//! answer for the caller to judge.

use std::time::Duration;

/// A keep-alive agent whose every request is bounded by `timeout` (connect, send and answer).
pub fn bounded(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .build()
        .into()
}
