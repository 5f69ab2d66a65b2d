//! The harness: a fresh database, the real binary and a mock mail API per test (`helpers`,
//! `fixtures`), the tests' HTTP client, nginx and PostgreSQL clusters of their own (`infra`), and
//! a small WebDriver client.

pub mod client;
pub mod fixtures;
pub mod helpers;
pub mod infra;
pub mod webdriver;
