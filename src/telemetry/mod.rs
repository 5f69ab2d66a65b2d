//! What operators see: structured log lines on stdout ([`log`]) and the figures of `GET /metrics`
//! ([`metrics`]). Every layer may write to them; they import nothing of the service.

pub mod log;
pub mod metrics;
