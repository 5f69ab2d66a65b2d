//! The accept loop, two bounded lanes of worker threads, and graceful shutdown.
//!
//! ```text
//!                       leader (one of WORKERS + 1 threads, in turn)
//!  tiny_http ──recv()──▶  ├─ cheap request, a follower idle: hand leadership over, serve it here
//!                         ├─ cheap request, none idle: [ requests: QUEUE_DEPTH ] ──▶ next free worker
//!                         ├─ bcrypt endpoint: [ hashing: HASH_QUEUE_DEPTH ] ──▶ HASH_THREADS threads ─▶ bcrypt helpers
//!                         └─ queue full: 503 overloaded, Retry-After: 1 (no database work)
//! ```
//!
//! Leader/followers: the request workers take turns receiving from tiny_http. While some worker is
//! idle, a cheap request is served by the very thread that received it, with no hand-off (on two
//! cores, thread wake-ups are most of the cost of a cheap request). When every worker is busy, the
//! leader only queues (bounded) and sheds, like a dispatcher. Endpoints that run bcrypt have their
//! own threads and queue, so a flood of registrations never delays `/health` or `/me`.
//!
//! SIGTERM/SIGINT: the leader stops receiving and the listener closes; workers finish what is
//! queued or running, for at most `SHUTDOWN_GRACE_SECONDS`; then `serve` returns.

use super::lane::LaneQueue;
use super::metrics::{Lane, METRICS};
use super::router::lane_of;
use crate::service::AppState;
use serde_json::json;
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Sender};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
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

    let config = &state.config;
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let (outcome_tx, outcome_rx) = mpsc::channel::<Option<String>>();
    let hashing = start_lane(
        Lane::Hashing,
        config.hash_threads,
        config.hash_queue_depth,
        &state,
        &done_tx,
    )?;
    let requests = Arc::new(RequestLane::new(Arc::clone(&server), config.queue_depth));
    // WORKERS threads serve and one more receives: when every worker is serving, the extra thread
    // is the leader and queues or sheds, so at most WORKERS requests run at once and receiving
    // never stops (with WORKERS=1 there is still a thread to shed while one request runs).
    for i in 0..=config.workers {
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
    let workers = config.workers + 1 + config.hash_threads;
    crate::log::info("listening", json!({"addr": addr.to_string()}));

    let failure = outcome_rx
        .recv()
        .unwrap_or_else(|_| Some("every worker has stopped".into()));
    requests.close();
    hashing.close(); // workers exit once their queue is empty
    drop(server); // with the leader's handle gone, the listening socket closes
    if let Some(reason) = failure {
        crate::log::error("listener_failed", json!({"error": reason}));
        return Err(reason);
    }
    crate::log::info(
        "shutting_down",
        json!({"grace_seconds": config.shutdown_grace.as_secs()}),
    );
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

/// The requests lane: the shared state of the leader/followers workers.
struct RequestLane {
    shared: Mutex<Shared>,
    wake: Condvar,
    depth: usize,
}

struct Shared {
    /// Received while every worker was busy; at most `depth`.
    queue: VecDeque<Request>,
    /// Some worker is receiving from tiny_http.
    leader: bool,
    /// Workers waiting to lead or to take queued requests.
    idle: usize,
    /// The server, until shutdown; the leader borrows it to receive.
    server: Option<Arc<Server>>,
    closed: bool,
}

impl RequestLane {
    fn new(server: Arc<Server>, depth: usize) -> RequestLane {
        RequestLane {
            shared: Mutex::new(Shared {
                queue: VecDeque::with_capacity(depth),
                leader: false,
                idle: 0,
                server: Some(server),
                closed: false,
            }),
            wake: Condvar::new(),
            depth,
        }
    }

    fn lock(&self) -> MutexGuard<'_, Shared> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn close(&self) {
        let mut shared = self.lock();
        shared.closed = true;
        shared.server = None;
        drop(shared);
        self.wake.notify_all();
    }
}

/// What a received request becomes.
enum Next {
    /// Serve it on this thread; leadership was handed to an idle follower.
    ServeHere(Request),
    /// Queued, shed or sent to the hashing lane: keep receiving.
    KeepLeading,
}

/// One request worker.
struct Worker {
    requests: Arc<RequestLane>,
    hashing: Arc<LaneQueue<Request>>,
    state: Arc<AppState>,
    stopping: Arc<AtomicBool>,
    outcome: Sender<Option<String>>,
}

impl Worker {
    fn run(&self) {
        while let Some(server) = self.follow() {
            if !self.lead(&server) {
                return;
            }
        }
    }

    /// Serves queued requests and waits; returns the server once this worker becomes the leader,
    /// `None` at shutdown.
    fn follow(&self) -> Option<Arc<Server>> {
        let mut shared = self.requests.lock();
        loop {
            if let Some(request) = shared.queue.pop_front() {
                METRICS.dequeued(Lane::Requests);
                drop(shared);
                super::handle(request, &self.state);
                shared = self.requests.lock();
            } else if shared.closed {
                return None;
            } else if !shared.leader {
                shared.leader = true;
                return shared.server.clone();
            } else {
                shared.idle += 1;
                shared = self
                    .requests
                    .wake
                    .wait(shared)
                    .unwrap_or_else(|p| p.into_inner());
                shared.idle -= 1;
            }
        }
    }

    /// Receives until a request is served here (true: follow again) or serving ends (false).
    fn lead(&self, server: &Server) -> bool {
        loop {
            let request = match server.recv() {
                Ok(request) => request,
                Err(e) => {
                    let failure = (!self.stopping.load(Ordering::SeqCst))
                        .then(|| format!("the listener failed: {e}"));
                    self.requests.close();
                    let _ = self.outcome.send(failure);
                    return false;
                }
            };
            if let Next::ServeHere(request) = self.route(request) {
                super::handle(request, &self.state);
                return true;
            }
        }
    }

    fn route(&self, request: Request) -> Next {
        let trust_xff = self.state.config.trust_x_forwarded_for;
        if lane_of(request.method(), request.url()) == Lane::Hashing {
            if let Some(request) = self.hashing.admit(request) {
                METRICS.shed(Lane::Hashing);
                super::shed(request, trust_xff);
            }
            return Next::KeepLeading;
        }
        let mut shared = self.requests.lock();
        if shared.idle > 0 {
            shared.leader = false;
            drop(shared);
            self.requests.wake.notify_one();
            Next::ServeHere(request)
        } else if shared.queue.len() < self.requests.depth {
            shared.queue.push_back(request);
            METRICS.enqueued(Lane::Requests);
            Next::KeepLeading
        } else {
            drop(shared);
            METRICS.shed(Lane::Requests);
            super::shed(request, trust_xff);
            Next::KeepLeading
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
