//! Integration tests: each spawns the real binary against a fresh PostgreSQL database.
//! Prerequisite: PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres);
//! `.ci/pg-up` starts it on this machine.

mod activate;
mod concurrency;
mod conventions;
mod expiry;
mod helpers;
mod process;
mod register;
mod secrets;
