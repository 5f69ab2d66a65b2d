//! `beefirst import` and `beefirst export`: moving accounts in from another system and out again.
//! Both stream (a batch of lines, a page of rows at a time), so memory stays flat however many
//! accounts there are; neither hashes anything.

use super::api::{ExportLine, Report, Summary};
use super::decide::{NewAccount, parse_line};
use super::sql;
use crate::app::dummy_hash;
use crate::config::Config;
use crate::context::Context;
use crate::db::{self, Pool};
use crate::domain::AuditAction;
use crate::error::Error;
use crate::uow::{Subject, UnitOfWork};
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// Lines per statement (and per transaction, outside `--dry-run`).
const BATCH: usize = 1000;

/// Reads NDJSON accounts from `input` and makes them, `BATCH` lines to a transaction; each bad
/// line and each present email is passed to `report` and skips only itself. With `dry_run` every
/// batch runs in one transaction that is rolled back: the counts are what a real run would make,
/// and nothing is written. Each account made gets an `imported` audit event; no webhook is sent
/// (an import is a migration, not a sign-up). Errors: the database (the batches committed before
/// stay; a rerun skips them), unreadable input.
pub fn import(
    pool: &Pool,
    config: &Config,
    mut input: impl BufRead,
    dry_run: bool,
    report: &mut dyn FnMut(Report),
) -> Result<Summary, Error> {
    let unusable = dummy_hash(config.credentials.bcrypt_cost)?;
    let mut client = db::checkout(pool)?;
    let mut reader = Lines { number: 0, buffer: Vec::new() };
    let mut summary = Summary::default();
    if dry_run {
        let mut uow = UnitOfWork::begin(&mut client, &Context::system())?;
        while let Some(batch) = reader.next_batch(&mut input, &mut summary, report)? {
            store(&mut uow, &batch, &unusable, &mut summary, report)?;
        }
        return Ok(summary); // the unit of work is dropped: rolled back
    }
    while let Some(batch) = reader.next_batch(&mut input, &mut summary, report)? {
        let mut uow = UnitOfWork::begin(&mut client, &Context::system())?;
        store(&mut uow, &batch, &unusable, &mut summary, report)?;
        uow.commit_without_mail(&config.webhooks)?;
    }
    Ok(summary)
}

/// The input's lines, numbered from 1.
struct Lines {
    number: u64,
    buffer: Vec<u8>,
}

impl Lines {
    /// Up to `BATCH` parsed lines; bad ones are reported and counted on the way; blank lines are
    /// skipped. `None` at the end of the input.
    fn next_batch(
        &mut self,
        input: &mut impl BufRead,
        summary: &mut Summary,
        report: &mut dyn FnMut(Report),
    ) -> Result<Option<Vec<(u64, NewAccount)>>, Error> {
        let mut batch = Vec::with_capacity(BATCH);
        while batch.len() < BATCH {
            self.buffer.clear();
            let read = input.read_until(b'\n', &mut self.buffer);
            if read.map_err(|e| Error::internal_from("reading the import", e))? == 0 {
                break;
            }
            self.number += 1;
            let parsed = match std::str::from_utf8(&self.buffer) {
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => parse_line(text.trim()),
                Err(_) => Err("not UTF-8".to_owned()),
            };
            match parsed {
                Ok(account) => batch.push((self.number, account)),
                Err(reason) => {
                    summary.failed += 1;
                    report(Report::Bad { line: self.number, reason });
                }
            }
        }
        Ok((!batch.is_empty()).then_some(batch))
    }
}

/// Inserts one batch and counts what became of each line.
fn store(
    uow: &mut UnitOfWork<'_>,
    batch: &[(u64, NewAccount)],
    unusable: &str,
    summary: &mut Summary,
    report: &mut dyn FnMut(Report),
) -> Result<(), Error> {
    let accounts: Vec<NewAccount> = batch.iter().map(|(_, a)| a.clone()).collect();
    let mut made: HashMap<String, i64> = sql::insert_batch(uow.tx(), &accounts, unusable)?
        .into_iter()
        .map(|(id, e)| (e, id))
        .collect();
    for (line, account) in batch {
        // The first line of an email made it; a later one in the batch is a duplicate.
        match made.remove(account.email.as_str()) {
            Some(id) => {
                summary.imported += 1;
                uow.record(Subject::Account(id), None, AuditAction::Imported);
            }
            None => {
                summary.skipped += 1;
                report(Report::Skipped { line: *line, email: account.email.as_str().to_owned() });
            }
        }
    }
    Ok(())
}

/// Writes every active account to `out` as NDJSON (hashes included), from one snapshot, a page
/// at a time; returns how many. Errors: the database, a failed write (a closed pipe).
pub fn export(pool: &Pool, out: &mut impl Write) -> Result<u64, Error> {
    let mut client = db::checkout(pool)?;
    let mut tx = client.begin()?;
    sql::snapshot(&mut tx)?;
    let (mut after, mut written) = (0, 0);
    let failed = |e: std::io::Error| Error::internal_from("writing the export", e);
    loop {
        let page = sql::page(&mut tx, after, BATCH as i64)?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for account in &page {
            let line = ExportLine {
                email: &account.email,
                email_verified: true,
                password_hash: account.password_hash.as_deref(),
                display_name: account.display_name.as_deref(),
                role: &account.role,
                created_at: &account.created_at,
            };
            serde_json::to_writer(&mut *out, &line).map_err(|e| failed(e.into()))?;
            out.write_all(b"\n").map_err(failed)?;
            written += 1;
        }
    }
    out.flush().map_err(failed)?;
    Ok(written)
}
