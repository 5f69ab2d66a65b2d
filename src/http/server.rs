//! The accept loop, two bounded lanes of worker threads, and graceful shutdown.
//!
//! ```text
//!                                                 ┌─▶ [ requests: QUEUE_DEPTH ] ──▶ WORKERS threads
//!  tiny_http ──recv()──▶ dispatcher ──lane_of()──┤
//!                            │                    └─▶ [ hashing: HASH_QUEUE_DEPTH ] ─▶ HASH_THREADS threads
//!                            └─ lane full: 503 overloaded, Retry-After: 1 (no database work)
//! ```
//!
//! Endpoints that run bcrypt have their own threads (as many as cores by default) and their own
//! queue, so a flood of registrations saturates the CPU with hashing and sheds its excess, while
//! `/health`, `/me` and the rest are still served by idle workers at once.
//!
//! SIGTERM/SIGINT: the dispatcher stops taking requests and the listener closes; workers finish
//! what is queued or running, for at most `SHUTDOWN_GRACE_SECONDS`; then `serve` returns.

use super::lane::LaneQueue;
use super::metrics::{Lane, METRICS};
use super::router::lane_of;
use crate::service::AppState;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::time::{Duration, Instant};
use tiny_http::{Request, Server};

/// How serving ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// A signal asked for it; every in-flight request finished within the grace period.
    Gracefully,
    /// A signal asked for it, but requests were still running when the grace period ended.
    GraceExpired { still_running: usize },
}

/// Installs the signal handlers, starts both lanes' workers, prints the `listening` line (the
/// first line on stdout: from then on SIGTERM is graceful) and serves until SIGTERM or SIGINT.
/// Errors: the listener failed (tiny_http cannot recover from that; the caller exits non-zero so a
/// supervisor restarts the process) or signals or threads could not be set up.
pub fn serve(server: Server, addr: SocketAddr, state: Arc<AppState>) -> Result<Stopped, String> {
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    watch_signals(Arc::clone(&server), Arc::clone(&stopping))?;

    let (done_tx, done_rx) = mpsc::channel::<()>();
    let config = &state.config;
    let requests = start_lane(
        Lane::Requests,
        config.workers,
        config.queue_depth,
        &state,
        &done_tx,
    )?;
    let hashing = start_lane(
        Lane::Hashing,
        config.hash_threads,
        config.hash_queue_depth,
        &state,
        &done_tx,
    )?;
    let workers = config.workers + config.hash_threads;

    crate::log::info("listening", json!({"addr": addr.to_string()}));
    let trust_xff = config.trust_x_forwarded_for;
    let failure = loop {
        match server.recv() {
            Ok(request) => {
                let lane = lane_of(request.method(), request.url());
                let queue = if lane == Lane::Hashing {
                    &hashing
                } else {
                    &requests
                };
                if let Some(request) = queue.admit(request) {
                    METRICS.shed(lane);
                    super::shed(request, trust_xff);
                }
            }
            Err(_) if stopping.load(Ordering::SeqCst) => break None,
            Err(e) => break Some(format!("the listener failed: {e}")),
        }
    };
    if let Some(reason) = failure {
        crate::log::error("listener_failed", json!({"error": reason}));
        return Err(reason);
    }

    crate::log::info(
        "shutting_down",
        json!({"grace_seconds": config.shutdown_grace.as_secs()}),
    );
    requests.close(); // workers exit once their queue is empty
    hashing.close();
    drop(server); // closes the listening socket: nothing new is accepted
    let deadline = Instant::now() + config.shutdown_grace;
    let mut finished = 0;
    while finished < workers {
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left.max(Duration::from_millis(1))) {
            Ok(()) => finished += 1,
            Err(_) => {
                return Ok(Stopped::GraceExpired {
                    still_running: workers - finished,
                });
            }
        }
    }
    Ok(Stopped::Gracefully)
}

/// Starts `threads` workers behind a queue of `depth`.
fn start_lane(
    lane: Lane,
    threads: usize,
    depth: usize,
    state: &Arc<AppState>,
    done: &Sender<()>,
) -> Result<Arc<LaneQueue<Request>>, String> {
    let queue = Arc::new(LaneQueue::new(lane, threads, depth));
    for i in 0..threads {
        let (queue, state, done) = (Arc::clone(&queue), Arc::clone(state), done.clone());
        std::thread::Builder::new()
            .name(format!("{lane:?}-{i}").to_lowercase())
            .spawn(move || {
                while let Some(request) = queue.take() {
                    super::handle(request, &state);
                    queue.finished();
                }
                let _ = done.send(());
            })
            .map_err(|e| format!("cannot start worker threads: {e}"))?;
    }
    Ok(queue)
}

/// On SIGTERM or SIGINT: mark the server as stopping and wake the dispatcher.
fn watch_signals(server: Arc<Server>, stopping: Arc<AtomicBool>) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                crate::log::info("signal", json!({"signal": signal}));
                stopping.store(true, Ordering::SeqCst);
                server.unblock();
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}
