//! The rate limits of the contract, shared by every instance (sliding windows in PostgreSQL).

pub mod flow;
pub mod sql;
