//! Endpoint handlers: turn a request into domain values once, call the use case, render JSON.

pub mod account;
pub mod admin;
pub mod recovery;
pub mod registration;
pub mod sessions;
pub mod totp;
pub mod web;

use crate::domain::SessionRef;
use crate::error::Error;
use crate::http::auth::parse_bearer;
use crate::http::request::header;
use crate::http::response::Reply;
use crate::service::{self, AppState};
use serde_json::json;
use tiny_http::Request;

/// The session of a Bearer request's access token (signature, key and issuer checked; liveness is
/// checked by the statement that serves the request). Errors: 401 `invalid_token`.
pub fn bearer(request: &Request, state: &AppState) -> Result<SessionRef, Error> {
    let token = parse_bearer(header(request, "Authorization")).ok_or(Error::InvalidToken)?;
    service::tokens::authenticate(state, token)
}

/// `GET /` for clients that do not ask for HTML → 200: where to start (the API's description).
pub fn index(_: &mut Request, _: &AppState) -> Result<Reply, Error> {
    Ok(Reply::json(
        200,
        json!({
            "service": "beefirst",
            "openapi": "/openapi.json",
            "health": "/health",
            "message": "A user-registration API: start with POST /register; every endpoint is \
                        described in /openapi.json.",
        }),
    ))
}

/// `GET /health` → 200 `{"status": "ok"}` when PostgreSQL answers, else 503 `unavailable`.
pub fn health(_: &mut Request, state: &AppState) -> Result<Reply, Error> {
    service::check_database(state)?;
    Ok(Reply::json(200, json!({"status": "ok"})))
}

/// `GET /metrics` → 200 in the Prometheus text format (the one response that is not JSON).
pub fn metrics(_: &mut Request, state: &AppState) -> Result<Reply, Error> {
    let (in_use, idle) = service::pool_connections(state);
    let backlog = service::worker_backlog(state);
    let text = crate::http::metrics::METRICS.render(in_use, idle, backlog);
    Ok(Reply {
        status: 200,
        body: crate::http::response::Body::Prometheus(text),
        headers: Vec::new(),
    })
}

/// `GET /openapi.json` → the OpenAPI 3.1 document, with the configured code lengths.
pub fn openapi(_: &mut Request, state: &AppState) -> Result<Reply, Error> {
    Ok(Reply {
        status: 200,
        body: crate::http::response::Body::Static(super::router::openapi_document(
            state.config.code_lengths,
            state.config.reset_code_digits,
        )),
        headers: Vec::new(),
    })
}
