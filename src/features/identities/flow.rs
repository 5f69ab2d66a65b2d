//! Signing in with another provider, the parts around the provider's round trip: sending the
//! browser there (`GET /idp/{name}/authorize`, `POST /me/identities/{name}` for a link),
//! exchanging the one-time login code for tokens (`POST /idp/exchange`), and the owner's list of
//! identities (`GET /me/identities`, `DELETE /me/identities/{id}`). The callback is `callback.rs`.

use super::sql::states::{self, SentState};
use super::sql::{self, IdentityInfo, Unlinked};
use crate::app::AppState;
use crate::context::Context;
use crate::db;
use crate::domain::{AuditAction, OpaqueToken, SessionRef};
use crate::error::Error;
use crate::features::passkeys::sql as passkeys_sql;
use crate::features::sessions::mfa::{self, FirstFactor};
use crate::features::sessions::tokens::{self, Login, NewSession};
use crate::telemetry::log;
use crate::uow::{Subject, UnitOfWork};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::json;
use sha2::{Digest, Sha256};
use webauthn_rs::prelude::Url;

/// The URL of the provider `name` that starts a sign-in (or, with `link_account_id`, a link to
/// that account) returning to `redirect_to`: authorization code flow, PKCE S256 (the verifier
/// stays here), a `state` and a `nonce`, all bound to this sign-in server-side, single-use, 10
/// minutes.
///
/// Errors: 404 [`Error::NotFound`] for a provider not configured, 400 [`Error::InvalidRedirect`]
/// for a `redirect_to` outside `REDIRECT_ALLOWED_URLS` (no open redirect), 401 when the linking
/// account is gone, 503 [`Error::ProviderUnavailable`] when the provider's discovery fails.
pub fn authorize(
    state: &AppState,
    name: &str,
    redirect_to: Option<&str>,
    link_account_id: Option<i64>,
) -> Result<String, Error> {
    let provider = state.config.providers.provider(name).ok_or(Error::NotFound)?;
    let redirect_to = allowed_redirect(state, redirect_to)?;
    let (token, nonce, verifier) =
        (OpaqueToken::generate()?, OpaqueToken::generate()?, OpaqueToken::generate()?);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.expose().as_bytes()));
    let url = state
        .oidc
        .authorization_url(provider, token.expose(), nonce.expose(), &challenge)
        .map_err(|failure| unavailable(name, &failure.0))?;
    let sent = SentState {
        provider: name,
        nonce: nonce.expose(),
        verifier: verifier.expose(),
        redirect_to: redirect_to.as_str(),
        link_account_id,
    };
    if !states::insert_state(&mut *db::checkout(&state.pool)?, &token, &sent)? {
        return Err(Error::InvalidToken); // the linking account is gone
    }
    Ok(url)
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
    let ok = url.fragment().is_none()
        && allowed.iter().any(|a| {
            a.as_str() == url.as_str()
                || (a.as_str().ends_with('/') && url.as_str().starts_with(a.as_str()))
        });
    if ok { Ok(url) } else { Err(Error::InvalidRedirect) }
}

/// Logs why provider `name` failed and answers 503.
pub fn unavailable(name: &str, why: &str) -> Error {
    log::error("provider_unavailable", json!({ "provider": name, "error": why }));
    Error::ProviderUnavailable
}

/// Starts linking provider `name` to the caller's account: the provider URL to send the browser
/// to. Errors: as [`authorize`], and 401 when the session is not live.
pub fn link(
    state: &AppState,
    session: &SessionRef,
    name: &str,
    redirect_to: Option<&str>,
) -> Result<String, Error> {
    crate::features::account::flow::profile(state, session)?; // the session must be live
    authorize(state, name, redirect_to, Some(session.account_id))
}

/// Exchanges a login code from a provider sign-in for a session (`amr` `["fed"]`), or with a
/// second factor on, for the mfa_token of `POST /login/mfa` (then `["fed","otp"]`).
///
/// Errors: 401 [`Error::InvalidCode`] for an unknown, used or expired code (one body), 403
/// [`Error::AccountDisabled`], 503.
pub fn exchange(
    state: &AppState,
    ctx: &Context,
    code: &OpaqueToken,
    user_agent: Option<&str>,
) -> Result<Login, Error> {
    let mut client = db::checkout(&state.pool)?;
    let mut uow = UnitOfWork::begin(&mut client, ctx)?;
    let Some(account) = states::take_login_code(uow.tx(), code)? else {
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
    let (account_id, _) =
        passkeys_sql::lock_owner(uow.tx(), session)?.ok_or(Error::InvalidToken)?;
    let provider = match sql::unlink(uow.tx(), account_id, id)? {
        Unlinked::Unlinked { provider } => provider,
        Unlinked::NotFound => return Err(Error::NotFound),
        Unlinked::LastSignInMethod => return Err(Error::LastSignInMethod),
    };
    let details = json!({ "identity_id": id, "provider": provider });
    let subject = Subject::Account(account_id);
    uow.record_with(subject, Some(account_id), AuditAction::IdentityUnlinked, details);
    uow.commit(state)
}
