//! Integration tests: each spawns the real binary against a fresh PostgreSQL database.
//! Prerequisite: the PostgreSQL server of DATABASE_URL (default
//! postgres://postgres@localhost:5432/beefirst); each test creates and drops a database of its own
//! there. `.ci/pg-up` starts it on this machine. The proxy tests need nginx (`.ci/run` installs it) and
//! the outage test PostgreSQL's server binaries; each says SKIPPED when its tool is missing.

mod abuse;
mod accounts;
mod activate;
mod admin;
mod audit;
mod backends;
mod browser;
mod browsers;
mod client;
mod concurrency;
mod conventions;
mod email_change;
mod expiry;
mod fixtures;
mod helpers;
mod identity;
mod infra;
mod operations;
mod process;
mod proxy;
mod races;
mod recovery;
mod register;
mod secrets;
mod sessions;
mod sign_in_code;
mod tokens;
mod totp;
mod webdriver;
