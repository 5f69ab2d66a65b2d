//! `POST /login/passkey/options` and `POST /login/passkey`: signing in with a passkey, without a
//! username (the authenticator offers the discoverable credentials it holds for this relying
//! party) and without a password. User verification is required, so the passkey is a complete
//! second factor: no TOTP step follows (`amr` [`PASSKEY_AMR`]).

use super::flow::Options;
use super::sql;
use super::sql::ceremonies::{self, Purpose};
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::AuditAction;
use crate::domain::CeremonyToken;
use crate::domain::passkey::{CEREMONY_TTL_SECONDS, PASSKEY_AMR};
use crate::error::Error;
use crate::features::sessions::tokens::{self, NewSession, TokenPair};
use crate::security::webauthn::{Assertion, Refusal};
use crate::telemetry::log;
use crate::uow::{Subject, UnitOfWork};
use serde_json::{Value, json};

/// Request options for a usernameless sign-in and the ceremony that answers once within
/// `CEREMONY_TTL_SECONDS`. Errors: 503.
pub fn options(state: &AppState) -> Result<Options, Error> {
    let started = state.relying_party.start_sign_in()?;
    let ceremony = CeremonyToken::generate()?;
    let mut client = db::checkout(&state.pool)?;
    let ttl = CEREMONY_TTL_SECONDS;
    ceremonies::create_ceremony(
        &mut client,
        &ceremony,
        Purpose::SignIn,
        None,
        &started.state,
        ttl,
    )?;
    Ok(Options { ceremony, public_key: started.public_key })
}

/// Signs in with the authenticator's `response` to the ceremony `ceremony`: a new session with
/// `amr` [`PASSKEY_AMR`], whether or not TOTP is on.
///
/// One transaction: the ceremony is taken (spent whatever follows), the passkey's account
/// locked, then the passkey read, so parallel sign-ins with one passkey queue and each sees the
/// counter the one before stored. The response must name the passkey's user handle, and
/// webauthn-rs checks challenge, origin, rpIdHash, the UP and UV flags, the signature and the
/// counter. A counter that went back refuses the sign-in and is recorded
/// (`passkey_counter_regressed`, logged as a warning): the key may have been copied.
///
/// Errors: 401 [`Error::PasskeyFailed`] for every failure (one body), 403
/// [`Error::AccountDisabled`] after a valid assertion for a disabled account, 503.
pub fn sign_in(
    state: &AppState,
    ctx: &Context,
    ceremony: Option<&CeremonyToken>,
    response: &Value,
    user_agent: Option<&str>,
) -> Result<TokenPair, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let taken = match ceremony {
        Some(token) => ceremonies::take_ceremony(uow.tx(), token, Purpose::SignIn, None)?,
        None => None,
    };
    let (Some(taken), Some(assertion)) = (taken, Assertion::parse(response)) else {
        uow.commit(state)?; // a ceremony presented is spent
        return Err(Error::PasskeyFailed);
    };
    let Some(account) = sql::lock_account(uow.tx(), assertion.credential_id())? else {
        uow.commit(state)?;
        return Err(Error::PasskeyFailed);
    };
    let id = account.account_id;
    let stored = sql::read(uow.tx(), id, assertion.credential_id())?
        .filter(|p| assertion.user_handle() == Some(p.user_handle.as_slice()));
    let Some(passkey) = stored else {
        uow.commit(state)?;
        return Err(Error::PasskeyFailed);
    };
    let verified =
        state.relying_party.finish_sign_in(&assertion, &taken.state, &passkey.credential);
    let updated = match verified {
        Ok(updated) => updated,
        Err(refusal) => {
            // The counter is checked only after the signature: that event is the key holder's.
            // Other failures are recorded nowhere, as credential IDs are not secret: anyone could
            // otherwise fill the owner's trail with failures.
            if refusal == Refusal::CounterRegressed {
                let fields = json!({ "account_id": id, "passkey_id": passkey.id });
                log::error("passkey_counter_regressed", fields);
                let details = json!({ "passkey_id": passkey.id });
                let action = AuditAction::PasskeyCounterRegressed;
                uow.record_with(Subject::Account(id), None, action, details);
            }
            uow.commit(state)?;
            return Err(Error::PasskeyFailed);
        }
    };
    if account.disabled {
        uow.commit(state)?; // the ceremony is spent
        return Err(Error::AccountDisabled);
    }
    sql::record_use(uow.tx(), passkey.id, &updated)?;
    let new = NewSession { account_id: id, credential_version: account.credential_version };
    let (issued, refresh_token) = tokens::start(&mut uow, state, new, &PASSKEY_AMR, user_agent)?
        .ok_or(Error::PasskeyFailed)?;
    let details = json!({ "passkey_id": passkey.id, "session_id": issued.session_id });
    uow.record_with(Subject::Account(id), Some(id), AuditAction::PasskeyUsed, details);
    uow.commit(state)?;
    Ok(tokens::pair(state, &issued, refresh_token))
}
