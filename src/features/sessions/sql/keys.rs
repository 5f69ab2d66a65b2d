//! SQL of the `signing_keys` table: the public halves of the keys that sign access tokens.

use crate::db::pool::{Connection, Queries};
use crate::error::Error;

/// Lists `kid` until `for_seconds` from now (or later, if it already is): called at start and by
/// the reaper while the key signs.
pub fn register(
    client: &mut Connection,
    kid: &str,
    public_key: &[u8; 32],
    for_seconds: u32,
) -> Result<(), Error> {
    client.execute(
        "INSERT INTO signing_keys (kid, public_key, listed_until)
         VALUES ($1, $2, now() + make_interval(secs => $3))
         ON CONFLICT (kid) DO UPDATE
            SET listed_until = greatest(signing_keys.listed_until, EXCLUDED.listed_until)",
        &[&kid, &public_key.as_slice(), &f64::from(for_seconds)],
    )?;
    Ok(())
}

/// Every listed key, `(kid, public key)`, longest listed first.
pub fn listed(client: &mut Connection) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let rows = client.query(
        "SELECT kid, public_key FROM signing_keys WHERE listed_until > now()
          ORDER BY listed_until DESC",
        &[],
    )?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

/// The public key of `kid`, if it is listed.
pub fn find(client: &mut Connection, kid: &str) -> Result<Option<Vec<u8>>, Error> {
    let row = client.query_opt(
        "SELECT public_key FROM signing_keys WHERE kid = $1 AND listed_until > now()",
        &[&kid],
    )?;
    Ok(row.map(|r| r.get(0)))
}

/// Deletes keys no longer listed for a day (reaper). Returns how many.
pub fn delete_retired(client: &mut Connection) -> Result<u64, Error> {
    Ok(client
        .execute("DELETE FROM signing_keys WHERE listed_until < now() - interval '1 day'", &[])?)
}
