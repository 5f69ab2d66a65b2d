//! How the service treats what it depends on: PostgreSQL connections and the mail API's answers.

use crate::support::helpers::*;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PW: &str = "correct horse";

/// This test's service connections (the test's own connection excluded).
fn service_connections(app: &TestApp) -> i64 {
    app.sql()
        .query_one(
            "SELECT count(*) FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0)
}

#[test]
fn connections_are_opened_on_demand_with_a_small_idle_floor() {
    let app = Arc::new(TestApp::with().env("DB_POOL_SIZE", "").start()); // the default, 10
    // r2d2 keeps 2 connections idle (DB_POOL_MIN_IDLE) and, after a checkout leaves fewer idle,
    // opens the missing ones in the background: the one start-up used (listing the signing key)
    // makes a third, and the background worker's looks at its queues may meet a refill still
    // under way (seen: 5 open, in 2 of 30 starts on a loaded machine). Far from DB_POOL_SIZE
    // (10): watch for two seconds that no more open.
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let open = service_connections(&app);
        assert!(open <= 5, "{open} connections open while idle");
        std::thread::sleep(Duration::from_millis(50));
    }
    let a = Arc::clone(&app);
    let statuses = in_parallel(40, move |_| a.process.send("GET", "/health", &[], None).status);
    assert_eq!(count(&statuses, 200), 40);
    let row = app
        .sql()
        .query_one(
            "SELECT count(*), count(*) FILTER (WHERE application_name = 'beefirst')
               FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()",
            &[],
        )
        .unwrap();
    let (open, named): (i64, i64) = (row.get(0), row.get(1));
    assert!((1..=10).contains(&open), "{open} connections after a burst");
    assert_eq!(named, open, "operators can tell our connections apart");
}

/// A mail API that answers every request with `answer` after `delay`, and counts requests.
fn scripted_mail_api(answer: &'static [u8], delay: Duration) -> (String, Arc<Mutex<usize>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/api/v1/send", listener.local_addr().unwrap());
    let served = Arc::new(Mutex::new(0));
    let counter = Arc::clone(&served);
    std::thread::spawn(move || {
        for mut stream in listener.incoming().map_while(Result::ok) {
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            *counter.lock().unwrap() += 1;
            std::thread::sleep(delay);
            let _ = stream.write_all(answer);
        }
    });
    (url, served)
}

fn app_with_mail_api(url: &str, timeout_ms: &str) -> TestApp {
    TestApp::with()
        .console_mail()
        .env("MAIL_API_URL", url)
        .env("MAIL_TIMEOUT_MS", timeout_ms)
        .start()
}

#[test]
fn an_interim_100_continue_is_skipped_and_the_final_answer_counts() {
    let (url, _) = scripted_mail_api(
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        Duration::ZERO,
    );
    let app = app_with_mail_api(&url, "3000");
    let response = app.register("cal@example.com", PW);
    assert_eq!(response.status, 201, "{}", body_text(&response));
    assert!(app.row("cal@example.com").is_some());
}

#[test]
fn a_malformed_body_after_a_2xx_status_is_still_a_delivery_and_never_a_panic() {
    let (url, _) = scripted_mail_api(
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nab",
        Duration::ZERO,
    );
    let app = app_with_mail_api(&url, "3000");
    let response = app.register("dee@example.com", PW);
    assert_eq!(response.status, 201, "{}", body_text(&response));
    let (bad, _) = scripted_mail_api(b"HTTP/1.1 ffff\r\n\r\n", Duration::ZERO);
    let app = app_with_mail_api(&bad, "3000");
    assert_error(&app.register("eve@example.com", PW), 503, "mail_unavailable");
    assert_eq!(app.row("eve@example.com"), None);
}

#[test]
fn an_answer_after_the_mail_timeout_is_a_failure_at_most_once_by_design() {
    // The mail API accepts the mail but answers after MAIL_TIMEOUT_MS: the service cannot know
    // the mail went out, so it removes the claim (no claim without a delivered code). The person
    // may get a code that no longer works, and registers again: at most once, never a claim
    // whose code was lost.
    let (url, served) = scripted_mail_api(
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
        Duration::from_millis(600),
    );
    let app = app_with_mail_api(&url, "200");
    assert_error(&app.register("fay@example.com", PW), 503, "mail_unavailable");
    assert_eq!(*served.lock().unwrap(), 1, "the mail API did receive it");
    assert_eq!(app.row("fay@example.com"), None);
}
