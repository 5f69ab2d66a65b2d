//! `TestApp`: a fresh PostgreSQL database, the real `beefirst` binary and a mock mail API per test.

pub use crate::support::client::RawResponse;
use crate::support::client::{self as wire};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use postgres::Client;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

pub use crate::support::fixtures::{MockMail, TestDatabase};

/// Settings for one spawned binary.
pub struct Spawn {
    env: Vec<(String, String)>,
    console_mail: bool,
}

impl Spawn {
    pub fn env(mut self, name: &str, value: &str) -> Spawn {
        self.env.push((name.into(), value.into()));
        self
    }

    /// Use the console mailer (stdout) instead of the mock mail API.
    pub fn console_mail(mut self) -> Spawn {
        self.console_mail = true;
        self
    }

    pub fn start(self) -> TestApp {
        let db = TestDatabase::create();
        let mail = (!self.console_mail).then(MockMail::start);
        let mut env = vec![("DATABASE_URL".to_string(), db.url())];
        if let Some(mail) = &mail {
            env.push(("MAIL_API_URL".into(), mail.url.clone()));
        }
        env.extend(self.env);
        let process = Process::start(&env);
        TestApp { process, mail, db }
    }
}

/// A running `beefirst` child whose stdout and stderr lines are collected; killed in `Drop`
/// (printing both if the test failed).
pub struct Process {
    pub addr: SocketAddr,
    child: Child,
    pub stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
    /// Requests sent through [`Process::raw`]: each is logged once it has been answered.
    sent: AtomicUsize,
}

/// Collects the lines of `source` into a shared list, on a thread of its own.
fn collect_lines(source: impl Read + Send + 'static, into: Vec<String>) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(into));
    let sink = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(source).lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    lines
}

/// A tool a test needs is missing. With `REQUIRE_TOOLS=1` (CI sets it: `.ci/run`) the test fails
/// here; otherwise it prints `SKIPPED` and the caller returns, so the rest of the suite still runs
/// on a machine without nginx or Chromium.
#[track_caller]
pub fn missing_tool(what: &str) {
    let required = std::env::var("REQUIRE_TOOLS").is_ok_and(|v| !v.is_empty() && v != "0");
    assert!(!required, "REQUIRE_TOOLS is set and this test needs {what}");
    eprintln!("SKIPPED: this test needs {what}");
}

/// Polls `done` until it holds, for at most 10 seconds; panics naming `what` otherwise.
#[track_caller]
pub fn eventually(what: &str, done: impl FnMut() -> bool) {
    eventually_within(10, what, done);
}

