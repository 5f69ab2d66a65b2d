//! Handlers of login sessions and their tokens: login, refresh, logout, the session list, JWKS.

use super::bearer;
use super::recovery::reset_code;
use crate::domain::{Email, FactorCode, MfaToken, RefreshToken};
use crate::error::Error;
use crate::http::request::{header, json_object, path_id, read_body, string_field};
use crate::http::response::Reply;
use crate::service::sessions::{self, Login, TokenPair};
use crate::service::{AppState, tokens};
use crate::service::{mfa, sign_in_code};
use serde_json::json;
use tiny_http::Request;

/// `POST /login` `{"email", "password"}` → 200 the token pair, or with a second factor on, 200
/// `{"mfa_required": true, "mfa_token", "expires_in"}`.
pub fn login(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let email = string_field(&body, "email")?;
    let password = string_field(&body, "password")?;
    let login = sessions::login(state, &email, &password, user_agent(request).as_deref())?;
    Ok(login_reply(state, login))
}

/// `POST /login/code` `{"email"}` → 202 `{"status": "accepted"}`, whatever the email is; an
/// active, enabled account is mailed a sign-in code.
pub fn login_code(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let email = Email::parse(&string_field(&body, "email")?).map_err(Error::InvalidEmail)?;
    sign_in_code::request(state, &email)?;
    Ok(Reply::json(202, json!({"status": "accepted"})))
}

/// `POST /login/code/verify` `{"email", "code"}` → 200 the token pair (`amr` `["email"]`), or
/// with a second factor on, 200 `{"mfa_required": true, "mfa_token", "expires_in"}`. Malformed
/// fields are 400; every failure of email and code is one 401 `invalid_code`.
pub fn login_code_verify(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let email = Email::parse(&string_field(&body, "email")?).map_err(Error::InvalidEmail)?;
    let code = reset_code(&string_field(&body, "code")?, state)?;
    let login = sign_in_code::verify(state, &email, &code, user_agent(request).as_deref())?;
    Ok(login_reply(state, login))
}

/// A finished first step: the token pair, or the mfa_token for the second.
fn login_reply(state: &AppState, login: Login) -> Reply {
    match login {
        Login::Tokens(pair) => pair_reply(&pair),
        Login::MfaRequired(token) => Reply::json(
            200,
            json!({
                "mfa_required": true,
                "mfa_token": token.expose(),
                "expires_in": state.config.mfa_token_ttl_seconds,
            }),
        ),
    }
}

/// `POST /login/mfa` `{"mfa_token", "code"}` → 200 the token pair (`amr` `["pwd","otp"]`, or
/// `["email","otp"]` after a sign-in code). The
/// code is a TOTP code or a recovery code; a malformed one is 400, every other failure 401.
pub fn login_mfa(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let token = string_field(&body, "mfa_token")?;
    let code =
        FactorCode::parse(&string_field(&body, "code")?).ok_or(Error::InvalidMfaCodeFormat)?;
    let token = MfaToken::parse(&token).ok_or(Error::MfaFailed)?;
    Ok(pair_reply(&mfa::verify(state, &token, &code)?))
}

/// `POST /token/refresh` `{"refresh_token"}` → 200 a new token pair; the presented one is spent.
pub fn refresh(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let body = json_object(&read_body(request)?)?;
    let presented = RefreshToken::parse(&string_field(&body, "refresh_token")?);
    let pair = sessions::refresh(state, &presented.ok_or(Error::InvalidToken)?)?;
    Ok(pair_reply(&pair))
}

fn pair_reply(pair: &TokenPair) -> Reply {
    Reply::json(
        200,
        json!({
            "access_token": pair.access_token,
            "token_type": "Bearer",
            "expires_in": pair.expires_in,
            "refresh_token": pair.refresh_token.expose(),
        }),
    )
}

/// `POST /logout` (Bearer) → 204: this session is revoked.
pub fn logout(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    read_body(request)?; // any body is ignored, but framing rules still apply
    sessions::logout(state, &bearer(request, state)?)?;
    Ok(Reply::no_content())
}

/// `GET /me/sessions` (Bearer) → 200 `{"sessions": [...]}`, the caller's marked `current`.
pub fn list(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let session = bearer(request, state)?;
    let listed: Vec<_> = sessions::list(state, &session)?
        .iter()
        .map(|s| {
            json!({
                "id": s.id, "created_at": s.created_at, "last_used_at": s.last_used_at,
                "expires_at": s.expires_at, "current": s.id == session.id,
                "user_agent": s.user_agent,
            })
        })
        .collect();
    Ok(Reply::json(200, json!({ "sessions": listed })))
}

/// `DELETE /me/sessions/{id}` (Bearer) → 204; 404 if it is not one of the caller's sessions.
pub fn revoke_one(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let id = path_id(request)?;
    sessions::revoke(state, &bearer(request, state)?, Some(id))?;
    Ok(Reply::no_content())
}

/// `DELETE /me/sessions` (Bearer) → 204: every session of the account but this one is revoked.
pub fn revoke_others(request: &mut Request, state: &AppState) -> Result<Reply, Error> {
    sessions::revoke(state, &bearer(request, state)?, None)?;
    Ok(Reply::no_content())
}

/// `GET /.well-known/jwks.json` → 200 the JWK Set of every key that may have signed a valid
/// token; cacheable for five minutes.
pub fn jwks(_: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let mut reply = Reply::json(200, tokens::jwks(state)?);
    reply.headers.push(("Cache-Control", "public, max-age=300".into()));
    Ok(reply)
}

/// The client's `User-Agent`, if it is printable ASCII; at most 256 characters are kept.
fn user_agent(request: &Request) -> Option<String> {
    let agent = header(request, "User-Agent")?.trim();
    let printable = !agent.is_empty() && agent.bytes().all(|b| (b' '..=b'~').contains(&b));
    printable.then(|| agent.chars().take(256).collect())
}
