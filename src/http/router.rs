//! Routing: one `match` on (method, path); each arm returns a value.

use super::handlers;
use super::response::{Body, Reply};
use crate::error::Error;
use crate::service::{AppState, limits};
use std::net::IpAddr;
use std::sync::OnceLock;
use tiny_http::{Method, Request};

/// The OpenAPI 3.1 document as written, for `CODE_DIGITS=4`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The document served at `GET /openapi.json`: [`OPENAPI`] with the configured code length, so it
/// stays true when `CODE_DIGITS` changes. Rendered once per process.
pub fn openapi_document(code_digits: u32) -> &'static str {
    static RENDERED: OnceLock<String> = OnceLock::new();
    RENDERED.get_or_init(|| OPENAPI.replace("^[0-9]{4}$", &format!("^[0-9]{{{code_digits}}}$")))
}

/// Dispatches one request. The query string is ignored. Every POST to a known endpoint first
/// counts against the client IP's rate limit (`RATE_LIMIT_IP_PER_MINUTE`).
pub fn route(
    request: &mut Request,
    state: &AppState,
    client_ip: Option<IpAddr>,
) -> Result<Reply, Error> {
    let path = request.url().split('?').next().unwrap_or("");
    let is_get = matches!(request.method(), Method::Get | Method::Head);
    let is_post = *request.method() == Method::Post;
    let post_endpoint = matches!(path, "/register" | "/activate" | "/resend");
    if is_post && post_endpoint {
        if let Some(ip) = client_ip {
            limits::count_post_from(state, ip)?;
        }
    }
    match path {
        "/register" if is_post => handlers::register(request, state),
        "/activate" if is_post => handlers::activate(request, state),
        "/resend" if is_post => handlers::resend(request, state),
        "/health" if is_get => handlers::health(state),
        "/openapi.json" if is_get => Ok(Reply {
            status: 200,
            body: Body::Static(openapi_document(state.config.code_digits)),
            headers: Vec::new(),
        }),
        _ if post_endpoint => Err(Error::MethodNotAllowed { allow: "POST" }),
        "/health" | "/openapi.json" => Err(Error::MethodNotAllowed { allow: "GET, HEAD" }),
        _ => Err(Error::NotFound),
    }
}
