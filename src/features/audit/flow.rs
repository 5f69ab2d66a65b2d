//! Reading the audit trail: an administrator's view of every event, an owner's of their own.

use super::sql::{self, Event, EventFilter};
use crate::app::AppState;
use crate::db::{self, page};
use crate::domain::SessionRef;
use crate::error::Error;
use crate::features::account::sql as account_sql;

/// A page of audit events (newest first) and the cursor of the next.
pub fn events(
    state: &AppState,
    filter: &EventFilter,
    limit: i64,
) -> Result<(Vec<Event>, Option<i64>), Error> {
    let events = sql::list(&mut *db::checkout(&state.pool)?, filter, limit + 1)?;
    Ok(page(events, limit, |e| e.id))
}

/// The caller's own events (`GET /me/events`). Errors: 401.
pub fn own_events(
    state: &AppState,
    session: &SessionRef,
    before: Option<i64>,
    limit: i64,
) -> Result<(Vec<Event>, Option<i64>), Error> {
    let mut client = db::checkout(&state.pool)?;
    let account = account_sql::account_of(&mut client, session)?.ok_or(Error::InvalidToken)?;
    drop(client);
    let filter = EventFilter { account_id: Some(account.account_id), action: None, before };
    events(state, &filter, limit)
}
