//! Applying `schema.sql` at start without getting in the way of instances already serving.
//!
//! A start with the schema already current must take **no table lock at all**: a rolling restart
//! (or an instance `kill -9`'d and started again) happens while others write, and `ALTER TABLE`
//! or `CREATE INDEX IF NOT EXISTS` lock the table even when there is nothing to do. The soak found
//! it: an instance restarted under traffic died at start with "deadlock detected" between its
//! `ALTER TABLE accounts ADD COLUMN IF NOT EXISTS` and a request's transaction. So the database
//! records the SHA-256 of the `schema.sql` it was last brought to (`schema_applied`), and a start
//! that finds its own digest there only reads that row.
//!
//! A start that does have work (a new version of `schema.sql`) takes every table of the schema
//! at once, `ACCESS EXCLUSIVE`, waiting at most [`LOCK_WAIT`] for all of them; if it cannot, it
//! lets go and tries again after a pause, up to [`ATTEMPTS`] times. Holding every table, it never
//! waits for a request while holding a lock one needs, so it cannot deadlock with one; a request
//! waits at most [`LOCK_WAIT`] plus the time the schema takes (tens of milliseconds), well under
//! PostgreSQL's one-second `deadlock_timeout`, so a request is never the deadlock's victim either.

use r2d2_postgres::postgres::{Client, Transaction};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// The schema, applied at start when the database was last brought to another version of it.
pub const SCHEMA: &str = include_str!("../../schema.sql");

/// Any constant works as long as every instance uses the same one: it serializes schema setup when
/// several instances start at once (`CREATE TABLE IF NOT EXISTS` alone can race).
const SCHEMA_LOCK_KEY: i64 = 0x6265_6566_6972_7374; // "beefirst"

/// The longest an upgrading start waits for all the tables (and so the longest a request can wait
/// for the start before the start gives up and tries again).
const LOCK_WAIT: &str = "300ms";

/// Tries at taking the tables before the start fails (with pauses of 0.1 to 1 s between them).
const ATTEMPTS: u32 = 60;

/// Brings the database to [`SCHEMA`], unless it already is. Errors: anything PostgreSQL
/// answered, or the tables stayed busy for [`ATTEMPTS`] tries.
pub fn apply(client: &mut Client) -> Result<(), postgres::Error> {
    let digest = Sha256::digest(SCHEMA.as_bytes()).to_vec();
    let mut attempt = 0;
    loop {
        attempt += 1;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK_KEY])?;
        if is_current(&mut tx, &digest)? {
            return tx.commit();
        }
        match upgrade(&mut tx, &digest) {
            Ok(()) => return tx.commit(),
            Err(e) if busy(&e) && attempt < ATTEMPTS => {
                drop(tx); // rolls back: every lock it held is free again
                std::thread::sleep(Duration::from_millis(100 * u64::from(attempt.min(10))));
            }
            Err(e) => return Err(e),
        }
    }
}

/// True when `schema_applied` holds this digest: one read, no table lock beyond `ACCESS SHARE`
/// on that small table.
fn is_current(tx: &mut Transaction, digest: &[u8]) -> Result<bool, postgres::Error> {
    let row = tx.query_one("SELECT to_regclass('schema_applied') IS NOT NULL", &[])?;
    if !row.get::<_, bool>(0) {
        return Ok(false);
    }
    let row =
        tx.query_one("SELECT EXISTS (SELECT 1 FROM schema_applied WHERE digest = $1)", &[&digest])?;
    Ok(row.get(0))
}

/// Takes every table at once (bounded by [`LOCK_WAIT`]), applies [`SCHEMA`], records its digest.
fn upgrade(tx: &mut Transaction, digest: &[u8]) -> Result<(), postgres::Error> {
    let tables: Option<String> = tx
        .query_one(
            "SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables
              WHERE schemaname = current_schema()",
            &[],
        )?
        .get(0);
    if let Some(tables) = tables {
        tx.batch_execute(&format!(
            "SET LOCAL statement_timeout = '{LOCK_WAIT}';
             LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE;
             SET LOCAL statement_timeout = 0;"
        ))?;
    }
    tx.batch_execute(SCHEMA)?;
    tx.execute(
        "INSERT INTO schema_applied (digest) VALUES ($1) ON CONFLICT DO NOTHING",
        &[&digest],
    )?;
    Ok(())
}

/// The tables were busy: the wait ran out (57014 statement cancelled by the timeout, 55P03 lock
/// not available) or PostgreSQL chose this start as a deadlock's victim (40P01).
fn busy(error: &postgres::Error) -> bool {
    error.code().is_some_and(|c| ["57014", "55P03", "40P01"].contains(&c.code()))
}
