//! The connection pool, with validation that costs nothing while the database is healthy.
//!
//! Pinging every connection on checkout (r2d2's `test_on_check_out` with r2d2_postgres) adds a
//! round trip to every request. Not pinging means that after a database restart each stale pooled
//! connection fails one request before r2d2 discards it. Instead, every connection remembers the
//! *generation* it was last known good in; any connection-level failure bumps the generation, and
//! only connections from an older generation are pinged on their next checkout. Steady state: no
//! extra round trip. After an outage: one failed request, then every stale connection is checked
//! (and replaced) before use.

use postgres::types::ToSql;
use postgres::{Client, GenericClient, NoTls, Row, Statement, Transaction};
use r2d2_postgres::PostgresConnectionManager;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Marks every pooled connection as suspect: each is pinged before its next use.
fn note_connection_failure() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// r2d2 manager wrapping r2d2_postgres's with the generation check.
pub struct Manager(pub PostgresConnectionManager<NoTls>);

/// A pooled client, the generation it was last known good in, and the statements prepared on it.
///
/// Every statement of the store is a `&'static str` prepared once per connection and then run with
/// one round trip (Bind/Execute); an unprepared query would cost a second round trip (Parse and
/// Describe) every time.
pub struct Connection {
    client: Client,
    generation: u64,
    statements: StatementCache,
}

/// Statements prepared on one connection, keyed by the address of their `'static` SQL text.
#[derive(Default)]
pub struct StatementCache(HashMap<(usize, usize), Statement>);

impl StatementCache {
    fn get(
        &mut self,
        client: &mut impl GenericClient,
        sql: &'static str,
    ) -> Result<Statement, postgres::Error> {
        let key = (sql.as_ptr() as usize, sql.len());
        if let Some(statement) = self.0.get(&key) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql)?;
        self.0.insert(key, statement.clone());
        Ok(statement)
    }
}

/// Runs cached statements: implemented by a pooled connection and by a transaction on one.
pub trait Queries {
    /// What the statements run on.
    type Client: GenericClient;

    /// The statement cache and the client, borrowed together.
    fn parts(&mut self) -> (&mut StatementCache, &mut Self::Client);

    /// At most one row.
    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<Row>, postgres::Error> {
        let (cache, client) = self.parts();
        let statement = cache.get(client, sql)?;
        client.query_opt(&statement, params)
    }

    /// Every row.
    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        let (cache, client) = self.parts();
        let statement = cache.get(client, sql)?;
        client.query(&statement, params)
    }

    /// Exactly one row.
    fn query_one(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, postgres::Error> {
        let (cache, client) = self.parts();
        let statement = cache.get(client, sql)?;
        client.query_one(&statement, params)
    }

    /// Rows affected.
    fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<u64, postgres::Error> {
        let (cache, client) = self.parts();
        let statement = cache.get(client, sql)?;
        client.execute(&statement, params)
    }
}

impl Queries for Connection {
    type Client = Client;

    fn parts(&mut self) -> (&mut StatementCache, &mut Client) {
        (&mut self.statements, &mut self.client)
    }
}

/// A transaction on a pooled connection that can still use the connection's statement cache.
pub struct Tx<'a> {
    tx: Transaction<'a>,
    statements: &'a mut StatementCache,
}

impl Tx<'_> {
    /// Commits.
    pub fn commit(self) -> Result<(), postgres::Error> {
        self.tx.commit()
    }
}

impl<'a> Queries for Tx<'a> {
    type Client = Transaction<'a>;

    fn parts(&mut self) -> (&mut StatementCache, &mut Transaction<'a>) {
        (self.statements, &mut self.tx)
    }
}

impl Connection {
    /// One `SELECT 1` round trip (`GET /health`).
    pub fn ping(&mut self) -> Result<(), postgres::Error> {
        self.client.simple_query("SELECT 1").map(|_| ())
    }

    /// Runs `sql` without the statement cache: PostgreSQL plans it for these parameter values
    /// (one more round trip). For the few searches whose best plan depends on which filters are
    /// given (the admin's account list), where a cached generic plan would scan the table.
    pub fn query_planned(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, postgres::Error> {
        self.client.query(sql, params)
    }

    /// Begins a transaction (rolled back if dropped without [`Tx::commit`]).
    pub fn begin(&mut self) -> Result<Tx<'_>, postgres::Error> {
        Ok(Tx { tx: self.client.transaction()?, statements: &mut self.statements })
    }
}

impl r2d2::ManageConnection for Manager {
    type Connection = Connection;
    type Error = postgres::Error;

    fn connect(&self) -> Result<Connection, postgres::Error> {
        let generation = GENERATION.load(Ordering::Relaxed);
        Ok(Connection {
            client: self.0.connect()?,
            generation,
            statements: StatementCache::default(),
        })
    }

    fn is_valid(&self, connection: &mut Connection) -> Result<(), postgres::Error> {
        let current = GENERATION.load(Ordering::Relaxed);
        if connection.generation != current {
            connection.client.simple_query("")?;
            connection.generation = current;
        }
        Ok(())
    }

    /// Called by r2d2 as each connection comes back: a closed one is discarded, and every other
    /// pooled connection becomes suspect (pinged before its next use).
    fn has_broken(&self, connection: &mut Connection) -> bool {
        let broken = connection.client.is_closed();
        if broken {
            note_connection_failure();
        }
        broken
    }
}
