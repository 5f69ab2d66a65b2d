//! Gathering a person's own data from the features that keep it: the profile, the sessions, the
//! passkeys (names and dates, never key material), the linked identities and the audit events.
//! Never a password hash, a code, a token or a secret: those are not the person's data but the
//! means to check it, and none is stored in a form worth exporting.

use crate::app::AppState;
use crate::db;
use crate::domain::{Profile, SessionRef};
use crate::error::Error;
use crate::features::account::flow as account;
use crate::features::audit::sql::{self as audit_sql, Event, EventFilter};
use crate::features::identities::sql::{self as identities_sql, IdentityInfo};
use crate::features::passkeys::sql::{self as passkeys_sql, PasskeyInfo};
use crate::features::sessions::sql::{self as sessions_sql, SessionInfo};

/// Events are read in pages of this many, until none is left (the reaper keeps
/// `AUDIT_RETENTION_DAYS` of them).
const EVENT_PAGE: i64 = 1000;

/// Everything kept about one account.
#[derive(Debug)]
pub struct Export {
    /// As `GET /me` shows it.
    pub profile: Profile,
    /// Live sessions, oldest first.
    pub sessions: Vec<SessionInfo>,
    /// Passkeys, oldest first (no key material).
    pub passkeys: Vec<PasskeyInfo>,
    /// Linked provider identities, oldest first.
    pub identities: Vec<IdentityInfo>,
    /// The account's audit events, newest first.
    pub events: Vec<Event>,
}

/// The caller's [`Export`]. Errors: 401 [`Error::InvalidToken`], 503.
pub fn export(state: &AppState, session: &SessionRef) -> Result<Export, Error> {
    let profile = account::profile(state, session)?;
    let mut client = db::checkout(&state.pool)?;
    let sessions = sessions_sql::list(&mut client, session)?;
    let passkeys = passkeys_sql::list(&mut client, session)?.ok_or(Error::InvalidToken)?;
    let identities = identities_sql::list(&mut client, session)?.ok_or(Error::InvalidToken)?;
    let mut events = Vec::new();
    loop {
        let before = events.last().map(|e: &Event| e.id);
        let filter = EventFilter { account_id: Some(session.account_id), action: None, before };
        let page = audit_sql::list(&mut client, &filter, EVENT_PAGE)?;
        let more = page.len() as i64 == EVENT_PAGE;
        events.extend(page);
        if !more {
            break;
        }
    }
    Ok(Export { profile, sessions, passkeys, identities, events })
}
