//! `POST /login`, `POST /login/mfa`, `POST /token/refresh`, `POST /logout`, the session list and
//! `GET /.well-known/jwks.json`: their requests and answers, and the handlers.

use super::flow;
use super::tokens::{self, Login, TokenPair, bearer};
use super::{mfa, sql::SessionInfo};
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::domain::{FactorCode, MfaToken, RefreshToken};
use crate::error::Error;
use serde::{Deserialize, Serialize};

/// `POST /login`.
#[derive(Deserialize)]
pub struct LoginRequest {
    /// Any text: a malformed email is a failed login like an unknown one.
    pub email: String,
    /// Any text.
    pub password: String,
}

/// `POST /login/mfa`.
#[derive(Deserialize)]
pub struct MfaRequest {
    /// From the first step's answer.
    pub mfa_token: String,
    /// A TOTP code or a recovery code.
    pub code: String,
}

/// `POST /token/refresh`.
#[derive(Deserialize)]
pub struct RefreshRequest {
    /// The current refresh token of a session.
    pub refresh_token: String,
}

/// A new session's credentials (200 to every finished sign-in and to a refresh).
#[derive(Serialize)]
pub struct TokenPairReply<'a> {
    /// The access JWT.
    pub access_token: &'a str,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u32,
    /// Opaque, single use.
    pub refresh_token: &'a str,
}

/// A first step passed with a second factor on (200 to `/login`, `/login/code/verify`).
#[derive(Serialize)]
pub struct MfaRequired<'a> {
    /// Always true.
    pub mfa_required: bool,
    /// For `POST /login/mfa`.
    pub mfa_token: &'a str,
    /// Seconds the mfa_token stays valid (`MFA_TOKEN_TTL_SECONDS`).
    pub expires_in: u32,
}

/// One of the account's sessions (`GET /me/sessions`).
#[derive(Serialize)]
pub struct SessionReply<'a> {
    /// Its id (`DELETE /me/sessions/{id}`).
    pub id: i64,
    /// RFC 3339 UTC.
    pub created_at: &'a str,
    /// The login or the latest refresh.
    pub last_used_at: &'a str,
    /// Absolute end.
    pub expires_at: &'a str,
    /// The caller's own.
    pub current: bool,
    /// As sent at login.
    pub user_agent: Option<&'a str>,
}

/// `GET /me/sessions`.
#[derive(Serialize)]
pub struct SessionList<'a> {
    /// Oldest first.
    pub sessions: Vec<SessionReply<'a>>,
}

/// The answer to a finished first step: the token pair, or the mfa_token for the second.
pub fn login_reply(state: &AppState, login: Login) -> Reply {
    match login {
        Login::Tokens(pair) => pair_reply(&pair),
        Login::MfaRequired(token) => Reply::of(
            200,
            &MfaRequired {
                mfa_required: true,
                mfa_token: token.expose(),
                expires_in: state.config.sessions.mfa_token_ttl_seconds,
            },
        ),
    }
}

fn pair_reply(pair: &TokenPair) -> Reply {
    Reply::of(
        200,
        &TokenPairReply {
            access_token: &pair.access_token,
            token_type: "Bearer",
            expires_in: pair.expires_in,
            refresh_token: pair.refresh_token.expose(),
        },
    )
}

/// `POST /login` `{"email", "password"}` → 200 the token pair, or with a second factor on, 200
/// `{"mfa_required": true, "mfa_token", "expires_in"}`.
pub fn login(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: LoginRequest = request.json()?;
    let login =
        flow::login(state, &request.context, &body.email, &body.password, request.device())?;
    Ok(login_reply(state, login))
}

/// `POST /login/mfa` `{"mfa_token", "code"}` → 200 the token pair (`amr` `["pwd","otp"]`, or
/// `["email","otp"]` after a sign-in code). The code is a TOTP code or a recovery code; a
/// malformed one is 400, every other failure 401.
pub fn login_mfa(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: MfaRequest = request.json()?;
    let code = FactorCode::parse(&body.code).ok_or(Error::InvalidMfaCodeFormat)?;
    let token = MfaToken::parse(&body.mfa_token).ok_or(Error::MfaFailed)?;
    Ok(pair_reply(&mfa::verify(state, &request.context, &token, &code)?))
}

/// `POST /token/refresh` `{"refresh_token"}` → 200 a new token pair; the presented one is spent.
pub fn refresh(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let body: RefreshRequest = request.json()?;
    let presented = RefreshToken::parse(&body.refresh_token).ok_or(Error::InvalidToken)?;
    Ok(pair_reply(&flow::refresh(state, &request.context, &presented)?))
}

/// `POST /logout` (Bearer) → 204: this session is revoked.
pub fn logout(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    flow::logout(state, &request.context, &bearer(request, state)?)?;
    Ok(Reply::no_content())
}

/// `GET /me/sessions` (Bearer) → 200 `{"sessions": [...]}`, the caller's marked `current`.
pub fn list(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let session = bearer(request, state)?;
    let sessions: Vec<SessionInfo> = flow::list(state, &session)?;
    let listed = sessions
        .iter()
        .map(|s| SessionReply {
            id: s.id,
            created_at: &s.created_at,
            last_used_at: &s.last_used_at,
            expires_at: &s.expires_at,
            current: s.id == session.id,
            user_agent: s.user_agent.as_deref(),
        })
        .collect();
    Ok(Reply::of(200, &SessionList { sessions: listed }))
}

/// `DELETE /me/sessions/{id}` (Bearer) → 204; 404 if it is not one of the caller's sessions.
pub fn revoke_one(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let id = request.path_id()?;
    flow::revoke(state, &request.context, &bearer(request, state)?, Some(id))?;
    Ok(Reply::no_content())
}

/// `DELETE /me/sessions` (Bearer) → 204: every session of the account but this one is revoked.
pub fn revoke_others(request: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    flow::revoke(state, &request.context, &bearer(request, state)?, None)?;
    Ok(Reply::no_content())
}

/// `GET /.well-known/jwks.json` → 200 the JWK Set of every key that may have signed a valid
/// token; cacheable for five minutes.
pub fn jwks(_: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let reply = Reply::json(200, tokens::jwks(state)?);
    Ok(reply.with_header("Cache-Control", "public, max-age=300".into()))
}
