//! SQL of `webauthn_ceremonies`: a ceremony's state between its options and the
//! authenticator's response, single-use and shared by every instance.

use crate::db::pool::{Connection, Queries, Tx};
use crate::domain::CeremonyToken;
use crate::error::Error;

/// Which ceremony a handle opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Adding a passkey to the signed-in account.
    Register,
    /// Signing in.
    SignIn,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Purpose::Register => "register",
            Purpose::SignIn => "sign_in",
        }
    }
}

/// Stores a ceremony's `state` under the SHA-256 of `token` for `ttl_seconds`; a registration
/// names its account and user handle, and is stored only while that account exists (read `FOR
/// KEY SHARE`: a deletion racing it waits or has happened). False: the account is gone.
pub fn create_ceremony(
    client: &mut Connection,
    token: &CeremonyToken,
    purpose: Purpose,
    owner: Option<(i64, &[u8])>,
    state: &str,
    ttl_seconds: u32,
) -> Result<bool, Error> {
    let (account_id, user_handle) = owner.unzip();
    let stored = client.execute(
        "INSERT INTO webauthn_ceremonies
                (token_hash, purpose, account_id, user_handle, state, expires_at)
         SELECT sha256($1::bytea), $2, $3, $4, $5::text::jsonb, now() + make_interval(secs => $6)
          WHERE $3::bigint IS NULL
             OR EXISTS (SELECT 1 FROM accounts WHERE id = $3 FOR KEY SHARE)",
        &[
            &token.expose().as_bytes(),
            &purpose.as_str(),
            &account_id,
            &user_handle,
            &state,
            &f64::from(ttl_seconds),
        ],
    )?;
    Ok(stored == 1)
}

/// A ceremony taken (deleted) for its response.
#[derive(Debug)]
pub struct Ceremony {
    /// The state its options left.
    pub state: String,
    /// A registration's user handle.
    pub user_handle: Option<Vec<u8>>,
}

/// Deletes the ceremony of `token` for `purpose` (and for a registration, of `account_id`) and
/// returns it if it had not expired (database clock): whatever the response turns out to be, a
/// ceremony answers once.
pub fn take_ceremony(
    tx: &mut Tx<'_>,
    token: &CeremonyToken,
    purpose: Purpose,
    account_id: Option<i64>,
) -> Result<Option<Ceremony>, Error> {
    let row = tx.query_opt(
        "DELETE FROM webauthn_ceremonies
          WHERE token_hash = sha256($1::bytea) AND purpose = $2
            AND account_id IS NOT DISTINCT FROM $3
         RETURNING state::text, user_handle, expires_at > now()",
        &[&token.expose().as_bytes(), &purpose.as_str(), &account_id],
    )?;
    Ok(row
        .filter(|r| r.get::<_, bool>(2))
        .map(|r| Ceremony { state: r.get(0), user_handle: r.get(1) }))
}

/// Deletes expired ceremonies (the reaper); returns how many.
pub fn reap_expired(client: &mut Connection) -> Result<u64, Error> {
    Ok(client.execute("DELETE FROM webauthn_ceremonies WHERE expires_at <= now()", &[])?)
}
