//! Routing: one table, [`ROUTES`], of (method, path, lane, handler). It drives dispatch, the
//! `Allow` header of a 405, the lane a request waits in, the per-IP limit on POSTs and the metric
//! labels, so an endpoint is added with one row.

use super::handlers::{self, account, admin, recovery, registration, sessions, totp, web};
use super::metrics::Lane;
use super::response::Reply;
use crate::domain::CodeLengths;
use crate::error::Error;
use crate::service::{AppState, limits};
use std::net::IpAddr;
use std::sync::OnceLock;
use tiny_http::{Method, Request};

/// What serves one endpoint: it reads the request and returns the reply or the error to map.
pub type Handler = fn(&mut Request, &AppState) -> Result<Reply, Error>;

/// One endpoint.
pub struct Route {
    /// `GET` routes also answer `HEAD`.
    pub method: Method,
    /// The path; a segment `{id}` matches a number. The query string is ignored.
    pub path: &'static str,
    /// [`Lane::Hashing`] for every endpoint that runs bcrypt (≈ 230 ms of CPU at cost 12), so
    /// that other requests never wait behind password hashing.
    pub lane: Lane,
    handler: Handler,
}

const fn route(method: Method, path: &'static str, lane: Lane, handler: Handler) -> Route {
    Route { method, path, lane, handler }
}

/// Every endpoint of the service. Each POST counts against the client IP's rate limit
/// (`RATE_LIMIT_IP_PER_MINUTE`) before its handler runs.
pub static ROUTES: [Route; 40] = {
    use Lane::{Hashing, Requests};
    use Method::{Delete, Get, Patch, Post};
    [
        route(Post, "/register", Hashing, registration::register),
        route(Post, "/activate", Hashing, registration::activate),
        route(Post, "/resend", Hashing, registration::resend),
        route(Post, "/login", Hashing, sessions::login),
        route(Post, "/login/mfa", Requests, sessions::login_mfa),
        route(Post, "/login/code", Requests, sessions::login_code),
        route(Post, "/login/code/verify", Requests, sessions::login_code_verify),
        route(Post, "/token/refresh", Requests, sessions::refresh),
        route(Post, "/logout", Requests, sessions::logout),
        route(Get, "/me", Requests, account::me),
        route(Patch, "/me", Requests, account::update_me),
        route(Delete, "/me", Hashing, account::delete_me),
        route(Post, "/me/password", Hashing, account::change_password),
        route(Post, "/me/email", Hashing, recovery::change_email),
        route(Post, "/me/email/confirm", Requests, recovery::confirm_email),
        route(Post, "/me/totp", Hashing, totp::enroll),
        route(Delete, "/me/totp", Hashing, totp::disable),
        route(Post, "/me/totp/confirm", Requests, totp::confirm),
        route(Post, "/password/forgot", Requests, recovery::forgot),
        route(Post, "/password/reset", Hashing, recovery::reset),
        route(Get, "/me/sessions", Requests, sessions::list),
        route(Delete, "/me/sessions", Requests, sessions::revoke_others),
        route(Delete, "/me/sessions/{id}", Requests, sessions::revoke_one),
        route(Get, "/me/events", Requests, admin::own_events),
        route(Get, "/admin/users", Requests, admin::list_users),
        route(Get, "/admin/users/{id}", Requests, admin::get_user),
        route(Patch, "/admin/users/{id}", Requests, admin::patch_user),
        route(Delete, "/admin/users/{id}", Requests, admin::delete_user),
        route(Post, "/admin/users/{id}/disable", Requests, admin::disable_user),
        route(Post, "/admin/users/{id}/enable", Requests, admin::enable_user),
        route(Delete, "/admin/users/{id}/sessions", Requests, admin::revoke_user_sessions),
        route(Get, "/admin/events", Requests, admin::list_events),
        route(Get, "/.well-known/jwks.json", Requests, sessions::jwks),
        route(Get, "/", Requests, web::index),
        route(Get, "/app.js", Requests, web::script),
        route(Get, "/app.css", Requests, web::style),
        route(Get, "/icon.svg", Requests, web::icon),
        route(Get, "/health", Requests, handlers::health),
        route(Get, "/metrics", Requests, handlers::metrics),
        route(Get, "/openapi.json", Requests, handlers::openapi),
    ]
};

