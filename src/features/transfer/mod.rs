//! Moving users in and out: `beefirst import [--dry-run] FILE|-` and `beefirst export`, one
//! account a line of NDJSON (`api`), each line parsed by a pure rule (`decide`), written and read
//! in batches (`sql`, `flow`). Other systems' bcrypt and Argon2id hashes come along and are
//! re-made with bcrypt at the first sign-in (`features::credentials`).

pub mod api;
pub mod decide;
pub mod flow;
pub mod sql;
