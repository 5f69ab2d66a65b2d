//! `/me/passkeys`: adding a passkey to the signed-in account (options, then the authenticator's
//! response), listing, renaming and removing them. Signing in with one is in `sign_in.rs`.

use super::sql::ceremonies::{self, Purpose};
use super::sql::{self, Deleted, PasskeyInfo};
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::passkey::{CEREMONY_TTL_SECONDS, MAX_PASSKEYS, MIN_CREDENTIAL_ID_BYTES};
use crate::domain::{
    AuditAction, CeremonyToken, PasskeyName, SessionRef, UserEvent, UserEventType,
};
use crate::error::Error;
use crate::features::account::flow as account;
use crate::features::account::sql as account_sql;
use crate::mail::{Notice, NoticeKind};
use crate::uow::{Subject, UnitOfWork};
use serde_json::{Value, json};

/// A ceremony started: the handle to send back, and the options for the browser.
pub struct Options {
    /// Names the ceremony's state, kept server-side.
    pub ceremony: CeremonyToken,
    /// `publicKey` for `navigator.credentials.create()` / `.get()` (WebAuthn JSON form).
    pub public_key: Value,
}

/// Starts adding a passkey after checking the password (as every change of how one signs in
/// does): creation options for a discoverable credential with user verification, excluding the
/// account's passkeys, and a ceremony that answers once within `CEREMONY_TTL_SECONDS`.
///
/// Errors: 401, 403 [`Error::WrongPassword`] (counted as a failed login), 409
/// [`Error::TooManyPasskeys`], 429, 503.
pub fn registration_options(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    password: Option<&str>,
) -> Result<Options, Error> {
    let (account, email) = account::confirm(state, ctx, session, password)?;
    let mut fresh = [0u8; 16];
    getrandom::fill(&mut fresh)?;
    let mut client = db::checkout(&state.pool)?;
    let basis = sql::registration_basis(&mut client, account.account_id, &fresh)?
        .ok_or(Error::InvalidToken)?; // deleted while its password was checked
    if basis.credential_ids.len() >= MAX_PASSKEYS {
        return Err(Error::TooManyPasskeys);
    }
    let user_handle: [u8; 16] =
        basis.user_handle.try_into().map_err(|_| Error::internal("a user handle of 16 bytes"))?;
    let name = email.as_str();
    let exclude = basis.credential_ids;
    let started = state.relying_party.start_registration(user_handle, name, name, exclude)?;
    let ceremony = CeremonyToken::generate()?;
    let owner = Some((account.account_id, &user_handle[..]));
    let (purpose, ttl) = (Purpose::Register, CEREMONY_TTL_SECONDS);
    if !ceremonies::create_ceremony(&mut client, &ceremony, purpose, owner, &started.state, ttl)? {
        return Err(Error::InvalidToken); // deleted meanwhile
    }
    Ok(Options { ceremony, public_key: started.public_key })
}

/// Finishes adding a passkey: the ceremony (this account's, unexpired) is spent whatever the
/// response is; a response that verifies becomes a passkey named `name` (default: the device
/// the browser says it is), recorded in the audit trail and told to the owner by mail.
///
/// Errors: 400 [`Error::InvalidPasskey`] (one body for every failure), 401, 503.
pub fn register(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    ceremony: Option<&CeremonyToken>,
    response: &Value,
    name: PasskeyName,
) -> Result<PasskeyInfo, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let (account_id, email) =
        account_sql::lock_account_and_email(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let taken = match ceremony {
        Some(token) => {
            ceremonies::take_ceremony(uow.tx(), token, Purpose::Register, Some(account_id))?
        }
        None => None,
    };
    let verified = taken.as_ref().and_then(|c| {
        let passkey = state.relying_party.finish_registration(response, &c.state)?;
        let long_enough = passkey.credential_id.len() >= MIN_CREDENTIAL_ID_BYTES;
        long_enough.then(|| c.user_handle.clone()).flatten().map(|handle| (passkey, handle))
    });
    let Some((passkey, user_handle)) = verified else {
        uow.commit(state)?; // the ceremony is spent
        return Err(Error::InvalidPasskey);
    };
    let (id, stored) = (&passkey.credential_id, &passkey.stored);
    let inserted = sql::insert(uow.tx(), account_id, id, &user_handle, name.as_str(), stored)?;
    let Some(info) = inserted else {
        uow.commit(state)?;
        return Err(Error::InvalidPasskey); // that authenticator's key is registered already
    };
    let details = json!({ "passkey_id": info.id, "name": info.name });
    uow.record_with(
        Subject::Account(account_id),
        Some(account_id),
        AuditAction::PasskeyAdded,
        details,
    );
    uow.notify(Notice::new(&email, NoticeKind::PasskeyAdded { name: info.name.clone() }));
    let event = UserEvent::new(UserEventType::MfaChanged, account_id, email.as_str());
    uow.publish(event.with(json!({ "factor": "passkey", "change": "added" })));
    uow.commit(state)?;
    Ok(info)
}

/// The account's passkeys, oldest first. Errors: 401, 503.
pub fn list(state: &AppState, session: &SessionRef) -> Result<Vec<PasskeyInfo>, Error> {
    sql::list(&mut *db::checkout(&state.pool)?, session)?.ok_or(Error::InvalidToken)
}

/// Renames one of the account's passkeys. Errors: 401, 404 [`Error::NotFound`], 503.
pub fn rename(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    id: i64,
    name: &PasskeyName,
) -> Result<PasskeyInfo, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let (account_id, _) =
        account_sql::lock_account_and_email(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let renamed = sql::rename(uow.tx(), account_id, id, name.as_str())?.ok_or(Error::NotFound)?;
    uow.commit(state)?;
    Ok(renamed)
}

/// Removes one of the account's passkeys, recorded and told to the owner by mail.
///
/// Errors: 401, 404 [`Error::NotFound`] (not one of the caller's), 409
/// [`Error::LastSignInMethod`] (nothing else could sign in: contract v3), 503.
pub fn delete(state: &AppState, ctx: &Context, session: &SessionRef, id: i64) -> Result<(), Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let (account_id, email) =
        account_sql::lock_account_and_email(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let name = match sql::delete(uow.tx(), account_id, id)? {
        Deleted::Deleted { name } => name,
        Deleted::NotFound => return Err(Error::NotFound),
        Deleted::LastSignInMethod => return Err(Error::LastSignInMethod),
    };
    let details = json!({ "passkey_id": id, "name": name });
    let subject = Subject::Account(account_id);
    uow.record_with(subject, Some(account_id), AuditAction::PasskeyRemoved, details);
    uow.notify(Notice::new(&email, NoticeKind::PasskeyRemoved { name }));
    let event = UserEvent::new(UserEventType::MfaChanged, account_id, email.as_str());
    uow.publish(event.with(json!({ "factor": "passkey", "change": "removed" })));
    uow.commit(state)
}
