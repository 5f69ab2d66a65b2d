//! The tiny_http adapter: a fixed pool of worker threads pulling requests from one server.
//!
//! tiny_http accepts connections and parses request heads on its own threads; our `WORKERS`
//! threads bound how many handlers run at once (see shared/TINY_HTTP.md).

pub mod auth;
mod handlers;
pub mod request;
pub mod response;
pub mod router;

use crate::error::Error;
use crate::service::AppState;
use response::Reply;
use serde_json::json;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;
use tiny_http::{Request, Server};

/// Starts `state.config.workers` worker threads serving `server`.
///
/// If `recv()` ever fails, tiny_http's listener is gone for good: the worker logs it and exits the
/// process non-zero so a supervisor restarts it, instead of staying up deaf.
pub fn spawn_workers(server: Arc<Server>, state: Arc<AppState>) -> Vec<JoinHandle<()>> {
    (0..state.config.workers)
        .map(|i| {
            let server = Arc::clone(&server);
            let state = Arc::clone(&state);
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || {
                    loop {
                        match server.recv() {
                            Ok(request) => handle(request, &state),
                            Err(e) => {
                                crate::log::error(
                                    "listener_failed",
                                    json!({"error": e.to_string()}),
                                );
                                std::process::exit(1);
                            }
                        }
                    }
                })
                .unwrap_or_else(|e| {
                    crate::log::error("worker_spawn_failed", json!({"error": e.to_string()}));
                    std::process::exit(1);
                })
        })
        .collect()
}

/// Handles one request: route, map errors, respond, log one line. A panic in a handler is caught
/// (the worker survives) and answered with an opaque 500.
pub fn handle(mut request: Request, state: &AppState) {
    let started = Instant::now();
    let request_id = request_id(&request);
    let method = request.method().to_string();
    let path: String = request
        .url()
        .split('?')
        .next()
        .unwrap_or("")
        .chars()
        .take(200)
        .collect();
    let client_ip = request.remote_addr().map(|a| a.ip().to_string());

    let result = catch_unwind(AssertUnwindSafe(|| router::route(&mut request, state)))
        .unwrap_or_else(|_| Err(Error::Internal("handler panicked".into())));
    let reply = result.unwrap_or_else(|error| {
        if let Error::Internal(detail) = &error {
            crate::log::error(
                "internal_error",
                json!({"request_id": request_id, "detail": detail}),
            );
        }
        Reply::from(&error)
    });
    let status = reply.status;
    let _ = request.respond(reply.into_response(&request_id));
    crate::log::info(
        "request",
        json!({
            "request_id": request_id, "method": method, "path": path, "status": status,
            "duration_ms": (started.elapsed().as_secs_f64() * 1e6).round() / 1e3, "client_ip": client_ip,
        }),
    );
}

/// The incoming `X-Request-Id` if it is sane (`[A-Za-z0-9._-]{1,64}`, so it can never inject a
/// header), else 16 random hex digits.
fn request_id(request: &Request) -> String {
    let sane = |id: &&str| {
        (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    match request::header(request, "X-Request-Id").filter(sane) {
        Some(id) => id.to_owned(),
        None => format!("{:016x}", getrandom::u64().unwrap_or(0)),
    }
}
