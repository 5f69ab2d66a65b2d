//! Signing in with another provider, the parts around the provider's round trip: sending the
//! browser there (`GET /idp/{name}/authorize`, `POST /me/identities/{name}` for a link),
//! exchanging the one-time login code for tokens (`POST /idp/exchange`), confirming a link
//! (`POST /me/identities/confirm`), and the owner's list of identities (`GET /me/identities`,
//! `DELETE /me/identities/{id}`). The callback is `callback.rs`.
//!
//! A frontend may bind the round trip to itself with a PKCE pair of its own (RFC 7636 used
//! between the frontend and beefirst): `code_challenge` at the start, `code_verifier` with the
//! code. A login code then opens nothing in a browser that did not start the sign-in (login CSRF:
//! an attacker's own callback URL planted in a victim's browser).

use super::sql::states::{self, Linker, SentState, TakenCode};
use super::sql::{self, IdentityInfo, Unlinked};
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::{AuditAction, OpaqueToken, SessionRef, UserEvent, UserEventType};
use crate::error::Error;
use crate::features::account::sql as account_sql;
use crate::features::sessions::mfa::{self, FirstFactor};
use crate::features::sessions::tokens::{self, Login, NewSession};
use crate::mail::{Notice, NoticeKind};
use crate::telemetry::log;
use crate::uow::{Subject, UnitOfWork};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::Url;

/// The URL of the provider `name` that starts a sign-in (or, for `linker`, a link) returning to
/// `redirect_to`: authorization code flow, PKCE S256 (the verifier stays here), a `state` and a
/// `nonce`, all bound to this sign-in server-side, single-use, 10 minutes.
///
/// Errors: 404 [`Error::NotFound`] for a provider not configured, 400 [`Error::InvalidRedirect`]
/// for a `redirect_to` outside `REDIRECT_ALLOWED_URLS` (no open redirect), 400 for a malformed
/// `client_challenge`, 401 when the linking account is gone, 503 [`Error::ProviderUnavailable`].
pub fn authorize(
    state: &AppState,
    name: &str,
    redirect_to: Option<&str>,
    linker: Option<Linker>,
    client_challenge: Option<&str>,
) -> Result<String, Error> {
    let provider = state.config.providers.provider(name).ok_or(Error::NotFound)?;
    let redirect_to = allowed_redirect(state, redirect_to)?;
    if client_challenge.is_some_and(|c| OpaqueToken::parse(c).is_none()) {
        let why = "code_challenge must be the base64url SHA-256 of a verifier (43 characters).";
        return Err(Error::InvalidRequest(why.into()));
    }
    let (token, nonce, verifier) =
        (OpaqueToken::generate()?, OpaqueToken::generate()?, OpaqueToken::generate()?);
    let url = state
        .oidc
        .authorization_url(provider, token.expose(), nonce.expose(), &s256(verifier.expose()))
        .map_err(|failure| unavailable(name, &failure.0))?;
    let sent = SentState {
        provider: name,
        nonce: nonce.expose(),
        verifier: verifier.expose(),
        redirect_to: redirect_to.as_str(),
        client_challenge,
        linker,
    };
    if !states::insert_state(&mut *db::checkout(&state.pool)?, &token, &sent)? {
        return Err(Error::InvalidToken); // the linking account is gone
    }
    Ok(url)
}

