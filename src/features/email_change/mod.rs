//! A change of the account's email: `POST /me/email`, `POST /me/email/confirm`.

pub mod api;
pub mod flow;
pub mod sql;
