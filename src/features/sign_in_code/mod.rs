//! Signing in with a code mailed to the account's address: `POST /login/code`,
//! `POST /login/code/verify` (the way in that the password limit never blocks).

pub mod api;
pub mod flow;
pub mod sql;
