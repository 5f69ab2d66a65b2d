//! `GET /metrics`: the service's own figures in the Prometheus text format (version 0.0.4),
//! hand-written: request counts by route and status, a latency histogram by route, queue depths
//! and shed counts by lane, and the database pool's connections in use and idle.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 13] =
    [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// The two queues in front of the worker threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Everything that does not run bcrypt (`WORKERS`, `QUEUE_DEPTH`).
    Requests = 0,
    /// Endpoints that run bcrypt (`HASH_THREADS`, `HASH_QUEUE_DEPTH`).
    Hashing = 1,
}

impl Lane {
    fn name(self) -> &'static str {
        match self {
            Lane::Requests => "requests",
            Lane::Hashing => "hashing",
        }
    }
}

/// What became of one delivery attempt of an outbox mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailOutcome {
    /// The mail API accepted it.
    Sent = 0,
    /// Refused or unreachable; it will be tried again.
    Failed = 1,
    /// Refused on its last allowed attempt (`MAIL_MAX_ATTEMPTS`): dropped.
    GivenUp = 2,
}

/// What became of one delivery attempt of a webhook event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookOutcome {
    /// The receiver answered 2xx.
    Delivered = 0,
    /// Any other answer, or none in time.
    Failed = 1,
    /// A failed attempt that was the last allowed (`WEBHOOK_MAX_ATTEMPTS`): marked failed.
    GivenUp = 2,
}

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    total: u64,
    sum_seconds: f64,
}

impl Histogram {
    fn add(&mut self, seconds: f64) {
        for (count, bound) in self.counts.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *count += 1;
            }
        }
        self.total += 1;
        self.sum_seconds += seconds;
    }

    /// The series of `name` with `labels` (`route="/me",` or empty) in the text format.
    fn render(&self, out: &mut String, name: &str, labels: &str) {
        for (count, bound) in self.counts.iter().zip(BUCKETS) {
            let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{bound}\"}} {count}");
        }
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"+Inf\"}} {}", self.total);
        let labels = labels.trim_end_matches(',');
        let labels = if labels.is_empty() { String::new() } else { format!("{{{labels}}}") };
        let _ = writeln!(out, "{name}_sum{labels} {}", self.sum_seconds);
        let _ = writeln!(out, "{name}_count{labels} {}", self.total);
    }
}

/// The background worker's queues, all instances together (`GET /metrics`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backlog {
    /// Mail waiting to be delivered (`beefirst_outbox_backlog`).
    pub mail: i64,
    /// Requests for a mailed code (forgot password, sign-in code) not yet taken
    /// (`beefirst_code_requests_backlog`).
    pub code_requests: i64,
    /// Webhook deliveries pending (`beefirst_webhook_backlog`).
    pub webhooks: i64,
    /// Webhook deliveries failed and not retried (`beefirst_webhook_failed`).
    pub webhooks_failed: i64,
}

/// Process-wide counters. A request costs one short mutex hold.
pub struct Metrics {
    requests: Mutex<BTreeMap<(&'static str, u16), u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    queued: [AtomicUsize; 2],
    bcrypt_waiting: AtomicUsize,
    shed: [AtomicU64; 2],
    mail: [AtomicU64; 3],
    refresh_reuse: AtomicU64,
    webhooks: [AtomicU64; 3],
    webhook_latency: Mutex<Option<Histogram>>,
}

/// The one instance.
pub static METRICS: Metrics = Metrics {
    requests: Mutex::new(BTreeMap::new()),
    latency: Mutex::new(BTreeMap::new()),
    queued: [AtomicUsize::new(0), AtomicUsize::new(0)],
    bcrypt_waiting: AtomicUsize::new(0),
    shed: [AtomicU64::new(0), AtomicU64::new(0)],
    mail: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    refresh_reuse: AtomicU64::new(0),
    webhooks: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    webhook_latency: Mutex::new(None),
};

impl Metrics {
    /// Counts an answered request. `route` must come from a fixed set (bounded label values).
    pub fn observe(&self, route: &'static str, status: u16, seconds: f64) {
        if let Ok(mut requests) = self.requests.lock() {
            *requests.entry((route, status)).or_default() += 1;
        }
        if let Ok(mut latency) = self.latency.lock() {
            latency.entry(route).or_default().add(seconds);
        }
    }

