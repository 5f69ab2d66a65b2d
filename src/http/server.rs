//! The accept loop, the bounded queue, the worker pool and graceful shutdown.
//!
//! ```text
//!  tiny_http (connection threads) ──recv()──▶ dispatcher ──try_send──▶ [ queue: QUEUE_DEPTH ] ──▶ WORKERS
//!                                                 │ full
//!                                                 └──▶ 503 overloaded, Retry-After: 1 (no database)
//! ```
//!
//! SIGTERM/SIGINT: the dispatcher stops taking requests and the listener closes; workers finish
//! what is queued or running, for at most `SHUTDOWN_GRACE_SECONDS`; then `serve` returns.

use crate::service::AppState;
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, TrySendError};
use std::sync::{Arc, Mutex};
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

/// Installs the signal handlers, starts the workers, prints the `listening` line (the first line on
/// stdout: from then on SIGTERM is graceful) and serves until SIGTERM or SIGINT. Errors: the listener failed (tiny_http cannot recover from that;
/// the caller exits non-zero so a supervisor restarts the process) or signals could not be hooked.
pub fn serve(server: Server, addr: SocketAddr, state: Arc<AppState>) -> Result<Stopped, String> {
    let server = Arc::new(server);
    let stopping = Arc::new(AtomicBool::new(false));
    watch_signals(Arc::clone(&server), Arc::clone(&stopping))?;

    let (queue, receiver) = mpsc::sync_channel::<Request>(state.config.queue_depth);
    let receiver = Arc::new(Mutex::new(receiver));
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let workers = state.config.workers;
    for i in 0..workers {
        let (receiver, state, done) = (Arc::clone(&receiver), Arc::clone(&state), done_tx.clone());
        std::thread::Builder::new()
            .name(format!("worker-{i}"))
            .spawn(move || {
                work(&receiver, &state);
                let _ = done.send(());
            })
            .map_err(|e| format!("cannot start worker threads: {e}"))?;
    }

    crate::log::info("listening", json!({"addr": addr.to_string()}));
    let trust_xff = state.config.trust_x_forwarded_for;
    let failure = loop {
        match server.recv() {
            Ok(request) => match queue.try_send(request) {
                Ok(()) => {}
                Err(TrySendError::Full(request)) => super::shed(request, trust_xff),
                Err(TrySendError::Disconnected(_)) => {
                    break Some("every worker has stopped".to_owned());
                }
            },
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
        json!({"grace_seconds": state.config.shutdown_grace.as_secs()}),
    );
    drop(queue); // workers exit once the queue is empty
    drop(server); // closes the listening socket: nothing new is accepted
    let deadline = Instant::now() + state.config.shutdown_grace;
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

/// A worker: takes requests off the queue until it is closed and empty.
fn work(receiver: &Mutex<Receiver<Request>>, state: &AppState) {
    loop {
        let next = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        match next {
            Ok(request) => super::handle(request, state),
            Err(_) => return,
        }
    }
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
