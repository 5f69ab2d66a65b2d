//! The accept loop, two bounded lanes of worker threads, and graceful shutdown.
//!
//! ```text
//!                   any idle one of WORKERS + 1 request threads
//!  tiny_http ──recv()──▶  ├─ cheap request, < WORKERS serving: served by the thread that received it
//!                         ├─ cheap request, WORKERS serving: [ requests: QUEUE_DEPTH ] ──▶ next to finish
//!                         ├─ bcrypt endpoint: [ hashing: HASH_QUEUE_DEPTH ] ──▶ 4 × HASH_THREADS threads ─▶ bcrypt helpers, HASH_THREADS at once
//!                         └─ queue full: 503 overloaded, Retry-After: 1 (no database work)
//! ```
//!
//! Every idle request thread waits in tiny_http's `recv()`, so a request wakes exactly one thread
//! and is served by it, with no hand-off (on two cores, thread wake-ups are most of the cost of a
//! cheap request). At most WORKERS serve at once: the one extra thread then only queues (bounded)
//! and sheds, like a dispatcher, and a worker takes queued requests before it receives again.
//! Endpoints that run bcrypt have their own threads and queue, so a flood of registrations never
//! delays `/health` or `/me`.
//!
//! SIGTERM/SIGINT: every receiving thread is unblocked and the listener closes; workers finish what
//! is queued or running, for at most `SHUTDOWN_GRACE_SECONDS`; then `serve` returns.

use super::lane::LaneQueue;
use super::router::lane_of;
use crate::app::AppState;
use crate::telemetry::metrics::{Lane, METRICS};
use serde_json::json;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};
use tiny_http::{Request, Server};

/// Workers of the hashing lane per bcrypt computation allowed at once (`HASH_THREADS`, enforced
/// in `security::hashing`): while one waits for PostgreSQL or the mail server (a registration
/// mails its code before answering: an SMTP exchange of a few round trips), the others' hashes
/// keep the cores busy. Four hide up to three hashes' time of waiting per request.
const HASHING_WORKERS_PER_HASH: usize = 4;

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
    let config = &state.config;
    watch_signals(Arc::clone(&server), Arc::clone(&stopping), config.server.workers + 1)?;

    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (outcome_tx, outcome_rx) = mpsc::channel::<Option<String>>();
    let hashing = start_lane(
        Lane::Hashing,
        config.server.hash_threads * HASHING_WORKERS_PER_HASH,
        config.server.hash_queue_depth,
        &state,
        &done_tx,
    )?;
    let requests = Arc::new(RequestLane::new(
        Arc::clone(&server),
        config.server.workers,
        config.server.queue_depth,
    ));
    // WORKERS threads serve and one more receives: when every worker is serving, the extra thread
    // queues or sheds, so at most WORKERS requests run at once and receiving never stops (with
    // WORKERS=1 there is still a thread to shed while one request runs).
    for i in 0..=config.server.workers {
        let worker = Worker {
            requests: Arc::clone(&requests),
            hashing: Arc::clone(&hashing),
            state: Arc::clone(&state),
            stopping: Arc::clone(&stopping),
            outcome: outcome_tx.clone(),
        };
        let done = done_tx.clone();
        std::thread::Builder::new()
            .name(format!("requests-{i}"))
            .spawn(move || {
                worker.run();
                let _ = done.send(());
            })
            .map_err(|e| format!("cannot start worker threads: {e}"))?;
    }
    let workers = config.server.workers + 1 + config.server.hash_threads * HASHING_WORKERS_PER_HASH;
    let open_files = super::listener::raise_open_files_limit(); // done in `run`; reads it
    crate::telemetry::log::info(
        "listening",
        json!({"addr": addr.to_string(), "open_files_limit": open_files}),
    );
    for (event, hint) in crate::app::startup_warnings(config) {
        crate::telemetry::log::line("warn", event, json!({ "hint": hint }));
    }

    let failure = outcome_rx.recv().unwrap_or_else(|_| Some("every worker has stopped".into()));
    requests.close();
    hashing.close(); // workers exit once their queue is empty
    drop(server); // with the receivers' handles gone too, the listening socket closes
    if let Some(reason) = failure {
        crate::telemetry::log::error("listener_failed", json!({"error": reason}));
        return Err(reason);
    }
    crate::telemetry::log::info(
        "shutting_down",
        json!({"grace_seconds": config.server.shutdown_grace.as_secs()}),
    );
    let deadline = Instant::now() + config.server.shutdown_grace;
    let mut finished = 0;
    while finished < workers {
        let left = deadline.saturating_duration_since(Instant::now());
        match done_rx.recv_timeout(left.max(Duration::from_millis(1))) {
            Ok(()) => finished += 1,
            Err(_) => {
                return Ok(Stopped::GraceExpired { still_running: workers - finished });
            }
        }
    }
    Ok(Stopped::Gracefully)
}

