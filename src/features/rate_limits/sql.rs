//! SQL of the `rate_limits` table: sliding-window counters shared by every instance.
//! The window arithmetic is explained in `domain::rate_limit`.

use crate::db::pool::{Connection, Queries};
use crate::domain::Email;
use crate::domain::rate_limit::{Limit, WindowState, retry_after_seconds};
use crate::error::Error;
use std::net::IpAddr;

/// Which counter. The scope names are stored as they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// POST requests per client IP (`RATE_LIMIT_IP_PER_MINUTE`).
    Ip,
    /// Mails sent per email (`RATE_LIMIT_EMAIL_PER_HOUR`).
    Mail,
    /// Wrong codes per email across claims (`MAX_WRONG_CODES_PER_EMAIL_PER_DAY`).
    WrongCode,
    /// Failed logins and wrong confirmation passwords per email
    /// (`LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR`).
    LoginFailure,
    /// Wrong second-factor codes per email, whichever first step (password or sign-in code)
    /// came before them (also `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR`).
    SecondFactor,
    /// Tries at sign-in codes per email: counted, never refused.
    SignInCodeTry,
}

impl Scope {
    fn name(self) -> &'static str {
        match self {
            Scope::Ip => "ip",
            Scope::Mail => "mail",
            Scope::WrongCode => "wrong_code",
            Scope::LoginFailure => "login_failure",
            Scope::SecondFactor => "second_factor",
            Scope::SignInCodeTry => "sign_in_code_try",
        }
    }
}

/// Whom a counter is about. An email is stored only as the SHA-256 hex of its normalized form.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// A client IP, stored as text.
    Ip(IpAddr),
    /// An email, stored hashed.
    Email(&'a Email),
    /// The mailbox an email's mail lands in (`Email::mailbox`: without a `+tag`), stored hashed.
    Mailbox(&'a Email),
}

/// The answer of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// One more hit fits in the window.
    pub allowed: bool,
    /// When not allowed: whole seconds until one would be.
    pub retry_after_seconds: u32,
    /// The start of the bucket the hit was counted in (seconds since the Unix epoch): what
    /// [`release`] needs to give that hit back.
    pub bucket_start: i64,
}

/// The stored subject text and whether the statement hashes it.
fn subject_key(subject: Subject<'_>) -> (String, bool) {
    match subject {
        Subject::Ip(ip) => (ip.to_string(), false),
        Subject::Email(email) => (email.as_str().to_owned(), true),
        Subject::Mailbox(email) => (email.mailbox(), true),
    }
}

/// Checks `limit` for (`scope`, `subject`) in one upsert; with `consume`, an allowed check also
/// counts as a hit (a refused one never counts). The row lock taken by `ON CONFLICT DO UPDATE`
/// serializes concurrent checks of one key, so parallel requests cannot overshoot.
pub fn check(
    client: &mut impl Queries,
    scope: Scope,
    subject: Subject<'_>,
    limit: Limit,
    consume: bool,
) -> Result<Decision, Error> {
    let (subject_text, hashed) = subject_key(subject);
    let window = i32::try_from(limit.window_seconds).unwrap_or(i32::MAX);
    let max = i32::try_from(limit.max).unwrap_or(i32::MAX);
    let row = client.query_one(
        "INSERT INTO rate_limits AS r
                (scope, subject, window_seconds, bucket_start, previous, current, last_allowed)
         VALUES ($1,
                 CASE WHEN $6 THEN encode(sha256(convert_to($2, 'UTF8')), 'hex') ELSE $2 END,
                 $3::int, to_timestamp(floor(extract(epoch FROM now()) / $3::int) * $3::int),
                 0, (1 <= $4::int AND $5)::int, 1 <= $4::int)
         ON CONFLICT (scope, subject) DO UPDATE
            SET (window_seconds, bucket_start, previous, current, last_allowed) = (
                SELECT $3::int, EXCLUDED.bucket_start, shifted.previous,
                       shifted.current + (shifted.allowed AND $5)::int, shifted.allowed
                  FROM (SELECT carried.previous, carried.current,
                               carried.previous
                                 * (1 - extract(epoch FROM now() - EXCLUDED.bucket_start) / $3::int)
                                 + carried.current + 1 <= $4::int AS allowed
                          FROM (SELECT CASE WHEN r.bucket_start = EXCLUDED.bucket_start
                                            THEN r.previous
                                            WHEN r.bucket_start = EXCLUDED.bucket_start
                                                                  - make_interval(secs => $3::int)
                                            THEN r.current
                                            ELSE 0 END AS previous,
                                       CASE WHEN r.bucket_start = EXCLUDED.bucket_start
                                            THEN r.current ELSE 0 END AS current) carried
                       ) shifted)
         RETURNING last_allowed, previous, current,
                   extract(epoch FROM now() - bucket_start)::float8,
                   extract(epoch FROM bucket_start)::bigint",
        &[&scope.name(), &subject_text, &window, &max, &consume, &hashed],
    )?;
    let allowed: bool = row.get(0);
    let state = WindowState {
        previous: u32::try_from(row.get::<_, i32>(1)).unwrap_or(0),
        current: u32::try_from(row.get::<_, i32>(2)).unwrap_or(0),
        elapsed_seconds: row.get(3),
    };
    Ok(Decision {
        allowed,
        retry_after_seconds: if allowed { 0 } else { retry_after_seconds(limit, state) },
        bucket_start: row.get(4),
    })
}

/// Gives back one hit counted by an allowed, consuming [`check`] whose decision named
/// `bucket_start`: taken from that bucket while it is still the current one, or from the previous
/// one once the window has moved on (never below zero; nothing once that bucket has aged out).
/// One statement under the row lock, like [`check`].
pub fn release(
    client: &mut impl Queries,
    scope: Scope,
    subject: Subject<'_>,
    bucket_start: i64,
) -> Result<(), Error> {
    let (subject_text, hashed) = subject_key(subject);
    client.execute(
        "UPDATE rate_limits
            SET current = current - (bucket_start = to_timestamp($3::bigint))::int,
                previous = previous - (bucket_start <> to_timestamp($3::bigint))::int
          WHERE scope = $1
            AND subject = CASE WHEN $4 THEN encode(sha256(convert_to($2, 'UTF8')), 'hex')
                               ELSE $2 END
            AND ((bucket_start = to_timestamp($3::bigint) AND current > 0)
                 OR (bucket_start = to_timestamp($3::bigint) + make_interval(secs => window_seconds)
                     AND previous > 0))",
        &[&scope.name(), &subject_text, &bucket_start, &hashed],
    )?;
    Ok(())
}

/// Deletes counters whose whole window has passed (reaper). Returns how many.
pub fn delete_stale(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute(
        "DELETE FROM rate_limits
          WHERE bucket_start + make_interval(secs => 2 * window_seconds) <= now()",
        &[],
    )?)
}
