mod abuse;
mod activate;
mod concurrency;
mod expiry;
mod identity;

use crate::support::helpers::*;

#[test]
fn registering_answers_201_pending_and_mails_a_code() {
    let app = TestApp::spawn();
    let response = app.register("alice@example.com", "correct horse");
    assert_eq!(response.status, 201);
    assert_eq!(response.header("content-type"), Some("application/json"));
    let body = json(&response);
    assert_eq!(
        body,
        serde_json::json!({"email": "alice@example.com", "status": "pending", "expires_in": 60})
    );
    let mail = app.mail.as_ref().unwrap().messages.lock().unwrap()[0].clone();
    assert_eq!(mail["From"]["Email"], "no-reply@beefirst.local");
    assert_eq!(mail["To"][0]["Email"], "alice@example.com");
    assert_eq!(first_digits(mail["Text"].as_str().unwrap()).len(), 4);
    assert_eq!(app.row("alice@example.com"), Some(("pending".into(), 0)));
}

#[test]
fn an_email_held_by_a_pending_claim_or_an_active_account_is_409() {
    let app = TestApp::spawn();
    let code = app.register_ok("bob@example.com", "correct horse");
    assert_error(&app.register("bob@example.com", "other password"), 409, "email_taken");
    assert_eq!(app.activate("bob@example.com", "correct horse", &code).status, 200);
    assert_error(&app.register("bob@example.com", "other password"), 409, "email_taken");
    assert_eq!(app.mails_sent(), 1, "a refused registration mails nothing");
}

#[test]
fn case_and_whitespace_variants_of_an_email_are_one_identity() {
    let app = TestApp::spawn();
    let response = app.register("  John@Email.COM ", "correct horse");
    assert_eq!(json(&response)["email"], "john@email.com");
    let code = app.last_code_for("john@email.com");
    assert_error(&app.register("john@email.com", "another password"), 409, "email_taken");
    let response = app.activate("JOHN@email.com ", "correct horse", &code);
    assert_eq!(response.status, 200);
    assert_eq!(json(&response)["email"], "john@email.com");
}

#[test]
fn invalid_registrations_are_400_with_a_precise_code() {
    let app = TestApp::spawn();
    let long_password = "x".repeat(73);
    let long_email = format!("{}@example.com", "a".repeat(250));
    let cases: Vec<(String, &str)> = vec![
        ("".into(), "invalid_json"),
        ("not json".into(), "invalid_json"),
        ("[]".into(), "invalid_json"),
        ("\"text\"".into(), "invalid_json"),
        (r#"{"email": "a@b.c""#.into(), "invalid_json"),
        (r#"{"password": "correct horse"}"#.into(), "invalid_request"),
        (r#"{"email": "a@b.c"}"#.into(), "invalid_request"),
        (r#"{"email": 5, "password": "correct horse"}"#.into(), "invalid_request"),
        (r#"{"email": "a@b.c", "password": null}"#.into(), "invalid_request"),
        (r#"{"email": "no-at-sign", "password": "correct horse"}"#.into(), "invalid_email"),
        (r#"{"email": "@example.com", "password": "correct horse"}"#.into(), "invalid_email"),
        (r#"{"email": "a b@example.com", "password": "correct horse"}"#.into(), "invalid_email"),
        (format!(r#"{{"email": "{long_email}", "password": "correct horse"}}"#), "invalid_email"),
        (r#"{"email": "a@b.c", "password": "short"}"#.into(), "invalid_password"),
        (format!(r#"{{"email": "a@b.c", "password": "{long_password}"}}"#), "invalid_password"),
    ];
    for (body, code) in cases {
        let response = app.post_json("/register", &body);
        assert_error(&response, 400, code);
    }
    assert_eq!(
        app.sql().query_one("SELECT count(*) FROM accounts", &[]).unwrap().get::<_, i64>(0),
        0
    );
}

#[test]
fn unknown_fields_are_ignored() {
    let app = TestApp::spawn();
    let body = r#"{"email": "carol@example.com", "password": "correct horse", "admin": true}"#;
    assert_eq!(app.post_json("/register", body).status, 201);
}

#[test]
fn a_72_byte_password_works_whole_and_is_not_truncated() {
    let app = TestApp::spawn();
    let password = "€".repeat(24); // 72 bytes
    let code = app.register_ok("dave@example.com", &password);
    // The same first 71 bytes plus another last byte must not match (no silent truncation).
    let wrong = format!("{}{}", &password[..69], "abc");
    assert_eq!(app.activate("dave@example.com", &wrong, &code).status, 401);
    assert_eq!(app.activate("dave@example.com", &password, &code).status, 200);
}

#[test]
fn when_mail_cannot_be_delivered_no_claim_remains_and_the_answer_is_503() {
    let app = TestApp::spawn();
    app.mail.as_ref().unwrap().fail.store(true, std::sync::atomic::Ordering::SeqCst);
    let response = app.register("erin@example.com", "correct horse");
    assert_error(&response, 503, "mail_unavailable");
    assert!(response.header("retry-after").is_some());
    assert_eq!(app.row("erin@example.com"), None, "a claim without a delivered code");
    app.mail.as_ref().unwrap().fail.store(false, std::sync::atomic::Ordering::SeqCst);
    let code = app.register_ok("erin@example.com", "correct horse");
    assert_eq!(app.activate("erin@example.com", "correct horse", &code).status, 200);
}

#[test]
fn an_unreachable_mail_api_is_503_and_leaves_no_claim() {
    let app = TestApp::with().env("MAIL_API_URL", "http://127.0.0.1:9/send").console_mail().start();
    assert_error(&app.register("frank@example.com", "correct horse"), 503, "mail_unavailable");
    assert_eq!(app.row("frank@example.com"), None);
}

#[test]
fn the_console_mailer_prints_the_code_on_stdout() {
    let app = TestApp::with().console_mail().start();
    let code = app.register_ok("grace@example.com", "correct horse");
    let line = app.process.stdout().into_iter().find(|l| l.contains("\"mail\"")).unwrap();
    assert!(line.contains("grace@example.com") && line.contains(&code));
    assert_eq!(app.activate("grace@example.com", "correct horse", &code).status, 200);
}
