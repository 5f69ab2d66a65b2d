//! `GET /me`, `PATCH /me`, `POST /me/password`, `DELETE /me`: the account behind a session.

use super::{AppState, credentials, limits};
use crate::domain::{DisplayName, Email, Password, Profile, SessionRef};
use crate::error::Error;
use crate::hashing;
use crate::mail::{Message, account_deleted_message, password_changed_message};
use crate::store::{self, sessions::SessionAccount};
use serde_json::json;

/// The session's profile. Errors: 401 [`Error::InvalidToken`].
pub fn profile(state: &AppState, session: &SessionRef) -> Result<Profile, Error> {
    store::sessions::profile(&mut *store::checkout(&state.pool)?, session)?
        .ok_or(Error::InvalidToken)
}

/// Sets or clears the display name; returns the new profile. Errors: 401.
pub fn update_display_name(
    state: &AppState,
    session: &SessionRef,
    display_name: Option<&DisplayName>,
) -> Result<Profile, Error> {
    let name = display_name.map(DisplayName::as_str);
    store::accounts::update_display_name(&mut *store::checkout(&state.pool)?, session, name)?
        .ok_or(Error::InvalidToken)
}

/// Changes the password after checking the current one; every other session is revoked in the
/// same statement, then a notice is mailed (a failed notice is logged, the change stands).
///
/// Errors: 401 (also when another change committed between the check and this one), 403
/// [`Error::WrongPassword`] (counts as a login failure), 429.
pub fn change_password(
    state: &AppState,
    session: &SessionRef,
    current: &str,
    new: &Password,
) -> Result<(), Error> {
    let (account, email) = confirm(state, session, current)?;
    let new_hash = hashing::hash(new, state.config.bcrypt_cost)?;
    let mut client = store::checkout(&state.pool)?;
    let (id, version) = (account.account_id, account.credential_version);
    if !store::accounts::change_password(&mut client, id, version, &new_hash, session.id)? {
        return Err(Error::InvalidToken); // changed meanwhile: this session is no longer valid
    }
    drop(client);
    notify(state, &password_changed_message(&email), "password_changed");
    Ok(())
}

/// Deletes the account and all its sessions after checking the password, then mails a
/// confirmation. The email can be registered again at once. Errors: 401 (also when the password
/// changed between the check and the deletion), 403, 429.
pub fn delete(state: &AppState, session: &SessionRef, password: &str) -> Result<(), Error> {
    let (account, email) = confirm(state, session, password)?;
    let (id, version) = (account.account_id, account.credential_version);
    let mut client = store::checkout(&state.pool)?;
    let mut tx = client.begin()?;
    // The last enabled administrator cannot leave the service without one.
    if store::admin::lock_target(&mut tx, id)?.is_some_and(|t| t.last_admin) {
        return Err(Error::LastAdmin);
    }
    if !store::accounts::delete_account(&mut tx, id, Some(version), None)? {
        return Err(Error::InvalidToken); // password changed or account deleted meanwhile
    }
    tx.commit()?;
    drop(client);
    notify(state, &account_deleted_message(&email), "account_deleted");
    Ok(())
}

/// The session's account, once its password is confirmed. A wrong password counts against the
/// same budget as failed logins (a stolen token must not become a password oracle), reserved
/// before bcrypt runs and given back when the password is right, so parallel re-checks cannot
/// overshoot it (see [`limits::Reservation`]).
///
/// Errors: 401 [`Error::InvalidToken`] (also when the account was deleted while its password was
/// being checked: answered as if the token were already dead, never 500), 403
/// [`Error::WrongPassword`], 429.
pub(super) fn confirm(
    state: &AppState,
    session: &SessionRef,
    password: &str,
) -> Result<(SessionAccount, Email), Error> {
    let account = store::sessions::account_of(&mut *store::checkout(&state.pool)?, session)?
        .ok_or(Error::InvalidToken)?;
    let email = Email::parse(&account.email)
        .map_err(|_| Error::Internal("stored email does not parse".into()))?;
    let reservation = limits::reserve_login_attempt(state, &email)?;
    let (id, hash) = (account.account_id, &account.password_hash);
    match credentials::check_password(state, id, password, hash) {
        Ok(false) => {}
        Ok(true) => {
            reservation.release(state);
            return Ok((account, email));
        }
        Err(e) => {
            reservation.release(state); // no password was judged
            return Err(e);
        }
    }
    let id = Some(account.account_id);
    let mut client = store::checkout(&state.pool)?;
    if !store::audit::record(&mut *client, id, id, "wrong_password", None)? {
        return Err(Error::InvalidToken); // the account is gone: so is the token
    }
    Err(Error::WrongPassword)
}

/// Mails a notice after a committed change; failure is logged and does not undo the change.
fn notify(state: &AppState, message: &Message, kind: &str) {
    if let Err(e) = state.mailer.send(message) {
        crate::log::error("mail_failed", json!({"kind": kind, "error": e.to_string()}));
    }
}
