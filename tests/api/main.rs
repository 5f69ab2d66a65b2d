//! Integration tests: each spawns the real binary against a fresh PostgreSQL database. Grouped as
//! `src/features/` is: one module per feature (`registration/`, `sessions/`, `account`, `recovery`,
//! `email_change`, `totp`, `sign_in_code`, `admin`, `audit`), the web layer (`web/`: conventions,
//! the proxy, the browser), the process and its dependencies (`operations/`), and the harness
//! (`support/`).
//! Prerequisite: the PostgreSQL server of DATABASE_URL (default
//! postgres://postgres@localhost:5432/beefirst); each test creates and drops a database of its own
//! there. `.ci/pg-up` starts it on this machine. The proxy tests need nginx (`.ci/run` installs it) and
//! the outage test PostgreSQL's server binaries: without one, a test says SKIPPED, or fails
//! with `REQUIRE_TOOLS=1` (as in CI).

mod account;
mod admin;
mod audit;
mod data_export;
mod email_change;
mod identities;
mod mail_templates;
mod operations;
mod passkeys;
mod recovery;
mod registration;
mod secrets;
mod sessions;
mod sign_in_code;
mod smtp;
mod support;
mod totp;
mod transfer;
mod web;
mod webhooks;
