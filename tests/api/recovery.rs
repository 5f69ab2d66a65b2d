//! Forgot password and reset by mailed code: one answer for every email, codes that die with a
//! newer request, a password change or their last wrong guess, and resets that end every session.

use crate::support::helpers::*;
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;

const PW: &str = "correct horse";
const NEW_PW: &str = "battery staple";

fn forgot(app: &TestApp, email: &str) -> RawResponse {
    app.post_json("/password/forgot", &json!({ "email": email }).to_string())
}

fn reset(app: &TestApp, email: &str, code: &str, new_password: &str) -> RawResponse {
    let body = json!({"email": email, "code": code, "new_password": new_password});
    app.post_json("/password/reset", &body.to_string())
}

/// Asks for a reset of an account that has had `mails_before` mails and returns the code.
fn reset_code(app: &TestApp, email: &str, mails_before: usize) -> String {
    assert_eq!(forgot(app, email).status, 202);
    let code = first_digits(&app.nth_mail_to(email, mails_before + 1));
    assert_eq!(code.len(), 8, "RESET_CODE_DIGITS");
    code
}

#[test]
fn a_forgotten_password_is_reset_with_the_mailed_code_and_every_session_ends() {
    let app = TestApp::spawn();
    app.active_account("ann@example.com", PW);
    let login = json(&app.login("ann@example.com", PW));
    let (access, refresh) =
        (login["access_token"].as_str().unwrap(), login["refresh_token"].clone());
    let answer = forgot(&app, " Ann@Example.com ");
    assert_eq!((answer.status, json(&answer)), (202, json!({"status": "accepted"})));
    let code = first_digits(&app.nth_mail_to("ann@example.com", 2));
    assert_eq!(code.len(), 8);
    assert_eq!(reset(&app, "ann@example.com", &code, NEW_PW).status, 204);

    assert_error(&app.with_token("GET", "/me", access, None), 401, "invalid_token");
    let refreshed =
        app.post_json("/token/refresh", &json!({ "refresh_token": refresh }).to_string());
    assert_error(&refreshed, 401, "invalid_token");
    assert_error(&app.login("ann@example.com", PW), 401, "invalid_credentials");
    app.login_ok("ann@example.com", NEW_PW);
    let notice = app.nth_mail_to("ann@example.com", 3);
    assert!(notice.contains("reset") && !notice.contains(&code), "{notice}");
    let again = reset(&app, "ann@example.com", &code, "another password");
    assert_error(&again, 401, "invalid_code");
    assert_eq!(again.header("WWW-Authenticate"), Some(r#"Bearer realm="beefirst""#));

    app.process.wait_logged();
    let logs = app.process.stdout().join("\n");
    for secret in [code.as_str(), PW, NEW_PW] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
    let stored: i64 = app.sql().query_one("SELECT count(*) FROM mailed_codes", &[]).unwrap().get(0);
    assert_eq!(stored, 0, "the code is consumed");
}

#[test]
fn forgot_answers_alike_for_every_email_and_mails_only_active_accounts() {
    let app = TestApp::spawn();
    app.active_account("act@example.com", PW);
    app.register_ok("pen@example.com", PW);
    let answers: Vec<RawResponse> = ["pen@example.com", "unk@example.com", "act@example.com"]
        .iter()
        .map(|e| forgot(&app, e))
        .collect();
    for answer in &answers {
        assert_eq!((answer.status, &answer.body), (202, &answers[0].body));
        let mut names: Vec<String> =
            answer.headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
        names.sort();
        let mut first: Vec<String> =
            answers[0].headers.iter().map(|(n, _)| n.to_ascii_lowercase()).collect();
        first.sort();
        assert_eq!(names, first);
    }
    app.nth_mail_to("act@example.com", 2); // the active account's code arrives...
    app.wait_outbox_drained(); // ...and every request has been taken and its mail, if any, sent:
    assert_eq!(app.mail_texts_to("pen@example.com").len(), 1, "...a pending claim gets none");
    assert!(app.mail_texts_to("unk@example.com").is_empty(), "...nor does an unknown email");
    assert_error(&forgot(&app, "not an email"), 400, "invalid_email");
    assert_error(&app.post_json("/password/forgot", "{}"), 400, "invalid_request");
}

#[test]
fn every_failure_of_email_and_code_gets_one_body_and_bad_shapes_get_400() {
    let app = TestApp::spawn();
    app.active_account("bo@example.com", PW);
    app.active_account("cy@example.com", PW);
    let no_code_yet = reset(&app, "bo@example.com", "12345678", NEW_PW);
    let unknown = reset(&app, "nobody@example.com", "12345678", NEW_PW);
    let code = reset_code(&app, "cy@example.com", 1);
    let wrong = reset(&app, "cy@example.com", &other_code(&code), NEW_PW);
    app.sql()
        .execute("UPDATE mailed_codes SET expires_at = now() - interval '1 second'", &[])
        .unwrap();
    let expired = reset(&app, "cy@example.com", &code, NEW_PW);
    let used_up = reset(&app, "cy@example.com", &code, NEW_PW);
    for answer in [&no_code_yet, &unknown, &wrong, &expired, &used_up] {
        assert_error(answer, 401, "invalid_code");
        assert_eq!(answer.body, no_code_yet.body);
    }
    assert_error(&reset(&app, "cy@example.com", "1234", NEW_PW), 400, "invalid_code_format");
    assert_error(&reset(&app, "cy@example.com", "1234567a", NEW_PW), 400, "invalid_code_format");
    assert_error(&reset(&app, "cy@example.com", "12345678", "short"), 400, "invalid_password");
    assert_error(&reset(&app, "cy@", "12345678", NEW_PW), 400, "invalid_email");
    assert_error(
        &app.post_json("/password/reset", r#"{"email":"cy@example.com"}"#),
        400,
        "invalid_request",
    );
    app.login_ok("cy@example.com", PW);
}

#[test]
fn the_last_allowed_wrong_code_kills_the_reset() {
    let app = TestApp::with().env("MAX_RESET_ATTEMPTS", "3").start();
    for (email, wrong_guesses, then) in [("dee@example.com", 2, 204), ("eve@example.com", 3, 401)] {
        app.active_account(email, PW);
        let code = reset_code(&app, email, 1);
        for _ in 0..wrong_guesses {
            assert_error(&reset(&app, email, &other_code(&code), NEW_PW), 401, "invalid_code");
        }
        assert_eq!(reset(&app, email, &code, NEW_PW).status, then, "{email}");
    }
}

#[test]
fn a_newer_request_or_a_password_change_kills_the_older_code() {
    let app = TestApp::spawn();
    app.active_account("fay@example.com", PW);
    let older = reset_code(&app, "fay@example.com", 1);
    let newer = reset_code(&app, "fay@example.com", 2);
    if older != newer {
        assert_error(&reset(&app, "fay@example.com", &older, NEW_PW), 401, "invalid_code");
    }
    let pending = reset_code(&app, "fay@example.com", 3);
    let token = app.login_ok("fay@example.com", PW);
    let change = json!({"current_password": PW, "new_password": "changed by the owner"});
    assert_eq!(
        app.with_token("POST", "/me/password", &token, Some(&change.to_string())).status,
        204
    );
    assert_error(&reset(&app, "fay@example.com", &pending, NEW_PW), 401, "invalid_code");
    let _ = newer;
    app.login_ok("fay@example.com", "changed by the owner");
}

#[test]
fn parallel_wrong_guesses_never_exceed_the_attempt_limit() {
    // The test holds the reset row's lock while 8 wrong guesses arrive, so all of them are in
    // flight at once. Were a guess to read the count of wrong attempts without waiting for the
    // lock, all 8 would read 0, none would be the last allowed one, the reset would survive 8
    // wrong guesses with MAX_RESET_ATTEMPTS=2, and the right code would still work afterwards.
    let app = Arc::new(
        TestApp::with()
            .env("MAX_RESET_ATTEMPTS", "2")
            .env("HASH_THREADS", "8")
            .env("RATE_LIMIT_IP_PER_MINUTE", "0")
            .start(),
    );
    app.active_account("gil@example.com", PW);
    let code = reset_code(&app, "gil@example.com", 1);
    let mut holder = app.sql();
    let mut lock = holder.transaction().unwrap();
    lock.execute("SELECT 1 FROM mailed_codes FOR UPDATE", &[]).unwrap();
    let guesses: Vec<_> = (0..8)
        .map(|_| {
            let (app, wrong) = (Arc::clone(&app), other_code(&code));
            std::thread::spawn(move || reset(&app, "gil@example.com", &wrong, NEW_PW).status)
        })
        .collect();
    eventually("all 8 guesses wait on the row lock", || app.waiting_for_locks() == 8);
    lock.commit().unwrap();
    let statuses: Vec<u16> = guesses.into_iter().map(|g| g.join().unwrap()).collect();
    assert_eq!(count(&statuses, 401), 8, "{statuses:?}");
    assert_error(&reset(&app, "gil@example.com", &code, NEW_PW), 401, "invalid_code");
    app.login_ok("gil@example.com", PW);
}

#[test]
fn forgot_is_limited_per_mailbox_for_unknown_emails_too() {
    let app = TestApp::with().env("RATE_LIMIT_EMAIL_PER_HOUR", "2").start();
    app.active_account("hal@example.com", PW); // one mail spent on the registration code
    assert_eq!(forgot(&app, "hal@example.com").status, 202);
    let limited = forgot(&app, "hal+other@example.com");
    assert_error(&limited, 429, "rate_limited");
    assert!(limited.header("Retry-After").is_some_and(|v| v.parse::<u32>().unwrap() >= 1));
    for _ in 0..2 {
        assert_eq!(forgot(&app, "ida@example.com").status, 202);
    }
    assert_error(&forgot(&app, "ida@example.com"), 429, "rate_limited");
}

#[test]
fn forgot_takes_as_long_for_every_email_even_when_the_mail_api_is_slow() {
    // Were the mail sent on the request path, an active account's answer would take the mail
    // API's 250 ms more than the others'. 30 requests of each kind, interleaved.
    let app = TestApp::with()
        .env("RATE_LIMIT_EMAIL_PER_HOUR", "0")
        .env("RATE_LIMIT_IP_PER_MINUTE", "0")
        .start();
    app.active_account("jan@example.com", PW);
    app.register_ok("kim@example.com", PW);
    app.mail.as_ref().unwrap().delay_ms.store(250, std::sync::atomic::Ordering::SeqCst);
    let kinds = ["jan@example.com", "kim@example.com", "unknown@example.com"];
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); 3];
    for _ in 0..300 {
        for (i, email) in kinds.iter().enumerate() {
            let started = Instant::now();
            assert_eq!(forgot(&app, email).status, 202);
            times[i].push(started.elapsed().as_secs_f64() * 1000.0);
        }
    }
    let medians: Vec<f64> = times
        .iter_mut()
        .map(|t| {
            t.sort_by(f64::total_cmp);
            t[t.len() / 2]
        })
        .collect();
    let means: Vec<f64> = times.iter().map(|t| t.iter().sum::<f64>() / t.len() as f64).collect();
    println!(
        "forgot timing, ms (active, pending, unknown): medians {medians:.2?}, means {means:.2?}"
    );
    let spread = medians.iter().copied().fold(f64::MIN, f64::max)
        - medians.iter().copied().fold(f64::MAX, f64::min);
    assert!(spread < 25.0, "medians differ by {spread:.1} ms: {medians:?}");
    app.nth_mail_to("jan@example.com", 2); // and the mail did go out
}

#[test]
fn queued_mail_is_retried_until_the_mail_api_takes_it_or_given_up() {
    let app = TestApp::with().env("MAIL_MAX_ATTEMPTS", "3").start();
    app.active_account("lou@example.com", PW);
    app.active_account("max@example.com", PW);
    let mail = app.mail.as_ref().unwrap();
    mail.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(forgot(&app, "lou@example.com").status, 202);
    eventually("a failed attempt is logged", || {
        app.process.stdout().iter().any(|l| l.contains("\"mail_failed\""))
    });
    mail.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    let code = first_digits(&app.nth_mail_to("lou@example.com", 2));
    assert_eq!(reset(&app, "lou@example.com", &code, NEW_PW).status, 204);
    app.nth_mail_to("lou@example.com", 3); // the notice

    mail.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(forgot(&app, "max@example.com").status, 202);
    eventually("the mail is given up after MAIL_MAX_ATTEMPTS", || {
        app.process.stdout().iter().any(|l| l.contains("\"mail_given_up\""))
    });
    // The give-up is logged just before its row is deleted: wait for the delete, not the line.
    app.wait_outbox_drained();
    let metrics = body_text(&app.process.send("GET", "/metrics", &[], None));
    assert!(metrics.contains("beefirst_mail_attempts_total{outcome=\"given_up\"} 1"), "{metrics}");
    assert!(metrics.contains("beefirst_outbox_backlog 0\n"), "{metrics}");
}

/// `beefirst_code_requests_backlog` counts requests for mailed codes no worker has taken: here
/// one held back by a row lock (the worker passes locked rows by), then none once it is released.
#[test]
fn forgot_requests_no_worker_has_taken_show_in_the_metrics() {
    let app = TestApp::spawn();
    let backlog = |n: i64| {
        let metrics = body_text(&app.process.send("GET", "/metrics", &[], None));
        metrics.contains(&format!("beefirst_code_requests_backlog {n}\n"))
    };
    let (mut inserter, mut locker) = (app.sql(), app.sql());
    let mut tx = locker.transaction().unwrap();
    // Inserted directly, so nothing wakes the worker: it looks once a second, and would have to
    // look within the moment before the lock (then: try again).
    let held = (0..5).any(|_| {
        let insert = "INSERT INTO code_requests (purpose, email) VALUES ('password_reset', 'ned@example.com') RETURNING id";
        let id: i64 = inserter.query_one(insert, &[]).unwrap().get(0);
        let lock = "SELECT 1 FROM code_requests WHERE id = $1 FOR UPDATE";
        !tx.query(lock, &[&id]).unwrap().is_empty()
    });
    assert!(held, "the worker took every request before it could be locked");
    assert!(backlog(1));
    tx.rollback().unwrap();
    eventually("the worker takes the request", || backlog(0));
}

#[test]
fn forgot_and_reset_count_against_the_client_ip() {
    let app = TestApp::with().env("RATE_LIMIT_IP_PER_MINUTE", "2").start();
    assert_eq!(forgot(&app, "xan@example.com").status, 202);
    assert_error(&reset(&app, "xan@example.com", "12345678", NEW_PW), 401, "invalid_code");
    assert_error(&forgot(&app, "yul@example.com"), 429, "rate_limited");
    assert_error(&reset(&app, "xan@example.com", "12345678", NEW_PW), 429, "rate_limited");
}

#[test]
fn a_code_mail_that_could_not_go_out_before_its_code_expired_is_never_sent() {
    let app = TestApp::with().env("REAPER_INTERVAL_SECONDS", "1").start();
    app.active_account("zed@example.com", PW);
    app.active_account("yan@example.com", PW);
    let mail = app.mail.as_ref().unwrap();
    mail.fail.store(true, std::sync::atomic::Ordering::SeqCst);
    assert_eq!(forgot(&app, "zed@example.com").status, 202);
    eventually("a failed attempt", || {
        app.process.stdout().iter().any(|l| l.contains("\"mail_failed\""))
    });
    app.sql().execute("UPDATE outbox SET expires_at = now()", &[]).unwrap();
    mail.fail.store(false, std::sync::atomic::Ordering::SeqCst);
    eventually("the reaper deletes it", || {
        app.sql().query_one("SELECT count(*) FROM outbox", &[]).unwrap().get::<_, i64>(0) == 0
    });
    // The worker sends one mail at a time: once a mail queued after this one has arrived, any
    // attempt at it has been made (or not) for good.
    assert_eq!(forgot(&app, "yan@example.com").status, 202);
    app.nth_mail_to("yan@example.com", 2);
    assert_eq!(app.mail_texts_to("zed@example.com").len(), 1, "only the registration code");
}
