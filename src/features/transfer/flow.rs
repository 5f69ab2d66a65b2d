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
use serde_json::json;
use std::collections::HashMap;
use std::io::{BufRead, Write};

/// Lines per statement (and per transaction, outside `--dry-run`).
const BATCH: usize = 1000;

/// The longest line read, bytes: an account is a few hundred; anything longer (a whole JSON
/// array given by mistake) is reported as a bad line without being held in memory.
const MAX_LINE_BYTES: usize = 64 * 1024;

/// Reads NDJSON accounts from `input` and makes them, `BATCH` lines to a transaction; each bad
/// line and each present email is passed to `report` and skips only itself. With `dry_run` every
/// batch runs in one transaction that is rolled back: the counts are what a real run would make,
/// and nothing is written (the emails it would insert stay locked until it ends). Each account
/// made gets an `imported` audit event with its role; no webhook is sent (an import is a
/// migration, not a sign-up). Errors: the database (naming the batch's lines; the batches
/// committed before stay, and a rerun skips them), unreadable input.
pub fn import(
    pool: &Pool,
    config: &Config,
    mut input: impl BufRead,
    dry_run: bool,
    report: &mut dyn FnMut(Report),
) -> Result<Summary, Error> {
    let unusable = dummy_hash(config.credentials.bcrypt_cost)?;
    let mut client = db::checkout(pool)?;
    let own_cost = config.credentials.bcrypt_cost;
    let mut reader = Lines { number: 0, buffer: Vec::new(), own_cost };
    let mut summary = Summary::default();
    if dry_run {
        let mut uow = UnitOfWork::begin(&mut client, &Context::system())?;
        while let Some(batch) = reader.next_batch(&mut input, &mut summary, report)? {
            store(&mut uow, &batch, &unusable, &mut summary, report)?;
            uow.forget_events(); // never written: the memory of a dry run stays flat
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
    own_cost: u32,
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
            let Some(complete) = self.read_line(input)? else { break };
            self.number += 1;
            let text = std::str::from_utf8(&self.buffer).map(|t| t.trim_start_matches('\u{feff}'));
            let parsed = match text {
                _ if !complete => Err(format!("longer than {MAX_LINE_BYTES} bytes")),
                Ok(text) if text.trim().is_empty() => continue,
                Ok(text) => parse_line(text.trim(), self.own_cost),
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

    /// Reads the next line into the buffer, at most [`MAX_LINE_BYTES`] of it (the rest of a
    /// longer one is read and dropped): `Some(true)`, or `Some(false)` when it was cut, `None`
    /// at the end of the input.
    fn read_line(&mut self, input: &mut impl BufRead) -> Result<Option<bool>, Error> {
        let failed = |e| Error::internal_from("reading the import", e);
        self.buffer.clear();
        let limit = (MAX_LINE_BYTES + 1) as u64;
        let mut bounded = std::io::Read::take(&mut *input, limit);
        let read = bounded.read_until(b'\n', &mut self.buffer).map_err(failed)?;
        if read == 0 {
            return Ok(None);
        }
        if self.buffer.len() <= MAX_LINE_BYTES || self.buffer.ends_with(b"\n") {
            return Ok(Some(true));
        }
        let mut rest = Vec::new();
        while input.read_until(b'\n', &mut rest).map_err(failed)? > 0 && !rest.ends_with(b"\n") {
            rest.clear(); // a line of gigabytes is dropped a buffer at a time
        }
        Ok(Some(false))
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
    let lines = |e: Error| {
        let (first, last) = (batch.first().map_or(0, |b| b.0), batch.last().map_or(0, |b| b.0));
        Error::internal(format!("lines {first} to {last} were refused by the database: {e}"))
    };
    let made = sql::insert_batch(uow.tx(), batch, unusable).map_err(lines)?;
    let mut made: HashMap<String, i64> = made.into_iter().map(|(id, e)| (e, id)).collect();
    for (line, account) in batch {
        // The first line of an email made it; a later one in the batch is a duplicate.
        match made.remove(account.email.as_str()) {
            Some(id) => {
                summary.imported += 1;
                let details = json!({ "role": account.role.as_str() });
                uow.record_with(Subject::Account(id), None, AuditAction::Imported, details);
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
                disabled: account.disabled,
            };
            serde_json::to_writer(&mut *out, &line).map_err(|e| failed(e.into()))?;
            out.write_all(b"\n").map_err(failed)?;
            written += 1;
        }
    }
    out.flush().map_err(failed)?;
    Ok(written)
}
