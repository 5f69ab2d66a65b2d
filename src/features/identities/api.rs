//! `/idp/{name}/authorize`, `/idp/{name}/callback`, `POST /idp/exchange` and `/me/identities`:
//! their requests and answers, and the handlers.

use super::callback::{self, Returned};
use super::flow;
use super::sql::IdentityInfo;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::OpaqueToken;
use crate::error::Error;
use crate::features::sessions::api::login_reply;
use crate::features::sessions::tokens::bearer;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// `POST /idp/exchange`.
#[derive(Deserialize)]
pub struct ExchangeRequest {
    /// From the fragment of the callback's redirect.
    pub login_code: String,
    /// The verifier of the `code_challenge` given at `/authorize`, if one was.
    pub code_verifier: Option<String>,
}

/// `POST /me/identities/{name}`.
#[derive(Deserialize)]
pub struct LinkRequest {
    /// Where the browser returns after the provider (`REDIRECT_ALLOWED_URLS`).
    pub redirect_to: Option<String>,
    /// The frontend's PKCE challenge (S256), if it binds the round trip to itself.
    pub code_challenge: Option<String>,
}

/// `POST /me/identities/confirm`.
#[derive(Deserialize)]
pub struct ConfirmRequest {
    /// From the fragment of the callback's redirect.
    pub link_code: String,
    /// The verifier of the `code_challenge` given when the link started, if one was.
    pub code_verifier: Option<String>,
}

/// A linked identity as its owner sees it.
#[derive(Serialize)]
pub struct IdentityReply<'a> {
    /// Its id under `/me/identities/{id}`.
    pub id: i64,
    /// The provider's name.
    pub provider: &'a str,
    /// The email the provider gave, if any.
    pub email: Option<&'a str>,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
}

/// 302 to `location`, with the URL in the body too (a JSON object, as every answer).
fn redirect(location: String) -> Reply {
    Reply::json(302, json!({ "location": location }))
        .with_header("Location", location)
        .with_header("Cache-Control", "no-store".into())
        .with_header("Referrer-Policy", "no-referrer".into())
}

/// The provider name in the path (`/idp/{name}/…`: segment 2, `/me/identities/{name}`: 3).
fn provider_name(request: &ApiRequest, segment: usize) -> Result<String, Error> {
    request.path_segment(segment).map(str::to_owned).ok_or(Error::NotFound)
}

/// `GET /idp` → 200 `{"providers": [{"name"}]}`: the providers one may sign in with, in
/// `IDENTITY_PROVIDERS` order (for a sign-in page's buttons).
pub fn providers(_: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let names: Vec<_> =
        state.config.providers.providers.iter().map(|p| json!({ "name": p.name })).collect();
    Ok(Reply::json(200, json!({ "providers": names })))
}

/// `GET /idp/{name}/authorize?redirect_to=` → 302 to the provider.
pub fn authorize(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let name = provider_name(request, 2)?;
    let redirect_to = request.query_param("redirect_to")?;
    let challenge = request.query_param("code_challenge")?;
    Ok(redirect(flow::authorize(state, &name, redirect_to.as_deref(), None, challenge.as_deref())?))
}

/// `GET /idp/{name}/callback?code&state` (or `?error&state`) → 302 to `redirect_to` with
/// `#login_code=` or `#error=`; 400 `invalid_state` when the sign-in is unknown.
pub fn callback(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let name = provider_name(request, 2)?;
    let returned = Returned {
        code: request.query_param("code")?,
        state: request.query_param("state")?,
        error: request.query_param("error")?,
    };
    Ok(redirect(callback::callback(state, &request.context, &name, &returned)?))
}

/// `POST /idp/exchange` `{"login_code"}` → 200 the token pair (`amr` `["fed"]`), or with TOTP on
/// `{"mfa_required", "mfa_token", "expires_in"}`.
pub fn exchange(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: ExchangeRequest = request.json()?;
    let code = OpaqueToken::parse(&body.login_code).ok_or(Error::InvalidCode)?;
    let device = request.device();
    let verifier = body.code_verifier.as_deref();
    let login = flow::exchange(state, &request.context, &code, verifier, device.as_deref())?;
    Ok(login_reply(state, login))
}

/// `POST /me/identities/{name}` `{"redirect_to"}` (Bearer) → 200 `{"authorize_url"}`: send the
/// browser there to link that provider.
pub fn link(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: LinkRequest = request.json()?;
    let name = provider_name(request, 3)?;
    let session = bearer(request, state)?;
    let (redirect_to, challenge) = (body.redirect_to.as_deref(), body.code_challenge.as_deref());
    let url = flow::link(state, &session, &name, redirect_to, challenge)?;
    Ok(Reply::json(200, json!({ "authorize_url": url })))
}

/// `POST /me/identities/confirm` `{"link_code", "code_verifier"?}` (Bearer) → 200 `{"provider"}`:
/// the identity is linked.
pub fn confirm(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: ConfirmRequest = request.json()?;
    let code = OpaqueToken::parse(&body.link_code).ok_or(Error::InvalidCode)?;
    let session = bearer(request, state)?;
    let verifier = body.code_verifier.as_deref();
    let provider = flow::confirm_link(state, &request.context, &session, &code, verifier)?;
    Ok(Reply::json(200, json!({ "provider": provider })))
}

/// `GET /me/identities` (Bearer) → 200 `{"identities": [...]}`.
pub fn list(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let identities = flow::list(state, &bearer(request, state)?)?;
    let shown: Vec<IdentityReply<'_>> = identities.iter().map(shown).collect();
    Ok(Reply::json(200, json!({ "identities": shown })))
}

/// `DELETE /me/identities/{id}` (Bearer) → 204.
pub fn unlink(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let id = request.path_id()?;
    flow::unlink(state, &request.context, &bearer(request, state)?, id)?;
    Ok(Reply::no_content())
}

fn shown(identity: &IdentityInfo) -> IdentityReply<'_> {
    IdentityReply {
        id: identity.id,
        provider: &identity.provider,
        email: identity.email.as_deref(),
        created_at: &identity.created_at,
    }
}
