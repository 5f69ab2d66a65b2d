use crate::support::helpers::*;

const PW: &str = "correct horse";

#[test]
fn the_right_password_and_code_activate_and_clear_the_code() {
    let app = TestApp::spawn();
    let code = app.register_ok("amy@example.com", PW);
    let response = app.activate("amy@example.com", PW, &code);
    assert_eq!(response.status, 200);
    assert_eq!(
        json(&response),
        serde_json::json!({"email": "amy@example.com", "status": "active"})
    );
    let row = app.sql().query_one(
        "SELECT status, code_hash IS NULL AND code_salt IS NULL AND code_expires_at IS NULL, activated_at IS NOT NULL
           FROM accounts WHERE email = 'amy@example.com'", &[]).unwrap();
    assert_eq!(
        (row.get::<_, String>(0), row.get::<_, bool>(1), row.get::<_, bool>(2)),
        ("active".into(), true, true)
    );
}

#[test]
fn a_right_code_with_a_wrong_password_is_401_and_not_a_wrong_attempt() {
    let app = TestApp::spawn();
    let code = app.register_ok("ben@example.com", PW);
    for _ in 0..5 {
        let response = app.activate("ben@example.com", "wrong horse", &code);
        assert_error(&response, 401, "invalid_credentials");
        assert_eq!(
            response.header("www-authenticate"),
            Some(r#"Basic realm="beefirst", charset="UTF-8""#)
        );
    }
    assert_eq!(app.row("ben@example.com"), Some(("pending".into(), 0)));
    assert_eq!(app.activate("ben@example.com", PW, &code).status, 200);
}

#[test]
fn unknown_emails_and_wrong_passwords_get_the_same_401_body() {
    let app = TestApp::spawn();
    let code = app.register_ok("cat@example.com", PW);
    let wrong_password = app.activate("cat@example.com", "wrong horse", &code);
    let unknown = app.activate("nobody@example.com", PW, &code);
    assert_eq!(wrong_password.body, unknown.body);
    assert_eq!(wrong_password.status, unknown.status);
}

#[test]
fn missing_or_malformed_basic_auth_is_401_with_a_challenge() {
    let app = TestApp::spawn();
    let body = br#"{"code": "1234"}"#;
    let cases = [None, Some("Bearer abc"), Some("Basic !!!"), Some("Basic bm8tY29sb24=")];
    for auth in cases {
        let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", *a)).collect();
        let response = app.process.send("POST", "/activate", &headers, Some(body));
        assert_error(&response, 401, "invalid_credentials");
        assert!(body_text(&response).contains("Basic Auth"), "it says what to send");
        assert!(
            response
                .header("www-authenticate")
                .is_some_and(|v| v.starts_with("Basic realm=\"beefirst\""))
        );
    }
}

#[test]
fn malformed_codes_are_400_and_never_count_as_attempts() {
    let app = TestApp::spawn();
    let code = app.register_ok("dan@example.com", PW);
    let auth = basic("dan@example.com", PW);
    let cases = [
        (r#"{"code": "123"}"#, "invalid_code_format"),
        (r#"{"code": "12345"}"#, "invalid_code_format"),
        (r#"{"code": "12a4"}"#, "invalid_code_format"),
        (r#"{"code": " 1234"}"#, "invalid_code_format"),
        (r#"{"code": "１２３４"}"#, "invalid_code_format"),
        (r#"{"code": 1234}"#, "invalid_request"),
        (r#"{}"#, "invalid_request"),
        ("", "invalid_json"),
        ("code=1234", "invalid_json"),
    ];
    for (body, error) in cases {
        let response = app.process.send(
            "POST",
            "/activate",
            &[("Authorization", &auth)],
            Some(body.as_bytes()),
        );
        assert_error(&response, 400, error);
    }
    // Body shape is checked before credentials: a bad body with bad credentials is still 400.
    let response = app.process.send("POST", "/activate", &[], Some(b"nope"));
    assert_error(&response, 400, "invalid_json");
    assert_eq!(app.row("dan@example.com"), Some(("pending".into(), 0)));
    assert_eq!(app.activate("dan@example.com", PW, &code).status, 200);
}

#[test]
fn three_wrong_codes_release_the_claim() {
    let app = TestApp::spawn();
    let code = app.register_ok("eve@example.com", PW);
    let wrong = other_code(&code);
    let first = app.activate("eve@example.com", PW, &wrong);
    assert_error(&first, 422, "wrong_code");
    assert_eq!(json(&first)["attempts_remaining"], 2);
    let second = app.activate("eve@example.com", PW, &wrong);
    assert_eq!(json(&second)["attempts_remaining"], 1);
    assert_error(&app.activate("eve@example.com", PW, &wrong), 410, "attempts_exhausted");
    assert_eq!(app.row("eve@example.com"), None, "claim and password hash deleted");
    // The right code no longer works, and the email is free again.
    assert_error(&app.activate("eve@example.com", PW, &code), 401, "invalid_credentials");
    assert_eq!(app.register("eve@example.com", "a new password").status, 201);
}

#[test]
fn max_code_attempts_is_configurable() {
    let app = TestApp::with().env("MAX_CODE_ATTEMPTS", "1").start();
    let code = app.register_ok("fay@example.com", PW);
    assert_error(
        &app.activate("fay@example.com", PW, &other_code(&code)),
        410,
        "attempts_exhausted",
    );
}

#[test]
fn activating_twice_answers_200_both_times_without_a_second_transition() {
    let app = TestApp::spawn();
    let code = app.register_ok("gus@example.com", PW);
    assert_eq!(app.activate("gus@example.com", PW, &code).status, 200);
    let activated_at = |app: &TestApp| -> String {
        app.sql()
            .query_one(
                "SELECT activated_at::text FROM accounts WHERE email = 'gus@example.com'",
                &[],
            )
            .unwrap()
            .get(0)
    };
    let first = activated_at(&app); // microseconds: a second activation would differ
    let again = app.activate("gus@example.com", PW, "0000");
    assert_eq!(again.status, 200, "the code is not looked at once active");
    assert_eq!(json(&again), serde_json::json!({"email": "gus@example.com", "status": "active"}));
    assert_eq!(activated_at(&app), first);
    // ...but the password still is.
    assert_error(
        &app.activate("gus@example.com", "wrong horse", &code),
        401,
        "invalid_credentials",
    );
}

#[test]
fn code_digits_sets_the_code_length() {
    let app = TestApp::with().env("CODE_DIGITS", "6").start();
    let code = app.register_ok("hal@example.com", PW);
    assert_eq!(code.len(), 6);
    assert_error(&app.activate("hal@example.com", PW, "1234"), 400, "invalid_code_format");
    assert_eq!(app.activate("hal@example.com", PW, &code).status, 200);
}
