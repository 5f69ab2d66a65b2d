//! The audit trail as its readers see it: `GET /me/events` and `GET /admin/events`, and its
//! retention. Events are written by the unit of work (`crate::uow`).

pub mod api;
pub mod flow;
pub mod sql;
