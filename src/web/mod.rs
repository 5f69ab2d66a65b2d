//! The outer layer that serves HTTP with tiny_http: [`server`] runs the accept loop, the lanes and
//! the worker threads, [`router`] the table of endpoints; this module turns one request into one
//! response and one log line. Nothing else in the crate imports it.

mod assets;
pub mod cors;
pub mod lane;
pub mod listener;
mod pages;
pub mod request;
pub mod response;
pub mod router;
pub mod server;

use crate::api::Reply;
use crate::app::AppState;
use crate::context::Context;
use crate::error::Error;
use crate::telemetry::log;
use crate::telemetry::metrics::METRICS;
use request::MAX_BODY_BYTES;
use response::{Failure, Refusal};
use serde_json::json;
use std::net::IpAddr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;
use tiny_http::Request;

/// Handles one request on a worker: route, map errors, respond, log. A panic in a handler is
/// caught (the worker survives) and answered with an opaque 500.
pub fn handle(mut request: Request, state: &AppState) {
    let started = Instant::now();
    let client_ip = client_ip(&request, state.config.server.trust_x_forwarded_for);
    let request_id = request_id(&request);
    let context = Context {
        client_ip: client_ip.map(|ip| ip.to_string()),
        request_id: Some(request_id.clone()),
    };
    let preflight = router::preflight(request.method(), request.url());
    let cors =
        cors::headers(&request, &state.config.server.cors_allowed_origins, preflight.as_deref());
    let result = match preflight {
        Some(allow) => Ok(Reply::no_content().with_header("Allow", allow)),
        None => catch_unwind(AssertUnwindSafe(|| {
            router::route_request(&mut request, state, client_ip, context)
        }))
        .unwrap_or_else(|_| Err(Error::internal("handler panicked").into())),
    };
    finish(request, result, cors, client_ip, started, request_id);
}

/// Answers a request its lane's queue had no room for: 503 `overloaded`, no database work.
pub fn shed(request: Request, trust_x_forwarded_for: bool) {
    let client_ip = client_ip(&request, trust_x_forwarded_for);
    let request_id = request_id(&request);
    let overloaded = Err(Refusal::Overloaded.into());
    finish(request, overloaded, Vec::new(), client_ip, Instant::now(), request_id);
}

/// Writes the reply and the request's log line.
///
/// tiny_http drains an unread body after the response, on the responding thread (see
/// README, "Deploying"). A body declared over [`MAX_BODY_BYTES`] is never read, so such a
/// response is written from a short-lived thread of its own: a client that declares a huge body and
/// never sends it pins that thread, not a worker or the accept loop.
fn finish(
    request: Request,
    result: Result<Reply, Failure>,
    cors: Vec<(&'static str, String)>,
    client_ip: Option<IpAddr>,
    started: Instant,
    request_id: String,
) {
    let method = request.method().to_string();
    let path: String = request.url().split('?').next().unwrap_or("").chars().take(200).collect();
    let reply = result
        .unwrap_or_else(|failure| {
            if let Failure::Failed(Error::Internal(detail)) = &failure {
                let detail = detail.to_string(); // with its chain of causes
                log::error("internal_error", json!({"request_id": request_id, "detail": detail}));
            }
            response::reply_to(&failure)
        })
        .with_headers(cors);
    let status = reply.status;
    METRICS.observe(router::route_label(&path), status, started.elapsed().as_secs_f64());
    let response = response::into_response(reply, &request_id);
    if request.body_length().is_some_and(|n| n > MAX_BODY_BYTES) {
        let spawned = std::thread::Builder::new()
            .name("oversized-body".into())
            .spawn(move || drop(request.respond(response)));
        if spawned.is_err() {
            log::error("thread_spawn_failed", json!({"request_id": request_id}));
        }
    } else {
        let _ = request.respond(response);
    }
    log::info(
        "request",
        json!({
            "request_id": request_id, "method": method, "path": path, "status": status,
            "duration_ms": (started.elapsed().as_secs_f64() * 1e6).round() / 1e3,
            "client_ip": client_ip.map(|ip| ip.to_string()),
        }),
    );
}

/// The client's IP: the TCP peer, or with `TRUST_X_FORWARDED_FOR=true` the rightmost address of the
/// last `X-Forwarded-For` header (the one our own proxy appended; anything left of it is whatever
/// the client claimed). Falls back to the peer when the header is missing or unparsable.
pub fn client_ip(request: &Request, trust_x_forwarded_for: bool) -> Option<IpAddr> {
    let forwarded = trust_x_forwarded_for
        .then(|| {
            request
                .headers()
                .iter()
                .rev()
                .find(|h| h.field.equiv("X-Forwarded-For"))
                .and_then(|h| h.value.as_str().rsplit(',').next())
                .and_then(|last| last.trim().parse().ok())
        })
        .flatten();
    forwarded.or_else(|| request.remote_addr().map(|a| a.ip()))
}

/// The incoming `X-Request-Id` if it is sane (`[A-Za-z0-9._-]{1,64}`, so it can never inject a
/// header), else 16 hex digits: a random per-process prefix and a counter (unique, and no
/// system call per request).
fn request_id(request: &Request) -> String {
    let sane = |id: &&str| {
        (1..=64).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    match request::header(request, "X-Request-Id").filter(sane) {
        Some(id) => id.to_owned(),
        None => {
            static PREFIX: OnceLock<u64> = OnceLock::new();
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let prefix = *PREFIX.get_or_init(|| getrandom::u64().unwrap_or(0) << 40);
            let count = COUNTER.fetch_add(1, Ordering::Relaxed) & ((1 << 40) - 1);
            format!("{:016x}", prefix | count)
        }
    }
}
