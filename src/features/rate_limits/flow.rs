//! The three rate limits of the contract, as one call each. A limit set to 0 is never checked.

use super::sql::{Scope, Subject, check, release};
use crate::app::AppState;
use crate::db::{self, pool::Queries};
use crate::domain::Email;
use crate::domain::rate_limit::Limit;
use crate::error::Error;
use crate::telemetry::log;
use serde_json::json;
use std::net::IpAddr;

/// `RATE_LIMIT_IP_PER_MINUTE`: counts one POST request from `ip`; 429 once over.
pub fn count_post_from(state: &AppState, ip: IpAddr) -> Result<(), Error> {
    let limit = Limit::per_minute(state.config.limits.ip_per_minute);
    enforce(state, Scope::Ip, Subject::Ip(ip), limit, true)
}

/// `RATE_LIMIT_EMAIL_PER_HOUR`: counts one mail to `email`'s mailbox; 429 once over (nothing is
/// sent). Sub-addresses (`me+1@…`, `me+2@…`) share their mailbox's budget.
pub fn count_mail_to(state: &AppState, email: &Email) -> Result<(), Error> {
    enforce(state, Scope::Mail, Subject::Mailbox(email), mail_limit(state), true)
}

/// 429 when `email`'s mail budget is already used up (counts nothing): a cheap early refusal
/// before a registration spends a bcrypt hash.
pub fn ensure_mail_budget(state: &AppState, email: &Email) -> Result<(), Error> {
    enforce(state, Scope::Mail, Subject::Mailbox(email), mail_limit(state), false)
}

/// The length of the next code mailed to `email` (by /register or /resend): `HARDENED_CODE_DIGITS`
/// while `email`'s mailbox has used up its `MAX_WRONG_CODES_PER_EMAIL_PER_DAY` across all its
/// claims (sub-addresses included), else
/// `CODE_DIGITS`. Counts nothing. Never a 429: the owner can always register and activate
/// (contract v2), while a guesser's odds drop by 10^(hardened − normal).
pub fn next_code_digits(state: &AppState, email: &Email) -> Result<u32, Error> {
    let spent = match enforce(
        state,
        Scope::WrongCode,
        Subject::Mailbox(email),
        wrong_code_limit(state),
        false,
    ) {
        Ok(()) => false,
        Err(Error::RateLimited { .. }) => true,
        Err(other) => return Err(other),
    };
    Ok(state.config.claims.code_lengths.for_next_code(spent))
}

/// Counts one wrong code against the daily budget of `email`'s mailbox: `me+1@…`, `me+2@…` and
/// `me@…` share one budget, so sub-addresses cannot multiply the short-code guesses.
pub fn count_wrong_code(state: &AppState, email: &Email) -> Result<(), Error> {
    let limit = wrong_code_limit(state);
    record(state, Scope::WrongCode, Subject::Mailbox(email), limit)
}

/// A failed password check counted before the password is hashed: [`Reservation::settle`]
/// keeps it for a wrong password and gives it back otherwise (right, or never judged).
///
/// Why reserve first: a budget checked before bcrypt and counted after it lets every request that
/// checked it while the others were hashing through, so with 8 hashing threads a burst of 30
/// got 17 wrong passwords evaluated under a limit of 10. Counted first, at most
/// `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR` passwords per account are ever evaluated per rolling
/// hour, however many run at once (contract v3; OWASP ASVS 5.0 V6.3.1).
#[must_use = "a right password gives its reservation back"]
pub struct Reservation {
    email: Option<Email>,
    bucket_start: i64,
}

impl Reservation {
    /// Reserves nothing: for an email that does not parse (no account can be guessed at).
    pub fn nothing() -> Reservation {
        Reservation { email: None, bucket_start: 0 }
    }

    /// Keeps the reserved failure when `password_was_wrong`, else gives it back (the password was
    /// right, or no password was judged because the database or a bcrypt thread failed). A
    /// database error while giving it back is logged: the request stands, and the account's
    /// budget shows one failure too many for an hour.
    pub fn settle(self, state: &AppState, password_was_wrong: bool) {
        if password_was_wrong {
            return;
        }
        let Some(email) = self.email else { return };
        let released = db::checkout(&state.pool).and_then(|mut client| {
            release(&mut *client, Scope::LoginFailure, Subject::Email(&email), self.bucket_start)
        });
        if let Err(e) = released {
            log::error("rate_limit_release_failed", json!({"error": e.to_string()}));
        }
    }
}

