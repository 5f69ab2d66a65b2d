//! `/me/passkeys` and `/login/passkey`: their requests and answers, and the handlers.

use super::flow::{self, Options};
use super::sign_in;
use super::sql::PasskeyInfo;
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::{CeremonyToken, PasskeyName};
use crate::error::Error;
use crate::features::account::api::PasswordConfirmation;
use crate::features::sessions::api::login_reply;
use crate::features::sessions::tokens::{Login, bearer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `POST /me/passkeys`.
#[derive(Deserialize)]
pub struct RegisterRequest {
    /// The handle from `POST /me/passkeys/options`.
    pub ceremony: String,
    /// `RegistrationResponseJSON`: what `PublicKeyCredential.toJSON()` gives after
    /// `navigator.credentials.create()`.
    pub credential: Value,
    /// What to call it; default: the device the browser says it is.
    pub name: Option<String>,
}

/// `PATCH /me/passkeys/{id}`.
#[derive(Deserialize)]
pub struct RenameRequest {
    /// 1 to 64 characters.
    pub name: String,
}

/// `POST /login/passkey`.
#[derive(Deserialize)]
pub struct SignInRequest {
    /// The handle from `POST /login/passkey/options`.
    pub ceremony: String,
    /// `AuthenticationResponseJSON`: what `PublicKeyCredential.toJSON()` gives after
    /// `navigator.credentials.get()`.
    pub credential: Value,
}

/// 200 to both options endpoints.
#[derive(Serialize)]
pub struct OptionsReply<'a> {
    /// Send it back with the response; single-use, 300 s.
    pub ceremony: &'a str,
    /// For `PublicKeyCredential.parseCreationOptionsFromJSON()` or
    /// `parseRequestOptionsFromJSON()`.
    #[serde(rename = "publicKey")]
    pub public_key: &'a Value,
}

/// A passkey as its owner sees it (no key material).
#[derive(Serialize)]
pub struct PasskeyReply<'a> {
    /// Its id under `/me/passkeys/{id}`.
    pub id: i64,
    /// Its name.
    pub name: &'a str,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// RFC 3339 UTC, or null until it first signs in.
    pub last_used_at: Option<&'a str>,
}

/// `GET /me/passkeys`.
#[derive(Serialize)]
pub struct PasskeyList<'a> {
    /// Oldest first.
    pub passkeys: Vec<PasskeyReply<'a>>,
}

fn options_reply(options: &Options) -> Reply {
    let shown =
        OptionsReply { ceremony: options.ceremony.expose(), public_key: &options.public_key };
    Reply::of(200, &shown)
}

fn shown(info: &PasskeyInfo) -> PasskeyReply<'_> {
    PasskeyReply {
        id: info.id,
        name: &info.name,
        created_at: &info.created_at,
        last_used_at: info.last_used_at.as_deref(),
    }
}

/// `POST /me/passkeys/options` `{"password"}` (Bearer) → 200 `{"ceremony", "publicKey"}`.
pub fn registration_options(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: PasswordConfirmation = request.json()?;
    let session = bearer(request, state)?;
    let options =
        flow::registration_options(state, &request.context, &session, body.password.as_deref())?;
    Ok(options_reply(&options))
}

/// `POST /me/passkeys` `{"ceremony", "credential", "name"?}` (Bearer) → 201 the passkey.
pub fn register(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: RegisterRequest = request.json()?;
    let name = match &body.name {
        Some(raw) => PasskeyName::parse(raw).ok_or(Error::InvalidPasskeyName)?,
        None => PasskeyName::for_device(request.device().as_deref()),
    };
    let session = bearer(request, state)?;
    let ceremony = CeremonyToken::parse(&body.ceremony);
    let info = flow::register(
        state,
        &request.context,
        &session,
        ceremony.as_ref(),
        &body.credential,
        name,
    )?;
    Ok(Reply::of(201, &shown(&info)))
}

/// `GET /me/passkeys` (Bearer) → 200 `{"passkeys": [...]}`.
pub fn list(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let passkeys = flow::list(state, &bearer(request, state)?)?;
    Ok(Reply::of(200, &PasskeyList { passkeys: passkeys.iter().map(shown).collect() }))
}

/// `PATCH /me/passkeys/{id}` `{"name"}` (Bearer) → 200 the passkey.
pub fn rename(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: RenameRequest = request.json()?;
    let name = PasskeyName::parse(&body.name).ok_or(Error::InvalidPasskeyName)?;
    let id = request.path_id()?;
    let info = flow::rename(state, &request.context, &bearer(request, state)?, id, &name)?;
    Ok(Reply::of(200, &shown(&info)))
}

/// `DELETE /me/passkeys/{id}` (Bearer) → 204.
pub fn delete(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let id = request.path_id()?;
    flow::delete(state, &request.context, &bearer(request, state)?, id)?;
    Ok(Reply::no_content())
}

/// `POST /login/passkey/options` `{}` → 200 `{"ceremony", "publicKey"}`.
pub fn sign_in_options(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    request.json_object()?;
    Ok(options_reply(&sign_in::options(state)?))
}

/// `POST /login/passkey` `{"ceremony", "credential"}` → 200 the token pair (`amr`
/// `["hwk","user"]`).
pub fn sign_in(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: SignInRequest = request.json()?;
    let ceremony = CeremonyToken::parse(&body.ceremony);
    let device = request.device();
    let pair = sign_in::sign_in(
        state,
        &request.context,
        ceremony.as_ref(),
        &body.credential,
        device.as_deref(),
    )?;
    Ok(login_reply(state, Login::Tokens(pair)))
}