    /// One delivery attempt of a webhook event ended with `outcome`.
    pub fn webhook(&self, outcome: WebhookOutcome) {
        self.webhooks[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// One delivery attempt of a webhook event took `seconds` (sending and the answer).
    pub fn webhook_latency(&self, seconds: f64) {
        if let Ok(mut latency) = self.webhook_latency.lock() {
            latency.get_or_insert_with(Histogram::default).add(seconds);
        }
    }

    /// A request entered `lane`'s queue.
    pub fn enqueued(&self, lane: Lane) {
        self.queued[lane as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A worker took a request off `lane`'s queue.
    pub fn dequeued(&self, lane: Lane) {
        self.queued[lane as usize].fetch_sub(1, Ordering::Relaxed);
    }

    /// How many requests wait for their turn to run bcrypt (`security::hashing`), set by it.
    pub fn bcrypt_waiting(&self, waiting: usize) {
        self.bcrypt_waiting.store(waiting, Ordering::Relaxed);
    }

    /// `lane`'s queue was full: the request was shed.
    pub fn shed(&self, lane: Lane) {
        self.shed[lane as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A spent refresh token was presented after the grace period: its session was revoked.
    pub fn refresh_reuse(&self) {
        self.refresh_reuse.fetch_add(1, Ordering::Relaxed);
    }

    /// One delivery attempt of an outbox mail ended with `outcome`.
    pub fn mail(&self, outcome: MailOutcome) {
        self.mail[outcome as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// The Prometheus text exposition, with the pool's figures and the background worker's
    /// backlog (if the database answered) passed in.
    pub fn render(&self, pool_in_use: u32, pool_idle: u32, backlog: Option<Backlog>) -> String {
        let mut out = String::with_capacity(4096);
        out.push_str("# HELP beefirst_requests_total Requests answered, by route and status.\n");
        out.push_str("# TYPE beefirst_requests_total counter\n");
        if let Ok(requests) = self.requests.lock() {
            for ((route, status), count) in requests.iter() {
                let _ = writeln!(
                    out,
                    "beefirst_requests_total{{route=\"{route}\",status=\"{status}\"}} {count}"
                );
            }
        }
        out.push_str("# HELP beefirst_request_duration_seconds Time from taking a request to answering it.\n");
        out.push_str("# TYPE beefirst_request_duration_seconds histogram\n");
        if let Ok(latency) = self.latency.lock() {
            for (route, h) in latency.iter() {
                h.render(
                    &mut out,
                    "beefirst_request_duration_seconds",
                    &format!("route=\"{route}\","),
                );
            }
        }
        out.push_str("# HELP beefirst_queue_depth Requests waiting for a worker, by lane.\n");
        out.push_str("# TYPE beefirst_queue_depth gauge\n");
        for lane in [Lane::Requests, Lane::Hashing] {
            let depth = self.queued[lane as usize].load(Ordering::Relaxed);
            let _ = writeln!(out, "beefirst_queue_depth{{lane=\"{}\"}} {depth}", lane.name());
        }
        out.push_str("# HELP beefirst_bcrypt_waiting Hashing-lane workers waiting for their turn to run bcrypt (HASH_THREADS run at once).\n");
        out.push_str("# TYPE beefirst_bcrypt_waiting gauge\n");
        let waiting = self.bcrypt_waiting.load(Ordering::Relaxed);
        let _ = writeln!(out, "beefirst_bcrypt_waiting {waiting}");
        out.push_str("# HELP beefirst_shed_total Requests answered 503 overloaded because a queue was full.\n");
        out.push_str("# TYPE beefirst_shed_total counter\n");
        for lane in [Lane::Requests, Lane::Hashing] {
            let shed = self.shed[lane as usize].load(Ordering::Relaxed);
            let _ = writeln!(out, "beefirst_shed_total{{lane=\"{}\"}} {shed}", lane.name());
        }
        out.push_str("# HELP beefirst_db_pool_connections PostgreSQL connections in the pool.\n");
        out.push_str("# TYPE beefirst_db_pool_connections gauge\n");
        let _ = writeln!(out, "beefirst_db_pool_connections{{state=\"in_use\"}} {pool_in_use}");
        let _ = writeln!(out, "beefirst_db_pool_connections{{state=\"idle\"}} {pool_idle}");
        let mail = ["sent", "failed", "given_up"].into_iter().zip(&self.mail);
        let help = "Delivery attempts of queued mail, by outcome.";
        by_outcome(&mut out, "beefirst_mail_attempts_total", help, mail);
        out.push_str("# HELP beefirst_refresh_token_reuse_total Spent refresh tokens presented again after the grace period (each revoked its session).\n");
        out.push_str("# TYPE beefirst_refresh_token_reuse_total counter\n");
        let reuse = self.refresh_reuse.load(Ordering::Relaxed);
        let _ = writeln!(out, "beefirst_refresh_token_reuse_total {reuse}");
        self.render_webhooks(&mut out);
        if let Some(Backlog { mail, code_requests, webhooks, webhooks_failed }) = backlog {
            out.push_str(
                "# HELP beefirst_webhook_backlog Webhook deliveries pending (all instances).\n",
            );
            out.push_str("# TYPE beefirst_webhook_backlog gauge\n");
            let _ = writeln!(out, "beefirst_webhook_backlog {webhooks}");
            out.push_str("# HELP beefirst_webhook_failed Webhook deliveries that used every attempt and wait for an administrator's retry (all instances).\n");
            out.push_str("# TYPE beefirst_webhook_failed gauge\n");
            let _ = writeln!(out, "beefirst_webhook_failed {webhooks_failed}");
            out.push_str("# HELP beefirst_outbox_backlog Mail queued and not yet delivered (all instances).\n");
            out.push_str("# TYPE beefirst_outbox_backlog gauge\n");
            let _ = writeln!(out, "beefirst_outbox_backlog {mail}");
            out.push_str("# HELP beefirst_code_requests_backlog Requests for a mailed code (forgot password, sign-in code) not yet taken by a worker (all instances).\n");
            out.push_str("# TYPE beefirst_code_requests_backlog gauge\n");
            let _ = writeln!(out, "beefirst_code_requests_backlog {code_requests}");
        }
        out
    }
}

impl Metrics {
    fn render_webhooks(&self, out: &mut String) {
        let webhooks = ["delivered", "failed", "given_up"].into_iter().zip(&self.webhooks);
        let help = "Delivery attempts of webhook events, by outcome (given_up: a failed last \
                    attempt, also counted as failed).";
        by_outcome(out, "beefirst_webhook_attempts_total", help, webhooks);
        out.push_str("# HELP beefirst_webhook_delivery_seconds Time of one delivery attempt, from sending to the receiver's answer.\n");
        out.push_str("# TYPE beefirst_webhook_delivery_seconds histogram\n");
        if let Ok(latency) = self.webhook_latency.lock() {
            latency.as_ref().unwrap_or(&Histogram::default()).render(
                out,
                "beefirst_webhook_delivery_seconds",
                "",
            );
        }
    }
}

/// A counter family labelled by `outcome`: its HELP and TYPE lines, then one line per outcome
/// (in the order of its enum's discriminants, which index the counters).
fn by_outcome<'a>(
    out: &mut String,
    name: &str,
    help: &str,
    counts: impl Iterator<Item = (&'static str, &'a AtomicU64)>,
) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (outcome, count) in counts {
        let count = count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}{{outcome=\"{outcome}\"}} {count}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_histograms_and_gauges() {
        let metrics = Metrics {
            requests: Mutex::new(BTreeMap::new()),
            latency: Mutex::new(BTreeMap::new()),
            queued: [AtomicUsize::new(0), AtomicUsize::new(0)],
            bcrypt_waiting: AtomicUsize::new(0),
            shed: [AtomicU64::new(0), AtomicU64::new(0)],
            mail: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            refresh_reuse: AtomicU64::new(0),
            webhooks: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
            webhook_latency: Mutex::new(None),
        };
        metrics.bcrypt_waiting(3);
        metrics.observe("/health", 200, 0.0004);
        metrics.observe("/health", 200, 0.02);
        metrics.shed(Lane::Hashing);
        metrics.enqueued(Lane::Requests);
        metrics.mail(MailOutcome::Failed);
        metrics.refresh_reuse();
        metrics.webhook(WebhookOutcome::Delivered);
        metrics.webhook_latency(0.003);
        let backlog = Backlog { mail: 4, code_requests: 9, webhooks: 5, webhooks_failed: 2 };
        let text = metrics.render(3, 17, Some(backlog));
        assert!(text.contains("beefirst_webhook_attempts_total{outcome=\"delivered\"} 1"));
        assert!(text.contains("beefirst_webhook_delivery_seconds_bucket{le=\"0.005\"} 1"));
        assert!(text.contains("beefirst_webhook_delivery_seconds_count 1"));
        assert!(text.contains("beefirst_webhook_backlog 5"));
        assert!(text.contains("beefirst_webhook_failed 2"));
        assert!(text.contains("beefirst_mail_attempts_total{outcome=\"failed\"} 1"));
        assert!(text.contains("beefirst_outbox_backlog 4"));
        assert!(text.contains("beefirst_bcrypt_waiting 3"));
        assert!(text.contains("beefirst_code_requests_backlog 9"));
        assert!(text.contains("beefirst_refresh_token_reuse_total 1"));
        assert!(text.contains("beefirst_requests_total{route=\"/health\",status=\"200\"} 2"));
        assert!(text.contains(
            "beefirst_request_duration_seconds_bucket{route=\"/health\",le=\"0.001\"} 1"
        ));
        assert!(text.contains(
            "beefirst_request_duration_seconds_bucket{route=\"/health\",le=\"0.025\"} 2"
        ));
        assert!(text.contains("beefirst_request_duration_seconds_count{route=\"/health\"} 2"));
        assert!(text.contains("beefirst_shed_total{lane=\"hashing\"} 1"));
        assert!(text.contains("beefirst_queue_depth{lane=\"requests\"} 1"));
        assert!(text.contains("beefirst_db_pool_connections{state=\"idle\"} 17"));
    }
}
