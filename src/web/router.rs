//! Routing: one table, [`ROUTES`], of (method, path, lane, handler). It drives dispatch, the
//! `Allow` header of a 405, the lane a request waits in, the per-IP limit on POSTs and the metric
//! labels, so an endpoint is added with one row.

use super::request::{api_request, read_body};
use super::response::{Failure, Refusal};
use super::{assets, pages};
use crate::api::{ApiRequest, Reply};
use crate::app::AppState;
use crate::context::Context;
use crate::error::Error;
use crate::features::{
    account, admin, audit, data_export, email_change, gateway, identities, passkeys, rate_limits,
    recovery, registration, sessions, sign_in_code, totp, webhooks,
};
use crate::telemetry::metrics::Lane;
use std::net::IpAddr;
use tiny_http::{Method, Request};

/// What serves one endpoint: it reads the request and returns the reply or the error to map.
pub type Handler = fn(&ApiRequest, &AppState) -> Result<Reply, Error>;

/// One endpoint.
pub struct Route {
    /// `GET` routes also answer `HEAD`.
    pub method: Method,
    /// The path; a segment `{id}` matches a number, `{name}` a provider's name (lowercase
    /// letters, digits, `-`). The query string is ignored.
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
pub static ROUTES: [Route; 59] = {
    use Lane::{Hashing, Requests};
    use Method::{Delete, Get, Patch, Post};
    [
        route(Post, "/register", Hashing, registration::api::register),
        route(Post, "/activate", Hashing, registration::api::activate),
        route(Post, "/resend", Hashing, registration::api::resend),
        route(Post, "/login", Hashing, sessions::api::login),
        route(Post, "/login/mfa", Requests, sessions::api::login_mfa),
        route(Post, "/login/code", Requests, sign_in_code::api::request_code),
        route(Post, "/login/code/verify", Requests, sign_in_code::api::verify_code),
        route(Post, "/login/passkey/options", Requests, passkeys::api::sign_in_options),
        route(Post, "/login/passkey", Requests, passkeys::api::sign_in),
        route(Get, "/idp", Requests, identities::api::providers),
        route(Get, "/idp/{name}/authorize", Requests, identities::api::authorize),
        route(Get, "/idp/{name}/callback", Requests, identities::api::callback),
        route(Post, "/idp/exchange", Requests, identities::api::exchange),
        route(Post, "/token/refresh", Requests, sessions::api::refresh),
        route(Post, "/logout", Requests, sessions::api::logout),
        route(Get, "/me", Requests, account::api::me),
        route(Get, "/verify", Requests, gateway::api::verify),
        route(Patch, "/me", Requests, account::api::update_me),
        route(Delete, "/me", Hashing, account::api::delete_me),
        route(Post, "/me/password", Hashing, account::api::change_password),
        route(Post, "/me/email", Hashing, email_change::api::change_email),
        route(Post, "/me/email/confirm", Requests, email_change::api::confirm_email),
        route(Post, "/me/totp", Hashing, totp::api::enroll),
        route(Delete, "/me/totp", Hashing, totp::api::disable),
        route(Post, "/me/totp/confirm", Requests, totp::api::confirm),
        route(Post, "/me/passkeys/options", Hashing, passkeys::api::registration_options),
        route(Post, "/me/passkeys", Requests, passkeys::api::register),
        route(Get, "/me/passkeys", Requests, passkeys::api::list),
        route(Patch, "/me/passkeys/{id}", Requests, passkeys::api::rename),
        route(Delete, "/me/passkeys/{id}", Requests, passkeys::api::delete),
        route(Get, "/me/identities", Requests, identities::api::list),
        route(Post, "/me/identities/confirm", Requests, identities::api::confirm),
        route(Post, "/me/identities/{name}", Requests, identities::api::link),
        route(Delete, "/me/identities/{id}", Requests, identities::api::unlink),
        route(Post, "/password/forgot", Requests, recovery::api::forgot),
        route(Post, "/password/reset", Hashing, recovery::api::reset),
        route(Get, "/me/sessions", Requests, sessions::api::list),
        route(Delete, "/me/sessions", Requests, sessions::api::revoke_others),
        route(Delete, "/me/sessions/{id}", Requests, sessions::api::revoke_one),
        route(Get, "/me/events", Requests, audit::api::own_events),
        route(Get, "/me/export", Requests, data_export::api::export),
        route(Get, "/admin/users", Requests, admin::api::list_users),
        route(Get, "/admin/users/{id}", Requests, admin::api::get_user),
        route(Patch, "/admin/users/{id}", Requests, admin::api::patch_user),
        route(Delete, "/admin/users/{id}", Requests, admin::api::delete_user),
        route(Post, "/admin/users/{id}/disable", Requests, admin::api::disable_user),
        route(Post, "/admin/users/{id}/enable", Requests, admin::api::enable_user),
        route(Delete, "/admin/users/{id}/sessions", Requests, admin::api::revoke_user_sessions),
        route(Get, "/admin/webhooks/deliveries", Requests, webhooks::api::list_deliveries),
        route(
            Post,
            "/admin/webhooks/deliveries/{id}/retry",
            Requests,
            webhooks::api::retry_delivery,
        ),
        route(Get, "/admin/events", Requests, audit::api::list_events),
        route(Get, "/.well-known/jwks.json", Requests, sessions::api::jwks),
        route(Get, "/", Requests, assets::index),
        route(Get, "/app.js", Requests, assets::script),
        route(Get, "/app.css", Requests, assets::style),
        route(Get, "/icon.svg", Requests, assets::icon),
        route(Get, "/health", Requests, pages::health),
        route(Get, "/metrics", Requests, pages::metrics),
        route(Get, "/openapi.json", Requests, pages::openapi),
    ]
};

/// The route for `method` and the path of `url`. Errors: 404 for an unknown path, 405 with the
/// path's `Allow` list for another method.
pub fn find(method: &Method, url: &str) -> Result<&'static Route, Refusal> {
    let path = url.split('?').next().unwrap_or("");
    let method = if *method == Method::Head { &Method::Get } else { method };
    let mut same_path = ROUTES.iter().filter(|r| matches(r.path, path)).peekable();
    if same_path.peek().is_none() {
        return Err(Refusal::NoRoute);
    }
    same_path
        .find(|r| r.method == *method)
        .ok_or_else(|| Refusal::MethodNotAllowed { allow: allow(path) })
}

