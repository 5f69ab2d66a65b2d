//! Checking an email and password without telling which half was wrong, and re-hashing stale
//! hashes; used by registration, sessions and the account.

pub mod flow;
pub mod sql;
