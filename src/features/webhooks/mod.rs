//! Webhooks (Standard Webhooks): account events sent to `WEBHOOK_URLS`, signed.
//!
//! The events are published by the flows through the unit of work (`crate::uow`), which writes
//! one row per event and URL into `webhook_deliveries` in the same transaction as the change;
//! [`delivery`] sends them after commit from the background worker, at least once, with backoff;
//! [`api`] lets administrators list failed deliveries and retry them.

pub mod api;
pub mod delivery;
pub mod flow;
pub mod sql;
