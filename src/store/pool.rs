//! The connection pool, with validation that costs nothing while the database is healthy.
//!
//! Pinging every connection on checkout (r2d2's `test_on_check_out` with r2d2_postgres) adds a
//! round trip to every request. Not pinging means that after a database restart each stale pooled
//! connection fails one request before r2d2 discards it. Instead, every connection remembers the
//! *generation* it was last known good in; any connection-level failure bumps the generation, and
//! only connections from an older generation are pinged on their next checkout. Steady state: no
//! extra round trip. After an outage: one failed request, then every stale connection is checked
//! (and replaced) before use.

use postgres::{Client, NoTls};
use r2d2_postgres::PostgresConnectionManager;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};

static GENERATION: AtomicU64 = AtomicU64::new(0);

/// Marks every pooled connection as suspect: each is pinged before its next use.
pub fn note_connection_failure() {
    GENERATION.fetch_add(1, Ordering::Relaxed);
}

/// r2d2 manager wrapping r2d2_postgres's with the generation check.
pub struct Manager(pub PostgresConnectionManager<NoTls>);

/// A pooled client and the generation it was last known good in.
pub struct Connection {
    client: Client,
    generation: u64,
}

impl Deref for Connection {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client
    }
}

impl DerefMut for Connection {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client
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

    fn has_broken(&self, connection: &mut Connection) -> bool {
        connection.client.is_closed()
    }
}
