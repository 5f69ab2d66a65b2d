//! A forgotten password: `POST /password/forgot`, `POST /password/reset`; and the queue of
//! requests for mailed codes that the background worker turns into codes.

pub mod api;
pub mod flow;
pub mod sql;