/// `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR`: counts one failure for `email` before its password is
/// checked (see [`Reservation`]); 429 once the budget is used up, so while limited even the right
/// password gets 429. Counted for unknown emails too: 429 tells nothing about which exist.
pub fn reserve_login_attempt(state: &AppState, email: &Email) -> Result<Reservation, Error> {
    let limit = login_limit(state);
    if !limit.is_on() {
        return Ok(Reservation::nothing());
    }
    let mut client = db::checkout(&state.pool)?;
    let decision = check(&mut *client, Scope::LoginFailure, Subject::Email(email), limit, true)?;
    if !decision.allowed {
        return Err(Error::RateLimited { retry_after_seconds: decision.retry_after_seconds });
    }
    Ok(Reservation { email: Some(email.clone()), bucket_start: decision.bucket_start })
}

/// The login-failure budget of `email` (`LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR`), checked on `q`,
/// a connection or transaction the caller holds (a request that holds a row lock must not wait
/// for a second pooled connection): 429 while `email` has used up its failures (counts nothing).
pub fn ensure_login_budget_on(
    q: &mut impl Queries,
    state: &AppState,
    email: &Email,
) -> Result<(), Error> {
    enforce_on(q, Scope::LoginFailure, Subject::Email(email), login_limit(state), false)
}

/// Counts one login failure for `email` on `q`, inside the caller's transaction: counted under
/// the same lock as the guess it records, so parallel guesses cannot overshoot the limit.
pub fn count_login_failure_on(
    q: &mut impl Queries,
    state: &AppState,
    email: &Email,
) -> Result<(), Error> {
    counted(enforce_on(q, Scope::LoginFailure, Subject::Email(email), login_limit(state), true))
}

/// The budget of wrong second-factor codes of `email`'s account, on `q` (the caller's
/// transaction, which holds the account's lock): 429 once `LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR`
/// wrong codes were tried within the rolling hour, whatever first step (password or sign-in code)
/// led to them, so the sign-in code adds no guesses at the second factor. With `count`, one wrong
/// code is counted (a used-up budget is then not an error: the count stops at the limit).
pub fn second_factor_budget_on(
    q: &mut impl Queries,
    state: &AppState,
    email: &Email,
    count: bool,
) -> Result<(), Error> {
    let outcome =
        enforce_on(q, Scope::SecondFactor, Subject::Email(email), login_limit(state), count);
    if count { counted(outcome) } else { outcome }
}

/// Counts one try at a sign-in code for `email`, known or not, inside the caller's transaction.
/// Never refused, whatever the count: it is there so that every verification writes alike (see
/// `features::sign_in_code::flow::verify`), and it leaves operators a per-email count in `rate_limits`.
pub fn count_sign_in_code_try(q: &mut impl Queries, email: &Email) -> Result<(), Error> {
    let limit = Limit::per_hour(u32::MAX);
    check(q, Scope::SignInCodeTry, Subject::Email(email), limit, true).map(drop)
}

fn login_limit(state: &AppState) -> Limit {
    Limit::per_hour(state.config.limits.login_failures_per_hour)
}

/// Counts one event for `subject`; the budget being used up is not an error here (the count simply
/// stops at the limit), only database errors are.
fn record(state: &AppState, scope: Scope, subject: Subject<'_>, limit: Limit) -> Result<(), Error> {
    counted(enforce(state, scope, subject, limit, true))
}

/// A counted event's outcome: a used-up budget only means the count stopped at the limit.
fn counted(outcome: Result<(), Error>) -> Result<(), Error> {
    match outcome {
        Err(Error::RateLimited { .. }) => Ok(()),
        other => other,
    }
}

fn mail_limit(state: &AppState) -> Limit {
    Limit::per_hour(state.config.limits.email_per_hour)
}

fn wrong_code_limit(state: &AppState) -> Limit {
    Limit::per_day(state.config.limits.wrong_codes_per_email_per_day)
}

fn enforce(
    state: &AppState,
    scope: Scope,
    subject: Subject<'_>,
    limit: Limit,
    consume: bool,
) -> Result<(), Error> {
    if !limit.is_on() {
        return Ok(());
    }
    enforce_on(&mut *db::checkout(&state.pool)?, scope, subject, limit, consume)
}

fn enforce_on(
    q: &mut impl Queries,
    scope: Scope,
    subject: Subject<'_>,
    limit: Limit,
    consume: bool,
) -> Result<(), Error> {
    if !limit.is_on() {
        return Ok(());
    }
    let decision = check(q, scope, subject, limit, consume)?;
    if decision.allowed {
        Ok(())
    } else {
        Err(Error::RateLimited { retry_after_seconds: decision.retry_after_seconds })
    }
}
