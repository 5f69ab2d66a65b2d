//! Routing: one `match` on (method, path); each arm returns a value.

use super::handlers::{self, account, registration};
use super::metrics::Lane;
use super::response::{Body, Reply};
use crate::domain::CodeLengths;
use crate::error::Error;
use crate::service::{AppState, limits};
use std::net::IpAddr;
use std::sync::OnceLock;
use tiny_http::{Method, Request};

/// The OpenAPI 3.1 document as written, for `CODE_DIGITS=4` and `HARDENED_CODE_DIGITS=8`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// The document served at `GET /openapi.json`: [`OPENAPI`] with the configured code lengths, so
/// it stays true when they change. Rendered once per process.
pub fn openapi_document(lengths: CodeLengths) -> &'static str {
    static RENDERED: OnceLock<String> = OnceLock::new();
    RENDERED.get_or_init(|| {
        let pattern = format!(
            "^([0-9]{{{}}}|[0-9]{{{}}})$",
            lengths.normal, lengths.hardened
        );
        OPENAPI.replace("^([0-9]{4}|[0-9]{8})$", &pattern)
    })
}

/// Dispatches one request. The query string is ignored. Every POST to a known endpoint first
/// counts against the client IP's rate limit (`RATE_LIMIT_IP_PER_MINUTE`).
pub fn route(
    request: &mut Request,
    state: &AppState,
    client_ip: Option<IpAddr>,
) -> Result<Reply, Error> {
    let path = request.url().split('?').next().unwrap_or("").to_owned();
    let method = request.method().clone();
    let is_get = matches!(method, Method::Get | Method::Head);
    if method == Method::Post && POST_ENDPOINTS.contains(&path.as_str()) {
        if let Some(ip) = client_ip {
            limits::count_post_from(state, ip)?;
        }
    }
    match (&method, path.as_str()) {
        (Method::Post, "/register") => registration::register(request, state),
        (Method::Post, "/activate") => registration::activate(request, state),
        (Method::Post, "/resend") => registration::resend(request, state),
        (Method::Post, "/login") => account::login(request, state),
        (Method::Post, "/logout") => account::logout(request, state),
        (_, "/me") if is_get => account::me(request, state),
        (Method::Patch, "/me") => account::update_me(request, state),
        (Method::Delete, "/me") => account::delete_me(request, state),
        (Method::Post, "/me/password") => account::change_password(request, state),
        (_, "/health") if is_get => handlers::health(state),
        (_, "/metrics") if is_get => Ok(handlers::metrics(state)),
        (_, "/openapi.json") if is_get => Ok(Reply {
            status: 200,
            body: Body::Static(openapi_document(state.config.code_lengths)),
            headers: Vec::new(),
        }),
        (_, p) if POST_ENDPOINTS.contains(&p) => Err(Error::MethodNotAllowed { allow: "POST" }),
        (_, "/me") => Err(Error::MethodNotAllowed {
            allow: "GET, HEAD, PATCH, DELETE",
        }),
        (_, "/health" | "/openapi.json" | "/metrics") => {
            Err(Error::MethodNotAllowed { allow: "GET, HEAD" })
        }
        _ => Err(Error::NotFound),
    }
}

/// Every path the service answers, as bounded metric labels.
const KNOWN_PATHS: [&str; 10] = [
    "/register",
    "/activate",
    "/resend",
    "/login",
    "/logout",
    "/me",
    "/me/password",
    "/health",
    "/openapi.json",
    "/metrics",
];

/// The metric label for `path`: the path itself if known, else `unmatched`.
pub fn route_label(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or("");
    KNOWN_PATHS
        .iter()
        .find(|known| **known == path)
        .copied()
        .unwrap_or("unmatched")
}

/// The lane that serves a request: the endpoints that run bcrypt (a hash or a verification, about
/// 230 ms of CPU at cost 12) get threads and a queue of their own, so that every other request
/// never waits behind password hashing.
pub fn lane_of(method: &Method, url: &str) -> Lane {
    let path = url.split('?').next().unwrap_or("");
    match (method, path) {
        (Method::Post, "/register" | "/activate" | "/resend" | "/login" | "/me/password") => {
            Lane::Hashing
        }
        (Method::Delete, "/me") => Lane::Hashing,
        _ => Lane::Requests,
    }
}

/// Every POST endpoint: each request to one counts against the client IP's rate limit.
const POST_ENDPOINTS: [&str; 6] = [
    "/register",
    "/activate",
    "/resend",
    "/login",
    "/logout",
    "/me/password",
];
