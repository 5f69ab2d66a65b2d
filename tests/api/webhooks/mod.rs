//! Webhooks: every delivery is checked by the official Standard Webhooks library (PyPI
//! `standardwebhooks`, in `tests/external/webhook_receiver.py`), never by our own HMAC code: the
//! signature verifies, a tampered body and a stale timestamp are refused. The nine event types
//! arrive with the change they report, and only after it committed; `faults.rs` takes the
//! receiver and the instance down.

mod faults;

use crate::admin::admin;
use crate::support::client::exchange;
use crate::support::helpers::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `WEBHOOK_SECRET` (24 bytes), the one of the specification's examples.
pub const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const PW: &str = "correct horse";

/// The Python receiver; killed in `Drop`.
pub struct Receiver {
    child: Child,
    pub port: u16,
}

impl Receiver {
    /// On any free port; `None` (after [`missing_tool`]) without Python's `standardwebhooks`.
    pub fn start() -> Option<Receiver> {
        Receiver::start_on(0)
    }

    /// On `port` (0: any).
    pub fn start_on(port: u16) -> Option<Receiver> {
        let probe = Command::new("python3").args(["-c", "import standardwebhooks"]).output();
        if !probe.is_ok_and(|o| o.status.success()) {
            missing_tool("python3 with standardwebhooks (pip install standardwebhooks)");
            return None;
        }
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/external/webhook_receiver.py");
        let mut child = Command::new("python3")
            .args([script, SECRET, &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn the webhook receiver");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let port = line.trim().strip_prefix("listening ").expect(&line).parse().unwrap();
        Some(Receiver { child, port })
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hooks", self.port)
    }

    fn call(&self, method: &str, path: &str, body: &str) -> Vec<u8> {
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let addr = std::net::SocketAddr::from(([127, 0, 0, 1], self.port));
        exchange(addr, request.as_bytes(), Duration::from_secs(5)).unwrap().body
    }

    /// Every delivery so far, in arrival order.
    pub fn received(&self) -> Vec<Value> {
        serde_json::from_slice(&self.call("GET", "/received", "")).unwrap()
    }

    /// Answer 500 to the next `fail` deliveries; hold each `hang_seconds` before answering.
    pub fn mode(&self, fail: u32, hang_seconds: u32) {
        let body = json!({ "fail": fail, "hang_seconds": hang_seconds }).to_string();
        self.call("POST", "/mode", &body);
    }

    /// Waits up to `seconds` for at least `n` deliveries; returns them all.
    pub fn wait_for(&self, n: usize, seconds: u64) -> Vec<Value> {
        eventually_within(seconds, &format!("{n} deliveries"), || self.received().len() >= n);
        self.received()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The body of a delivery, parsed.
pub fn body(delivery: &Value) -> Value {
    serde_json::from_str(delivery["body"].as_str().unwrap()).unwrap()
}

/// An app that sends every event to `urls`, with extra settings.
pub fn app_sending_to(urls: &[String], env: &[(&str, &str)]) -> TestApp {
    let mut spawn =
        TestApp::with().env("WEBHOOK_URLS", &urls.join(",")).env("WEBHOOK_SECRET", SECRET);
    for (name, value) in env {
        spawn = spawn.env(name, value);
    }
    spawn.start()
}

pub fn id_of(app: &TestApp, email: &str) -> i64 {
    app.sql().query_one("SELECT id FROM accounts WHERE email = $1", &[&email]).unwrap().get(0)
}

fn call(app: &TestApp, method: &str, path: &str, token: &str, body: Value) -> u16 {
    app.with_token(method, path, token, Some(&body.to_string())).status
}

#[test]
fn the_nine_event_types_arrive_signed_after_their_change_and_a_tampered_one_is_refused() {
    let Some(receiver) = Receiver::start() else { return };
    let app = app_sending_to(&[receiver.url()], &[]);
    // user.created; the subcommand's role change is not sent: its environment has no URL.
    let boss = admin(&app, "boss@example.com");
    let (_, _, token) = crate::totp::with_totp(&app, "ann@example.com"); // created, mfa_changed
    let id = id_of(&app, "ann@example.com");
    assert_eq!(call(&app, "PATCH", "/me", &token, json!({"display_name": "Ann"})), 200);
    assert_eq!(call(&app, "PATCH", "/me", &token, json!({"display_name": "Ann"})), 200, "same");
    let wrong = json!({"current_password": "not it at all", "new_password": "a new battery"});
    assert_eq!(call(&app, "POST", "/me/password", &token, wrong), 403, "rolled back: no event");
    let change = json!({"current_password": PW, "new_password": "a new battery staple"});
    assert_eq!(call(&app, "POST", "/me/password", &token, change), 204);
    let moving = json!({"new_email": "ann@new.example", "password": "a new battery staple"});
    assert_eq!(call(&app, "POST", "/me/email", &token, moving), 202);
    let code = app.last_code_for("ann@new.example");
    assert_eq!(call(&app, "POST", "/me/email/confirm", &token, json!({ "code": code })), 200);
    let user = format!("/admin/users/{id}");
    assert_eq!(call(&app, "PATCH", &user, &boss, json!({"role": "admin"})), 200);
    assert_eq!(call(&app, "POST", &format!("{user}/disable"), &boss, json!({})), 204);
    assert_eq!(call(&app, "POST", &format!("{user}/enable"), &boss, json!({})), 204);
    assert_eq!(call(&app, "POST", &format!("{user}/enable"), &boss, json!({})), 204, "again");
    assert_eq!(call(&app, "PATCH", &user, &boss, json!({"role": "admin"})), 200, "again");
    assert_eq!(call(&app, "DELETE", &user, &boss, json!({})), 204);

    let got = receiver.wait_for(10, 15);
    std::thread::sleep(Duration::from_millis(500));
    let got_then = receiver.received();
    let why = "nothing more (no event for a change to what was already so), nothing twice";
    assert_eq!(got_then.len(), 10, "{why}: {got_then:#?}");
    let mut types: Vec<String> =
        got.iter().map(|d| body(d)["type"].as_str().unwrap().to_owned()).collect();
    types.sort();
    let mut expected = [
        "user.created",
        "user.created",
        "user.mfa_changed",
        "user.updated",
        "user.password_changed",
        "user.email_changed",
        "user.role_changed",
        "user.disabled",
        "user.enabled",
        "user.deleted",
    ];
    expected.sort();
    assert_eq!(types, expected);
    let mut ids: Vec<&str> =
        got.iter().map(|d| d["headers"]["webhook-id"].as_str().unwrap()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "one webhook-id per event");
    for delivery in &got {
        assert_eq!(delivery["verified"], true, "{delivery:#}");
        assert_eq!(delivery["tampered_refused"], true, "{delivery:#}");
        assert_eq!(delivery["stale_refused"], true, "{delivery:#}");
        assert!(delivery["headers"]["webhook-id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(delivery["headers"]["content-type"], "application/json");
        let sent = body(delivery);
        let at = sent["timestamp"].as_str().unwrap();
        assert!(at.len() == 24 && at.ends_with('Z'), "RFC 3339 UTC to the millisecond: {at}");
        assert!(sent["data"]["id"].is_string() && sent["data"]["email"].is_string(), "{sent}");
        let text = delivery["body"].as_str().unwrap();
        assert!(!text.contains(PW) && !text.contains("battery"), "no secret in {text}");
    }
    let of =
        |kind: &str| got.iter().map(body).rfind(|b| b["type"] == kind).unwrap()["data"].clone();
    assert_eq!(
        of("user.deleted"),
        json!({"id": id.to_string(), "email": "ann@new.example", "by": "admin"})
    );
    assert_eq!(of("user.email_changed")["previous_email"], "ann@example.com");
    assert_eq!(of("user.updated")["display_name"], "Ann");
    assert_eq!(of("user.mfa_changed")["factor"], "totp");
    assert_eq!(of("user.password_changed")["via"], "change");
}

#[test]
fn only_the_types_in_webhook_events_are_sent_and_without_urls_nothing_is_recorded() {
    let Some(receiver) = Receiver::start() else { return };
    let app = app_sending_to(&[receiver.url()], &[("WEBHOOK_EVENTS", "user.updated")]);
    app.active_account("ann@example.com", PW);
    let token = app.login_ok("ann@example.com", PW);
    assert_eq!(call(&app, "PATCH", "/me", &token, json!({"display_name": "Ann"})), 200);
    let got = receiver.wait_for(1, 10);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(receiver.received().len(), 1, "user.created is not subscribed: {got:#?}");
    assert_eq!(body(&got[0])["type"], "user.updated");

    let quiet = TestApp::spawn();
    quiet.active_account("bob@example.com", PW);
    let rows: i64 =
        quiet.sql().query_one("SELECT count(*) FROM webhook_deliveries", &[]).unwrap().get(0);
    assert_eq!(rows, 0);
}
