use crate::support::helpers::*;
use std::sync::atomic::Ordering;

const PW: &str = "correct horse";

fn session(app: &TestApp, email: &str) -> String {
    app.active_account(email, PW);
    app.login_ok(email, PW)
}

#[test]
fn the_display_name_can_be_set_trimmed_and_cleared() {
    let app = TestApp::spawn();
    let token = session(&app, "ida@example.com");
    let name = r#"{"display_name": "  Ida Lovelace "}"#;
    let set = app.with_token("PATCH", "/me", &token, Some(name));
    assert_eq!(set.status, 200);
    assert_eq!(json(&set)["display_name"], "Ida Lovelace");
    assert_eq!(json(&app.with_token("GET", "/me", &token, None))["display_name"], "Ida Lovelace");
    let unchanged = app.with_token("PATCH", "/me", &token, Some("{}"));
    assert_eq!(json(&unchanged)["display_name"], "Ida Lovelace");
    let cleared = app.with_token("PATCH", "/me", &token, Some(r#"{"display_name": null}"#));
    assert!(json(&cleared)["display_name"].is_null());
}

#[test]
fn bad_profile_input_is_400_with_the_listed_code() {
    let app = TestApp::spawn();
    let token = session(&app, "jo@example.com");
    let long = format!(r#"{{"display_name": "{}"}}"#, "x".repeat(101));
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "invalid_json"),
        ("[1]".into(), "invalid_json"),
        (r#"{"display_name": "ok", "email": "x@y.z"}"#.into(), "unknown_field"),
        (r#"{"status": "admin"}"#.into(), "unknown_field"),
        (r#"{"display_name": 7}"#.into(), "invalid_request"),
        (r#"{"display_name": ""}"#.into(), "invalid_display_name"),
        (r#"{"display_name": "   "}"#.into(), "invalid_display_name"),
        (r#"{"display_name": "bell\u0007"}"#.into(), "invalid_display_name"),
        (r#"{"display_name": "new\nline"}"#.into(), "invalid_display_name"),
        (long, "invalid_display_name"),
    ];
    for (body, code) in cases {
        assert_error(&app.with_token("PATCH", "/me", &token, Some(&body)), 400, code);
    }
    // Body shape is checked before the token.
    assert_error(
        &app.with_token("PATCH", "/me", "bad", Some(r#"{"nope": 1}"#)),
        400,
        "unknown_field",
    );
    assert_error(
        &app.with_token("PATCH", "/me", "bad", Some(r#"{"display_name": "x"}"#)),
        401,
        "invalid_token",
    );
    assert_eq!(
        app.process.send("PUT", "/me", &[], None).header("allow"),
        Some("GET, HEAD, PATCH, DELETE")
    );
}

#[test]
fn a_password_change_revokes_other_sessions_keeps_this_one_and_mails_a_notice() {
    let app = TestApp::spawn();
    let current = session(&app, "kit@example.com");
    let other = app.login_ok("kit@example.com", PW);
    let body = r#"{"current_password": "correct horse", "new_password": "battery staple"}"#;
    let response = app.with_token("POST", "/me/password", &current, Some(body));
    assert_eq!(response.status, 204);
    assert_eq!(app.with_token("GET", "/me", &current, None).status, 200);
    assert_error(&app.with_token("GET", "/me", &other, None), 401, "invalid_token");
    assert_error(&app.login("kit@example.com", PW), 401, "invalid_credentials");
    assert_eq!(app.login("kit@example.com", "battery staple").status, 200);
    let mails = app.mail.as_ref().unwrap().messages.lock().unwrap().clone();
    assert!(mails.last().unwrap()["Subject"].as_str().unwrap().contains("password was changed"));
}

#[test]
fn a_password_change_checks_body_then_token_then_current_password() {
    let app = TestApp::with().env("LOGIN_FAILURES_PER_ACCOUNT_PER_HOUR", "2").start();
    let token = session(&app, "lu@example.com");
    let send = |token: &str, body: &str| app.with_token("POST", "/me/password", token, Some(body));
    assert_error(&send(&token, r#"{"current_password": "correct horse"}"#), 400, "invalid_request");
    assert_error(
        &send(&token, r#"{"current_password": "correct horse", "new_password": "short"}"#),
        400,
        "invalid_password",
    );
    assert_error(
        &send(&token, r#"{"current_password": "correct horse", "new_password": "password1"}"#),
        400,
        "invalid_password",
    );
    assert_error(
        &send("bad", r#"{"current_password": "x", "new_password": "battery staple"}"#),
        401,
        "invalid_token",
    );
    let wrong = r#"{"current_password": "wrong horse", "new_password": "battery staple"}"#;
    assert_error(&send(&token, wrong), 403, "wrong_password");
    assert_error(&send(&token, wrong), 403, "wrong_password");
    // Wrong passwords here count as login failures: the budget of 2 is used up.
    assert_error(
        &send(&token, r#"{"current_password": "correct horse", "new_password": "battery staple"}"#),
        429,
        "rate_limited",
    );
    assert_error(&app.login("lu@example.com", PW), 429, "rate_limited");
}

#[test]
fn a_failed_notice_does_not_undo_the_password_change() {
    let app = TestApp::spawn();
    let token = session(&app, "mo@example.com");
    app.mail.as_ref().unwrap().fail.store(true, Ordering::SeqCst);
    let body = r#"{"current_password": "correct horse", "new_password": "battery staple"}"#;
    assert_eq!(app.with_token("POST", "/me/password", &token, Some(body)).status, 204);
    assert_eq!(app.login("mo@example.com", "battery staple").status, 200);
    assert!(
        app.process
            .stdout()
            .iter()
            .any(|l| l.contains("\"mail_failed\"") && l.contains("password_changed"))
    );
    // The notice stayed queued: once the mail API is back, the outbox delivers it, once.
    app.mail.as_ref().unwrap().fail.store(false, Ordering::SeqCst);
    app.wait_outbox_drained();
    let texts = app.mail_texts_to("mo@example.com");
    let notices =
        texts.iter().filter(|t| t.contains("password of your beefirst account was just changed"));
    assert_eq!(notices.count(), 1, "{texts:?}");
}

/// The notice the answer waits for is sent after the request gave its database connection
/// back: with a pool of one connection and a mail API that takes 3 s, another request is served
/// while the notice is on its way (a held connection would make it wait 1 s, then answer 503).
#[test]
fn a_slow_notice_holds_no_database_connection() {
    let app = TestApp::with().env("DB_POOL_SIZE", "1").env("DB_POOL_MIN_IDLE", "0").start();
    let token = session(&app, "sid@example.com");
    let mail = app.mail.as_ref().unwrap();
    let before = mail.arrived.load(Ordering::SeqCst);
    mail.delay_ms.store(3000, Ordering::SeqCst);
    let change = std::thread::scope(|scope| {
        let change = scope.spawn(|| {
            let body = r#"{"current_password": "correct horse", "new_password": "battery staple"}"#;
            app.with_token("POST", "/me/password", &token, Some(body))
        });
        eventually("the notice reaches the mail API", || {
            mail.arrived.load(Ordering::SeqCst) > before
        });
        let health = app.with_token("GET", "/health", &token, None);
        assert_eq!(health.status, 200, "{:?}", String::from_utf8_lossy(&health.body));
        assert!(!change.is_finished(), "the answer came before the notice was sent");
        change.join().unwrap()
    });
    assert_eq!(change.status, 204);
}

#[test]
fn deleting_the_account_removes_every_row_and_frees_the_email() {
    let app = TestApp::spawn();
    let token = session(&app, "ned@example.com");
    let other = app.login_ok("ned@example.com", PW);
    assert_error(
        &app.with_token("DELETE", "/me", &token, Some(r#"{"password": "wrong horse"}"#)),
        403,
        "wrong_password",
    );
    assert_error(&app.with_token("DELETE", "/me", &token, Some("{}")), 400, "invalid_request");
    let password = r#"{"password": "correct horse"}"#;
    let response = app.with_token("DELETE", "/me", &token, Some(password));
    assert_eq!(response.status, 204);
    let left: i64 = app
        .sql()
        .query_one("SELECT (SELECT count(*) FROM accounts) + (SELECT count(*) FROM sessions)", &[])
        .unwrap()
        .get(0);
    assert_eq!(left, 0);
    assert_error(&app.with_token("GET", "/me", &other, None), 401, "invalid_token");
    let mails = app.mail.as_ref().unwrap().messages.lock().unwrap().clone();
    assert!(mails.last().unwrap()["Subject"].as_str().unwrap().contains("deleted"));
    assert_eq!(
        app.register("ned@example.com", "a brand new one").status,
        201,
        "the email is free again"
    );
}
