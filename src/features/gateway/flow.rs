//! The gateway check: the same checks as `GET /me` (a signature this service made, a session
//! still live in the database: a sign-out, a revocation, a password change or a disabled account
//! end it at once), and optionally a role.

use crate::app::AppState;
use crate::domain::{Profile, Role, SessionRef};
use crate::error::Error;
use crate::features::account::flow as account;

/// Who the token speaks for: what the gateway passes on to the protected service.
#[derive(Debug, Clone)]
pub struct Verified {
    /// The session the token names.
    pub session: SessionRef,
    /// The account as it is now.
    pub profile: Profile,
}

/// The session behind `session` if it is live, and, with `role`, only if the account has it.
///
/// Errors: 401 [`Error::InvalidToken`] (not live), 403 [`Error::Forbidden`] (another role), 503.
pub fn verify(
    state: &AppState,
    session: &SessionRef,
    role: Option<Role>,
) -> Result<Verified, Error> {
    let profile = account::profile(state, session)?;
    if role.is_some_and(|wanted| wanted != profile.role) {
        return Err(Error::Forbidden);
    }
    Ok(Verified { session: *session, profile })
}
