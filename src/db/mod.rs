//! The database: the pool and its statement cache ([`pool`]), connecting and applying the schema,
//! the mapping of PostgreSQL's errors, and the SQL fragments several features' statements share
//! (the columns of a profile, the predicate of a live session). Each feature's own statements
//! live in its `sql.rs`.
//!
//! Time and concurrency are decided by PostgreSQL: `now()` is the only clock, uniqueness comes
//! from constraints and `ON CONFLICT`, and each state change is one statement or one transaction
//! holding the row lock it needs.

/// A `timestamptz` column as RFC 3339 UTC text with second precision (macros so statements stay
/// `&'static str`).
macro_rules! rfc3339 {
    ($column:literal) => {
        concat!("to_char(", $column, " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')")
    };
}

/// The profile columns of account `a`, read by [`profile_from`].
macro_rules! profile_columns {
    () => {
        concat!(
            "a.email, a.display_name, ",
            rfc3339!("a.created_at"),
            ", ",
            rfc3339!("a.activated_at"),
            ", a.role, a.mfa_enabled, ",
            "(SELECT count(*) FROM recovery_codes r WHERE r.account_id = a.id), a.password_set"
        )
    };
}

/// The predicate of a live session `s` of account `a`, for `$1` = session id, `$2` = account id,
/// `$3` = the access token's `exp` (a macro so statements stay `&'static str`).
macro_rules! live_session {
    () => {
        "s.id = $1 AND s.account_id = $2 AND a.id = s.account_id AND s.expires_at > now()
         AND to_timestamp($3::bigint) > now() AND s.credential_version = a.credential_version
         AND a.disabled_at IS NULL"
    };
}

/// True when account `$1` keeps a way to sign in once row `$2` of table `$going` (`passkeys` or
/// `identities`) is gone: a password, a passkey or a provider identity (contract v3,
/// `last_sign_in_method`). The one definition for every removal that must not lock an account
/// out (a macro so statements stay `&'static str`; PostgreSQL folds the table comparison).
macro_rules! another_way_to_sign_in {
    ($going:literal) => {
        concat!(
            "(EXISTS (SELECT 1 FROM accounts WHERE id = $1 AND password_set)",
            " OR EXISTS (SELECT 1 FROM passkeys WHERE account_id = $1",
            " AND NOT ('",
            $going,
            "' = 'passkeys' AND id = $2))",
            " OR EXISTS (SELECT 1 FROM identities WHERE account_id = $1",
            " AND NOT ('",
            $going,
            "' = 'identities' AND id = $2)))"
        )
    };
}

pub mod pool;
mod schema;
mod types;

use crate::config::Config;
use crate::domain::{Profile, SessionRef};
use crate::error::{Error, chain};
use r2d2_postgres::PostgresConnectionManager;
use r2d2_postgres::postgres::{Client, NoTls};
use std::time::{Duration, Instant};

/// A [`Profile`] from a row whose first columns are [`profile_columns!`].
pub fn profile_from(row: &postgres::Row) -> Result<Profile, Error> {
    Ok(Profile {
        email: row.try_get(0)?,
        display_name: row.get(1),
        created_at: row.get(2),
        activated_at: row.get(3),
        role: row.try_get(4)?,
        totp_enabled: row.get(5),
        recovery_codes_left: row.get(6),
        password_set: row.get(7),
    })
}

/// `$1`, `$2`, `$3` of `live_session!`: the session id, its account id and the token's `exp`.
pub fn live_params(session: &SessionRef) -> [&(dyn postgres::types::ToSql + Sync); 3] {
    [&session.id, &session.account_id, &session.expires]
}

/// A keyset page from `rows` fetched with one row more than `limit`: the first `limit` rows, and
/// the id of the last of them if there is more (the next page's cursor).
pub fn page<T>(mut rows: Vec<T>, limit: i64, id: impl Fn(&T) -> i64) -> (Vec<T>, Option<i64>) {
    let more = rows.len() as i64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = if more { rows.last().map(id) } else { None };
    (rows, next)
}

/// The connection pool shared by all workers and the reaper.
pub type Pool = r2d2::Pool<pool::Manager>;

/// How long a request waits for a pooled connection (or a new one) before answering 503.
/// r2d2's default of 30 s is far too long for a request path.
const CHECKOUT_TIMEOUT: Duration = Duration::from_secs(1);

