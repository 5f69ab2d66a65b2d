//! SQL of the `signing_keys` table: the public halves of the keys that sign access tokens.

use super::pool::{Connection, Queries};
use crate::error::Error;

/// Lists `kid` (or marks it used now): called at start and by the reaper while the key signs.
pub fn register(client: &mut Connection, kid: &str, public_key: &[u8; 32]) -> Result<(), Error> {
    client.execute(
        "INSERT INTO signing_keys (kid, public_key) VALUES ($1, $2)
         ON CONFLICT (kid) DO UPDATE SET last_used = now()",
        &[&kid, &public_key.as_slice()],
    )?;
    Ok(())
}

/// Every key that signed within the last `window_seconds` (so a token it signed may still be
/// valid): `(kid, public key)`, newest first.
pub fn listed(
    client: &mut Connection,
    window_seconds: u32,
) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let rows = client.query(
        "SELECT kid, public_key FROM signing_keys
          WHERE last_used > now() - make_interval(secs => $1) ORDER BY last_used DESC",
        &[&f64::from(window_seconds)],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The public key of `kid`, if it signed within the last `window_seconds`.
pub fn find(
    client: &mut Connection,
    kid: &str,
    window_seconds: u32,
) -> Result<Option<Vec<u8>>, Error> {
    let row = client.query_opt(
        "SELECT public_key FROM signing_keys
          WHERE kid = $1 AND last_used > now() - make_interval(secs => $2)",
        &[&kid, &f64::from(window_seconds)],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Deletes keys unused for more than `window_seconds` (reaper). Returns how many.
pub fn delete_retired(client: &mut Connection, window_seconds: u32) -> Result<u64, Error> {
    Ok(client.execute(
        "DELETE FROM signing_keys WHERE last_used <= now() - make_interval(secs => $1)",
        &[&f64::from(window_seconds)],
    )?)
}
