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
//! Only the version applied *last* counts: a build that runs after another one (a rollback, or two
//! versions side by side during an upgrade) makes the next start of the other apply its file again.
//!
//! A start that does have work (a new version of `schema.sql`) takes every table of its own at
//! once, `ACCESS EXCLUSIVE`, before touching anything: each table waited for at most 100 ms and
//! all of them at most [`LOCK_WAIT`]; if it cannot, it lets go and tries again after a pause, up to
//! [`ATTEMPTS`] times (a long transaction or a `pg_dump` that holds a table to the end makes the
//! start fail, naming the cause). Once it holds every table it waits for nothing, so it cannot
//! deadlock with a request; while it takes them, requests on the tables it already holds wait (at
//! most [`LOCK_WAIT`] per try, then the schema's own tens of milliseconds), well under
//! PostgreSQL's one-second `deadlock_timeout`, so a request is never a deadlock's victim either.

use crate::error::chain;
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

/// Run at every start, after the schema step and whether or not it had work: `accounts.mfa_enabled`
/// kept in step with `totp_factors` (it changes nothing normally; an instance of an earlier build
/// that turned a factor on or off after the column was added would have left it behind: README,
/// "Upgrading"). Row locks only, on the rows it changes.
const EVERY_START: &str = "
    UPDATE accounts SET mfa_enabled = true
     WHERE NOT mfa_enabled
       AND id IN (SELECT account_id FROM totp_factors WHERE confirmed_at IS NOT NULL);
    UPDATE accounts SET mfa_enabled = false
     WHERE mfa_enabled
       AND id NOT IN (SELECT account_id FROM totp_factors WHERE confirmed_at IS NOT NULL);";

/// Tries at taking the tables before the start fails (with pauses of 0.1 to 1 s between them).
const ATTEMPTS: u32 = 60;

/// Brings the database to [`SCHEMA`], unless it already is, then runs [`EVERY_START`]. Errors:
/// anything PostgreSQL answered, or the tables stayed busy for [`ATTEMPTS`] tries.
pub fn apply(client: &mut Client) -> Result<(), String> {
    bring_up_to_date(client).map_err(|e| {
        let cause = chain(&e);
        match busy(&e) {
            true => format!(
                "the tables stayed busy for {ATTEMPTS} tries (a long transaction or a pg_dump \
                 holds one; pg_locks names it): {cause}"
            ),
            false => cause,
        }
    })?;
    client.batch_execute(EVERY_START).map_err(|e| chain(&e))
}

fn bring_up_to_date(client: &mut Client) -> Result<(), postgres::Error> {
    let digest = Sha256::digest(SCHEMA.as_bytes()).to_vec();
    // Read first without the advisory lock: a start with nothing to do never queues behind
    // another start's retries.
    if is_current(&mut client.transaction()?, &digest)? {
        return Ok(());
    }
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

/// True when this digest is the one `schema_applied` got last: one read, no table lock beyond
/// `ACCESS SHARE` on that small table.
fn is_current(tx: &mut Transaction, digest: &[u8]) -> Result<bool, postgres::Error> {
    let row = tx.query_one("SELECT to_regclass('schema_applied') IS NOT NULL", &[])?;
    if !row.get::<_, bool>(0) {
        return Ok(false);
    }
    let row = tx.query_one(
        "SELECT coalesce((SELECT digest = $1 FROM schema_applied
                            ORDER BY applied_at DESC LIMIT 1), false)",
        &[&digest],
    )?;
    Ok(row.get(0))
}

/// Takes every table at once (bounded by [`LOCK_WAIT`]), applies [`SCHEMA`], records its digest.
fn upgrade(tx: &mut Transaction, digest: &[u8]) -> Result<(), postgres::Error> {
    let tables: Option<String> = tx
        .query_one(
            "SELECT string_agg(format('%I', tablename), ', ') FROM pg_tables
              WHERE schemaname = current_schema() AND tableowner = current_user",
            &[],
        )?
        .get(0);
    if let Some(tables) = tables {
        tx.batch_execute(&format!(
            "SET LOCAL lock_timeout = '100ms'; SET LOCAL statement_timeout = '{LOCK_WAIT}';
             LOCK TABLE {tables} IN ACCESS EXCLUSIVE MODE;
             SET LOCAL lock_timeout TO DEFAULT; SET LOCAL statement_timeout TO DEFAULT;"
        ))?;
    }
    tx.batch_execute(SCHEMA)?;
    tx.execute(
        "INSERT INTO schema_applied (digest) VALUES ($1)
         ON CONFLICT (digest) DO UPDATE SET applied_at = now()",
        &[&digest],
    )?;
    Ok(())
}

/// The tables were busy: a wait ran out (55P03 lock not available, 57014 statement cancelled by
/// the timeout) or PostgreSQL chose this start as a deadlock's victim (40P01).
fn busy(error: &postgres::Error) -> bool {
    error.code().is_some_and(|c| ["57014", "55P03", "40P01"].contains(&c.code()))
}