/// [`eventually`] for at most `seconds`.
#[track_caller]
pub fn eventually_within(seconds: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

impl Process {
    /// Spawns the binary with test defaults overridden by `env`, and waits for its `listening` line.
    pub fn start(env: &[(String, String)]) -> Process {
        let mut command = Command::new(env!("CARGO_BIN_EXE_beefirst"));
        for setting in beefirst::config::SETTINGS {
            command.env_remove(setting.name);
        }
        command
            .env("BIND_ADDR", "127.0.0.1:0")
            .env("BCRYPT_COST", "4")
            .env("WORKERS", "8")
            .env("DB_POOL_SIZE", "12")
            .env("DB_STARTUP_TIMEOUT_SECONDS", "5")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn beefirst");
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut first = String::new();
        if stdout.read_line(&mut first).unwrap_or(0) == 0 {
            let mut stderr = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut stderr);
            panic!("beefirst exited before listening: {stderr}");
        }
        let first = first.trim_end().to_owned();
        assert!(first.contains("listening"), "first stdout line: {first}");
        let addr: SocketAddr = serde_json::from_str::<Value>(&first).unwrap()["addr"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        let stderr = collect_lines(child.stderr.take().unwrap(), Vec::new());
        Process {
            addr,
            stdout: collect_lines(stdout, vec![first]),
            stderr,
            child,
            sent: AtomicUsize::new(0),
        }
    }

    /// Sends one request (`Connection: close`) and reads the response.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> RawResponse {
        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        for (name, value) in headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        if let Some(body) = body {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.unwrap_or_default());
        self.raw(&bytes)
    }

    /// Sends raw request bytes.
    pub fn raw(&self, request: &[u8]) -> RawResponse {
        self.sent.fetch_add(1, Ordering::SeqCst);
        wire::exchange(self.addr, request, Duration::from_secs(30)).expect("HTTP exchange")
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name (`TERM`, `INT`, ...) with kill(1).
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits up to `timeout` for the process to exit.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until every request sent through this process has its log line (each is written
    /// just after the response), so a look at the logs sees all of them.
    pub fn wait_logged(&self) {
        let sent = self.sent.load(Ordering::SeqCst);
        eventually("the request log lines", || {
            let lines = self.stdout();
            lines.iter().filter(|l| l.contains("\"event\":\"request\"")).count() >= sent
        });
    }

    /// Every stdout line so far (logs and console mail).
    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().unwrap().clone()
    }
}

impl Drop for Process {
    /// SIGTERM first (an idle service exits at once, and a coverage build writes its profile on
    /// exit), SIGKILL if it is still there after two seconds.
    /// A process that has already exited (a test stopped it) is only reaped.
    fn drop(&mut self) {
        let exited = matches!(self.child.try_wait(), Ok(Some(_)));
        let stopped = exited
            || (Command::new("kill")
                .arg(self.child.id().to_string())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
                && self.wait_exit(Duration::from_secs(2)).is_some());
        if !stopped {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("--- beefirst stdout ---\n{}", self.stdout().join("\n"));
            eprintln!("--- beefirst stderr ---\n{}", self.stderr.lock().unwrap().join("\n"));
        }
    }
}

/// One test's world: database, binary, mail API.
pub struct TestApp {
    pub process: Process,
    pub mail: Option<MockMail>,
    pub db: TestDatabase,
}

pub fn basic(email: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{email}:{password}")))
}

impl TestApp {
    /// Defaults: mock mail API, `BCRYPT_COST=4`, a fresh database.
    pub fn spawn() -> TestApp {
        TestApp::with().start()
    }

    pub fn with() -> Spawn {
        Spawn { env: Vec::new(), console_mail: false }
    }

    pub fn post_json(&self, path: &str, body: &str) -> RawResponse {
        self.process.send("POST", path, &[], Some(body.as_bytes()))
    }

    pub fn register(&self, email: &str, password: &str) -> RawResponse {
        let body = serde_json::json!({"email": email, "password": password}).to_string();
        self.post_json("/register", &body)
    }

    pub fn activate(&self, email: &str, password: &str, code: &str) -> RawResponse {
        let body = serde_json::json!({"code": code}).to_string();
        let auth = basic(email, password);
        self.process.send("POST", "/activate", &[("Authorization", &auth)], Some(body.as_bytes()))
    }

    pub fn resend(&self, email: &str, password: &str) -> RawResponse {
        let auth = basic(email, password);
        self.process.send("POST", "/resend", &[("Authorization", &auth)], None)
    }

    /// Sends `times` wrong codes (each another code of `code`'s length) for `email`; each must
    /// be answered 422 `wrong_code`.
    #[track_caller]
    pub fn guess_wrong(&self, email: &str, password: &str, code: &str, times: usize) {
        for _ in 0..times {
            let response = self.activate(email, password, &other_code(code));
            assert_error(&response, 422, "wrong_code");
        }
    }

    /// Registers and activates an account; panics on any other answer.
    pub fn active_account(&self, email: &str, password: &str) {
        let code = self.register_ok(email, password);
        let response = self.activate(email, password, &code);
        assert_eq!(response.status, 200, "{}", body_text(&response));
    }

    pub fn login(&self, email: &str, password: &str) -> RawResponse {
        let body = serde_json::json!({"email": email, "password": password}).to_string();
        self.post_json("/login", &body)
    }

    /// Logs in and returns the access token; panics unless the answer is 200.
    pub fn login_ok(&self, email: &str, password: &str) -> String {
        let response = self.login(email, password);
        assert_eq!(response.status, 200, "{}", body_text(&response));
        json(&response)["access_token"].as_str().unwrap().to_owned()
    }

    /// A request with `Authorization: Bearer <token>` and an optional JSON body.
    pub fn with_token(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&str>,
    ) -> RawResponse {
        let auth = format!("Bearer {token}");
        self.process.send(method, path, &[("Authorization", &auth)], body.map(str::as_bytes))
    }

    /// Registers and returns the mailed code; panics unless the answer is 201.
    pub fn register_ok(&self, email: &str, password: &str) -> String {
        let response = self.register(email, password);
        assert_eq!(response.status, 201, "{}", body_text(&response));
        self.last_code_for(email)
    }

    /// The code of the newest mail to `email` (mock API, or console lines on stdout).
    pub fn last_code_for(&self, email: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            if let Some(text) = self.mail_texts_to(email).last() {
                return first_digits(text);
            }
            assert!(Instant::now() < deadline, "no mail to {email}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The texts of every mail to `email` so far, oldest first (mock API, or console lines).
    pub fn mail_texts_to(&self, email: &str) -> Vec<String> {
        match &self.mail {
            Some(mail) => mail
                .messages
                .lock()
                .unwrap()
                .iter()
                .filter(|m| m["To"][0]["Email"] == email)
                .filter_map(|m| m["Text"].as_str().map(String::from))
                .collect(),
            None => self
                .process
                .stdout()
                .iter()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .filter(|l| l["event"] == "mail" && l["to"] == email)
                .filter_map(|l| l["text"].as_str().map(String::from))
                .collect(),
        }
    }

    /// Waits (up to 10 s) for mail number `n` (1-based) to `email` and returns its text: mail
    /// queued in the outbox arrives shortly after the answer.
    #[track_caller]
    pub fn nth_mail_to(&self, email: &str, n: usize) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(text) = self.mail_texts_to(email).get(n - 1) {
                return text.clone();
            }
            assert!(Instant::now() < deadline, "mail number {n} to {email} never came");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Number of mails the mock API accepted.
    pub fn mails_sent(&self) -> usize {
        self.mail.as_ref().map_or(0, |m| m.messages.lock().unwrap().len())
    }

    /// Runs SQL against this test's database (to backdate rows or inspect them).
    pub fn sql(&self) -> Client {
        self.db.client()
    }

    /// Waits until the outbox is empty: every mail queued so far has reached the mail API (a row
    /// is deleted only after the API took it), so what has not arrived by then was never sent.
    pub fn wait_outbox_drained(&self) {
        eventually("the outbox to drain", || {
            let left: i64 = self
                .sql()
                .query_one(
                    "SELECT (SELECT count(*) FROM outbox) + (SELECT count(*) FROM code_requests)",
                    &[],
                )
                .unwrap()
                .get(0);
            left == 0
        });
    }

    /// Connections to this test's database that are waiting for a lock right now.
    pub fn waiting_for_locks(&self) -> i64 {
        self.sql()
            .query_one(
                "SELECT count(*) FROM pg_stat_activity
                  WHERE datname = current_database() AND wait_event_type = 'Lock'",
                &[],
            )
            .unwrap()
            .get(0)
    }

    /// Rows for `email`: (status, wrong_attempts).
    pub fn row(&self, email: &str) -> Option<(String, i32)> {
        self.sql()
            .query_opt("SELECT status, wrong_attempts FROM accounts WHERE email = $1", &[&email])
            .unwrap()
            .map(|r| (r.get(0), r.get(1)))
    }

    /// Moves the claim's expiry to `seconds` from now (negative: in the past), database clock.
    pub fn expire_in(&self, email: &str, seconds: f64) {
        let n = self.sql().execute(
            "UPDATE accounts SET code_expires_at = now() + make_interval(secs => $2) WHERE email = $1",
            &[&email, &seconds],
        ).unwrap();
        assert_eq!(n, 1);
    }
}

/// Runs `n` copies of `f` at once (released together by a barrier) and returns their statuses.
pub fn in_parallel(n: usize, f: impl Fn(usize) -> u16 + Send + Sync + 'static) -> Vec<u16> {
    let barrier = Arc::new(Barrier::new(n));
    let f = Arc::new(f);
    let handles: Vec<_> = (0..n)
        .map(|i| {
            let (barrier, f) = (Arc::clone(&barrier), Arc::clone(&f));
            std::thread::spawn(move || {
                barrier.wait();
                f(i)
            })
        })
        .collect();
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

pub fn count(statuses: &[u16], status: u16) -> usize {
    statuses.iter().filter(|&&s| s == status).count()
}

/// A free TCP port on 127.0.0.1 (bound, then released).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The first run of ASCII digits in `text` (contract: the code comes first in the mail).
pub fn first_digits(text: &str) -> String {
    text.chars().skip_while(|c| !c.is_ascii_digit()).take_while(|c| c.is_ascii_digit()).collect()
}

pub fn body_text(response: &RawResponse) -> String {
    String::from_utf8_lossy(&response.body).into_owned()
}

pub fn json(response: &RawResponse) -> Value {
    serde_json::from_slice(&response.body)
        .unwrap_or_else(|_| panic!("not JSON: {:?}", body_text(response)))
}

/// Asserts status and `error` code.
#[track_caller]
pub fn assert_error(response: &RawResponse, status: u16, code: &str) {
    let body = json(response);
    assert_eq!((response.status, body["error"].as_str()), (status, Some(code)), "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
}

/// A wrong code: another code of the same length.
pub fn other_code(code: &str) -> String {
    let n: u64 = code.parse().unwrap();
    let width = code.len();
    format!("{:0width$}", (n + 1) % 10u64.pow(width as u32))
}
