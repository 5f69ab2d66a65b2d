//! Starting while other instances serve: the schema step must not lock what requests use.

use crate::support::helpers::*;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Starts an instance on another thread; `None` if it has not said `listening` within `limit`.
fn start_within(env: &[(String, String)], limit: Duration) -> Option<Process> {
    let (sent, received) = mpsc::channel();
    let env = env.to_vec();
    std::thread::spawn(move || {
        let _ = sent.send(Process::start(&env));
    });
    received.recv_timeout(limit).ok()
}

#[test]
fn a_start_with_the_schema_already_applied_takes_no_table_lock() {
    let db = TestDatabase::create();
    let env = vec![("DATABASE_URL".to_string(), db.url())];
    let first = Process::start(&env);
    // A request's transaction in the middle of writing an account, as under traffic.
    let mut writer = db.client();
    let mut tx = writer.transaction().unwrap();
    tx.batch_execute("LOCK TABLE accounts, sessions IN ROW EXCLUSIVE MODE").unwrap();
    let second = start_within(&env, Duration::from_secs(10));
    tx.commit().unwrap();
    assert!(second.is_some(), "the second start waited for the writer's transaction");
    assert_eq!(first.send("GET", "/health", &[], None).status, 200);
}

#[test]
fn an_upgrade_waits_for_the_tables_without_failing_and_records_its_version() {
    let db = TestDatabase::create();
    let env = vec![("DATABASE_URL".to_string(), db.url())];
    drop(Process::start(&env));
    // A database an earlier version of schema.sql was applied to, with a transaction holding a
    // table for two seconds: the start retries its short lock waits until it is free.
    db.client().batch_execute("DELETE FROM schema_applied").unwrap();
    let url = db.url();
    let (locked, holding) = mpsc::channel();
    let holder = std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        let mut tx = client.transaction().unwrap();
        tx.batch_execute("LOCK TABLE accounts IN ROW EXCLUSIVE MODE").unwrap();
        locked.send(()).unwrap();
        std::thread::sleep(Duration::from_secs(2));
        tx.commit().unwrap();
    });
    holding.recv().unwrap();
    let started = Instant::now();
    let second = start_within(&env, Duration::from_secs(20)).expect("the upgrade gave up");
    assert!(started.elapsed() >= Duration::from_millis(1500), "it did not wait for the table");
    holder.join().unwrap();
    let versions: i64 =
        db.client().query_one("SELECT count(*) FROM schema_applied", &[]).unwrap().get(0);
    assert_eq!(versions, 1);
    assert_eq!(second.send("GET", "/health", &[], None).status, 200);
}

/// What an instance of a build before `accounts.mfa_enabled` leaves: an account with a confirmed
/// TOTP factor whose flag is off.
pub(super) fn leave_a_confirmed_factor_unflagged(db: &TestDatabase) {
    db.client()
        .batch_execute(
            "INSERT INTO accounts (email, password_hash, status, activated_at)
                  VALUES ('old@example.com', 'x', 'active', now());
             INSERT INTO totp_factors (account_id, secret_sealed, confirmed_at)
                  SELECT id, '\\x00', now() FROM accounts;
             UPDATE accounts SET mfa_enabled = false;",
        )
        .unwrap();
}

#[test]
fn the_factor_flag_is_put_in_step_at_every_start_even_with_the_schema_current() {
    let db = TestDatabase::create();
    let env = vec![("DATABASE_URL".to_string(), db.url())];
    drop(Process::start(&env));
    leave_a_confirmed_factor_unflagged(&db);
    drop(Process::start(&env));
    let flagged: bool =
        db.client().query_one("SELECT mfa_enabled FROM accounts", &[]).unwrap().get(0);
    assert!(flagged);
}

#[test]
fn a_start_after_another_version_ran_applies_its_schema_again() {
    let db = TestDatabase::create();
    let env = vec![("DATABASE_URL".to_string(), db.url())];
    drop(Process::start(&env));
    let newest = "SELECT digest FROM schema_applied ORDER BY applied_at DESC LIMIT 1";
    let ours: Vec<u8> = db.client().query_one(newest, &[]).unwrap().get(0);
    // Another build (a rollback) was brought up after this one, and left its version last.
    db.client()
        .batch_execute(
            "UPDATE schema_applied SET applied_at = applied_at - interval '1 hour';
             INSERT INTO schema_applied VALUES ('\\x00', now());",
        )
        .unwrap();
    drop(Process::start(&env));
    let last: Vec<u8> = db.client().query_one(newest, &[]).unwrap().get(0);
    assert_eq!(last, ours, "the start did not apply its schema again");
}