/// PKCE's S256: base64url of the SHA-256 of `verifier`.
fn s256(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// True when a code made with `challenge` may be used with `verifier`. A code made without one
/// is taken only without a verifier: a frontend that always binds its sign-ins (and so always
/// sends its verifier) cannot be handed a code from someone else's unbound sign-in (login CSRF).
fn verified(challenge: Option<&str>, verifier: Option<&str>) -> bool {
    match (challenge, verifier) {
        (None, None) => true,
        (None, Some(_)) => false,
        (Some(challenge), Some(verifier)) => s256(verifier) == challenge,
        (Some(_), None) => false,
    }
}

/// `redirect_to` if `REDIRECT_ALLOWED_URLS` allows it (equal to an entry, or under one that ends
/// in `/`), else 400; absent: the first entry. A URL with a fragment is refused: the answer's
/// fragment is ours.
fn allowed_redirect(state: &AppState, redirect_to: Option<&str>) -> Result<Url, Error> {
    let allowed = &state.config.providers.redirect_allowed;
    let Some(raw) = redirect_to else {
        return allowed.first().cloned().ok_or(Error::InvalidRedirect);
    };
    let url = Url::parse(raw).map_err(|_| Error::InvalidRedirect)?;
    let under = |a: &Url| a.as_str().ends_with('/') && url.as_str().starts_with(a.as_str());
    let ok =
        url.fragment().is_none() && allowed.iter().any(|a| a.as_str() == url.as_str() || under(a));
    if ok { Ok(url) } else { Err(Error::InvalidRedirect) }
}

/// Logs why provider `name` failed and answers 503.
pub fn unavailable(name: &str, why: &str) -> Error {
    log::error("provider_unavailable", json!({ "provider": name, "error": why }));
    Error::ProviderUnavailable
}

/// Starts linking provider `name` to the caller's account: the provider URL to send the browser
/// to. The callback answers `#link_code=`, which only this session can confirm. Errors: as
/// [`authorize`], and 401 when the session is not live.
pub fn link(
    state: &AppState,
    session: &SessionRef,
    name: &str,
    redirect_to: Option<&str>,
    client_challenge: Option<&str>,
) -> Result<String, Error> {
    crate::features::account::flow::profile(state, session)?; // the session must be live
    let linker = Linker { account_id: session.account_id, session_id: session.id };
    authorize(state, name, redirect_to, Some(linker), client_challenge)
}

/// Exchanges a login code from a provider sign-in for a session (`amr` `["fed"]`), or with a
/// second factor on, for the mfa_token of `POST /login/mfa` (then `["fed","otp"]`).
///
/// Errors: 401 [`Error::InvalidCode`] for an unknown, used or expired code, or a missing or
/// wrong `code_verifier` (one body), 403 [`Error::AccountDisabled`], 503.
pub fn exchange(
    state: &AppState,
    ctx: &Context,
    code: &OpaqueToken,
    verifier: Option<&str>,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let taken = states::take_code(uow.tx(), code, "sign_in")?;
    let Some(account) = taken.filter(|t| verified(t.client_challenge.as_deref(), verifier)) else {
        uow.commit(state)?; // spent whatever it was
        return Err(Error::InvalidCode);
    };
    if account.disabled {
        uow.commit(state)?;
        return Err(Error::AccountDisabled);
    }
    let (id, version) = (account.account_id, account.credential_version);
    let login = if account.mfa_enabled {
        let first = FirstFactor::Federated;
        Login::MfaRequired(mfa::challenge(uow.tx(), state, id, version, first, user_agent)?)
    } else {
        let new = NewSession { account_id: id, credential_version: version };
        let amr = [FirstFactor::Federated.amr()];
        let (issued, refresh_token) =
            tokens::start(&mut uow, state, new, &amr, user_agent)?.ok_or(Error::InvalidCode)?;
        Login::Tokens(tokens::pair(state, &issued, refresh_token))
    };
    uow.commit(state)?;
    Ok(login)
}

/// Confirms a link with the link code the callback returned: only the session that asked for the
/// link, from the browser that came back (and with the `code_verifier` if a challenge was given),
/// links the identity; a notice is mailed. Returns the provider's name.
///
/// Errors: 401 [`Error::InvalidToken`], 401 [`Error::InvalidCode`] (unknown, used, expired,
/// another session's, a wrong verifier), 409 [`Error::AlreadyLinked`], 503.
pub fn confirm_link(
    state: &AppState,
    ctx: &Context,
    session: &SessionRef,
    code: &OpaqueToken,
    verifier: Option<&str>,
) -> Result<String, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let (account_id, email) =
        account_sql::lock_account_and_email(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let taken = states::take_code(uow.tx(), code, "link")?;
    let mine = |t: &TakenCode| {
        t.account_id == account_id
            && t.session_id == Some(session.id)
            && verified(t.client_challenge.as_deref(), verifier)
    };
    let Some((provider, subject, found)) =
        taken.filter(mine).and_then(|t| Some((t.provider?, t.subject?, t.email)))
    else {
        uow.commit(state)?; // spent whatever it was
        return Err(Error::InvalidCode);
    };
    if !sql::link(uow.tx(), account_id, &provider, &subject, found.as_deref())? {
        uow.commit(state)?;
        return Err(Error::AlreadyLinked);
    }
    let details = json!({ "provider": provider });
    let subject_of = Subject::Account(account_id);
    uow.record_with(subject_of, Some(account_id), AuditAction::IdentityLinked, details);
    uow.notify(Notice::new(&email, NoticeKind::IdentityLinked { provider: provider.clone() }));
    let event = UserEvent::new(UserEventType::Updated, account_id, email.as_str());
    uow.publish(event.with(json!({ "identity": { "provider": provider, "change": "linked" } })));
    uow.commit(state)?;
    Ok(provider)
}

/// The caller's linked identities, oldest first. Errors: 401, 503.
pub fn list(state: &AppState, session: &SessionRef) -> Result<Vec<IdentityInfo>, Error> {
    sql::list(&mut *db::checkout(&state.pool)?, session)?.ok_or(Error::InvalidToken)
}

/// Unlinks one of the caller's identities, recorded in the audit trail.
///
/// Errors: 401, 404 [`Error::NotFound`], 409 [`Error::LastSignInMethod`], 503.
pub fn unlink(state: &AppState, ctx: &Context, session: &SessionRef, id: i64) -> Result<(), Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let (account_id, email) =
        account_sql::lock_account_and_email(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let provider = match sql::unlink(uow.tx(), account_id, id)? {
        Unlinked::Unlinked { provider } => provider,
        Unlinked::NotFound => return Err(Error::NotFound),
        Unlinked::LastSignInMethod => return Err(Error::LastSignInMethod),
    };
    let details = json!({ "identity_id": id, "provider": provider });
    let subject = Subject::Account(account_id);
    uow.record_with(subject, Some(account_id), AuditAction::IdentityUnlinked, details);
    let event = UserEvent::new(UserEventType::Updated, account_id, email.as_str());
    uow.publish(event.with(json!({ "identity": { "provider": provider, "change": "unlinked" } })));
    uow.commit(state)
}