/// The requests lane: how many workers are serving, and the bounded queue of requests received
/// while all of them were.
struct RequestLane {
    /// The server, until shutdown; a thread holds a handle only while it receives.
    server: Mutex<Option<Arc<Server>>>,
    shared: Mutex<Shared>,
    workers: usize,
    depth: usize,
}

struct Shared {
    /// Received while every worker was serving; at most `depth`. Non-empty only while all
    /// `workers` are serving: each worker empties it before it receives again.
    queue: VecDeque<Request>,
    /// Workers serving a request; at most `workers`.
    serving: usize,
}

impl RequestLane {
    fn new(server: Arc<Server>, workers: usize, depth: usize) -> RequestLane {
        RequestLane {
            server: Mutex::new(Some(server)),
            shared: Mutex::new(Shared { queue: VecDeque::with_capacity(depth), serving: 0 }),
            workers,
            depth,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn server(&self) -> Option<Arc<Server>> {
        self.server.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Stops receiving: threads still blocked in `recv()` are unblocked by the signal thread.
    fn close(&self) {
        let mut server = self.server.lock().unwrap_or_else(PoisonError::into_inner);
        *server = None;
    }
}

/// One of the `WORKERS + 1` request threads.
struct Worker {
    requests: Arc<RequestLane>,
    hashing: Arc<LaneQueue<Request>>,
    state: Arc<AppState>,
    stopping: Arc<AtomicBool>,
    outcome: Sender<Option<String>>,
}

impl Worker {
    /// Receives and serves until the server is unblocked at shutdown or the listener fails.
    fn run(&self) {
        while let Some(server) = self.requests.server() {
            let received = server.recv();
            drop(server);
            let request = match received {
                Ok(request) => request,
                Err(e) => {
                    let failure = (!self.stopping.load(Ordering::SeqCst))
                        .then(|| format!("the listener failed: {e}"));
                    let _ = self.outcome.send(failure);
                    return;
                }
            };
            if let Some(request) = self.route(request) {
                self.serve(request);
            }
        }
    }

    /// A cheap request comes back to be served here if fewer than `WORKERS` are serving; else it
    /// is queued or shed. A bcrypt endpoint goes to the hashing lane (or is shed).
    fn route(&self, request: Request) -> Option<Request> {
        let trust_xff = self.state.config.server.trust_x_forwarded_for;
        if lane_of(request.method(), request.url()) == Lane::Hashing {
            if let Some(request) = self.hashing.admit(request) {
                METRICS.shed(Lane::Hashing);
                super::shed(request, trust_xff);
            }
            return None;
        }
        let mut shared = self.requests.lock();
        if shared.serving < self.requests.workers {
            shared.serving += 1;
            Some(request)
        } else if shared.queue.len() < self.requests.depth {
            shared.queue.push_back(request);
            METRICS.enqueued(Lane::Requests);
            None
        } else {
            drop(shared);
            METRICS.shed(Lane::Requests);
            super::shed(request, trust_xff);
            None
        }
    }

    /// Serves `request`, then whatever was queued meanwhile, then gives up its serving slot.
    fn serve(&self, mut request: Request) {
        loop {
            super::handle(request, &self.state);
            let mut shared = self.requests.lock();
            match shared.queue.pop_front() {
                Some(next) => {
                    METRICS.dequeued(Lane::Requests);
                    request = next;
                }
                None => {
                    shared.serving -= 1;
                    return;
                }
            }
        }
    }
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

/// On SIGTERM or SIGINT: mark the server as stopping and unblock each of the `receivers` threads
/// that may be waiting in `recv()` (after the requests tiny_http has already queued).
fn watch_signals(
    server: Arc<Server>,
    stopping: Arc<AtomicBool>,
    receivers: usize,
) -> Result<(), String> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGTERM, SIGINT])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            if let Some(signal) = signals.forever().next() {
                crate::telemetry::log::info("signal", json!({"signal": signal}));
                stopping.store(true, Ordering::SeqCst);
                for _ in 0..receivers {
                    server.unblock();
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}
