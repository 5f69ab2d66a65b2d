//! The service's own pages: where to start (`GET /` for clients that do not ask for HTML), health,
//! metrics and the OpenAPI document.

use crate::api::{ApiRequest, Body, Reply};
use crate::app::{self, AppState};
use crate::domain::CodeLengths;
use crate::error::Error;
use crate::telemetry::metrics::METRICS;
use serde_json::json;
use std::sync::OnceLock;

/// `GET /` for clients that do not ask for HTML → 200: where to start (the API's description).
pub fn start_here() -> Reply {
    Reply::json(
        200,
        json!({
            "service": "beefirst",
            "openapi": "/openapi.json",
            "health": "/health",
            "message": "A user-registration API: start with POST /register; every endpoint is \
                        described in /openapi.json.",
        }),
    )
}

/// `GET /health` → 200 `{"status": "ok"}` when PostgreSQL answers, else 503 `unavailable`.
pub fn health(_: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    app::check_database(state)?;
    Ok(Reply::json(200, json!({"status": "ok"})))
}

/// `GET /metrics` → 200 in the Prometheus text format (the one response that is not JSON).
pub fn metrics(_: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let (in_use, idle) = app::pool_connections(state);
    let backlog = app::worker_backlog(state);
    let text = METRICS.render(in_use, idle, backlog);
    Ok(Reply { status: 200, body: Body::Prometheus(text), headers: Vec::new() })
}

/// `GET /openapi.json` → the OpenAPI 3.1 document, with the configured code lengths.
pub fn openapi(_: &ApiRequest, state: &AppState) -> Result<Reply, Error> {
    let document =
        openapi_document(state.config.claims.code_lengths, state.config.mailed_codes.digits);
    Ok(Reply { status: 200, body: Body::Static(document), headers: Vec::new() })
}

/// The OpenAPI 3.1 document as written, for `CODE_DIGITS=4`, `HARDENED_CODE_DIGITS=8` and
/// `RESET_CODE_DIGITS=8`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The document served at `GET /openapi.json`: [`OPENAPI`] with the configured code lengths, so
/// it stays true when they change. Rendered once per process.
pub fn openapi_document(lengths: CodeLengths, reset_digits: u32) -> &'static str {
    static RENDERED: OnceLock<String> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let pattern = format!("^([0-9]{{{}}}|[0-9]{{{}}})$", lengths.normal, lengths.hardened);
        let reset = format!("^[0-9]{{{reset_digits}}}$");
        OPENAPI.replace("^([0-9]{4}|[0-9]{8})$", &pattern).replace("^[0-9]{8}$", &reset)
    })
}