/// True when `path` has `pattern`'s segments, `{id}` standing for a number.
fn matches(pattern: &str, path: &str) -> bool {
    let (mut want, mut have) = (pattern.split('/'), path.split('/'));
    loop {
        match (want.next(), have.next()) {
            (None, None) => return true,
            (Some("{id}"), Some(seg))
                if !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit()) => {}
            (Some("{name}"), Some(seg))
                if !seg.is_empty()
                    && seg.len() <= 32
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') => {}
            (Some(w), Some(h)) if w == h => {}
            _ => return false,
        }
    }
}

/// The `Allow` header for `path`: the methods of every route it matches (`/me/identities/5` is
/// both an identity and a provider's name), in table order, `HEAD` after `GET`.
fn allow(path: &str) -> String {
    let mut methods = Vec::new();
    for route in ROUTES.iter().filter(|r| matches(r.path, path)) {
        for method in [route.method.as_str()]
            .into_iter()
            .chain((route.method == Method::Get).then_some("HEAD"))
        {
            if !methods.contains(&method) {
                methods.push(method);
            }
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
    ROUTES.iter().find(|r| matches(r.path, path))?;
    Some(format!("{}, OPTIONS", allow(path)))
}

/// Dispatches one request: a POST (and `GET /idp/{name}/authorize`, the one GET that writes: a
/// sign-in's state) first counts against the client IP's rate limit, then the body is read
/// (within its limits) and the handler runs on the request's neutral form.
pub fn route_request(
    request: &mut Request,
    state: &AppState,
    client_ip: Option<IpAddr>,
    context: Context,
) -> Result<Reply, Failure> {
    let route = find(request.method(), request.url())?;
    if route.method == Method::Post || route.path == "/idp/{name}/authorize" {
        if let Some(ip) = client_ip {
            rate_limits::flow::count_post_from(state, ip)?;
        }
    }
    let body = if route.method == Method::Get { Vec::new() } else { read_body(request)? };
    let api = api_request(request, body, context);
    Ok((route.handler)(&api, state)?)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_answers_404_405_with_allow_and_picks_lanes() {
        assert!(matches!(find(&Method::Get, "/nope"), Err(Refusal::NoRoute)));
        let Err(Refusal::MethodNotAllowed { allow }) = find(&Method::Put, "/me") else { panic!() };
        assert_eq!(allow, "GET, HEAD, PATCH, DELETE");
        assert_eq!(find(&Method::Head, "/health?x=1").unwrap().path, "/health");
        assert_eq!(lane_of(&Method::Delete, "/me"), Lane::Hashing);
        assert_eq!(lane_of(&Method::Get, "/me"), Lane::Requests);
        assert_eq!(route_label("/me/password?a"), "/me/password");
        assert_eq!(route_label("/secret"), "unmatched");
        assert_eq!(route_label("/me/sessions/42"), "/me/sessions/{id}");
        assert_eq!(find(&Method::Delete, "/me/sessions/7").unwrap().path, "/me/sessions/{id}");
        assert!(matches!(find(&Method::Delete, "/me/sessions/x"), Err(Refusal::NoRoute)));
        assert!(matches!(find(&Method::Delete, "/me/sessions/"), Err(Refusal::NoRoute)));
        let mut paths: Vec<_> = ROUTES.iter().map(|r| (r.path, r.method.as_str())).collect();
        paths.sort();
        paths.dedup();
        assert_eq!(paths.len(), ROUTES.len(), "one row per method and path");
    }

    #[test]
    fn every_route_is_in_the_openapi_document() {
        let doc: serde_json::Value = serde_json::from_str(super::pages::OPENAPI).unwrap();
        for route in &ROUTES {
            let method = route.method.as_str().to_ascii_lowercase();
            let operation = &doc["paths"][route.path][method.as_str()];
            assert!(operation.is_object(), "{} {} is not documented", route.method, route.path);
        }
    }
}
