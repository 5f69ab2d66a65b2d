//! `GET /idp/{name}/callback`: the browser back from the provider. The `state` is taken (once),
//! the code exchanged server-side and the ID token verified (`security::oidc`); then the identity
//! decides, in one transaction (OpenID Connect Core §3.1.2.5–7; OWASP's OAuth 2.0 cheat sheet):
//!
//! - linked already → signs in to its account;
//! - a link the signed-in owner asked for → linked to that account;
//! - new, with a provider-verified email no account or claim holds → a new active account
//!   without a password;
//! - new, with an email an account or claim holds → `link_required`: **never linked
//!   automatically**. Whoever controls an identity at a provider whose email claim is not proof of
//!   the mailbox would otherwise take over the account of that address.
//!
//! The browser is sent back to `redirect_to` with `#login_code=` (60 s, once, exchanged by
//! `POST /idp/exchange`: tokens never appear in a URL) or `#error=`.

use super::sql::states::{self, TakenState};
use super::sql::{self, LinkedAccount};
use crate::app::{AppState, dummy_hash};
use crate::context::Context;
use crate::db;
use crate::domain::{AuditAction, Email, OpaqueToken};
use crate::error::Error;
use crate::mail::{Notice, NoticeKind};
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

/// The fragment for a verified `identity`: what it signs in to or links, in one transaction.
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
    let account = match (taken.link_account_id, linked) {
        (Some(asking), Some(linked)) => {
            uow.commit(state)?;
            let mine = linked.account_id == asking;
            return Ok(if mine { format!("linked={name}") } else { "error=already_linked".into() });
        }
        (Some(asking), None) => return link(state, uow, asking, name, identity),
        (None, Some(linked)) => linked,
        (None, None) => match create(state, &mut uow, name, identity)? {
            Ok(made) => made,
            Err(fragment) => {
                uow.commit(state)?;
                return Ok(fragment.into());
            }
        },
    };
    if account.disabled {
        uow.commit(state)?;
        return Ok("error=account_disabled".into());
    }
    let code = OpaqueToken::generate()?;
    states::insert_login_code(uow.tx(), &code, account.account_id, account.credential_version)?;
    uow.commit(state)?;
    Ok(format!("login_code={}", code.expose()))
}

/// A new account for a new identity, if its email is provider-verified and free; else the
/// fragment that says why not.
fn create(
    state: &AppState,
    uow: &mut UnitOfWork<'_>,
    name: &str,
    identity: &Identity,
) -> Result<Result<LinkedAccount, &'static str>, Error> {
    let email = identity.email.as_deref().and_then(|e| Email::parse(e).ok());
    let (Some(email), true) = (email, identity.email_verified) else {
        return Ok(Err("error=email_not_verified"));
    };
    let unusable = dummy_hash(state.config.credentials.bcrypt_cost)?;
    let Some(made) = sql::create_account(uow.tx(), &email, &unusable, name, &identity.subject)?
    else {
        return Ok(Err("error=link_required"));
    };
    let id = made.account_id;
    let details = json!({ "provider": name });
    uow.record_with(Subject::Account(id), Some(id), AuditAction::CreatedWithProvider, details);
    Ok(Ok(made))
}

/// Links `identity` to the account `asking` that started the link.
fn link(
    state: &AppState,
    mut uow: UnitOfWork<'_>,
    asking: i64,
    name: &str,
    identity: &Identity,
) -> Result<String, Error> {
    let Some(account) = sql::lock_linking_account(uow.tx(), asking)? else {
        uow.commit(state)?;
        return Ok("error=account_disabled".into());
    };
    let email = identity.email.as_deref();
    if !sql::link(uow.tx(), account.account_id, name, &identity.subject, email)? {
        uow.commit(state)?;
        return Ok("error=already_linked".into());
    }
    let details = json!({ "provider": name });
    uow.record_with(Subject::Account(asking), Some(asking), AuditAction::IdentityLinked, details);
    let owner = super::sql::email_of(uow.tx(), asking)?;
    if let Some(owner) = owner {
        uow.notify(Notice::new(&owner, NoticeKind::IdentityLinked { provider: name.to_owned() }));
    }
    uow.commit(state)?;
    Ok(format!("linked={name}"))
}