/// Connects (retrying for `DB_STARTUP_TIMEOUT_SECONDS`), brings the schema up to date
/// ([`schema::apply`]: no table lock when it already is), and builds the pool.
///
/// The pool opens connections on demand, up to `DB_POOL_SIZE`, and keeps `DB_POOL_MIN_IDLE` open
/// while idle (r2d2 would otherwise open all of them at start: three instances at the old default
/// of 20 each, plus a test run, used up PostgreSQL's default 100). Connections say
/// `application_name=beefirst` unless `DATABASE_URL` names another, so `pg_stat_activity` shows them.
///
/// Errors: a sentence for the operator when the database stayed unreachable or the schema failed.
pub fn connect(config: &Config) -> Result<Pool, String> {
    let mut pg = config.database.url.clone();
    if pg.get_connect_timeout().is_none() {
        pg.connect_timeout(CHECKOUT_TIMEOUT);
    }
    if pg.get_application_name().is_none() {
        pg.application_name("beefirst");
    }
    let mut client = connect_with_retries(&pg, config.database.startup_timeout)?;
    schema::apply(&mut client).map_err(|e| format!("applying schema.sql failed: {e}"))?;
    let manager = pool::Manager(PostgresConnectionManager::new(pg, NoTls));
    // r2d2 keeps `min_idle` connections *idle*: each one checked out opens another, up to
    // `max_size`; those above the floor close after a minute unused.
    let pool = r2d2::Pool::builder()
        .max_size(config.database.pool_size)
        .min_idle(Some(config.database.pool_min_idle))
        .idle_timeout(Some(Duration::from_secs(60)))
        .connection_timeout(CHECKOUT_TIMEOUT)
        // Cheap: only connections older than the last connection failure are pinged (pool.rs).
        .test_on_check_out(true)
        .build_unchecked(manager);
    // Its `min_idle` connections before going on, as `build` would wait for them, but for as long
    // as the start may wait for the database: `build` gives up after the 1 s checkout timeout,
    // which a slow link to PostgreSQL outlasts (the soak's 200 ms and 5 % loss ended a restarted
    // instance that way). Watching the pool's state opens nothing beyond them.
    let deadline = Instant::now() + config.database.startup_timeout;
    while pool.state().idle_connections < config.database.pool_min_idle {
        if Instant::now() >= deadline {
            return Err(format!(
                "the pool's first {} connections did not open within {} s",
                config.database.pool_min_idle,
                config.database.startup_timeout.as_secs()
            ));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(pool)
}

/// One connection, tried until `timeout` has passed: after each failed attempt one line on
/// stderr (stdout's first line is reserved for `listening`) with the server and the whole cause,
/// then a pause that grows from 0.5 s to 5 s.
fn connect_with_retries(pg: &postgres::Config, timeout: Duration) -> Result<Client, String> {
    let server = describe_server(pg);
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(500);
    loop {
        match pg.connect(NoTls) {
            Ok(client) => return Ok(client),
            Err(e) if refused_for_good(&e) => {
                let db = pg.get_dbname().unwrap_or("(default)");
                return Err(format!(
                    "the server at {server} refused database {db:?}: {} (check DATABASE_URL; \
                     `.ci/pg-up` creates the database it names)",
                    chain(&e)
                ));
            }
            Err(e) if Instant::now() + pause < deadline => {
                eprintln!(
                    "beefirst: database at {server} unreachable ({}); retrying in {:.1} s",
                    chain(&e),
                    pause.as_secs_f64()
                );
                std::thread::sleep(pause);
                pause = (pause * 2).min(Duration::from_secs(5));
            }
            Err(e) => {
                return Err(format!(
                    "database at {server} unreachable after {} s: {}",
                    timeout.as_secs(),
                    chain(&e)
                ));
            }
        }
    }
}

/// True when the server answered and refused in a way that waiting cannot mend: the database does
/// not exist, or the credentials are wrong. Anything else (refused connection, a server still
/// starting up) is worth retrying.
fn refused_for_good(error: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    error.code().is_some_and(|code| {
        [
            SqlState::INVALID_CATALOG_NAME,
            SqlState::INVALID_PASSWORD,
            SqlState::INVALID_AUTHORIZATION_SPECIFICATION,
        ]
        .contains(code)
    })
}

/// `host:port` of the (first) server in the connection string; never the password.
fn describe_server(pg: &postgres::Config) -> String {
    let host = match pg.get_hosts().first() {
        Some(postgres::config::Host::Tcp(name)) => name.clone(),
        Some(postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".into(),
    };
    format!("{host}:{}", pg.get_ports().first().copied().unwrap_or(5432))
}

/// Checks out a connection; 503 `unavailable` when none can be had within a second.
pub fn checkout(pool: &Pool) -> Result<r2d2::PooledConnection<pool::Manager>, Error> {
    pool.get().map_err(|_| Error::Unavailable)
}

/// `GET /health`: one round trip.
pub fn ping(connection: &mut pool::Connection) -> Result<(), Error> {
    Ok(connection.ping()?)
}

impl From<postgres::Error> for Error {
    /// Connection-class failures mean the database is unavailable (503): a closed connection, an
    /// I/O error, or the server's own answers of SQLSTATE class 08 (connection exception),
    /// 57P (shutdown, restart, idle timeout), 53300 (too many connections) and the transient
    /// 40P01 and 40001 (deadlock, serialization failure: retry). Anything else is a bug or
    /// an unexpected answer: a logged 500. No side effects: a broken connection is noticed by
    /// the pool when it comes back (`pool::Manager::has_broken`).
    fn from(e: postgres::Error) -> Self {
        let server_going_away = e.code().is_some_and(|c| {
            let code = c.code();
            code.starts_with("08") || code.starts_with("57P") || code == "53300"
                // deadlock detected, serialization failure: transient, worth a retry
                || code == "40P01" || code == "40001"
        });
        let io = std::error::Error::source(&e).is_some_and(|s| s.is::<std::io::Error>());
        if e.is_closed() || io || server_going_away {
            Error::Unavailable
        } else {
            Error::internal_from("postgres", e)
        }
    }
}
