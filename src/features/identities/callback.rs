//! `GET /idp/{name}/callback`: the browser back from the provider. The `state` is taken (once),
//! the code exchanged server-side and the ID token verified (`security::oidc`); then the identity
//! decides, in one transaction (OpenID Connect Core §3.1.2.5–7; OWASP's OAuth 2.0 cheat sheet):
//!
//! - linked already → signs in to its account;
//! - a link the signed-in owner asked for → a link code that only the owner's session can
//!   confirm (`POST /me/identities/confirm`);
//! - new, with a provider-verified email no account or claim holds → a new active account
//!   without a password;
//! - new, with an email an account or claim holds → `link_required`: **never linked
//!   automatically**. Whoever controls an identity at a provider whose email claim is not proof of
//!   the mailbox would otherwise take over the account of that address.
//!
//! The browser is sent back to `redirect_to` with `#login_code=` (60 s, once, exchanged by
//! `POST /idp/exchange`: tokens never appear in a URL), `#link_code=`, or `#error=`.

use super::sql::states::{self, CodeFor, Linker, TakenState};
use super::sql::{self, LinkedAccount};
use crate::app::{AppState, dummy_hash};
use crate::context::Context;
use crate::db;
use crate::domain::{AuditAction, Email, OpaqueToken, UserEvent, UserEventType};
use crate::error::Error;
use crate::security::oidc::Identity;
use crate::telemetry::log;
use crate::uow::{Subject, UnitOfWork};
use serde_json::json;

/// What the provider's redirect carried.
#[derive(Debug, Default)]
pub struct Returned {
    /// `code`.
    pub code: Option<String>,
    /// `state`.
    pub state: Option<String>,
    /// `error` (`access_denied` when the person said no).
    pub error: Option<String>,
}

/// Where the browser goes next: `redirect_to` with a fragment.
pub fn callback(
    state: &AppState,
    ctx: &Context,
    name: &str,
    returned: &Returned,
) -> Result<String, Error> {
    let provider = state.config.providers.provider(name).ok_or(Error::NotFound)?;
    let token =
        returned.state.as_deref().and_then(OpaqueToken::parse).ok_or(Error::InvalidState)?;
    let taken = states::take_state(&mut *db::checkout(&state.pool)?, &token, name)?
        .ok_or(Error::InvalidState)?;
    let back = |fragment: String| format!("{}#{fragment}", taken.redirect_to);
    if let Some(error) = &returned.error {
        let code = if error == "access_denied" { "access_denied" } else { "provider_error" };
        return Ok(back(format!("error={code}")));
    }
    let Some(code) = &returned.code else { return Ok(back("error=provider_error".into())) };
    let identity = match state.oidc.exchange(provider, code, &taken.verifier, &taken.nonce) {
        Ok(identity) => identity,
        Err(failure) => {
            log::error("provider_sign_in_failed", json!({ "provider": name, "error": failure.0 }));
            return Ok(back("error=provider_error".into()));
        }
    };
    Ok(back(settle(state, ctx, name, &taken, &identity)?))
}

/// The fragment for a verified `identity`: what it signs in to, or a link code, in one
/// transaction.
fn settle(
    state: &AppState,
    ctx: &Context,
    name: &str,
    taken: &TakenState,
    identity: &Identity,
) -> Result<String, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let subject = identity.subject.as_str();
    let linked = sql::linked_account(uow.tx(), name, subject)?;
    let account = match (taken.linker, linked) {
        (Some(linker), Some(linked)) => {
            uow.commit(state)?;
            let mine = linked.account_id == linker.account_id;
            return Ok(if mine { format!("linked={name}") } else { "error=already_linked".into() });
        }
        (Some(linker), None) => return link_code(state, uow, linker, name, taken, identity),
        (None, Some(linked)) => linked,
        (None, None) => match create(state, &mut uow, name, identity)? {
            Made::Account(made) => made,
            Made::Refused(fragment) => {
                uow.commit(state)?;
                return Ok(fragment.into());
            }
            Made::Raced => return Ok("error=provider_error".into()), // rolled back: try again
        },
    };
    if account.disabled {
        uow.commit(state)?;
        return Ok("error=account_disabled".into());
    }
    issue_code(state, uow, account, taken, None)
}

/// Stores a login code (`link` `None`) or a link code for `account`, commits, and returns the
/// fragment that carries it.
fn issue_code(
    state: &AppState,
    mut uow: UnitOfWork<'_>,
    account: LinkedAccount,
    taken: &TakenState,
    link: Option<(i64, &str, &str, Option<&str>)>,
) -> Result<String, Error> {
    let kind = if link.is_some() { "link_code" } else { "login_code" };
    let code = OpaqueToken::generate()?;
    let what = CodeFor {
        account_id: account.account_id,
        credential_version: account.credential_version,
        client_challenge: taken.client_challenge.as_deref(),
        link,
    };
    states::insert_code(uow.tx(), &code, &what)?;
    uow.commit(state)?;
    Ok(format!("{kind}={}", code.expose()))
}

/// What [`create`] did.
enum Made {
    /// A new account, linked to the identity.
    Account(LinkedAccount),
    /// None: the fragment says why.
    Refused(&'static str),
    /// A racing sign-in linked the same identity first: nothing is kept (the caller rolls back).
    Raced,
}

/// A new account for a new identity, if its email is provider-verified and no active account
/// holds it (a pending claim gives way: the provider has proved the mailbox, the claimant has
/// not); else why not.
fn create(
    state: &AppState,
    uow: &mut UnitOfWork<'_>,
    name: &str,
    identity: &Identity,
) -> Result<Made, Error> {
    let email = identity.email.as_deref().and_then(|e| Email::parse(e).ok());
    let (Some(email), true) = (email, identity.email_verified) else {
        return Ok(Made::Refused("error=email_not_verified"));
    };
    let unusable = dummy_hash(state.config.credentials.bcrypt_cost)?;
    let made = sql::create_account(uow.tx(), &email, &unusable, name, &identity.subject)?;
    let made = match made {
        sql::Created::Account(made) => made,
        sql::Created::EmailTaken => return Ok(Made::Refused("error=link_required")),
        sql::Created::IdentityTaken => return Ok(Made::Raced),
    };
    let id = made.account_id;
    let details = json!({ "provider": name });
    uow.record_with(Subject::Account(id), Some(id), AuditAction::CreatedWithProvider, details);
    let created = UserEvent::new(UserEventType::Created, id, email.as_str());
    uow.publish(created.with(json!({ "provider": name })));
    Ok(Made::Account(made))
}

/// A link asked for by `linker`: a code only that session can confirm (`POST
/// /me/identities/confirm`), so a link URL opened in someone else's browser links nothing.
fn link_code(
    state: &AppState,
    mut uow: UnitOfWork<'_>,
    linker: Linker,
    name: &str,
    taken: &TakenState,
    identity: &Identity,
) -> Result<String, Error> {
    let account = sql::lock_linking_account(uow.tx(), linker.account_id)?;
    let Some(account) = account.filter(|a| !a.disabled) else {
        uow.commit(state)?;
        return Ok("error=account_disabled".into());
    };
    let link =
        Some((linker.session_id, name, identity.subject.as_str(), identity.email.as_deref()));
    issue_code(state, uow, account, taken, link)
}
