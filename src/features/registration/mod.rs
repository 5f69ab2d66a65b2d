//! The trust state machine itself: `POST /register`, `POST /activate`, `POST /resend`.

pub mod api;
pub mod decide;
pub mod flow;
pub mod sql;