/// The route for `method` and the path of `url`. Errors: 404 for an unknown path, 405 with the
/// path's `Allow` list for another method.
pub fn find(method: &Method, url: &str) -> Result<&'static Route, Error> {
    let path = url.split('?').next().unwrap_or("");
    let method = if *method == Method::Head { &Method::Get } else { method };
    let mut same_path = ROUTES.iter().filter(|r| matches(r.path, path)).peekable();
    let Some(first) = same_path.peek() else {
        return Err(Error::NotFound);
    };
    let pattern = first.path;
    same_path
        .find(|r| r.method == *method)
        .ok_or_else(|| Error::MethodNotAllowed { allow: allow(pattern) })
}

/// True when `path` has `pattern`'s segments, `{id}` standing for a number.
fn matches(pattern: &str, path: &str) -> bool {
    let (mut want, mut have) = (pattern.split('/'), path.split('/'));
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some("{id}"), Some(seg))
                if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) => {}
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// The `Allow` header for the routes of `pattern`: their methods in table order, `HEAD` after
/// `GET`.
fn allow(pattern: &str) -> String {
    let mut methods = Vec::new();
    for route in ROUTES.iter().filter(|r| r.path == pattern) {
        methods.push(route.method.as_str());
        if route.method == Method::Get {
            methods.push("HEAD");
        }
    }
    methods.join(", ")
}

/// For an `OPTIONS` request to a known path (a CORS preflight, or a client asking what it may
/// do): the path's methods for `Allow` and `Access-Control-Allow-Methods`. `None` for any other
/// request; an `OPTIONS` to an unknown path is routed on, to its 404.
pub fn preflight(method: &Method, url: &str) -> Option<String> {
    if *method != Method::Options {
        return None;
    }
    let path = url.split('?').next().unwrap_or("");
    let route = ROUTES.iter().find(|r| matches(r.path, path))?;
    Some(format!("{}, OPTIONS", allow(route.path)))
}

/// Dispatches one request: a POST first counts against the client IP's rate limit.
pub fn route_request(
    request: &mut Request,
    state: &AppState,
    client_ip: Option<IpAddr>,
) -> Result<Reply, Error> {
    let route = find(request.method(), request.url())?;
    if route.method == Method::Post {
        if let Some(ip) = client_ip {
            limits::count_post_from(state, ip)?;
        }
    }
    (route.handler)(request, state)
}

/// The lane that serves a request; unknown paths are answered (404/405) in the requests lane.
pub fn lane_of(method: &Method, url: &str) -> Lane {
    find(method, url).map_or(Lane::Requests, |r| r.lane)
}

/// The metric label for `path`: its route's path (`/me/sessions/{id}` for every id), else
/// `unmatched`.
pub fn route_label(path: &str) -> &'static str {
    let path = path.split('?').next().unwrap_or("");
    ROUTES.iter().find(|r| matches(r.path, path)).map_or("unmatched", |r| r.path)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_answers_404_405_with_allow_and_picks_lanes() {
        assert!(matches!(find(&Method::Get, "/nope"), Err(Error::NotFound)));
        let Err(Error::MethodNotAllowed { allow }) = find(&Method::Put, "/me") else { panic!() };
        assert_eq!(allow, "GET, HEAD, PATCH, DELETE");
        assert_eq!(find(&Method::Head, "/health?x=1").unwrap().path, "/health");
        assert_eq!(lane_of(&Method::Delete, "/me"), Lane::Hashing);
        assert_eq!(lane_of(&Method::Get, "/me"), Lane::Requests);
        assert_eq!(route_label("/me/password?a"), "/me/password");
        assert_eq!(route_label("/secret"), "unmatched");
        assert_eq!(route_label("/me/sessions/42"), "/me/sessions/{id}");
        assert_eq!(find(&Method::Delete, "/me/sessions/7").unwrap().path, "/me/sessions/{id}");
        assert!(matches!(find(&Method::Delete, "/me/sessions/x"), Err(Error::NotFound)));
        assert!(matches!(find(&Method::Delete, "/me/sessions/"), Err(Error::NotFound)));
        let mut paths: Vec<_> = ROUTES.iter().map(|r| (r.path, r.method.as_str())).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), ROUTES.len(), "one row per method and path");
    }

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).unwrap();
        for route in &ROUTES {
            let method = route.method.as_str().to_ascii_lowercase();
            let operation = &doc["paths"][route.path][method.as_str()];
            assert!(operation.is_object(), "{} {} is not documented", route.method, route.path);
        }
    }
}
