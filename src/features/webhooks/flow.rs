//! The administrators' view of webhook deliveries: a page of them by status, and a retry.

use super::sql::{self, Delivery, Retried};
use crate::app::AppState;
use crate::db::{self, page};
use crate::error::Error;

/// A page of deliveries with `status` (`pending`, `delivered` or `failed`) after id `after`, and
/// the cursor of the next page (the caller is an administrator). Errors: 503.
pub fn list(
    state: &AppState,
    status: &str,
    after: Option<i64>,
    limit: i64,
) -> Result<(Vec<Delivery>, Option<i64>), Error> {
    let rows = sql::list(&mut *db::checkout(&state.pool)?, status, after, limit + 1)?;
    Ok(page(rows, limit, |d| d.id))
}

/// Makes failed delivery `id` pending again with a fresh set of `WEBHOOK_MAX_ATTEMPTS` attempts,
/// due at once, and wakes the senders (the caller is an administrator). Errors: 404, 409
/// [`Error::DeliveryNotFailed`], 503.
pub fn retry(state: &AppState, id: i64) -> Result<(), Error> {
    match sql::retry(&mut *db::checkout(&state.pool)?, id)? {
        Retried::Queued => {
            state.wake_webhook_senders();
            Ok(())
        }
        Retried::NotFailed(_) => Err(Error::DeliveryNotFailed),
        Retried::Missing => Err(Error::NotFound),
    }
}
